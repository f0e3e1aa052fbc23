"""``embed`` from several threads at once, and in a forked child, gives the serial result."""

import multiprocessing
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

import satclip


def _points(n, seed):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-180, 180, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))], axis=1)


@pytest.mark.parametrize("name", ["satclip-bluemarble-l10", "satclip-bluemarble-l40"])
def test_four_threads_give_the_serial_result(name):
    enc = satclip.load(name)
    inputs = [_points(3000, seed) for seed in range(8)]
    serial = [enc.embed_array(x) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(enc.embed_array, inputs))
    for a, b in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(a, b)


def test_threads_on_a_model_left_in_training_mode():
    """embed switches such a model to eval for the call: threads must not see each other's
    switch back (dropout 0.5 would then change the output)."""
    enc = satclip.load("satclip-bluemarble-l10")
    inputs = [_points(2000, seed) for seed in range(8)]
    serial = [enc.embed_array(x) for x in inputs]
    enc.train()
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(enc.embed_array, inputs))
    assert enc.training
    for a, b in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(a, b)


def _child(conn, points):
    # torch's OpenMP pool does not survive fork (README): one thread in the child.
    torch.set_num_threads(1)
    try:
        conn.send(satclip.load("satclip-bluemarble-l40").embed_array(points))
    except BaseException as e:  # report, do not hang the parent
        conn.send(repr(e))
    finally:
        conn.close()


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")
def test_forked_child_embeds_correctly():
    enc = satclip.load("satclip-bluemarble-l40")
    points = _points(5000, 3)
    want = enc.embed_array(points)  # the parent has run the backends (threads, numba) first
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, points))
    proc.start()
    got = parent.recv() if parent.poll(120) else "timeout"
    proc.join(30)
    assert isinstance(got, np.ndarray), got
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert proc.exitcode == 0
    assert os.getpid() != proc.pid
