"""The Blue Marble pretraining dataset: real Earth imagery, built offline from the registries.

``build_bluemarble`` samples N points area-uniformly on land (uniform on the sphere with a fixed
seed, then the GLOBE land mask) and cuts one patch per point from NASA's Blue Marble NG in a
local azimuthal-equidistant frame (see :mod:`satclip.data.geometry`). Output, in ``out``:

- ``images.npy``   uint8 (N, C, size, size), memory-mappable;
- ``index.parquet`` columns ``id, lon, lat``;
- ``manifest.json`` counts, channels, parameters, seed and the sources' checksums.

The build writes into ``<out>.partial`` and renames it at the end, so an interrupted build is
never mistaken for a finished one; rerunning with the same parameters resumes it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from satclip._files import write_json
from satclip.data.geometry import aeqd_inverse, patch_offsets_km
from satclip.geography import EQUATOR_KM, land_mask, sample_equirectangular, sample_land_points
from satclip.geography import LandMask as LandMask  # re-exported from its old home
from satclip.sources import SOURCES, fetch

FORMAT = "satclip-bluemarble"
FORMAT_VERSION = 1
MONTHS = ("01", "03", "05", "07", "08")
_CHUNK = 2048


@dataclass(frozen=True)
class BlueMarbleConfig:
    """Parameters of a build; saved in the manifest and compared when resuming."""

    n: int = 100_000
    size: int = 32
    pixel_km: float | None = None  # None: Blue Marble's ground resolution at the equator
    seed: int = 0
    months: tuple[str, ...] = field(default_factory=tuple)  # extra RGB channels per month

    def __post_init__(self) -> None:
        object.__setattr__(self, "months", tuple(self.months))
        if self.n < 1 or self.size < 1:
            raise ValueError(f"n and size must be positive, got n={self.n}, size={self.size}")
        if self.pixel_km is not None and self.pixel_km <= 0:
            raise ValueError(f"pixel_km must be positive, got {self.pixel_km}")
        bad = [m for m in self.months if m not in MONTHS]
        if bad:
            raise ValueError(f"months {bad} are not available; choose from {', '.join(MONTHS)}")


def _load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _channels(cfg: BlueMarbleConfig) -> list[str]:
    names = ["bmng_r", "bmng_g", "bmng_b"]
    for m in cfg.months:
        names += [f"bmng{m}_r", f"bmng{m}_g", f"bmng{m}_b"]
    return names


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_json(path, data, indent=2)


def _params(cfg: BlueMarbleConfig, pixel_km: float) -> dict[str, Any]:
    return {**asdict(cfg), "months": list(cfg.months), "pixel_km": pixel_km}


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(root) / "manifest.json"
    if not path.exists():
        partial = Path(str(root) + ".partial")
        hint = (
            f" (an unfinished build is at {partial}; rerun the build to resume it)"
            if partial.exists()
            else ""
        )
        raise FileNotFoundError(f"{root}: no manifest.json, not a finished Blue Marble dataset{hint}")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT or not manifest.get("complete"):
        raise ValueError(f"{root}: manifest.json is not a complete {FORMAT} manifest")
    return manifest


def build_bluemarble(
    cfg: BlueMarbleConfig, out: str | os.PathLike[str], progress: bool = True, overwrite: bool = False
) -> Path:
    """Build (or resume, or reuse) the dataset described by ``cfg`` in ``out``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    out = Path(out)
    bmng_path = fetch("bluemarble")
    image = _load_rgb(bmng_path)
    pixel_km = cfg.pixel_km if cfg.pixel_km is not None else EQUATOR_KM / image.shape[1]
    params = _params(cfg, pixel_km)
    if out.exists():
        existing = read_manifest(out)
        if existing["params"] == params:
            return out  # already built with these parameters
        if not overwrite:
            raise FileExistsError(
                f"{out} holds a dataset built with other parameters ({existing['params']}); "
                "choose another --out or pass --overwrite"
            )
        shutil.rmtree(out)

    partial = Path(str(out) + ".partial")
    progress_file = partial / "progress.json"
    done = 0
    if partial.exists():
        state = json.loads(progress_file.read_text()) if progress_file.exists() else {}
        if state.get("params") == params:
            done = int(state["done"])
        else:
            shutil.rmtree(partial)  # a different or unreadable earlier build: restart cleanly
    partial.mkdir(parents=True, exist_ok=True)

    sources = {"bluemarble": image} | {
        f"bluemarble-{m}": _load_rgb(fetch(f"bluemarble-{m}")) for m in cfg.months
    }
    channels = _channels(cfg)
    shape = (cfg.n, len(channels), cfg.size, cfg.size)
    images_path = partial / "images.npy"
    if done == 0:
        lon, lat = sample_land_points(cfg.n, cfg.seed, land_mask())
        table = pa.table({"id": np.arange(cfg.n, dtype=np.int64), "lon": lon, "lat": lat})
        pq.write_table(table, partial / "index.parquet")
        images = np.lib.format.open_memmap(images_path, mode="w+", dtype=np.uint8, shape=shape)
        _write_json(progress_file, {"params": params, "done": 0})
    else:
        table = pq.read_table(partial / "index.parquet")
        lon, lat = table.column("lon").to_numpy(), table.column("lat").to_numpy()
        images = np.load(images_path, mmap_mode="r+")

    x, y = patch_offsets_km(cfg.size, pixel_km)
    t0 = time.perf_counter()
    with tqdm(
        total=cfg.n, initial=done, unit=" patches", disable=not progress, desc="cutting patches"
    ) as bar:
        for start in range(done, cfg.n, _CHUNK):
            stop = min(start + _CHUNK, cfg.n)
            plon, plat = aeqd_inverse(lon[start:stop], lat[start:stop], x, y)
            parts = [sample_equirectangular(img, plon, plat) for img in sources.values()]
            patch = np.concatenate(parts, axis=-1)  # (P, size, size, C)
            images[start:stop] = np.clip(np.rint(patch), 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)
            images.flush()
            _write_json(progress_file, {"params": params, "done": stop})
            bar.update(stop - start)
    del images

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "complete": True,
        "count": cfg.n,
        "channels": channels,
        "image_shape": list(shape[1:]),
        "footprint_km": pixel_km * cfg.size,
        "params": params,
        "sources": {
            name: {
                k: getattr(SOURCES[name], k) for k in ("registry", "package", "version", "member", "sha256")
            }
            | {"attribution": SOURCES[name].attribution, "licence": SOURCES[name].licence}
            for name in ["landmask", *sources]
        },
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    _write_json(partial / "manifest.json", manifest)
    progress_file.unlink()
    os.replace(partial, out)
    return out
