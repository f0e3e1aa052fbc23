"""The published S2-100K layout, read from GeoTIFFs written by tests/data/s2100k_fixture.py."""

import numpy as np
import pytest
import rasterio
import torch
from torch.utils.data import DataLoader

from satclip.data import S2100KDataset
from satclip.data.datasets import s2_preprocess
from tests.data.s2100k_fixture import POINTS, write_s2100k


@pytest.fixture(scope="module")
def s2_root(source_cache, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SATCLIP_CACHE", str(source_cache))
        return write_s2100k(tmp_path_factory.mktemp("s2") / "s2-100k")


def test_reader_applies_the_published_preprocessing(s2_root, caplog):
    with caplog.at_level("WARNING"):
        ds = S2100KDataset(s2_root)
    assert len(ds) == len(POINTS)
    assert ds.skipped == {"small": 1, "missing": 1, "unreadable": 1}
    assert "skipped" in caplog.text
    sample = ds[0]
    assert sample["image"].shape == (13, 64, 64) and sample["image"].dtype == torch.float32
    with rasterio.open(s2_root / "images" / "patch_0.tif") as src:
        raw = src.read()
    np.testing.assert_allclose(sample["image"][:10].numpy(), raw[:10] / 10000.0, rtol=1e-6)
    assert (sample["image"][10] == 0).all(), "B10 is inserted as zeros at index 10"
    np.testing.assert_allclose(sample["image"][11:].numpy(), raw[10:] / 10000.0, rtol=1e-6)
    np.testing.assert_allclose(sample["lonlat"].numpy(), POINTS[0], rtol=1e-6)
    batch = next(iter(DataLoader(ds, batch_size=3)))
    assert batch["image"].shape == (3, 13, 64, 64)


def test_preprocess_band_order():
    x = np.arange(12, dtype=np.float64)[:, None, None] * 10000
    out = s2_preprocess(x)
    assert out.shape == (13, 1, 1)
    assert out[:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 10, 11]


def test_missing_index(tmp_path):
    with pytest.raises(FileNotFoundError, match="no index.csv"):
        S2100KDataset(tmp_path)
    (tmp_path / "index.csv").write_text("file,x,y\n")
    with pytest.raises(ValueError, match="missing columns"):
        S2100KDataset(tmp_path)
