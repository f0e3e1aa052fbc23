"""Torch datasets of (image, location) pairs: the Blue Marble dataset and the published S2-100K.

Both return ``{"image": float32 tensor C×H×W, "lonlat": float32 tensor (lon, lat)}``; a
seasonal Blue Marble dataset adds ``"time"``, the sample's year fraction (NaN: annual).
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from satclip._time import mid_month
from satclip.data.bluemarble import MONTHS, read_manifest
from satclip.errors import InputError, InputFileNotFoundError

log = logging.getLogger(__name__)
Sample = dict[str, torch.Tensor]
Transform = Callable[[Sample], Sample]

# The published S2-100K reader skips files under 10 kB: they hold mostly nodata.
S2_MIN_FILE_BYTES = 10_000
S2_BANDS = 12  # B01-B08, B8A, B09, B11, B12 (L2A, no B10)


class SeasonalViews:
    """Which channels a seasonal sample shows: one place in one month (that month's true colour
    and the other layers, time = mid-month) or, with probability ``annual_share``, the annual
    true colour without a time. Training draws the view at random (torch's generator, seeded per
    DataLoader worker); validation (``random=False``) cycles through them by index, so that its
    loss is the same every epoch.

    ``pairs``: each training sample is two different views of the place (stacked), so that every
    batch holds the same place in two months: the other month is a negative the location
    embedding can only tell apart by its time."""

    def __init__(self, channels: list[str], annual_share: float, random: bool, pairs: bool = False) -> None:
        months = [m for m in MONTHS if f"bmng{m}_r" in channels]
        if not months:
            raise InputError(
                "a seasonal dataset needs monthly channels (bmngMM_r, ...): build it with months, e.g. "
                "satclip data build bluemarble --months 01,03,05,07,08"
            )
        if any("@" in c for c in channels):
            raise InputError("a seasonal dataset has one view per place: build it without --scales")
        layers = [i for i, c in enumerate(channels) if not c.startswith("bmng")]
        self.views: list[tuple[list[int], float]] = [
            ([channels.index(f"bmng_{b}") for b in "rgb"] + layers, math.nan)
        ]
        for m in months:
            rgb = [channels.index(f"bmng{m}_{b}") for b in "rgb"]
            self.views.append((rgb + layers, mid_month(int(m))))
        self.annual_share, self.random, self.pairs = annual_share, random, pairs and random

    @property
    def channels(self) -> int:
        return len(self.views[0][0])

    def pick(self, i: int) -> list[tuple[list[int], float]]:
        """The view(s) of sample ``i``: one, or two different ones with ``pairs``."""
        if not self.random:
            return [self.views[i % len(self.views)]]
        months = len(self.views) - 1
        weights = torch.tensor([self.annual_share] + [(1 - self.annual_share) / months] * months)
        picked = torch.multinomial(weights, 2 if self.pairs else 1, replacement=False).tolist()
        return [self.views[k] for k in picked]


class BlueMarbleDataset(Dataset[Sample]):
    """A dataset built by ``satclip data build bluemarble``; images scaled to [0, 1]. With
    ``seasons``, each sample shows one of the place's months (see :class:`SeasonalViews`)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Transform | None = None,
        seasons: SeasonalViews | None = None,
    ) -> None:
        import pyarrow.parquet as pq

        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.images = np.load(self.root / "images.npy", mmap_mode="r")
        index = pq.read_table(self.root / "index.parquet")
        self.lonlat = np.stack([index.column("lon").to_numpy(), index.column("lat").to_numpy()], axis=1)
        if len(self.images) != len(self.lonlat) or len(self.images) != self.manifest["count"]:
            raise InputError(
                f"{self.root}: images.npy has {len(self.images)} patches, index.parquet "
                f"{len(self.lonlat)} rows, manifest {self.manifest['count']}; rebuild the dataset"
            )
        self.transform, self.seasons = transform, seasons

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Sample:
        lonlat = torch.from_numpy(self.lonlat[i].astype(np.float32))
        if self.seasons is None:
            return self._sample(lonlat, self.images[i])
        samples = []
        for channels, t in self.seasons.pick(i):
            sample = self._sample(lonlat, self.images[i][channels])
            samples.append({**sample, "time": torch.tensor(t, dtype=torch.float64)})
        if len(samples) == 1:
            return samples[0]
        # Two views of one place: stacked, flattened into the batch by the training step.
        return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}

    def _sample(self, lonlat: torch.Tensor, pixels: np.ndarray) -> Sample:
        sample = {"lonlat": lonlat, "image": torch.from_numpy(np.asarray(pixels, dtype=np.float32) / 255.0)}
        return self.transform(sample) if self.transform else sample


def s2_preprocess(data: np.ndarray) -> np.ndarray:
    """Published preprocessing: 12 L2A bands ÷ 10000, an all-zero B10 inserted at index 10 → 13."""
    x = data.astype(np.float32) / 10000.0
    return np.insert(x, 10, 0.0, axis=0)


class S2100KDataset(Dataset[Sample]):
    """The published S2-100K layout: ``index.csv`` (fn, lon, lat) and ``images/<fn>`` GeoTIFFs.

    Files under 10 kB (the published threshold), missing, unreadable or without 12 bands are
    skipped and counted (``self.skipped``), not fatal.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Transform | None = None,
        min_file_bytes: int = S2_MIN_FILE_BYTES,
    ) -> None:
        import rasterio

        self.root = Path(root)
        index = self.root / "index.csv"
        if not index.exists():
            raise InputFileNotFoundError(
                f"{self.root}: no index.csv; is this an S2-100K folder (index.csv + images/)?"
            )
        with index.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = {"fn", "lon", "lat"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(f"{index}: missing columns {sorted(missing)}; expected fn, lon, lat")
            rows = list(reader)
        self.files: list[Path] = []
        points: list[tuple[float, float]] = []
        self.skipped = {"small": 0, "missing": 0, "unreadable": 0}
        for row in rows:
            path = self.root / "images" / row["fn"]
            if not path.exists():
                self.skipped["missing"] += 1
                continue
            if path.stat().st_size < min_file_bytes:
                self.skipped["small"] += 1
                continue
            try:
                with rasterio.open(path) as src:
                    ok = src.count == S2_BANDS
            except rasterio.errors.RasterioError:
                ok = False
            if not ok:
                self.skipped["unreadable"] += 1
                continue
            self.files.append(path)
            points.append((float(row["lon"]), float(row["lat"])))
        self.lonlat = np.array(points, dtype=np.float64).reshape(-1, 2)
        if sum(self.skipped.values()):
            log.warning("S2-100K %s: skipped %s of %d patches", self.root, self.skipped, len(rows))
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Sample:
        import rasterio

        with rasterio.open(self.files[i]) as src:
            data = src.read()
        sample = {
            "image": torch.from_numpy(s2_preprocess(data)),
            "lonlat": torch.from_numpy(self.lonlat[i].astype(np.float32)),
        }
        return self.transform(sample) if self.transform else sample
