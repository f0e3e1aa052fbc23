"""Outputs of ``satclip embed``: ``.npy`` and (Geo)Parquet, written so that a killed run can be
continued and a half-written file never has its final name.

``.npy`` is one data file with a fixed-size header that is filled in at the end; a resumed run
truncates it to the rows recorded as done. Parquet cannot be appended to once its writer dies
(the footer is missing), so each chunk is its own part, renamed into place when complete, and
each chunk also goes into the final file as it is made (:class:`MergedOutput`, on the writer's
side while the encoder embeds the next chunk). Parts are Arrow IPC files, written at the speed
of a copy, so the Parquet encoding is paid once, in the final file (BENCHMARKS.md, "Embedding
files at scale"); a resumed run feeds the parts done before into a new final file.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from satclip._files import atomic_path
from satclip.errors import InputError
from satclip.io.readers import Geometry

NPY_HEADER_BYTES = 128
LAYOUTS = ("list", "columns")


def npy_header(n: int, dim: int, dtype: np.dtype) -> bytes:
    d = f"{{'descr': '{dtype.str}', 'fortran_order': False, 'shape': ({n}, {dim}), }}"
    body = d.ljust(NPY_HEADER_BYTES - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode("latin1")


class NpyData:
    """Raw embedding rows after a placeholder header, resumable at a known row count."""

    def __init__(self, path: Path, dim: int, dtype: np.dtype, rows_done: int) -> None:
        self.path, self.dim, self.dtype = path, dim, dtype
        size = NPY_HEADER_BYTES + rows_done * dim * dtype.itemsize
        mode = "r+b" if path.exists() and rows_done else "w+b"
        self.f = path.open(mode)
        if mode == "w+b":
            self.f.write(b"\0" * NPY_HEADER_BYTES)
            self.f.flush()
        if os.fstat(self.f.fileno()).st_size < size:
            raise InputError(
                f"{path}: shorter than the {rows_done} rows recorded as done; rerun without resume=True"
            )
        self.f.truncate(size)
        self.f.seek(size)

    def write(self, emb: np.ndarray) -> int:
        """Append rows; returns the CRC-32 of their bytes (checked when a run is resumed)."""
        data = np.ascontiguousarray(emb, dtype=self.dtype).tobytes()
        self.f.write(data)
        self.f.flush()
        return zlib.crc32(data)

    def finish(self, rows: int) -> None:
        self.f.seek(0)
        self.f.write(npy_header(rows, self.dim, self.dtype))
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()

    def close(self) -> None:
        self.f.close()


def geo_metadata(column: str, crs: dict[str, Any] | None) -> bytes:
    """GeoParquet 1.1 ``geo`` metadata for one WKB column (no ``crs`` key means OGC:CRS84)."""
    col: dict[str, Any] = {"encoding": "WKB", "geometry_types": []}
    if crs is not None:
        col["crs"] = crs
    return json.dumps({"version": "1.1.0", "primary_column": column, "columns": {column: col}}).encode()


def output_table(
    table: Any,
    lonlat: np.ndarray,
    emb: np.ndarray,
    layout: str,
    geometry: Geometry | None,
    points_from_geometry: bool,
    add_points: bool,
    extra: dict[str, np.ndarray],
) -> Any:
    """The input columns, the point used (for geometry inputs), the embedding and ``extra``."""
    import pyarrow as pa

    # GDAL's Arrow stream tags WKB with geoarrow field metadata; plain binary plus the file's
    # ``geo`` metadata is what GeoParquet readers expect.
    table = table.replace_schema_metadata(None)
    table = pa.Table.from_arrays(table.columns, names=table.column_names)
    cols: dict[str, Any] = {}
    if points_from_geometry:
        cols["point_lon"], cols["point_lat"] = lonlat[:, 0], lonlat[:, 1]
    if add_points and geometry is None:
        import shapely

        cols["geometry"] = pa.array(shapely.to_wkb(shapely.points(lonlat)), pa.binary())
    if layout == "list":
        cols["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), emb.shape[1])
    else:
        cols.update({f"emb_{j}": emb[:, j] for j in range(emb.shape[1])})
    cols.update(extra)
    for name, values in cols.items():
        if name in table.column_names:
            raise InputError(f"the input already has a column {name!r}; rename it before embedding")
        table = table.append_column(name, values if isinstance(values, pa.Array) else pa.array(values))
    return table


def _dictionary_columns(names: list[str]) -> list[str]:
    """Columns worth dictionary-encoding: not the embedding, whose floats never repeat (trying
    costs a buffered copy of each row group)."""
    return [n for n in names if n != "embedding" and not n.startswith("emb_")]


def file_crc32(path: Path) -> int:
    """CRC-32 of a file's bytes."""
    crc = 0
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            crc = zlib.crc32(block, crc)
    return crc


PART_SUFFIX = ".arrow"


def write_part(table: Any, path: Path) -> int:
    """One chunk as an (uncompressed) Arrow IPC file, renamed into place only once complete;
    returns its CRC-32 (checked when a run is resumed)."""
    import pyarrow as pa

    with atomic_path(path) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        crc = file_crc32(tmp)
    return crc


def read_part(path: Path) -> Any:
    """A part written by :func:`write_part`, as a ``pyarrow.Table``."""
    import pyarrow as pa

    # Read, not memory-mapped: a mapped file cut short under the process would kill it (SIGBUS).
    with pa.OSFile(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


class MergedOutput:
    """The final file, written table by table as the parts are made: Parquet (plus ``geo``
    metadata), or a CSV when ``out`` ends in ``.csv`` (pyarrow's writer: one header, RFC 4180
    quoting), its WKB ``geometry_column`` written as WKT in a column ``WKT``, as GDAL's CSV driver
    writes and reads geometries (``ogr2ogr`` and QGIS find it by that name).

    Opened on the first table; :meth:`close` completes it. A run that dies before that leaves a
    file without its footer under the work folder's name, which the next run overwrites from the
    parts (the parts, not this file, are what a resumed run trusts)."""

    def __init__(self, out: Path, geo: bytes | None, geometry_column: str | None) -> None:
        self.out, self.geo, self.geometry_column = out, geo, geometry_column
        self.csv = out.suffix == ".csv"
        self.writer: Any = None

    def add(self, table: Any) -> None:
        import pyarrow as pa

        if self.csv and self.geometry_column is not None:
            import shapely

            i = table.column_names.index(self.geometry_column)
            wkb = table.column(i).to_numpy(zero_copy_only=False)
            wkt = shapely.to_wkt(shapely.from_wkb(wkb), rounding_precision=-1)  # every digit
            name = "WKT" if "WKT" not in table.column_names else self.geometry_column
            table = table.set_column(i, name, pa.array(wkt, pa.string()))
        if self.writer is None:
            self.writer = self._open(table.schema)
        self.writer.write_table(table)

    def _open(self, schema: Any) -> Any:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        if self.csv:
            return pacsv.CSVWriter(self.out, schema)
        if self.geo is not None:
            schema = schema.with_metadata({b"geo": self.geo})
        return pq.ParquetWriter(self.out, schema, use_dictionary=_dictionary_columns(schema.names))

    def close(self) -> None:
        """Complete the file (write its footer)."""
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()

    def abandon(self) -> None:
        """Close after a failure elsewhere, keeping that failure the one raised (the file is
        rebuilt from the parts by the next run)."""
        with contextlib.suppress(Exception):
            self.close()
