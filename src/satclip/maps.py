"""Maps of an embedding, of the world or of a bbox: its first three principal components as RGB
(the SatCLIP paper's figure 1 style). Needs matplotlib."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from satclip._compat import renamed, warn_renamed
from satclip._files import save_figure
from satclip._pca import Pca, fit_batches
from satclip.embedder import Embedder, at_time
from satclip.errors import InputError
from satclip.geography import land_mask
from satclip.pretrained import ModelSpec, resolve
from satclip.raster.grid import check_bbox


@dataclass(frozen=True)
class PcaColours:
    """``rgb = clip((pca.apply(embedding) - lo) / (hi - lo), 0, 1)``: three principal components
    scaled between their 1st and 99th percentiles on the rows they were fitted on."""

    pca: Pca
    lo: np.ndarray  # (3,)
    hi: np.ndarray  # (3,)

    @classmethod
    def fit(cls, embeddings: np.ndarray, fit: np.ndarray | None = None) -> PcaColours:
        """Fitted on the rows of (N, D) ``embeddings`` selected by the boolean ``fit`` (default
        all): the components on every ``len(selected) // 50_000``-th selected row (all of them
        below 100,000), each with its largest-|entry| positive so that colours are reproducible;
        the percentiles on every selected row."""
        emb = _floating(embeddings)
        ref = emb if fit is None else emb[fit]
        # A strided subsample: the fit's cost stays bounded on a fine global grid.
        pca = fit_batches([ref[:: max(1, len(ref) // 50_000)]], min(3, emb.shape[1]))
        pcs = pca.apply(ref)
        return cls(pca, np.percentile(pcs, 1, axis=0), np.percentile(pcs, 99, axis=0))

    @property
    def scale(self) -> np.ndarray:
        """(3,) the divisor of each component, never zero."""
        return np.maximum(self.hi - self.lo, 1e-12)

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """``(A, c)`` with ``rgb = clip(embedding @ A.T + c, 0, 1)``: A (3, D), c (3,), float64."""
        a = self.pca.components / self.scale[:, None]
        return a, -(self.pca.mean @ self.pca.components.T + self.lo) / self.scale

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, D) → (N, 3) colours in [0, 1]."""
        pcs = self.pca.apply(_floating(embeddings))
        return np.clip((pcs - self.lo) / self.scale, 0, 1)


def _floating(embeddings: np.ndarray) -> np.ndarray:
    emb = np.asarray(embeddings)
    # Integers would be projected in integer arithmetic; anything else keeps its precision.
    return emb.astype(np.result_type(emb.dtype, np.float32), copy=False)


def pca_rgb(embeddings: np.ndarray, fit: np.ndarray | None = None) -> np.ndarray:
    """(N, D) → (N, 3) in [0, 1]: the first three principal components of the rows selected by
    the boolean ``fit`` (default all), each scaled between its 1st and 99th percentiles there
    (:class:`PcaColours`)."""
    return PcaColours.fit(embeddings, fit)(embeddings)


WORLD = (-180.0, -90.0, 180.0, 90.0)
# Pixels across a map when no resolution is given: 0.5° for the whole world.
_DEFAULT_WIDTH_PX = 720


