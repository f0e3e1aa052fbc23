"""Lower precision for inference, measured before it is built (issue 35): accuracy and matmul speed.

    .venv/bin/python bench/bench_precision.py [--points 100000] [--models NAME ...]

Accuracy: each shipped model's network run with its matmul operands rounded to bfloat16 (the
harmonics, the sines and their arguments, the accumulations and the biases in float32), in
three places: the first layer only (at L=40 ~75 % of the network's multiply-adds), every
layer, and every layer with its output rounded too (what a plain bf16 matmul returns). Cosine
to the float32 embedding, mean and worst, over area-uniform points on the sphere. The rounding
is emulated in float32, so these numbers hold on any CPU.

Speed: the first layer's shape at L=40 (1 024 × 1 600 by 1 600 × 256, one ``embed`` batch) in
float32 and in bfloat16 through ``torch.nn.functional.linear``, on one thread (as ``embed``
runs each batch) and on all, fastest of 20 calls; with the CPU's bf16 / AMX flags from
/proc/cpuinfo, since the answer depends on them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import satclip
from _common import table
from bench_peers import sphere_points


def emulated(
    model: satclip.LocationEncoder, lonlat: torch.Tensor, rounded: set[int], out_bf16: bool
) -> torch.Tensor:
    """The network with the operands of the layers in ``rounded`` cast to bf16 and back."""
    x = model.encoding.encode(lonlat.float())
    net = model.network
    for i, layer in enumerate([*net.layers, net.last_layer]):
        w = layer.weight.float()
        if i in rounded:
            y = x.bfloat16().float() @ w.bfloat16().float().T + layer.bias.float()
            if out_bf16:
                y = y.bfloat16().float()
        else:
            y = x @ w.T + layer.bias.float()
        x = layer.activate(y)
    return x


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = set(next((ln for ln in text.splitlines() if ln.startswith("flags")), "").split())
    wanted = ["avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8"]
    return ", ".join(f for f in wanted if f in flags) or "none of avx2/avx512/amx"


def gflops(fn, flop: float) -> float:
    fn()
    best = min(_timed(fn) for _ in range(20))
    return flop / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument(
        "--models", nargs="+", default=["satclip-bluemarble-viirs-l40-v3", "satclip-bluemarble-l10"]
    )
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    lonlat = torch.from_numpy(sphere_points(args.points))
    rows = []
    for name in args.models:
        model = satclip.load(name).eval()
        ref = torch.from_numpy(model.embed_array(lonlat.numpy())).double()
        for label, rounded, out_bf16 in [
            ("first layer, float32 out", {0}, False),
            ("first layer, bf16 out", {0}, True),
            ("every layer, float32 out", {0, 1, 2}, False),
            ("every layer, bf16 out", {0, 1, 2}, True),
        ]:
            cos = F.cosine_similarity(emulated(model, lonlat, rounded, out_bf16).double(), ref, dim=1)
            rows.append([name, label, f"{cos.mean():.6f}", f"{cos.min():.6f}"])
    print(f"{args.points:,} points uniform on the sphere; bf16 operands emulated in float32\n")
    print(table(["model", "bf16 matmul operands in", "cosine mean", "cosine worst"], rows))

    x, w, b = torch.randn(1024, 1600), torch.randn(256, 1600), torch.randn(256)
    xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
    flop = 2 * 1024 * 1600 * 256
    speed = []
    before = torch.get_num_threads()
    for threads in sorted({1, before}):
        torch.set_num_threads(threads)
        f32 = gflops(lambda: F.linear(x, w, b), flop)
        bf16 = gflops(lambda: F.linear(xb, wb, bb), flop)
        speed.append([str(threads), f"{f32:.0f}", f"{bf16:.0f}", f"{bf16 / f32:.2f}x"])
    torch.set_num_threads(before)
    print(f"\nfirst layer at L=40, torch {torch.__version__}; CPU flags: {cpu_flags()}\n")
    print(table(["threads", "float32 GFLOP/s", "bfloat16 GFLOP/s", "bf16 / f32"], speed))


if __name__ == "__main__":
    main()
