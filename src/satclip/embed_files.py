"""Streaming ``satclip embed``: CSV/Parquet rows of lon, lat → .npy or .parquet embeddings.

Input is read in record batches (pyarrow), embedded chunk by chunk and appended to a temporary
output that is renamed to its final name only when every row is done.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from satclip._coords import check_lonlat_array
from satclip.encoder import LocationEncoder

_NPY_HEADER_BYTES = 128


def _require_pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError as e:
        raise ImportError("`satclip embed` needs pyarrow: pip install 'satclip[io]'") from e
    return pyarrow


def _batches(path: Path, lon_col: str, lat_col: str, rows: int) -> tuple[Iterator[Any], int | None]:
    pa = _require_pyarrow()
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such input file")
    if suffix == ".parquet":
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        _check_columns(path, names, lon_col, lat_col)
        return pf.iter_batches(batch_size=rows), pf.metadata.num_rows
    if suffix in (".csv", ".txt"):
        with path.open() as f:
            header = f.readline().strip().split(",")
        _check_columns(path, header, lon_col, lat_col)
        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=1 << 22),
                # Read as text so that a bad value can be reported with its row (_float_column).
                convert_options=pacsv.ConvertOptions(
                    column_types={lon_col: pa.string(), lat_col: pa.string()}
                ),
            )
        except pa.ArrowInvalid as e:
            raise ValueError(f"{path}: not a readable CSV file: {e}") from None
        return iter(reader), None
    raise ValueError(f"{path}: unsupported input type {suffix!r}; use .csv or .parquet")


def _float_column(batch: Any, name: str, first_row: int, src: Path) -> np.ndarray:
    """A column as float64; a value that is not a number raises naming its row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = batch.column(name)
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
    return col.to_numpy(zero_copy_only=False).astype(np.float64)


def _check_columns(path: Path, names: list[str], lon_col: str, lat_col: str) -> None:
    missing = [c for c in (lon_col, lat_col) if c not in names]
    if missing:
        raise ValueError(
            f"{path}: no column(s) {missing}; columns are {names}. Name them with --lon-col / --lat-col"
        )


def _npy_header(n: int, dim: int, dtype: np.dtype) -> bytes:
    d = f"{{'descr': '{dtype.str}', 'fortran_order': False, 'shape': ({n}, {dim}), }}"
    body = d.ljust(_NPY_HEADER_BYTES - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode("latin1")


class _NpySink:
    """Raw rows after a fixed-size header that is filled in once the row count is known."""

    def __init__(self, path: Path, dim: int, dtype: np.dtype) -> None:
        self.f = path.open("wb")
        self.f.write(b"\0" * _NPY_HEADER_BYTES)
        self.dim, self.dtype, self.rows = dim, dtype, 0

    def write(self, batch: Any, emb: np.ndarray) -> None:
        self.f.write(np.ascontiguousarray(emb, dtype=self.dtype).tobytes())
        self.rows += len(emb)

    def close(self, complete: bool) -> None:
        if complete:
            self.f.seek(0)
            self.f.write(_npy_header(self.rows, self.dim, self.dtype))
        self.f.close()


class _ParquetSink:
    """The input columns plus an ``embedding`` fixed-size-list column."""

    def __init__(self, path: Path) -> None:
        self.path, self.writer = path, None

    def write(self, batch: Any, emb: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        col = pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), emb.shape[1])
        table = pa.Table.from_batches([batch]).append_column("embedding", col)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)

    def close(self, complete: bool) -> None:
        if self.writer is not None:
            self.writer.close()


def embed_file(
    encoder: LocationEncoder,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    lon_col: str = "lon",
    lat_col: str = "lat",
    chunk_rows: int = 65536,
    progress: bool = True,
) -> int:
    """Embed every row of ``src`` into ``dst`` (.npy or .parquet); returns the row count."""
    pa = _require_pyarrow()
    src, dst = Path(src), Path(dst)
    out_kind = dst.suffix.lower()
    if out_kind not in (".npy", ".parquet"):
        raise ValueError(f"{dst}: unsupported output type {out_kind!r}; use .npy or .parquet")
    batches, total = _batches(src, lon_col, lat_col, chunk_rows)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    np_dtype = np.dtype(np.float64 if encoder.config.dtype == "float64" else np.float32)
    sink = _NpySink(tmp, encoder.dim, np_dtype) if out_kind == ".npy" else _ParquetSink(tmp)
    bar = _bar(total, progress)
    done, complete = 0, False
    try:
        for batch in batches:
            lonlat = np.stack([_float_column(batch, c, done, src) for c in (lon_col, lat_col)], axis=1)
            try:
                check_lonlat_array(lonlat, offset=done)
            except ValueError as e:
                raise ValueError(f"{src}: {e} (rows count data rows from 0)") from None
            sink.write(batch, encoder.embed_array(lonlat))
            done += len(lonlat)
            bar.update(len(lonlat))
        if done == 0:
            raise ValueError(f"{src}: no data rows to embed")
        complete = True
    except pa.ArrowInvalid as e:
        raise ValueError(f"{src}: cannot read values: {e}") from None
    finally:
        try:
            sink.close(complete)
        finally:
            bar.close()
            if not complete:
                tmp.unlink(missing_ok=True)
    try:
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return done


def _bar(total: int | None, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit=" rows", unit_scale=True, disable=not enabled, desc="embedding")
