"""Write a local static STAC catalogue of small Sentinel-2-like Cloud-Optimised GeoTIFF scenes.

    python -m tests.data.stac_fixture OUT_DIR

Four scenes over central Paris (UTM 31N, 10/20/60 m bands as in L2A), 6 km square, with
asset keys B01..B12 as on the Planetary Computer: ``good`` (2022, 5 % cloud), ``cloudy``
(60 % cloud), ``old`` (2020, before the S2-100K date range) and ``holes`` (2022, 3 % cloud, its
western half nodata). Pixel values are synthetic; every band of the cloudy and old scenes is
7777 so a test can tell if one of them was used.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

BANDS_RES = {
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20,
    "B08": 10, "B8A": 20, "B09": 60, "B11": 20, "B12": 20,
}  # fmt: skip
CENTRE = (2.35, 48.86)
EXTENT_M = 6000
BBOX = (2.33, 48.85, 2.37, 48.87)  # inside every scene, for sampling


def _scene(root: Path, name: str, when: datetime, cloud: float, fill: int | None, holes: bool, rng):  # type: ignore[no-untyped-def]
    import pystac
    import rasterio
    from affine import Affine
    from rasterio.warp import transform as warp

    xs, ys = warp("EPSG:4326", "EPSG:32631", [CENTRE[0]], [CENTRE[1]])
    x0, y0 = round(xs[0]) - EXTENT_M // 2, round(ys[0]) + EXTENT_M // 2
    folder = root / name
    folder.mkdir(parents=True)
    assets = {}
    for band, res in BANDS_RES.items():
        n = EXTENT_M // res
        yy, xx = np.mgrid[0:n, 0:n]
        data = 500 + 20 * (xx + yy) * res / 10 % 3000 + rng.integers(0, 50, (n, n))
        if fill is not None:
            data[:] = fill
        if holes:
            data[:, : n // 2] = 0
        profile = {
            "driver": "COG", "width": n, "height": n, "count": 1, "dtype": "uint16", "nodata": 0,
            "crs": "EPSG:32631", "transform": Affine.translation(x0, y0) @ Affine.scale(res, -res),
            "blocksize": 128, "overview_resampling": "average",
        }  # fmt: skip
        path = folder / f"{band}.tif"
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data.astype(np.uint16), 1)
        assets[band] = pystac.Asset(href=str(path), media_type=pystac.MediaType.COG, roles=["data"])
    corners_x = [x0, x0 + EXTENT_M, x0 + EXTENT_M, x0, x0]
    corners_y = [y0, y0, y0 - EXTENT_M, y0 - EXTENT_M, y0]
    lons, lats = warp("EPSG:32631", "EPSG:4326", corners_x, corners_y)
    geometry = {"type": "Polygon", "coordinates": [list(zip(lons, lats, strict=True))]}
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    item = pystac.Item(name, geometry, bbox, when, {"eo:cloud_cover": cloud}, collection="sentinel-2-l2a")
    for key, asset in assets.items():
        item.add_asset(key, asset)
    return item


def write_stac_catalog(root: Path, seed: int = 0) -> Path:
    import pystac

    root = Path(root)
    rng = np.random.default_rng(seed)
    catalog = pystac.Catalog("s2-test", "Sentinel-2-like test scenes over Paris")
    utc = UTC
    for name, when, cloud, fill, holes in [
        ("good", datetime(2022, 6, 1, tzinfo=utc), 5.0, None, False),
        ("cloudy", datetime(2022, 7, 1, tzinfo=utc), 60.0, 7777, False),
        ("old", datetime(2020, 6, 1, tzinfo=utc), 1.0, 7777, False),
        ("holes", datetime(2022, 8, 1, tzinfo=utc), 3.0, None, True),
    ]:
        catalog.add_item(_scene(root / "scenes", name, when, cloud, fill, holes, rng))
    catalog.normalize_hrefs(str(root))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    print(write_stac_catalog(Path(ap.parse_args().out)))
