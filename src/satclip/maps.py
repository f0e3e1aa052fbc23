"""World maps of an embedding: its first three principal components as RGB (the SatCLIP paper's
figure 1 style). Needs matplotlib."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from satclip._files import save_figure
from satclip.encoder import LocationEncoder


def pca_rgb(embeddings: np.ndarray, fit: np.ndarray | None = None) -> np.ndarray:
    """(N, D) → (N, 3) in [0, 1]: the first three principal components of the rows selected by
    the boolean ``fit`` (default all), each scaled between its 1st and 99th percentiles there."""
    ref = embeddings if fit is None else embeddings[fit]
    mean = ref.mean(axis=0)
    _, _, vt = np.linalg.svd((ref - mean)[:: max(1, len(ref) // 50_000)], full_matrices=False)
    pcs = (embeddings - mean) @ vt[:3].T
    ref_pcs = pcs if fit is None else pcs[fit]
    lo, hi = np.percentile(ref_pcs, 1, axis=0), np.percentile(ref_pcs, 99, axis=0)
    return np.clip((pcs - lo) / np.maximum(hi - lo, 1e-12), 0, 1)


def embedding_map(
    encoder: LocationEncoder,
    out: str | os.PathLike[str],
    resolution: float = 0.5,
    title: str | None = None,
    land_only: bool = True,
) -> Path:
    """Write a PNG of the embedding's first three principal components over the globe.

    With ``land_only`` (needs the ``data`` extra for the land mask) the components are fitted on
    land, where a land-only model was trained, and the oceans are drawn faded: otherwise the
    untrained oceans dominate the components."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lons = np.arange(-180 + resolution / 2, 180, resolution)
    lats = np.arange(90 - resolution / 2, -90, -resolution)
    lon_g, lat_g = np.meshgrid(lons, lats)
    emb = encoder.embed(lon_g.ravel(), lat_g.ravel()).astype(np.float64)
    land = None
    if land_only:
        from satclip.data.bluemarble import land_mask

        land = land_mask()(lon_g.ravel(), lat_g.ravel())
    rgb = pca_rgb(emb, land)
    if land is not None:
        rgb[~land] = 0.25 * rgb[~land] + 0.75  # faded towards white
    rgb = rgb.reshape(len(lats), len(lons), 3)
    fig, ax = plt.subplots(figsize=(10, 5.3))
    ax.imshow(rgb, extent=(-180, 180, -90, 90), interpolation="nearest")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title or "embedding: first three principal components as RGB")
    fig.tight_layout()
    return save_figure(fig, out)
