import numpy as np
import pytest
import torch

import satclip
from satclip import LocationEncoder, LocationEncoderConfig


@pytest.fixture(scope="module")
def enc() -> LocationEncoder:
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=10)
    return LocationEncoder(sh, satclip.create_network("siren", dim_in=sh.dim, dim_out=32, dropout=0.5))


def test_embed_accepts_scalars_lists_and_arrays(enc):
    one = enc.embed(2.35, 48.86)
    assert isinstance(one, np.ndarray) and one.shape == (1, 32) and one.dtype == np.float32
    many = enc.embed([2.35, -74.0], [48.86, 40.71])
    assert many.shape == (2, 32)
    np.testing.assert_allclose(many[:1], one, atol=1e-5)  # float32 matmuls vary with batch shape
    np.testing.assert_array_equal(enc.embed(np.array([2.35, -74.0]), np.array([48.86, 40.71])), many)


def test_embed_equals_forward_and_is_in_eval_mode(enc):
    pts = np.array([[10.0, 20.0], [-30.0, 40.0]])
    enc.train()
    out = enc.embed_array(pts)
    assert enc.training, "embed restores the previous mode"
    enc.eval()
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(out), enc(torch.from_numpy(pts)))


def test_chunked_embedding_equals_single_batch(enc, sphere_points):
    np.testing.assert_allclose(
        enc.embed_array(sphere_points, batch_size=7), enc.embed_array(sphere_points), atol=1e-5
    )


@pytest.mark.parametrize(
    "lon,lat,message",
    [
        (
            [0, 1, 2],
            [0, 95, 0],
            r"latitude out of range \[-90, 90\] at index 1: \(lon, lat\) = \(1.0, 95.0\)",
        ),
        ([0, np.nan], [0, 0], "non-finite coordinate at index 1"),
        ([0, 0, 0], [0, 0, np.inf], "non-finite coordinate at index 2"),
        ([0, 1], [0], "equal length"),
        # Arrays of one shape embed to that shape (test_embedder); different shapes are refused.
        ([[0, 1]], [0, 1], r"1-D sequences of equal length \(or arrays of one shape\), got shapes \(1, 2\)"),
    ],
)
def test_bad_input_names_the_first_offending_index(enc, lon, lat, message):
    with pytest.raises(ValueError, match=message):
        enc.embed(lon, lat)


def test_bad_tensor_input(enc):
    with pytest.raises(ValueError, match="shape"):
        enc(torch.zeros(4))
    with pytest.raises(ValueError, match="index 3"):
        enc(torch.tensor([[0.0, 0.0]] * 3 + [[0.0, -90.5]]))
    with pytest.raises(ValueError, match="shape"):
        enc.embed_array(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="got numpy.ndarray; wrap it with torch.as_tensor"):
        enc(np.zeros((3, 2)))


def test_longitudes_wrap(enc):
    np.testing.assert_allclose(enc.embed(190.0, 10.0), enc.embed(-170.0, 10.0), atol=1e-6)
    np.testing.assert_allclose(enc.embed(-540.0, 10.0), enc.embed(180.0, 10.0), atol=1e-6)


def test_continuous_at_dateline_and_poles(enc):
    a, b = enc.embed([179.9999, -179.9999], [12.0, 12.0])
    assert np.abs(a - b).max() < 1e-3
    lon = np.linspace(-180, 180, 13)
    for lat in (90.0, -90.0):
        e = enc.embed(lon, np.full_like(lon, lat))
        assert (e == e[0]).all()


def test_config_validates_dimensions():
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=10)
    net = satclip.create_network("linear", dim_in=99, dim_out=4)
    with pytest.raises(ValueError, match="dim_in 99 does not match"):
        LocationEncoder(sh, net)
    with pytest.raises(ValueError, match="dtype"):
        LocationEncoder(sh, satclip.create_network("linear", dim_in=100, dim_out=4), dtype="int8")


def test_config_round_trips_through_dict(enc):
    d = enc.config.to_dict()
    assert LocationEncoderConfig.from_dict(d) == enc.config
    rebuilt = LocationEncoder.from_config(LocationEncoderConfig.from_dict(d))
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in enc.parameters())
    with pytest.raises(ValueError, match="malformed"):
        LocationEncoderConfig.from_dict({"encoding": {"name": "wrap"}})


def test_float64_encoder_embeds_in_float64():
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=5)
    enc = LocationEncoder(sh, satclip.create_network("linear", dim_in=25, dim_out=3), dtype="float64")
    assert enc.embed(1.0, 2.0).dtype == np.float64
