"""Positional encodings registry: ``create_encoding(name, **params)`` and ``list_encodings()``."""

from __future__ import annotations

from typing import Any

from satclip._registry import NamedConfig, build_config
from satclip.encodings._base import Encoding
from satclip.encodings.baselines import (
    Cartesian3D,
    Cartesian3DConfig,
    Direct,
    DirectConfig,
    GridConfig,
    MultiScale,
    SphereCConfig,
    SphereCPlusConfig,
    SphereMConfig,
    SphereMPlusConfig,
    TheoryConfig,
    Wrap,
    WrapConfig,
)
from satclip.encodings.rff import RFF, RFFConfig
from satclip.encodings.spherical_harmonics import (
    SphericalHarmonics,
    SphericalHarmonicsConfig,
    spherical_harmonics,
)

_ENCODING_CLASSES: list[tuple[type[NamedConfig], type[Encoding]]] = [
    (SphericalHarmonicsConfig, SphericalHarmonics),
    (DirectConfig, Direct),
    (Cartesian3DConfig, Cartesian3D),
    (WrapConfig, Wrap),
    (GridConfig, MultiScale),
    (TheoryConfig, MultiScale),
    (SphereCConfig, MultiScale),
    (SphereCPlusConfig, MultiScale),
    (SphereMConfig, MultiScale),
    (SphereMPlusConfig, MultiScale),
    (RFFConfig, RFF),
]
ENCODINGS: dict[str, tuple[type[NamedConfig], type[Encoding]]] = {
    cfg.name: (cfg, module) for cfg, module in _ENCODING_CLASSES
}


def list_encodings() -> list[str]:
    """Names accepted by :func:`create_encoding`."""
    return list(ENCODINGS)


def encoding_from_config(config: Any) -> Encoding:
    """Rebuild an encoding module from its config dataclass."""
    return ENCODINGS[config.name][1](config)


def create_encoding(name: str, **params: Any) -> Encoding:
    """A positional encoding module mapping (N, 2) lon/lat degrees to (N, dim).

    >>> create_encoding("sphericalharmonics", legendre_polys=10).dim
    100
    """
    return encoding_from_config(build_config(ENCODINGS, "encoding", name, params))


__all__ = [
    "ENCODINGS",
    "Encoding",
    "create_encoding",
    "encoding_from_config",
    "list_encodings",
    "spherical_harmonics",
]
