"""Argument types shared by several command groups: ``parse_bbox`` (raster, data s2)."""

from __future__ import annotations

import argparse


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """W,S,E,N degrees (argparse type)."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bbox must be W,S,E,N in degrees, e.g. 5.9,45.8,10.5,47.8 or -10,40,10,50; got {text!r}"
        ) from None
    return w, s, e, n
