"""A world raster's pixels: the factored grid path vs embedding the same pixel centres point by point.

    .venv/bin/python bench/bench_grid.py [--model satclip-bluemarble-viirs-l40] [--resolution 0.05] [--rows 24]
    .venv/bin/python bench/bench_grid.py --rows 12 --blocks 512,1024,2048,4096,8192

The world at ``--resolution`` degrees has 360/res columns; ``--rows`` rows spread from pole to pole
are embedded both ways (all columns of each), in rounds interleaved in one process (the fastest
round counts), and the outputs are compared. Whole-world times are extrapolated per pixel.
``--blocks`` times the grid path alone at several ``satclip._grid.PIXELS_PER_BLOCK`` values
instead (interleaved rounds in one process).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from satclip import _grid
from satclip.pretrained import load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="satclip-bluemarble-viirs-l40")
    ap.add_argument("--resolution", type=float, default=0.05)
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--blocks", help="comma-separated pixels per block: time the grid path at each")
    args = ap.parse_args()
    enc = load(args.model)
    res = args.resolution
    lons = -180 + (np.arange(round(360 / res)) + 0.5) * res
    all_lats = 90 - (np.arange(round(180 / res)) + 0.5) * res
    lats = all_lats[np.linspace(0, len(all_lats) - 1, args.rows).round().astype(int)]
    if args.blocks:
        blocks = [int(b) for b in args.blocks.split(",")]
        fastest = dict.fromkeys(blocks, float("inf"))
        for _ in range(args.rounds):
            for block in blocks:
                _grid.PIXELS_PER_BLOCK = block
                t0 = time.perf_counter()
                enc.embed_grid(lons, lats)
                fastest[block] = min(fastest[block], time.perf_counter() - t0)
        print(f"{args.model}, {len(lons)} columns x {len(lats)} rows; grid path, pixels/s by block size")
        print("| pixels per block | pixels/s |\n| --- | --- |")
        for block, seconds in fastest.items():
            print(f"| {block:,} | {len(lons) * len(lats) / seconds:,.0f} |")
        return
    lon_g, lat_g = np.meshgrid(lons, lats)
    points = np.stack([lon_g.ravel(), lat_g.ravel()], axis=1)

    best = {"points": float("inf"), "grid": float("inf")}
    out: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        out["points"] = enc.embed_array(points).reshape(len(lats), len(lons), -1)
        best["points"] = min(best["points"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        out["grid"] = enc.embed_grid(lons, lats)
        best["grid"] = min(best["grid"], time.perf_counter() - t0)
    diff = np.abs(out["grid"] - out["points"])
    scale = np.abs(out["points"]).max()
    world = len(lons) * len(all_lats)
    print(
        f"{args.model}, {res}° world grid ({len(lons)} x {len(all_lats)}), {args.rows} rows = "
        f"{points.shape[0]:,} pixels; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print("| path | pixels/s | world raster (extrapolated) | speed-up |")
    print("| --- | --- | --- | --- |")
    for name in ("points", "grid"):
        rate = points.shape[0] / best[name]
        print(f"| {name} | {rate:,.0f} | {world / rate / 60:.1f} min | {best['points'] / best[name]:.2f}x |")
    print(f"max |grid - points| = {diff.max():.2e} ({diff.max() / scale:.2e} of the largest value)")


if __name__ == "__main__":
    main()
