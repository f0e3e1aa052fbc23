"""Text in input tables: the CSV dialect (delimiter sniffed or named), the row count for the
progress bar, and coordinate columns read from text with the first bad value named by its row.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from satclip.errors import InputError

# Delimiters tried when a CSV's is not given: comma, semicolon (European locales), tab, pipe.
CSV_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 1 << 16


def float_column(
    table: Any,
    name: str,
    first_row: int,
    src: Path,
    decimal_comma: bool = False,
    rows_note: str = "(rows count data rows from 0)",
) -> tuple[np.ndarray, tuple[int, str] | None]:
    """A column as float64, and its first value that is not a number (empty, text) as
    (position, message), or None. Such values are NaN in the array.

    ``decimal_comma``: text values may use a comma as the decimal mark (``48,86``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    problem = None
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        text = pc.utf8_trim_whitespace(pc.replace_substring(col, ",", ".") if decimal_comma else col)
        try:
            col = pc.cast(text, pa.float64())
        except pa.ArrowInvalid:
            values = np.full(len(text), np.nan)
            for i, v in enumerate(text.to_pylist()):
                try:
                    values[i] = float(v) if v else np.nan
                    if not v or not _is_number_text(v):
                        raise InputError(v)
                except (TypeError, ValueError):
                    # Rows from the first bad one on are not used: stop there.
                    what = "is empty" if not v else f"value {col[i].as_py()!r} is not a number"
                    msg = f"{src}: row {first_row + i}: {name} {what} {rows_note}"
                    problem = (i, msg)
                    values[i] = np.nan
                    break
            return values, problem
    elif not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
        raise InputError(f"{src}: column {name} has type {col.type}, expected numbers in degrees")
    if col.null_count:
        i = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        problem = (i, f"{src}: row {first_row + i}: {name} is empty {rows_note}")
        col = pc.fill_null(col, np.nan)
    return col.to_numpy().astype(np.float64), problem


def _is_number_text(v: str) -> bool:
    """What Arrow's cast accepts as a float, which Python's float() also does (so it agrees)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        pc.cast(pa.array([v]), pa.float64())
        return True
    except pa.ArrowInvalid:
        return False


def check_delimiter(delimiter: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    d = named.get(delimiter, delimiter)
    if len(d) != 1 or d in '"\r\n':
        raise InputError(
            f"delimiter must be one character (or tab, comma, semicolon, pipe), got {delimiter!r}"
        )
    return d


def sniff_delimiter(path: Path) -> str:
    """The CSV delimiter among ``CSV_DELIMITERS`` that splits the first lines into the same
    number of fields, the most fields in the header winning (a comma when nothing splits)."""
    with path.open("rb") as f:
        sample = f.read(_SNIFF_BYTES).decode("utf-8-sig", errors="replace")
    lines = sample.splitlines()
    if len(sample) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut off
    lines = [ln for ln in lines[:50] if ln.strip()]
    if not lines:
        return ","
    best, best_key = ",", (False, 1)
    for d in CSV_DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=d)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        key = (len(set(counts)) == 1, counts[0])
        if key > best_key:
            best, best_key = d, key
    return best


def count_csv_rows(path: Path) -> int:
    """Data rows of a CSV by its line breaks (for the progress bar; quoted line breaks overcount)."""
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)
