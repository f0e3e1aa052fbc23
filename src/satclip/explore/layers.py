"""What the explorer draws, as arrays: the tile grid, a model's principal-component colours and
its cosine similarity to a place, on any lon/lat grid (a map tile, an exported view).

Tiles follow Leaflet's ``L.CRS.EPSG4326``: plate carrée, zoom ``z`` has 2^(z+1) x 2^z tiles of
180 / 2^z degrees, tile (0, 0) at the north-west corner. A tile's pixels are therefore a regular
lon/lat grid, which a model embeds through its exact grid path (``embed_grid``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from satclip._fold import folded, last_linear, with_head
from satclip.embedder import Embedder, at_time, is_seasonal
from satclip.encoder import LocationEncoder
from satclip.errors import InputError
from satclip.maps import PcaColours
from satclip.networks import SirenLayer

TILE = 256
MAX_ZOOM = 14  # tiles of 0.011° (~1.2 km): beyond the finest detail of any degree used today
# The grid the colours and the similarity scale are fitted on: 1° pixel centres.
_FIT_STEP = 1.0
Bbox = tuple[float, float, float, float]
# Held while registry files are fetched and fits made on first use: tiles asked for at once
# would otherwise fetch the same file side by side.
first_use = threading.Lock()


def check_tile(z: int, x: int, y: int) -> None:
    """A tile of the EPSG:4326 pyramid, or :class:`InputError` naming the valid range."""
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(f"zoom {z} is outside 0-{MAX_ZOOM}")
    if not (0 <= x < 2 ** (z + 1) and 0 <= y < 2**z):
        raise InputError(f"tile ({x}, {y}) is outside zoom {z}'s 0-{2 ** (z + 1) - 1} x 0-{2**z - 1}")


def tile_bbox(z: int, x: int, y: int) -> Bbox:
    """(W, S, E, N) degrees of tile (z, x, y)."""
    check_tile(z, x, y)
    size = 180.0 / 2**z
    w, n = -180.0 + x * size, 90.0 - y * size
    return w, n - size, w + size, n


def pixel_centres(bbox: Bbox, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes (west to east) and latitudes (north to south) of the pixel centres of a
    ``width`` x ``height`` image of ``bbox``."""
    w, s, e, n = bbox
    lons = w + (np.arange(width) + 0.5) * (e - w) / width
    lats = n - (np.arange(height) + 0.5) * (n - s) / height
    return lons, lats


