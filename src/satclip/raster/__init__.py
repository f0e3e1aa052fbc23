"""Embedding rasters: every pixel centre of a lon/lat grid embedded, streamed tile by tile into a
Cloud-Optimised GeoTIFF (``.tif``/``.tiff``, needs rasterio) or a Zarr v3 store (``.zarr``, needs zarr).

    enc = satclip.load("satclip-bluemarble-l10")
    embedding_raster(enc, (5.9, 45.8, 10.5, 47.8), 0.01, "ch.tif", pca=3)  # Switzerland, 3 bands

The grid is EPSG:4326 with its origin at the bbox's north-west corner: pixel (row, col) covers
``[W + col*res, W + (col+1)*res] x [N - (row+1)*res, N - row*res]`` and holds the embedding of its
centre. Only one tile of embeddings is in memory at a time; the output is written under a temporary
name next to ``out`` and renamed when complete, so a failure never leaves a file with the final name.
A Zarr store opens in xarray as ``xr.open_zarr(path, decode_coords="all")``: an ``embedding``
(band, lat, lon) variable with pixel-centre ``lat``/``lon`` coordinates.

The grid is in ``satclip.raster.grid``, the writers in ``satclip.raster.cog`` and
``satclip.raster.zarr_store``; this module checks the arguments, fits the PCA and publishes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from satclip._compat import renamed
from satclip._optional import require
from satclip._pca import Pca, fit_batches
from satclip._threads import ahead
from satclip.embedder import Embedder, at_time
from satclip.errors import InputError, OutputExistsError, OutputIsDirectoryError
from satclip.pretrained import ModelSpec, resolve
from satclip.raster.cog import _write_cog
from satclip.raster.grid import PIXEL_TOLERANCE, Bands, Blocks, RasterGrid, _windows
from satclip.raster.zarr_store import _ZARR_CHUNK_BYTES, _ZARR_CODEC, WGS84_WKT, _write_zarr

__all__ = [
    "PCA_SAMPLE",
    "PCA_SEED",
    "PIXEL_TOLERANCE",
    "WGS84_WKT",
    "Pca",
    "RasterGrid",
    "embedding_raster",
    "fit_pca",
    "grid_of",
]

PCA_SAMPLE = 50_000  # pixel centres the principal components are fitted on, at most
PCA_SEED = 0
_FORMATS = {".tif": "cog", ".tiff": "cog", ".zarr": "zarr"}
_DTYPES = ("float16", "float32", "float64")  # what embedding_raster may write


def grid_of(path: str | os.PathLike[str]) -> tuple[tuple[float, float, float, float], float]:
    """The (W, S, E, N) bbox and resolution of an existing raster (GeoTIFF, or anything rasterio
    opens) whose grid an embedding raster should share pixel for pixel: north-up, square
    pixels, a geographic CRS (degrees). Anything else is a ``ValueError`` saying how to fix it."""
    rasterio = require("rasterio", "raster", "reading a raster's grid")
    with rasterio.open(path) as src:
        t, crs, width, height = src.transform, src.crs, src.width, src.height
    if crs is None or not crs.is_geographic:
        what = "no CRS" if crs is None else f"{crs.to_string()} (projected, not degrees)"
        raise InputError(
            f"{path} has {what}; an embedding raster is a lon/lat grid: warp it first "
            f"(gdalwarp -t_srs EPSG:4326 ...), or embed its pixel centres as points with satclip embed"
        )
    if t.b != 0 or t.d != 0 or t.e >= 0:
        raise InputError(
            f"{path} is not north-up (transform {tuple(t)[:6]}); warp it to a north-up grid first"
        )
    if abs(abs(t.e) - t.a) > PIXEL_TOLERANCE * t.a:
        raise InputError(
            f"{path} has pixels of {t.a:g} x {abs(t.e):g} degrees; an embedding raster has square "
            "pixels: give bbox= and resolution= instead"
        )
    west, north = t.c, t.f
    return (west, north - height * t.a, west + width * t.a, north), t.a


@renamed(encoder="model", batch="batch_size")
def fit_pca(
    model: Embedder | ModelSpec,
    grid: RasterGrid,
    k: int,
    batch_size: int | None = None,
    sample: int = PCA_SAMPLE,
) -> Pca:
    """The first ``k`` principal components of the embeddings of up to ``sample`` pixel centres.

    Every pixel when the grid has at most ``sample`` of them, else a seeded sample without
    replacement. The covariance is accumulated batch by batch (shifted by the first batch's mean
    for precision), so memory is one batch plus a (dim, dim) matrix, not the sample.
    ``batch_size`` (pixels per batch) defaults to the model's."""
    encoder = resolve(model)
    batch = batch_size or encoder.default_batch_size
    total = grid.width * grid.height
    if total <= sample:
        idx = np.arange(total)
    else:
        # Generator.choice without replacement costs O(sample), not O(total), for a small sample.
        idx = np.sort(np.random.default_rng(PCA_SEED).choice(total, size=sample, replace=False))
    lons, lats = grid.lons(), grid.lats()

    def batches() -> Iterator[np.ndarray]:
        for i in range(0, len(idx), batch):
            rows, cols = np.divmod(idx[i : i + batch], grid.width)
            yield encoder.embed_array(np.stack([lons[cols], lats[rows]], axis=1))

    return fit_batches(batches(), k, seed=PCA_SEED)


