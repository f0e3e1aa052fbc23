import math

import numpy as np
import pytest
import torch

from satclip import create_encoding
from satclip.encodings.baselines import scale_frequencies


def _pts(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_direct_is_radians():
    y = create_encoding("direct")(_pts([180.0, -90.0], [90.0, 45.0]))
    torch.testing.assert_close(y, _pts([math.pi, -math.pi / 2], [math.pi / 2, math.pi / 4]))


def test_cartesian3d_known_points():
    y = create_encoding("cartesian3d")(_pts([0.0, 0.0], [90.0, 0.0], [0.0, 90.0], [180.0, 0.0]))
    torch.testing.assert_close(y, _pts([1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0]), atol=1e-15, rtol=0)


def test_wrap_matches_published_order():
    lon, lat = 30.0, 60.0
    y = create_encoding("wrap")(_pts([lon, lat]))[0]
    expected = [math.cos(math.radians(lon)), math.sin(math.radians(lon)), 0.5, math.sin(math.radians(lat))]
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-15)


def test_scale_frequencies_are_geometric_between_radii():
    f = scale_frequencies(5, 0.01, 1.0)
    np.testing.assert_allclose(f, [100, 100 / math.sqrt(10), 10, math.sqrt(10), 1])
    assert scale_frequencies(1, 0.01, 1.0) == [1.0]


def test_spherec_coarsest_scale_is_the_unit_vector():
    """At frequency 1 (radius 1 radian) sphereC is x, y, z up to order: radians are used."""
    pts = _pts([37.0, -12.0], [-150.0, 70.0])
    spherec = create_encoding("spherec", frequency_num=1)(pts)
    xyz = create_encoding("cartesian3d")(pts)
    torch.testing.assert_close(spherec, xyz[:, [2, 0, 1]])


def test_spherem_terms():
    lon, lat = 20.0, -35.0
    f = 4.0
    y = create_encoding("spherem", frequency_num=1, min_radius=0.25, max_radius=0.25)(_pts([lon, lat]))[0]
    lam, phi = math.radians(lon), math.radians(lat)
    expected = [
        math.sin(f * phi),
        math.cos(phi) * math.cos(f * lam),
        math.cos(f * phi) * math.cos(lam),
        math.cos(phi) * math.sin(f * lam),
        math.cos(f * phi) * math.sin(lam),
    ]
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-14)


def test_grid_and_theory_terms():
    lon, lat = -60.0, 15.0
    lam, phi = math.radians(lon), math.radians(lat)
    grid = create_encoding("grid", frequency_num=1)(_pts([lon, lat]))[0]
    np.testing.assert_allclose(grid.numpy(), [math.sin(lam), math.cos(lam), math.sin(phi), math.cos(phi)])
    theory = create_encoding("theory", frequency_num=1)(_pts([lon, lat]))[0]
    a = [lam, -lam / 2 + math.sqrt(3) / 2 * phi, -lam / 2 - math.sqrt(3) / 2 * phi]
    np.testing.assert_allclose(theory.numpy(), [g(v) for v in a for g in (math.sin, math.cos)], atol=1e-14)


def test_multiscale_layout_is_scale_major():
    enc = create_encoding("spherecplus", frequency_num=3)
    y = enc(_pts([10.0, 20.0]))
    assert y.shape == (1, 18)
    coarse = create_encoding("spherecplus", frequency_num=1, min_radius=1.0, max_radius=1.0)(
        _pts([10.0, 20.0])
    )
    torch.testing.assert_close(y[:, 12:], coarse)


@pytest.mark.parametrize("params", [{"frequency_num": 0}, {"min_radius": 2.0, "max_radius": 1.0}])
def test_bad_multiscale_parameters(params):
    with pytest.raises(ValueError):
        create_encoding("grid", **params)


def test_rff_is_seeded_and_scaled():
    a = create_encoding("rff", num_features=8, sigmas=(1.0, 10.0), seed=3)
    b = create_encoding("rff", num_features=8, sigmas=[1.0, 10.0], seed=3)
    c = create_encoding("rff", num_features=8, sigmas=(1.0, 10.0), seed=4)
    assert a.config == b.config and a.dim == 32
    torch.testing.assert_close(a.projections, b.projections)
    assert not torch.equal(a.projections, c.projections)
    # The second block has ten times the spread of the first.
    big = create_encoding("rff", num_features=4000, sigmas=(1.0, 10.0))
    s1, s2 = big.projections[:4000].std().item(), big.projections[4000:].std().item()
    assert 9.0 < s2 / s1 < 11.0
    pts = _pts([5.0, 5.0])
    y = a(pts)
    assert torch.allclose(y[:, :16] ** 2 + y[:, 16:] ** 2, torch.ones(1, 16, dtype=torch.float64))
