"""Model files: our safetensors format and published SatCLIP checkpoints."""

import json
import pickle

import numpy as np
import pytest
import torch

import satclip
from satclip import LocationEncoder, ModelFileError
from tests.references import published_checkpoint, reference_published_forward


def _encoder(L=10, dtype="float32"):
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=L)
    net = satclip.create_network("siren", dim_in=sh.dim, dim_out=256)
    return satclip.LocationEncoder(sh, net, dtype=dtype)


@pytest.mark.parametrize("L,dtype", [(10, "float32"), (40, "float32"), (10, "float64")])
def test_save_load_round_trip(tmp_path, sphere_points, L, dtype):
    enc = _encoder(L, dtype)
    path = satclip.save(enc, tmp_path / "m.safetensors")
    assert path.stat().st_size < 6 * 2**20 * (2 if dtype == "float64" else 1)  # a few MB
    back = satclip.load(path)
    assert back.config == enc.config
    np.testing.assert_array_equal(back.embed_array(sphere_points), enc.embed_array(sphere_points))
    assert not list(tmp_path.glob(".*tmp")), "no temporary file is left behind"


@pytest.mark.parametrize("name", satclip.list_encodings())
def test_every_encoding_round_trips_through_a_file(tmp_path, name):
    torch.manual_seed(0)
    enc_mod = satclip.create_encoding(name)
    enc = satclip.LocationEncoder(enc_mod, satclip.create_network("mlp", dim_in=enc_mod.dim, dim_out=8))
    satclip.save(enc, tmp_path / "m.safetensors")
    back = satclip.load(tmp_path / "m.safetensors")
    pts = np.array([[1.0, 2.0], [-170.0, 80.0]])
    np.testing.assert_array_equal(back.embed_array(pts), enc.embed_array(pts))


def test_config_is_stored_as_json_in_the_file(tmp_path):
    from safetensors import safe_open

    path = satclip.save(_encoder(), tmp_path / "m.safetensors")
    with safe_open(str(path), "pt") as f:
        cfg = json.loads(f.metadata()["satclip_config"])
    assert cfg["encoding"] == {
        "name": "sphericalharmonics",
        "params": {"legendre_polys": 10, "convention": "satclip"},
    }
    assert cfg["network"]["name"] == "siren" and cfg["network"]["params"]["dim_hidden"] == 512


def test_missing_truncated_and_foreign_files_are_named(tmp_path):
    with pytest.raises(satclip.ModelNotFoundError, match="no such model file"):
        satclip.load(tmp_path / "absent.safetensors")
    path = satclip.save(_encoder(), tmp_path / "m.safetensors")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"truncated.safetensors.*(truncated|corrupt)"):
        satclip.load(truncated)
    foreign = tmp_path / "photo.jpg"
    foreign.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    with pytest.raises(ModelFileError, match=r"photo.jpg: not a satclip model file"):
        satclip.load(foreign)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ModelFileError, match="not a satclip location encoder"):
        satclip.load(other)
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty or truncated"):
        satclip.load(empty)


@pytest.mark.parametrize("L", [10, 40])
def test_published_checkpoint_matches_reference_forward(tmp_path, sphere_points, L):
    ckpt = published_checkpoint(L)
    path = tmp_path / f"satclip-resnet18-l{L}.ckpt"
    torch.save(ckpt, path)
    enc = satclip.load(path)
    assert enc.dtype == torch.float64
    assert enc.config.encoding.convention == "satclip" and enc.config.encoding.legendre_polys == L
    ours = enc.embed_array(sphere_points)
    ref = reference_published_forward(ckpt, sphere_points)
    assert ours.dtype == np.float64 and ours.shape == (len(sphere_points), 256)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)
    # Converted, it saves and reloads as one of our own files.
    back = satclip.load(satclip.save(enc, tmp_path / "converted.safetensors"))
    np.testing.assert_array_equal(back.embed_array(sphere_points), ours)


