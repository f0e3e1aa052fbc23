"""Your own labelled points as an evaluation task: ``satclip evaluate --task-file FILE --target COL``.

Points come from the same readers as ``satclip embed`` (CSV, Parquet, GeoParquet, vector files;
lon/lat columns or geometries, any CRS), the label from one column. Rows without a label are
dropped, with a warning; a regression label that is not a number is an error naming its row;
classes too rare to appear on both sides of a split are dropped, with a warning too. These are
``UserWarning``s, as is the kind chosen when none is given: each changes the scores, so a
notebook or script shows it where it called in.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from satclip._registry import did_you_mean
from satclip._time import column_times, time_column
from satclip.errors import InputError
from satclip.evaluation.geodata import continents
from satclip.evaluation.tasks import MIN_CLASS_COUNT, Task

KINDS = ("regression", "classification")
# A numeric label with at most this many distinct whole values is taken as class ids.
MAX_INFERRED_CLASSES = 20


def task_from_file(
    path: str | os.PathLike[str],
    target: str,
    kind: str | None = None,
    name: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    geometry_col: str | None = None,
    crs: Any | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    min_class_count: int = MIN_CLASS_COUNT,
    month_col: str | None = None,
    date_col: str | None = None,
) -> Task:
    """A :class:`~satclip.evaluation.tasks.Task` from a file's points and its ``target`` column.

    ``kind`` is ``"regression"`` or ``"classification"``; left as None it is inferred (text or
    at most 20 distinct whole numbers: classes; other numbers: regression) and a ``UserWarning``
    states the choice, as one states every row or class dropped. ``name`` defaults to the
    file's stem.

    ``month_col`` (month numbers 1-12) or ``date_col`` (dates): the time of year of each row, a
    monthly task (see :mod:`satclip.evaluation.tasks`): every model gets the month as probe
    features, and a seasonal model embeds each row at its time.
    """
    from satclip.io.readers import InputTable, ReadOptions

    if kind is not None and kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    table = InputTable(path, ReadOptions(lon_col, lat_col, geometry_col, crs, delimiter, sheet))
    if target not in table.columns:
        raise InputError(
            f"{table.path}: no target column {target!r}{did_you_mean(target, table.columns)}; "
            f"columns are {table.columns}"
        )
    if target in (table.coords or ()):
        raise InputError(f"{table.path}: the target {target!r} is a coordinate column; name another")
    time_col, time_kind = time_column(month_col, date_col) or (None, "")
    if time_col is not None and time_col not in table.columns:
        raise InputError(
            f"{table.path}: no {time_kind} column {time_col!r}{did_you_mean(time_col, table.columns)}; "
            f"columns are {table.columns}"
        )
    lonlat, labels, times = [], [], []
    for chunk in table.chunks(65536):
        lonlat.append(chunk.lonlat)
        labels.append(chunk.table.column(target).to_pylist())
        if time_col is not None:
            times += chunk.table.column(time_col).to_pylist()
    if not lonlat:
        raise InputError(f"{table.path}: no data rows")
    points = np.concatenate(lonlat)
    values = np.array([v for part in labels for v in part], dtype=object)
    decimal_comma = table.kind == "csv" and table.delimiter not in (None, ",")
    return _labelled_task(
        points,
        values,
        target,
        kind,
        name or Path(path).stem,
        str(table.path),
        decimal_comma,
        min_class_count,
        None if time_col is None else column_times(times, time_col, time_kind),
    )


def task_from_frame(
    frame: Any,
    target: str,
    kind: str | None = None,
    name: str = "frame",
    lon_col: str | None = None,
    lat_col: str | None = None,
    min_class_count: int = MIN_CLASS_COUNT,
    month_col: str | None = None,
    date_col: str | None = None,
) -> Task:
    """:func:`task_from_file` for a DataFrame in memory (pandas, or anything with ``columns``
    and ``[]``): its ``lon_col``/``lat_col`` columns, found by name when not given (``lon``,
    ``Longitude``, ``decimalLatitude``, ... in any case), its ``target`` column, and its
    ``month_col`` or ``date_col`` when given."""
    from satclip._coords import as_lonlat_array, frame_coordinates

    if kind is not None and kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    if target not in frame.columns:
        columns = [str(c) for c in frame.columns]
        raise InputError(
            f"{name}: no target column {target!r}{did_you_mean(str(target), columns)}; "
            f"columns are {columns[:20]}"
        )
    try:
        lon, lat = frame_coordinates(frame, lon_col, lat_col, fix="lon_col= / lat_col=")
    except ValueError as e:
        raise InputError(f"{name}: {e}") from None
    if target in (getattr(lon, "name", None), getattr(lat, "name", None)):
        raise InputError(f"{name}: the target {target!r} is a coordinate column; name another")
    points = as_lonlat_array(lon, lat)
    values = np.asarray(frame[target], dtype=object)
    time_col, time_kind = time_column(month_col, date_col) or (None, "")
    time = None
    if time_col is not None:
        if time_col not in frame.columns:
            raise InputError(f"{name}: no {time_kind} column {time_col!r}")
        column = frame[time_col]
        raw = column.to_numpy() if hasattr(column, "to_numpy") else np.asarray(column)
        time = column_times(raw, time_col, time_kind)
    return _labelled_task(points, values, target, kind, name, name, False, min_class_count, time)


def _labelled_task(
    points: np.ndarray,
    values: np.ndarray,
    target: str,
    kind: str | None,
    name: str,
    where: str,
    decimal_comma: bool,
    min_class_count: int,
    time: np.ndarray | None = None,
) -> Task:
    """The task from validated (N, 2) points and their raw labels (and year fractions): the
    kind inferred and stated, rows without a label and classes too rare to split dropped and
    stated."""
    kind = kind or _infer_kind(values, target)
    if kind == "regression":
        y, keep = _numbers(values, target, where, decimal_comma)
    else:
        y, keep = _texts(values)
    if not keep.all():
        _warn(f"{name}: dropped {int((~keep).sum())} of {len(keep)} rows without a {target!r} value")
    points, y = points[keep], y[keep]
    time = None if time is None else time[keep]
    if kind == "classification":
        frequent = _frequent_classes(y, min_class_count, name)
        points, y = points[frequent], y[frequent]
        time = None if time is None else time[frequent]
    if len(y) < 10:
        raise InputError(f"{where}: only {len(y)} labelled rows; a split needs at least 10")
    lon, lat = points[:, 0], points[:, 1]
    if kind == "regression":
        return Task(name, kind, points, y.astype(np.float64), continents(lon, lat), time=time)
    classes, ids = np.unique(y, return_inverse=True)
    return Task(name, kind, points, ids.astype(np.int64), continents(lon, lat), classes, time)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())


def _infer_kind(values: np.ndarray, target: str) -> str:
    present = [v for v in values if not _missing(v)]
    try:
        numbers = np.array([float(v) for v in present], dtype=np.float64)
    except (TypeError, ValueError):
        _warn(f"target {target!r} holds text: classification (kind='regression' to change)")
        return "classification"
    distinct = np.unique(numbers)
    if len(distinct) <= MAX_INFERRED_CLASSES and np.all(distinct == np.round(distinct)):
        _warn(
            f"target {target!r} holds {len(distinct)} distinct whole numbers: classification "
            "(kind='regression' to change)"
        )
        return "classification"
    _warn(f"target {target!r} holds numbers: regression (kind='classification' to change)")
    return "regression"


def _numbers(
    values: np.ndarray, target: str, where: str, decimal_comma: bool
) -> tuple[np.ndarray, np.ndarray]:
    y = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if _missing(v):
            continue
        text = v.strip().replace(",", ".") if isinstance(v, str) and decimal_comma else v
        try:
            y[i] = float(text)
        except (TypeError, ValueError):
            raise InputError(
                f"{where}: row {i}: {target} value {v!r} is not a number, which a regression needs "
                "(rows count data rows from 0); fix it, or pass kind='classification' for class labels"
            ) from None
    keep = np.isfinite(y)
    return y, keep


def _texts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.array([not _missing(v) for v in values], dtype=bool)
    labels = np.array(["" if _missing(v) else str(v).strip() for v in values], dtype=object)
    return labels.astype(str), keep


def _frequent_classes(y: np.ndarray, min_count: int, name: str) -> np.ndarray:
    """The mask of rows whose class has at least ``min_count`` rows (the rest dropped, and said)."""
    classes, counts = np.unique(y, return_counts=True)
    rare = classes[counts < min_count]
    keep = np.ones(len(y), dtype=bool)
    if len(rare):
        keep = ~np.isin(y, rare)
        shown = ", ".join(map(repr, rare[:5].tolist())) + (" ..." if len(rare) > 5 else "")
        _warn(
            f"{name}: dropped {len(rare)} class(es) with fewer than {min_count} rows ({shown}; "
            f"{int((~keep).sum())} rows): too rare to be on both sides of a split"
        )
    if len(np.unique(y[keep])) < 2:
        raise InputError(
            f"{name}: fewer than 2 classes with at least {min_count} rows each; a classification "
            "needs more labelled rows per class"
        )
    return keep


# The package's folder: frames under it are satclip's own, not the user's. Not resolved: a
# frame's file name is the module's __file__ as imported.
_PACKAGE = os.path.dirname(os.path.dirname(__file__)) + os.sep


def _warn(message: str) -> None:
    """A ``UserWarning`` attributed to the first caller outside satclip (the notebook cell or
    script line that asked for the task), however deep in the library it is raised: ``evaluate``
    reaches here through one more call than ``task_from_file`` does."""
    frame: FrameType | None = sys._getframe(0)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)
