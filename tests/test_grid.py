"""Grids embedded with the first layer factored by row and column equal the point-by-point path."""

import numpy as np
import pytest
import torch

from satclip import _grid
from satclip.encoder import LocationEncoder
from satclip.encodings import create_encoding
from satclip.networks import create_network
from satclip.pretrained import load


def _encoder(convention: str, num_layers: int, dtype: str = "float32") -> LocationEncoder:
    torch.manual_seed(0)
    sh = create_encoding("sphericalharmonics", legendre_polys=12, convention=convention)
    net = create_network("siren", dim_in=sh.dim, dim_out=16, dim_hidden=32, num_layers=num_layers)
    return LocationEncoder(sh, net, dtype=dtype)


# Crosses the dateline (179.75 .. -179.75 after wrapping 180.25) and touches both poles.
LONS = np.array([-180.0, -179.75, -90.0, 0.0, 33.3, 179.75, 180.0, 180.25])
LATS = np.array([90.0, 89.9, 45.0, 0.0, -12.5, -89.9, -90.0])


def _pointwise(enc, lons, lats):
    lon_g, lat_g = np.meshgrid(lons, lats)
    return enc.embed(lon_g.ravel(), lat_g.ravel()).reshape(len(lats), len(lons), -1)


@pytest.mark.parametrize("convention", ["satclip", "orthonormal"])
@pytest.mark.parametrize("num_layers", [0, 1, 2])
# Blocks of 3 pixels cut each 8-pixel row into three column chunks; 20 hold two rows and a part.
@pytest.mark.parametrize("block", [3, 20, _grid.PIXELS_PER_BLOCK])
def test_factored_grid_equals_point_by_point(convention, num_layers, block, monkeypatch):
    monkeypatch.setattr(_grid, "PIXELS_PER_BLOCK", block)
    enc = _encoder(convention, num_layers)
    assert _grid.supports(enc.encoding, enc.network, enc.dtype)
    got = enc.embed_grid(LONS, LATS)
    ref = _pointwise(enc, LONS, LATS)
    assert got.shape == (len(LATS), len(LONS), 16) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    # Every longitude at a pole is the same point.
    np.testing.assert_allclose(got[0], np.broadcast_to(got[0, :1], got[0].shape), rtol=0, atol=1e-6)


def test_float64_grid_agrees_to_float64_rounding():
    enc = _encoder("satclip", 2, "float64")
    np.testing.assert_allclose(
        enc.embed_grid(LONS, LATS), _pointwise(enc, LONS, LATS), rtol=1e-10, atol=1e-12
    )


def test_shipped_l40_model_on_a_grid(cache):
    enc = load("satclip-bluemarble-l40")
    lons = np.linspace(-180, 180, 37)
    lats = np.linspace(90, -90, 19)
    got, ref = enc.embed_grid(lons, lats), _pointwise(enc, lons, lats)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_other_encoders_fall_back_to_points_with_the_same_checks():
    torch.manual_seed(0)
    wrap = create_encoding("wrap")
    enc = LocationEncoder(wrap, create_network("mlp", dim_in=wrap.dim, dim_out=8))
    assert not _grid.supports(enc.encoding, enc.network, enc.dtype)
    np.testing.assert_array_equal(enc.embed_grid(LONS, LATS), _pointwise(enc, LONS, LATS))
    sh = _encoder("satclip", 1)
    for e in (enc, sh):
        with pytest.raises(ValueError, match="latitude out of range"):
            e.embed_grid(LONS, [0.0, 91.0])
        with pytest.raises(ValueError, match="non-finite"):
            e.embed_grid([0.0, np.nan], LATS)
        with pytest.raises(ValueError, match="1-D"):
            e.embed_grid(np.zeros((2, 2)), LATS)


def test_grid_leaves_the_mode_as_it_was():
    enc = _encoder("satclip", 2)
    enc.train()
    enc.embed_grid(LONS, LATS)
    assert enc.training
