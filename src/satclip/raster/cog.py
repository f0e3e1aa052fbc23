"""The Cloud-Optimised GeoTIFF writer of embedding rasters (needs rasterio)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from satclip.raster.grid import Bands, Blocks

# COG tiles hold every band of a block of pixels (GDAL 3.10's COG driver interleaves by pixel):
# the block side is the largest power of two whose uncompressed tile stays within this size.
_COG_TILE_BYTES = 16 * 2**20
_GDAL_CACHE_BYTES = 16 * 2**20


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


def _write_cog(tmpdir: Path, dst_path: Path, spec: Bands, blocks: Blocks, bar: Any) -> None:
    """Write ``blocks`` as a COG at ``dst_path``, staging an uncompressed copy in ``tmpdir``."""
    grid, names, dtype, attrs = spec.grid, spec.names, spec.dtype, spec.attrs
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
    # GDAL's block cache defaults to 5% of RAM and a many-band conversion holds several times
    # it: a small cache keeps GDAL's memory bounded like ours (BENCHMARKS.md, "Embedding rasters").
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
            # Level 3 instead of GDAL's 6: the conversion 1.55x faster for files 1 % larger
            # (256 float32 bands; BENCHMARKS.md, "Embedding rasters").
            LEVEL=3,
            OVERVIEWS="FORCE_USE_EXISTING" if factors else "NONE",
            BIGTIFF="IF_SAFER",
            NUM_THREADS="ALL_CPUS",
        )
    stage.unlink()
