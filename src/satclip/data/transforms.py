"""Augmentations for {"image": C×H×W float tensor, "lonlat": (2,) tensor} samples.

Each transform draws from ``generator`` when one is given, else from torch's global RNG, which
DataLoader seeds differently in every worker (and reproducibly from its own ``generator``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from satclip.data.geometry import aeqd_inverse
from satclip.errors import InputError

Sample = dict[str, torch.Tensor]


def _rand(generator: torch.Generator | None, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=generator)


class Compose:
    def __init__(self, transforms: Sequence[Callable[[Sample], Sample]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample) -> Sample:
        for t in self.transforms:
            sample = t(sample)
        return sample


class RandomFlip:
    """Horizontal and vertical flips, each with probability ``p``."""

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, sample: Sample) -> Sample:
        img = sample["image"]
        if _rand(self.generator, 1).item() < self.p:
            img = img.flip(-1)
        if _rand(self.generator, 1).item() < self.p:
            img = img.flip(-2)
        return {**sample, "image": img}


class RandomCrop:
    """A random ``size``×``size`` window."""

    def __init__(self, size: int, generator: torch.Generator | None = None) -> None:
        self.size, self.generator = size, generator

    def __call__(self, sample: Sample) -> Sample:
        img = sample["image"]
        h, w = img.shape[-2:]
        if self.size > min(h, w):
            raise InputError(f"crop size {self.size} is larger than the image ({h}x{w})")
        i = int(_rand(self.generator, 1).item() * (h - self.size + 1))
        j = int(_rand(self.generator, 1).item() * (w - self.size + 1))
        return {**sample, "image": img[..., i : i + self.size, j : j + self.size]}


class CenterCrop:
    """The central ``size``×``size`` window (for validation, paired with RandomCrop)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, sample: Sample) -> Sample:
        img = sample["image"]
        h, w = img.shape[-2:]
        if self.size > min(h, w):
            raise InputError(f"crop size {self.size} is larger than the image ({h}x{w})")
        i, j = (h - self.size) // 2, (w - self.size) // 2
        return {**sample, "image": img[..., i : i + self.size, j : j + self.size]}


class GaussianBlur:
    """Gaussian blur with σ uniform in ``sigma`` (pixels), applied with probability ``p``."""

    def __init__(
        self,
        sigma: tuple[float, float] = (0.1, 1.5),
        p: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        self.sigma, self.p, self.generator = sigma, p, generator

    def __call__(self, sample: Sample) -> Sample:
        if _rand(self.generator, 1).item() >= self.p:
            return sample
        lo, hi = self.sigma
        s = lo + (hi - lo) * _rand(self.generator, 1).item()
        radius = max(1, round(3 * s))
        k = torch.arange(-radius, radius + 1, dtype=torch.float32)
        k = torch.exp(-(k**2) / (2 * s * s))
        k = k / k.sum()
        img = sample["image"]
        c = img.shape[0]
        x = F.pad(img[None], (radius, radius, radius, radius), mode="reflect")
        x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        x = F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
        return {**sample, "image": x[0]}


class ColorJitter:
    """Random brightness, contrast, saturation and per-channel gains of the RGB channel triples
    ``groups`` (each a list of three channel indices), clipped to [0, 1]; other channels (night
    lights) are left alone.

    Every factor is uniform in [1 - strength, 1 + strength] (the per-channel gains in half that
    range), drawn once per sample and shared by all groups, so that the months and views of one
    place change together. Meant to keep the image encoder from telling continents apart by
    their colour balance alone (docs/research/models-night-lights.md, try 25).
    """

    def __init__(
        self, strength: float, groups: Sequence[Sequence[int]], generator: torch.Generator | None = None
    ) -> None:
        if not 0 <= strength < 1:
            raise InputError(f"colour jitter strength must be in [0, 1), got {strength}")
        if any(len(g) != 3 for g in groups):
            raise InputError(f"colour jitter needs RGB channel triples, got groups {list(groups)}")
        self.strength, self.groups, self.generator = strength, [list(g) for g in groups], generator

    def __call__(self, sample: Sample) -> Sample:
        u = 2 * _rand(self.generator, 6) - 1  # in [-1, 1)
        brightness, contrast, saturation = (1 + self.strength * u[:3]).tolist()
        gains = (1 + 0.5 * self.strength * u[3:]).view(3, 1, 1)
        img = sample["image"].clone()
        luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        for group in self.groups:
            x = img[group] * brightness
            x = x.mean() + (x - x.mean()) * contrast
            grey = (x * luma).sum(0, keepdim=True)
            x = grey + (x - grey) * saturation
            img[group] = (x * gains).clamp_(0.0, 1.0)
        return {**sample, "image": img}


class CoordinateJitter:
    """Move the location by a random displacement of at most ``km``, uniform over the disc.

    Symmetric, unlike the published one-sided ``lon, lat + U[0, 0.01)`` degrees, and the same
    ground distance at every latitude (it moves in the point's own azimuthal-equidistant frame).
    """

    def __init__(self, km: float, generator: torch.Generator | None = None) -> None:
        if km < 0:
            raise InputError(f"jitter radius must be >= 0 km, got {km}")
        self.km, self.generator = km, generator

    def __call__(self, sample: Sample) -> Sample:
        u, t = _rand(self.generator, 2).tolist()
        r, theta = self.km * np.sqrt(u), 2 * np.pi * t
        lon0, lat0 = sample["lonlat"].tolist()
        lon, lat = aeqd_inverse(np.array([lon0]), np.array([lat0]), r * np.cos(theta), r * np.sin(theta))
        lonlat = torch.tensor([float(lon.item()), float(lat.item())], dtype=sample["lonlat"].dtype)
        return {**sample, "lonlat": lonlat}


def default_train_transform(
    crop: int | None = None,
    jitter_km: float = 0.0,
    blur: bool = False,
    generator: torch.Generator | None = None,
    color_jitter: float = 0.0,
    color_groups: Sequence[Sequence[int]] = (),
) -> Compose:
    """Flips, optional random crop, optional blur, optional colour jitter of the RGB triples
    ``color_groups``, optional coordinate jitter."""
    ts: list[Callable[[Sample], Sample]] = [RandomFlip(generator=generator)]
    if crop:
        ts.append(RandomCrop(crop, generator=generator))
    if blur:
        ts.append(GaussianBlur(generator=generator))
    if color_jitter > 0:
        ts.append(ColorJitter(color_jitter, color_groups, generator=generator))
    if jitter_km > 0:
        ts.append(CoordinateJitter(jitter_km, generator=generator))
    return Compose(ts)
