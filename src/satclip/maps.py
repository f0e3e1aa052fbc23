"""World maps of an embedding: its first three principal components as RGB (the SatCLIP paper's
figure 1 style). Needs matplotlib."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from satclip._files import save_figure
from satclip._pca import fit_batches
from satclip.embedder import Embedder
from satclip.geography import land_mask


def pca_rgb(embeddings: np.ndarray, fit: np.ndarray | None = None) -> np.ndarray:
    """(N, D) → (N, 3) in [0, 1]: the first three principal components of the rows selected by
    the boolean ``fit`` (default all), each scaled between its 1st and 99th percentiles there.

    The components are fitted on every ``len(selected) // 50_000``-th selected row (all of them
    below 100,000), with each component's largest-|entry| positive so that colours are reproducible."""
    emb = np.asarray(embeddings)
    # Integers would be projected in integer arithmetic; anything else keeps its precision.
    emb = emb.astype(np.result_type(emb.dtype, np.float32), copy=False)
    ref = emb if fit is None else emb[fit]
    # A strided subsample: the fit's cost stays bounded on a fine global grid.
    pca = fit_batches([ref[:: max(1, len(ref) // 50_000)]], min(3, emb.shape[1]))
    pcs = pca.apply(emb)
    ref_pcs = pcs if fit is None else pcs[fit]
    lo, hi = np.percentile(ref_pcs, 1, axis=0), np.percentile(ref_pcs, 99, axis=0)
    return np.clip((pcs - lo) / np.maximum(hi - lo, 1e-12), 0, 1)


def map_rgb(encoder: Embedder, resolution: float, land_only: bool) -> np.ndarray:
    """(H, W, 3) PCA colours of the embedding on a global grid of pixel centres (row 0 north).

    With ``land_only`` (the land mask is fetched once, see :mod:`satclip.geography`) the components are fitted on
    land, where a land-only model was trained, and the oceans are drawn faded: otherwise the
    untrained oceans dominate the components."""
    if not 0 < resolution <= 30:
        raise ValueError(f"resolution must be in (0, 30] degrees, got {resolution}")
    lons = np.arange(-180 + resolution / 2, 180, resolution)
    lats = np.arange(90 - resolution / 2, -90, -resolution)
    lon_g, lat_g = np.meshgrid(lons, lats)
    emb = encoder.embed_grid(lons, lats).reshape(lon_g.size, -1).astype(np.float64)
    land = None
    if land_only:
        land = land_mask()(lon_g.ravel(), lat_g.ravel())
    rgb = pca_rgb(emb, land)
    if land is not None:
        rgb[~land] = 0.25 * rgb[~land] + 0.75  # faded towards white
    return rgb.reshape(len(lats), len(lons), 3)


def embedding_map(
    encoder: Embedder,
    out: str | os.PathLike[str],
    resolution: float = 0.5,
    title: str | None = None,
    land_only: bool = True,
    coastlines: bool = True,
    compare: Embedder | None = None,
    compare_title: str | None = None,
) -> Path:
    """Write a PNG of the embedding's first three principal components over the globe.

    ``coastlines`` draws Natural Earth 1:110m coasts (the ``land-110m`` source, fetched from
    npm once). ``compare`` puts a second model's map beside the first; each map has its own
    components, as two embedding spaces share no axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(encoder, title or "embedding: first three principal components as RGB")]
    if compare is not None:
        panels.append((compare, compare_title or "second model"))
    lines: tuple[np.ndarray, ...] = ()
    if coastlines:
        from satclip.coastlines import coastlines as load_coastlines

        lines = load_coastlines()
    fig, axes = plt.subplots(1, len(panels), figsize=(10 * len(panels), 5.3), squeeze=False)
    for ax, (enc, label) in zip(axes[0], panels, strict=True):
        ax.imshow(map_rgb(enc, resolution, land_only), extent=(-180, 180, -90, 90), interpolation="nearest")
        for line in lines:
            ax.plot(line[:, 0], line[:, 1], color="black", linewidth=0.4)
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.set_title(label)
    fig.tight_layout()
    return save_figure(fig, out)
