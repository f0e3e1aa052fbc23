"""Other libraries' location encoders behind satclip's :class:`~satclip.embedder.Embedder`.

``satclip.load("geoclip")`` gives GeoCLIP's location encoder (Vivanco Cepeda et al., NeurIPS
2023; PyPI ``geoclip``, MIT; the ``geoclip`` extra). It was learned from millions of geotagged
photos, and its wheel ships the weights, so it runs offline. GeoCLIP takes (lat, lon): the swap
happens here, so every satclip consumer passes (lon, lat) as always.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satclip._optional import require
from satclip.embedder import BatchEmbedder, BatchFn


@dataclass(frozen=True)
class Teacher:
    """A location encoder that a satclip model may be distilled from: it must itself have been
    learned from imagery (satellite or ground photos), never from maps of downstream targets
    (MODELS.md, "Pretraining input"). Its licence and attribution go into the model card."""

    learned_from: str
    licence: str
    attribution: str


TEACHERS: dict[str, Teacher] = {
    "geoclip": Teacher(
        "about 4.7 million geotagged Flickr photos (MP-16), dense where people live",
        "MIT (the geoclip package, which ships the weights)",
        "Vivanco Cepeda, Nayak and Shah, GeoCLIP: Clip-Inspired Alignment between Locations and "
        "Images for Effective Worldwide Geo-localization, NeurIPS 2023",
    ),
}

# GeoCLIP's encoder is three 1024-wide layers per scale: larger batches than satclip's own pay
# off, and 4096 rows keep each call's activations near 50 MB.
GEOCLIP_BATCH = 4096


class GeoCLIPEncoder(BatchEmbedder):
    """GeoCLIP's location encoder: (lon, lat) degrees → 512-d float32 embeddings."""

    spec: str | None = "geoclip"
    training_index: np.ndarray | None = None  # GeoCLIP's photo locations are not shipped
    config = None  # not a satclip model: nothing to rebuild it from but the geoclip package

    def __init__(self, device: str | torch.device = "cpu") -> None:
        geoclip = require("geoclip", "geoclip", "the geoclip encoder")
        self._model: Any = geoclip.LocationEncoder().eval().to(device)
        self._device = torch.device(device)
        self._weights = (
            Path(str(geoclip.__file__)).parent / "model" / "weights" / "location_encoder_weights.pth"
        )

    @property
    def dim(self) -> int:
        return 512

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    @property
    def default_batch_size(self) -> int:
        return GEOCLIP_BATCH

    def __repr__(self) -> str:
        return f"GeoCLIPEncoder(geoclip {metadata.version('geoclip')}, device={str(self._device)!r})"

    def fingerprint(self) -> str:
        """sha256 of the package version and the shipped weights file."""
        h = hashlib.sha256(f"geoclip {metadata.version('geoclip')}".encode())
        if self._weights.is_file():
            h.update(self._weights.read_bytes())
        return h.hexdigest()

    @contextmanager
    def _batches(self, rows: int) -> Iterator[BatchFn]:
        with torch.inference_mode():
            yield self._embed_batch

    def _embed_batch(self, lonlat: np.ndarray) -> np.ndarray:
        latlon = torch.from_numpy(lonlat[:, ::-1].astype(np.float32))
        return self._model(latlon.to(self._device)).cpu().numpy()
