"""Input tables for ``satclip embed``: CSV, Parquet, GeoParquet and OGR vector files (GeoJSON,
GeoPackage, FlatGeobuf, Shapefile), streamed as fixed-size Arrow tables with the (lon, lat)
point of every row.

Rows come from lon/lat columns, or from a geometry column (WKB, any CRS) reduced to one point
per row by :mod:`satclip.io.points`. Nothing is read whole: CSV and Parquet through pyarrow's
streaming readers, vector files through GDAL's Arrow stream (pyogrio).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satclip._coords import check_lonlat_array

OGR_SUFFIXES = {".geojson", ".json", ".gpkg", ".fgb", ".shp", ".geojsonl", ".geojsons"}
TABLE_SUFFIXES = {".csv", ".txt", ".parquet", ".geoparquet"}


def require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"this needs {module.split('.')[0]}: pip install 'satclip[{extra}]'") from e


@dataclass(frozen=True)
class Geometry:
    """The geometry column an input carries: its name and CRS (PROJJSON dict, or None = lon/lat)."""

    column: str
    crs: dict[str, Any] | None


@dataclass
class Chunk:
    """Consecutive input rows: their columns, their (lon, lat) and the index of the first."""

    table: Any  # pyarrow.Table
    lonlat: np.ndarray
    first_row: int


class InputTable:
    """One input file, with the columns or geometry its points come from.

    ``lon_col``/``lat_col`` name coordinate columns; ``geometry_col`` a WKB geometry column.
    Left as None, a file with a geometry (GeoParquet, vector files) uses it unless it also has
    ``lon`` and ``lat`` columns, and any other file uses ``lon`` and ``lat``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        lon_col: str | None = None,
        lat_col: str | None = None,
        geometry_col: str | None = None,
    ) -> None:
        require("pyarrow", "io")
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such input file")
        suffix = self.path.suffix.lower()
        if suffix not in OGR_SUFFIXES | TABLE_SUFFIXES:
            raise ValueError(
                f"{self.path}: unsupported input type {suffix!r}; use .csv, .parquet (GeoParquet too), "
                ".geojson, .gpkg, .fgb or .shp"
            )
        self.kind = "ogr" if suffix in OGR_SUFFIXES else "csv" if suffix in (".csv", ".txt") else "parquet"
        self.columns, self.total_rows, geometry = self._inspect()
        if geometry_col is not None and lon_col is None and lat_col is None:
            if geometry_col not in self.columns:
                raise ValueError(
                    f"{self.path}: no geometry column {geometry_col!r}; columns are {self.columns}"
                )
            crs = geometry.crs if geometry else None
            geometry = Geometry(geometry_col, crs)
            self.coords: tuple[str, str] | None = None
        elif lon_col is None and lat_col is None and geometry and not {"lon", "lat"} <= set(self.columns):
            self.coords = None
        else:
            self.coords = (lon_col or "lon", lat_col or "lat")
            geometry = geometry if geometry and geometry.column in self.columns else None
            missing = [c for c in self.coords if c not in self.columns]
            if missing:
                raise ValueError(
                    f"{self.path}: no column(s) {missing}; columns are {self.columns}. Name them with "
                    "--lon-col / --lat-col, or --geometry-col for a geometry column"
                )
        self.geometry = geometry

    def _inspect(self) -> tuple[list[str], int | None, Geometry | None]:
        if self.kind == "csv":
            with self.path.open() as f:
                header = f.readline().strip().split(",")
            return [h.strip().strip('"') for h in header], None, None
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            try:
                pf = pq.ParquetFile(self.path)
            except Exception as e:
                raise ValueError(f"{self.path}: not a readable Parquet file: {e}") from None
            return pf.schema_arrow.names, pf.metadata.num_rows, _geoparquet_geometry(pf.schema_arrow.metadata)
        pyogrio = require("pyogrio", "geo")
        try:
            info = pyogrio.read_info(self.path)
        except Exception as e:
            raise ValueError(f"{self.path}: not a readable vector file: {e}") from None
        geom_name = info["geometry_name"] or "wkb_geometry"
        crs = _crs_json(info["crs"]) if info["crs"] else None
        n = int(info["features"]) if info["features"] >= 0 else None
        return [*info["fields"], geom_name], n, Geometry(geom_name, crs)

    def _batches(self, rows: int) -> Iterator[Any]:
        import pyarrow as pa

        if self.kind == "parquet":
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(self.path).iter_batches(batch_size=rows)
        elif self.kind == "csv":
            import pyarrow.csv as pacsv

            types = {c: pa.string() for c in self.coords or ()}
            try:
                reader = pacsv.open_csv(
                    self.path,
                    read_options=pacsv.ReadOptions(block_size=1 << 22),
                    # Read as text so that a bad value can be reported with its row (_float_column).
                    convert_options=pacsv.ConvertOptions(column_types=types),
                )
            except pa.ArrowInvalid as e:
                raise ValueError(f"{self.path}: not a readable CSV file: {e}") from None
            yield from reader
        else:
            from pyogrio.raw import open_arrow

            with open_arrow(self.path, batch_size=rows, use_pyarrow=True) as (_, reader):
                yield from reader

    def chunks(self, rows: int, skip: int = 0) -> Iterator[Chunk]:
        """Tables of ``rows`` rows (the last may be shorter), starting after ``skip`` rows."""
        import pyarrow as pa

        first = skip
        try:
            for table in _rebatch(self._batches(rows), rows, skip):
                yield Chunk(table, self._lonlat(table, first), first)
                first += table.num_rows
        except pa.ArrowInvalid as e:
            raise ValueError(f"{self.path}: cannot read values: {e}") from None

    def _lonlat(self, table: Any, first_row: int) -> np.ndarray:
        if self.coords is not None:
            lonlat = np.stack([_float_column(table, c, first_row, self.path) for c in self.coords], axis=1)
        else:
            import shapely

            assert self.geometry is not None
            wkb = table.column(self.geometry.column).to_numpy(zero_copy_only=False)
            try:
                geoms = shapely.from_wkb(wkb)
            except shapely.errors.GEOSException as e:
                raise ValueError(
                    f"{self.path}: rows from {first_row}: unreadable WKB geometry: {e}"
                ) from None
            from satclip.io.points import representative_lonlat

            try:
                lonlat = representative_lonlat(geoms, self.geometry.crs, first_row)
            except ValueError as e:
                raise ValueError(f"{self.path}: {e}") from None
        try:
            check_lonlat_array(lonlat, offset=first_row)
        except ValueError as e:
            raise ValueError(f"{self.path}: {e} (rows count data rows from 0)") from None
        return lonlat


