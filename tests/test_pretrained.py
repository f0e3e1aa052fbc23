"""Named models: the registry, the cache, and downloading from a hub served on loopback."""

import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import satclip
from satclip import ModelFileError
from satclip.pretrained import download
from tests.references import published_checkpoint


def test_list_pretrained_names_the_published_models():
    names = satclip.list_pretrained()
    for backbone in ("resnet18", "resnet50", "vit16"):
        for L in (10, 40):
            assert f"satclip-{backbone}-l{L}" in names


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="satclip-resnet50-l40"):
        satclip.load("satclip-resnet51-l40")


def test_uncached_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="satclip download satclip-resnet18-l10"):
        satclip.load("satclip-resnet18-l10")


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A static file server on 127.0.0.1 laid out like the hub's resolve/main URLs."""
    root = tmp_path / "hub"
    target = root / "microsoft" / "SatCLIP-ResNet18-L10" / "resolve" / "main"
    target.mkdir(parents=True)
    torch.save(published_checkpoint(10), target / "satclip-resnet18-l10.ckpt")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SATCLIP_HUB_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path / "cache"))
    yield target / "satclip-resnet18-l10.ckpt"
    server.shutdown()
    server.server_close()


def test_download_then_load_by_name(hub):
    path = download("satclip-resnet18-l10", progress=False)
    assert path.read_bytes() == hub.read_bytes()
    assert Path(str(path) + ".sha256").exists()
    assert not list(path.parent.glob("*.part"))
    enc = satclip.load("satclip-resnet18-l10")
    direct = satclip.load(hub)
    pts = np.array([[10.0, 10.0], [-60.0, -3.0]])
    np.testing.assert_array_equal(enc.embed_array(pts), direct.embed_array(pts))
    # A second call is a no-op.
    mtime = path.stat().st_mtime_ns
    download("satclip-resnet18-l10", progress=False)
    assert path.stat().st_mtime_ns == mtime


def test_corrupted_cache_file_fails_its_checksum(hub):
    path = download("satclip-resnet18-l10", progress=False)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"sha256 .* does not match"):
        satclip.load("satclip-resnet18-l10")


def test_missing_file_on_the_hub_is_a_clear_error(hub):
    with pytest.raises(OSError, match="could not download satclip-vit16-l40"):
        download("satclip-vit16-l40", progress=False)
    assert not list((hub.parents[4] / ".." / "cache").glob("**/*.part"))


def test_download_refuses_names_that_are_not_downloadable():
    with pytest.raises(ValueError, match="not a downloadable model"):
        download("wrap")


def test_bundled_model_is_checksum_verified(tmp_path, monkeypatch):
    import satclip.pretrained as pretrained
    from satclip.pretrained import PretrainedModel, sha256_of

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=4)
    enc = satclip.LocationEncoder(sh, satclip.create_network("linear", dim_in=sh.dim, dim_out=3))
    path = satclip.save(enc, tmp_path / "tiny.safetensors")
    model = PretrainedModel("tiny", "tiny.safetensors", "test model", sha256=sha256_of(path))
    monkeypatch.setitem(pretrained.PRETRAINED, "tiny", model)
    monkeypatch.setattr(pretrained, "_bundled_path", lambda m: tmp_path / m.filename)
    assert "tiny" in satclip.list_pretrained()
    np.testing.assert_array_equal(satclip.load("tiny").embed(1.0, 2.0), enc.embed(1.0, 2.0))
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(ModelFileError, match=r"tiny.safetensors: sha256 .* does not match"):
        satclip.load("tiny")


@pytest.mark.parametrize("name,L", [("satclip-bluemarble-l40", 40), ("satclip-bluemarble-l10", 10)])
def test_shipped_models_load_offline(name, L, tmp_path, monkeypatch):
    monkeypatch.setenv("SATCLIP_CACHE", str(tmp_path))  # nothing cached: bundled in the package
    enc = satclip.load(name)
    assert enc.config.encoding.legendre_polys == L and enc.config.encoding.convention == "satclip"
    emb = enc.embed([2.35, -60.0, 0.0], [48.86, -3.1, -90.0])
    assert emb.shape == (3, 256) and np.isfinite(emb).all()
    # Trained: nearby places are more alike than places on other continents.
    near = enc.embed([2.35, 2.6], [48.86, 48.9])
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cos(near[0], near[1]) > cos(emb[0], emb[1])
