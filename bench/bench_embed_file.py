"""`satclip embed` on a large CSV → Parquet with the L=40 model: rows/s and peak memory, torch
against onnxruntime, side by side in one run.

    .venv/bin/python bench/bench_embed_file.py --rows 10000000 --workdir bench/out/embed [--model NAME]

The CSV (uniform points on the sphere) is written once into ``--workdir`` and reused. Each
backend runs in a fresh process (peak RSS is per process) through the same code path as the
command line, writing the same Parquet layout; the output is deleted after each run, so the
disk needs room for one output (rows x 1 KiB) plus its chunk parts. Each process then also
times ``embed_array`` on the first million points in memory, so the file path's cost over the
encoder alone shows in the same process.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from _common import child, fmt, table
from satclip.pretrained import RECOMMENDED

BACKENDS = ("torch", "onnx")
IN_MEMORY_ROWS = 1_000_000


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if path.exists():
        return
    tmp = path.with_name(path.name + ".tmp")
    rng = np.random.default_rng(seed)
    with pacsv.CSVWriter(
        tmp, pa.schema([("id", pa.int64()), ("lon", pa.float64()), ("lat", pa.float64())])
    ) as w:
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            u = rng.random((n, 2))
            lon = np.round(360 * u[:, 0] - 180, 6)
            lat = np.round(np.degrees(np.arcsin(2 * u[:, 1] - 1)), 6)
            w.write_table(pa.table({"id": np.arange(start, start + n), "lon": lon, "lat": lat}))
    tmp.rename(path)


def run_one(backend: str, model: str, src: Path, out: Path, chunk_rows: int) -> dict[str, float]:
    import pyarrow.csv as pacsv

    from satclip.cli.use import _load_model
    from satclip.io import embed_file

    enc = _load_model(model, backend)
    t0 = time.perf_counter()
    rows = embed_file(enc, src, out, chunk_rows=chunk_rows, progress=False)
    seconds = time.perf_counter() - t0
    size = out.stat().st_size
    out.unlink()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the in-memory run
    table_ = pacsv.read_csv(src).slice(0, IN_MEMORY_ROWS)
    lonlat = np.stack([table_["lon"].to_numpy(), table_["lat"].to_numpy()], axis=1)
    t0 = time.perf_counter()
    enc.embed_array(lonlat)
    in_memory = len(lonlat) / (time.perf_counter() - t0)
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "in_memory_rows_per_s": in_memory,
        "peak_rss_mb": peak,
        "output_gb": size / 1e9,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--workdir", default="bench/out/embed")
    p.add_argument("--chunk-rows", type=int, default=65536)
    p.add_argument("--model", default=RECOMMENDED, help=f"model name or file (default {RECOMMENDED})")
    p.add_argument("--json")
    p.add_argument("--one", nargs=1)
    args = p.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"points-{args.rows}.csv"
    if args.one:
        backend = args.one[0]
        out = work / f"out-{backend}.parquet"
        print(json.dumps(run_one(backend, args.model, src, out, args.chunk_rows)))
        return
    write_csv(src, args.rows)
    results = {b: child(__file__, b) for b in BACKENDS}
    rows = []
    base = results["torch"]
    for b, r in results.items():
        if "error" in r:
            rows.append([b, r["error"], "", "", "", "", ""])
            continue
        rows.append(
            [
                b,
                f"{r['seconds']:.1f}",
                fmt(r["rows_per_s"]),
                f"{r['rows_per_s'] / base['rows_per_s']:.2f}" if "error" not in base else "",
                f"{r['rows_per_s'] / r['in_memory_rows_per_s']:.2f}",
                fmt(r["peak_rss_mb"]),
                f"{r['output_gb']:.2f}",
            ]
        )
    print(
        f"{args.rows:,} rows, {args.model}, CSV -> Parquet (embedding as a fixed-size list), chunks of {args.chunk_rows}"
    )
    header = [
        "backend",
        "seconds",
        "rows/s",
        "speed vs torch",
        "file / in memory",
        "peak RSS MB",
        "output GB",
    ]
    print(table(header, rows))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
