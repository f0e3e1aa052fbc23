"""Embedding a regular lon/lat grid with the first layer factored by latitude row and longitude.

Spherical harmonics are separable: the feature of degree l and order m at (lat, lon) is
g_lm(lat) · t_m(lon), with t_m = cos(mφ) for m >= 0 and sin(|m|φ) for m < 0. So the first
layer's pre-activation at a grid pixel,

    z(lat_i, lon_j) = b + Σ_lm W[:, lm] g_lm(lat_i) t_m(lon_j) = b + Σ_m A_m(lat_i) t_m(lon_j),

needs A_m(lat_i) = Σ_l W[:, lm] g_lm(lat_i) once per row: 2L - 1 terms per pixel instead of L²
(79 instead of 1 600 at L=40). The rest of the network runs per pixel as usual. The result equals
the point-by-point path up to float rounding (tests/test_grid.py). Used for SIREN networks on
spherical harmonics, the published architecture; :meth:`LocationEncoder.embed_grid` falls back
to the point-by-point path for anything else.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from satclip._threads import each_on_cores
from satclip.encodings._sh_convention import ANGLE_CONVENTIONS
from satclip.encodings.spherical_harmonics import SphericalHarmonics, spherical_harmonics
from satclip.networks import Siren

# Pixels per block: the network's activations stay a few MB however wide a row is (BENCHMARKS.md).
PIXELS_PER_BLOCK = 2048


def supports(encoding: nn.Module, network: nn.Module, dtype: torch.dtype) -> bool:
    """Whether :func:`embed_grid` applies: harmonics into a SIREN, in float32 or float64."""
    return (
        isinstance(encoding, SphericalHarmonics)
        and isinstance(network, Siren)
        and dtype in (torch.float32, torch.float64)
    )


def _orders(legendre_polys: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For every feature column (l, m), its order m and the column of (l, |m|)."""
    l = torch.repeat_interleave(torch.arange(legendre_polys), 2 * torch.arange(legendre_polys) + 1)
    m = torch.cat([torch.arange(-k, k + 1) for k in range(legendre_polys)])
    return m, l * l + l + m.abs()


def embed_grid(
    encoding: nn.Module,
    net: nn.Module,
    lons: np.ndarray,
    lats: np.ndarray,
    output_dtype: np.dtype,
    threads: int,
    bias: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
) -> np.ndarray:
    """(len(lats), len(lons), dim) embeddings of every (lon, lat) pair: rows follow ``lats``, in
    ``output_dtype``, row blocks on up to ``threads`` cores. ``bias`` replaces the first layer's
    (a seasonal model's, with its one time folded in); the first layer's columns past the
    harmonics (its time input) are not read. ``weight`` (H, L²) replaces the first layer's
    harmonics columns (a seasonal model's, with its time's products with the harmonics folded in).

    Call in eval and inference mode (see :func:`supports`), with valid, wrapped float64
    coordinates."""
    assert isinstance(encoding, SphericalHarmonics) and isinstance(net, Siren), "callers check supports()"
    cfg = encoding.config
    L, convention = cfg.legendre_polys, ANGLE_CONVENTIONS[cfg.convention]
    first = net.first_layer
    device, dtype = first.weight.device, first.weight.dtype
    m, partner = _orders(L)
    # Columns sorted by order, so that each order's columns are one contiguous slice.
    by_order = torch.argsort(m, stable=True)
    bounds = torch.searchsorted(m[by_order], torch.arange(-(L - 1), L + 1)).tolist()
    weight = (first.weight if weight is None else weight).detach().to(torch.float64)
    weight = weight[:, by_order.to(device)].T.contiguous()  # (L², H)
    gather = partner[by_order].to(device)
    bias = first.bias if bias is None else bias

    # t_m(lon) for m = -(L-1)..L-1: (C, 2L - 1).
    phi = convention.phi(torch.from_numpy(lons).to(device))
    orders = torch.arange(-(L - 1), L, device=device, dtype=torch.float64)
    angle = phi[:, None] * orders.abs()
    trig = torch.where(orders >= 0, torch.cos(angle), torch.sin(angle)).to(dtype)

    out = np.empty((len(lats), len(lons), net.config.dim_out), dtype=output_dtype)
    rows = max(1, PIXELS_PER_BLOCK // max(1, len(lons)))
    # A row wider than a block is cut into equal column chunks (no sliver at the end).
    chunks = -(-len(lons) // PIXELS_PER_BLOCK)
    cols = -(-len(lons) // chunks) if len(lons) else 1

    def block(r0: int) -> None:
        lat = torch.from_numpy(lats[r0 : r0 + rows]).to(device)
        # g_lm(lat): the features where t_m = 1, i.e. at φ = 0; sine columns take their cosine
        # partner's value (both are √2·P̄_l^|m|; at φ = 0 the sines themselves are 0).
        at_zero = torch.stack([torch.full_like(lat, -convention.lon_offset), lat], dim=1)
        g = spherical_harmonics(at_zero, L, cfg.convention)[:, gather]  # (r, L²), sorted by order
        a = torch.stack([g[:, lo:hi] @ weight[lo:hi] for lo, hi in itertools.pairwise(bounds)], dim=1).to(
            dtype
        )  # (r, 2L - 1, H)
        for c0 in range(0, len(lons), cols):
            z = torch.einsum("ck,rkh->rch", trig[c0 : c0 + cols], a).add_(bias)
            y = net.from_first_affine(z.reshape(-1, z.shape[-1]))
            out[r0 : r0 + rows, c0 : c0 + cols] = y.reshape(len(lat), -1, y.shape[-1]).cpu().numpy()

    # Row blocks side by side, one core each, as embed does with batches.
    @contextmanager
    def worker() -> Iterator[Callable[[int], None]]:
        with torch.inference_mode():  # per thread, like grad mode
            yield block

    starts = range(0, len(lats), rows)
    each_on_cores(starts, worker, min(threads, len(starts)))
    return out
