"""The field's baseline positional encodings, as typed pure functions plus thin modules.

All angles are in radians (λ = longitude, φ = latitude). The multi-scale encodings (Space2Vec
``grid`` and ``theory``; Sphere2Vec ``spherec``, ``spherecplus``, ``spherem``, ``spheremplus``)
use ``frequency_num`` = F scales with frequencies ``1 / r_s``, where the radii ``r_s`` run
geometrically from ``min_radius`` to ``max_radius`` (radians). The default ``max_radius = 1``
makes the coarsest scale one cycle around the globe. The published SatCLIP port of these
feeds degrees where radians are meant and repeats every column twice (hence its dimensions
6F, 12F, 10F, 16F for the sphere encodings); ours has no duplicate columns.

| name          | dim | features per scale s (λ_s = f_s·λ, φ_s = f_s·φ)                           |
|---------------|-----|---------------------------------------------------------------------------|
| direct        | 2   | λ, φ (radians, no scales)                                                 |
| cartesian3d   | 3   | cos φ cos λ, cos φ sin λ, sin φ                                           |
| wrap          | 4   | cos λ, sin λ, cos φ, sin φ                                                |
| grid          | 4F  | sin λ_s, cos λ_s, sin φ_s, cos φ_s                                        |
| theory        | 6F  | sin, cos of f_s·⟨(λ, φ), u_k⟩ for three unit vectors u_k 120° apart       |
| spherec       | 3F  | sin φ_s, cos φ_s cos λ_s, cos φ_s sin λ_s                                 |
| spherecplus   | 6F  | sin φ_s, cos φ_s, sin λ_s, cos λ_s, cos φ_s cos λ_s, cos φ_s sin λ_s      |
| spherem       | 5F  | sin φ_s, cos φ cos λ_s, cos φ_s cos λ, cos φ sin λ_s, cos φ_s sin λ       |
| spheremplus   | 8F  | sin φ_s, cos φ_s, sin λ_s, cos λ_s, and the four spherem cross terms      |
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from satclip.encodings._base import Encoding
from satclip.errors import InputError


def _radians(lonlat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    rad = torch.deg2rad(lonlat)
    return rad[:, 0], rad[:, 1]


def direct(lonlat: torch.Tensor) -> torch.Tensor:
    """(N, 2) degrees → (N, 2) radians: λ ∈ [-π, π], φ ∈ [-π/2, π/2]."""
    return torch.deg2rad(lonlat)


def cartesian3d(lonlat: torch.Tensor) -> torch.Tensor:
    """(N, 2) degrees → (N, 3) unit vectors (x, y, z) on the sphere."""
    lam, phi = _radians(lonlat)
    return torch.stack([phi.cos() * lam.cos(), phi.cos() * lam.sin(), phi.sin()], dim=1)


def wrap(lonlat: torch.Tensor) -> torch.Tensor:
    """(N, 2) degrees → (N, 4): cos λ, sin λ, cos φ, sin φ (Mac Aodha et al. 2019)."""
    lam, phi = _radians(lonlat)
    return torch.stack([lam.cos(), lam.sin(), phi.cos(), phi.sin()], dim=1)


def scale_frequencies(frequency_num: int, min_radius: float, max_radius: float) -> list[float]:
    """Frequencies 1 / r_s, r_s geometric from ``min_radius`` to ``max_radius`` (F values)."""
    if frequency_num == 1:
        return [1.0 / max_radius]
    step = math.log(max_radius / min_radius) / (frequency_num - 1)
    return [1.0 / (min_radius * math.exp(s * step)) for s in range(frequency_num)]


_THEORY_UNITS = ((1.0, 0.0), (-0.5, math.sqrt(3) / 2), (-0.5, -math.sqrt(3) / 2))


def _grid_terms(lam, phi, lam_s, phi_s):
    return [lam_s.sin(), lam_s.cos(), phi_s.sin(), phi_s.cos()]


def _theory_terms(lam, phi, lam_s, phi_s):
    # ⟨(λ_s, φ_s), u⟩ = f_s·⟨(λ, φ), u⟩
    terms = []
    for ux, uy in _THEORY_UNITS:
        a = lam_s * ux + phi_s * uy
        terms += [a.sin(), a.cos()]
    return terms


def _spherec_terms(lam, phi, lam_s, phi_s):
    return [phi_s.sin(), phi_s.cos() * lam_s.cos(), phi_s.cos() * lam_s.sin()]


def _spherecplus_terms(lam, phi, lam_s, phi_s):
    return [
        phi_s.sin(), phi_s.cos(), lam_s.sin(), lam_s.cos(),
        phi_s.cos() * lam_s.cos(), phi_s.cos() * lam_s.sin(),
    ]  # fmt: skip


def _spherem_cross(lam, phi, lam_s, phi_s):
    return [
        phi.cos() * lam_s.cos(), phi_s.cos() * lam.cos(),
        phi.cos() * lam_s.sin(), phi_s.cos() * lam.sin(),
    ]  # fmt: skip


def _spherem_terms(lam, phi, lam_s, phi_s):
    return [phi_s.sin(), *_spherem_cross(lam, phi, lam_s, phi_s)]


def _spheremplus_terms(lam, phi, lam_s, phi_s):
    return [phi_s.sin(), phi_s.cos(), lam_s.sin(), lam_s.cos(), *_spherem_cross(lam, phi, lam_s, phi_s)]


_TERMS: dict[str, tuple[int, Callable[..., list[torch.Tensor]]]] = {
    "grid": (4, _grid_terms),
    "theory": (6, _theory_terms),
    "spherec": (3, _spherec_terms),
    "spherecplus": (6, _spherecplus_terms),
    "spherem": (5, _spherem_terms),
    "spheremplus": (8, _spheremplus_terms),
}


def multiscale(lonlat: torch.Tensor, kind: str, frequencies: torch.Tensor) -> torch.Tensor:
    """Space2Vec / Sphere2Vec features.

    Args:
        lonlat: (N, 2) degrees.
        kind: one of grid, theory, spherec, spherecplus, spherem, spheremplus.
        frequencies: (F,) scale frequencies (see :func:`scale_frequencies`).

    Returns:
        (N, k·F), scale-major: the k terms of scale 0, then of scale 1, ...
    """
    lam, phi = _radians(lonlat)
    f = frequencies.to(lam)
    lam_c, phi_c = lam[:, None], phi[:, None]
    terms = _TERMS[kind][1](lam_c, phi_c, lam_c * f, phi_c * f)
    return torch.stack(terms, dim=2).reshape(lonlat.shape[0], -1)


@dataclass(frozen=True)
class DirectConfig:
    """Raw coordinates in radians; dim 2."""

    name: ClassVar[str] = "direct"
    dim: ClassVar[int] = 2


@dataclass(frozen=True)
class Cartesian3DConfig:
    """Unit vector on the sphere; dim 3."""

    name: ClassVar[str] = "cartesian3d"
    dim: ClassVar[int] = 3


@dataclass(frozen=True)
class WrapConfig:
    """cos/sin of longitude and latitude; dim 4."""

    name: ClassVar[str] = "wrap"
    dim: ClassVar[int] = 4


class _Fixed(Encoding):
    fn: ClassVar[staticmethod[[torch.Tensor], torch.Tensor]]

    def encode(self, lonlat: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        return self._into(type(self).fn(lonlat), out)


class Direct(_Fixed):
    fn = staticmethod(direct)


class Cartesian3D(_Fixed):
    fn = staticmethod(cartesian3d)


class Wrap(_Fixed):
    fn = staticmethod(wrap)


@dataclass(frozen=True)
class MultiScaleConfig:
    """Shared parameters of the Space2Vec / Sphere2Vec encodings (see the module table)."""

    frequency_num: int = 16
    min_radius: float = 0.01
    max_radius: float = 1.0

    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not isinstance(self.frequency_num, int) or self.frequency_num < 1:
            raise InputError(f"frequency_num must be a positive integer, got {self.frequency_num!r}")
        if not 0 < self.min_radius <= self.max_radius:
            raise InputError(
                f"need 0 < min_radius <= max_radius (radians), got {self.min_radius}, {self.max_radius}"
            )

    @property
    def dim(self) -> int:
        return _TERMS[self.name][0] * self.frequency_num


def _multiscale_config(kind: str) -> type[MultiScaleConfig]:
    doc = f"Parameters of the ``{kind}`` encoding; dim {_TERMS[kind][0]}·frequency_num."
    return dataclass(frozen=True)(
        type(f"{kind.capitalize()}Config", (MultiScaleConfig,), {"name": kind, "__doc__": doc})
    )


GridConfig = _multiscale_config("grid")
TheoryConfig = _multiscale_config("theory")
SphereCConfig = _multiscale_config("spherec")
SphereCPlusConfig = _multiscale_config("spherecplus")
SphereMConfig = _multiscale_config("spherem")
SphereMPlusConfig = _multiscale_config("spheremplus")


class MultiScale(Encoding):
    """Module for any :class:`MultiScaleConfig`; the frequencies are a non-trainable buffer."""

    config: MultiScaleConfig
    frequencies: torch.Tensor

    def __init__(self, config: MultiScaleConfig) -> None:
        super().__init__(config)
        freqs = scale_frequencies(config.frequency_num, config.min_radius, config.max_radius)
        self.register_buffer("frequencies", torch.tensor(freqs, dtype=torch.float64), persistent=False)

    def encode(self, lonlat: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        return self._into(multiscale(lonlat, self.config.name, self.frequencies), out)
