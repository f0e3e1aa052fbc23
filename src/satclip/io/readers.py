"""Input tables for ``satclip embed``: CSV, Parquet, GeoParquet, Excel workbooks and OGR vector
files (GeoJSON, GeoPackage, FlatGeobuf, Shapefile), streamed as fixed-size Arrow tables with the
(lon, lat) point of every row.

Rows come from lon/lat columns, or from a geometry column (WKB, any CRS) reduced to one point
per row by :mod:`satclip.io.points`. CSV and Parquet stream through pyarrow's readers and
vector files through GDAL's Arrow stream (pyogrio), never read whole; only an Excel sheet (at
most ~1 M rows) is read whole, by :mod:`satclip.io.excel`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satclip._coords import LAT_NAMES, LON_NAMES, check_lonlat_array, find_coordinate_column
from satclip._optional import require
from satclip._registry import did_you_mean
from satclip.errors import InputError, InputFileNotFoundError
from satclip.io.excel import EXCEL_SUFFIXES, read_xlsx
from satclip.io.points import is_lonlat_crs
from satclip.io.text import check_delimiter, count_csv_rows, float_column, sniff_delimiter

OGR_SUFFIXES = {".geojson", ".json", ".gpkg", ".fgb", ".shp", ".geojsonl", ".geojsons"}
TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".parquet", ".geoparquet"}


@dataclass(frozen=True)
class Geometry:
    """The geometry column an input carries: its name and CRS (PROJJSON dict, or None = lon/lat)."""

    column: str
    crs: dict[str, Any] | None


@dataclass
class Chunk:
    """Consecutive input rows: their columns and their (lon, lat)."""

    table: Any  # pyarrow.Table
    lonlat: np.ndarray


@dataclass(frozen=True)
class ReadOptions:
    """How to find the points of an input file: the options of :class:`InputTable`, in one
    value that ``embed_file``, ``evaluate``/``task_from_file`` and the command line build from
    their ``lon_col=``, ``lat_col=``, ... arguments (see :class:`InputTable` for each)."""

    lon_col: str | None = None
    lat_col: str | None = None
    geometry_col: str | None = None
    crs: Any | None = None
    delimiter: str | None = None
    sheet: str | None = None


class InputTable:
    """One input file, with the columns or geometry its points come from.

    ``lon_col``/``lat_col`` name coordinate columns; ``geometry_col`` a WKB geometry column.
    Left as None, a file with a geometry (GeoParquet, vector files) uses it unless it also has
    ``lon`` and ``lat`` columns, and any other file uses the one column whose name, in any case,
    is in ``satclip._coords.LON_NAMES`` (``lon``, ``Longitude``, ``decimalLongitude``, ...) and
    likewise ``LAT_NAMES``; two candidates for one axis are an error that names both.

    ``crs`` (anything pyproj accepts, e.g. ``"EPSG:2056"``) declares the coordinate columns'
    CRS: they are then x/y (easting, northing) and are reprojected to lon/lat; for a geometry
    input it names the CRS of a file that declares none. CSV files may have a UTF-8 byte-order
    mark (Excel), quoted headers, and a delimiter that is sniffed from ``,`` ``;`` tab ``|``
    unless ``delimiter`` is given; with a delimiter other than a comma, decimal commas
    (``48,86``) are read as decimal points. An Excel workbook's ``sheet`` (a name) is read,
    by default its first (:mod:`satclip.io.excel`).
    """

    def __init__(self, path: str | os.PathLike[str], options: ReadOptions = ReadOptions()) -> None:
        lon_col, lat_col, geometry_col = options.lon_col, options.lat_col, options.geometry_col
        crs, delimiter, sheet = options.crs, options.delimiter, options.sheet
        require("pyarrow", "io")
        self.path = Path(path)
        if not self.path.exists():
            raise InputFileNotFoundError(f"{self.path}: no such input file")
        suffix = self.path.suffix.lower()
        if suffix not in OGR_SUFFIXES | TABLE_SUFFIXES | EXCEL_SUFFIXES:
            hint = "; save it as .xlsx or CSV UTF-8" if suffix in (".xls", ".ods", ".xlsb") else ""
            raise InputError(
                f"{self.path}: unsupported input type {suffix!r}; use .csv, .parquet (GeoParquet too), "
                f".xlsx, .geojson, .gpkg, .fgb or .shp{hint}"
            )
        self.kind = (
            "ogr"
            if suffix in OGR_SUFFIXES
            else "xlsx"
            if suffix in EXCEL_SUFFIXES
            else "parquet"
            if "parquet" in suffix
            else "csv"
        )
        self._sheet: Any = None  # an Excel sheet, read whole
        self._rows_note = "(rows count data rows from 0)"  # and where row 0 is, for a sheet
        if delimiter is not None and self.kind != "csv":
            raise InputError(f"{self.path}: a delimiter applies to CSV files only")
        if sheet is not None and self.kind != "xlsx":
            raise InputError(f"{self.path}: a sheet applies to Excel workbooks only")
        self.sheet = sheet
        self.delimiter = check_delimiter(delimiter) if delimiter is not None else None
        self.columns, self.total_rows, geometry = self._inspect()
        if geometry_col is not None and lon_col is None and lat_col is None:
            if geometry_col not in self.columns:
                raise InputError(
                    f"{self.path}: no geometry column {geometry_col!r}; columns are {self.columns}"
                )
            crs = geometry.crs if geometry else None
            geometry = Geometry(geometry_col, crs)
            self.coords: tuple[str, str] | None = None
        elif lon_col is None and lat_col is None and geometry and not {"lon", "lat"} <= set(self.columns):
            self.coords = None
        else:
            self.coords = (
                lon_col or self._find_column("lon"),
                lat_col or self._find_column("lat"),
            )
            geometry = geometry if geometry and geometry.column in self.columns else None
            missing = [c for c in self.coords if c not in self.columns]
            if missing:
                raise InputError(
                    f"{self.path}: no column(s) {missing}{did_you_mean(missing[0], self.columns)}; "
                    f"columns are {self.columns}. Name them with "
                    "lon_col= / lat_col=, or geometry_col= for a geometry column (found by "
                    f"themselves, in any case: {', '.join(LON_NAMES)}; {', '.join(LAT_NAMES)})"
                )
        self.crs = None if crs is None else _crs_json(crs)
        if self.crs is not None and self.coords is None:
            assert geometry is not None
            if geometry.crs is not None and not _same_crs(geometry.crs, self.crs):
                raise InputError(
                    f"{self.path}: the file declares its CRS ({_crs_name(geometry.crs)}), which differs "
                    f"from crs={_crs_name(self.crs)}; drop crs= to use the file's own"
                )
            geometry = Geometry(geometry.column, self.crs)
        self.geometry = geometry
        self._transformer = None
        if self.crs is not None and self.coords is not None and not is_lonlat_crs(self.crs):
            from pyproj import CRS, Transformer

            self._transformer = Transformer.from_crs(
                CRS.from_json_dict(self.crs), "EPSG:4326", always_xy=True
            )

    def _find_column(self, axis: str) -> str:
        try:
            found = find_coordinate_column(self.columns, axis, f"{axis}_col=")
        except ValueError as e:
            raise InputError(f"{self.path}: {e}") from None
        return found or axis  # missing: the caller names it

    @property
    def derived_points(self) -> bool:
        """Whether the embedded points are not the input's own lon/lat columns (they come from
        geometries, or from x/y columns in another CRS): the output then says which point was used."""
        return self.coords is None or self._transformer is not None

    def _inspect(self) -> tuple[list[str], int | None, Geometry | None]:
        if self.kind == "csv":
            import pyarrow as pa

            if self.delimiter is None:
                self.delimiter = sniff_delimiter(self.path)
            try:
                # The CSV parser itself reads the header: a byte-order mark, quotes and
                # delimiters inside quotes are handled as they are for the rows.
                with self._open_csv({}) as reader:
                    names = reader.schema.names
            except (pa.ArrowInvalid, UnicodeDecodeError) as e:
                raise InputError(self._csv_error(e)) from None
            return names, count_csv_rows(self.path), None
        if self.kind == "xlsx":
            self._sheet, first = read_xlsx(self.path, self.sheet)
            self._rows_note = f"(rows count data rows from 0: row 0 is the sheet's row {first})"
            return self._sheet.column_names, self._sheet.num_rows, None
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            try:
                pf = pq.ParquetFile(self.path)
            except Exception as e:
                raise InputError(f"{self.path}: not a readable Parquet file: {e}") from None
            return pf.schema_arrow.names, pf.metadata.num_rows, _geoparquet_geometry(pf.schema_arrow.metadata)
        pyogrio = require("pyogrio", "geo")
        try:
            info = pyogrio.read_info(self.path)
        except Exception as e:
            raise InputError(f"{self.path}: not a readable vector file: {e}") from None
        geom_name = info["geometry_name"] or "wkb_geometry"
        crs = _crs_json(info["crs"]) if info["crs"] else None
        n = int(info["features"]) if info["features"] >= 0 else None
        return [*info["fields"], geom_name], n, Geometry(geom_name, crs)

    def _batches(self, rows: int) -> Iterator[Any]:
        import pyarrow as pa

        if self.kind == "parquet":
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(self.path).iter_batches(batch_size=rows)
        elif self.kind == "xlsx":
            yield from self._sheet.to_batches(max_chunksize=rows)
        elif self.kind == "csv":
            # Coordinates are read as text so that a bad value can be reported with its row
            # (float_column, satclip.io.text); they are written out as float64.
            try:
                reader = self._open_csv({c: pa.string() for c in self.coords or ()})
            except pa.ArrowInvalid as e:
                raise InputError(self._csv_error(e)) from None
            with reader:
                yield from reader
        else:
            from pyogrio.raw import open_arrow

            with open_arrow(self.path, batch_size=rows, use_pyarrow=True) as (_, reader):
                yield from reader

    def _csv_error(self, e: Exception) -> str:
        if isinstance(e, UnicodeDecodeError):
            return f"{self.path}: not UTF-8 text ({e}); save the file as UTF-8 (Excel: 'CSV UTF-8')"
        return (
            f"{self.path}: not a readable CSV file with delimiter {self.delimiter!r}: {e}; "
            "name the delimiter with delimiter= if it is another"
        )

    def _open_csv(self, types: dict[str, Any]) -> Any:
        import pyarrow.csv as pacsv

        return pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(block_size=1 << 22),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter or ","),
            convert_options=pacsv.ConvertOptions(column_types=types),
        )

    def chunks(self, rows: int, skip: int = 0) -> Iterator[Chunk]:
        """Tables of ``rows`` rows (the last may be shorter), starting after ``skip`` rows."""
        import pyarrow as pa

        first = skip
        try:
            for table in _rebatch(self._batches(rows), rows, skip):
                lonlat, table = self._lonlat(table, first)
                yield Chunk(table, lonlat)
                first += table.num_rows
        except pa.ArrowInvalid as e:
            raise InputError(f"{self.path}: cannot read values: {e}") from None
        except UnicodeDecodeError as e:
            raise InputError(self._csv_error(e)) from None

    def _lonlat(self, table: Any, first_row: int) -> tuple[np.ndarray, Any]:
        """The (n, 2) lon/lat of a table's rows, and the table with text coordinates as float64."""
        if self.coords is not None:
            import pyarrow as pa

            # A coordinate typed as text in Excel may be "48,86" (no delimiter to clash with).
            decimal_comma = (self.kind == "csv" and self.delimiter != ",") or self.kind == "xlsx"
            values, problems = [], []
            for c in self.coords:
                v, problem = float_column(table, c, first_row, self.path, decimal_comma, self._rows_note)
                if problem is not None:
                    problems.append(problem)
                elif pa.types.is_string(table.schema.field(c).type):
                    table = table.set_column(table.schema.get_field_index(c), c, pa.array(v))
                values.append(v)
            lonlat = np.stack(values, axis=1)
            # The first bad row is named, whatever its fault: rows before the first value that
            # is not a number are checked (and reprojected) first.
            first_text = min(problems) if problems else None
            if first_text is not None:
                lonlat = lonlat[: first_text[0]]
            if self._transformer is not None:
                lonlat = self._reproject(lonlat, first_row)
            if first_text is not None:
                self._check(lonlat, first_row)
                raise InputError(first_text[1])
        else:
            import shapely

            assert self.geometry is not None
            wkb = table.column(self.geometry.column).to_numpy(zero_copy_only=False)
            try:
                geoms = shapely.from_wkb(wkb)
            except shapely.errors.GEOSException as e:
                raise InputError(
                    f"{self.path}: rows from {first_row}: unreadable WKB geometry: {e}"
                ) from None
            from satclip.io.points import representative_lonlat

            try:
                lonlat = representative_lonlat(geoms, self.geometry.crs, first_row)
            except ValueError as e:
                raise InputError(f"{self.path}: {e}") from None
        self._check(lonlat, first_row)
        return lonlat, table

    def _check(self, lonlat: np.ndarray, first_row: int) -> None:
        try:
            check_lonlat_array(lonlat, offset=first_row)
        except ValueError as e:
            raise InputError(f"{self.path}: {e} {self._rows_note}") from None

    def _reproject(self, xy: np.ndarray, first_row: int) -> np.ndarray:
        assert self._transformer is not None
        assert self.crs is not None  # a transformer is only made for a given CRS
        finite = np.isfinite(xy).all(axis=1)
        lon, lat = self._transformer.transform(xy[:, 0], xy[:, 1])
        lonlat = np.stack([np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)], axis=1)
        bad = finite & ~np.isfinite(lonlat).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{self.path}: row {first_row + i}: (x, y) = ({xy[i, 0]}, {xy[i, 1]}) has no lon/lat in "
                f"{_crs_name(self.crs)} (outside the projection's domain?); is crs= right? "
                f"{self._rows_note}"
            )
        # Non-finite input stays non-finite and is named by the common check.
        lonlat[~finite] = xy[~finite]
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


