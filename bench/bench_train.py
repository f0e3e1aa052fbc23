"""Training throughput (samples/s) and peak memory of a preset on this machine.

Runs the preset twice in fresh processes, for --short and --long optimiser steps, and reports
the difference: set-up, data loading start and validation cancel out. Usage:

    python bench/bench_train.py --config bluemarble-quick --root data/bluemarble [overrides ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def one(config: str, steps: int, overrides: list[str]) -> dict[str, float]:
    from satclip.training.config import load_config
    from satclip.training.run import train

    cfg = load_config(config, [*overrides, f"max_steps={steps}", "val_every_n_epochs=1000"])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train(cfg, tmp, progress=False)
        seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "batch": cfg.data.batch_size,
        "peak_mb": peak,
        "worker_peak_mb": peak_children,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="bluemarble-quick")
    ap.add_argument("--root", required=True, help="a built Blue Marble dataset")
    ap.add_argument("--short", type=int, default=10)
    ap.add_argument("--long", type=int, default=60)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args, overrides = ap.parse_known_args()
    overrides = [f"data.root={args.root}", *overrides]
    if args.one:
        print(json.dumps(one(args.config, args.one, overrides)))
        return
    res = {}
    for steps in (args.short, args.long):
        cmd = [sys.executable, __file__, "--config", args.config, "--root", args.root, "--one", str(steps)]
        out = subprocess.run([*cmd, *overrides[1:]], capture_output=True, text=True, check=True).stdout
        res[steps] = json.loads(out.strip().splitlines()[-1])
    dt = res[args.long]["seconds"] - res[args.short]["seconds"]
    rate = (args.long - args.short) * res[args.long]["batch"] / dt
    print("| preset | steps timed | batch | samples/s | peak RSS main MB | peak RSS worker MB |")
    print("|---|---|---|---|---|---|")
    r = res[args.long]
    print(
        f"| {args.config} | {args.long - args.short} | {r['batch']} | {rate:,.0f} | {r['peak_mb']:,.0f} | {r['worker_peak_mb']:,.0f} |"
    )


if __name__ == "__main__":
    main()
