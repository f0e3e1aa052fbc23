"""Work split over cores: every item once, one torch thread per worker, errors raised, the
caller's thread count kept; ``embed`` and ``embed_grid`` give the one-batch-at-a-time result."""

import threading
from contextlib import contextmanager

import numpy as np
import pytest
import torch

import satclip
from satclip._threads import each_on_cores


@pytest.fixture
def two_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_every_item_once_on_one_torch_thread_each(two_torch_threads):
    seen, counts = [], set()
    lock = threading.Lock()

    @contextmanager
    def worker():
        def apply(item):
            with lock:
                seen.append(item)
                counts.add(torch.get_num_threads())

        yield apply

    each_on_cores(range(500), worker, threads=2)
    assert sorted(seen) == list(range(500))
    assert counts == {1}
    assert torch.get_num_threads() == 2  # the caller's count is back


def test_one_thread_runs_in_turn_in_the_caller_with_its_thread_count(two_torch_threads):
    seen = []

    @contextmanager
    def worker():
        yield lambda item: seen.append((item, threading.get_ident(), torch.get_num_threads()))

    each_on_cores(range(5), worker, threads=1)
    assert seen == [(i, threading.get_ident(), 2) for i in range(5)]


def test_an_error_stops_the_others_and_is_raised(two_torch_threads):
    done = []

    @contextmanager
    def worker():
        def apply(item):
            if item == 3:
                raise ValueError("bad item 3")
            done.append(item)

        yield apply

    with pytest.raises(ValueError, match="bad item 3"):
        each_on_cores(range(10_000), worker, threads=2)
    assert len(done) < 9_999  # the rest were not processed after the error
    assert torch.get_num_threads() == 2


def _points(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-180, 180, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))], axis=1)


def test_batches_per_core_equal_batches_in_turn(two_torch_threads):
    enc = satclip.load("satclip-bluemarble-viirs-l40")
    in_turn = satclip.load("satclip-bluemarble-viirs-l40")
    in_turn._batch_threads = lambda: 1
    assert enc._batch_threads() == 2
    x = _points(5 * 1024 + 17)  # five whole batches and a partial one
    got, want = enc.embed_array(x), in_turn.embed_array(x)
    # The same ops, a different split of each matmul's sums over threads: float32 rounding only.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())
    assert torch.get_num_threads() == 2
    np.testing.assert_array_equal(enc.embed_array(x), got)  # one core per batch: deterministic


def test_a_grid_on_cores_equals_its_points(two_torch_threads):
    enc = satclip.load("satclip-bluemarble-viirs-l40")
    lons, lats = np.linspace(-179.5, 179.5, 90), np.linspace(-89.5, 89.5, 60)
    grid = enc.embed_grid(lons, lats)
    lon, lat = np.meshgrid(lons, lats)
    points = enc.embed(lon.ravel(), lat.ravel()).reshape(grid.shape)
    np.testing.assert_allclose(grid, points, rtol=0, atol=1e-5 * np.abs(points).max())
    assert torch.get_num_threads() == 2
