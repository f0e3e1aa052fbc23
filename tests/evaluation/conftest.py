import pytest


@pytest.fixture(scope="session")
def eval_cache(tmp_path_factory):
    """One cache of sources and built tasks for the evaluation tests."""
    return tmp_path_factory.mktemp("satclip-eval-cache")


@pytest.fixture
def cache(eval_cache, monkeypatch):
    monkeypatch.setenv("SATCLIP_CACHE", str(eval_cache))
    return eval_cache
