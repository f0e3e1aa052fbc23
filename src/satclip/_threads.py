"""A process-wide pool of helper threads for CPU work split across cores, and :func:`ahead`,
which runs a producer on a thread of its own beside its consumer.

Used by the numba harmonics kernel (ranges of points) and by ``embed`` and ``embed_grid``
(whole batches, one core each: :func:`each_on_cores`). The calling thread always takes a share
of the work itself, so a call never waits on a pool that is busy with another call: at worst the
caller does everything. A forked child drops the pool it inherited (the parent's threads do not
exist there) and starts its own.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import TypeVar

import torch

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def run_on_threads(work: Callable[[], None], threads: int) -> None:
    """Run ``work()`` in the calling thread and in ``threads - 1`` pool threads at once; return
    when all have returned, re-raising the first error. ``work`` takes its share of a common
    queue itself (each call keeps taking items until none is left)."""
    if threads <= 1:
        work()
        return
    pool = _thread_pool(threads - 1)
    jobs = [pool.submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        errors = [job.exception() for job in jobs]  # waits for every job, even after an error here
    for error in errors:
        if error is not None:
            raise error


def each_on_cores(
    items: Iterable[T], worker: Callable[[], AbstractContextManager[Callable[[T], None]]], threads: int
) -> None:
    """Process ``items`` on ``threads`` threads (the caller's and pool threads), each running
    torch ops on one core: each thread enters ``worker()`` once, for the function it applies to
    the items it takes (its own buffers), and takes items as it is free. After an error the
    others stop at their next item and the first error is raised. With ``threads <= 1`` the
    items run in turn in the calling thread, whose torch thread count is left alone (each op free
    to use every core).

    On CPU, whole batches side by side beat every op split over the cores: no hand-over between
    cores after each op (BENCHMARKS.md)."""
    if threads <= 1:
        with worker() as apply:
            for item in items:
                apply(item)
        return
    queue, lock, failed = iter(items), threading.Lock(), threading.Event()
    caller_threads = torch.get_num_threads()

    def work() -> None:
        # torch keeps its OpenMP and MKL thread counts per thread: this sets this thread's. It
        # also sets the process-wide count that new threads begin with (torch cannot read that
        # one back); the restore leaves it at the caller's count.
        torch.set_num_threads(1)
        try:
            with worker() as apply:
                while not failed.is_set():
                    with lock:
                        item = next(queue, _DONE)
                    if item is _DONE:
                        return
                    apply(item)  # type: ignore[arg-type]
        except BaseException:
            failed.set()
            raise
        finally:
            torch.set_num_threads(caller_threads)

    run_on_threads(work, threads)


_DONE = object()


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """The shared pool, grown to at least ``workers`` threads."""
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_workers = ThreadPoolExecutor(workers, thread_name_prefix="satclip"), workers
        return _pool


def _forget_pool_after_fork() -> None:
    global _pool, _pool_workers, _pool_lock
    _pool, _pool_workers, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def ahead(items: Iterable[T], depth: int = 1) -> Generator[T, None, None]:
    """``items``, produced on a thread of their own up to ``depth`` items ahead of the consumer.

    For a producer and a consumer that both release the GIL (embedding tiles with torch while
    a raster writer compresses and writes the previous ones): each waits on the other only when
    the queue is full or empty. The producer's error is raised in the consumer, at the item
    where it happened; a consumer that stops early (an error, ``close()``) stops the producer
    before its next item and waits for it, so no thread outlives the call.
    """
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            put((False, error))
            return
        put((False, _DONE))

    thread = threading.Thread(target=produce, name="satclip-ahead", daemon=True)
    thread.start()
    try:
        while True:
            ok, value = slots.get()
            if ok:
                yield value  # type: ignore[misc]
            elif value is _DONE:
                return
            else:
                raise value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
