"""Which harmonics backend is faster for CPU inference on this machine: measured once, cached.

numba's kernel and sphericart's both compute the harmonics for inference on a CPU, and which is
faster depends on the CPU: numba won every case on the 2-core AVX2 machine the library was
built on (BENCHMARKS.md, "sphericart"), sphericart won L = 40 on an AVX-512 server (issue 35).
So ``backend="auto"`` asks :func:`cpu_inference_backend`, which times both on one batch of
inference size the first time a (degree, dtype) is used on a machine, and keeps the answer in
``calibration.json`` in satclip's cache folder (``$SATCLIP_CACHE``), keyed by the CPU, the
thread count and both libraries' versions, so later processes read it instead of measuring.
A cache that cannot be read or written only costs the measurement again (~0.1 s at L = 40).
"""

from __future__ import annotations

import json
import platform
import threading
import time
from pathlib import Path
from typing import Literal, cast

import torch

CpuBackend = Literal["numba", "sphericart"]
FILE = "calibration.json"
# Points per timed call: embed()'s batches are this size or larger (BENCHMARKS.md, "Block sizes").
POINTS = 1024
ROUNDS = 5
# sphericart must be this much faster to be chosen: within it the two are a tie, and numba
# (no float64 temporary, written in the layout the first layer reads) keeps the choice.
MARGIN = 0.95


def cpu_inference_backend(legendre_polys: int, dtype: torch.dtype) -> CpuBackend:
    """The faster of numba and sphericart for CPU inference of ``legendre_polys`` degrees into
    ``dtype`` on this machine, from the cache or measured now. Callers check that both are
    installed and apply (see :func:`satclip.encodings.spherical_harmonics.spherical_harmonics`).

    The thread count is part of the question: ``embed`` computes each batch on one thread of
    its own (one torch thread), a direct call on all of them. Threads asking the same question
    at once wait for one measurement, so every batch of a first call gets the same answer."""
    key = (legendre_polys, str(dtype).removeprefix("torch."), torch.get_num_threads())
    answer = _answers.get(key)
    if answer is None:
        with _guard:
            lock = _locks.setdefault(key, threading.Lock())
        # One lock per question: a measurement on several threads uses the pool, whose threads
        # (each on one torch thread) only ever wait on a different question's lock.
        with lock:
            answer = _answers.get(key)
            if answer is None:
                answer = _answers[key] = _decide(*key)
    return answer


_answers: dict[tuple[int, str, int], CpuBackend] = {}
_locks: dict[tuple[int, str, int], threading.Lock] = {}
_guard = threading.Lock()


def _decide(legendre_polys: int, dtype: str, threads: int) -> CpuBackend:
    key = f"{machine_key()} | threads {threads} | L {legendre_polys} | {dtype}"
    path = _path()
    known = _read(path).get(key)
    if known in ("numba", "sphericart"):
        return cast(CpuBackend, known)
    seconds = measure(legendre_polys, getattr(torch, dtype))
    choice: CpuBackend = "sphericart" if seconds["sphericart"] < MARGIN * seconds["numba"] else "numba"
    try:
        from satclip._files import write_json

        write_json(path, {**_read(path), key: choice})
    except OSError:  # a read-only cache: measure again next time
        pass
    return choice


def machine_key() -> str:
    """The CPU (model name and torch's view of its vector units) and the two libraries' versions."""
    return " | ".join(
        [
            _cpu_name(),
            platform.machine(),
            f"cpu capability {torch.backends.cpu.get_cpu_capability()}",
            f"numba {_version('numba')}",
            f"sphericart-torch {_version('sphericart-torch')}",
        ]
    )


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:  # importable but not installed as a distribution (a source tree)
        return "unknown"


def measure(legendre_polys: int, dtype: torch.dtype) -> dict[str, float]:
    """Fastest of :data:`ROUNDS` calls on :data:`POINTS` area-uniform points, per backend, each
    writing into the buffer layout inference gives it (column-major for numba)."""
    from satclip.encodings.spherical_harmonics import numba_buffer, spherical_harmonics

    gen = torch.Generator().manual_seed(0)
    u = torch.rand(POINTS, 2, generator=gen, dtype=torch.float64)
    lonlat = torch.stack([360 * u[:, 0] - 180, torch.rad2deg(torch.asin(2 * u[:, 1] - 1))], dim=1).to(dtype)
    features = legendre_polys * legendre_polys
    buffers = {
        "numba": numba_buffer(POINTS, features, dtype, torch.device("cpu")),
        "sphericart": torch.empty(POINTS, features, dtype=dtype),
    }
    best = dict.fromkeys(buffers, float("inf"))
    with torch.no_grad():
        for name, out in buffers.items():  # a first call each: compiled code loaded, caches warm
            spherical_harmonics(lonlat, legendre_polys, backend=name, out=out)  # type: ignore[arg-type]
        for _ in range(ROUNDS):  # interleaved, so that a busy moment costs both alike
            for name, out in buffers.items():
                t0 = time.perf_counter()
                spherical_harmonics(lonlat, legendre_polys, backend=name, out=out)  # type: ignore[arg-type]
                best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _path() -> Path:
    from satclip._files import cache_root

    return cache_root() / FILE


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # missing or damaged: measured anew
        return {}
    return data if isinstance(data, dict) else {}


def forget() -> None:
    """Drop this process's answers (the file stays): the next call reads or measures again."""
    _answers.clear()
