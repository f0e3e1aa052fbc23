"""Spherical harmonics by sphericart (CPU and CUDA kernels, with autograd), in our conventions.

sphericart's real spherical harmonics of unit vectors are, column for column, our
``"orthonormal"`` convention. So each point's unit vector is formed from its convention's angles
(:mod:`satclip.encodings._sh_convention`), and the convention's factor on the m = 0 columns is
one fixed diagonal, applied as a multiply.

sphericart is used in float64 only, and up to :data:`MAX_LEGENDRE_POLYS` degrees: its float32
kernels lose accuracy from about L = 20 (NaN at L = 40) and its float64 values drift from the
recurrence above about L = 87 near the equator (``tests/encodings/test_spherical_harmonics.py``
checks both boundaries). Optional: the ``fast`` extra (``sphericart-torch``).
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from satclip.encodings._sh_convention import AngleConvention

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
def _column_scale(convention: AngleConvention, legendre_polys: int, device: torch.device) -> torch.Tensor:
    # Made outside inference mode whatever the first caller's mode: cached from inside
    # ``embed`` it would be an inference tensor, which autograd refuses to save when the same
    # process later trains ("Inference tensors cannot be saved for backward").
    with torch.inference_mode(False):
        return convention.column_scale(legendre_polys, device)


def harmonics(
    lonlat: torch.Tensor,
    legendre_polys: int,
    convention: AngleConvention,
    dtype: torch.dtype,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """The harmonics of (n, 2) float64 lon/lat degrees as (n, L²) ``dtype``, written into ``out``
    when given.

    Computed in float64 and cast once; the copy into ``out`` is recorded by autograd, so
    gradients flow to the coordinates through sphericart's backward."""
    calc = calculator(legendre_polys)
    assert calc is not None, "callers check that sphericart is installed"
    cos_theta, sin_theta, phi = convention.angles(lonlat[:, 0], lonlat[:, 1])
    xyz = torch.stack([sin_theta * torch.cos(phi), sin_theta * torch.sin(phi), cos_theta], dim=1)
    y = calc(xyz)
    if convention.m0_scale != 1.0:
        diagonal = _column_scale(convention, legendre_polys, y.device)
        # In float64, before the cast; in place where no gradient is recorded (a multiply into a
        # float32 ``out`` from float64 inputs is several times slower than this and a copy).
        y = y * diagonal if y.requires_grad else y.mul_(diagonal)
    return y.to(dtype) if out is None else out.copy_(y)
