"""``satclip data s2``: an S2-100K-style dataset from a STAC catalogue, following the published rules.

For each patch: draw a point area-uniformly on land (seeded per attempt, so a resumed run makes
the same choices), find Sentinel-2 L2A scenes over it (date range, cloud cover below the limit),
pick one at random, read a random ``size``×``size`` window of the 12 bands at 10 m (20 m and 60 m
bands resampled bilinearly), and reject windows with more than 10 % nodata. Each patch is
written as ``images/patch_<i>.tif`` and appended to ``index.csv`` (``fn, lon, lat``): the S2-100K
layout that :class:`satclip.data.S2100KDataset` reads.

Two kinds of catalogue: a STAC API searched with pystac-client (the default is Microsoft's
Planetary Computer, whose asset URLs are signed with the ``planetary-computer`` package), or a
static catalogue on disk (``catalog.json``), walked with pystac and filtered here.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satclip._files import atomic_path, write_json
from satclip._optional import require
from satclip.data.datasets import S2_BANDS
from satclip.errors import InputError, InputFileNotFoundError

PLANETARY_COMPUTER = "https://planetarycomputer.microsoft.com/api/stac/v1"
# L2A asset keys in the S2-100K band order (no B10 in L2A).
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
assert len(BANDS) == S2_BANDS


@dataclass(frozen=True)
class S2Config:
    n: int = 100
    size: int = 256
    catalog: str = PLANETARY_COMPUTER
    collection: str = "sentinel-2-l2a"
    start: str = "2021-01-01"
    end: str = "2023-05-17"
    max_cloud: float = 20.0
    max_nodata: float = 0.10
    seed: int = 0
    sign: str = "auto"  # "planetary-computer", "none", or "auto" (sign when the catalog is PC's)
    max_attempts_per_patch: int = 50
    bbox: tuple[float, float, float, float] | None = None  # W, S, E, N: sample only here

    def __post_init__(self) -> None:
        if self.n < 1 or self.size < 1:
            raise InputError(f"n and size must be positive, got n={self.n}, size={self.size}")
        if self.bbox is not None:
            object.__setattr__(self, "bbox", tuple(float(v) for v in self.bbox))
            w, s_, e, n = self.bbox
            if not (-180 <= w < e <= 180 and -90 <= s_ < n <= 90):
                raise InputError(f"bbox must be W,S,E,N in degrees with W < E and S < N, got {self.bbox}")
        if self.sign not in ("auto", "none", "planetary-computer"):
            raise InputError(f"sign must be auto, none or planetary-computer, got {self.sign!r}")


def _is_static(catalog: str) -> bool:
    return not catalog.startswith(("http://", "https://")) or catalog.endswith(".json")


class _Catalog:
    """Scene search over a STAC API or a static catalogue."""

    def __init__(self, cfg: S2Config) -> None:
        self.cfg = cfg
        self.static_items: list[Any] | None = None
        if _is_static(cfg.catalog):
            import pystac

            path = Path(cfg.catalog)
            root = path / "catalog.json" if path.is_dir() else path
            if not root.exists():
                raise InputFileNotFoundError(f"{root}: no STAC catalog here")
            cat = pystac.Catalog.from_file(str(root))
            self.static_items = [
                i for i in cat.get_items(recursive=True) if i.collection_id in (None, cfg.collection)
            ]
        else:
            import pystac_client

            self.client = pystac_client.Client.open(cfg.catalog)
        sign = cfg.sign
        if sign == "auto":
            sign = "planetary-computer" if "planetarycomputer" in cfg.catalog else "none"
        self.sign = sign

    def search(self, lon: float, lat: float) -> list[Any]:
        cfg = self.cfg
        point = {"type": "Point", "coordinates": [lon, lat]}
        if self.static_items is not None:
            from shapely.geometry import Point, shape

            p = Point(lon, lat)
            lo, hi = np.datetime64(cfg.start), np.datetime64(cfg.end) + np.timedelta64(1, "D")
            items = [
                i
                for i in self.static_items
                if shape(i.geometry).intersects(p)
                and lo <= np.datetime64(i.datetime.replace(tzinfo=None)) < hi
                and i.properties.get("eo:cloud_cover", 100.0) < cfg.max_cloud
            ]
        else:
            search = self.client.search(
                collections=[cfg.collection],
                intersects=point,
                datetime=f"{cfg.start}/{cfg.end}",
                query={"eo:cloud_cover": {"lt": cfg.max_cloud}},
                max_items=100,
            )
            items = list(search.items())
        items.sort(key=lambda i: i.id)  # a stable order, so seeded choices repeat
        return items

    def signed(self, item: Any) -> Any:
        if self.sign == "planetary-computer":
            pc = require("planetary_computer", "s2", "signing Planetary Computer URLs")
            return pc.sign(item)
        return item


@dataclass
class _Window:
    data: np.ndarray  # (12, size, size) uint16
    crs: Any
    transform: Any
    lon: float  # the window's centre
    lat: float


def _read_window(item: Any, lon: float, lat: float, size: int, rng: np.random.Generator) -> _Window | None:
    """A random size×size window at 10 m of the 12 bands containing (lon, lat), or None if it
    does not fit inside the scene."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import transform as warp_transform
    from rasterio.windows import from_bounds

    hrefs = [item.assets[b].href for b in BANDS]
    with rasterio.open(hrefs[3]) as ref:  # B04, a 10 m band, defines the grid
        xs, ys = warp_transform("EPSG:4326", ref.crs, [lon], [lat])
        col, row = ~ref.transform @ (xs[0], ys[0])
        c0 = int(col) - int(rng.integers(0, size))
        r0 = int(row) - int(rng.integers(0, size))
        if c0 < 0 or r0 < 0 or c0 + size > ref.width or r0 + size > ref.height:
            return None
        crs = ref.crs
        transform = ref.transform @ ref.transform.translation(c0, r0)
    left, top = transform @ (0, 0)
    right, bottom = transform @ (size, size)
    cx, cy = transform @ (size / 2, size / 2)
    clon, clat = warp_transform(crs, "EPSG:4326", [cx], [cy])
    bands = []
    for href in hrefs:
        with rasterio.open(href) as src:
            win = from_bounds(left, bottom, right, top, src.transform)
            band = src.read(
                1, window=win, out_shape=(size, size), resampling=Resampling.bilinear, boundless=True
            )
            bands.append(band)
    return _Window(np.stack(bands).astype(np.uint16), crs, transform, float(clon[0]), float(clat[0]))


