"""The season input of a seasonal model: the time of year as cyclic Fourier features.

A seasonal :class:`~satclip.encoder.LocationEncoder` concatenates these features to its
positional encoding's (the network's first layer reads both), so that the embedding of a place
can change with the month. The time is a fraction of the year, t in [0, 1) (mid-January ≈
0.04, mid-July ≈ 0.54); NaN means "no time given", whose features are all zero: the mean of
every cyclic feature over the year, and what the model is trained on with the annual composite
(the annual embedding, see MODELS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from satclip.errors import InputError


@dataclass(frozen=True)
class TimeConfig:
    """``harmonics`` K: the features cos(2πkt), sin(2πkt) for k = 1..K (2K columns). K = 1 is
    the annual cycle alone; K = 2 adds the half-year one (two rainy seasons, spring and autumn
    apart).

    ``place_degree`` P: the 2K time features also multiply the place's harmonics of degree
    below P (the encoding's first P² columns), 2K·P² more columns, so that the month moves each
    place its own way (north and south in opposite seasons, a monsoon where there is one)
    instead of by one shift shared by all places. 0: no products (every model before them)."""

    harmonics: int = 2
    place_degree: int = 0

    name: ClassVar[str] = "fourier"

    def __post_init__(self) -> None:
        if isinstance(self.harmonics, bool) or not (isinstance(self.harmonics, int) and self.harmonics >= 1):
            raise InputError(f"time harmonics must be a whole number >= 1, got {self.harmonics!r}")
        p = self.place_degree
        if isinstance(p, bool) or not (isinstance(p, int) and p >= 0):
            raise InputError(f"time place_degree must be a whole number >= 0 (0 = none), got {p!r}")

    @property
    def n_time(self) -> int:
        """The time features' columns, 2K."""
        return 2 * self.harmonics

    @property
    def n_place(self) -> int:
        """The place harmonics the time features multiply, P²."""
        return self.place_degree**2

    @property
    def dim(self) -> int:
        """The network input columns the time adds after the encoding's: 2K·(1 + P²)."""
        return self.n_time * (1 + self.n_place)


def time_features(t: torch.Tensor, harmonics: int) -> torch.Tensor:
    """(N,) year fractions (NaN: no time) → (N, 2·harmonics) features in t's dtype: for
    k = 1..harmonics the pair cos(2πkt), sin(2πkt); rows where t is NaN are zero."""
    k = torch.arange(1, harmonics + 1, dtype=t.dtype, device=t.device)
    angle = (2 * math.pi) * t[:, None] * k  # (N, K)
    feats = torch.stack([torch.cos(angle), torch.sin(angle)], dim=2).flatten(1)
    # (where, not nan_to_num: the ONNX export traces it as is, without infinities to clip)
    return torch.where(torch.isnan(feats), torch.zeros_like(feats), feats)


def place_time_features(tf: torch.Tensor, feats: torch.Tensor, n_place: int) -> torch.Tensor:
    """(N, 2K) time features and (N, D) harmonics → (N, 2K·n_place) products: time feature k
    times each of the first ``n_place`` harmonics, k-major. Zero where the time features are
    (no time: the annual embedding is the model without them)."""
    return (tf[:, :, None] * feats[:, None, :n_place]).flatten(1)
