"""Train/validation splits by name: ``random`` or ``block`` (whole lon/lat blocks held out), the
same words the evaluation splits use (:mod:`satclip.evaluation.splits`)."""

from __future__ import annotations

import numpy as np

from satclip.errors import InputError
from satclip.geography import block_ids

SPLITS = ("random", "block")


def split_indices(
    lon: np.ndarray,
    lat: np.ndarray,
    method: str = "random",
    val_fraction: float = 0.1,
    seed: int = 0,
    block_deg: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) index arrays. ``block`` holds out whole blocks until ≥ val_fraction."""
    if method not in SPLITS:
        raise InputError(f"unknown split {method!r}; choose one of {SPLITS}")
    if not 0 < val_fraction < 1:
        raise InputError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = len(lon)
    rng = np.random.default_rng(seed)
    if method == "random":
        perm = rng.permutation(n)
        n_val = max(1, round(n * val_fraction))
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    ids = block_ids(lon, lat, block_deg)
    blocks, counts = np.unique(ids, return_counts=True)
    order = rng.permutation(len(blocks))
    cum = np.cumsum(counts[order])
    n_blocks = int(np.searchsorted(cum, val_fraction * n) + 1)
    val_blocks = blocks[order[:n_blocks]]
    is_val = np.isin(ids, val_blocks)
    if is_val.all():
        raise InputError("block split put every point in validation; use smaller blocks")
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)
