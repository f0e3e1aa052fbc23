"""Random Fourier features of 3-D Cartesian coordinates at several scales.

GeoCLIP (Vivanco et al. 2023) maps coordinates through random Fourier features at three scales
(σ = 2^0, 2^4, 2^8 on Equal-Earth projected coordinates). Projected coordinates are not
continuous across the dateline or at the poles; here the input is the 3-D unit vector instead,
so the features are continuous everywhere on the sphere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from satclip.encodings._base import Encoding
from satclip.encodings.baselines import cartesian3d
from satclip.errors import InputError


def random_fourier_features(lonlat: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
    """(N, 2) degrees and (K, 3) frequency vectors → (N, 2K): cos(2π Bx), sin(2π Bx)."""
    xyz = cartesian3d(lonlat)
    angles = 2 * torch.pi * xyz @ projections.to(xyz).T
    return torch.cat([angles.cos(), angles.sin()], dim=1)


def rff_projections(num_features: int, sigmas: tuple[float, ...], seed: int) -> torch.Tensor:
    """(len(sigmas)·num_features, 3) Gaussian frequency vectors, N(0, σ²) per scale, seeded."""
    gen = torch.Generator().manual_seed(seed)
    blocks = [torch.randn(num_features, 3, generator=gen, dtype=torch.float64) * s for s in sigmas]
    return torch.cat(blocks)


@dataclass(frozen=True)
class RFFConfig:
    """Random Fourier features; dim 2·num_features·len(sigmas) (1536 by default)."""

    num_features: int = 256
    sigmas: tuple[float, ...] = (1.0, 4.0, 16.0)
    seed: int = 0

    name: ClassVar[str] = "rff"

    def __post_init__(self) -> None:
        # JSON round-trips give lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "sigmas", tuple(float(s) for s in self.sigmas))
        if not isinstance(self.num_features, int) or self.num_features < 1:
            raise InputError(f"num_features must be a positive integer, got {self.num_features!r}")
        if not self.sigmas or min(self.sigmas) <= 0:
            raise InputError(f"sigmas must be a non-empty tuple of positive scales, got {self.sigmas!r}")

    @property
    def dim(self) -> int:
        return 2 * self.num_features * len(self.sigmas)


class RFF(Encoding):
    """Module for :class:`RFFConfig`; the projections are a saved, non-trainable buffer."""

    config: RFFConfig
    projections: torch.Tensor

    def __init__(self, config: RFFConfig) -> None:
        super().__init__(config)
        proj = rff_projections(config.num_features, config.sigmas, config.seed)
        self.register_buffer("projections", proj)

    def encode(self, lonlat: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        return self._into(random_fourier_features(lonlat, self.projections), out)
