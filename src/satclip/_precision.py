"""Mixed-precision inference: which of a SIREN's products may run on bfloat16 operands, chosen by
measurement (issue 35; BENCHMARKS.md "Lower precision").

The harmonics, the sines and their arguments, the biases and the products' accumulation stay in
float32; only a layer's two operands are rounded to bfloat16, where a CPU's AMX / AVX512-BF16
units (or a GPU's tensor cores) multiply them several times faster. A layer joins the rounded
set, first to last, only if the embedding then passes both parts of the check on
:data:`CHECK_POINTS` area-uniform points:

- every cosine to float32 at or above :data:`CHECK_COSINE` (the whole vector), and
- the difference between each point and a partner :data:`LOCAL_KM` km away changed by at most
  :data:`LOCAL_ERROR` of its length (median): the local structure a probe on a small region
  (California housing, towns) reads. Rounding to bfloat16 keeps the cosines (0.9999 at L=40)
  but changes these differences by 15-30 % on every shipped model, and moved the suite's
  California housing score by 0.40: the cosine alone does not say an embedding is kept.

Precisions: ``"float32"`` (default: the model as it is, bit for bit), ``"bf16"`` (the layers
that pass; refused with the numbers when none does), ``"auto"`` (``"bf16"`` where the hardware
has bf16 units and a layer passes, else ``"float32"``).
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satclip.errors import InputError

PRECISIONS = ("float32", "bf16", "auto")
# Points of the check, and the worst cosine to float32 allowed among them: a margin over the
# 0.999 promised for every point of 10^5 (bench/bench_precision.py measures that).
CHECK_POINTS = 16_384
CHECK_COSINE = 0.9995
# Each point's partner lies this far away, and the median change of their difference may be at
# most this share of its length (float32 against float64: 0.05 % at L=40).
LOCAL_KM = 10.0
LOCAL_ERROR = 0.01
# x86 flags of bf16 matrix units, as /proc/cpuinfo names them.
_X86_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def check_precision(precision: Any) -> str:
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return str(precision)


@cache
def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (x86 AVX512-BF16 or AMX-BF16
    on Linux). Elsewhere False: Apple and other ARM CPUs have BF16 instructions, but torch's CPU
    matmul in bf16 was not measured faster there."""
    if platform.system() == "Linux":
        try:
            return cpuinfo_has_bf16(Path("/proc/cpuinfo").read_text())
        except OSError:
            return False
    if platform.system() == "Darwin" and platform.machine() == "x86_64":
        out = subprocess.run(
            ["sysctl", "-n", "machdep.cpu.leaf7_features"], capture_output=True, text=True, check=False
        )
        return "AVX512BF16" in out.stdout.upper()
    return False


def cpuinfo_has_bf16(text: str) -> bool:
    """Whether the first ``flags`` line of /proc/cpuinfo's ``text`` names a bf16 matrix unit."""
    flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), "").split(":")[-1].split()
    return any(f in flags for f in _X86_BF16_FLAGS)


def has_bf16_units(device: torch.device) -> bool:
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return device.type == "cpu" and cpu_has_bf16_units()


@cache
def check_points() -> np.ndarray:
    """(CHECK_POINTS, 2) lon/lat degrees, area-uniform on the sphere (a Fibonacci lattice: the
    same points on every machine)."""
    i = np.arange(CHECK_POINTS) + 0.5
    lat = np.degrees(np.arcsin(1 - 2 * i / CHECK_POINTS))
    lon = (np.degrees(np.pi * (1 + 5**0.5) * i) + 180.0) % 360.0 - 180.0
    return np.stack([lon, lat], axis=1)


def check_inputs() -> np.ndarray:
    """(2 * CHECK_POINTS, 2) lon/lat degrees: the check points, then each one's partner
    :data:`LOCAL_KM` km away (bearings by the golden angle; longitude wrapped, latitude clipped)."""
    points = check_points()
    step = np.degrees(LOCAL_KM / 6371.0088)
    bearing = 2.399963229728653 * np.arange(len(points))
    dlat = step * np.cos(bearing)
    dlon = step * np.sin(bearing) / np.maximum(np.cos(np.radians(points[:, 1])), 1e-3)
    partners = np.stack(
        [(points[:, 0] + dlon + 180.0) % 360.0 - 180.0, np.clip(points[:, 1] + dlat, -90.0, 90.0)], axis=1
    )
    return np.concatenate([points, partners])


@dataclass(frozen=True)
class Check:
    """How a lower-precision embedding of :func:`check_inputs` compares with float32."""

    worst_cosine: float
    local_error: float  # median relative change of the point-partner differences

    @property
    def passed(self) -> bool:
        return self.worst_cosine >= CHECK_COSINE and self.local_error <= LOCAL_ERROR

    def __str__(self) -> str:
        return (
            f"worst cosine {self.worst_cosine:.5f}, {LOCAL_KM:g} km differences off by {self.local_error:.1%}"
        )


def check(candidate: np.ndarray, reference: np.ndarray) -> Check:
    """Compare embeddings of :func:`check_inputs` (points, then partners) with float32's."""
    a, b = candidate.astype(np.float64), reference.astype(np.float64)
    n = len(a) // 2
    moved = np.linalg.norm((a[n:] - a[:n]) - (b[n:] - b[:n]), axis=1)
    length = np.linalg.norm(b[n:] - b[:n], axis=1)
    local = float(np.median(moved / np.maximum(length, 1e-12)))
    return Check(worst_cosine(a[:n], b[:n]), local)


def refusal(what: str, checks: list[Check], fix: str) -> InputError:
    tried = "; ".join(f"layer {i}: {c}" for i, c in enumerate(checks))
    return InputError(
        f"no layer of this model keeps the embedding in {what} ({tried}; needed: worst cosine >= "
        f"{CHECK_COSINE}, {LOCAL_KM:g} km differences off by <= {LOCAL_ERROR:.0%}, over "
        f"{CHECK_POINTS:,} area-uniform points); {fix}"
    )


def worst_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest row-wise cosine between two (N, D) arrays, in float64."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.min())
