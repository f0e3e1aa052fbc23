"""Distillation from a location encoder learned from imagery (GeoCLIP, from geotagged photos).

A linear head maps the student's location embedding to the teacher's space; the loss is one
minus their cosine, averaged over the batch's own (jittered) points and, when asked, over extra
points that have no image: area-uniform on land, and drawn where the night-light imagery is
bright (VIIRS, a satellite image: where people live, which is where the teacher, learned from
photos, knows most). The teacher runs frozen, outside the module's parameters and checkpoints;
only the head is trained beside the location encoder, and only the location encoder is exported.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from satclip.pretrained import load

# Extra points are drawn from a pool made once per run: big enough that a run of a few thousand
# steps rarely sees a point twice, small enough to make in a second.
POOL = 1_000_000


def night_light() -> np.ndarray:
    """(H, W) float64 brightness of the VIIRS composite, a cell-registered equirectangular grid:
    the red channel above the blue one (the lights are yellow-white, its base dim blue), 0 where
    dark."""
    from satclip.data.bluemarble import load_rgb
    from satclip.sources import fetch

    rgb = load_rgb(fetch("night-viirs")).astype(np.float64)
    return np.clip(rgb[..., 0] - rgb[..., 2], 0.0, None)


def lit_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) lon/lat degrees drawn with probability ∝ :func:`night_light` × pixel area, each
    point uniformly inside its ~19.6 km pixel."""
    light = night_light()
    h, w = light.shape
    lat_centre = 90.0 - (np.arange(h) + 0.5) * 180.0 / h
    weight = (light * np.cos(np.deg2rad(lat_centre))[:, None]).ravel()
    idx = rng.choice(weight.size, size=n, p=weight / weight.sum())
    row, col = np.divmod(idx, w)
    lon = -180.0 + (col + rng.uniform(size=n)) * 360.0 / w
    lat = 90.0 - (row + rng.uniform(size=n)) * 180.0 / h
    return np.stack([lon, lat], axis=1)


def extra_pool(n: int, lights: float, seed: int) -> np.ndarray:
    """(n, 2) lon/lat: a ``lights`` share from :func:`lit_points`, the rest area-uniform on land."""
    from satclip.geography import land_mask, sample_land_points

    rng = np.random.default_rng(seed)
    n_lit = round(n * lights)
    lon, lat = sample_land_points(n - n_lit, seed, land_mask())
    pool = np.concatenate([lit_points(n_lit, rng), np.stack([lon, lat], axis=1)])
    return pool[rng.permutation(n)]


class Distiller(nn.Module):
    """``forward(student (B, D), lonlat (B, 2) degrees) -> scalar loss``.

    ``points`` > 0: :meth:`extra_points` draws that many points per training step from a pool
    of :data:`POOL` (see :func:`extra_pool`); the caller embeds them and adds them to the batch.
    """

    def __init__(
        self, teacher: str, student_dim: int, points: int = 0, lights: float = 0.0, seed: int = 0
    ) -> None:
        super().__init__()
        model = load(teacher)
        # Held in a tuple: not a submodule, so neither trained, moved nor saved with the run.
        self._teacher = (model,)
        self.head = nn.Linear(student_dim, model.dim)
        self.points = points
        self._pool = torch.from_numpy(extra_pool(POOL, lights, seed)) if points else None
        self._generator = torch.Generator().manual_seed(seed)

    def extra_points(self) -> torch.Tensor:
        """(points, 2) float64 lon/lat degrees from the pool, drawn at random (with replacement)."""
        if self._pool is None:
            raise RuntimeError("this Distiller was made with points=0")
        idx = torch.randint(len(self._pool), (self.points,), generator=self._generator)
        return self._pool[idx]

    def teacher_embedding(self, lonlat: torch.Tensor) -> torch.Tensor:
        (teacher,) = self._teacher
        emb = teacher.embed_array(lonlat.detach().double().cpu().numpy())
        return torch.from_numpy(emb).to(device=lonlat.device, dtype=torch.float32)

    def forward(self, student: torch.Tensor, lonlat: torch.Tensor) -> torch.Tensor:
        target = self.teacher_embedding(lonlat)
        return (1 - F.cosine_similarity(self.head(student.float()), target, dim=-1)).mean()
