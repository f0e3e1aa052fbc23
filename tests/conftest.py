"""Fixtures shared by all tests."""

import numpy as np
import pytest


@pytest.fixture
def sphere_points() -> np.ndarray:
    """(N, 2) lon/lat: area-uniform random points plus poles, dateline and the equator."""
    rng = np.random.default_rng(0)
    n = 300
    lon = rng.uniform(-180, 180, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    special = np.array(
        [
            [0, 90],
            [123.4, 90],
            [0, -90],
            [-77, -90],
            [180, 0],
            [-180, 0],
            [179.9999, 45],
            [0, 0],
            [-45, 89.9999],
        ]
    )
    return np.concatenate([special, np.stack([lon, lat], axis=1)])
