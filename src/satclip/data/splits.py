"""Train/validation splits by name: ``random`` or ``geographic`` (whole spatial blocks held out)."""

from __future__ import annotations

import numpy as np

SPLITS = ("random", "geographic")


def block_ids(lon: np.ndarray, lat: np.ndarray, block_deg: float) -> np.ndarray:
    """Integer id of the block_deg × block_deg lon/lat cell of each point."""
    n_cols = int(np.ceil(360 / block_deg))
    col = np.clip(((np.asarray(lon) + 180) // block_deg).astype(np.int64), 0, n_cols - 1)
    row = np.clip(
        ((np.asarray(lat) + 90) // block_deg).astype(np.int64), 0, int(np.ceil(180 / block_deg)) - 1
    )
    return row * n_cols + col


def split_indices(
    lon: np.ndarray,
    lat: np.ndarray,
    method: str = "random",
    val_fraction: float = 0.1,
    seed: int = 0,
    block_deg: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) index arrays. ``geographic`` holds out whole blocks until ≥ val_fraction."""
    if method not in SPLITS:
        raise ValueError(f"unknown split {method!r}; choose one of {SPLITS}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
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
        raise ValueError("geographic split put every point in validation; use smaller blocks")
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)
