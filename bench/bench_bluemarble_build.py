"""Benchmark: build the Blue Marble dataset (default 100 000 patches of 32×32) end to end.

Wall time and peak memory of one `build_bluemarble` call in a fresh process, with the sources
already fetched into the cache (fetching is network-bound and done once). Usage:

    python bench/bench_bluemarble_build.py [--n 100000] [--size 32]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from satclip.data.bluemarble import BlueMarbleConfig, build_bluemarble
from satclip.sources import fetch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    for name in ("bluemarble", "landmask"):
        fetch(name)
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = build_bluemarble(BlueMarbleConfig(n=args.n, size=args.size), Path(tmp) / "bm", progress=False)
        seconds = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("| patches | size | seconds | patches/s | peak RSS MB | before build MB | dataset MB |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {args.n:,} | {args.size} | {seconds:.1f} | {args.n / seconds:,.0f} | {peak_mb:,.0f} | "
        f"{base_mb:,.0f} | {size_mb:,.0f} |"
    )


if __name__ == "__main__":
    main()
