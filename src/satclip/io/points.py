"""Geometries in any CRS → the (lon, lat) EPSG:4326 point that represents each one.

Points are taken as they are. Every other geometry (polygons, lines, multi-parts) is represented
by its centroid computed in an equal-area frame: a spherical Lambert azimuthal equal-area
projection centred on the geometry itself, so the centroid is area-weighted on the Earth and
not on a lon/lat plot (where a polygon's high-latitude part would be over-weighted by 1/cos φ
and a polygon across the dateline would average to 0° longitude). Needs shapely and, for a CRS
other than lon/lat degrees, pyproj.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satclip.errors import InputError
from satclip.geography import unit_vectors

# CRSs that already are (lon, lat) degrees in that axis order once always_xy is applied.
_MAX_RECENTRE = 12
_LONLAT_CRS = {"EPSG:4326", "OGC:CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84"}


def laea_forward(
    lon: np.ndarray, lat: np.ndarray, lon0: np.ndarray, lat0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical Lambert azimuthal equal-area projection on the unit sphere.

    All arguments are (n,) degrees, the centre given per point; returns (x, y), each (n,).
    """
    lam, phi = np.deg2rad(lon - lon0), np.deg2rad(lat)
    phi0 = np.deg2rad(lat0)
    cos_c = np.sin(phi0) * np.sin(phi) + np.cos(phi0) * np.cos(phi) * np.cos(lam)
    k = np.sqrt(2.0 / np.maximum(1.0 + cos_c, 1e-300))
    x = k * np.cos(phi) * np.sin(lam)
    y = k * (np.cos(phi0) * np.sin(phi) - np.sin(phi0) * np.cos(phi) * np.cos(lam))
    return x, y


def laea_inverse(
    x: np.ndarray, y: np.ndarray, lon0: np.ndarray, lat0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`laea_forward`: (n,) unit-sphere x, y and centres → (lon, lat) degrees."""
    rho = np.hypot(x, y)
    c = 2.0 * np.arcsin(np.clip(rho / 2.0, 0.0, 1.0))
    phi0 = np.deg2rad(lat0)
    safe = np.where(rho > 0, rho, 1.0)
    sin_phi = np.cos(c) * np.sin(phi0) + np.where(rho > 0, y * np.sin(c) * np.cos(phi0) / safe, 0.0)
    lat = np.rad2deg(np.arcsin(np.clip(sin_phi, -1.0, 1.0)))
    lam = np.arctan2(x * np.sin(c), rho * np.cos(phi0) * np.cos(c) - y * np.sin(phi0) * np.sin(c))
    lon = lon0 + np.rad2deg(lam)
    return (lon + 180.0) % 360.0 - 180.0, lat


def _centres(lon: np.ndarray, lat: np.ndarray, index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per geometry, the direction of the mean of its vertices' unit vectors (dateline-safe)."""
    s = np.zeros((n, 3))
    np.add.at(s, index, unit_vectors(lon, lat))
    return np.rad2deg(np.arctan2(s[:, 1], s[:, 0])), np.rad2deg(
        np.arctan2(s[:, 2], np.hypot(s[:, 0], s[:, 1]))
    )


def _as_crs(crs: Any) -> Any:
    from pyproj import CRS

    return CRS.from_json_dict(crs) if isinstance(crs, dict) else CRS.from_user_input(crs)


def is_lonlat_crs(crs: Any) -> bool:
    """Whether ``crs`` (a PROJJSON dict or anything pyproj accepts) is WGS 84 lon/lat degrees."""
    src = _as_crs(crs)
    return src.to_string() in _LONLAT_CRS or bool(src.equals("OGC:CRS84"))


def to_lonlat(geoms: np.ndarray, crs: Any | None) -> np.ndarray:
    """Reproject shapely geometries from ``crs`` (anything pyproj accepts; None = lon/lat) to lon/lat."""
    import shapely

    if crs is None:
        return geoms
    from pyproj import Transformer

    if is_lonlat_crs(crs):
        return geoms
    t = Transformer.from_crs(_as_crs(crs), "EPSG:4326", always_xy=True)
    return shapely.transform(geoms, lambda xy: np.stack(t.transform(xy[:, 0], xy[:, 1]), axis=1))


def representative_lonlat(geoms: np.ndarray, crs: Any | None = None, first_row: int = 0) -> np.ndarray:
    """(n,) shapely geometries → (n, 2) float64 (lon, lat): points as they are, others by their
    equal-area centroid. A missing or empty geometry raises ``ValueError`` naming its row
    (``first_row`` + position)."""
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InputError(
            f"row {first_row + i}: empty or missing geometry; drop such rows or give lon/lat columns"
        )
    geoms = to_lonlat(geoms, crs)
    out = np.empty((len(geoms), 2))
    is_point = shapely.get_type_id(geoms) == 0
    if is_point.any():
        out[is_point, 0] = shapely.get_x(geoms[is_point])
        out[is_point, 1] = shapely.get_y(geoms[is_point])
    others = np.flatnonzero(~is_point)
    if len(others):
        g = geoms[others]
        coords, index = shapely.get_coordinates(g, return_index=True)
        lon0, lat0 = _centres(coords[:, 0], coords[:, 1], index, len(g))
        # The centroid in a projection centred elsewhere is slightly off (the projection is
        # equal-area, not distance-preserving): recentre on it until it is a fixed point. Each
        # step shrinks the error ~40x for a 30° polygon, far more for small ones.
        for _ in range(_MAX_RECENTRE):
            lon1, lat1 = _laea_centroid(g, coords, index, lon0, lat0)
            step = np.abs((lon1 - lon0 + 180) % 360 - 180).max() + np.abs(lat1 - lat0).max()
            lon0, lat0 = lon1, lat1
            if step < 1e-9:
                break
        out[others, 0], out[others, 1] = lon0, lat0
    return out


def _laea_centroid(
    g: np.ndarray, coords: np.ndarray, index: np.ndarray, lon0: np.ndarray, lat0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Centroids of geometries ``g`` (vertices ``coords``, owner ``index``) in LAEA about (lon0, lat0)."""
    import shapely

    x, y = laea_forward(coords[:, 0], coords[:, 1], lon0[index], lat0[index])
    # shapely.transform builds new geometries (set_coordinates would edit the caller's in place).
    projected = shapely.transform(g, lambda _: np.stack([x, y], axis=1))
    centroids = shapely.centroid(projected)
    # A zero-area, zero-length result (all vertices equal) has no centroid: use the centre.
    cx, cy = np.nan_to_num(shapely.get_x(centroids)), np.nan_to_num(shapely.get_y(centroids))
    return laea_inverse(cx, cy, lon0, lat0)
