"""Spherical harmonics through satclip vs calling sphericart directly (and the other backends).

    .venv/bin/python bench/bench_sphericart.py [--points 100000] [--json out.json]

One process, rounds interleaved (these machines are noisy: only ratios measured side by side
mean anything); the fastest round of each variant counts. Variants, each from (N, 2) float64
lon/lat degrees to (N, L²) features of the output dtype:

- ``satclip``: ``satclip.encodings.spherical_harmonics`` with its default backend (on CPU, numba
  or sphericart, whichever this machine's one-off calibration measured faster; printed below
  the table), in the
  orthonormal convention (sphericart's own); in batches it writes into one reused buffer
  (``out=``) of the layout the encoding gives ``LocationEncoder.embed`` (its
  ``_features_buffer``: column-major where numba writes it); ``satclip-convention``: the same in
  the published convention (one more multiply by a diagonal); ``satclip-rows``: the default
  backend into a C-contiguous buffer (what a caller passing its own ``out`` of rows gets; the
  variants below write rows too);
- ``direct``: what a user would write with sphericart itself: unit vectors from lon/lat in torch,
  ``sphericart.torch.SphericalHarmonics(L - 1)`` in float64 (its float32 kernels are inexact from
  L ≈ 20), cast to the output dtype;
- ``direct-xyz``: only the sphericart call, on unit vectors computed beforehand (a floor);
- ``satclip-sphericart``, ``torch``, ``numba``: the library's backends by name.

Two ways of calling: ``batches`` (1 024 points a call, as embed() does) and ``one-call`` (all
points at once).
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from collections.abc import Callable

import numpy as np
import sphericart.torch
import torch

from _common import table
from satclip.encodings import create_encoding, spherical_harmonics

BATCH = 1024
# The module (the package exports the function under the same name).
sh_module = importlib.import_module("satclip.encodings.spherical_harmonics")


def sphere_points(n: int, seed: int = 0) -> torch.Tensor:
    u = np.random.default_rng(seed).random((n, 2))
    return torch.from_numpy(np.stack([360 * u[:, 0] - 180, np.degrees(np.arcsin(2 * u[:, 1] - 1))], axis=1))


def unit_vectors(lonlat: torch.Tensor) -> torch.Tensor:
    lon, lat = torch.deg2rad(lonlat[:, 0]), torch.deg2rad(lonlat[:, 1])
    return torch.stack([torch.cos(lat) * torch.cos(lon), torch.cos(lat) * torch.sin(lon), torch.sin(lat)], 1)


def variants(L: int, dtype: torch.dtype) -> dict[str, Callable[[torch.Tensor, torch.Tensor | None], object]]:
    calc = sphericart.torch.SphericalHarmonics(l_max=L - 1)
    out: dict[str, Callable[[torch.Tensor, torch.Tensor | None], object]] = {
        "satclip": lambda p, buf: spherical_harmonics(p.to(dtype), L, "orthonormal", out=buf),
        "satclip-convention": lambda p, buf: spherical_harmonics(p.to(dtype), L, "satclip", out=buf),
        "satclip-rows": lambda p, buf: spherical_harmonics(p.to(dtype), L, "orthonormal", out=buf),
        "direct": lambda p, buf: calc(unit_vectors(p)).to(dtype),
        "satclip-sphericart": lambda p, buf: spherical_harmonics(
            p.to(dtype), L, "orthonormal", "sphericart", out=buf
        ),
        "torch": lambda p, buf: spherical_harmonics(p.to(dtype), L, "orthonormal", "torch", out=buf),
    }
    if sh_module._import_numba_backend() is not None:
        out["numba"] = lambda p, buf: spherical_harmonics(p.to(dtype), L, "orthonormal", "numba", out=buf)
    return out


# The variants that write into the buffer embed() itself would give them.
EMBED_LAYOUT = ("satclip", "satclip-convention")


def time_variant(
    fn: Callable[..., object],
    chunks: list[torch.Tensor],
    L: int,
    dtype: torch.dtype,
    embed_layout: bool = False,
) -> float:
    if embed_layout:
        encoding = create_encoding("sphericalharmonics", legendre_polys=L)
        buf = encoding._features_buffer(len(chunks[0]), dtype, torch.device("cpu"))
    else:
        buf = torch.empty(len(chunks[0]), L * L, dtype=dtype)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for c in chunks:
            fn(c, buf[: len(c)])
    return time.perf_counter() - t0


def training(points: torch.Tensor, degrees: list[int], rounds: int) -> None:
    """Forward and backward of the features (float64, gradients to the coordinates), as in a
    training step's location side: the recurrence vs sphericart."""
    pts = points[:4096]
    print("| L | torch recurrence ms | sphericart ms | speed-up |")
    print("| --- | --- | --- | --- |")
    for L in degrees:
        weights = torch.randn(len(pts), L * L, dtype=torch.float64)
        best = {"torch": float("inf"), "sphericart": float("inf")}
        for _ in range(rounds):
            for backend in best:
                x = pts.clone().requires_grad_(True)
                t0 = time.perf_counter()
                (spherical_harmonics(x, L, "satclip", backend) * weights).sum().backward()
                best[backend] = min(best[backend], time.perf_counter() - t0)
        t, s = best["torch"] * 1e3, best["sphericart"] * 1e3
        print(f"| {L} | {t:.1f} | {s:.1f} | {t / s:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--degrees", type=int, nargs="+", default=[10, 40])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--training", action="store_true", help="forward + backward on 4 096 points instead")
    args = ap.parse_args()
    pts = sphere_points(args.points)
    if args.training:
        training(pts, args.degrees, args.rounds)
        return
    xyz = unit_vectors(pts)
    rows = []
    for L in args.degrees:
        for dtype in (torch.float32, torch.float64):
            for mode in ("batches", "one-call"):
                chunks = list(pts.split(BATCH)) if mode == "batches" else [pts]
                xyz_chunks = list(xyz.split(BATCH)) if mode == "batches" else [xyz]
                calc = sphericart.torch.SphericalHarmonics(l_max=L - 1)
                fns = variants(L, dtype)
                best = dict.fromkeys([*fns, "direct-xyz"], float("inf"))
                for name, fn in fns.items():  # warm-up: numba compiles, sphericart allocates
                    time_variant(fn, chunks[:2], L, dtype, name in EMBED_LAYOUT)
                for _ in range(args.rounds):
                    for name, fn in fns.items():
                        best[name] = min(best[name], time_variant(fn, chunks, L, dtype, name in EMBED_LAYOUT))
                    t0 = time.perf_counter()
                    with torch.inference_mode():
                        for c in xyz_chunks:
                            calc(c).to(dtype)
                    best["direct-xyz"] = min(best["direct-xyz"], time.perf_counter() - t0)
                for name, seconds in best.items():
                    rows.append(
                        {
                            "L": L,
                            "dtype": str(dtype).removeprefix("torch."),
                            "mode": mode,
                            "variant": name,
                            "Mpoints/s": round(args.points / seconds / 1e6, 3),
                            "vs direct": round(best["direct"] / seconds, 2),
                        }
                    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.points:,} points")
    print(table(list(rows[0]), [[str(v) for v in r.values()] for r in rows]))
    from satclip.encodings._sh_calibration import cpu_inference_backend, machine_key

    print(f"calibration ({machine_key()}):")
    for L in args.degrees:
        for dtype in (torch.float32, torch.float64):
            print(f"  L={L} {str(dtype).removeprefix('torch.')}: {cpu_inference_backend(L, dtype)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
