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
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satclip.encoder import LocationEncoder

PCA_SAMPLE = 50_000  # pixel centres the principal components are fitted on, at most
PCA_SEED = 0
PIXEL_TOLERANCE = 1e-6  # how far from a whole number of pixels a bbox side may be (float rounding)
# EPSG:4326 as GDAL writes it, so that Zarr output does not need rasterio for its CRS.
WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],'
    'AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)
_FORMATS = {".tif": "cog", ".tiff": "cog", ".zarr": "zarr"}
# COG tiles hold every band of a block of pixels (GDAL 3.10's COG driver interleaves by pixel):
# the block side is the largest power of two whose uncompressed tile stays within this size.
_COG_TILE_BYTES = 16 * 2**20
_GDAL_CACHE_BYTES = 16 * 2**20
_ZARR_CHUNK_BYTES = 16 * 2**20


@dataclass(frozen=True)
class RasterGrid:
    """A north-up EPSG:4326 grid of ``height`` x ``width`` pixels of ``resolution`` degrees."""

    west: float
    north: float
    resolution: float
    width: int
    height: int

    @classmethod
    def from_bbox(cls, bbox: Sequence[float], resolution: float) -> RasterGrid:
        """Validate a (W, S, E, N) bbox in degrees and a resolution; ``ValueError`` says what to fix."""
        if len(bbox) != 4:
            raise ValueError(f"bbox must be (west, south, east, north) in degrees, got {bbox!r}")
        w, s, e, n = (float(v) for v in bbox)
        res = float(resolution)
        if not np.isfinite([w, s, e, n]).all():
            raise ValueError(
                f"bbox {bbox!r} has a non-finite value; give (west, south, east, north) in degrees"
            )
        if not (np.isfinite(res) and res > 0):
            raise ValueError(f"resolution must be a positive number of degrees, got {resolution!r}")
        for name, v in (("west", w), ("east", e)):
            if not -180 <= v <= 180:
                raise ValueError(
                    f"bbox {name} = {v} is outside [-180, 180]; is the bbox (W, S, E, N) in degrees?"
                )
        for name, v in (("south", s), ("north", n)):
            if not -90 <= v <= 90:
                raise ValueError(
                    f"bbox {name} = {v} is outside [-90, 90]; is the bbox (W, S, E, N) in degrees?"
                )
        if w >= e:
            raise ValueError(
                f"bbox west {w} must be less than east {e}: give (W, S, E, N); a bbox across the "
                "antimeridian is not supported, write two rasters (W to 180 and -180 to E)"
            )
        if s >= n:
            raise ValueError(f"bbox south {s} must be less than north {n}: give (W, S, E, N)")
        width, height = _pixels("width", w, e, res), _pixels("height", s, n, res)
        return cls(west=w, north=n, resolution=res, width=width, height=height)

    @property
    def geotransform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL order: (west, res, 0, north, 0, -res)."""
        return (self.west, self.resolution, 0.0, self.north, 0.0, -self.resolution)

    @property
    def affine(self) -> tuple[float, float, float, float, float, float]:
        """``affine.Affine`` / rasterio order: (res, 0, west, 0, -res, north)."""
        return (self.resolution, 0.0, self.west, 0.0, -self.resolution, self.north)

    def lons(self, c0: int = 0, c1: int | None = None) -> np.ndarray:
        """Pixel-centre longitudes of columns ``c0:c1``."""
        cols = np.arange(c0, self.width if c1 is None else c1, dtype=np.float64)
        return self.west + (cols + 0.5) * self.resolution

    def lats(self, r0: int = 0, r1: int | None = None) -> np.ndarray:
        """Pixel-centre latitudes of rows ``r0:r1`` (north to south)."""
        rows = np.arange(r0, self.height if r1 is None else r1, dtype=np.float64)
        return self.north - (rows + 0.5) * self.resolution


def _pixels(what: str, lo: float, hi: float, res: float) -> int:
    n = (hi - lo) / res
    count = round(n)
    if count < 1 or abs(n - count) > PIXEL_TOLERANCE:
        # The grid hangs from the north-west corner, so the east and south edges are the ones to move.
        edge, snapped = (
            ("east", lo + np.ceil(n) * res) if what == "width" else ("south", hi - np.ceil(n) * res)
        )
        raise ValueError(
            f"bbox {what} {hi - lo:g} degrees is not a whole number of {res:g}-degree pixels ({n:.6g}); "
            f"move the {edge} edge to {snapped:.10g} or pick a resolution that divides {hi - lo:g}"
        )
    return count


@dataclass(frozen=True)
class Pca:
    """``band_k = (embedding - mean) @ components[k]``, fitted on ``sample_size`` pixel centres."""

    mean: np.ndarray  # (dim,) float64
    components: np.ndarray  # (k, dim) float64, orthonormal rows, largest-|entry| positive
    explained_variance: np.ndarray  # (k,)
    explained_variance_ratio: np.ndarray  # (k,)
    sample_size: int
    seed: int

    def apply(self, emb: np.ndarray) -> np.ndarray:
        # emb @ C.T - mean @ C.T rather than (emb - mean) @ C.T: the same projection without a
        # second tile-sized temporary. Computed in the embedding's precision.
        comps = self.components.astype(emb.dtype)
        return emb @ comps.T - (self.mean @ self.components.T).astype(emb.dtype)

    def attrs(self) -> dict[str, Any]:
        return {
            "pca_formula": "band_k = (embedding - pca_mean) @ pca_components[k]",
            "pca_mean": self.mean.tolist(),
            "pca_components": self.components.tolist(),
            "pca_explained_variance": self.explained_variance.tolist(),
            "pca_explained_variance_ratio": self.explained_variance_ratio.tolist(),
            "pca_sample_size": self.sample_size,
            "pca_seed": self.seed,
        }


def fit_pca(
    encoder: LocationEncoder, grid: RasterGrid, k: int, batch: int = 4096, sample: int = PCA_SAMPLE
) -> Pca:
    """The first ``k`` principal components of the embeddings of up to ``sample`` pixel centres.

    Every pixel when the grid has at most ``sample`` of them, else a seeded sample without
    replacement. The covariance is accumulated batch by batch (shifted by the first batch's mean
    for precision), so memory is one batch plus a (dim, dim) matrix, not the sample."""
    total = grid.width * grid.height
    if total <= sample:
        idx = np.arange(total)
    else:
        # Generator.choice without replacement costs O(sample), not O(total), for a small sample.
        idx = np.sort(np.random.default_rng(PCA_SEED).choice(total, size=sample, replace=False))
    dim, lons, lats = encoder.dim, grid.lons(), grid.lats()
    shift: np.ndarray | None = None
    s, ss = np.zeros(dim), np.zeros((dim, dim))
    for i in range(0, len(idx), batch):
        rows, cols = np.divmod(idx[i : i + batch], grid.width)
        lonlat = np.stack([lons[cols], lats[rows]], axis=1)
        e = encoder.embed_array(lonlat).astype(np.float64)
        if shift is None:
            shift = e.mean(axis=0)
        d = e - shift
        s += d.sum(axis=0)
        ss += d.T @ d
    assert shift is not None
    n = len(idx)
    mean_d = s / n
    cov = (ss - n * np.outer(mean_d, mean_d)) / max(n - 1, 1)
    evals, evecs = np.linalg.eigh(cov)  # ascending
    order = np.argsort(evals)[::-1][:k]
    comps = evecs[:, order].T
    # Eigenvectors have no sign of their own: fix one so that the output is reproducible.
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
    comps *= np.where(signs == 0, 1.0, signs)[:, None]
    var = np.clip(evals[order], 0, None)
    ratio = var / max(float(np.clip(evals, 0, None).sum()), np.finfo(float).tiny)
    return Pca(shift + mean_d, comps, var, ratio, n, PCA_SEED)


def _windows(grid: RasterGrid, tile: int) -> Iterator[tuple[int, int, int, int]]:
    """(row0, row1, col0, col1) of each tile, row-major; edge tiles are cut to the grid."""
    for r0 in range(0, grid.height, tile):
        for c0 in range(0, grid.width, tile):
            yield r0, min(r0 + tile, grid.height), c0, min(c0 + tile, grid.width)


def _tile_bands(
    encoder: LocationEncoder, grid: RasterGrid, window: tuple[int, int, int, int], pca: Pca | None
) -> np.ndarray:
    """(bands, rows, cols) values of one window."""
    r0, r1, c0, c1 = window
    lon, lat = np.meshgrid(grid.lons(c0, c1), grid.lats(r0, r1))
    emb = encoder.embed_array(np.stack([lon.ravel(), lat.ravel()], axis=1))
    if pca is not None:
        emb = pca.apply(emb)
    return emb.T.reshape(emb.shape[1], r1 - r0, c1 - c0)


def embedding_raster(
    encoder: LocationEncoder,
    bbox: tuple[float, float, float, float],
    resolution: float,
    out: str | os.PathLike[str],
    pca: int | None = None,
    tile: int = 256,
    progress: bool = True,
) -> Path:
    """Write the embeddings of every pixel centre of ``bbox`` (W, S, E, N degrees) at ``resolution``
    degrees to ``out``: a Cloud-Optimised GeoTIFF for ``.tif``/``.tiff``, a Zarr v3 store for ``.zarr``.

    Bands are the embedding dimensions (``emb_0``...), or with ``pca=k`` the first k principal
    components (``pc_0``...) fitted once on up to 50,000 seeded pixel centres of the bbox; the fit is
    stored as ``pca_mean``/``pca_components`` metadata, with ``band_k = (embedding - pca_mean) @
    pca_components[k]``. Each side of the bbox must be a whole number of pixels (to within 1e-6 of
    a pixel); the grid's east and south edges are then ``W + width*res`` and ``N - height*res``.
    Values are float32 (float64 for a float64 encoder). Embeddings are computed ``tile`` x ``tile``
    pixels at a time, so memory does not grow with the raster; a GeoTIFF needs up to about twice the
    raster's uncompressed size in disk space next to ``out`` while it is written (an uncompressed
    staging file with overviews, then the compressed COG). Returns ``out`` as a Path.
    """
    out = Path(out)
    kind = _FORMATS.get(out.suffix.lower())
    if kind is None:
        raise ValueError(f"{out}: unsupported output type {out.suffix!r}; use .tif, .tiff (COG) or .zarr")
    grid = RasterGrid.from_bbox(bbox, resolution)
    if not _is_int(tile) or tile < 1:
        raise ValueError(f"tile must be a positive number of pixels, got {tile!r}")
    if pca is not None and (not _is_int(pca) or not 1 <= pca <= encoder.dim):
        raise ValueError(
            f"pca must be a number of components from 1 to the embedding dimension {encoder.dim}, "
            f"got {pca!r}; use pca=None for the raw embedding"
        )
    _check_target(out, kind)
    _require(kind)

    dtype = np.dtype(np.float64 if encoder.output_dtype == np.float64 else np.float32)
    fit = fit_pca(encoder, grid, pca, batch=min(4096, tile * tile)) if pca is not None else None
    names = [f"pc_{i}" for i in range(pca)] if pca is not None else [f"emb_{i}" for i in range(encoder.dim)]
    attrs: dict[str, Any] = {
        "satclip_bbox": [grid.west, float(bbox[1]), float(bbox[2]), grid.north],
        "satclip_resolution": grid.resolution,
        "satclip_bands": "pca" if fit is not None else "embedding",
        "satclip_encoder": encoder.config.to_dict(),
        "satclip_pixel": "value at the pixel centre",
        **(fit.attrs() if fit is not None else {}),
    }
    blocks = ((w, _tile_bands(encoder, grid, w, fit).astype(dtype, copy=False)) for w in _windows(grid, tile))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    bar = _bar(grid.width * grid.height, progress)
    try:
        tmp_out = tmpdir / out.name
        if kind == "cog":
            _write_cog(tmpdir, tmp_out, grid, names, dtype, attrs, blocks, bar)
        else:
            _write_zarr(tmp_out, grid, names, dtype, attrs, blocks, tile, bar)
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
        raise FileExistsError(f"{out} exists and is not a Zarr store; remove it or choose another name")
    if kind == "cog" and out.is_dir():
        raise IsADirectoryError(f"{out} is a directory; remove it or choose another name")


def _require(kind: str) -> None:
    try:
        if kind == "cog":
            import rasterio  # noqa: F401
        else:
            import zarr

            if int(zarr.__version__.split(".")[0]) < 3:
                raise ImportError(f"zarr {zarr.__version__} is too old")
    except ImportError as e:
        need = (
            "rasterio: pip install 'satclip[raster]'"
            if kind == "cog"
            else "zarr>=3: pip install 'satclip[raster]'"
        )
        raise ImportError(f"writing {'a GeoTIFF' if kind == 'cog' else 'Zarr'} needs {need} ({e})") from e


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


def _cog_blocksize(bands: int, itemsize: int) -> int:
    side = 512
    while side > 128 and side * side * bands * itemsize > _COG_TILE_BYTES:
        side //= 2
    return side  # the COG driver's minimum is 128


def _overview_factors(width: int, height: int, blocksize: int) -> list[int]:
    """2, 4, ... until a level fits in one block, as the COG driver's OVERVIEWS=AUTO would do."""
    factors: list[int] = []
    while max(width, height) / (factors[-1] if factors else 1) > blocksize:
        factors.append(2 * factors[-1] if factors else 2)
    return factors


