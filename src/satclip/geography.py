"""Earth geometry shared by training data, inference and evaluation: numpy only.

Unit vectors, the Earth's radius, lookups in equirectangular (plate carrée) grids, the global
land mask and area-uniform sampling on land. Grids here have row 0 at 90° N and column 0 at
180° W; a *cell-registered* grid's pixel (i, j) covers the cell whose corner is that point, a
*grid-registered* one samples the point itself (GLOBE's land mask is grid-registered).
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np

from satclip.errors import InputError

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
EQUATOR_KM = 2 * np.pi * 6378.137  # WGS84 equatorial circumference

Registration = Literal["cell", "grid"]


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(n,) lon, lat degrees → (n, 3) points on the unit sphere."""
    lam, phi = np.deg2rad(lon), np.deg2rad(lat)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=1)


def equirect_index(
    lon: np.ndarray, lat: np.ndarray, shape: tuple[int, ...], registration: Registration = "cell"
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the nearest pixel of an (H, W, ...) equirectangular grid.

    ``lon``/``lat`` in degrees, any shape S; returns two int64 arrays of shape S. Columns wrap
    around the dateline, rows clamp at the poles.
    """
    h, w = shape[:2]
    v = (90.0 - np.asarray(lat, dtype=np.float64)) * (h / 180.0)
    u = (np.asarray(lon, dtype=np.float64) + 180.0) * (w / 360.0)
    # A cell-registered pixel's centre is half a pixel in: truncating finds the cell; a
    # grid-registered node sits on the point itself: rounding finds the nearest node.
    rows, cols = (np.floor(v), np.floor(u)) if registration == "cell" else (np.round(v), np.round(u))
    return np.clip(rows.astype(np.int64), 0, h - 1), cols.astype(np.int64) % w


def grid_lookup(grid: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Values of the nearest cells of a cell-registered equirectangular grid at lon/lat degrees."""
    rows, cols = equirect_index(lon, lat, grid.shape, "cell")
    return grid[rows, cols]


def sample_equirectangular(image: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Bilinear samples of a cell-registered equirectangular image at lon/lat (degrees).

    Args:
        image: (H, W, C) array, pixel (0, 0) at 90° N, 180° W, pixel centres at half steps.
        lon: longitudes, an array of any shape S.
        lat: latitudes, the same shape.

    Returns:
        (*S, C) float32. Columns wrap around the dateline; rows clamp at the poles.
    """
    h, w = image.shape[:2]
    u = (np.asarray(lon, dtype=np.float64) + 180.0) * (w / 360.0) - 0.5
    v = (90.0 - np.asarray(lat, dtype=np.float64)) * (h / 180.0) - 0.5
    u0, v0 = np.floor(u), np.floor(v)
    fu = (u - u0).astype(np.float32)[..., None]
    fv = (v - v0).astype(np.float32)[..., None]
    j0 = u0.astype(np.int64) % w
    j1 = (j0 + 1) % w
    i0 = np.clip(v0.astype(np.int64), 0, h - 1)
    i1 = np.clip(v0.astype(np.int64) + 1, 0, h - 1)
    top = image[i0, j0].astype(np.float32) * (1 - fu) + image[i0, j1].astype(np.float32) * fu
    bottom = image[i1, j0].astype(np.float32) * (1 - fu) + image[i1, j1].astype(np.float32) * fu
    return top * (1 - fv) + bottom * fv


class LandMask:
    """A global grid-registered land/water grid (True = land) as a function of lon/lat degrees.

    Stored as packed bits: the GLOBE 30″ mask takes 933 MB as bytes, 117 MB as bits.
    """

    def __init__(self, land: np.ndarray) -> None:
        self.shape = land.shape
        self.bits = np.packbits(land, axis=1)

    @classmethod
    def from_bits(cls, bits: np.ndarray, shape: tuple[int, int]) -> LandMask:
        """A mask of ``shape`` (rows, columns) from its rows packed by ``np.packbits(land, axis=1)``."""
        if bits.dtype != np.uint8 or bits.shape != (shape[0], -(-shape[1] // 8)):
            raise InputError(f"packed bits of shape {bits.shape} ({bits.dtype}) do not hold a {shape} mask")
        mask = cls.__new__(cls)
        mask.shape, mask.bits = shape, bits
        return mask

    def __call__(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        rows, cols = equirect_index(lon, lat, self.shape, "grid")
        return ((self.bits[rows, cols >> 3] >> (7 - (cols & 7))) & 1).astype(bool)


@functools.lru_cache(maxsize=1)
def land_mask() -> LandMask:
    """The GLOBE 30″ land mask (the ``landmask`` source, from PyPI ``global-land-mask``), loaded
    once per process.

    Decompressing the source and packing it takes ~3.5 s, more than a small ``satclip map``; the
    packed bits (117 MB) are therefore kept beside the verified source, named by its sha256, and
    later processes read them from there.
    """
    from satclip._files import atomic_path
    from satclip.sources import SOURCES, fetch

    src = fetch("landmask")
    packed = src.with_name(f"landmask-{SOURCES['landmask'].sha256[:16]}.bits.npy")
    shape = (21600, 43200)  # the GLOBE grid at 30″
    try:
        # Read, not memory-mapped: a mapped file cut short by anything would crash the process.
        return LandMask.from_bits(np.load(packed), shape)
    except (OSError, ValueError):  # absent, truncated or not ours: made again below
        pass
    with np.load(src) as f:
        mask = LandMask(~f["mask"])
    if mask.shape == shape:
        try:
            with atomic_path(packed, suffix=".npy") as tmp:
                np.save(tmp, mask.bits)
        except OSError:  # a read-only cache: the mask is still right, only slower next time
            pass
    return mask


def _uniform_on_sphere(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
    """m (lon, lat) degrees uniform by area on the sphere (longitudes drawn first)."""
    lon = rng.uniform(-180.0, 180.0, m)
    return lon, np.rad2deg(np.arcsin(rng.uniform(-1.0, 1.0, m)))


def sample_sphere_points(n: int, seed: int) -> np.ndarray:
    """(n, 2) lon/lat degrees uniform by area on the whole sphere."""
    return np.stack(_uniform_on_sphere(np.random.default_rng(seed), n), axis=1)


def sample_land_points(n: int, seed: int, is_land: LandMask) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform by area on land: uniform on the sphere, then kept where the mask is land."""
    rng = np.random.default_rng(seed)
    lons, lats, total = [], [], 0
    while total < n:
        m = max(4096, 4 * (n - total))  # land is ~29 % of the sphere
        lon, lat = _uniform_on_sphere(rng, m)
        keep = is_land(lon, lat)
        lons.append(lon[keep])
        lats.append(lat[keep])
        total += int(keep.sum())
    return np.concatenate(lons)[:n], np.concatenate(lats)[:n]


def block_ids(lon: np.ndarray, lat: np.ndarray, block_deg: float) -> np.ndarray:
    """Integer id of the block_deg × block_deg lon/lat cell of each point."""
    n_cols = int(np.ceil(360 / block_deg))
    col = np.clip(((np.asarray(lon) + 180) // block_deg).astype(np.int64), 0, n_cols - 1)
    row = np.clip(
        ((np.asarray(lat) + 90) // block_deg).astype(np.int64), 0, int(np.ceil(180 / block_deg)) - 1
    )
    return row * n_cols + col
