"""Sphere geometry for patches and jitter: the azimuthal-equidistant frame and bilinear sampling.

A patch is cut in a local azimuthal-equidistant (AEQD) frame centred on its point: x east,
y north, distances true from the centre. So every patch covers the same ground, whatever its
latitude, a patch on a pole is not stretched, and one across ±180° is whole.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
EQUATOR_KM = 2 * np.pi * 6378.137  # WGS84 equatorial circumference


def patch_offsets_km(size: int, pixel_km: float) -> tuple[np.ndarray, np.ndarray]:
    """(size, size) x (east) and y (north) offsets of pixel centres, row 0 at the top (north)."""
    c = (np.arange(size) - (size - 1) / 2) * pixel_km
    x, y = np.meshgrid(c, -c)
    return x, y


def aeqd_inverse(
    lon0: np.ndarray, lat0: np.ndarray, x: np.ndarray, y: np.ndarray, radius_km: float = EARTH_RADIUS_KM
) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat (degrees) of AEQD offsets (km) around centres (lon0, lat0).

    Args:
        lon0, lat0: (P,) centres in degrees.
        x, y: offsets in km, any shape S, shared by all centres.

    Returns:
        lon, lat of shape (P, *S); lon wrapped to [-180, 180).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    rho = np.hypot(x, y)
    c = rho / radius_km
    sin_c, cos_c = np.sin(c), np.cos(c)
    # y·sin(c)/ρ → y/R as ρ → 0; avoid 0/0 at the centre.
    y_sinc_rho = np.divide(y * sin_c, rho, out=np.zeros_like(rho), where=rho > 0)
    phi0 = np.deg2rad(np.asarray(lat0, dtype=np.float64))
    sp = np.sin(phi0).reshape(-1, *([1] * x.ndim))
    cp = np.cos(phi0).reshape(-1, *([1] * x.ndim))
    lat = np.arcsin(np.clip(cos_c * sp + y_sinc_rho * cp, -1.0, 1.0))
    dlon = np.arctan2(x * sin_c, rho * cp * cos_c - y * sin_c * sp)
    lon = np.asarray(lon0, dtype=np.float64).reshape(-1, *([1] * x.ndim)) + np.rad2deg(dlon)
    return (lon + 180.0) % 360.0 - 180.0, np.rad2deg(lat)


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(n,) lon, lat degrees → (n, 3) points on the unit sphere."""
    lam, phi = np.deg2rad(lon), np.deg2rad(lat)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=1)


def great_circle_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Haversine distance in km."""
    p1, p2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dl = np.deg2rad(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def sample_equirectangular(image: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Bilinear samples of an equirectangular image at lon/lat (degrees).

    Args:
        image: (H, W, C) array, pixel (0, 0) at 90° N, 180° W, pixel centres at half steps.
        lon, lat: arrays of any shape S.

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
