"""Encoders under test, by name: raw positional encodings, satclip models, and GeoCLIP.

- a registered encoding as raw features: ``direct``, ``wrap``, ``cartesian3d``, ``grid``,
  ``theory``, ``spherec``, ``spherecplus``, ``spherem``, ``spheremplus``, ``rff``, and
  ``sh<L>`` for spherical harmonics of L degrees (``sh10``, ``sh40``, ...);
- anything :func:`satclip.load` accepts: a pretrained name or a model file path;
- ``geoclip``: GeoCLIP's location encoder (optional ``geoclip`` extra; its weights ship in the
  wheel). GeoCLIP takes (lat, lon): the swap happens here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from satclip._optional import require
from satclip.encodings import create_encoding, list_encodings
from satclip.errors import InputError
from satclip.pretrained import list_pretrained, load

FeatureFn = Callable[[np.ndarray], np.ndarray]
_SH = re.compile(r"^sh(\d+)$")


def _encoding_features(name: str, **params: object) -> FeatureFn:
    enc = create_encoding(name, **params)

    def features(lonlat: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return enc(torch.from_numpy(np.asarray(lonlat, dtype=np.float64))).numpy()

    return features


def _model_features(name_or_path: str) -> FeatureFn:
    model = load(name_or_path)
    return lambda lonlat: model.embed_array(lonlat).astype(np.float64)


def _geoclip_features() -> FeatureFn:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    geoclip = require("geoclip", "geoclip", "the geoclip encoder")
    model = geoclip.LocationEncoder().eval()

    def features(lonlat: np.ndarray) -> np.ndarray:
        latlon = torch.from_numpy(np.asarray(lonlat, dtype=np.float32)[:, ::-1].copy())  # GeoCLIP: (lat, lon)
        with torch.no_grad():
            return torch.cat([model(b) for b in latlon.split(8192)]).numpy().astype(np.float64)

    return features


def resolve_encoder(name: str) -> FeatureFn:
    """A function (N, 2) lon/lat degrees → (N, D) float64 features for an encoder name."""
    if name == "geoclip":
        return _geoclip_features()
    m = _SH.match(name)
    if m:
        return _encoding_features("sphericalharmonics", legendre_polys=int(m.group(1)))
    if name in list_encodings() and name != "sphericalharmonics":
        return _encoding_features(name)
    if name in list_pretrained() or Path(name).exists():
        return _model_features(name)
    valid = ["sh<L> (e.g. sh10, sh40)", *[e for e in list_encodings() if e != "sphericalharmonics"]]
    raise InputError(
        f"unknown encoder {name!r}; valid: {', '.join(valid)}, geoclip, a model file path, "
        f"or a pretrained name ({', '.join(list_pretrained())})"
    )
