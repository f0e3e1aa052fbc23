"""Work split over cores: every item once, one torch thread per worker, errors raised, the
caller's thread count kept; ``embed`` and ``embed_grid`` give the one-batch-at-a-time result;
``ahead`` produces beside its consumer and stops with it."""

import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
import torch

import satclip
from satclip._threads import ahead, each_on_cores


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


def _ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "satclip-ahead"]


def test_ahead_yields_every_item_in_order_produced_on_another_thread():
    producers: list[str] = []

    def items():
        for i in range(50):
            producers.append(threading.current_thread().name)
            yield i

    assert list(ahead(items(), depth=2)) == list(range(50))
    assert set(producers) == {"satclip-ahead"} and not _ahead_threads()


def test_ahead_runs_the_producer_beside_the_consumer():
    # Each side sleeps (releasing the GIL, as torch and a compressor do): overlapped, the total is
    # about the larger share, not the sum.
    def slow(n):
        for i in range(n):
            time.sleep(0.05)
            yield i

    t0 = time.perf_counter()
    for _ in ahead(slow(10), depth=1):
        time.sleep(0.05)
    assert time.perf_counter() - t0 < 0.85  # in turn: 1.0 s


def test_ahead_raises_the_producers_error_at_its_item():
    def failing():
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for x in ahead(failing(), depth=4):
            got.append(x)
    assert got == [1, 2] and not _ahead_threads()


def test_a_consumer_that_stops_stops_the_producer():
    made: list[int] = []

    def endless():
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    gen = ahead(endless(), depth=1)
    assert next(gen) == 0
    gen.close()  # what a writer's error does through contextlib.closing
    assert not _ahead_threads()
    assert len(made) <= 3  # the item taken, one in the queue, at most one blocked on a full queue
