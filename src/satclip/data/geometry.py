"""Patch geometry: the azimuthal-equidistant frame that patches and jitter are cut in.

A patch is cut in a local azimuthal-equidistant (AEQD) frame centred on its point: x east,
y north, distances true from the centre. So every patch covers the same ground, whatever its
latitude, a patch on a pole is not stretched, and one across ±180° is whole.
"""

from __future__ import annotations

import numpy as np

from satclip.geography import EARTH_RADIUS_KM


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
