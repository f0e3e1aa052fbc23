"""The GLOBE land mask: made from its compressed source vs mapped from the packed-bits file.

    .venv/bin/python bench/bench_landmask.py [--rounds 3] [--points 1000000]

Each variant runs in a fresh interpreter (``land_mask()`` is cached per process), alternated
over the rounds: "source" deletes the packed file first, so ``land_mask()`` decompresses the
source, packs it and writes the file again; "packed" maps that file. Both then look up
``--points`` random points. Times in seconds; the page cache is warm after the first round, as
on a user's machine between two commands.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from _common import child, table


def one(variant: str, points: int) -> dict[str, float]:
    from satclip.geography import land_mask
    from satclip.sources import fetch

    if variant == "source":
        for p in fetch("landmask").parent.glob("landmask-*.bits.npy"):
            p.unlink()
    t0 = time.perf_counter()
    mask = land_mask()
    t1 = time.perf_counter()
    rng = np.random.default_rng(0)
    land = mask(rng.uniform(-180, 180, points), rng.uniform(-90, 90, points))
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "lookup_s": t2 - t1, "land_share": float(land.mean())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--one", nargs=1)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.points)))
        return
    runs: dict[str, list[dict[str, float]]] = {"source": [], "packed": []}
    for _ in range(args.rounds):
        for variant in runs:
            runs[variant].append(child(__file__, variant))
    best = {v: min(r, key=lambda x: x["load_s"]) for v, r in runs.items()}
    rows = [
        [
            v,
            f"{b['load_s']:.3f}",
            f"{b['lookup_s']:.3f}",
            f"{best['source']['load_s'] / b['load_s']:.0f}x",
            f"{b['land_share']:.3f}",
        ]
        for v, b in best.items()
    ]
    print(
        table(["variant", "land_mask() s", f"{args.points:,} lookups s", "load speed-up", "land share"], rows)
    )


if __name__ == "__main__":
    main()
