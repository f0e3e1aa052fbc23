"""torch vs onnxruntime: ``embed_array`` throughput of a bundled model, side by side.

    .venv/bin/python bench/bench_onnx.py --points 200000 [--model satclip-bluemarble-l40] [--json out.json]

The model is exported once (timed, with a 10k-point parity check), then every variant runs in a
fresh interpreter on the same points: torch's ``LocationEncoder.embed_array`` at its default batch
and ``OnnxEncoder.embed_array`` at several batch sizes (its default first). Ratios are rows/s over
torch's rows/s.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import satclip
from _common import child, fmt, table
from satclip.onnx_export import export_onnx
from satclip.onnx_runtime import OnnxEncoder

TORCH_BATCH = 4096  # LocationEncoder.embed's default


def sphere_points(n: int, seed: int) -> np.ndarray:
    """(n, 2) float64 lon/lat degrees, uniform on the sphere."""
    u = np.random.default_rng(seed).random((n, 2))
    return np.stack([360 * u[:, 0] - 180, np.degrees(np.arcsin(2 * u[:, 1] - 1))], axis=1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def export_and_check(args: argparse.Namespace) -> dict[str, Any]:
    """Export to ``args.onnx`` (timed) and measure parity on 10k points; in a child process too,
    since a child inherits its parent's peak RSS and the export's would hide the variants' peaks."""
    enc = satclip.load(args.model)
    t0 = time.perf_counter()
    path = export_onnx(enc, args.onnx)
    export_s = time.perf_counter() - t0
    onnx_enc = OnnxEncoder(path)
    check = sphere_points(10_000, args.seed + 1)
    max_diff = float(np.abs(onnx_enc.embed_array(check) - enc.embed_array(check)).max())
    size_mb = path.stat().st_size / 2**20
    return {
        "export_s": export_s,
        "max_diff": max_diff,
        "size_mb": size_mb,
        "default_batch": onnx_enc.default_batch_size,
    }


def run_one(backend: str, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    if backend == "export":
        return export_and_check(args)
    lonlat = sphere_points(args.points, args.seed)
    if backend == "torch":
        enc: Any = satclip.load(args.model)
        threads = torch.get_num_threads()
    else:
        enc = OnnxEncoder(args.onnx)
        threads = enc._session.get_session_options().intra_op_num_threads
    enc.embed_array(lonlat[:4096], batch_size=batch)  # first-call costs stay out of the timing
    base = peak_rss_mb()
    best, runs, peak, start = math.inf, 0, 0.0, time.perf_counter()
    while runs < args.repeats or time.perf_counter() - start < args.min_seconds:
        t0 = time.perf_counter()
        enc.embed_array(lonlat, batch_size=batch)
        best, runs = min(best, time.perf_counter() - t0), runs + 1
        if runs == 1:  # memory from the first run only
            peak = peak_rss_mb() - base
    return {"points": args.points, "seconds": best, "runs": runs, "peak_mb": peak, "threads": threads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="satclip-bluemarble-l40", help="a bundled name or a model file")
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--ort-batches", default="default,1024,4096,8192", help="onnxruntime batch sizes")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per variant at least; fastest counts")
    ap.add_argument("--min-seconds", type=float, default=0.0, help="keep repeating until this much time")
    ap.add_argument("--rounds", type=int, default=2, help="fresh processes per variant, interleaved")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--onnx", help=argparse.SUPPRESS)  # internal: the exported file, for the children
    ap.add_argument("--one", nargs=2, metavar=("BACKEND", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args)))
        return

    tmp = tempfile.TemporaryDirectory()
    sys.argv += ["--onnx", str(Path(tmp.name) / "model.onnx")]  # child() passes our argv on
    exp = child(__file__, "export", "0")
    if "error" in exp:
        raise SystemExit(f"export failed: {exp['error']}")
    ort_batches = [exp["default_batch"] if b == "default" else int(b) for b in args.ort_batches.split(",")]
    variants = [("torch", TORCH_BATCH)] + [("onnxruntime", b) for b in dict.fromkeys(ort_batches)]
    import onnxruntime

    print(f"{args.model}: torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, ", end="")
    print(f"N={args.points:,}, fastest of >= {args.repeats} runs, each variant in a fresh process")
    print(f"export {exp['export_s']:.1f} s, {exp['size_mb']:.1f} MB; ", end="")
    print(f"max |onnx - torch| over 10k points: {exp['max_diff']:.2e}\n")
    # Rounds interleave the variants, so a neighbour's load on a shared machine hits them alike.
    res: dict[str, dict[str, Any]] = {}
    for _ in range(args.rounds):
        for b, n in variants:
            r, key = child(__file__, b, str(n)), f"{b}@{n}"
            if key not in res or ("error" not in r and r["seconds"] < res[key].get("seconds", math.inf)):
                res[key] = r
    torch_rate = None
    if "error" not in res[f"torch@{TORCH_BATCH}"]:
        r = res[f"torch@{TORCH_BATCH}"]
        torch_rate = r["points"] / r["seconds"]
    rows = []
    for (backend, batch), r in zip(variants, res.values(), strict=True):
        if "error" in r:
            rows.append([backend, str(batch), "failed: " + r["error"][:100], "", "", "", ""])
            continue
        rate = r["points"] / r["seconds"]
        ratio = f"{rate / torch_rate:.2f}x" if torch_rate else "-"
        rows.append(
            [backend, f"{batch:,}", str(r["threads"]), fmt(r["seconds"]), fmt(rate), ratio, fmt(r["peak_mb"])]
        )
    print(table(["backend", "batch", "threads", "s", "rows/s", "vs torch", "peak extra MB"], rows))
    print(
        f"\ntorch: LocationEncoder.embed_array at batch {TORCH_BATCH:,}. onnxruntime: OnnxEncoder.embed_array"
    )
    print("(CPUExecutionProvider). Both take float64 (N, 2), validate, wrap and return float32 (N, 256).")
    print(
        f"Fastest of {args.rounds} interleaved rounds; peak extra MB: RSS growth in its process's first run."
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "export": exp, "results": res}, f, indent=1)
    tmp.cleanup()


if __name__ == "__main__":
    main()
