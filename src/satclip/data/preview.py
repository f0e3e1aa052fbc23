"""``satclip data preview``: a grid of random patches with their coordinates, and a world map of
the sampled points over the Blue Marble itself."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from satclip._files import save_figure
from satclip.data.bluemarble import read_manifest


def preview(root: str | os.PathLike[str], out: str | os.PathLike[str], n: int = 36, seed: int = 0) -> Path:
    """Write a PNG with ``n`` random patches (first three channels as RGB) and a point map."""
    import pyarrow.parquet as pq
    from matplotlib.figure import Figure
    from PIL import Image

    from satclip.sources import fetch

    root, out = Path(root), Path(out)
    manifest = read_manifest(root)
    images = np.load(root / "images.npy", mmap_mode="r")
    index = pq.read_table(root / "index.parquet")
    lon, lat = index.column("lon").to_numpy(), index.column("lat").to_numpy()
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(lon), size=min(n, len(lon)), replace=False))

    cols = int(np.ceil(np.sqrt(len(pick))))
    rows = int(np.ceil(len(pick) / cols))
    fig = Figure(figsize=(max(12, cols * 1.6), rows * 1.7 + 6.5))
    grid = fig.add_gridspec(rows + 4, cols)
    for k, i in enumerate(pick):
        ax = fig.add_subplot(grid[k // cols, k % cols])
        ax.imshow(images[i, :3].transpose(1, 2, 0))
        ax.set_title(f"{lon[i]:.2f}, {lat[i]:.2f}", fontsize=7)
        ax.axis("off")
    ax = fig.add_subplot(grid[rows:, :])
    with Image.open(fetch("bluemarble")) as im:
        background = np.asarray(im.convert("RGB").reduce(4))
    ax.imshow(background, extent=(-180, 180, -90, 90), alpha=0.6)
    ax.scatter(lon, lat, s=0.3, c="red", alpha=0.5, linewidths=0)
    ax.scatter(lon[pick], lat[pick], s=14, facecolors="none", edgecolors="yellow", linewidths=0.8)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    p = manifest["params"]
    ax.set_title(
        f"{manifest['count']:,} points (red; shown patches in yellow), {p['size']}x{p['size']} px, "
        f"footprint {manifest['footprint_km']:.0f} km, seed {p['seed']}",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, out)
