"""``satclip embed``: embed every row of a table or vector file, streaming, resumable.

Work happens in a hidden folder next to the output, ``.<name>.partial/``, holding the chunks
done so far and ``state.json`` (what the run is: input file, options, model; and how many rows
are done). Each chunk is recorded only after its data is safely on disk, so a killed run
continued with ``resume=True`` neither redoes nor duplicates a finished chunk. The output gets
its final name only when every row is in it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zlib
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from satclip._compat import renamed
from satclip._files import check_not_directory, exclusive_lock, write_json
from satclip._threads import ahead
from satclip._time import column_times, time_column, year_fractions
from satclip.embedder import Embedder, embed_at_times, require_seasonal
from satclip.errors import InputError
from satclip.io.readers import InputTable, ReadOptions
from satclip.io.writers import (
    LAYOUTS,
    NPY_HEADER_BYTES,
    PART_SUFFIX,
    MergedOutput,
    NpyData,
    file_crc32,
    geo_metadata,
    output_table,
    read_part,
    write_part,
)
from satclip.pretrained import ModelSpec, resolve

OUTPUT_SUFFIXES = (".npy", ".parquet", ".geoparquet", ".csv")

# Resuming is stated at INFO; work thrown away (an unreadable state, a damaged chunk, an
# unfinished run not resumed) at WARNING.
log = logging.getLogger(__name__)


@renamed(encoder="model", dst="out")
def embed_file(
    model: Embedder | ModelSpec,
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    lon_col: str | None = None,
    lat_col: str | None = None,
    geometry_col: str | None = None,
    layout: str = "list",
    geoparquet: bool = False,
    ood: bool = False,
    chunk_rows: int = 65536,
    resume: bool = False,
    progress: bool = True,
    crs: Any | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    batch_size: int | None = None,
    month_col: str | None = None,
    date_col: str | None = None,
    month: int | None = None,
) -> int:
    """Embed every row of ``src`` into ``out`` and return the number of rows.

    ``src``: CSV, Parquet, GeoParquet, an Excel workbook (its first sheet, or ``sheet``) or a vector file
    (GeoJSON, GeoPackage, FlatGeobuf, Shapefile); points from ``lon_col``/``lat_col`` or from a geometry (see
    :class:`satclip.io.readers.InputTable`, which also explains ``crs``, ``delimiter`` and
    ``sheet``).
    ``out``: ``.npy`` (embeddings only, (N, dim) in the model's output dtype: float32, or
    float64 for float64 models) or ``.parquet`` (input columns plus the embedding, as one fixed-size-list column
    ``embedding`` or as ``emb_0..`` columns by ``layout``) or ``.csv`` (input columns plus
    ``emb_0..`` columns, for spreadsheets and R; a geometry is written as WKT, in a column
    ``WKT`` as GDAL writes it, in the input's CRS, which a CSV cannot record). The Parquet is
    GeoParquet when the input has a geometry (kept, with its CRS) or ``geoparquet`` asks for
    point geometries.
    ``ood`` adds ``ood_km`` and ``on_water`` (see :func:`satclip.ood.ood_flags`). ``model`` is
    any :class:`~satclip.embedder.Embedder` or what :func:`satclip.load` takes; ``batch_size``
    defaults to the model's.

    A seasonal model takes each row's time of year from ``month_col`` (month numbers 1-12) or
    ``date_col`` (dates, ISO text), or one ``month`` for every row; given none, it writes its
    annual embedding. A bad value is an error naming its row, before anything is written for it.
    """
    encoder = resolve(model)
    time_col = time_column(month_col, date_col)
    if time_col is not None and month is not None:
        raise InputError("give one of month_col, date_col or month, not several")
    times = time_col is not None or month is not None
    if times:
        require_seasonal(encoder, "a month or date")
    fixed_time = year_fractions(month=month) if month is not None else None
    src, dst = Path(src), Path(out)
    kind = dst.suffix.lower()
    if kind not in OUTPUT_SUFFIXES:
        raise InputError(f"{dst}: unsupported output type {kind!r}; use .npy, .parquet, .geoparquet or .csv")
    check_not_directory(dst)
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if chunk_rows < 1:
        raise InputError(f"chunk_rows must be positive, got {chunk_rows}")
    geoparquet = geoparquet or kind == ".geoparquet"
    if kind == ".npy" and (geoparquet or ood):
        raise InputError(f"{dst}: .npy holds embeddings only; write .parquet for geoparquet=True or ood=True")
    if kind == ".csv":
        if geoparquet:
            raise InputError(f"{dst}: a CSV is not GeoParquet; write .geoparquet, or drop geoparquet=True")
        layout = "columns"  # a CSV cell holds one number
    table = InputTable(src, ReadOptions(lon_col, lat_col, geometry_col, crs, delimiter, sheet))
    if time_col is not None and time_col[0] not in table.columns:
        raise InputError(f"{src}: no {time_col[1]} column {time_col[0]!r}; columns are {table.columns}")
    if table.coords:
        coords = list(table.coords)
    else:
        assert table.geometry is not None  # InputTable reads either lon/lat columns or a geometry
        coords = ["geometry", table.geometry.column]
    stat = src.stat()
    run = {
        "input": str(src.resolve()),
        "input_size": stat.st_size,
        "input_mtime_ns": stat.st_mtime_ns,
        "output": kind,
        "coords": coords,
        "layout": layout,
        "geoparquet": geoparquet,
        "ood": ood,
        "chunk_rows": chunk_rows,
        "crs": table.crs,
        "delimiter": table.delimiter,
        "sheet": table.sheet,
        "model": encoder.fingerprint(),
        **({"time": {"month_col": month_col, "date_col": date_col, "month": month}} if times else {}),
        "part_format": PART_SUFFIX,  # a run left by a version that wrote Parquet parts is not resumed
    }
    work = dst.parent / f".{dst.name}.partial"
    with exclusive_lock(dst.parent / f".{dst.name}.lock", str(dst)):
        row_bytes = encoder.dim * np.dtype(encoder.output_dtype).itemsize
        state = _start(work, run, resume, kind, row_bytes)
        time = _Times(time_col, None if fixed_time is None else float(fixed_time))
        rows = _embed_chunks(
            encoder,
            table,
            state,
            work,
            dst,
            kind,
            layout,
            geoparquet,
            ood,
            chunk_rows,
            progress,
            batch_size,
            time,
        )
    return rows


class _Times:
    """Where each row's time of year comes from: a month or date column, one month, or none."""

    def __init__(self, column: tuple[str, str] | None, fixed: float | None) -> None:
        self.column, self.fixed = column, fixed  # column: (name, "month" or "date")

    def embed(self, encoder: Embedder, chunk: Any, first_row: int, batch_size: int | None) -> np.ndarray:
        if self.column is None and self.fixed is None:
            return encoder.embed_array(chunk.lonlat, batch_size)
        if self.column is not None:
            name, kind = self.column
            t = column_times(chunk.table.column(name).to_pylist(), name, kind, first_row)
        else:
            t = np.full(len(chunk.lonlat), self.fixed)
        return embed_at_times(encoder, chunk.lonlat, t, batch_size)


def _embed_chunks(
    encoder: Embedder,
    table: InputTable,
    state: dict[str, Any],
    work: Path,
    dst: Path,
    kind: str,
    layout: str,
    geoparquet: bool,
    ood: bool,
    chunk_rows: int,
    progress: bool,
    batch_size: int | None,
    time: _Times,
) -> int:
    flags = None
    if ood:
        from satclip.ood import OODIndex

        flags = OODIndex.for_model(encoder)
    bar = _bar(table.total_rows, state["rows_done"], progress)
    final = work / f"final{kind}"
    npy, merged = None, None
    discard = False

    def embedded() -> Iterator[tuple[Any, np.ndarray]]:
        first_row = state["rows_done"]  # the consumer moves state["rows_done"]: count here
        for chunk in table.chunks(chunk_rows, skip=first_row):
            emb = time.embed(encoder, chunk, first_row, batch_size)
            first_row += len(emb)
            yield chunk, emb

    try:
        if kind == ".npy":
            npy = NpyData(work / "data.npy", encoder.dim, np.dtype(encoder.output_dtype), state["rows_done"])
        else:
            merged = MergedOutput(final, *_geo(table, geoparquet))
            for i in range(len(state["parts"])):  # a resumed run's parts go first
                merged.add(read_part(_part(work, i)))
        # The next chunk is read and embedded on a thread of its own while this one is written
        # (part, final file, state): torch, pyarrow's writers and the file I/O release the GIL
        # (BENCHMARKS.md, "Embedding files at scale"). A chunk is recorded as done once its part
        # is on disk, before it goes into the final file, which is rebuilt from the parts on resume.
        with closing(ahead(embedded(), depth=1)) as chunks:
            for chunk, emb in chunks:
                if npy is not None:
                    crc = npy.write(emb)
                else:
                    extra = flags(chunk.lonlat) if flags is not None else {}
                    out = output_table(
                        chunk.table,
                        chunk.lonlat,
                        emb,
                        layout,
                        table.geometry,
                        table.derived_points,
                        geoparquet,
                        extra,
                    )
                    crc = write_part(out, _part(work, len(state["parts"])))
                state["parts"].append(len(emb))
                state["crc32"].append(crc)
                state["rows_done"] += len(emb)
                write_json(work / "state.json", state)
                if merged is not None:  # a table output: ``out`` is this chunk's table
                    merged.add(out)
                bar.update(len(emb))
        rows = state["rows_done"]
        if rows == 0:
            raise InputError(f"{table.path}: no data rows to embed")
        if npy is not None:
            npy.finish(rows)
            npy = None
            os.replace(work / "data.npy", final)
        else:
            assert merged is not None
            merged.close()
            merged = None
        os.replace(final, dst)
    except OSError as e:
        # Disk full, permissions, I/O errors: what is recorded as done stays for --resume.
        raise OSError(
            e.errno,
            f"{dst}: writing failed ({e.strerror or e}); no file was written under this name. "
            f"The {state['rows_done']} rows done are kept in {work}: fix the cause (free disk space?) "
            "and rerun with resume=True",
        ) from e
    except ValueError:
        # Bad input: the input has to change, so there is nothing to resume.
        discard = True
        raise
    finally:
        bar.close()
        if npy is not None:
            npy.close()
        if merged is not None:
            merged.abandon()
        # Removed once its files are closed (an open file cannot be deleted on Windows).
        if discard:
            shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return rows


def _geo(table: InputTable, geoparquet: bool) -> tuple[bytes | None, str | None]:
    """The output's GeoParquet metadata (None: plain Parquet) and the geometry column to write
    as WKT in a CSV (None: no geometry)."""
    if table.geometry is not None:
        return geo_metadata(table.geometry.column, table.geometry.crs), table.geometry.column
    if geoparquet:
        return geo_metadata("geometry", None), None
    return None, None


def _part(work: Path, i: int) -> Path:
    return work / f"part-{i:06d}{PART_SUFFIX}"


def _read_state(state_file: Path) -> dict[str, Any] | None:
    """The recorded state, or None (with a warning when it is unreadable) when there is none."""
    try:
        state = json.loads(state_file.read_text())
        if not isinstance(state, dict) or not {"run", "rows_done", "parts", "crc32"} <= set(state):
            raise InputError("fields missing")
        if len(state["parts"]) != len(state["crc32"]) or sum(state["parts"]) != state["rows_done"]:
            raise InputError("inconsistent counts")
        return state
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, OSError) as e:
        log.warning("%s is unreadable (%s); starting over", state_file, e)
        return None


