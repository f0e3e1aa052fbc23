"""The north-up EPSG:4326 pixel grid of an embedding raster, and its tiling."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from satclip.errors import InputError

PIXEL_TOLERANCE = 1e-6  # how far from a whole number of pixels a bbox side may be (float rounding)


@dataclass(frozen=True)
class RasterGrid:
    """A north-up EPSG:4326 grid of ``height`` x ``width`` pixels of ``resolution`` degrees."""

    west: float
    north: float
    resolution: float
    width: int
    height: int

    @classmethod
    def from_bbox(cls, bbox: Sequence[float], resolution: float) -> RasterGrid:
        """Validate a (W, S, E, N) bbox in degrees and a resolution; ``ValueError`` says what to fix."""
        w, s, e, n = check_bbox(bbox)
        res = float(resolution)
        if not (np.isfinite(res) and res > 0):
            raise InputError(f"resolution must be a positive number of degrees, got {resolution!r}")
        width, height = _pixels("width", w, e, res), _pixels("height", s, n, res)
        return cls(west=w, north=n, resolution=res, width=width, height=height)

    @property
    def geotransform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL order: (west, res, 0, north, 0, -res)."""
        return (self.west, self.resolution, 0.0, self.north, 0.0, -self.resolution)

    @property
    def affine(self) -> tuple[float, float, float, float, float, float]:
        """``affine.Affine`` / rasterio order: (res, 0, west, 0, -res, north)."""
        return (self.resolution, 0.0, self.west, 0.0, -self.resolution, self.north)

    def lons(self, c0: int = 0, c1: int | None = None) -> np.ndarray:
        """Pixel-centre longitudes of columns ``c0:c1``."""
        cols = np.arange(c0, self.width if c1 is None else c1, dtype=np.float64)
        return self.west + (cols + 0.5) * self.resolution

    def lats(self, r0: int = 0, r1: int | None = None) -> np.ndarray:
        """Pixel-centre latitudes of rows ``r0:r1`` (north to south)."""
        rows = np.arange(r0, self.height if r1 is None else r1, dtype=np.float64)
        return self.north - (rows + 0.5) * self.resolution


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """A (W, S, E, N) bbox in degrees as four floats; ``ValueError`` says what to fix."""
    if len(bbox) != 4:
        raise InputError(f"bbox must be (west, south, east, north) in degrees, got {bbox!r}")
    w, s, e, n = (float(v) for v in bbox)
    if not np.isfinite([w, s, e, n]).all():
        raise InputError(f"bbox {bbox!r} has a non-finite value; give (west, south, east, north) in degrees")
    if not -180 <= w <= 180:
        raise InputError(f"bbox west = {w} is outside [-180, 180]; is the bbox (W, S, E, N) in degrees?")
    # East may run past 180° for a bbox across the antimeridian (170 to 190 = 170°E to 170°W),
    # as GDAL writes such grids; the pixel centres beyond 180° are embedded at lon - 360.
    if not -180 <= e <= 180 and not (180 < e <= w + 360):
        raise InputError(
            f"bbox east = {e} is outside [-180, 180] (or, across the antimeridian, (180, west + 360]); "
            "is the bbox (W, S, E, N) in degrees?"
        )
    for name, v in (("south", s), ("north", n)):
        if not -90 <= v <= 90:
            raise InputError(f"bbox {name} = {v} is outside [-90, 90]; is the bbox (W, S, E, N) in degrees?")
    if w >= e:
        raise InputError(
            f"bbox west {w} must be less than east {e}: give (W, S, E, N); for a bbox across the "
            f"antimeridian give east past 180 (east + 360 = {e + 360:g})"
        )
    if s >= n:
        raise InputError(f"bbox south {s} must be less than north {n}: give (W, S, E, N)")
    return w, s, e, n


def _pixels(what: str, lo: float, hi: float, res: float) -> int:
    n = (hi - lo) / res
    count = round(n)
    if count < 1 or abs(n - count) > PIXEL_TOLERANCE:
        # The grid hangs from the north-west corner, so the east and south edges are the ones to move.
        edge, snapped = (
            ("east", lo + np.ceil(n) * res) if what == "width" else ("south", hi - np.ceil(n) * res)
        )
        raise InputError(
            f"bbox {what} {hi - lo:g} degrees is not a whole number of {res:g}-degree pixels ({n:.6g}); "
            f"move the {edge} edge to {snapped:.10g} or pick a resolution that divides {hi - lo:g}"
        )
    return count


def _windows(grid: RasterGrid, tile: int) -> Iterator[tuple[int, int, int, int]]:
    """(row0, row1, col0, col1) of each tile, row-major; edge tiles are cut to the grid."""
    for r0 in range(0, grid.height, tile):
        for c0 in range(0, grid.width, tile):
            yield r0, min(r0 + tile, grid.height), c0, min(c0 + tile, grid.width)


@dataclass(frozen=True)
class Bands:
    """What a raster writer writes besides the pixel values: the grid, the band names, the value
    type and the metadata."""

    grid: RasterGrid
    names: list[str]
    dtype: np.dtype
    attrs: dict[str, Any]


# ((row0, row1, col0, col1), (bands, rows, cols) values) of each tile, in row-major order.
Blocks = Iterator[tuple[tuple[int, int, int, int], np.ndarray]]
