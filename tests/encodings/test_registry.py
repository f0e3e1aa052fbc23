"""Contract tests over every registered positional encoding."""

import dataclasses

import numpy as np
import pytest
import torch

from satclip import create_encoding, list_encodings
from satclip.encodings import encoding_from_config

ALL = list_encodings()
EXPECTED_DIMS = {
    "sphericalharmonics": 100,
    "direct": 2,
    "cartesian3d": 3,
    "wrap": 4,
    "grid": 64,
    "theory": 96,
    "spherec": 48,
    "spherecplus": 96,
    "spherem": 80,
    "spheremplus": 128,
    "rff": 1536,
}


def test_registry_lists_the_field_baselines():
    assert set(ALL) == set(EXPECTED_DIMS)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_contract(name, dtype, sphere_points):
    enc = create_encoding(name)
    assert enc.dim == EXPECTED_DIMS[name]
    x = torch.from_numpy(sphere_points).to(dtype)
    y = enc(x)
    assert y.shape == (len(x), enc.dim)
    assert y.dtype == dtype
    assert torch.isfinite(y).all()
    # Rebuilt from its frozen config, the module computes the same thing.
    assert dataclasses.is_dataclass(enc.config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        enc.config.name = "other"  # type: ignore[misc]
    torch.testing.assert_close(encoding_from_config(enc.config)(x), y)
    # encode(out=) (batched inference) writes the same features into the buffer it is given.
    buf = torch.full_like(y, float("nan"))
    assert enc.encode(x, out=buf) is buf
    torch.testing.assert_close(buf, y, rtol=0, atol=0)
    with pytest.raises(ValueError, match="out must"):
        enc.encode(x, out=torch.empty(len(x) + 1, enc.dim, dtype=dtype))
    # So does a leading slice of the encoding's own buffer, in whatever layout it picks.
    part = enc._features_buffer(len(x) + 5, dtype, x.device)[: len(x)]
    assert part.shape == y.shape and part.dtype == dtype
    assert enc.encode(x, out=part) is part
    torch.testing.assert_close(part, y, rtol=0, atol=0)


@pytest.mark.parametrize("name", ALL)
def test_differentiable(name):
    x = torch.tensor([[10.0, 20.0], [-120.0, -45.0]], dtype=torch.float64, requires_grad=True)
    create_encoding(name)(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", ALL)
def test_typo_in_parameter_is_an_error(name):
    with pytest.raises(ValueError, match="no parameter"):
        create_encoding(name, frequncy_num=3)


def test_unknown_name_lists_valid_ones_and_the_closest():
    with pytest.raises(
        ValueError, match=r"'spherical_harmonic' \(did you mean 'sphericalharmonics'\?\); choose one"
    ):
        create_encoding("spherical_harmonic")
    with pytest.raises(ValueError, match=r"unknown encoding 'rbf'; choose one of: sphericalharmonics"):
        create_encoding("rbf")  # nothing close: no guess


@pytest.mark.parametrize("name", ALL)
def test_numpy_and_lists_are_refused_with_the_fix(name):
    enc = create_encoding(name)
    with pytest.raises(TypeError, match=r"got numpy.ndarray; wrap it with torch.as_tensor"):
        enc(np.zeros((1, 2)))
    with pytest.raises(TypeError, match=r"got list; .*embed / embed_array"):
        enc([[0.0, 0.0]])


@pytest.mark.parametrize("name", ["sphericalharmonics", "cartesian3d", "wrap", "rff", "spherec"])
def test_wraps_longitude_and_rejects_bad_latitude(name):
    enc = create_encoding(name)
    a = enc(torch.tensor([[190.0, 10.0]], dtype=torch.float64))
    b = enc(torch.tensor([[-170.0, 10.0]], dtype=torch.float64))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="index 1"):
        enc(torch.tensor([[0.0, 0.0], [0.0, 91.0]]))
    with pytest.raises(ValueError, match="shape"):
        enc(torch.zeros(3, 3))


@pytest.mark.parametrize("name", ["sphericalharmonics", "cartesian3d", "rff"])
def test_continuous_on_the_sphere(name):
    """Encodings of the sphere itself: same at all longitudes of a pole, smooth across ±180°."""
    enc = create_encoding(name)
    lon = torch.linspace(-180, 180, 9, dtype=torch.float64)
    for lat in (90.0, -90.0):
        y = enc(torch.stack([lon, torch.full_like(lon, lat)], dim=1))
        torch.testing.assert_close(y, y[:1].expand_as(y), atol=1e-12, rtol=0)
    pair = enc(torch.tensor([[179.9999, 10.0], [-179.9999, 10.0]], dtype=torch.float64))
    assert torch.nn.functional.cosine_similarity(pair[:1], pair[1:]).item() > 0.999
