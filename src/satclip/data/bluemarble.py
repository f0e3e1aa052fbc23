"""The Blue Marble pretraining dataset: real Earth imagery, built offline from the registries.

``build_bluemarble`` samples N points area-uniformly on land (uniform on the sphere with a fixed
seed, then the GLOBE land mask) and cuts one patch per point from NASA's Blue Marble NG in a
local azimuthal-equidistant frame (see :mod:`satclip.data.geometry`). Optionally, more
co-registered imagery (monthly composites, night lights) as extra channels, and views at larger
footprints (``scales``), box-filtered, as further channels. Only imagery (:data:`IMAGERY`) may
enter: never maps of downstream targets. Output, in ``out``:

- ``images.npy``   uint8 (N, C, size, size), memory-mappable;
- ``index.parquet`` columns ``id, lon, lat``;
- ``manifest.json`` counts, channels, parameters, seed and the sources' checksums.

The build writes into ``<out>.partial`` and renames it at the end, so an interrupted build is
never mistaken for a finished one; rerunning with the same parameters resumes it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from satclip._files import write_json
from satclip.data.geometry import aeqd_inverse, patch_offsets_km
from satclip.errors import InputError, InputFileNotFoundError, OutputExistsError
from satclip.geography import EQUATOR_KM, land_mask, sample_equirectangular, sample_land_points
from satclip.sources import SOURCES, fetch

FORMAT = "satclip-bluemarble"
FORMAT_VERSION = 1
MONTHS = ("01", "03", "05", "07", "08")
# Sources that may enter pretraining: imagery only, as in the paper. Maps of downstream targets
# (elevation, relief, climate, classes, borders, population) never do (MODELS.md).
IMAGERY = ("bluemarble", *(f"bluemarble-{m}" for m in MONTHS), "night-viirs", "night-dmsp")
_CHUNK = 2048
# Coarser views are box-filtered from up to this many samples per pixel side.
MAX_SUPERSAMPLE = 8


@dataclass(frozen=True)
class BlueMarbleConfig:
    """Parameters of a build; saved in the manifest and compared when resuming."""

    n: int = 100_000
    size: int = 32
    pixel_km: float | None = None  # None: Blue Marble's ground resolution at the equator
    seed: int = 0
    months: tuple[str, ...] = field(default_factory=tuple)  # extra RGB channels per month
    # Extra co-registered imagery, each as RGB channels (a name from IMAGERY, e.g. night-viirs).
    layers: tuple[str, ...] = field(default_factory=tuple)
    # Views per point: footprints as multiples of the first (1 = size x pixel_km), each as
    # channels of the same size in pixels; coarser views are box-filtered, not point-sampled.
    scales: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "months", tuple(self.months))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "scales", tuple(float(v) for v in self.scales))
        if self.n < 1 or self.size < 1:
            raise InputError(f"n and size must be positive, got n={self.n}, size={self.size}")
        if self.pixel_km is not None and self.pixel_km <= 0:
            raise InputError(f"pixel_km must be positive, got {self.pixel_km}")
        bad = [m for m in self.months if m not in MONTHS]
        if bad:
            raise InputError(f"months {bad} are not available; choose from {', '.join(MONTHS)}")
        not_imagery = [layer for layer in self.layers if layer not in IMAGERY]
        if not_imagery:
            raise InputError(
                f"layers {not_imagery} are not pretraining imagery; choose from {', '.join(IMAGERY)} "
                "(maps of downstream targets, such as elevation or climate, never enter pretraining)"
            )
        if len(set(self.sources())) != len(self.sources()):
            raise InputError(f"a layer is given twice: {list(self.sources())}")
        if (
            not self.scales
            or any(not (v > 0) for v in self.scales)
            or len(set(self.scales)) != len(self.scales)
        ):
            raise InputError(f"scales must be distinct positive footprint multiples, got {self.scales}")

    def sources(self) -> tuple[str, ...]:
        """The imagery sources sampled for every view, in channel order."""
        return ("bluemarble", *(f"bluemarble-{m}" for m in self.months), *self.layers)


def load_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8: an image file as RGB (the registry imagery, for patches and samplers)."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def channel_names(cfg: BlueMarbleConfig) -> list[str]:
    """Channel names: bmng_r.. for true colour, bmng01_r.. for months, <layer>_r.. for layers;
    views beyond the first carry their scale (bmng_r@4x)."""
    names = ["bmng_r", "bmng_g", "bmng_b"]
    for m in cfg.months:
        names += [f"bmng{m}_r", f"bmng{m}_g", f"bmng{m}_b"]
    for layer in cfg.layers:
        names += [f"{layer}_r", f"{layer}_g", f"{layer}_b"]
    return [n if s == 1 else f"{n}@{s:g}x" for s in cfg.scales for n in names]


def true_colour_triples(channels: list[str]) -> list[list[int]]:
    """Indices of the true-colour RGB triples among ``channels`` (names from
    :func:`channel_names`): every month and view, not the other layers."""
    return [
        [i, i + 1, i + 2]
        for i, c in enumerate(channels)
        if c.startswith("bmng") and c.split("@")[0].endswith("_r")
    ]


def cut_patches(
    images: list[np.ndarray],
    lon: np.ndarray,
    lat: np.ndarray,
    size: int,
    pixel_km: float,
    scales: tuple[float, ...],
) -> np.ndarray:
    """(P, C, size, size) float32 patches of equirectangular ``images`` around (P,) points, one
    view per scale (channels: every image's channels, view after view).

    The view at scale s covers s times the first one's footprint with the same number of
    pixels, each the mean of an f x f grid of bilinear samples (f = ceil(s), at most
    MAX_SUPERSAMPLE): a box filter, so a coarse view shows the ground's mean colour, not an
    aliased point sample. Scale 1 is plain bilinear sampling."""
    views = []
    for scale in scales:
        f = 1 if scale <= 1 else min(MAX_SUPERSAMPLE, math.ceil(scale))
        x, y = patch_offsets_km(size * f, pixel_km * scale / f)
        plon, plat = aeqd_inverse(lon, lat, x, y)
        parts = [sample_equirectangular(img, plon, plat) for img in images]
        view = np.concatenate(parts, axis=-1)  # (P, size*f, size*f, C)
        if f > 1:
            view = view.reshape(len(lon), size, f, size, f, -1).mean(axis=(2, 4))
        views.append(view.transpose(0, 3, 1, 2))
    return np.concatenate(views, axis=1)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_json(path, data, indent=2)


def _params(cfg: BlueMarbleConfig, pixel_km: float) -> dict[str, Any]:
    params = {**asdict(cfg), "months": list(cfg.months), "pixel_km": pixel_km}
    # Left out at their defaults, so that datasets built before layers and scales existed match.
    if not cfg.layers:
        del params["layers"]
    else:
        params["layers"] = list(cfg.layers)
    if cfg.scales == (1.0,):
        del params["scales"]
    else:
        params["scales"] = list(cfg.scales)
    return params


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(root) / "manifest.json"
    if not path.exists():
        partial = Path(str(root) + ".partial")
        hint = (
            f" (an unfinished build is at {partial}; rerun the build to resume it)"
            if partial.exists()
            else ""
        )
        raise InputFileNotFoundError(f"{root}: no manifest.json, not a finished Blue Marble dataset{hint}")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT or not manifest.get("complete"):
        raise InputError(f"{root}: manifest.json is not a complete {FORMAT} manifest")
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
    image = load_rgb(bmng_path)
    pixel_km = cfg.pixel_km if cfg.pixel_km is not None else EQUATOR_KM / image.shape[1]
    params = _params(cfg, pixel_km)
    if out.exists():
        existing = read_manifest(out)
        if existing["params"] == params:
            return out  # already built with these parameters
        if not overwrite:
            raise OutputExistsError(
                f"{out} holds a dataset built with other parameters ({existing['params']}); "
                "choose another out= or pass overwrite=True"
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

    sources = {name: image if name == "bluemarble" else load_rgb(fetch(name)) for name in cfg.sources()}
    channels = channel_names(cfg)
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

    t0 = time.perf_counter()
    with tqdm(
        total=cfg.n, initial=done, unit=" patches", disable=not progress, desc="cutting patches"
    ) as bar:
        # Supersampled coarse views hold f² samples per pixel: fewer points per chunk for them.
        chunk = max(64, _CHUNK // min(MAX_SUPERSAMPLE, math.ceil(max(cfg.scales))) ** 2)
        for start in range(done, cfg.n, chunk):
            stop = min(start + chunk, cfg.n)
            patch = cut_patches(
                list(sources.values()), lon[start:stop], lat[start:stop], cfg.size, pixel_km, cfg.scales
            )
            images[start:stop] = np.clip(np.rint(patch), 0, 255).astype(np.uint8)
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
        "footprints_km": [pixel_km * cfg.size * s for s in cfg.scales],
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
