"""Checking and normalising (lon, lat) input, shared by every encoder entry point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from satclip.errors import InputError, InputTypeError

# Coordinate column names found when none are given, compared case-insensitively: the common
# spellings, and Darwin Core's decimalLongitude / decimalLatitude (GBIF occurrence downloads).
LON_NAMES = ("lon", "lng", "long", "longitude", "decimallongitude")
LAT_NAMES = ("lat", "latitude", "decimallatitude")


def find_coordinate_column(columns: Sequence[Any], axis: str, fix: str) -> Any:
    """The column of ``axis`` ("lon" or "lat") among ``columns``: the one called exactly that, else
    the one whose name, stripped and in lower case, is in :data:`LON_NAMES` / :data:`LAT_NAMES`;
    None when there is none. Two candidates are an error naming both and ``fix`` (how to pick).
    Columns that are not text (a frame's 0, 1, ...) are never found by name."""
    if axis in columns:
        return axis
    names = LON_NAMES if axis == "lon" else LAT_NAMES
    found = [c for c in columns if isinstance(c, str) and c.strip().lower() in names]
    if len(found) > 1:
        raise InputError(f"columns {found} could each be the {axis}; name one with {fix}")
    return found[0] if found else None


def coordinate_columns(columns: Sequence[Any], lon: Any, lat: Any, fix: str) -> tuple[Any, Any]:
    """The longitude and latitude column names: each as given, or where it is None found by
    :func:`find_coordinate_column` (None when there is none). Given names are not checked."""
    return (
        lon if lon is not None else find_coordinate_column(columns, "lon", fix),
        lat if lat is not None else find_coordinate_column(columns, "lat", fix),
    )


def is_geo(obj: Any) -> bool:
    """Whether ``obj`` is a geopandas GeoDataFrame or GeoSeries, told without importing geopandas
    (the core needs torch and numpy only)."""
    return all(hasattr(obj, a) for a in ("geometry", "geom_type", "crs", "to_crs"))


def geometry_coordinates(obj: Any) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes (degrees) of the point geometries of a GeoDataFrame or GeoSeries,
    reprojected from its CRS by geopandas' own ``to_crs``. Anything but non-empty points is an
    error naming the first such row: a polygon has no single location, and which point stands
    for it is the user's choice (``satclip.embed_geodataframe`` takes equal-area centroids)."""
    geo = obj.geometry
    kind = "GeoSeries" if geo is obj else "GeoDataFrame"
    if geo.crs is None:
        raise InputError(
            f"the {kind} has no CRS, so its coordinates cannot be read as lon/lat; set it first, "
            "e.g. .set_crs('EPSG:4326') for degrees (or the CRS it really is in)"
        )
    types = np.asarray(geo.geom_type, dtype=object)
    bad = (types != "Point") | np.asarray(geo.is_empty, dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind_i = types[i] if isinstance(types[i], str) else None  # geopandas gives NaN or None
        what = (
            "a missing geometry"
            if kind_i is None
            else f"an empty {kind_i}"
            if kind_i == "Point"
            else f"a {kind_i}"
        )
        raise InputError(
            f"{int(bad.sum())} row(s) of the {kind} are not points, the first at index {i} "
            f"(label {geo.index[i]!r}): {what}; embed points (e.g. .representative_point(), or "
            "satclip.io.embed_geodataframe(enc, gdf) for equal-area centroids of polygons and lines) "
            "and drop missing or empty geometries"
        )
    if not geo.crs.equals("EPSG:4326"):
        geo = geo.to_crs("EPSG:4326")  # x is the longitude: geopandas keeps (x, y) order
    return np.asarray(geo.x, dtype=np.float64), np.asarray(geo.y, dtype=np.float64)


def is_frame(obj: Any) -> bool:
    """Whether ``obj`` holds named columns: a DataFrame (anything with ``columns``), a pyarrow
    Table, a dict of columns, a GeoDataFrame or GeoSeries."""
    return isinstance(obj, Mapping) or hasattr(obj, "columns") or hasattr(obj, "column_names") or is_geo(obj)


def frame_columns(frame: Any) -> list[Any]:
    """The column names of a frame (pyarrow's ``columns`` are the arrays, hence ``column_names``)."""
    if isinstance(frame, Mapping):
        return list(frame.keys())
    return list(frame.column_names if hasattr(frame, "column_names") else frame.columns)


def frame_coordinates(
    frame: Any, lon: Any = None, lat: Any = None, fix: str = "enc.embed(frame[LON_COLUMN], frame[LAT_COLUMN])"
) -> tuple[Any, Any]:
    """The longitude and latitude columns of a frame (:func:`is_frame`: pandas, pyarrow, a dict
    of columns, anything with ``columns`` and ``[]``): ``lon``/``lat`` where given, else found
    by :func:`find_coordinate_column`; never by position, since a frame's first column may as
    well be the latitude. ``fix`` says how the caller names the columns, in the errors. A
    GeoDataFrame given no column names gives its point geometries
    (:func:`geometry_coordinates`), whatever other columns it has."""
    if lon is None and lat is None and is_geo(frame):
        return geometry_coordinates(frame)
    columns = frame_columns(frame)
    names = coordinate_columns(columns, lon, lat, fix)
    for name, given, axis in zip(names, (lon, lat), ("longitude", "latitude"), strict=True):
        if given is not None and given not in columns:
            raise InputError(
                f"the frame has no column {given!r} (given as the {axis}); columns are {columns[:10]}"
            )
        if name is None:
            raise InputError(
                f"the frame has no {axis} column among {columns[:10]} (found by name, in any case: "
                f"{', '.join(LON_NAMES + LAT_NAMES)}); pass the columns: {fix}"
            )
    return frame[names[0]], frame[names[1]]


def first_bad_row(lonlat: np.ndarray) -> int | None:
    """Index of the first row of an (N, 2) lon/lat array that is non-finite or has a latitude
    outside [-90, 90], whatever its fault; None when every row is good."""
    lat = lonlat[:, 1]
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(lonlat).all(axis=1) | (lat < -90) | (lat > 90)
    return int(np.flatnonzero(bad)[0]) if bad.any() else None


def check_lonlat_array(lonlat: np.ndarray, offset: int = 0) -> None:
    """Raise ``ValueError`` naming the first bad row of an (N, 2) lon/lat array.

    ``offset`` is added to reported indices, for callers that check a chunk of a larger input.
    """
    if lonlat.ndim != 2 or lonlat.shape[1] != 2:
        # (2,) is most often one (lon, lat) pair; it could also be two longitudes without latitudes.
        one = (
            "; for one point, pass [[lon, lat]] or (lon, lat) as two arguments"
            if lonlat.shape == (2,)
            else ""
        )
        raise InputError(
            f"expected (lon, lat) coordinates of shape (N, 2), got shape {tuple(lonlat.shape)}; "
            f"stack longitudes and latitudes as columns: np.stack([lon, lat], axis=1){one}"
        )
    i = first_bad_row(lonlat)
    if i is not None:
        raise InputError(bad_row_message(lonlat, i, offset))


def bad_row_message(lonlat: np.ndarray, i: int, offset: int = 0, where: str | None = None) -> str:
    """What is wrong with row ``i`` (reported as ``i + offset``, or as ``where`` when given) and
    how to fix it."""
    index = f"{i + offset}" if where is None else where
    if not np.isfinite(lonlat[i]).all():
        return (
            f"non-finite coordinate at index {index}: (lon, lat) = "
            f"({lonlat[i, 0]}, {lonlat[i, 1]}); drop or fill NaN/inf rows first"
        )
    return (
        f"latitude out of range [-90, 90] at index {index}: (lon, lat) = "
        f"({lonlat[i, 0]}, {lonlat[i, 1]}); is the input in (lon, lat) order and in degrees?"
    )


def wrap_longitude(lon: torch.Tensor) -> torch.Tensor:
    """Wrap longitudes into [-180, 180]: 190 -> -170. Values already in range are unchanged."""
    inside = (lon >= -180) & (lon <= 180)
    return torch.where(inside, lon, torch.remainder(lon + 180, 360) - 180)


def check_lonlat_tensor(lonlat: torch.Tensor) -> torch.Tensor:
    """Validate an (N, 2) lon/lat tensor and return it with longitudes wrapped."""
    if not isinstance(lonlat, torch.Tensor):
        kind = type(lonlat)
        name = (
            kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        )
        raise InputTypeError(
            f"expected an (N, 2) torch tensor of (lon, lat) degrees, got {name}; wrap it with "
            "torch.as_tensor(...), or call the encoder's embed / embed_array, which take numpy "
            "arrays and lists"
        )
    if lonlat.ndim != 2 or lonlat.shape[-1] != 2:
        raise InputError(
            f"expected (lon, lat) coordinates of shape (N, 2), got shape {tuple(lonlat.shape)}; "
            "stack longitudes and latitudes as columns: torch.stack([lon, lat], dim=1)"
        )
    if not lonlat.is_floating_point():
        lonlat = lonlat.to(torch.get_default_dtype())
    lat = lonlat[:, 1]
    ok = torch.isfinite(lonlat).all() & (lat >= -90).all() & (lat <= 90).all()
    if not bool(ok):
        check_lonlat_array(lonlat.detach().cpu().numpy())
    lon = lonlat[:, 0]
    if bool(((lon >= -180) & (lon <= 180)).all()):
        return lonlat
    return torch.stack([wrap_longitude(lon), lat], dim=1)


def as_lonlat_array(lon: Any, lat: Any, any_shape: bool = False) -> np.ndarray:
    """Scalars, lists or arrays of lon and lat → validated float64 (N, 2) array.

    With ``any_shape``, lon and lat may also be N-D arrays of one shape (a meshgrid, a 2-D
    coordinate field), taken in C order; errors then name the N-D index of the bad point."""
    lon_a = np.atleast_1d(float_array(lon, "lon"))
    lat_a = np.atleast_1d(float_array(lat, "lat"))
    shape = lon_a.shape
    if any_shape and lon_a.ndim > 1 and lat_a.shape == shape:
        lon_a, lat_a = lon_a.ravel(), lat_a.ravel()
    if lon_a.ndim != 1 or lat_a.ndim != 1 or lon_a.shape != lat_a.shape:
        raise InputError(
            f"lon and lat must be scalars or 1-D sequences of equal length"
            f"{' (or arrays of one shape)' if any_shape else ''}, "
            f"got shapes {np.shape(lon)} and {np.shape(lat)}"
        )
    lonlat = np.stack([lon_a, lat_a], axis=1)
    i = first_bad_row(lonlat)
    if i is not None:
        where = str(tuple(int(k) for k in np.unravel_index(i, shape))) if len(shape) > 1 else None
        raise InputError(bad_row_message(lonlat, i, where=where))
    return lonlat


def float_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a float64 array; a masked array with masked entries is an error, since
    ``np.asarray`` would silently use whatever lies under the mask."""
    if np.ma.isMaskedArray(values):
        mask = np.ma.getmaskarray(values)
        if mask.any():
            first = np.unravel_index(int(np.flatnonzero(mask)[0]), mask.shape)
            where = first[0] if len(first) == 1 else tuple(int(k) for k in first)
            raise InputError(
                f"{name} is a masked array with {int(mask.sum())} masked value(s), the first at "
                f"index {where}; drop those points or fill them before embedding"
            )
    if values is None:
        raise InputError(f"{name} is None; pass longitudes and latitudes in degrees")
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        # A ValueError here is text that is not a number, most often a place name.
        hint = " (place names are not looked up: geocode them first)" if isinstance(e, ValueError) else ""
        raise InputError(f"{name} must be numbers in degrees: {e}{hint}") from None