def map_grid(bbox: Sequence[float], resolution: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre longitudes (west to east) and latitudes (north to south) of a map of
    ``bbox`` (W, S, E, N degrees; east past 180 across the antimeridian) at about
    ``resolution`` degrees (default: 720 pixels across), adjusted so that whole pixels fill it."""
    w, s, e, n = check_bbox(bbox)
    res = (e - w) / _DEFAULT_WIDTH_PX if resolution is None else resolution
    if not 0 < res <= 30:
        raise InputError(f"resolution must be in (0, 30] degrees, got {res}")
    nx, ny = max(1, round((e - w) / res)), max(1, round((n - s) / res))
    lons = w + (np.arange(nx) + 0.5) * (e - w) / nx
    lats = n - (np.arange(ny) + 0.5) * (n - s) / ny
    return lons, lats


def map_rgb(
    model: Embedder | ModelSpec,
    bbox: Sequence[float] = WORLD,
    resolution: float | None = None,
    land_only: bool = True,
) -> np.ndarray:
    """(H, W, 3) PCA colours of the embedding on a grid of pixel centres over ``bbox`` (row 0
    north; see :func:`map_grid`).

    With ``land_only`` (the land mask is fetched once, see :mod:`satclip.geography`) the components are fitted on
    land, where a land-only model was trained, and the oceans are drawn faded: otherwise the
    untrained oceans dominate the components. A map with almost no land is fitted on every pixel."""
    return maps_rgb([resolve(model)], bbox, resolution, land_only)[0]


def maps_rgb(
    models: Sequence[Embedder], bbox: Sequence[float], resolution: float | None, land_only: bool
) -> list[np.ndarray]:
    """:func:`map_rgb` of several models of one embedding space (a seasonal model at several
    months) with one set of components, fitted on all of them: the same colour is the same
    embedding in every map, so that the maps show what changes."""
    lons, lats = map_grid(bbox, resolution)
    lon_g, lat_g = np.meshgrid(lons, lats)
    # In the model's precision: colours need no more, and a float64 copy of a 720 x 720 map's
    # embeddings took 1 GB and 2 s.
    emb = np.concatenate([m.embed_grid(lons, lats).reshape(lon_g.size, -1) for m in models])
    land = None
    if land_only:
        land = land_mask()(np.where(lon_g > 180, lon_g - 360, lon_g).ravel(), lat_g.ravel())
        if land.sum() < 10:  # open ocean: nothing to fit on land
            land = None
    fit = None if land is None else np.tile(land, len(models))
    rgb = pca_rgb(emb, fit)
    if fit is not None:
        rgb[~fit] = 0.25 * rgb[~fit] + 0.75  # faded towards white
    return [part.reshape(len(lats), len(lons), 3) for part in np.split(rgb, len(models))]


@renamed(encoder="model")
def embedding_map(
    model: Embedder | ModelSpec,
    bbox: Sequence[float] = WORLD,
    resolution: float | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    land_only: bool = True,
    coastlines: bool = True,
    compare: Embedder | ModelSpec | None = None,
    compare_title: str | None = None,
    month: int | None = None,
    compare_month: int | None = None,
) -> Path:
    """Write to ``out`` a PNG of the embedding's first three principal components over the
    globe, or over ``bbox`` (W, S, E, N degrees; east past 180 across the antimeridian).
    ``resolution`` is in degrees per pixel (default: 720 pixels across, 0.5° for the world); the
    components are fitted on the map's own pixels. ``model`` and ``compare`` are loaded models
    or what :func:`satclip.load` takes. The arguments come in the order of
    :func:`satclip.raster.embedding_raster`'s: model, bbox, resolution, out (before 0.2 ``out``
    came second; that call still works, with a ``FutureWarning``).

    ``coastlines`` draws Natural Earth 1:110m coasts (the ``land-110m`` source, fetched from
    npm once). ``compare`` puts a second model's map beside the first; each map has its own
    components, as two embedding spaces share no axes.

    A seasonal model is mapped at ``month`` (1-12; default its annual embedding), and
    ``compare`` at ``compare_month``. ``compare_month`` without ``compare`` maps the same model
    at the second month beside the first, both coloured by one set of components, so that the
    colours that change are the seasons.
    """
    if isinstance(bbox, str | os.PathLike):  # the 0.1 order: embedding_map(model, out, resolution, title)
        warn_renamed("embedding_map()", "embedding_map(model, out, ...)", "embedding_map(model, out=...)")
        title = title if out is None else str(out)
        out, bbox = bbox, WORLD
    if out is None:
        raise InputError("embedding_map() needs out=, the PNG file to write")
    encoder = resolve(model)
    from matplotlib.figure import Figure

    same_space = compare is None and compare_month is not None
    first_title = title or "embedding: first three principal components as RGB"
    panels = [(at_time(encoder, month), first_title + (f", month {month}" if month else ""))]
    if compare is not None or same_space:
        second = encoder if compare is None else resolve(compare)
        label = compare_title or (title or "" if same_space else "second model")
        panels.append(
            (at_time(second, compare_month), label + (f", month {compare_month}" if compare_month else ""))
        )
    lines: tuple[np.ndarray, ...] = ()
    if coastlines:
        from satclip.coastlines import coastlines as load_coastlines

        lines = load_coastlines()
    w, s, e, n = check_bbox(bbox)
    height = min(max(10 * (n - s) / (e - w), 3.0), 14.0) + 0.3
    fig = Figure(figsize=(10 * len(panels), height))
    axes = fig.subplots(1, len(panels), squeeze=False)
    if same_space:
        images = maps_rgb([enc for enc, _ in panels], bbox, resolution, land_only)
    else:
        images = [map_rgb(enc, bbox, resolution, land_only) for enc, _ in panels]
    for ax, (_, label), image in zip(axes[0], panels, images, strict=True):
        ax.imshow(image, extent=(w, e, s, n), interpolation="nearest")
        for line in lines:
            ax.plot(line[:, 0], line[:, 1], color="black", linewidth=0.4)
            if e > 180:  # across the antimeridian: the coasts east of it, shifted to the map's axis
                ax.plot(line[:, 0] + 360, line[:, 1], color="black", linewidth=0.4)
        ax.set_xlim(w, e)
        ax.set_ylim(s, n)
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.set_title(label)
    fig.tight_layout()
    return save_figure(fig, out)
