"""Pretraining data: registry sources, the Blue Marble dataset, S2-100K and Sentinel-2 from STAC.

Needs the ``data`` extra (pillow, pyarrow, tqdm, matplotlib, rasterio).
"""

from satclip.data.datasets import BlueMarbleDataset, S2100KDataset
from satclip.data.splits import split_indices
from satclip.sources import SOURCES, fetch, list_sources

__all__ = ["SOURCES", "BlueMarbleDataset", "S2100KDataset", "fetch", "list_sources", "split_indices"]
