"""Pretraining data: the Blue Marble dataset, S2-100K, train/validation splits and Sentinel-2
from STAC. The registry sources they are built from are in :mod:`satclip.sources`.

Needs the ``data`` extra (pillow, pyarrow, tqdm, matplotlib, rasterio).
"""

from satclip.data.datasets import BlueMarbleDataset, S2100KDataset
from satclip.data.splits import split_indices

__all__ = ["BlueMarbleDataset", "S2100KDataset", "split_indices"]
