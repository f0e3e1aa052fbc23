"""Two source trees of satclip side by side: embed, grid and raster rates, as ratios.

Each round runs one fresh interpreter per tree, alternating, so that both see the same machine
noise; each measurement is the best of ``--repeats``. Use it to show that a refactor changes no
speed, e.g. against a worktree of the previous release:

    git worktree add /tmp/base v0.1.0
    python bench/bench_versions.py --base /tmp/base/src --new src --rounds 3

Prints one line per measurement: the base's and the new tree's best time and new/base speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

# Runs inside the child: only public API that both versions share, called positionally.
CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
import numpy as np
import satclip
from satclip.raster import embedding_raster

model, points, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
enc = satclip.load(model)
rng = np.random.default_rng(0)
pts = np.stack([rng.uniform(-180, 180, points), np.degrees(np.arcsin(rng.uniform(-1, 1, points)))], axis=1)
lons, lats = np.arange(-179.75, 180, 0.5), np.arange(89.75, -90, -0.5)

def best(fn):
    fn()  # warm-up: allocations, numba compilation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)

with tempfile.TemporaryDirectory() as d:
    out = {
        "embed": best(lambda: enc.embed_array(pts)),
        "grid": best(lambda: enc.embed_grid(lons, lats)),
        "raster": best(lambda: embedding_raster(enc, (5.0, 45.0, 15.0, 55.0), 0.05, Path(d) / "r.tif", progress=False)),
    }
print("RESULT " + json.dumps(out))
"""


def run(src: str, model: str, points: int, repeats: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, model, str(points), str(repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the base tree's src folder")
    ap.add_argument("--new", default="src", help="the new tree's src folder")
    ap.add_argument("--model", default="satclip-bluemarble-viirs-l40-v2")
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    best: dict[str, dict[str, float]] = {"base": {}, "new": {}}
    for r in range(args.rounds):
        for name, src in (("base", args.base), ("new", args.new))[:: 1 if r % 2 == 0 else -1]:
            for key, seconds in run(src, args.model, args.points, args.repeats).items():
                best[name][key] = min(seconds, best[name].get(key, float("inf")))
    print(f"{args.model}, {args.points:,} points, best of {args.rounds} rounds x {args.repeats}")
    for key in best["base"]:
        b, n = best["base"][key], best["new"][key]
        print(f"{key:7s} base {b:7.3f} s  new {n:7.3f} s  new/base speed {b / n:.3f}x")


if __name__ == "__main__":
    main()
