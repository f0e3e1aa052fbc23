"""GeoCLIP's location encoder behind satclip's Embedder (optional ``geoclip`` extra)."""

import numpy as np
import pytest

import satclip
from satclip.embedder import Embedder

geoclip = pytest.importorskip("geoclip", reason="the optional geoclip extra")


@pytest.fixture(scope="module")
def peer():
    return satclip.load("geoclip")


def test_geoclip_is_an_embedder_that_takes_lon_lat(peer):
    import torch

    assert isinstance(peer, Embedder) and peer.spec == "geoclip" and peer.dim == 512
    assert peer.config is None and peer.training_index is None
    pts = np.array([[2.35, 48.86], [-74.0, 40.71]])
    out = peer.embed_array(pts)
    assert out.shape == (2, 512) and out.dtype == np.float32
    with torch.no_grad():  # GeoCLIP itself takes (lat, lon)
        direct = geoclip.LocationEncoder().eval()(torch.tensor([[48.86, 2.35], [40.71, -74.0]])).numpy()
    np.testing.assert_allclose(out, direct, rtol=1e-4, atol=1e-5)
    # The same checks and wrapping as every satclip model.
    np.testing.assert_allclose(peer.embed(lon=[362.35], lat=[48.86]), out[:1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="latitude"):
        peer.embed(0.0, 91.0)
    assert peer.embed_grid(np.array([0.0, 1.0]), np.array([10.0])).shape == (1, 2, 512)


def test_geoclip_fingerprint_names_its_weights(peer):
    assert peer.fingerprint() == satclip.load("geoclip").fingerprint()
    assert len(peer.fingerprint()) == 64


def test_geoclip_is_not_continuous_across_the_dateline(peer):
    """A known limitation of GeoCLIP's projected RFF encoding, kept visible (satclip's is continuous)."""
    a, b = peer.embed_array(np.array([[179.999, 10.0], [-179.999, 10.0]]))
    assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) < 0.9
