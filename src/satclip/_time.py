"""The time of year users give (months, days of the year, dates) as year fractions.

Every entry point of a seasonal model takes its time through :func:`year_fractions`: month
numbers 1-12 (mid-month: (m - 0.5) / 12), days of the year 1-366 ((d - 0.5) / 365.25), or dates
(numpy ``datetime64``, ``datetime.date``/``datetime``, pandas timestamps, ISO strings such as
``"2024-07-15"``), whose fraction is that of their own year (a date is its midday). The result
is float64 in [0, 1). A bad value is an error naming its row.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import numpy as np

from satclip.errors import InputError

DAYS_PER_YEAR = 365.25


def mid_month(month: Any) -> Any:
    """The year fraction of the middle of ``month`` (1 = January; a number or an array)."""
    return (month - 0.5) / 12.0


def _row(values: np.ndarray, bad: np.ndarray) -> str:
    i = int(np.flatnonzero(bad)[0])
    value = values.reshape(-1)[i].item()
    return f"row {i} ({value!r})" if values.ndim else repr(value)


def _midday(value: Any) -> Any:
    """Dates (datetime64 scalars or arrays) as their midday, datetimes as themselves, in
    seconds."""
    if np.datetime_data(value.dtype)[0] in ("Y", "M", "W", "D"):
        return value.astype("datetime64[s]") + np.timedelta64(12 * 3600, "s")
    return value.astype("datetime64[s]")


def _from_dates(values: np.ndarray, what: str) -> np.ndarray:
    """Year fractions of datetime64 values (any unit); a date without a time of day is its midday."""
    if np.isnat(values).any():
        raise InputError(
            f"{what}: {_row(values, np.isnat(values))} is not a date (NaT); every point needs one"
        )
    seconds = _midday(values)
    start = seconds.astype("datetime64[Y]").astype("datetime64[s]")
    end = (seconds.astype("datetime64[Y]") + np.timedelta64(1, "Y")).astype("datetime64[s]")
    return ((seconds - start) / (end - start)).astype(np.float64)


def _as_datetimes(values: Any, what: str) -> np.ndarray | None:
    """``values`` as a datetime64 array when they are dates (or text that parses as ISO dates);
    None when they are numbers."""
    if hasattr(values, "dt") or type(values).__name__ in ("DatetimeIndex", "Timestamp"):
        values = getattr(values, "to_numpy", lambda: values)()  # pandas: to numpy datetime64
        if isinstance(values, _dt.datetime):
            values = np.datetime64(values.replace(tzinfo=None))
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr
    if arr.dtype.kind == "O" and arr.size and all(isinstance(v, _dt.date) for v in arr.reshape(-1)):
        values = [
            np.datetime64(v.replace(tzinfo=None), "s")
            if isinstance(v, _dt.datetime)
            else _midday(np.datetime64(v))
            for v in arr.reshape(-1)
        ]
        return np.array(values, dtype="datetime64[s]").reshape(arr.shape)
    if arr.dtype.kind in "UO" and arr.size:
        flat = arr.reshape(-1)
        numeric = np.array([_is_number(v) for v in flat])
        if numeric.all():
            return None
        out = np.empty(flat.shape, dtype="datetime64[s]")
        for i, v in enumerate(flat):
            try:
                out[i] = _midday(np.datetime64(str(v).strip())) if not numeric[i] else np.datetime64("NaT")
            except ValueError:
                out[i] = np.datetime64("NaT")
            if np.isnat(out[i]):
                raise InputError(
                    f"{what}: row {i} ({str(v)!r}) is neither a month number 1-12 nor an ISO date such as "
                    "2024-07-15; give one of them for every point"
                )
        return out.reshape(arr.shape)
    return None


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _numbers(values: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers, dates or ISO date strings, got {values!r}") from None
    return arr


def year_fractions(month: Any = None, day_of_year: Any = None) -> np.ndarray | None:
    """The year fractions of ``month`` (month numbers 1-12, or dates) or ``day_of_year``
    (1-366), as a float64 array of their shape (0-d for a scalar); None when neither is given."""
    if month is not None and day_of_year is not None:
        raise InputError("give month= or day_of_year=, not both")
    if month is None and day_of_year is None:
        return None
    if day_of_year is not None:
        days = _numbers(day_of_year, "day_of_year")
        bad = ~(np.isfinite(days) & (days >= 1) & (days < 367))
        if bad.any():
            raise InputError(
                f"day_of_year: {_row(days, bad)} is not a day of the year; give 1-366 (1 = 1 January)"
            )
        return np.mod((np.floor(days) - 0.5) / DAYS_PER_YEAR, 1.0)
    dates = _as_datetimes(month, "month")
    if dates is not None:
        return _from_dates(dates, "month")
    months = _numbers(month, "month")
    bad = ~(np.isfinite(months) & (months >= 1) & (months <= 12) & (np.floor(months) == months))
    if bad.any():
        raise InputError(
            f"month: {_row(months, bad)} is not a month; give whole numbers 1-12 (1 = January), "
            "dates, or day_of_year= for days"
        )
    return mid_month(months)


def broadcast_times(t: np.ndarray, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """(n,) year fractions for n points of ``shape``: a scalar for all of them, or one per point."""
    if t.ndim == 0:
        return np.full(n, float(t))
    if t.shape != shape and t.size != n:
        raise InputError(
            f"month/day_of_year has shape {t.shape} but there are {n} points (shape {shape}); "
            "give one value for all, or one per point"
        )
    return t.reshape(-1)


def time_column(month_col: str | None, date_col: str | None) -> tuple[str, str] | None:
    """(column, "month" or "date") of whichever of the two is given, None for neither; both is
    an error."""
    if month_col is not None and date_col is not None:
        raise InputError("give month_col or date_col, not both")
    if month_col is not None:
        return month_col, "month"
    return None if date_col is None else (date_col, "date")


def column_times(
    values: Any, column: str, kind: str, first_row: int = 0, label: str | None = None
) -> np.ndarray:
    """(N,) year fractions of a file's or a frame's column (a list, or a numpy array of any dtype:
    a frame column's ``to_numpy()``): ``kind`` "month" (month numbers 1-12) or "date" (dates,
    datetimes, ISO text such as 2024-07-15). A missing or bad value is an error naming
    the column and the row (counted from ``first_row``, for a file read in chunks); ``label``
    names the column in errors (default the command-line option, ``--month-col NAME``)."""
    option = label or f"--{kind}-col {column}"
    try:
        return _column_times(values, option, kind)
    except InputError as e:
        message = str(e)
        if message.startswith("month: "):  # year_fractions' own: named as the column
            message = f"{option}: {message.removeprefix('month: ')}"
        message = re.sub(r"row (\d+)", lambda m: f"row {int(m.group(1)) + first_row}", message, count=1)
        raise InputError(message) from None


def _column_times(values: Any, option: str, kind: str) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":  # a datetime column (pandas)
        if kind == "month":
            raise InputError(f"{option} holds dates; name it as the date column, or give month numbers 1-12")
        return _from_dates(values.reshape(-1), option)
    arr = np.asarray(values, dtype=object).reshape(-1)
    missing = np.array([v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())
                        for v in arr], dtype=bool)  # fmt: skip
    if missing.any():
        raise InputError(
            f"{option}: row {int(np.flatnonzero(missing)[0])} has no {kind}; every point needs one"
        )
    dates = _as_datetimes(arr, option) if kind == "date" or not all(_is_number(v) for v in arr) else None
    if kind == "month":
        if dates is not None:
            raise InputError(f"{option} holds dates; name it as the date column, or give month numbers 1-12")
        t = year_fractions(month=np.array([float(v) for v in arr]))
    else:
        if dates is None:
            raise InputError(
                f"{option} holds numbers, not dates; name month numbers 1-12 as the month column, or "
                "give ISO dates such as 2024-07-15"
            )
        t = _from_dates(dates, option)
    assert t is not None
    return t
