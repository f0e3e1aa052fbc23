"""Data tests share one source cache, filled from the package registries once per session."""

import pytest


@pytest.fixture(scope="session")
def source_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("satclip-cache")


@pytest.fixture
def cache(source_cache, monkeypatch):
    monkeypatch.setenv("SATCLIP_CACHE", str(source_cache))
    return source_cache
