"""Reading the evaluation sources: equirectangular grids, GeoPackage polygons, continents."""

from __future__ import annotations

import sqlite3
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from satclip.sources import fetch

# Serialises satclip's own changes to PIL's limit, so that two overlapping reads cannot restore
# each other's raised value and leave the guard off for good.
_pil_limit_lock = threading.Lock()


def read_image(name: str) -> np.ndarray:
    """The registry image ``name`` as an array. The Köppen map is 84 megapixels, just under
    PIL's decompression-bomb limit, which a user may have lowered; the file is checksummed, so the
    limit is lifted for opening this one file only (not for the rest of the process: the user's
    own images keep their guard)."""
    from PIL import Image

    path = fetch(name)
    with _pil_limit_lock:
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            im = Image.open(path)  # the size check happens here; decoding below needs no limit
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    with im:
        return np.asarray(im)


def _gpkg_geometry(blob: bytes):
    """Shapely geometry of a GeoPackage geometry blob: 'GP' header, optional envelope, WKB."""
    import shapely

    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0b111]
    return shapely.from_wkb(blob[8 + envelope :])


def read_gpkg_layer(path: Path, layer: str, columns: list[str]) -> tuple[list, list[tuple]]:
    """(geometries, attribute rows) of a GeoPackage layer, read with sqlite3 and shapely."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (geom_col,) = con.execute(
            "select column_name from gpkg_geometry_columns where table_name = ?", (layer,)
        ).fetchone()
        cols = ", ".join(f'"{c}"' for c in columns)
        rows = con.execute(
            f'select "{geom_col}", {cols} from "{layer}" where "{geom_col}" is not null'
        ).fetchall()
    finally:
        con.close()
    return [_gpkg_geometry(r[0]) for r in rows], [tuple(r[1:]) for r in rows]


def polygon_labels(
    geoms: list, labels: list[str], lon: np.ndarray, lat: np.ndarray, nearest_deg: float = 0.0
) -> np.ndarray:
    """The label of the polygon containing each point ("" if none). Points outside every polygon
    take the nearest polygon's label when it is within ``nearest_deg`` degrees."""
    import shapely

    tree = shapely.STRtree(geoms)
    points = shapely.points(lon, lat)
    pt_idx, geom_idx = tree.query(points, predicate="intersects")
    out = np.full(len(lon), "", dtype=object)
    # Where polygons overlap (disputed areas), the first match wins: deterministic.
    first = np.unique(pt_idx, return_index=True)[1]
    out[pt_idx[first]] = np.asarray(labels, dtype=object)[geom_idx[first]]
    if nearest_deg > 0:
        missing = np.flatnonzero(out == "")
        if len(missing):
            p_idx, g_idx = tree.query_nearest(points[missing], max_distance=nearest_deg)
            out[missing[p_idx]] = np.asarray(labels, dtype=object)[g_idx]
    return out


@lru_cache(maxsize=1)
def _continent_shapes() -> tuple[list, list[str]]:
    import shapefile
    import shapely

    with fetch("ne-lowres-shp").open("rb") as shp, fetch("ne-lowres-dbf").open("rb") as dbf:
        reader = shapefile.Reader(shp=shp, dbf=dbf, encoding="latin-1")  # the .cpg says ISO-8859-1
        fields = [f[0] for f in reader.fields[1:]]
        k = fields.index("continent")
        geoms, names = [], []
        for rec in reader.iterShapeRecords():
            geoms.append(shapely.geometry.shape(rec.shape.__geo_interface__))
            names.append(rec.record[k])
    return geoms, names


def continents(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Continent of each point (Natural Earth 1:110m countries; nearest within 2°; else "")."""
    geoms, names = _continent_shapes()
    return polygon_labels(geoms, names, lon, lat, nearest_deg=2.0)