def _crs_json(crs: Any) -> dict[str, Any]:
    require("pyproj", "geo")
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(crs).to_json_dict()
    except CRSError as e:
        raise InputError(f"unknown CRS {crs!r}: {e}; give e.g. EPSG:4326 or EPSG:3857") from None


def _crs_name(crs: dict[str, Any]) -> str:
    from pyproj import CRS

    c = CRS.from_json_dict(crs)
    code = c.to_authority()
    return f"{code[0]}:{code[1]}" if code else c.name


def _same_crs(a: dict[str, Any], b: dict[str, Any]) -> bool:
    from pyproj import CRS

    return bool(CRS.from_json_dict(a).equals(CRS.from_json_dict(b), ignore_axis_order=True))


def _geoparquet_geometry(metadata: dict[bytes, bytes] | None) -> Geometry | None:
    """The primary column of GeoParquet ``geo`` metadata (WKB only); its CRS defaults to CRS84."""
    if not metadata or b"geo" not in metadata:
        return None
    geo = json.loads(metadata[b"geo"])
    name = geo.get("primary_column", "geometry")
    col = geo.get("columns", {}).get(name, {})
    if col.get("encoding", "WKB").upper() != "WKB":
        raise InputError(
            f"GeoParquet geometry encoding {col.get('encoding')!r} is not supported; write it as WKB "
            "(geopandas: gdf.to_parquet(path, geometry_encoding='WKB'))"
        )
    # Absent "crs" means OGC:CRS84 (lon/lat) by the GeoParquet specification.
    return Geometry(name, col.get("crs"))
