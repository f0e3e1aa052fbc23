"""What the month input costs: a seasonal model against the static model of the same shape.

    .venv/bin/python bench/bench_seasonal.py [--seasonal NAME_OR_FILE] [--static NAME_OR_FILE]
                                             [--points 100000] [--rounds 5]

Points per second of ``embed`` over area-uniform points, in one process, the cases interleaved
round by round and the best round kept (the machine is shared and noisy): the static model; the
seasonal model without a time (its annual embedding), with one month for all points, and with
a month per point; and ``embed_grid`` of a 0.5° world grid, static and at one month. Ratios are
to the static model (issue 32's bar: a month costs at most 1.2x).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import satclip
from _common import table
from bench_peers import sphere_points
from satclip.pretrained import RECOMMENDED, SEASONAL


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seasonal", default=SEASONAL)
    p.add_argument("--static", default=RECOMMENDED)
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    seasonal, static = satclip.load(args.seasonal), satclip.load(args.static)
    if not seasonal.seasonal or static.seasonal:
        raise SystemExit("--seasonal must name a seasonal model and --static a static one")
    pts = sphere_points(args.points)
    months = np.random.default_rng(0).integers(1, 13, args.points)
    lons, lats = np.arange(-179.75, 180, 0.5), np.arange(89.75, -90, -0.5)
    cases = {
        "static": lambda: static.embed_array(pts),
        "seasonal, no month (annual)": lambda: seasonal.embed_array(pts),
        "seasonal, one month": lambda: seasonal.embed_array(pts, month=7),
        "seasonal, a month per point": lambda: seasonal.embed_array(pts, month=months),
        "grid 0.5°, static": lambda: static.embed_grid(lons, lats),
        "grid 0.5°, seasonal at one month": lambda: seasonal.embed_grid(lons, lats, month=7),
    }
    sizes = {name: len(lons) * len(lats) if name.startswith("grid") else args.points for name in cases}
    best = dict.fromkeys(cases, float("inf"))
    for fn in cases.values():  # warm-up: first-call set-up is not the rate
        fn()
    for _ in range(args.rounds):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    rows = []
    for name in cases:
        ref = "grid 0.5°, static" if name.startswith("grid") else "static"
        rate = sizes[name] / best[name]
        rows.append([name, f"{rate:,.0f}", f"{best[name] / best[ref]:.2f}x"])
    print(f"{args.seasonal} vs {args.static}, {args.points:,} points, best of {args.rounds} rounds\n")
    print(table(["case", "points/s", "time vs static"], rows))


if __name__ == "__main__":
    main()
