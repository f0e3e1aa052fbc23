"""Arguments shared by several command groups: ``parse_bbox`` (raster, data s2) and the input
reader options (embed, evaluate --task-file)."""

from __future__ import annotations

import argparse
from typing import Any


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """W,S,E,N degrees (argparse type)."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bbox must be W,S,E,N in degrees, e.g. 5.9,45.8,10.5,47.8 or -10,40,10,50; got {text!r}"
        ) from None
    return w, s, e, n


def add_reader_options(parser: Any) -> None:
    """The options that say where a file's points are: ``--lon-col``, ``--lat-col``,
    ``--geometry-col``, ``--crs``, ``--delimiter``, ``--sheet`` (see :class:`satclip.io.readers.InputTable`)."""
    parser.add_argument(
        "--lon-col",
        help="longitude column (default: the one named lon, lng, long, longitude or decimalLongitude, any case)",
    )
    parser.add_argument(
        "--lat-col",
        help="latitude column (default: the one named lat, latitude or decimalLatitude, any case)",
    )
    parser.add_argument("--geometry-col", help="WKB geometry column (default: the file's own geometry)")
    parser.add_argument(
        "--crs",
        help="CRS of the coordinate columns, e.g. EPSG:2056: they are then x/y and are reprojected "
        "(default lon/lat degrees; for vector files, the file's own CRS)",
    )
    parser.add_argument(
        "--delimiter",
        help="CSV delimiter: one character, or tab, comma, semicolon, pipe (default: sniffed; with "
        "a delimiter other than a comma, decimal commas are read)",
    )
    parser.add_argument(
        "--sheet", help="the sheet of an Excel workbook to read, by name (default: the first)"
    )


def reader_options(args: argparse.Namespace) -> dict[str, Any]:
    """The values of :func:`add_reader_options`, as keyword arguments of the readers."""
    return {
        "lon_col": args.lon_col,
        "lat_col": args.lat_col,
        "geometry_col": args.geometry_col,
        "crs": args.crs,
        "delimiter": args.delimiter,
        "sheet": args.sheet,
    }
