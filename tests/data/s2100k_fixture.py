"""Write a small dataset in the exact S2-100K layout, for tests and for trying the reader.

    python -m tests.data.s2100k_fixture OUT_DIR [--n 6]

Layout as published: ``index.csv`` with columns ``fn, lon, lat`` and ``images/patch_<i>.tif``,
each a 12-band uint16 GeoTIFF (B01-B08, B8A, B09, B11, B12; L2A, no B10) in the point's UTM zone
at 10 m. Real Sentinel-2 cannot be downloaded here: the pixel values are reflectance-like
(×10000) numbers made from the Blue Marble colour at the point (red → B04, green → B03,
blue → B02, the rest from their mean), so the files are genuine in format, not in content.
One extra entry is a tiny (< 10 kB) file and one is not a GeoTIFF, as the reader must skip both.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

POINTS = [(2.35, 48.86), (-60.02, -3.12), (31.24, 30.04), (151.21, -33.87), (-105.0, 40.0), (36.82, -1.29)]
SIZE = 64


def _rgb_at(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(n, 3) Blue Marble colours at the points; the 5400 × 2700 image is decoded once."""
    from PIL import Image

    from satclip.geography import sample_equirectangular
    from satclip.sources import fetch

    with Image.open(fetch("bluemarble")) as im:
        rgb = np.asarray(im.convert("RGB"))
    return sample_equirectangular(rgb, np.asarray(lon), np.asarray(lat))


def write_s2100k(root: Path, n: int = len(POINTS), size: int = SIZE, seed: int = 0) -> Path:
    import rasterio
    from affine import Affine

    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    points = POINTS[:n]
    colours = _rgb_at(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    for i, ((lon, lat), colour) in enumerate(zip(points, colours, strict=True)):
        r, g, b = colour / 255.0 * 3000 + 200
        base = np.array([b, b, g, r, r, r, r, r, r, g, g, g])  # coarse stand-in spectrum
        data = (base[:, None, None] * (1 + 0.1 * rng.standard_normal((12, size, size)))).clip(1, 10000)
        zone = int((lon + 180) // 6) + 1
        epsg = (32600 if lat >= 0 else 32700) + zone
        fn = f"patch_{i}.tif"
        profile = {
            "driver": "GTiff",
            "width": size,
            "height": size,
            "count": 12,
            "dtype": "uint16",
            "crs": f"EPSG:{epsg}",
            "transform": Affine.translation(500000.0, 4000000.0) @ Affine.scale(10.0, -10.0),
        }
        with rasterio.open(root / "images" / fn, "w", **profile) as dst:
            dst.write(data.astype(np.uint16))
        rows.append((fn, lon, lat))
    (root / "images" / "patch_small.tif").write_bytes(b"II*\x00" + b"\x00" * 100)
    (root / "images" / "patch_broken.tif").write_bytes(b"not a tiff" * 2000)
    rows += [("patch_small.tif", 0.0, 0.0), ("patch_broken.tif", 1.0, 1.0), ("patch_missing.tif", 2.0, 2.0)]
    with (root / "index.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["fn", "lon", "lat"])
        w.writerows(rows)
    return root


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=len(POINTS))
    args = ap.parse_args()
    print(write_s2100k(Path(args.out), args.n))
