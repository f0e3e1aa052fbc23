"""The Zarr v3 writer of embedding rasters (needs zarr>=3); opens in xarray with its CRS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from satclip.raster.grid import Bands, Blocks

# EPSG:4326 as GDAL writes it, so that Zarr output does not need rasterio for its CRS.
WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],'
    'AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)
_ZARR_CHUNK_BYTES = 16 * 2**20  # the most bytes of bands in one chunk
# How chunks are compressed: zarr's BloscCodec arguments, or None for zarr's default (zstd).
# Chosen by measurement (BENCHMARKS.md, "Embedding rasters: the writer beside the encoder").
_ZARR_CODEC: dict[str, Any] | None = {"cname": "lz4", "clevel": 5, "shuffle": "bitshuffle"}


def _write_zarr(
    dst_path: Path,
    spec: Bands,
    blocks: Blocks,
    tile: int,
    bar: Any,
    chunk_bytes: int = _ZARR_CHUNK_BYTES,
    codec: dict[str, Any] | None = _ZARR_CODEC,
) -> None:
    """Write ``blocks`` (tiles of ``tile`` x ``tile`` pixels, row-major) as a Zarr v3 store."""
    import zarr

    grid, names, dtype, attrs = spec.grid, spec.names, spec.dtype, spec.attrs
    geo: dict[str, Any] = {
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
    # Chunks of a tile's pixels and at most ``chunk_bytes`` of bands, written one at a time: zarr
    # keeps a couple of copies of each chunk it encodes, so a smaller chunk keeps the peak near one tile.
    bands = len(names)
    band_chunk = max(1, min(bands, chunk_bytes // (tile * tile * dtype.itemsize)))
    # NaN fill: a chunk that was never written reads as NaN, not as a plausible 0.
    compression: dict[str, Any] = {}
    if codec is not None:
        from zarr.codecs import BloscCodec

        compression["compressors"] = BloscCodec(**codec)
    arr = root.create_array(
        "embedding",
        shape=(bands, grid.height, grid.width),
        chunks=(band_chunk, min(tile, grid.height), min(tile, grid.width)),
        dtype=dtype,
        fill_value=float("nan"),
        dimension_names=("band", "lat", "lon"),
        **compression,
    )
    arr.attrs.update({**geo, "grid_mapping": "spatial_ref"})
    # Tiles match chunks, so every chunk is encoded and written exactly once.
    for (r0, r1, c0, c1), block in blocks:
        for b0 in range(0, bands, band_chunk):
            arr[b0 : b0 + band_chunk, r0:r1, c0:c1] = block[b0 : b0 + band_chunk]
        bar.update((r1 - r0) * (c1 - c0))
        del block  # not held while the next tile is embedded