def _rebatch(batches: Iterator[Any], rows: int, skip: int) -> Iterator[Any]:
    """Record batches of any sizes → tables of exactly ``rows`` rows, after dropping ``skip``."""
    import pyarrow as pa

    buf: list[Any] = []
    n = 0
    for b in batches:
        if skip:
            if b.num_rows <= skip:
                skip -= b.num_rows
                continue
            b, skip = b.slice(skip), 0
        buf.append(b)
        n += b.num_rows
        while n >= rows:
            t = pa.Table.from_batches(buf)
            yield t.slice(0, rows)
            rest = t.slice(rows)
            buf, n = rest.to_batches(), rest.num_rows
    if n:
        yield pa.Table.from_batches(buf)


def _float_column(table: Any, name: str, first_row: int, src: Path) -> np.ndarray:
    """A column as float64; a value that is not a number raises naming its row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            col = pc.cast(col, pa.float64())
        except pa.ArrowInvalid:
            for i, v in enumerate(col.to_pylist()):
                try:
                    float(v)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{src}: row {first_row + i}: {name} value {v!r} is not a number "
                        "(rows count data rows from 0)"
                    ) from None
            raise
    elif not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
        raise ValueError(f"{src}: column {name} has type {col.type}, expected numbers in degrees")
    if col.null_count:
        i = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"{src}: row {first_row + i}: {name} is empty (rows count data rows from 0)")
    return col.to_numpy().astype(np.float64)


def _crs_json(crs: Any) -> dict[str, Any]:
    from pyproj import CRS

    return CRS.from_user_input(crs).to_json_dict()


def _geoparquet_geometry(metadata: dict[bytes, bytes] | None) -> Geometry | None:
    """The primary column of GeoParquet ``geo`` metadata (WKB only); its CRS defaults to CRS84."""
    if not metadata or b"geo" not in metadata:
        return None
    geo = json.loads(metadata[b"geo"])
    name = geo.get("primary_column", "geometry")
    col = geo.get("columns", {}).get(name, {})
    if col.get("encoding", "WKB").upper() != "WKB":
        raise ValueError(
            f"GeoParquet geometry encoding {col.get('encoding')!r} is not supported; write it as WKB "
            "(geopandas: gdf.to_parquet(path, geometry_encoding='WKB'))"
        )
    # Absent "crs" means OGC:CRS84 (lon/lat) by the GeoParquet specification.
    return Geometry(name, col.get("crs"))
