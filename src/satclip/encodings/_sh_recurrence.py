"""The constants of the fully normalised associated-Legendre recurrence, shared by every
implementation of the spherical harmonics (torch, numba, the ONNX graph)."""

from __future__ import annotations

import math

import torch

# P̄_0^0, where the recurrence starts, and the factor of the real harmonics of order m != 0
# (√2·P̄_l^|m| times cos mφ or sin |m|φ).
P00 = 1.0 / math.sqrt(4.0 * math.pi)
SQRT2 = math.sqrt(2.0)


def recurrence_coefficients(legendre_polys: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Coefficients of  P̄_l^m = a_lm x P̄_{l-1}^m - (a_lm b_lm) P̄_{l-2}^m.

    Returns ``a`` and ``ab`` = a·b of shape (L, L) (row l, column m; only m < l is used) and
    ``diag`` of shape (L,), the factor of P̄_l^l = diag_l · sinθ · P̄_{l-1}^{l-1}.
    """
    L = legendre_polys
    ll = torch.arange(L, dtype=torch.float64, device=device)[:, None]
    mm = torch.arange(L, dtype=torch.float64, device=device)[None, :]
    valid = mm < ll
    denom_a = torch.where(valid, ll**2 - mm**2, torch.ones_like(ll * mm))
    a = torch.where(valid, torch.sqrt((4 * ll**2 - 1) / denom_a), torch.zeros_like(denom_a))
    num_b = ((ll - 1) ** 2 - mm**2).clamp(min=0)
    denom_b = (4 * (ll - 1) ** 2 - 1).clamp(min=1)
    b = torch.where(valid, torch.sqrt(num_b / denom_b), torch.zeros_like(denom_a))
    lvec = torch.arange(L, dtype=torch.float64, device=device).clamp(min=1)
    diag = torch.sqrt((2 * lvec + 1) / (2 * lvec))
    return a, a * b, diag
