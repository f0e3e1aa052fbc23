"""Spherical-harmonic features: ours vs the published closed form vs a per-(l, m) loop vs the write floor.

"ours" is the library's default (numba where installed), "ours-torch" the same recurrence as torch
tensor ops. "published" is the published generated code, made the way its generator makes it:
sympy's closed form of each (l, m) printed as the body of one @torch.jit.script function, the
functions written to a module, imported and called one by one, the columns stacked.
"closed-form" evaluates the same sympy-expanded polynomials with cos θ, sin θ shared and each
P_l^|m| reused for ±m (kind to the baseline).

    .venv/bin/python bench/bench_sh.py --points 20000 [--json out.json]

Every (variant, L, dtype) runs in a fresh interpreter: peak RSS is a process-wide high-water mark,
so variants sharing a process would hide each other's peaks.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import sympy
import torch

from _common import child, fmt, table
from satclip.encodings import spherical_harmonics

DTYPES = {"float32": torch.float32, "float64": torch.float64}
VARIANTS = ("ours", "ours-torch", "closed-form", "published", "loop", "floor")
# The closed forms hold every column before stacking (2x the output): keep their output under
# 6.4 GB, so that 1 M points of L=40 float32 fit in 24 GB (float64 runs on half as many).
CLOSED_FORM_MAX_BYTES = 6.4e9


def sphere_points(n: int, seed: int) -> torch.Tensor:
    """(n, 2) float64 lon/lat degrees, uniform on the sphere; the first k of n points are those for k."""
    u = np.random.default_rng(seed).random((n, 2))  # one row per point, so subsets are prefixes
    return torch.from_numpy(np.stack([360 * u[:, 0] - 180, np.degrees(np.arcsin(2 * u[:, 1] - 1))], axis=1))


def closed_form_polys(L: int) -> list[list[Callable[..., Any]]]:
    """P_l^m(x) without the Condon-Shortley phase, as (x=cos θ, s=sin θ) polynomials lambdified to torch.

    Coefficients are floats, as in the published generated code, so the float32 evaluation
    inherits its overflow: the unnormalised coefficients reach ~1e57 at L=40.
    """
    x, s = sympy.symbols("x s")
    polys: list[list[Callable[..., Any]]] = []
    for l in range(L):
        row = []
        for m in range(l + 1):
            p = (-1) ** m * sympy.assoc_legendre(l, m, x)
            q = sympy.expand(sympy.cancel(p / (1 - x**2) ** sympy.Rational(m, 2)))
            row.append(sympy.lambdify((x, s), sympy.N(q, 17) * s**m, modules="torch"))
        polys.append(row)
    return polys


def closed_form(lonlat: torch.Tensor, L: int, polys: list[list[Callable[..., Any]]]) -> torch.Tensor:
    theta, phi = torch.deg2rad(lonlat[:, 1] + 90), torch.deg2rad(lonlat[:, 0] + 180)
    # cos θ and sin θ computed once and each P_l^|m| shared by ±m: kinder to the baseline than the
    # published code, which recomputes both inside every one of the L² functions.
    x, s = torch.cos(theta), torch.sin(theta)
    cols = []
    for l in range(L):
        p = [torch.as_tensor(f(x, s), dtype=x.dtype).expand_as(x) for f in polys[l]]
        for m in range(-l, l + 1):
            k = abs(m)
            if m == 0:
                cols.append(math.sqrt((2 * l + 1) / 4 * math.pi) * p[0])  # the published bracket slip
                continue
            n_lm = math.sqrt(2 * (2 * l + 1) / (4 * math.pi) * math.factorial(l - k) / math.factorial(l + k))
            cols.append(n_lm * p[k] * (torch.cos(k * phi) if m > 0 else torch.sin(k * phi)))
    return torch.stack(cols, dim=-1)


def published_ylm(l: int, m: int, theta: sympy.Symbol, phi: sympy.Symbol) -> sympy.Expr:
    """Y_lm of the published generator: sympy's assoc_legendre (with its (-1)^m) times (-1)^m, the
    sqrt(2) real-form factor and, for m = 0, the bracket slip sqrt((2l+1)/4*pi)."""
    k = abs(m)
    p = sympy.assoc_legendre(l, k, sympy.cos(theta))
    if m == 0:
        return sympy.sqrt(sympy.Rational(2 * l + 1, 4) * sympy.pi) * p
    n_lm = sympy.sqrt(
        sympy.Rational(2 * l + 1) / (4 * sympy.pi) * sympy.factorial(l - k) / sympy.factorial(l + k)
    )
    trig = sympy.cos(m * phi) if m > 0 else sympy.sin(k * phi)
    return (-1) ** m * sympy.sqrt(2) * n_lm * p * trig


def published_module(L: int, directory: str) -> ModuleType:
    """The published code's generated module for degrees < L, written to ``directory`` and imported
    (TorchScript compiles each function from its source file)."""
    theta, phi = sympy.symbols("theta phi")
    lines = ["import torch", "from torch import cos, sin", "", "FUNCTIONS = []"]
    for l in range(L):
        for m in range(-l, l + 1):
            name = f"Yl{l}_m{m}".replace("-", "_minus_")
            expr = published_ylm(l, m, theta, phi).evalf()
            lines += ["", "", "@torch.jit.script", f"def {name}(theta, phi):", f"    return {expr}"]
            lines += [f"FUNCTIONS.append({name})"]
    path = Path(directory) / f"published_ylm_{L}.py"
    path.write_text("\n".join(lines) + "\n")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def published(lonlat: torch.Tensor, fns: list[Callable[..., Any]]) -> torch.Tensor:
    """The published SphericalHarmonics.forward: angles, one call per (l, m), stack."""
    theta, phi = torch.deg2rad(lonlat[:, 1] + 90), torch.deg2rad(lonlat[:, 0] + 180)
    cols = []
    for f in fns:
        y = f(theta, phi)
        cols.append(y * torch.ones_like(phi) if isinstance(y, float) else y)
    return torch.stack(cols, dim=-1)


def per_column_loop(lonlat: torch.Tensor, L: int) -> torch.Tensor:
    """The normalised recurrence, one (l, m) column at a time, in the input's dtype."""
    lat_rad, phi = torch.deg2rad(lonlat[:, 1]), torch.deg2rad(lonlat[:, 0] + 180)
    x, s = -torch.sin(lat_rad), torch.cos(lat_rad)
    out = torch.empty(lonlat.shape[0], L * L, dtype=lonlat.dtype)
    p_mm = torch.full_like(x, 1 / math.sqrt(4 * math.pi))
    for m in range(L):
        if m > 0:
            p_mm = math.sqrt((2 * m + 1) / (2 * m)) * s * p_mm
        cos_m, sin_m = math.sqrt(2) * torch.cos(m * phi), math.sqrt(2) * torch.sin(m * phi)
        p_prev, p = torch.zeros_like(x), p_mm
        for l in range(m, L):
            if l > m:
                a = math.sqrt((4 * l * l - 1) / (l * l - m * m))
                b = math.sqrt(max((l - 1) ** 2 - m * m, 0) / (4 * (l - 1) ** 2 - 1))
                p_prev, p = p, a * (x * p - b * p_prev)
            if m == 0:
                out[:, l * l + l] = math.pi * p
            else:
                out[:, l * l + l + m] = p * cos_m
                out[:, l * l + l - m] = p * sin_m
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def nonfinite_columns(out: torch.Tensor) -> int:
    bad = torch.zeros(out.shape[1], dtype=torch.bool)
    for rows in out.split(65536):  # in slices: a full-size mask would add 1.6 GB at 1M x 1600
        bad |= ~torch.isfinite(rows).all(dim=0)
    return int(bad.sum())


