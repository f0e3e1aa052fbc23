"""Embedding rasters streamed in tiles: pixels/s and peak memory against the whole array's size.

    .venv/bin/python bench/bench_raster.py [--region austria germany | --bbox W S E N] [--json out.json]

Writes a 0.01-degree raster of each region (default: Austria's bbox, 770 x 270 pixels) as a COG and
as a Zarr store, and embeds the same tiles without writing them (the encoder's share). Peak memory
should stay flat from region to region while the full array grows. Every variant runs in a fresh
interpreter: peak RSS is a process-wide high-water mark.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import satclip
from _common import child, fmt, table
from satclip import raster
from satclip.raster import RasterGrid, embedding_raster
from satclip.raster.grid import _windows  # the tiles embedding_raster writes, in its order

VARIANTS = (
    "embed-only",
    "grid-only",
    "cog",
    "cog-strided",
    "cog-in-turn",
    "zarr",
    "zarr-strided",
    "zarr-in-turn",
    "zarr-zstd",
    "zarr-before",
    "zarr-f16",
    "cog-pca3",
)
REGIONS = {  # (W, S, E, N), whole numbers of 0.01-degree pixels
    "switzerland": (5.9, 45.8, 10.5, 47.8),
    "austria": (9.5, 46.3, 17.2, 49.0),
    "germany": (5.9, 47.3, 15.0, 55.0),
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def disk_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def monkeypatch_ahead() -> None:
    raster.ahead = lambda items, depth=1: (item for item in items)  # type: ignore[assignment]


def run_one(variant: str, bbox: tuple[float, ...], args: argparse.Namespace) -> dict[str, Any]:
    enc = satclip.load(args.model)
    grid = RasterGrid.from_bbox(bbox, args.resolution)
    with tempfile.TemporaryDirectory(dir=args.tmp) as d:
        # First-call costs stay out of the numbers: torch's thread pool and allocator, and loading
        # GDAL or zarr (about 100 MB of RSS for GDAL) with a one-pixel raster of the same kind.
        enc.embed_array(np.zeros((4096, 2)))
        if variant.endswith("in-turn") or variant == "zarr-before":
            # The writer waits for each tile and the encoder for each write: as before tiles were
            # embedded ahead of the writer.
            monkeypatch_ahead()
        if variant in ("zarr-zstd", "zarr-before"):
            raster._ZARR_CODEC = None  # zarr's default codec, as before the choice by measurement
        if variant.endswith("-strided") or variant == "zarr-before":
            # Tiles handed to the writer as a strided (bands, pixels) view of the embedding, as
            # before the transpose by slices: zarr gathers each chunk from it.
            raster._bands_first = lambda emb, dtype: emb.T.astype(dtype, copy=False)
        if not variant.endswith("-only"):
            suffix = ".zarr" if variant.startswith("zarr") else ".tif"
            embedding_raster(enc, (0, 0, 1, 1), 1.0, Path(d) / f"warm{suffix}", progress=False)
        base = peak_rss_mb()
        t0 = time.perf_counter()
        if variant == "embed-only":
            # The same tiles through the encoder, nothing written: what the encoder alone costs.
            for r0, r1, c0, c1 in _windows(grid, args.tile):
                lon, lat = np.meshgrid(grid.lons(c0, c1), grid.lats(r0, r1))
                enc.embed_array(np.stack([lon.ravel(), lat.ravel()], axis=1))
            size = 0.0
        elif variant == "grid-only":
            # The same tiles through embed_grid (what embedding_raster calls), nothing written.
            for r0, r1, c0, c1 in _windows(grid, args.tile):
                enc.embed_grid(grid.lons(c0, c1), grid.lats(r0, r1))
            size = 0.0
        else:
            out = Path(d) / ("emb.zarr" if variant.startswith("zarr") else "emb.tif")
            pca = 3 if variant.endswith("pca3") else None
            dtype = "float16" if variant == "zarr-f16" else None
            embedding_raster(
                enc, bbox, args.resolution, out, pca=pca, tile=args.tile, progress=False, dtype=dtype
            )
            size = disk_mb(out)
        seconds = time.perf_counter() - t0
    return {
        "pixels": grid.width * grid.height,
        "shape": [grid.height, grid.width],
        "dim": enc.dim,
        "seconds": seconds,
        "peak_mb": peak_rss_mb() - base,
        "disk_mb": size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="satclip-bluemarble-l40")
    ap.add_argument("--region", nargs="+", choices=REGIONS, default=["austria"])
    ap.add_argument("--bbox", type=float, nargs=4, metavar=("W", "S", "E", "N"), help="instead of --region")
    ap.add_argument("--resolution", type=float, default=0.01)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--tmp", help="directory for the outputs (default: the system's temporary directory)")
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # internal: VARIANT REGION
    args = ap.parse_args()
    regions = {"bbox": tuple(args.bbox)} if args.bbox else {r: REGIONS[r] for r in args.region}
    if args.one:
        print(json.dumps(run_one(args.one[0], regions[args.one[1]], args)))
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.model}, ", end="")
    print(f"{args.resolution}-degree pixels, tile {args.tile}, each variant in a fresh process\n")
    header = ["region", "variant", "H x W", "s", "pixels/s", "peak extra RSS MB", "full array MB"]
    header += ["peak / full array", "output MB"]
    rows, res = [], {}
    for region, bbox in regions.items():
        grid = RasterGrid.from_bbox(bbox, args.resolution)
        for v in args.variants:
            r = res[f"{region}/{v}"] = child(__file__, v, region)
            if "error" in r:
                rows.append([region, v, "failed: " + r["error"][:100], *[""] * 6])
                continue
            full_mb = r["pixels"] * r["dim"] * 4 / 2**20  # the (dim, H, W) float32 array held at once
            rows.append([region, v, f"{grid.height} x {grid.width}", fmt(r["seconds"])])
            rows[-1] += [fmt(r["pixels"] / r["seconds"]), fmt(r["peak_mb"]), fmt(full_mb)]
            rows[-1] += [f"{r['peak_mb'] / full_mb:.2f}", fmt(r["disk_mb"])]
    print(table(header, rows))
    print("\nembed-only: the same tiles through embed_array, nothing kept or written (the encoder's cost).")
    print("grid-only: the same tiles through embed_grid, which embedding_raster uses, nothing written.")
    print("cog / zarr: embedding_raster to .tif (staged GTiff + COG conversion, DEFLATE) and to .zarr;")
    print("  -in-turn: the same with each tile embedded only once the previous one is written;")
    print("  zarr-zstd: with zarr's default codec (zstd) instead of satclip's (Blosc lz4, bit shuffle);")
    print("  -strided: tiles handed over as a strided view, the writer gathering each chunk (before the")
    print("  transpose by slices); zarr-before: all three (the writer as it was before 2026-12-07);")
    print("  zarr-f16: float16 values.")
    print("cog-pca3: the COG with pca=3 (a 50k-pixel fit, then 3 bands).")
    print("peak extra RSS: process high-water mark above the loaded, warmed-up model.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": res}, f, indent=1)


if __name__ == "__main__":
    main()
