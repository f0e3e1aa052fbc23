"""``satclip embed``: embed every row of a table or vector file, streaming, resumable.

Work happens in a hidden folder next to the output, ``.<name>.partial/``, holding the chunks
done so far and ``state.json`` (what the run is: input file, options, model; and how many rows
are done). Each chunk is recorded only after its data is safely on disk, so a killed run
continued with ``resume=True`` neither redoes nor duplicates a finished chunk. The output gets
its final name only when every row is in it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from satclip.checkpoints import content_sha256
from satclip.io.readers import InputTable
from satclip.io.writers import LAYOUTS, NpyData, geo_metadata, merge_parts, output_table, write_part

OUTPUT_SUFFIXES = (".npy", ".parquet", ".geoparquet")


def model_fingerprint(encoder: Any) -> str:
    """What the model computes with: resuming with another model is refused."""
    if hasattr(encoder, "state_dict"):  # a LocationEncoder, or a wrapper exposing its weights
        return content_sha256(encoder)
    # The ONNX backend: its config and the model file itself.
    h = hashlib.sha256(json.dumps(encoder.config.to_dict(), sort_keys=True).encode())
    with open(encoder.path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def embed_file(
    encoder: Any,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    lon_col: str | None = None,
    lat_col: str | None = None,
    geometry_col: str | None = None,
    layout: str = "list",
    geoparquet: bool = False,
    ood: bool = False,
    chunk_rows: int = 65536,
    resume: bool = False,
    progress: bool = True,
) -> int:
    """Embed every row of ``src`` into ``dst`` and return the number of rows.

    ``src``: CSV, Parquet, GeoParquet or a vector file (GeoJSON, GeoPackage, FlatGeobuf,
    Shapefile); points from ``lon_col``/``lat_col`` or from a geometry (see
    :class:`satclip.io.readers.InputTable`). ``dst``: ``.npy`` (embeddings only, float32
    (N, dim)) or ``.parquet`` (input columns plus the embedding, as one fixed-size-list column
    ``embedding`` or as ``emb_0..`` columns by ``layout``). The Parquet is GeoParquet when the
    input has a geometry (kept, with its CRS) or ``geoparquet`` asks for point geometries.
    ``ood`` adds ``ood_km`` and ``on_water`` (see :func:`satclip.ood.ood_flags`). ``encoder`` is a
    LocationEncoder or anything with ``embed_array``, ``dim`` and ``config`` (the ONNX backend).
    """
    src, dst = Path(src), Path(dst)
    kind = dst.suffix.lower()
    if kind not in OUTPUT_SUFFIXES:
        raise ValueError(f"{dst}: unsupported output type {kind!r}; use .npy, .parquet or .geoparquet")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    geoparquet = geoparquet or kind == ".geoparquet"
    if kind == ".npy" and (geoparquet or ood):
        raise ValueError(f"{dst}: .npy holds embeddings only; write .parquet for --geoparquet or --ood")
    table = InputTable(src, lon_col, lat_col, geometry_col)
    stat = src.stat()
    run = {
        "input": str(src.resolve()),
        "input_size": stat.st_size,
        "input_mtime_ns": stat.st_mtime_ns,
        "output": kind,
        "coords": list(table.coords) if table.coords else ["geometry", table.geometry.column],
        "layout": layout,
        "geoparquet": geoparquet,
        "ood": ood,
        "chunk_rows": chunk_rows,
        "model": model_fingerprint(encoder),
    }
    work = dst.parent / f".{dst.name}.partial"
    state = _start(work, run, resume)
    flags = None
    if ood:
        from satclip.ood import OODIndex

        flags = OODIndex.for_encoder(encoder)
    dtype = np.dtype(np.float64 if encoder.config.dtype == "float64" else np.float32)
    npy = NpyData(work / "data.npy", encoder.dim, dtype, state["rows_done"]) if kind == ".npy" else None
    bar = _bar(table.total_rows, state["rows_done"], progress)
    try:
        for chunk in table.chunks(chunk_rows, skip=state["rows_done"]):
            emb = encoder.embed_array(chunk.lonlat)
            if npy is not None:
                npy.write(emb)
            else:
                extra = flags(chunk.lonlat) if flags is not None else {}
                out = output_table(
                    chunk.table,
                    chunk.lonlat,
                    emb,
                    layout,
                    table.geometry,
                    table.coords is None,
                    geoparquet,
                    extra,
                )
                write_part(out, work / f"part-{len(state['parts']):06d}.parquet")
            state["parts"].append(len(emb))
            state["rows_done"] += len(emb)
            _write_json(work / "state.json", state)
            bar.update(len(emb))
        rows = state["rows_done"]
        if rows == 0:
            raise ValueError(f"{src}: no data rows to embed")
        final = work / f"final{kind}"
        if npy is not None:
            npy.finish(rows)
            npy = None
            os.replace(work / "data.npy", final)
        else:
            geo = None
            if table.geometry is not None:
                geo = geo_metadata(table.geometry.column, table.geometry.crs)
            elif geoparquet:
                geo = geo_metadata("geometry", None)
            parts = [work / f"part-{i:06d}.parquet" for i in range(len(state["parts"]))]
            merge_parts(parts, final, geo)
        os.replace(final, dst)
    except ValueError:
        # Bad input: the input has to change, so there is nothing to resume.
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        bar.close()
        if npy is not None:
            npy.close()
    shutil.rmtree(work, ignore_errors=True)
    return rows


def _start(work: Path, run: dict[str, Any], resume: bool) -> dict[str, Any]:
    """The state to continue from: a matching earlier run's with ``resume``, else a fresh one."""
    state_file = work / "state.json"
    if resume and state_file.exists():
        old = json.loads(state_file.read_text())
        changed = [k for k in run if old.get("run", {}).get(k) != run[k]]
        if changed:
            raise ValueError(
                f"{work}: cannot resume, the earlier run differs in {changed} (input file changed, "
                "other options or another model); rerun without --resume to start over"
            )
        # Parts written after the last recorded state (a kill between the two) are redone.
        for p in work.glob("part-*.parquet*"):
            if p.name.endswith(".tmp") or int(p.stem.split("-")[1]) >= len(old["parts"]):
                p.unlink()
        print(f"resuming: {old['rows_done']} rows already done", file=sys.stderr)
        return old
    if work.exists():
        if not resume:
            print(
                f"discarding the unfinished earlier run in {work} (use --resume to continue it)",
                file=sys.stderr,
            )
        shutil.rmtree(work)
    work.mkdir(parents=True)
    state = {"run": run, "rows_done": 0, "parts": []}
    _write_json(state_file, state)
    return state


def _bar(total: int | None, done: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, initial=done, unit=" rows", unit_scale=True, disable=not enabled, desc="embedding"
    )
