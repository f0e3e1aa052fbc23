"""``nn.Module`` conversions of a loaded encoder: dtype and device follow the parameters, embed
and save follow the encoder, and ``satclip.load`` returns an encoder in eval mode."""

import numpy as np
import pytest
import torch

import satclip
from tests.references import published_checkpoint, reference_published_forward

POINTS = np.array([[2.35, 48.86], [-74.0, 40.71], [179.99, -18.1], [0.0, 90.0], [-60.0, -3.1]])

# (name, conversion, expected dtype, tolerance against the loaded model's own output).
CONVERSIONS = [
    ("double", lambda m: m.double(), torch.float64, 1e-5),
    ("float", lambda m: m.float(), torch.float32, 1e-5),
    ("to-float64", lambda m: m.to(torch.float64), torch.float64, 1e-5),
    ("to-dtype-and-device", lambda m: m.to("cpu", torch.float32), torch.float32, 1e-5),
    ("half", lambda m: m.half(), torch.float16, 0.05),
    ("bfloat16", lambda m: m.bfloat16(), torch.bfloat16, 0.3),
]


@pytest.fixture(scope="module", params=["satclip-bluemarble-l10", "satclip-bluemarble-l40", "published-l10"])
def model_file(request, tmp_path_factory):
    """A shipped model, or a float64 checkpoint in the published layout."""
    if request.param.startswith("published"):
        path = tmp_path_factory.mktemp("ckpt") / "satclip-resnet18-l10.ckpt"
        torch.save(published_checkpoint(10), path)
        return path
    return request.param


@pytest.mark.parametrize(("label", "convert", "dtype", "tol"), CONVERSIONS, ids=[c[0] for c in CONVERSIONS])
def test_every_conversion_embeds_and_saves_what_it_is(model_file, label, convert, dtype, tol, tmp_path):
    ref = satclip.load(model_file).embed_array(POINTS).astype(np.float64)
    enc = convert(satclip.load(model_file))
    assert enc.dtype == dtype and enc.config.dtype == str(dtype).removeprefix("torch.")
    with torch.no_grad():
        out = enc(torch.from_numpy(POINTS))
    assert out.dtype == dtype
    emb = enc.embed_array(POINTS)
    assert emb.dtype == enc.output_dtype
    np.testing.assert_allclose(out.double().numpy(), emb.astype(np.float64), rtol=0, atol=tol / 10)
    # Half precision rounds the network's activations, not the coordinates (features in float32).
    scale = np.abs(ref).max()
    assert np.abs(emb.astype(np.float64) - ref).max() <= tol * scale
    back = satclip.load(satclip.save(enc, tmp_path / f"{label}.safetensors"))
    assert back.dtype == dtype
    np.testing.assert_array_equal(back.embed_array(POINTS), emb)


def test_a_converted_published_checkpoint_still_matches_the_reference(tmp_path):
    ckpt = published_checkpoint(10)
    path = tmp_path / "satclip-resnet18-l10.ckpt"
    torch.save(ckpt, path)
    enc = satclip.load(path).float()
    np.testing.assert_allclose(
        enc.embed_array(POINTS), reference_published_forward(ckpt, POINTS), rtol=1e-4, atol=1e-4
    )


def test_encoding_constants_keep_their_precision_under_half():
    rff = satclip.create_encoding("rff", num_features=8)
    enc = satclip.LocationEncoder(rff, satclip.create_network("linear", dim_in=rff.dim, dim_out=4))
    before = enc.encoding.projections.clone()
    enc.half()
    assert enc.encoding.projections.dtype == torch.float64
    torch.testing.assert_close(enc.encoding.projections, before, rtol=0, atol=0)
    assert enc.embed(10.0, 20.0).dtype == np.float16


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["satclip-bluemarble-l40"])
def test_cuda(name):
    ref = satclip.load(name).embed_array(POINTS)
    enc = satclip.load(name).cuda()
    assert enc.device.type == "cuda"
    np.testing.assert_allclose(enc.embed_array(POINTS), ref, atol=1e-4)
    with torch.no_grad():
        assert enc(torch.from_numpy(POINTS)).device.type == "cuda"
    half = enc.half()
    assert half.embed_array(POINTS).dtype == np.float16


def test_load_returns_eval_mode_and_forward_is_deterministic(model_file):
    enc = satclip.load(model_file)
    assert not enc.training and not any(m.training for m in enc.modules())
    x = torch.from_numpy(POINTS)
    with torch.no_grad():
        torch.testing.assert_close(enc(x), enc(x), rtol=0, atol=0)
    if enc.config.network.dropout > 0:  # the L=10 and published models (0.5)
        # Training code switches back explicitly; dropout is then live again.
        enc.train()
        with torch.no_grad():
            assert not torch.equal(enc(x), enc(x))
