"""The ``imagery`` reference row: the pretraining imagery itself, read at each point.

A location encoder pretrained on imagery is a compressed, smoothed memory of that imagery. This
row is the uncompressed one: the pixels of the recommended model's own sources at the point,
given to the suite's probe as features, the way MOSAIKS (Rolf et al., 2021) gives a ridge image
features of each location. An embedding that a probe on the raw imagery beats has lost, in its
smoothing, detail the imagery carried; the row was added when it did (EVALUATION.md, issue 37).

Features per point (27): for each source, the RGB mean over windows of 1 (bilinear), 3 and 9
pixels of the source's own grid centred on the point, and for the night lights also
``log1p`` of those means (brightness spans orders of magnitude). Blue Marble NG's pixels are
7.4 km at the equator, the VIIRS night lights' 19.5 km; windows narrow in longitude towards
the poles with the grid. Only imagery enters (:data:`satclip.data.bluemarble.IMAGERY`).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from satclip.errors import InputError
from satclip.geography import equirect_index, sample_equirectangular

# The recommended model's pretraining sources (MODELS.md): true colour and night lights.
SOURCES = ("bluemarble", "night-viirs")
# Sources whose brightness also enters as log1p (night lights span orders of magnitude).
LOG_SOURCES = ("night-viirs",)
# Window sides, in pixels of each source's grid; 1 is a bilinear sample at the point.
WINDOWS = (1, 3, 9)


def window_means(image: np.ndarray, lon: np.ndarray, lat: np.ndarray, side: int) -> np.ndarray:
    """Mean of a cell-registered equirectangular image over a ``side`` × ``side`` pixel window.

    Args:
        image: (H, W, C) array, pixel (0, 0) at 90° N, 180° W (as
            :func:`satclip.geography.sample_equirectangular`).
        lon: (N,) longitudes in degrees.
        lat: (N,) latitudes in degrees.
        side: odd window side in pixels; the window is centred on the pixel holding the point.

    Returns:
        (N, C) float32 means. Columns wrap around the dateline; rows clamp at the poles.
    """
    if side < 1 or side % 2 == 0:
        raise InputError(f"side must be a positive odd number of pixels, got {side}")
    h, w = image.shape[:2]
    row, col = equirect_index(lon, lat, image.shape, "cell")
    offsets = np.arange(side) - side // 2
    rows = np.clip(row[:, None] + offsets, 0, h - 1)  # (N, side)
    cols = (col[:, None] + offsets) % w
    total = np.zeros((len(col), image.shape[2]), dtype=np.float64)
    for k in range(side):  # one window row at a time: N x side x C values in memory
        total += image[rows[:, k : k + 1], cols].sum(axis=1, dtype=np.float64)
    return (total / (side * side)).astype(np.float32)


class Imagery:
    """The ``imagery`` reference row as a model: ``embed_array`` maps (N, 2) lon/lat degrees to
    (N, 27) pixel means. The suite scores it with its own probe, like an encoder (with the month
    features on a monthly task); the sources are fetched (and cached) on first use."""

    @cached_property
    def _images(self) -> dict[str, np.ndarray]:
        from satclip.data.bluemarble import load_rgb
        from satclip.sources import fetch

        return {name: load_rgb(fetch(name)) for name in SOURCES}

    def embed_array(self, lonlat: np.ndarray) -> np.ndarray:
        lonlat = np.asarray(lonlat, dtype=np.float64)
        lon, lat = lonlat[:, 0], lonlat[:, 1]
        columns = []
        for name, image in self._images.items():
            means = [
                sample_equirectangular(image, lon, lat) if side == 1 else window_means(image, lon, lat, side)
                for side in WINDOWS
            ]
            columns += means
            if name in LOG_SOURCES:
                columns += [np.log1p(m) for m in means]
        return np.concatenate(columns, axis=1).astype(np.float64)