def _tile_values(
    encoder: Embedder, grid: RasterGrid, window: tuple[int, int, int, int], pca: Pca | None
) -> np.ndarray:
    """(pixels, bands) values of one window, pixels row-major."""
    r0, r1, c0, c1 = window
    # A grid: encoders that factor it by rows and columns do (see LocationEncoder.embed_grid).
    emb = encoder.embed_grid(grid.lons(c0, c1), grid.lats(r0, r1)).reshape((r1 - r0) * (c1 - c0), -1)
    return pca.apply(emb) if pca is not None else emb


# Pixels per step of _bands_first: a (256, bands) slice and its transpose stay in cache.
_TRANSPOSE_PIXELS = 256


def _bands_first(emb: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(pixels, bands) → a C-contiguous (bands, pixels) copy in ``dtype``, a slice of pixels at
    a time (the cast to a raster's float16 comes free with the copy).

    The writers take a tile's bands as contiguous planes; copied in one go from the (pixels,
    bands) embedding (or left to zarr as a strided view) the transpose reads memory a band's
    stride apart and costs ~3x this (BENCHMARKS.md, "Embedding rasters: the writer beside the
    encoder")."""
    out = np.empty((emb.shape[1], emb.shape[0]), dtype=dtype)
    for i in range(0, emb.shape[0], _TRANSPOSE_PIXELS):
        out[:, i : i + _TRANSPOSE_PIXELS] = emb[i : i + _TRANSPOSE_PIXELS].T
    return out


def _band_planes(embedded: Blocks, dtype: np.dtype) -> Blocks:
    """Tiles of (pixels, bands) values as the writers take them: (bands, rows, cols) planes in
    ``dtype``; each tile's values are let go before its planes are written."""
    for (r0, r1, c0, c1), values in embedded:
        planes = _bands_first(values, dtype).reshape(values.shape[1], r1 - r0, c1 - c0)
        del values
        yield (r0, r1, c0, c1), planes


@renamed(encoder="model")
def embedding_raster(
    model: Embedder | ModelSpec,
    bbox: tuple[float, float, float, float],
    resolution: float,
    out: str | os.PathLike[str],
    pca: int | None = None,
    tile: int = 256,
    progress: bool = True,
    dtype: str | None = None,
    month: int | None = None,
) -> Path:
    """Write the embeddings of every pixel centre of ``bbox`` (W, S, E, N degrees) at ``resolution``
    degrees to ``out``: a Cloud-Optimised GeoTIFF for ``.tif``/``.tiff``, a Zarr v3 store for ``.zarr``.

    Bands are the embedding dimensions (``emb_0``...), or with ``pca=k`` the first k principal
    components (``pc_0``...) fitted once on up to 50,000 seeded pixel centres of the bbox; the fit is
    stored as ``pca_mean``/``pca_components`` metadata, with ``band_k = (embedding - pca_mean) @
    pca_components[k]``. Each side of the bbox must be a whole number of pixels (to within 1e-6 of
    a pixel); the grid's east and south edges are then ``W + width*res`` and ``N - height*res``.
    Values are float32 (float64 for a float64 encoder), or ``dtype``: ``"float16"`` halves a Zarr
    store (values within ~0.05 % of float32's; GeoTIFFs stay float32 or float64, as not every
    reader takes half floats). Embeddings are computed ``tile`` x ``tile``
    pixels at a time, so memory does not grow with the raster; a GeoTIFF needs up to about twice the
    raster's uncompressed size in disk space next to ``out`` while it is written (an uncompressed
    staging file with overviews, then the compressed COG). Returns ``out`` as a Path. ``model``
    is a loaded model or what :func:`satclip.load` takes; a seasonal one is embedded at
    ``month`` (1-12; default its annual embedding), recorded as ``satclip_month``.
    """
    encoder = at_time(resolve(model), month)
    out = Path(out)
    kind = _FORMATS.get(out.suffix.lower())
    if kind is None:
        raise InputError(f"{out}: unsupported output type {out.suffix!r}; use .tif, .tiff (COG) or .zarr")
    grid = RasterGrid.from_bbox(bbox, resolution)
    if not _is_int(tile) or tile < 1:
        raise InputError(f"tile must be a positive number of pixels, got {tile!r}")
    if pca is not None and (not _is_int(pca) or not 1 <= pca <= encoder.dim):
        raise InputError(
            f"pca must be a number of components from 1 to the embedding dimension {encoder.dim}, "
            f"got {pca!r}; use pca=None for the raw embedding"
        )
    _check_target(out, kind)
    _require(kind)

    if dtype is None:
        dtype_ = np.dtype(np.float64 if encoder.output_dtype == np.float64 else np.float32)
    elif dtype not in _DTYPES:
        raise InputError(f"dtype must be one of {', '.join(_DTYPES)} (or None: the model's), got {dtype!r}")
    elif dtype == "float16" and kind == "cog":
        raise InputError(
            f"{out}: float16 values are written to Zarr only (not every GeoTIFF reader takes half "
            "floats); write a .zarr, or use dtype float32"
        )
    else:
        dtype_ = np.dtype(dtype)
    fit = fit_pca(encoder, grid, pca, batch_size=min(4096, tile * tile)) if pca is not None else None
    names = [f"pc_{i}" for i in range(pca)] if pca is not None else [f"emb_{i}" for i in range(encoder.dim)]
    attrs: dict[str, Any] = {
        "satclip_bbox": [grid.west, float(bbox[1]), float(bbox[2]), grid.north],
        "satclip_resolution": grid.resolution,
        "satclip_bands": "pca" if fit is not None else "embedding",
        "satclip_encoder": encoder.config.to_dict() if encoder.config is not None else {"spec": encoder.spec},
        "satclip_pixel": "value at the pixel centre",
        **({"satclip_month": month} if month is not None else {}),
        **(fit.attrs() if fit is not None else {}),
    }
    spec = Bands(grid, names, dtype_, attrs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    bar = _bar(grid.width * grid.height, progress)
    windows = list(_windows(grid, tile))

    def tiles() -> Blocks:
        # The bar counts pixels written; its note, tiles embedded (ahead of the writer).
        for i, w in enumerate(windows):
            values = _tile_values(encoder, grid, w, fit)
            bar.set_postfix_str(f"{i + 1}/{len(windows)} tiles embedded", refresh=False)
            yield w, values

    # The next tile is embedded while the writer transposes, compresses and writes this one
    # (numpy's copies, Blosc and the writes release the GIL): one tile ahead, so memory stays
    # two tiles, three while a tile's values become planes (BENCHMARKS.md, "Embedding rasters:
    # the writer beside the encoder"). The transpose is the writer's, off the encoder's path.
    try:
        with closing(ahead(tiles(), depth=1)) as embedded:
            blocks = _band_planes(embedded, dtype_)
            tmp_out = tmpdir / out.name
            if kind == "cog":
                _write_cog(tmpdir, tmp_out, spec, blocks, bar)
            else:
                # Chunk size and codec read here, at call time, so that they can be tuned on
                # satclip.raster.
                _write_zarr(tmp_out, spec, blocks, tile, bar, _ZARR_CHUNK_BYTES, _ZARR_CODEC)
        _publish(tmp_out, out)
    finally:
        bar.close()
        shutil.rmtree(tmpdir, ignore_errors=True)
    return out


def _is_int(v: object) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _check_target(out: Path, kind: str) -> None:
    """Fail before any work if ``out`` could not be replaced at the end."""
    if kind == "zarr" and out.exists() and not (out.is_dir() and (out / "zarr.json").is_file()):
        raise OutputExistsError(f"{out} exists and is not a Zarr store; remove it or choose another name")
    if kind == "cog" and out.is_dir():
        raise OutputIsDirectoryError(f"{out} is a directory; remove it or choose another name")


def _require(kind: str) -> None:
    if kind == "cog":
        require("rasterio", "raster", "writing a GeoTIFF")
    else:
        require("zarr", "raster", "writing Zarr v3", min_major=3)


def _publish(tmp: Path, out: Path) -> None:
    if tmp.is_dir() and out.exists():
        # os.replace cannot replace a non-empty directory: move the old store aside first.
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / out.name)
        try:
            os.replace(tmp, out)
        except OSError:
            os.replace(old / out.name, out)  # put the old store back
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm  # the raster extra brings it (through io)

    # Scaled units (2.6M px) for large rasters; below a thousand tqdm would show "0.00/400 px".
    return tqdm(
        total=total, unit=" px", unit_scale=total >= 1000, desc="embedding raster", disable=not enabled
    )
