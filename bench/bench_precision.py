"""Lower precision for inference (issue 35): accuracy of every shipped model in each precision,
speed side by side, and the evaluation suite's scores.

    .venv/bin/python bench/bench_precision.py [--points 100000] [--models NAME ...] [--suite]

Built paths (``satclip.load(name, precision="bf16")``, ``export_onnx(..., precision="fp16" |
"int8")``): whether the check kept or refused each, and what the lower precision does all the
same (torch: the first layer in bf16; ONNX: the layers kept, else every product): cosine to the
float32 embedding (mean, worst) over ``--points`` area-uniform points, the median change of the
differences to a partner 10 km away, and points/s against float32 in the same run (torch on all
threads; onnxruntime as ``OnnxEncoder`` runs it). ``--suite`` adds the annual tasks of the
evaluation suite (block split, linear probe) for the first model: each precision's change
against float32, beside float64's and the float32 ONNX graph's (what arithmetic alone moves).

Emulated accuracy (the measurement the bf16 path was designed from): each model's network run with its matmul operands rounded to bfloat16 (the
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
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F

import satclip
from _common import table
from bench_peers import sphere_points
from satclip import _onnx_precision, _precision
from satclip.errors import InputError
from satclip.onnx_export import export_onnx
from satclip.onnx_runtime import OnnxEncoder


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


def rate(embed, points: np.ndarray) -> float:
    """Points/s of ``embed`` on ``points``, the faster of two calls."""
    embed(points[:2048])
    return len(points) / min(_timed(lambda: embed(points)) for _ in range(2))


def measure(
    embed, ref: np.ndarray, points: np.ndarray, partners_ref: np.ndarray, partners: np.ndarray
) -> list[str]:
    """Cosine mean and worst to float32 over ``points``, and the median change of the
    differences to each point's partner 10 km away (satclip._precision.check)."""
    got = embed(points)
    a, b = got.astype(np.float64), ref.astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    local = _precision.check(np.concatenate([got, embed(partners)]), np.concatenate([ref, partners_ref]))
    return [f"{cos.mean():.6f}", f"{cos.min():.6f}", f"{local.local_error:.2%}"]


def partners_of(points: np.ndarray) -> np.ndarray:
    """Each point's partner 10 km away, as the check draws them."""
    step = np.degrees(_precision.LOCAL_KM / 6371.0088)
    bearing = 2.399963229728653 * np.arange(len(points))
    dlon = step * np.sin(bearing) / np.maximum(np.cos(np.radians(points[:, 1])), 1e-3)
    return np.stack(
        [(points[:, 0] + dlon + 180) % 360 - 180, np.clip(points[:, 1] + step * np.cos(bearing), -90, 90)],
        axis=1,
    )


def built_paths(names: list[str], points: np.ndarray, folder: Path) -> list[list[str]]:
    partners = partners_of(points)
    rows = []
    for name in names:
        ref_model = satclip.load(name)
        ref, ref_partners = ref_model.embed_array(points), ref_model.embed_array(partners)
        f32_rate = rate(ref_model.embed_array, points)
        rows.append(
            [name, "float32 (torch)", "-", "1.000000", "1.000000", "0.00%", f"{f32_rate:,.0f}", "1.00x"]
        )
        try:
            satclip.load(name, precision="bf16")
            verdict = "kept"
        except InputError:
            verdict = "refused"
        # What the first layer alone in bf16 (76 % of the multiply-adds at L=40) does, kept or not.
        bf16 = satclip.load(name)
        bf16._use_bf16((0,))
        r = rate(bf16.embed_array, points)
        cells = measure(bf16.embed_array, ref, points, ref_partners, partners)
        rows.append([name, "bf16 (torch)", f"0 ({verdict})", *cells, f"{r:,.0f}", f"{r / f32_rate:.2f}x"])
        f32_path = export_onnx(ref_model, folder / f"{name}.onnx")
        f32_onnx = OnnxEncoder(f32_path)
        onnx_rate = rate(f32_onnx.embed_array, points)
        cells = measure(f32_onnx.embed_array, ref, points, ref_partners, partners)
        rows.append([name, "float32 (ONNX)", "-", *cells, f"{onnx_rate:,.0f}", "1.00x (ONNX)"])
        for precision in ("fp16", "int8"):
            try:
                path = export_onnx(ref_model, folder / f"{name}-{precision}.onnx", precision=precision)
                info = json.loads(
                    {p.key: p.value for p in onnx.load(str(path)).metadata_props}["satclip_precision"]
                )
                layers = ",".join(map(str, info["layers"])) + " (kept)"
            except InputError:
                # Refused: what every product in that precision would give, all the same.
                path = forced_lowering(f32_path, precision, folder / f"{name}-{precision}-forced.onnx")
                layers = "all (refused)"
            low = OnnxEncoder(path)
            r = rate(low.embed_array, points)
            cells = measure(low.embed_array, ref, points, ref_partners, partners)
            rows.append(
                [name, f"{precision} (ONNX)", layers, *cells, f"{r:,.0f}", f"{r / onnx_rate:.2f}x (ONNX)"]
            )
    return rows