def _write_patch(path: Path, data: np.ndarray, crs: Any, transform: Any) -> None:
    import rasterio

    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": "uint16",
        "crs": crs,
        "transform": transform,
        "compress": "deflate",
    }
    with atomic_path(path, suffix=path.suffix) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)


def build_s2(cfg: S2Config, out: str | os.PathLike[str], progress: bool = True) -> Path:
    """Build (or resume) an S2-100K-style dataset of ``cfg.n`` patches in ``out``."""
    from tqdm import tqdm

    from satclip.geography import land_mask

    out = Path(out)
    if (out / "index.csv").exists() and not Path(str(out) + ".partial").exists():
        return out
    partial = Path(str(out) + ".partial")
    state_file = partial / "state.json"
    params = json.loads(json.dumps(asdict(cfg)))  # tuples as lists, as read back from state.json
    state: dict[str, Any] = {"params": params, "attempt": 0, "done": 0}
    if partial.exists():
        old = json.loads(state_file.read_text()) if state_file.exists() else {}
        if old.get("params") == params:
            state = old
        else:
            shutil.rmtree(partial)
    (partial / "images").mkdir(parents=True, exist_ok=True)
    index = partial / "index.csv"
    if state["done"] == 0:
        index.write_text("fn,lon,lat\n")
    else:
        # Keep exactly the rows the state vouches for (a row written after the last state save
        # is dropped and redone).
        lines = index.read_text().splitlines()[: state["done"] + 1]
        index.write_text("\n".join(lines) + "\n")

    catalog = _Catalog(cfg)
    is_land = land_mask()
    failures = 0
    with tqdm(
        total=cfg.n, initial=state["done"], unit=" patches", disable=not progress, desc="sentinel-2"
    ) as bar:
        while state["done"] < cfg.n:
            rng = np.random.default_rng([cfg.seed, state["attempt"]])
            state["attempt"] += 1
            w, south, e, north = cfg.bbox or (-180.0, -90.0, 180.0, 90.0)
            lon = float(rng.uniform(w, e))
            lat = float(
                np.rad2deg(np.arcsin(rng.uniform(np.sin(np.deg2rad(south)), np.sin(np.deg2rad(north)))))
            )
            window = None
            if is_land(np.array([lon]), np.array([lat]))[0]:
                items = catalog.search(lon, lat)
                if items:
                    item = catalog.signed(items[int(rng.integers(len(items)))])
                    window = _read_window(item, lon, lat, cfg.size, rng)
                    if window is not None and np.mean((window.data == 0).all(axis=0)) > cfg.max_nodata:
                        window = None  # more than 10 % nodata
            if window is None:
                failures += 1
                if failures > cfg.max_attempts_per_patch * cfg.n:
                    raise InputError(
                        f"{failures} attempts found only {state['done']} usable patches; "
                        "does the catalogue cover land in the date range with little cloud?"
                    )
                continue
            i = state["done"]
            _write_patch(partial / "images" / f"patch_{i}.tif", window.data, window.crs, window.transform)
            with index.open("a", newline="") as f:
                csv.writer(f).writerow([f"patch_{i}.tif", window.lon, window.lat])
            state["done"] = i + 1
            write_json(state_file, state, indent=None)
            bar.update(1)
    state_file.unlink()
    os.replace(partial, out)
    return out