def _write_cog(
    tmpdir: Path,
    dst_path: Path,
    grid: RasterGrid,
    names: list[str],
    dtype: np.dtype,
    attrs: dict[str, Any],
    blocks: Iterator[tuple[tuple[int, int, int, int], np.ndarray]],
    bar: Any,
) -> None:
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import Affine
    from rasterio.windows import Window

    # The COG driver writes overviews first and tiles in a fixed order, so tiles cannot be
    # written there directly: stage an uncompressed, band-interleaved tiled GeoTIFF (a window
    # write fills whole single-band blocks) and convert it.
    stage = tmpdir / "stage.tif"
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": len(names),
        "dtype": dtype.name,
        "crs": "EPSG:4326",
        "transform": Affine(*grid.affine),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "interleave": "band",
        "bigtiff": "IF_SAFER",
    }
    blocksize = _cog_blocksize(len(names), dtype.itemsize)
    # GDAL's block cache defaults to 5% of RAM, and converting a many-band file keeps several times
    # the cache in use (at 256 bands, 64 MB of cache peaked near 500 MB, 16 MB near 170 MB, with
    # no loss of speed): a small cache keeps GDAL's memory like ours, independent of the raster.
    with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_BYTES):
        with rasterio.open(stage, "w", **profile) as dst:
            dst.update_tags(**{k: v if isinstance(v, str) else json.dumps(v) for k, v in attrs.items()})
            for i, name in enumerate(names, start=1):
                dst.set_band_description(i, name)
            for (r0, r1, c0, c1), block in blocks:
                dst.write(block, window=Window(c0, r0, c1 - c0, r1 - r0))
                bar.update((r1 - r0) * (c1 - c0))
                del block  # not held while the next tile is embedded
            # Overviews built here, band by band, rather than by the COG driver: it resamples all
            # bands of a pixel-interleaved copy at once, in memory that grows with the raster's
            # width, and 10x more slowly at 256 bands. Averaging is linear, so an overview pixel
            # is the mean embedding (or PCA value) of the pixels it covers.
            factors = _overview_factors(grid.width, grid.height, blocksize)
            if factors:
                dst.build_overviews(factors, Resampling.average)
        rio_copy(
            stage,
            dst_path,
            driver="COG",
            BLOCKSIZE=blocksize,
            COMPRESS="DEFLATE",
            PREDICTOR="YES",  # floating-point predictor
            OVERVIEWS="FORCE_USE_EXISTING" if factors else "NONE",
            BIGTIFF="IF_SAFER",
            NUM_THREADS="ALL_CPUS",
        )
    stage.unlink()


