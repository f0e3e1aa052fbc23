"""The user's points on the explorer's map: any file ``satclip embed`` reads, with its columns,
read once when the server starts and served as JSON."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

from satclip.io.readers import InputTable, ReadOptions

MAX_POINTS = 100_000  # drawn on a canvas, sent once: more would make the page slow, not clearer
MAX_CATEGORIES = 50  # a text column with more values is a label, not a colour


def _column(values: list[Any]) -> dict[str, Any] | None:
    """A column the page can colour by: numbers (NaN and missing as None), or categories."""
    floats: list[float | None] = []
    for v in values:
        if v is None or isinstance(v, bool):
            floats.append(None if v is None else float(v))
        elif isinstance(v, int | float):
            floats.append(float(v) if math.isfinite(v) else None)
        else:
            break
    else:
        if any(v is not None for v in floats):
            return {"kind": "number", "values": floats}
        return None
    text = [None if v is None else str(v) for v in values]
    if len({t for t in text if t is not None}) > MAX_CATEGORIES:
        return None
    return {"kind": "category", "values": text}


def load_points(path: str | os.PathLike[str], options: ReadOptions | None = None) -> dict[str, Any]:
    """``{"lon": [...], "lat": [...], "columns": {name: {"kind", "values"}}}`` for the rows of
    ``path`` (every ``n // MAX_POINTS``-th row of a larger file, with a warning), the columns
    that can colour a point: numbers, and text with at most ``MAX_CATEGORIES`` values.
    ``options`` say where the points are (``satclip embed``'s ``lon_col=``, ``crs=``, ...)."""
    table = InputTable(path, options or ReadOptions())
    chunks = list(table.chunks(65_536))
    n = sum(len(c.lonlat) for c in chunks)
    step = max(1, -(-n // MAX_POINTS))
    if step > 1:
        warnings.warn(
            f"{path}: {n} points; one in {step} is drawn (at most {MAX_POINTS})", UserWarning, stacklevel=2
        )
    lonlat = np.concatenate([c.lonlat for c in chunks]) if chunks else np.zeros((0, 2))
    rows: dict[str, list[Any]] = {}
    coords = set(table.coords or ())
    for chunk in chunks:
        for name in chunk.table.column_names:
            if name in coords or (table.geometry and name == table.geometry.column):
                continue
            rows.setdefault(name, []).extend(chunk.table.column(name).to_pylist())
    columns = {}
    for name, values in rows.items():
        col = _column(values[::step])
        if col is not None:
            columns[name] = col
    return {
        "lon": lonlat[::step, 0].round(6).tolist(),
        "lat": lonlat[::step, 1].round(6).tolist(),
        "columns": columns,
    }