def test_published_checkpoint_is_read_without_unpickling_objects(tmp_path):
    ckpt = published_checkpoint(10)
    ckpt["callbacks"]["evil"] = _Evil()
    path = tmp_path / "evil.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(ModelFileError, match=r"evil.ckpt: cannot read.*weights_only"):
        satclip.load(path)
    assert not _Evil.ran


class _Evil:
    ran = False

    def __reduce__(self):
        return (_Evil._run, ())

    @staticmethod
    def _run():
        _Evil.ran = True


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda c: c["hyper_parameters"].update(le_type="wrap"), "le_type='wrap'"),
        (lambda c: c["hyper_parameters"].pop("capacity"), "lack 'capacity'"),
        (lambda c: c.pop("state_dict"), "not a SatCLIP Lightning checkpoint"),
        (lambda c: c["state_dict"].update({"model.nnet.layers.0.bias": torch.zeros(512)}), "differ"),
        (lambda c: c["hyper_parameters"].update(legendre_polys=12), "layers.0.weight has shape"),
        (
            lambda c: [c["state_dict"].pop(k) for k in list(c["state_dict"]) if ".nnet." in k],
            "no location-encoder weights",
        ),
    ],
)
def test_malformed_published_checkpoints(tmp_path, mutate, message):
    ckpt = published_checkpoint(10)
    mutate(ckpt)
    path = tmp_path / "bad.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(ModelFileError, match=message):
        satclip.load(path)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "cut.ckpt"
    torch.save(published_checkpoint(10), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match=r"cut.ckpt: cannot read"):
        satclip.load(path)


def test_legacy_pickle_checkpoint(tmp_path):
    path = tmp_path / "legacy.ckpt"
    torch.save(published_checkpoint(10), path, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:1] == pickle.PROTO
    assert satclip.load(path).config.encoding.legendre_polys == 10


def _run_checkpoint(decay=0.0, legacy=False):
    """What SatCLIPModule saves, reduced to what the location side needs (no training extra);
    ``legacy``: as saved before the location encoder's config went into the checkpoint."""
    location = {"legendre_polys": 6, "dim_hidden": 32, "num_layers": 2, "dropout": 0.0}
    location |= {"w0_initial": 0.03, "degree_decay": decay}
    config = {"location": location, "image": {"embed_dim": 16}, "optim": {"lr": 3e-4}}
    torch.manual_seed(0)
    enc = LocationEncoder.from_config(satclip.checkpoints.run_encoder_config(location, 16))
    state = {f"location_encoder.{k}": v for k, v in enc.state_dict().items()}
    state["image_encoder.proj.weight"] = torch.zeros(16, 8)
    hp = {"config": config}
    if not legacy:
        hp["location_encoder"] = satclip.checkpoints.run_checkpoint_entry(enc.config, decay)
    return {"hyper_parameters": hp, "state_dict": state}, enc


@pytest.mark.parametrize("legacy", [False, True], ids=["current", "legacy"])
@pytest.mark.parametrize("decay", [0.0, 1.0])
def test_a_training_run_checkpoint_loads_as_its_export_would(tmp_path, decay, legacy):
    ckpt, trained = _run_checkpoint(decay, legacy)
    torch.save(ckpt, tmp_path / "best.ckpt")
    enc = satclip.load(tmp_path / "best.ckpt")
    assert enc.config == trained.config and not enc.training
    lonlat = torch.tensor([[0.0, 10.0], [100.0, -20.0], [-179.5, 89.0]], dtype=torch.float64)
    scale = satclip.checkpoints.degree_scale(6, decay).float()
    with torch.no_grad():
        expected = trained.eval()(lonlat, feature_scale=scale)
    np.testing.assert_allclose(enc.embed(lonlat[:, 0], lonlat[:, 1]), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda c: c["hyper_parameters"]["config"].pop("location"), "config lacks 'location'"),
        (
            lambda c: c["hyper_parameters"]["config"]["location"].pop("dim_hidden"),
            "config lacks 'dim_hidden'",
        ),
        (
            lambda c: c["hyper_parameters"]["config"]["location"].update(legendre_polys=5),
            "layers.0.weight has shape",
        ),
    ],
)
def test_malformed_legacy_run_checkpoints(tmp_path, mutate, message):
    ckpt, _ = _run_checkpoint(legacy=True)
    mutate(ckpt)
    torch.save(ckpt, tmp_path / "bad.ckpt")
    with pytest.raises(ModelFileError, match=message):
        satclip.load(tmp_path / "bad.ckpt")