def _write_zarr(
    dst_path: Path,
    grid: RasterGrid,
    names: list[str],
    dtype: np.dtype,
    attrs: dict[str, Any],
    blocks: Iterator[tuple[tuple[int, int, int, int], np.ndarray]],
    tile: int,
    bar: Any,
) -> None:
    import zarr

    geo = {
        "crs": "EPSG:4326",
        "crs_wkt": WGS84_WKT,
        "geotransform": list(grid.geotransform),
        "transform": list(grid.affine),
        "band_names": names,
    }
    root = zarr.open_group(store=str(dst_path), mode="w", zarr_format=3)
    root.attrs.update({**geo, **attrs})
    # Dimension names and 1-D band/lat/lon arrays make xarray.open_zarr give labelled coordinates;
    # the CF grid-mapping variable lets rioxarray pick up the CRS (xarray: decode_coords="all").
    crs_var = root.create_array("spatial_ref", shape=(), dtype="int32", fill_value=0)
    crs_var.attrs.update(
        {
            "grid_mapping_name": "latitude_longitude",
            "crs_wkt": WGS84_WKT,
            "spatial_ref": WGS84_WKT,
            "GeoTransform": " ".join(repr(v) for v in grid.geotransform),
        }
    )
    for name, values, axis in (("lon", grid.lons(), "longitude"), ("lat", grid.lats(), "latitude")):
        coord = root.create_array(name, shape=values.shape, dtype="float64", dimension_names=(name,))
        coord[:] = values
        coord.attrs.update(
            {"standard_name": axis, "units": f"degrees_{'east' if name == 'lon' else 'north'}"}
        )
    band = root.create_array("band", shape=(len(names),), dtype=str, dimension_names=("band",))
    band[:] = np.array(names)
    # Chunks of a tile's pixels and at most 16 MiB of bands, written one at a time: zarr keeps a
    # couple of copies of each chunk it encodes, so a smaller chunk keeps the peak near one tile.
    bands = len(names)
    band_chunk = max(1, min(bands, _ZARR_CHUNK_BYTES // (tile * tile * dtype.itemsize)))
    # NaN fill: a chunk that was never written reads as NaN, not as a plausible 0.
    arr = root.create_array(
        "embedding",
        shape=(bands, grid.height, grid.width),
        chunks=(band_chunk, min(tile, grid.height), min(tile, grid.width)),
        dtype=dtype,
        fill_value=float("nan"),
        dimension_names=("band", "lat", "lon"),
    )
    arr.attrs.update({**geo, "grid_mapping": "spatial_ref"})
    # Tiles match chunks, so every chunk is encoded and written exactly once.
    for (r0, r1, c0, c1), block in blocks:
        for b0 in range(0, bands, band_chunk):
            arr[b0 : b0 + band_chunk, r0:r1, c0:c1] = block[b0 : b0 + band_chunk]
        bar.update((r1 - r0) * (c1 - c0))
        del block  # not held while the next tile is embedded


def _bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm  # the raster extra brings it (through io)

    return tqdm(total=total, unit=" px", unit_scale=True, desc="embedding raster", disable=not enabled)
