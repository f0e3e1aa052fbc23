"""The angle conventions of the spherical harmonics, in one place for every implementation (the
torch recurrence, numba, sphericart, the ONNX graph and the grid path).

A convention says where θ and φ are measured from, and how the m = 0 columns are scaled:

- ``"satclip"``, what the published weights expect: θ = radians(lat + 90), measured from the south
  pole (so cos θ = -sin(lat)), φ = radians(lon + 180), measured from 180° W, and the m = 0
  columns multiplied by π (the published code's factor).
- ``"orthonormal"``: the colatitude θ = radians(90 - lat), φ = radians(lon), orthonormal on the
  sphere; sphericart's real harmonics column for column.

Both use the real harmonics without the Condon-Shortley phase. At the poles sin θ is exactly 0,
so that every longitude gives the same features there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

# Angles are formed from torch tensors (the torch and sphericart backends, the ONNX graph, the
# grid path) or numpy arrays (numba's input: no torch op may run there, since torch's OpenMP ops
# hang in a forked child once its parent has used them). The same names exist in both.
Array = TypeVar("Array", torch.Tensor, np.ndarray)


# One degree in radians, torch's own constant as a float64 tensor: the ONNX exporter stores a
# Python float (torch.deg2rad's) as a float32 value, which would cost float64 graphs precision.
_DEGREE = torch.deg2rad(torch.tensor(1.0, dtype=torch.float64))


def _namespace(a: torch.Tensor | np.ndarray) -> Any:
    return torch if isinstance(a, torch.Tensor) else np


def _radians(a: Array) -> Array:
    return a * _DEGREE if isinstance(a, torch.Tensor) else np.deg2rad(a)


@dataclass(frozen=True)
class AngleConvention:
    """φ = radians(lon + ``lon_offset``), cos θ = ``cos_theta_sign`` · sin(lat), and a factor
    ``m0_scale`` on the m = 0 columns."""

    lon_offset: float
    cos_theta_sign: float
    m0_scale: float

    def phi(self, lon: Array) -> Array:
        """φ of float64 longitudes (degrees)."""
        return _radians(lon + self.lon_offset)

    def angles(self, lon: Array, lat: Array) -> tuple[Array, Array, Array]:
        """cos θ, sin θ and φ of float64 lon, lat degrees (tensors or arrays of one shape); for
        tensors by traceable ops whose Python constants are exact in float32 (as the ONNX
        exporter stores them)."""
        xp = _namespace(lat)
        lat_rad = _radians(lat)
        sin_theta = xp.where(abs(lat) == 90, xp.zeros_like(lat_rad), xp.cos(lat_rad))
        sin_lat = xp.sin(lat_rad)
        cos_theta = sin_lat if self.cos_theta_sign == 1.0 else sin_lat * self.cos_theta_sign
        return cos_theta, sin_theta, self.phi(lon)

    def column_scale(self, legendre_polys: int, device: torch.device) -> torch.Tensor:
        """(L²,) float64: ``m0_scale`` in the m = 0 column of each degree, 1 elsewhere."""
        scale = torch.ones(legendre_polys * legendre_polys, dtype=torch.float64, device=device)
        centres = torch.arange(legendre_polys, device=device)
        scale[centres * centres + centres] = self.m0_scale
        return scale


ANGLE_CONVENTIONS: dict[str, AngleConvention] = {
    "satclip": AngleConvention(lon_offset=180.0, cos_theta_sign=-1.0, m0_scale=math.pi),
    "orthonormal": AngleConvention(lon_offset=0.0, cos_theta_sign=1.0, m0_scale=1.0),
}
