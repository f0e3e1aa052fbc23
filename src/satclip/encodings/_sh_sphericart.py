"""Spherical harmonics by sphericart (CPU and CUDA kernels, with autograd), in our conventions.

sphericart's real spherical harmonics of unit vectors are, column for column, our
``"orthonormal"`` convention (colatitude θ = 90° - lat, φ = lon). The ``"satclip"`` convention
measures θ from the south pole and φ from 180° W, which flips every degree-l column by (-1)^l,
and scales m = 0 by π instead of 1: one fixed diagonal, applied as a multiply.

sphericart is used in float64 only, and up to :data:`MAX_LEGENDRE_POLYS` degrees: its float32
kernels lose accuracy from about L = 20 (NaN at L = 40) and its float64 values drift from the
recurrence above about L = 87 near the equator (``tests/encodings/test_spherical_harmonics.py``
checks both boundaries). Optional: the ``fast`` extra (``sphericart-torch``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

# Degrees (L = l_max + 1) up to which sphericart's float64 values agree with the recurrence to
# 1e-12 everywhere; a margin below the first degree found to drift (88).
MAX_LEGENDRE_POLYS = 80


@functools.cache
def calculator(legendre_polys: int) -> Any | None:
    """sphericart's torch module for degrees 0..L-1, or None when sphericart-torch is missing."""
    try:
        import sphericart.torch
    except ImportError:
        return None
    return sphericart.torch.SphericalHarmonics(l_max=legendre_polys - 1)


@functools.cache
def _satclip_diagonal(legendre_polys: int, device: torch.device) -> torch.Tensor:
    """(L²,) float64: (-1)^l, times π where m = 0."""
    values = []
    for l in range(legendre_polys):
        sign = -1.0 if l % 2 else 1.0
        values += [sign] * l + [sign * math.pi] + [sign] * l
    return torch.tensor(values, dtype=torch.float64, device=device)


def harmonics(
    lonlat: torch.Tensor,
    legendre_polys: int,
    satclip: bool,
    dtype: torch.dtype,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """The harmonics of (n, 2) float64 lon/lat degrees as (n, L²) ``dtype``, written into ``out``
    when given.

    Computed in float64 and cast once; the copy into ``out`` is recorded by autograd, so
    gradients flow to the coordinates through sphericart's backward."""
    calc = calculator(legendre_polys)
    assert calc is not None, "callers check that sphericart is installed"
    rad = torch.deg2rad(lonlat)
    cos, sin = torch.cos(rad), torch.sin(rad)
    # x = y = 0 exactly at the poles, so that every longitude gives the same features there.
    cos_lat = torch.where(lonlat[:, 1].abs() == 90, 0.0, cos[:, 1])
    xyz = torch.stack([cos_lat * cos[:, 0], cos_lat * sin[:, 0], sin[:, 1]], dim=1)
    y = calc(xyz)
    if satclip:
        diagonal = _satclip_diagonal(legendre_polys, y.device)
        # In float64, before the cast; in place where no gradient is recorded (a multiply into a
        # float32 ``out`` from float64 inputs is several times slower than this and a copy).
        y = y * diagonal if y.requires_grad else y.mul_(diagonal)
    return y.to(dtype) if out is None else out.copy_(y)