def run_one(variant: str, L: int, dtype_name: str, args: argparse.Namespace) -> dict[str, Any]:
    dtype = DTYPES[dtype_name]
    n = args.points
    if variant in ("closed-form", "published"):
        n = min(n, int(CLOSED_FORM_MAX_BYTES // (L * L * dtype.itemsize)), args.slow_points or n)
    elif variant == "loop":
        n = min(n, args.slow_points or n)
    lonlat = sphere_points(n, args.seed).to(dtype)
    t0 = time.perf_counter()
    polys = closed_form_polys(L) if variant == "closed-form" else []
    workdir = tempfile.TemporaryDirectory()
    pub = published_module(L, workdir.name).FUNCTIONS if variant == "published" else []
    setup_s = time.perf_counter() - t0
    fns: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "ours": lambda ll: spherical_harmonics(ll, L, "satclip"),
        "ours-torch": lambda ll: spherical_harmonics(ll, L, "satclip", backend="torch"),
        "closed-form": lambda ll: closed_form(ll, L, polys),
        "published": lambda ll: published(ll, pub),
        "loop": lambda ll: per_column_loop(ll, L),
        "floor": lambda ll: torch.empty(ll.shape[0], L * L, dtype=dtype).fill_(1.0),
    }
    fn = fns[variant]
    # First-call costs (OpenMP threads, allocator, numba's compile) stay out of the timing. Small:
    # TorchScript profiles the first two calls of each published function before optimising them
    # (at ~1 k points/s), holding memory in proportion to the input (> 20 GB at 100 000 points).
    for _ in range(3):
        fn(lonlat[:2048])
    base = peak_rss_mb()
    best, runs, peak, start = math.inf, 0, 0.0, time.perf_counter()
    # Fast variants repeat until --min-seconds: single runs vary severalfold on a busy or virtual machine.
    while runs < args.repeats or time.perf_counter() - start < args.min_seconds:
        out = None  # drop the previous result first so repeats do not stack up in the peak
        t0 = time.perf_counter()
        out = fn(lonlat)
        best, runs = min(best, time.perf_counter() - t0), runs + 1
        # Memory from the first run only: thousands of small repeats fragment the heap and inflate it.
        if runs == 1:
            peak = peak_rss_mb() - base
    assert out is not None
    out_mb, cols = out.numel() * out.element_size() / 2**20, nonfinite_columns(out)
    return dict(points=n, seconds=best, peak_mb=peak, out_mb=out_mb, sympy_s=setup_s, nonfinite_cols=cols)


def run_check(args: argparse.Namespace) -> dict[str, Any]:
    """Max |difference| between variants on the first 2000 points, float64 unless stated."""
    ll64 = sphere_points(args.points, args.seed)[:2000]
    low = ll64[:, 1].abs() < 30  # where the closed form's cancellation error stays small
    res: dict[str, Any] = {}
    workdir = tempfile.TemporaryDirectory()
    for L in args.degrees:
        polys = closed_form_polys(L)
        ours = spherical_harmonics(ll64, L)
        pairs = {
            "ours vs ours-torch": spherical_harmonics(ll64, L, backend="torch"),
            "ours vs published": published(ll64, published_module(L, workdir.name).FUNCTIONS),
            "ours vs closed": closed_form(ll64, L, polys),
            "ours vs loop": per_column_loop(ll64, L),
            "ours vs closed f32": closed_form(ll64.float(), L, polys).double(),
            "ours vs ours f32": spherical_harmonics(ll64.float(), L).double(),
        }
        for name, other in pairs.items():
            res[f"L={L} {name}"] = (max_diff(ours[low], other[low]), max_diff(ours, other))
    return res


def max_diff(a: torch.Tensor, b: torch.Tensor) -> str:
    d = (a - b).abs()
    bad = int((~torch.isfinite(d)).sum())
    return f"{float(d[torch.isfinite(d)].max()):.3g}" + (f" ({bad:,} non-finite)" if bad else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--degrees", type=int, nargs="+", default=[10, 40], help="values of L")
    ap.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per variant at least; fastest counts")
    ap.add_argument("--min-seconds", type=float, default=2.0, help="keep repeating until this much time")
    ap.add_argument("--slow-points", type=int, default=0, help="cap on points for closed-form, loop; 0: none")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--one", nargs="+", help=argparse.SUPPRESS)  # internal: VARIANT L DTYPE, or check
    args = ap.parse_args()
    if args.one == ["check"]:
        print(json.dumps(run_check(args)))
        return
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.one[2], args)))
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, N={args.points:,}, ", end="")
    print(f"fastest of >= {args.repeats} runs, each variant in a fresh process\n")
    header = ["L", "dtype", "variant", "points timed", "s", "points/s", "peak extra MB", "peak / output"]
    header += ["ours speedup", "time / write floor", "non-finite cols"]
    rows: list[dict[str, Any]] = []
    cells: list[list[str]] = []
    sympy_s: dict[str, float] = {}
    for L in args.degrees:
        for dt in args.dtypes:
            group = {v: child(__file__, v, str(L), dt) for v in VARIANTS}
            rate = {v: r["points"] / r["seconds"] for v, r in group.items() if "error" not in r}
            for v, r in group.items():
                rows.append({**r, "variant": v, "L": L, "dtype": dt})
                if "error" in r:
                    cells.append([str(L), dt, v, "failed: " + r["error"][:100], *[""] * 7])
                    continue
                if v in ("closed-form", "published"):
                    sympy_s[f"{v} L={L}"] = r["sympy_s"]
                sub = "*" if r["points"] < args.points else ""
                speed = fmt(rate["ours"] / rate[v]) + "x" if "ours" in rate else "-"
                floor = fmt(rate["floor"] / rate[v]) if "floor" in rate else "-"
                cells.append([str(L), dt, v, f"{r['points']:,}{sub}", fmt(r["seconds"]), fmt(rate[v])])
                cells[-1] += [fmt(r["peak_mb"]), fmt(r["peak_mb"] / r["out_mb"]), speed, floor]
                cells[-1].append(f"{r['nonfinite_cols']} / {L * L}")
    print(table(header, cells))
    print(
        f"\n`*` timed on a subset of the {args.points:,} points. Ratios compare points/s, so subsets compare"
    )
    print("fairly. Peak / output: extra peak RSS over the bytes of the (points timed, L^2) result.")
    print("Results under ~32 MB reuse warm heap pages (glibc), so small runs skip the page faults 1M pays.")
    print(
        "set-up, not timed (sympy; TorchScript for published): "
        + ", ".join(f"{k}: {v:.1f} s" for k, v in sympy_s.items())
    )
    check = child(__file__, "check")
    header = ["check: first 2000 points, float64 unless f32", "max abs diff, abs(lat) < 30", "all points"]
    print("\n" + table(header, [[k, *v] if isinstance(v, list) else [k, v, ""] for k, v in check.items()]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows, "sympy_s": sympy_s, "check": check}, f, indent=1)


if __name__ == "__main__":
    main()