def forced_lowering(f32: Path, precision: str, out: Path) -> Path:
    """The float32 export ``f32`` with every product in ``precision``, whatever it costs."""
    model = onnx.load(str(f32))
    inputs = {"lonlat": _precision.check_points()[:8192].astype(np.float32)}
    if len(model.graph.input) > 1:
        inputs["time"] = np.full(8192, np.nan, dtype=np.float32)
    low = _onnx_precision.lowered(model, precision, range(len(_onnx_precision.gemm_names(model))), inputs)
    onnx.helper.set_model_props(low, {p.key: p.value for p in model.metadata_props})
    onnx.save(low, str(out))
    return out


def suite_scores(name: str, folder: Path) -> str:
    """The annual tasks (block split) in float32 and in each lower precision, with float64 and
    the float32 ONNX graph as the floor: what any change of arithmetic alone moves."""
    import copy

    from satclip.evaluation import suite
    from satclip.evaluation.tasks import annual_tasks

    base = satclip.load(name)
    bf16 = satclip.load(name)
    bf16._use_bf16((0,))
    f32_path = export_onnx(base, folder / "suite.onnx")
    models = {
        "float32": base,
        "float64": copy.deepcopy(base).double(),
        "onnx-float32": OnnxEncoder(f32_path),
        "bf16 layer 0": bf16,
        "onnx-fp16": OnnxEncoder(forced_lowering(f32_path, "fp16", folder / "suite-fp16.onnx")),
    }
    rows = suite.run(models, annual_tasks(), splits=["block"], progress=False)
    summary = suite.summarise(rows)
    tasks = sorted({task for (_, task, _) in summary})
    labels = list(models)[1:]
    out, largest = [], dict.fromkeys(labels, 0.0)
    for task in tasks:
        ref = summary[("block", task, "float32")][0]
        cells = [task, f"{ref:.4f}"]
        for label in labels:
            score = summary[("block", task, label)][0]
            largest[label] = max(largest[label], abs(score - ref))
            cells.append(f"{score - ref:+.4f}")
        out.append(cells)
    out.append(["largest change", "", *(f"{largest[label]:.4f}" for label in labels)])
    return table(["task (block split)", "float32", *labels], out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--models", nargs="+", default=[n for n in satclip.list_pretrained() if _here(n)])
    ap.add_argument("--suite", action="store_true", help="the evaluation suite for the first model")
    args = ap.parse_args()
    points = sphere_points(args.points, seed=1)
    with tempfile.TemporaryDirectory() as d:
        print(
            f"{args.points:,} points uniform on the sphere; CPU flags: {cpu_flags()}; "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
        )
        header = [
            "model",
            "precision",
            "lowered layers",
            "cosine mean",
            "cosine worst",
            "10 km differences off by",
            "points/s",
            "vs float32",
        ]
        print(table(header, built_paths(args.models, points, Path(d))))
        if args.suite:
            print(f"\nevaluation suite, {args.models[0]}: change against float32\n")
            print(suite_scores(args.models[0], Path(d)))
    emulated_and_matmul(args)


def _here(name: str) -> bool:
    try:
        satclip.pretrained.model_path(name)
    except Exception:
        return False
    return True


def emulated_and_matmul(args: argparse.Namespace) -> None:
    torch.set_grad_enabled(False)
    lonlat = torch.from_numpy(sphere_points(args.points))
    rows = []
    for name in args.models:
        model = satclip.load(name).eval()
        if model.config.time is not None:  # emulated on the static network only
            continue
        ref = torch.from_numpy(model.embed_array(lonlat.numpy())).double()
        for label, rounded, out_bf16 in [
            ("first layer, float32 out", {0}, False),
            ("first layer, bf16 out", {0}, True),
            ("every layer, float32 out", {0, 1, 2}, False),
            ("every layer, bf16 out", {0, 1, 2}, True),
        ]:
            cos = F.cosine_similarity(emulated(model, lonlat, rounded, out_bf16).double(), ref, dim=1)
            rows.append([name, label, f"{cos.mean():.6f}", f"{cos.min():.6f}"])
    print(f"\n{args.points:,} points uniform on the sphere; bf16 operands emulated in float32\n")
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