def colour_lut(name: str = "viridis") -> np.ndarray:
    """(256, 3) uint8: the similarity layer's colour map (matplotlib's, no pyplot)."""
    from matplotlib import colormaps

    return (colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def colour(values: np.ndarray, vmin: float, vmax: float, lut: np.ndarray) -> np.ndarray:
    """(...) values → (..., 3) uint8 through ``lut``, ``vmin`` the first entry and ``vmax`` the
    last; NaN black."""
    scaled = (np.nan_to_num(values, nan=vmin) - vmin) / max(vmax - vmin, 1e-12)
    out = lut[np.clip(np.rint(scaled * 255), 0, 255).astype(np.intp)]
    out[np.isnan(values)] = 0
    return out


def cosine(emb: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(..., D), (D,) → (...): cosine similarity, in ``emb``'s floating precision (float32
    keeps ~1e-6 and takes a quarter of float64's time on a tile)."""
    dtype = np.result_type(emb.dtype, np.float32)
    e, r = emb.astype(dtype, copy=False), np.asarray(ref).astype(dtype)
    norms = np.sqrt(np.einsum("...d,...d->...", e, e)) * np.linalg.norm(r)
    return (e @ r) / np.maximum(norms, np.finfo(dtype).tiny)


class _CosineHead(nn.Module):
    """The last layer, then each embedding's cosine to a fixed vector: (..., H) → (..., 1).
    The embeddings stay in the grid path's blocks instead of a (pixels, D) array."""

    def __init__(self, last: SirenLayer, ref: torch.Tensor) -> None:
        super().__init__()
        self.weight, self.bias = last.weight.detach(), last.bias.detach()
        self.ref = (ref / ref.norm()).to(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        norm = torch.linalg.vector_norm(y, dim=-1).clamp_min_(torch.finfo(y.dtype).tiny)
        return (y @ self.ref / norm)[..., None]


def with_cosine(model: Embedder, ref: np.ndarray) -> LocationEncoder | None:
    """A copy of ``model`` whose output is the cosine similarity of its embedding to ``ref``
    (D,), or None where its last layer is not a plain affine SIREN layer."""
    last = last_linear(model)
    if last is None:
        return None
    assert isinstance(model, LocationEncoder)
    return with_head(model, _CosineHead(last, torch.from_numpy(np.asarray(ref))), 1)


class ModelLayers:
    """One model's layers: PCA colours fitted once on land over a 1° world grid (the annual
    embedding of a seasonal model, so that months are compared in one set of colours), cosine
    similarity to a place, and the out-of-distribution distance. Thread-safe: the model runs
    one grid at a time, on every core."""

    def __init__(self, model: Embedder, label: str) -> None:
        self.model, self.label = model, label
        self.seasonal = is_seasonal(model)
        self._lock = threading.Lock()
        self._world_lock = threading.Lock()
        self._colours: PcaColours | None = None
        self._folded: LocationEncoder | None = None
        self._world: dict[int | None, np.ndarray] = {}
        self._ood: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None
        # The last reference's cosine model: tiles of one click share it.
        self._cosine: tuple[Any, LocationEncoder | None] | None = None

    def check_month(self, month: int | None) -> None:
        if month is not None and not self.seasonal:
            raise InputError(f"{self.label} is a static model: it takes no month")

    def _grid(self, lons: np.ndarray, lats: np.ndarray, month: int | None) -> np.ndarray:
        self.check_month(month)
        with self._lock:
            return at_time(self.model, month).embed_grid(lons, lats)

    def world(self, month: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The 1° world grid's (lons, lats, embeddings), kept per month."""
        lons, lats = pixel_centres(
            (-180.0, -90.0, 180.0, 90.0), round(360 / _FIT_STEP), round(180 / _FIT_STEP)
        )
        with self._world_lock:
            if month not in self._world:
                if len(self._world) > 3:  # months are cheap to redo; memory is not unbounded
                    self._world.clear()
                self._world[month] = self._grid(lons, lats, month)
            return lons, lats, self._world[month]

    @property
    def colours(self) -> PcaColours:
        """The PCA colours, fitted on the land pixels of the annual 1° world grid."""
        if self._colours is None:  # checked again under the lock: one fit per model
            with first_use:
                if self._colours is None:
                    self._fit_colours()
        assert self._colours is not None
        return self._colours

    def _fit_colours(self) -> None:
        from satclip.geography import land_mask

        lons, lats, emb = self.world(None)
        lon_g, lat_g = np.meshgrid(lons, lats)
        land = land_mask()(lon_g.ravel(), lat_g.ravel())
        colours = PcaColours.fit(emb.reshape(land.size, -1), land)
        self._folded = folded(self.model, *colours.affine())
        self._colours = colours

    def pca(self, lons: np.ndarray, lats: np.ndarray, month: int | None) -> np.ndarray:
        """(len(lats), len(lons), 3) colours in [0, 1]."""
        colours = self.colours
        if self._folded is None:
            emb = self._grid(lons, lats, month)
            return colours(emb.reshape(-1, emb.shape[-1])).reshape(len(lats), len(lons), 3)
        self.check_month(month)
        with self._lock:
            rgb = at_time(self._folded, month).embed_grid(lons, lats)
        return np.clip(rgb, 0, 1)

    def pca_scores(self, lons: np.ndarray, lats: np.ndarray, month: int | None) -> np.ndarray:
        """(len(lats), len(lons), 3) principal-component scores (what an exported GeoTIFF holds)."""
        emb = self._grid(lons, lats, month)
        return self.colours.pca.apply(emb.reshape(-1, emb.shape[-1])).reshape(len(lats), len(lons), -1)

    def vector(self, lon: float, lat: float, month: int | None) -> np.ndarray:
        """(D,) the embedding of one place: without the grid lock (models embed from several
        threads at once), so that hovering does not wait for the tiles in the queue."""
        self.check_month(month)
        return np.asarray(at_time(self.model, month).embed(np.array([lon]), np.array([lat])))[0]

    def similarity(
        self, lons: np.ndarray, lats: np.ndarray, ref: tuple[float, float], month: int | None
    ) -> np.ndarray:
        """(len(lats), len(lons)) cosine similarity to the place ``ref`` = (lon, lat)."""
        vector = self.vector(*ref, month)
        cached = self._cosine  # one read: another thread may replace it for another place
        if cached is None or cached[0] != (ref, month):
            cached = self._cosine = ((ref, month), with_cosine(self.model, vector))
        head = cached[1]
        if head is None:
            return cosine(self._grid(lons, lats, month), vector)
        with self._lock:
            return at_time(head, month).embed_grid(lons, lats)[..., 0]

    def similarity_low(self, ref: tuple[float, float], month: int | None) -> float:
        """The 1st percentile of the similarity to ``ref`` over the 1° world grid: the bottom of
        a colour scale on which most of the world is told apart."""
        _, _, emb = self.world(month)
        return float(np.percentile(cosine(emb, self.vector(*ref, month)), 1))

    def ood(self, lon: float, lat: float) -> dict[str, Any]:
        """``ood_km`` (km to the nearest pretraining location; None where the model file carries
        no training index) and ``on_water``."""
        from satclip.geography import land_mask

        with first_use:  # fetched and built once; queried outside the lock
            is_land = land_mask()
            if self._ood is None and self.model.training_index is not None:
                from satclip.ood import OODIndex

                self._ood = OODIndex(self.model.training_index, water=False)
        on_water = not bool(is_land(np.array([lon]), np.array([lat]))[0])
        if self._ood is None:
            return {"ood_km": None, "on_water": on_water}
        km = self._ood(np.array([[lon, lat]]))["ood_km"][0]
        return {"ood_km": float(km), "on_water": on_water}


class BaseImagery:
    """The base layer: the registry's Blue Marble (5400 x 2700, plate carrée), cut into tiles."""

    def __init__(self) -> None:
        from PIL import Image

        from satclip.sources import fetch

        with Image.open(fetch("bluemarble")) as img:
            self.image = img.convert("RGB")
        self._lock = threading.Lock()  # PIL images are not safe to share across threads

    def render(self, bbox: Bbox, width: int, height: int) -> np.ndarray:
        """(height, width, 3) uint8 of ``bbox``, resampled from the image's pixels."""
        from PIL import Image

        w, s, e, n = bbox
        px, py = self.image.width / 360.0, self.image.height / 180.0
        box = ((w + 180) * px, (90 - n) * py, (e + 180) * px, (90 - s) * py)
        with self._lock:
            return np.asarray(self.image.resize((width, height), Image.Resampling.BILINEAR, box=box))
