"""Fixtures shared by all tests."""

import os
import shutil
from pathlib import Path

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


@pytest.fixture(scope="session")
def source_cache(tmp_path_factory):
    """One satclip cache for the session: registry sources and built tasks are fetched once.

    ``SATCLIP_TEST_SOURCES`` names a warm ``sources`` folder (``~/.cache/satclip/sources``
    after ``satclip data fetch --all``): it is copied in (copied, not linked: some tests damage
    cached files on purpose), so that only the tests marked ``network`` need a registry, e.g.
    ``SATCLIP_OFFLINE=1 SATCLIP_TEST_SOURCES=~/.cache/satclip/sources pytest -m "not network"``.
    """
    root = tmp_path_factory.mktemp("satclip-cache")
    warm = os.environ.get("SATCLIP_TEST_SOURCES")
    if warm:
        shutil.copytree(Path(warm).expanduser(), root / "sources")
    return root


@pytest.fixture
def cache(source_cache, monkeypatch):
    monkeypatch.setenv("SATCLIP_CACHE", str(source_cache))
    return source_cache


@pytest.fixture(scope="session")
def bluemarble_tiny(source_cache, tmp_path_factory):
    """A tiny real Blue Marble dataset (640 patches of 16×16, default seed), built once per run.

    Shared by every test that only reads it (datasets, training); a test that writes into a
    dataset folder or needs other parameters builds its own.
    """
    from satclip.data.bluemarble import BlueMarbleConfig, build_bluemarble

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SATCLIP_CACHE", str(source_cache))
        return build_bluemarble(
            BlueMarbleConfig(n=640, size=16), tmp_path_factory.mktemp("bm") / "bm", progress=False
        )


@pytest.fixture(scope="session")
def california(source_cache):
    """The registry's California housing data (the paper's task) as a DataFrame: lon, lat and
    ``value``, the log median house value of each of the 20 640 block groups."""
    import pandas as pd

    from satclip.evaluation.tasks import load_task

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SATCLIP_CACHE", str(source_cache))
        task = load_task("cal_housing")
    return pd.DataFrame({"lon": task.lonlat[:, 0], "lat": task.lonlat[:, 1], "value": task.y})
