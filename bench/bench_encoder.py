"""The L=40 SatCLIP-shaped encoder (SH features + 2-layer SIREN, float32) against its matmul-bound limit.

    .venv/bin/python bench/bench_encoder.py --points 20000 [--json out.json]

Times come from one process that runs the variants in interleaved rounds, each round starting
one variant later than the one before (so that over 7 rounds each variant follows every other),
fastest round per variant: on this virtual machine the same code runs up to 30 % faster or slower
from one process to the next, so ratios are only meaningful within a process. Peak memory comes from one fresh process per variant: peak RSS is a
process-wide high-water mark, so variants sharing a process would hide each other's peaks.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

import satclip
from _common import child, fmt, table
from satclip._threads import each_on_cores
from satclip.encoder import EMBED_BATCH
from satclip.encodings import spherical_harmonics

L, DIM_OUT = 40, 256


def layer_shapes(hidden: int) -> list[tuple[int, int]]:
    return [(L * L, hidden), (hidden, hidden), (hidden, DIM_OUT)]


def flop_per_point(hidden: int) -> int:
    return sum(2 * i * o for i, o in layer_shapes(hidden))


VARIANTS = (
    "encoder",
    "encoder-in-turn",
    "sh-only",
    "network-only",
    "matmul-limit",
    "matmul-limit-per-core",
    "matmul-limit-into-result",
)
LIMITS = ("matmul-limit", "matmul-limit-per-core")


def sphere_points(n: int, seed: int) -> np.ndarray:
    """(n, 2) float64 lon/lat degrees, uniform on the sphere."""
    u = np.random.default_rng(seed).random((n, 2))
    return np.stack([360 * u[:, 0] - 180, np.degrees(np.arcsin(2 * u[:, 1] - 1))], axis=1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def batches(n: int, batch: int) -> list[int]:
    """Row counts of the batches ``embed_array`` processes, the last one partial."""
    return [min(batch, n - i) for i in range(0, n, batch)]


def make_variant(variant: str, batch: int, hidden: int) -> Callable[[np.ndarray], None]:
    torch.manual_seed(0)
    if variant in ("encoder", "encoder-in-turn"):
        sh = satclip.create_encoding("sphericalharmonics", legendre_polys=L)
        net = satclip.create_network("siren", dim_in=sh.dim, dim_out=DIM_OUT, dim_hidden=hidden, num_layers=2)
        enc = satclip.LocationEncoder(sh, net)
        if variant == "encoder-in-turn":
            # embed before batches ran one per core: one batch at a time, each op on every core.
            enc._batch_threads = lambda: 1  # type: ignore[method-assign]
        return lambda lonlat: enc.embed_array(lonlat, batch_size=batch)

    if variant == "sh-only":

        def sh_only(lonlat: np.ndarray) -> None:
            # The encoder's own path: float32 coordinates in, float32 features out, batch by batch,
            # into one reused features buffer in the encoding's own layout.
            sh = satclip.create_encoding("sphericalharmonics", legendre_polys=L)
            features = sh._features_buffer(batch, torch.float32, torch.device("cpu"))
            for i in range(0, lonlat.shape[0], batch):
                ll = torch.from_numpy(lonlat[i : i + batch]).float()
                spherical_harmonics(ll, L, "satclip", out=features[: ll.shape[0]])

        return sh_only

    # The two network variants read one random feature batch over and over: features cost nothing
    # here, so what is left is the network (and, for the limit, its three matmuls alone).
    x = torch.randn(batch, L * L)
    if variant == "network-only":
        net = satclip.create_network("siren", dim_in=L * L, dim_out=DIM_OUT, dim_hidden=hidden, num_layers=2)
        net.eval()

        @torch.inference_mode()
        def network_only(lonlat: np.ndarray) -> None:
            for b in batches(lonlat.shape[0], batch):
                net(x[:b])

        return network_only

    w0, w1, w2 = (torch.randn(o, i) / math.sqrt(i) for i, o in layer_shapes(hidden))

    def limit_ops(b: int, out: torch.Tensor | None = None) -> None:
        torch.matmul(torch.sin(torch.sin(x[:b] @ w0.T) @ w1.T), w2.T, out=out)

    @torch.no_grad()
    def matmul_limit(lonlat: np.ndarray) -> None:
        for b in batches(lonlat.shape[0], batch):
            limit_ops(b)

    if variant == "matmul-limit":
        return matmul_limit

    # The same ops with whole batches side by side, one thread (and core) each, through the
    # helper embed uses: whichever limit is faster on the machine is the bound. "into-result"
    # writes the last matmul into a fresh (N, 256) float32 array, as embed must return one.
    into_result = variant == "matmul-limit-into-result"

    def matmul_limit_per_core(lonlat: np.ndarray) -> None:
        n = lonlat.shape[0]
        result = torch.from_numpy(np.empty((n, DIM_OUT), dtype=np.float32)) if into_result else None

        @contextmanager
        def worker() -> Iterator[Callable[[int], None]]:
            with torch.no_grad():

                def apply(i: int) -> None:
                    b = min(batch, n - i)
                    limit_ops(b, None if result is None else result[i : i + b])

                yield apply

        each_on_cores(range(0, n, batch), worker, torch.get_num_threads())

    return matmul_limit_per_core


def run_memory(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    """Extra peak RSS of one full run of ``variant`` in this (fresh) process."""
    lonlat = sphere_points(args.points, args.seed)
    fn = make_variant(variant, args.batch, args.hidden)
    fn(lonlat[:4096])  # first-call costs (OpenMP threads, allocator) stay out of the numbers
    base = peak_rss_mb()
    fn(lonlat)
    return {"peak_mb": peak_rss_mb() - base}


def run_timing(args: argparse.Namespace) -> dict[str, Any]:
    """Fastest of interleaved rounds for every variant, all in this one process."""
    lonlat = sphere_points(args.points, args.seed)
    fns = {v: make_variant(v, args.batch, args.hidden) for v in VARIANTS}
    for fn in fns.values():
        fn(lonlat[:4096])
    best = dict.fromkeys(VARIANTS, math.inf)
    order = list(VARIANTS)
    for r in range(args.repeats):
        # Each round starts one variant later: a variant's time depends on what ran before it
        # (a variant that allocates its result right after one that freed none pays the VM for
        # fresh pages; see BENCHMARKS.md), so over len(VARIANTS) rounds each follows every other.
        for v in order[r % len(order) :] + order[: r % len(order)]:
            t0 = time.perf_counter()
            fns[v](lonlat)
            best[v] = min(best[v], time.perf_counter() - t0)
    return {"points": args.points, "seconds": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=EMBED_BATCH, help="rows per batch (embed's default)")
    ap.add_argument(
        "--repeats", type=int, default=len(VARIANTS), help="interleaved rounds; the fastest counts"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--hidden", type=int, default=512, help="SIREN width: 512 published, 256 the recommended model"
    )
    ap.add_argument("--json", help="also write the results here")
    # internal: "timing", or a variant name for its memory
    ap.add_argument("--one", choices=("timing", *VARIANTS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one == "timing":
        print(json.dumps(run_timing(args)))
        return
    if args.one:
        print(json.dumps(run_memory(args.one, args)))
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, N={args.points:,}, ", end="")
    print(f"batch {args.batch:,}, fastest of {args.repeats} interleaved rounds in one process; memory")
    print("from one fresh process per variant\n")
    timing = child(__file__, "timing")
    if "error" in timing:
        raise SystemExit(f"timing run failed: {timing['error']}")
    res: dict[str, dict[str, Any]] = {}
    for v in VARIANTS:
        mem = child(__file__, v)
        res[v] = {"points": timing["points"], "seconds": timing["seconds"][v], **mem}
    ok = {v: r for v, r in res.items() if "error" not in r}
    rate = {v: r["points"] / r["seconds"] for v, r in ok.items()}
    out_mb = args.points * DIM_OUT * 4 / 2**20
    header = ["variant", "points", "s", "points/s", "GFLOP/s (3 matmuls)", "peak extra MB"]
    header += ["peak / embedding bytes", "% of matmul limit", "share of encoder time"]
    rows = []
    for v, r in res.items():
        if "error" in r:
            rows.append([v, "failed: " + r["error"][:100], *[""] * 7])
            continue
        gflops = fmt(rate[v] * flop_per_point(args.hidden) / 1e9) if v != "sh-only" else "-"
        bound = max((rate[k] for k in LIMITS if k in rate), default=None)
        limit = f"{100 * rate[v] / bound:.0f}%" if bound else "-"
        share = f"{100 * r['seconds'] / ok['encoder']['seconds']:.0f}%" if "encoder" in ok else "-"
        rows.append([v, f"{r['points']:,}", fmt(r["seconds"]), fmt(rate[v]), gflops, fmt(r["peak_mb"])])
        rows[-1] += [fmt(r["peak_mb"] / out_mb), limit, share]
    print(table(header, rows))
    print(
        f"\nencoder: LocationEncoder(sphericalharmonics L={L}, siren {L * L}-{args.hidden}-{args.hidden}-",
        end="",
    )
    print(f"{DIM_OUT}).embed_array on float64 (N, 2) input, float32 (N, {DIM_OUT}) output.")
    print("encoder-in-turn: the same, one batch at a time with every op split over the cores (before).")
    print("sh-only: the L=40 features alone, batch by batch, float32 in and out (the encoder's path).")
    print("network-only: the SIREN on a fixed random feature batch (its biases and w0 scaling included).")
    print("matmul-limit: x @ W0.T, sin, @ W1.T, sin, @ W2.T in float32 under no_grad, same batches.")
    print("matmul-limit-per-core: the same, whole batches side by side on one thread each.")
    print("matmul-limit-into-result: the per-core limit writing into a fresh (N, 256) result, as embed must.")
    print("% of matmul limit: against the faster of the two limits.")
    print(f"peak / embedding bytes: extra peak RSS over the {fmt(out_mb)} MB (N, {DIM_OUT}) float32 result.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"args": vars(args), "flop_per_point": flop_per_point(args.hidden), "results": res},
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