def _verified_prefix(work: Path, state: dict[str, Any], kind: str, row_bytes: int) -> int:
    """How many recorded chunks are intact on disk (present, complete, same checksum)."""
    if kind == ".npy":
        try:
            f = (work / "data.npy").open("rb")
        except FileNotFoundError:
            return 0
        with f:
            f.seek(NPY_HEADER_BYTES)
            for i, (n, crc) in enumerate(zip(state["parts"], state["crc32"], strict=True)):
                block = f.read(n * row_bytes)
                if len(block) != n * row_bytes or zlib.crc32(block) != crc:
                    return i
        return len(state["parts"])
    for i, crc in enumerate(state["crc32"]):
        try:
            if file_crc32(_part(work, i)) != crc:
                return i
        except FileNotFoundError:
            return i
    return len(state["parts"])


def _start(work: Path, run: dict[str, Any], resume: bool, kind: str, row_bytes: int) -> dict[str, Any]:
    """The state to continue from: a matching earlier run's with ``resume``, else a fresh one."""
    state_file = work / "state.json"
    old = _read_state(state_file) if resume and work.is_dir() else None
    if old is not None:
        changed = [k for k in run if old.get("run", {}).get(k) != run[k]]
        if changed:
            raise InputError(
                f"{work}: cannot resume, the earlier run differs in {changed} (input file changed, "
                "other options or another model); rerun without resume=True to start over"
            )
        intact = _verified_prefix(work, old, kind, row_bytes)
        if intact < len(old["parts"]):
            log.warning(
                "chunk %d in %s is missing or corrupt; redoing it and the chunks after it", intact, work
            )
            old["parts"], old["crc32"] = old["parts"][:intact], old["crc32"][:intact]
            old["rows_done"] = sum(old["parts"])
            write_json(state_file, old)
        # Parts written after the last recorded state (a kill between the two) are redone, and
        # temporary files of a killed write are dropped.
        for p in work.glob(f"part-*{PART_SUFFIX}"):
            if int(p.stem.split("-")[1]) >= len(old["parts"]):
                p.unlink()
        for p in work.glob(".*.tmp*"):
            p.unlink()
        log.info("resuming: %d rows already done", old["rows_done"])
        return old
    if work.exists():
        if not resume:
            log.warning("discarding the unfinished earlier run in %s (resume=True continues it)", work)
        shutil.rmtree(work)
    work.mkdir(parents=True)
    state = {"run": run, "rows_done": 0, "parts": [], "crc32": []}
    write_json(state_file, state)
    return state


def _bar(total: int | None, done: int, enabled: bool) -> Any:
    from tqdm import tqdm

    # Scaled units (65.5k) for large files; below a thousand tqdm would show "2.00/2.00 rows".
    scale = total is None or total >= 1000
    return tqdm(
        total=total, initial=done, unit=" rows", unit_scale=scale, disable=not enabled, desc="embedding"
    )
