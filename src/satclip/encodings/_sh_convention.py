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

import torch

# One degree in radians, torch's own constant as a float64 tensor: the ONNX exporter stores a
# Python float (torch.deg2rad's) as a float32 value, which would cost float64 graphs precision.
_DEGREE = torch.deg2rad(torch.tensor(1.0, dtype=torch.float64))


@dataclass(frozen=True)
class AngleConvention:
    """φ = radians(lon + ``lon_offset``), cos θ = ``cos_theta_sign`` · sin(lat), and a factor
    ``m0_scale`` on the m = 0 columns."""

    lon_offset: float
    cos_theta_sign: float
    m0_scale: float

    def phi(self, lon: torch.Tensor) -> torch.Tensor:
        """φ of float64 longitudes (degrees)."""
        return (lon + self.lon_offset) * _DEGREE

    def angles(self, lon: torch.Tensor, lat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """cos θ, sin θ and φ of float64 lon, lat degrees (tensors of one shape): :func:`point_angles`
        of every point, by traceable ops whose Python constants are exact in float32 (as the
        ONNX exporter stores them)."""
        lat_rad = lat * _DEGREE
        sin_theta = torch.where(lat.abs() == 90, torch.zeros_like(lat_rad), torch.cos(lat_rad))
        sin_lat = torch.sin(lat_rad)
        cos_theta = sin_lat if self.cos_theta_sign == 1.0 else sin_lat * self.cos_theta_sign
        return cos_theta, sin_theta, self.phi(lon)

    def column_scale(self, legendre_polys: int, device: torch.device) -> torch.Tensor:
        """(L²,) float64: ``m0_scale`` in the m = 0 column of each degree, 1 elsewhere."""
        scale = torch.ones(legendre_polys * legendre_polys, dtype=torch.float64, device=device)
        centres = torch.arange(legendre_polys, device=device)
        scale[centres * centres + centres] = self.m0_scale
        return scale


def point_angles(
    lon: float, lat: float, lon_offset: float, cos_theta_sign: float
) -> tuple[float, float, float]:
    """:meth:`AngleConvention.angles` of one point in scalar ``math``, which the numba kernel
    compiles into its loop: it may run no torch op (they hang in a forked child once the parent
    has used torch's OpenMP), and numpy around it cost a third of its time at L=10.
    ``tests/encodings/test_spherical_harmonics.py`` holds the two equal."""
    lat_rad = math.radians(lat)
    sin_theta = 0.0 if abs(lat) == 90.0 else math.cos(lat_rad)
    return cos_theta_sign * math.sin(lat_rad), sin_theta, math.radians(lon + lon_offset)


ANGLE_CONVENTIONS: dict[str, AngleConvention] = {
    "satclip": AngleConvention(lon_offset=180.0, cos_theta_sign=-1.0, m0_scale=math.pi),
    "orthonormal": AngleConvention(lon_offset=0.0, cos_theta_sign=1.0, m0_scale=1.0),
}
