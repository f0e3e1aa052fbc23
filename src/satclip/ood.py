"""Where was a model never trained? Per point: the great-circle distance in km to the nearest
pretraining location, and whether the point is on water.

The pretraining locations travel with the model (``encoder.training_index``, saved in the model
file by training's export). A land-only model has never seen the open ocean and an embedding far
from every training point is an extrapolation of the spherical harmonics: downstream users
should know. Needs scikit-learn (KD-tree); ``on_water`` fetches the land mask once (:mod:`satclip.geography`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satclip._compat import renamed
from satclip._coords import as_lonlat_array
from satclip.embedder import Embedder
from satclip.errors import InputError
from satclip.geography import EARTH_RADIUS_KM, land_mask, unit_vectors
from satclip.pretrained import ModelSpec, resolve


class OODIndex:
    """Nearest-training-point distances (KD-tree on unit vectors) and the land mask.

    Straight-line (chord) distance on the unit sphere is monotone in great-circle distance, so a
    Euclidean KD-tree finds the true nearest point, and ``2 R asin(chord / 2)`` gives its km.
    """

    def __init__(self, training_lonlat: np.ndarray, water: bool = True) -> None:
        from sklearn.neighbors import KDTree

        pts = np.asarray(training_lonlat, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
            raise InputError(
                f"training index must be a non-empty (K, 2) lon/lat array, got shape {pts.shape}"
            )
        self.tree = KDTree(unit_vectors(pts[:, 0], pts[:, 1]))
        self.water = water

    @classmethod
    def for_model(cls, model: Embedder | ModelSpec, water: bool = True) -> OODIndex:
        """The index of the locations ``model`` (a model or what :func:`satclip.load` takes) was
        pretrained on."""
        index = resolve(model).training_index
        if index is None:
            raise InputError(
                "this model file carries no training index (the locations it was pretrained on), so "
                "out-of-distribution flags cannot be computed; attach them with "
                "satclip.save(model, out, training_index=lonlat) or use a model exported by satclip train"
            )
        return cls(index, water)

    def __call__(self, lonlat: np.ndarray) -> dict[str, np.ndarray]:
        """(N, 2) → ``ood_km`` (float32, km to the nearest training location) and ``on_water``."""
        chord, _ = self.tree.query(unit_vectors(lonlat[:, 0], lonlat[:, 1]), k=1)
        km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord[:, 0] / 2.0, 0.0, 1.0))
        out = {"ood_km": km.astype(np.float32)}
        if self.water:
            out["on_water"] = ~land_mask()(lonlat[:, 0], lonlat[:, 1])
        return out


@renamed(encoder="model")
def ood_flags(model: Embedder | ModelSpec, lon: Any, lat: Any) -> dict[str, np.ndarray]:
    """``ood_km`` and ``on_water`` for points given like :meth:`LocationEncoder.embed`."""
    return OODIndex.for_model(model)(as_lonlat_array(lon, lat))
