"""GPU check of the core: spherical harmonics and the L=40 encoder on CUDA.

Correctness (CUDA vs the CPU float64 result) and speed (points/s against the time to write the
output once, and the full encoder against the matmul-bound limit of its layer shapes), side by
side in one run. Usage: python bench/gpu_check.py [--points 1000000]
"""

from __future__ import annotations

import argparse
import time

import torch

import satclip
from satclip.encodings import spherical_harmonics


def _timed(fn, repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up: allocator, kernels
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def _points(n: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    lon = torch.rand(n, generator=g, dtype=torch.float64) * 360 - 180
    lat = torch.rad2deg(torch.asin(torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1))
    return torch.stack([lon, lat], dim=1).to(device=device, dtype=dtype)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.points
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}  points {n}")

    print("\n| check | L | max abs diff CUDA vs CPU (float64) |\n|---|---|---|")
    for L in (10, 40, 100):
        pts = _points(20_000, "cpu", torch.float64)
        cpu = spherical_harmonics(pts, L)
        gpu = spherical_harmonics(pts.cuda(), L).cpu()
        print(f"| harmonics | {L} | {(cpu - gpu).abs().max().item():.2e} |")

    print(
        "\n| harmonics | L | dtype | points/s | s | write-floor s | ratio to floor |\n|---|---|---|---|---|---|---|"
    )
    for L in (10, 40):
        for dtype in (torch.float32, torch.float64):
            pts = _points(n, "cuda", dtype)
            t = _timed(lambda pts=pts, L=L: spherical_harmonics(pts, L))
            floor = _timed(
                lambda L=L, dtype=dtype: torch.empty(n, L * L, dtype=dtype, device="cuda").fill_(1.0)
            )
            name = str(dtype).removeprefix("torch.")
            print(f"| ours | {L} | {name} | {n / t:,.0f} | {t:.4f} | {floor:.4f} | {t / floor:.1f}x |")

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=40)
    net = satclip.create_network("siren", dim_in=sh.dim, dim_out=256, dim_hidden=512, num_layers=2)
    enc = satclip.LocationEncoder(sh, net).cuda().eval()
    pts = _points(n, "cuda", torch.float32)
    batch = 65536
    w = [p.detach() for p in net.parameters()]

    def encoder() -> None:
        with torch.inference_mode():
            for i in range(0, n, batch):
                enc(pts[i : i + batch])

    def matmuls() -> None:
        x = torch.randn(batch, 1600, device="cuda")
        with torch.inference_mode():
            for _ in range(0, n, batch):
                h = torch.sin(30 * torch.addmm(w[1], x, w[0].T))
                h = torch.sin(torch.addmm(w[3], h, w[2].T))
                torch.addmm(w[5], h, w[4].T)

    t_enc, t_mm = _timed(encoder), _timed(matmuls)
    t_embed = _timed(lambda: enc.embed_array(pts.double().cpu().numpy()), repeats=1)
    print("\n| L=40 encoder, float32 | points/s | s |\n|---|---|---|")
    print(f"| forward on GPU tensors | {n / t_enc:,.0f} | {t_enc:.4f} |")
    print(f"| matmul-bound limit (same layers) | {n / t_mm:,.0f} | {t_mm:.4f} |")
    print(f"| embed_array (numpy in/out, host copies) | {n / t_embed:,.0f} | {t_embed:.4f} |")
    print(f"\nencoder / matmul limit: {t_mm / t_enc:.0%}")


if __name__ == "__main__":
    main()