def test_a_run_checkpoint_is_read_from_its_saved_encoder_config(tmp_path):
    # Not from the training config: a training config that no longer maps (a renamed key)
    # leaves the load unchanged.
    ckpt, trained = _run_checkpoint()
    ckpt["hyper_parameters"]["config"]["location"] = {"renamed": 1}
    torch.save(ckpt, tmp_path / "best.ckpt")
    assert satclip.load(tmp_path / "best.ckpt").config == trained.config


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda e: e.pop("degree_decay"), "bad location-encoder entry.*degree_decay"),
        (lambda e: e["config"].pop("network"), "bad location-encoder entry.*network"),
        (lambda e: e["config"]["network"]["params"].update(dim_hidden=8), "layers.0.weight has shape"),
    ],
)
def test_malformed_run_checkpoints(tmp_path, mutate, message):
    ckpt, _ = _run_checkpoint()
    mutate(ckpt["hyper_parameters"]["location_encoder"])
    torch.save(ckpt, tmp_path / "bad.ckpt")
    with pytest.raises(ModelFileError, match=message):
        satclip.load(tmp_path / "bad.ckpt")


def test_a_published_checkpoint_is_not_taken_for_a_run(tmp_path):
    with pytest.raises(ModelFileError, match="not a satclip train checkpoint"):
        satclip.checkpoints.convert_run(published_checkpoint(10), tmp_path / "published.ckpt")


def test_loading_leaves_the_callers_random_stream_alone(tmp_path):
    """Building the network to load into draws initial weights; that must not move the caller's
    seeded stream, for each kind of model file."""
    ours = satclip.save(_encoder(), tmp_path / "m.safetensors")
    published = tmp_path / "published.ckpt"
    torch.save(published_checkpoint(10), published)
    run = tmp_path / "run.ckpt"
    torch.save(_run_checkpoint()[0], run)
    for path in (ours, published, run):
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        satclip.load(path)
        assert torch.equal(torch.rand(3), expected), path.name


def test_the_degree_scale_folds_into_a_seasonal_models_place_products_too():
    """Training scales the harmonics, and the time's products with them saw the scaled ones:
    the fold must scale those product columns as well."""
    from satclip.embedder import LocationEncoderConfig
    from satclip.encodings.time import TimeConfig

    torch.manual_seed(0)
    sh, time = satclip.create_encoding("sphericalharmonics", legendre_polys=6).config, TimeConfig(2, 3)
    net = satclip.create_network("siren", dim_in=sh.dim + time.dim, dim_out=8, dim_hidden=16).config
    enc = satclip.LocationEncoder.from_config(LocationEncoderConfig(sh, net, time=time)).eval()
    with torch.no_grad():
        enc.network.first_layer.weight.normal_()
    lonlat = torch.tensor([[0.0, 10.0], [100.0, -20.0], [-179.5, 89.0]], dtype=torch.float64)
    t = torch.tensor([0.1, 0.5, 0.8], dtype=torch.float64)
    scale = satclip.checkpoints.degree_scale(6, 1.0).float()
    with torch.no_grad():
        trained = enc(lonlat, feature_scale=scale, time=t)
        satclip.checkpoints.fold_degree_scale(enc, 1.0)
        torch.testing.assert_close(enc(lonlat, time=t), trained, rtol=1e-5, atol=1e-5)
