"""Embedding speed against a peer: satclip's shipped models and GeoCLIP's location encoder on CPU.

    .venv/bin/python bench/bench_peers.py --points 200000 --rounds 5
    .venv/bin/python bench/bench_peers.py --points 200000 --rounds 10 --satclip-only  # our models alone

Both are used as their users would: ``satclip.load(name).embed_array(lonlat)``, and GeoCLIP's
``LocationEncoder()`` in eval mode under ``torch.inference_mode`` on (lat, lon) tensors in
batches of 8 192 (as ``satclip evaluate`` runs it; one call on every point is also timed). All
variants run in one process, in interleaved rounds that each start one variant later, and the
fastest round counts: this virtual machine's speed drifts by tens of percent from one process
to the next, so only ratios within a run mean anything. Needs the ``geoclip`` extra.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
import torch

import satclip
from _common import fmt, table
from satclip.pretrained import RECOMMENDED

GEOCLIP_BATCH = 8192


def sphere_points(n: int, seed: int = 0) -> np.ndarray:
    """(n, 2) float64 lon/lat degrees, uniform on the sphere."""
    u = np.random.default_rng(seed).random((n, 2))
    return np.stack([360 * u[:, 0] - 180, np.degrees(np.arcsin(2 * u[:, 1] - 1))], axis=1)


def satclip_variant(name: str) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    enc = satclip.load(name)
    return enc.embed_array, enc.dim


def geoclip_variant(batch: int | None) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from geoclip import LocationEncoder

    model = LocationEncoder().eval()

    def embed(lonlat: np.ndarray) -> np.ndarray:
        latlon = torch.from_numpy(np.ascontiguousarray(lonlat[:, ::-1], dtype=np.float32))
        with torch.inference_mode():
            if batch is None:
                return model(latlon).numpy()
            return torch.cat([model(b) for b in latlon.split(batch)]).numpy()

    return embed, 512


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--satclip-only", action="store_true", help="only satclip's models, ratios to the recommended one"
    )
    args = ap.parse_args()
    lonlat = sphere_points(args.points)
    variants = {
        f"satclip {RECOMMENDED}": satclip_variant(RECOMMENDED),
        # The model recommended before it, of the same shape: a new recommendation keeps the speed.
        "satclip satclip-bluemarble-viirs-l40-v3": satclip_variant("satclip-bluemarble-viirs-l40-v3"),
        "satclip satclip-bluemarble-l10": satclip_variant("satclip-bluemarble-l10"),
    }
    if not args.satclip_only:
        variants[f"GeoCLIP, batches of {GEOCLIP_BATCH}"] = geoclip_variant(GEOCLIP_BATCH)
        variants["GeoCLIP, one call"] = geoclip_variant(None)
    for fn, _ in variants.values():
        fn(lonlat[:4096])  # first-call costs (threads, allocator) stay out of the numbers
    best = dict.fromkeys(variants, math.inf)
    order = list(variants)
    for r in range(args.rounds):
        for name in order[r % len(order) :] + order[: r % len(order)]:
            t0 = time.perf_counter()
            variants[name][0](lonlat)
            best[name] = min(best[name], time.perf_counter() - t0)
    base_name = f"satclip {RECOMMENDED}" if args.satclip_only else f"GeoCLIP, batches of {GEOCLIP_BATCH}"
    base = best[base_name]
    rows = [
        [name, str(dim), f"{best[name]:.2f}", fmt(args.points / best[name]), f"{base / best[name]:.2f}x"]
        for name, (_, dim) in variants.items()
    ]
    print(f"{args.points:,} points, {torch.get_num_threads()} threads, fastest of {args.rounds} rounds")
    print(table(["encoder", "dim", "seconds", "points/s", f"speed vs {base_name}"], rows))


if __name__ == "__main__":
    main()
