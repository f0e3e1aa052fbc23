"""The spherical-harmonic recurrence as one compiled loop over points (numba), for CPU inference.

The torch code in :mod:`satclip.encodings.spherical_harmonics` runs ~12 tensor ops per degree
over blocks of points; on CPU most of its time goes to memory traffic between those ops and to
casting slices into the output. Here the harmonics of a block of 16 points are formed side by
side in small buffers and written once, straight into the output rows (2-4x faster at L=40 on a
2-core CPU, BENCHMARKS.md). Numba
writes outside autograd, so :func:`~satclip.encodings.spherical_harmonics.spherical_harmonics`
uses this only where no gradient is needed. Numba is optional (the ``fast`` extra): this module
is imported on first use, so the core still imports only torch and numpy.

The kernel is serial and releases the GIL; ranges of points run side by side on the package's
small thread pool (:mod:`satclip._threads`) rather than numba's ``parallel=True``, whose layers
are either not fork-safe (OpenMP: a forked child that computes features is killed) or not
thread-safe (workqueue, the only one on a plain macOS install: concurrent calls abort the
process).

Same recurrence, coefficients and conventions as the torch code. The one difference: cos(mφ)
and sin(mφ) come from rotating by φ instead of one trigonometric call per order, which agrees
with the torch values to ~1e-14 at L=40 in float64.
"""

from __future__ import annotations

import functools
import math
import threading

import numba
import numpy as np
import torch

from satclip._threads import run_on_threads
from satclip.encodings._sh_recurrence import recurrence_coefficients

# Below this many features (points x L²; 164 points of L=40, ~0.25 ms on one core) a call runs
# in the calling thread alone: handing a share to the pool costs tens of µs.
_MIN_FEATURES_PER_THREAD = 1 << 18
# Ranges per thread in one call (see harmonics_into); each is still thousands of points' worth
# of work at 10^5 points, and at least 2^18 / 4 features for the smallest call that is split.
_CHUNKS_PER_THREAD = 4


def harmonics_into(
    lonlat: np.ndarray, legendre_polys: int, satclip_convention: bool, out: np.ndarray
) -> None:
    """Write the real harmonics of (n, 2) float64 lon/lat degrees into ``out`` (n, L²), float32
    or float64, C-contiguous, on at most ``torch.get_num_threads()`` threads."""
    a, ab, diag = _coefficients(legendre_polys)
    n, features = lonlat.shape[0], out.shape[1]
    threads = max(1, min(torch.get_num_threads(), n * features // _MIN_FEATURES_PER_THREAD))
    if threads == 1:
        _harmonics_points(lonlat, a, ab, diag, satclip_convention, out, 0, n)
        return
    # Ranges are handed out as threads ask for them rather than split evenly up front: right
    # after a torch op, torch's OpenMP workers spin on the cores for a while, and a thread that
    # shares its core with one gets through less; the others then take more of the ranges.
    per_range = -(-n // (threads * _CHUNKS_PER_THREAD))
    step = -(-per_range // _BLOCK) * _BLOCK  # whole blocks, rounded up
    starts = iter(range(0, n, step))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                start = next(starts, None)
            if start is None:
                return
            _harmonics_points(lonlat, a, ab, diag, satclip_convention, out, start, min(start + step, n))

    run_on_threads(work, threads)


@functools.lru_cache(maxsize=8)
def _coefficients(legendre_polys: int) -> tuple[np.ndarray, ...]:
    """The recurrence's constants as numpy arrays, built once per L: embed() calls this for every
    batch, and rebuilding them (~70 µs) was a tenth of a 1 024-point batch's features."""
    return tuple(c.numpy() for c in recurrence_coefficients(legendre_polys, torch.device("cpu")))


# Points computed side by side in the kernel. The recurrence over degrees is a chain of
# dependent multiply-adds; one point at a time, the CPU waits on each step's latency (at L=10
# the kernel ran at ~1/3 of sphericart's speed). Across a block of points the steps are
# independent, so they pipeline and vectorise; 16 float64 values fill two AVX-512 registers and
# the block's rows (16 x L² values) stay in L1/L2 cache while they are written.
_BLOCK = 16


# cache=True: the machine code is kept next to this file (or in numba's user cache where that is
# read-only), so only the first process on a machine pays the ~1.5 s compile per output dtype.
@numba.njit(cache=True, nogil=True)
def _harmonics_points(
    lonlat: np.ndarray,
    a: np.ndarray,
    ab: np.ndarray,
    diag: np.ndarray,
    satclip_convention: bool,
    out: np.ndarray,
    start: int,
    stop: int,
) -> None:
    L = diag.shape[0]
    sqrt2 = math.sqrt(2.0)
    p00 = 1.0 / math.sqrt(4.0 * math.pi)
    m0_scale = math.pi if satclip_convention else 1.0
    x = np.empty(_BLOCK)
    s = np.empty(_BLOCK)
    c1 = np.empty(_BLOCK)
    s1 = np.empty(_BLOCK)
    p = np.empty(_BLOCK)
    p_prev = np.empty(_BLOCK)
    p_mm = np.empty(_BLOCK)
    # √2·cos(mφ) and √2·sin(mφ) per order and point: the scales of the m > 0 columns.
    cos_m = np.empty((L, _BLOCK))
    sin_m = np.empty((L, _BLOCK))
    for i0 in range(start, stop, _BLOCK):
        nb = min(_BLOCK, stop - i0)
        for j in range(nb):
            lon = lonlat[i0 + j, 0]
            lat = lonlat[i0 + j, 1]
            lat_rad = math.radians(lat)
            # sin θ exactly 0 at the poles: every longitude then gives the same embedding there.
            s[j] = 0.0 if abs(lat) == 90.0 else math.cos(lat_rad)
            if satclip_convention:  # θ = radians(lat + 90), φ = radians(lon + 180)
                x[j] = -math.sin(lat_rad)
                phi = math.radians(lon + 180.0)
            else:  # colatitude, φ = radians(lon)
                x[j] = math.sin(lat_rad)
                phi = math.radians(lon)
            c1[j] = math.cos(phi)
            s1[j] = math.sin(phi)
            cos_m[0, j] = sqrt2
            sin_m[0, j] = 0.0
            p_mm[j] = p00
        # cos(mφ), sin(mφ) by rotating by φ, order by order.
        for m in range(1, L):
            for j in range(nb):
                cos_m[m, j] = cos_m[m - 1, j] * c1[j] - sin_m[m - 1, j] * s1[j]
                sin_m[m, j] = sin_m[m - 1, j] * c1[j] + cos_m[m - 1, j] * s1[j]
        for m in range(L):
            if m > 0:
                for j in range(nb):
                    p_mm[j] = diag[m] * s[j] * p_mm[j]
            for j in range(nb):
                p[j] = p_mm[j]
                p_prev[j] = 0.0
            for l in range(m, L):
                if l > m:
                    alm = a[l, m]
                    ablm = ab[l, m]
                    for j in range(nb):
                        t = alm * x[j] * p[j] - ablm * p_prev[j]
                        p_prev[j] = p[j]
                        p[j] = t
                centre = l * l + l
                if m == 0:
                    for j in range(nb):
                        out[i0 + j, centre] = p[j] * m0_scale
                else:
                    for j in range(nb):
                        out[i0 + j, centre + m] = p[j] * cos_m[m, j]
                        out[i0 + j, centre - m] = p[j] * sin_m[m, j]
