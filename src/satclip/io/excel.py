"""Excel workbooks (.xlsx, .xlsm) as Arrow tables, read with openpyxl.

The first worksheet is read unless another is named, as with ``pandas.read_excel``; the
header is its first row with two or more cells filled. A sheet holds at most 1 048 576 rows,
so it is read whole; cells hold the values Excel last calculated (formulas are not evaluated
here).
"""

from __future__ import annotations

import os
from typing import Any

from satclip._optional import require
from satclip._registry import did_you_mean
from satclip.errors import InputError

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}


def read_xlsx(path: str | os.PathLike[str], sheet: str | None = None) -> tuple[Any, int]:
    """Worksheet ``sheet`` of ``path`` (default: the first) → (a ``pyarrow.Table`` with one
    column per header cell, the sheet's row number of the first data row).

    The header is the first row with two or more cells filled: a title and blank lines above
    the table, as hand-made sheets have them, are passed over (a table of points needs two
    columns at least).

    A column of numbers (or dates, or text) keeps that type; a column that mixes types is
    read as text, so that a coordinate typed as text in one cell is reported with its row by
    the reader rather than lost. Empty rows after the last value (formatting Excel keeps) are
    dropped; an empty row in between stays, and is reported like a missing value.
    """
    openpyxl = require("openpyxl", "io")
    import pyarrow as pa

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises zipfile, KeyError and its own errors alike
        raise InputError(f"{path}: not a readable Excel workbook (.xlsx / .xlsm): {e}") from None
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise InputError(
                f"{path}: no sheet {sheet!r}{did_you_mean(sheet, wb.sheetnames)}; its sheets are {wb.sheetnames}"
            )
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        title = ws.title
    finally:
        wb.close()
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError(f"{path}: the sheet {title!r} is empty; put a header row and the points there")
    top = next((i for i, r in enumerate(rows) if sum(v is not None for v in r) >= 2), None)
    if top is None:
        raise InputError(
            f"{path}: no row of the sheet {title!r} has two cells filled; the header row "
            "should name the columns (e.g. lon, lat)"
        )
    header, data = rows[top], rows[top + 1 :]
    width = max(len(r) for r in rows)
    names = [
        str(header[j]).strip() if j < len(header) and header[j] is not None else f"column_{j + 1}"
        for j in range(width)
    ]
    columns = [[r[j] if j < len(r) else None for r in data] for j in range(width)]
    # Rows are numbered from 1 in a sheet; the data start below the header.
    return pa.Table.from_arrays([_column(c) for c in columns], names=names), top + 2


def _column(values: list[Any]) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
