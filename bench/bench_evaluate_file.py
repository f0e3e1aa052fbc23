"""`satclip evaluate --task-file` on a 20 000-row file of real labelled points, with 4 encoders.

    .venv/bin/python bench/bench_evaluate_file.py [--rows 20000] [--models ...] [--splits random,block]

Writes the first ``--rows`` California block groups (lon, lat, log median house value; the
registry's California housing data) as a CSV, runs the command line on it in a fresh process,
and prints its wall time and the report.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from satclip.evaluation.tasks import load_task

MODELS = "satclip-bluemarble-l40,satclip-bluemarble-l10,sh40,geoclip"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--splits", default="random,block")
    args = ap.parse_args()
    task = load_task("cal_housing")
    frame = pd.DataFrame({"lon": task.lonlat[:, 0], "lat": task.lonlat[:, 1], "value": task.y}).iloc[
        : args.rows
    ]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "houses.csv"
        frame.to_csv(path, index=False)
        cmd = [sys.executable, "-m", "satclip.cli", "evaluate", "--task-file", str(path), "--target", "value"]
        cmd += ["--models", args.models, "--splits", args.splits, "-o", str(Path(d) / "out"), "-q"]
        t0 = time.perf_counter()
        report = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        seconds = time.perf_counter() - t0
    print(f"{len(frame):,} rows, models {args.models}, splits {args.splits}: {seconds:.1f} s wall")
    print(report)


if __name__ == "__main__":
    main()
