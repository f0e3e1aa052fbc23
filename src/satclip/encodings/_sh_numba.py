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

Same recurrence, coefficients and angles (:mod:`satclip.encodings._sh_convention`, compiled into
the loop) as the torch code. The one difference: cos(mφ)
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
from satclip.encodings._sh_convention import AngleConvention, point_angles
from satclip.encodings._sh_recurrence import P00, SQRT2, recurrence_coefficients
from satclip.errors import InputError

# Below this many features (points x L²; 164 points of L=40, ~0.25 ms on one core) a call runs
# in the calling thread alone: handing a share to the pool costs tens of µs.
_MIN_FEATURES_PER_THREAD = 1 << 18
# Ranges per thread in one call (see harmonics_into); each is still thousands of points' worth
# of work at 10^5 points, and at least 2^18 / 4 features for the smallest call that is split.
_CHUNKS_PER_THREAD = 4


def harmonics_into(
    lonlat: np.ndarray, legendre_polys: int, convention: AngleConvention, out: np.ndarray
) -> None:
    """Write the real harmonics of (n, 2) float64 lon/lat degrees in ``convention`` into ``out``
    (n, L²), float32 or float64, on at most ``torch.get_num_threads()`` threads. ``out`` is C-contiguous, or
    column-major (``out.T`` C-contiguous, or a leading slice of such an array's transpose): the
    layout the kernel writes fastest, and one a first linear layer reads at the same speed."""
    a, ab, diag = _coefficients(legendre_polys)
    conv = (convention.lon_offset, convention.cos_theta_sign, convention.m0_scale)
    n, features = out.shape
    if n == 0:
        return
    rows, flat, stride, features_major = _layout(out)
    block = _BLOCK_FEATURES_MAJOR if features_major else _BLOCK
    threads = max(1, min(torch.get_num_threads(), n * features // _MIN_FEATURES_PER_THREAD))
    if threads == 1:
        _harmonics_points(lonlat, a, ab, diag, *conv, rows, flat, stride, features_major, block, 0, n)
        return
    # Ranges are handed out as threads ask for them rather than split evenly up front: right
    # after a torch op, torch's OpenMP workers spin on the cores for a while, and a thread that
    # shares its core with one gets through less; the others then take more of the ranges.
    per_range = -(-n // (threads * _CHUNKS_PER_THREAD))
    step = -(-per_range // block) * block  # whole blocks, rounded up
    starts = iter(range(0, n, step))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                start = next(starts, None)
            if start is None:
                return
            stop = min(start + step, n)
            _harmonics_points(
                lonlat,
                a,
                ab,
                diag,
                *conv,
                rows,
                flat,
                stride,
                features_major,
                block,
                start,
                stop,
            )

    run_on_threads(work, threads)


def _layout(out: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """``out`` (n, L²) as the kernel writes it: ``(rows, flat, stride, features_major)``.

    C-contiguous ``out`` is written as ``rows`` (itself). Column-major ``out`` is written as
    ``flat``, one 1-D array in which feature k of point i is at ``k * stride + i``: a run of
    it is a unit-stride array to the compiler, where a slice of a strided 2-D view is not (that
    ran 1.8x slower); it ends at the layout's last element, so it covers no memory that ``out``
    does not. The array not used is an empty one of the same type (numba compiles both)."""
    if out.flags.c_contiguous:
        return out, np.empty(0, out.dtype), out.shape[1], False
    if out.strides[0] != out.itemsize:
        raise InputError("out must be C-contiguous or column-major")
    n, features = out.shape
    stride = out.strides[1] // out.itemsize
    flat = np.lib.stride_tricks.as_strided(out, shape=((features - 1) * stride + n,), strides=(out.itemsize,))
    return np.empty((0, features), out.dtype), flat, stride, True


@functools.lru_cache(maxsize=8)
def _coefficients(legendre_polys: int) -> tuple[np.ndarray, ...]:
    """The recurrence's constants as numpy arrays, built once per L: embed() calls this for every
    batch, and rebuilding them (~70 µs) was a tenth of a 1 024-point batch's features."""
    return tuple(c.numpy() for c in recurrence_coefficients(legendre_polys, torch.device("cpu")))


# Points computed side by side in the kernel. The recurrence over degrees is a chain of
# dependent multiply-adds; one point at a time, the CPU waits on each step's latency (at L=10
# the kernel ran at ~1/3 of sphericart's speed). Across a block of points the steps are
# independent, so they pipeline and vectorise. Writing C-contiguous rows, each value of a block
# goes to a different row: small blocks keep those rows in cache. Writing column-major, a block
# fills one contiguous run of every feature's row: long runs vectorise best (2.5x faster at L=40
# than the C-contiguous layout, BENCHMARKS.md).
_BLOCK = 32
_BLOCK_FEATURES_MAJOR = 256


_point_angles = numba.njit(inline="always")(point_angles)


# cache=True: the machine code is kept next to this file (or in numba's user cache where that is
# read-only), so only the first process on a machine pays the ~1.5 s compile per output dtype.
@numba.njit(cache=True, nogil=True)
def _harmonics_points(
    lonlat: np.ndarray,
    a: np.ndarray,
    ab: np.ndarray,
    diag: np.ndarray,
    lon_offset: float,
    cos_theta_sign: float,
    m0_scale: float,
    rows: np.ndarray,
    flat: np.ndarray,
    stride: int,
    features_major: bool,
    block: int,
    start: int,
    stop: int,
) -> None:
    """Harmonics of points ``start:stop`` into ``rows`` (n, L²), or where ``features_major``
    into ``flat``, feature k of point i at ``k * stride + i`` (see :func:`_layout`)."""
    L = diag.shape[0]
    x = np.empty(block)
    s = np.empty(block)
    c1 = np.empty(block)
    s1 = np.empty(block)
    p = np.empty(block)
    p_prev = np.empty(block)
    p_mm = np.empty(block)
    # √2·cos(mφ) and √2·sin(mφ) per order and point: the scales of the m > 0 columns.
    cos_m = np.empty((L, block))
    sin_m = np.empty((L, block))
    for i0 in range(start, stop, block):
        nb = min(block, stop - i0)
        for j in range(nb):
            x[j], s[j], phi = _point_angles(lonlat[i0 + j, 0], lonlat[i0 + j, 1], lon_offset, cos_theta_sign)
            c1[j] = math.cos(phi)
            s1[j] = math.sin(phi)
            cos_m[0, j] = SQRT2
            sin_m[0, j] = 0.0
            p_mm[j] = P00
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
            # Rows and row slices as their own 1-D arrays: the compiler then sees unit-stride
            # loops and vectorises them (indexing the 2-D arrays inside the loop ran 2.5x slower).
            cm = cos_m[m]
            sm = sin_m[m]
            for l in range(m, L):
                if l > m:
                    alm = a[l, m]
                    ablm = ab[l, m]
                    for j in range(nb):
                        t = alm * x[j] * p[j] - ablm * p_prev[j]
                        p_prev[j] = p[j]
                        p[j] = t
                centre = l * l + l
                if features_major:
                    if m == 0:
                        run = flat[centre * stride + i0 : centre * stride + i0 + nb]
                        for j in range(nb):
                            run[j] = p[j] * m0_scale
                    else:
                        run_cos = flat[(centre + m) * stride + i0 : (centre + m) * stride + i0 + nb]
                        run_sin = flat[(centre - m) * stride + i0 : (centre - m) * stride + i0 + nb]
                        for j in range(nb):
                            run_cos[j] = p[j] * cm[j]
                            run_sin[j] = p[j] * sm[j]
                elif m == 0:
                    for j in range(nb):
                        rows[i0 + j, centre] = p[j] * m0_scale
                else:
                    for j in range(nb):
                        rows[i0 + j, centre + m] = p[j] * cm[j]
                        rows[i0 + j, centre - m] = p[j] * sm[j]
