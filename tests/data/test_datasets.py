"""Torch datasets, augmentations and splits."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader

from satclip.data import BlueMarbleDataset, split_indices
from satclip.data.transforms import (
    ColorJitter,
    CoordinateJitter,
    GaussianBlur,
    RandomCrop,
    RandomFlip,
    default_train_transform,
)
from tests.references import great_circle_km


def test_blue_marble_dataset_in_a_dataloader(bluemarble_tiny):
    ds = BlueMarbleDataset(
        bluemarble_tiny, transform=default_train_transform(crop=12, jitter_km=5.0, blur=True)
    )
    assert len(ds) == 640
    loader = DataLoader(
        ds, batch_size=32, shuffle=True, num_workers=2, generator=torch.Generator().manual_seed(0)
    )
    batch = next(iter(loader))
    assert batch["image"].shape == (32, 3, 12, 12) and batch["image"].dtype == torch.float32
    assert batch["lonlat"].shape == (32, 2) and batch["lonlat"].dtype == torch.float32
    assert batch["image"].min() >= 0 and batch["image"].max() <= 1
    plain = BlueMarbleDataset(bluemarble_tiny)[0]
    assert plain["image"].shape == (3, 16, 16)
    index = pq.read_table(bluemarble_tiny / "index.parquet")
    first = [index.column("lon")[0].as_py(), index.column("lat")[0].as_py()]
    np.testing.assert_allclose(plain["lonlat"].numpy(), first, rtol=1e-6)


def test_missing_or_unfinished_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        BlueMarbleDataset(tmp_path)


def _sample(lon=10.0, lat=20.0):
    img = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 8, 8)
    return {"image": img, "lonlat": torch.tensor([lon, lat])}


def test_transforms_are_seedable():
    t1 = default_train_transform(crop=5, jitter_km=50, blur=True, generator=torch.Generator().manual_seed(3))
    t2 = default_train_transform(crop=5, jitter_km=50, blur=True, generator=torch.Generator().manual_seed(3))
    for _ in range(5):
        a, b = t1(_sample()), t2(_sample())
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["lonlat"], b["lonlat"])


def test_color_jitter_changes_only_the_colour_triples_together():
    rng = torch.Generator().manual_seed(0)
    img = torch.rand(9, 6, 6, generator=rng)  # true colour, night lights, true colour at 2x
    jitter = ColorJitter(0.4, [[0, 1, 2], [6, 7, 8]], generator=torch.Generator().manual_seed(1))
    out = jitter({"image": img, "lonlat": torch.zeros(2)})["image"]
    assert torch.equal(out[3:6], img[3:6])  # night lights untouched
    assert not torch.allclose(out[0:3], img[0:3]) and not torch.allclose(out[6:9], img[6:9])
    assert out.min() >= 0 and out.max() <= 1
    # One draw per sample for every triple: an identical second triple changes identically.
    same = img.clone()
    same[6:9] = same[0:3]
    out = ColorJitter(0.4, [[0, 1, 2], [6, 7, 8]], generator=torch.Generator().manual_seed(2))(
        {"image": same, "lonlat": torch.zeros(2)}
    )["image"]
    assert torch.equal(out[0:3], out[6:9])
    # Brightness alone (contrast, saturation and gains drawn as 1) scales the triple.
    jitter = ColorJitter(0.5, [[0, 1, 2]])
    jitter.generator = None
    torch.manual_seed(0)
    u = 2 * torch.rand(6) - 1
    torch.manual_seed(0)
    out = jitter({"image": torch.full((3, 2, 2), 0.5), "lonlat": torch.zeros(2)})["image"]
    expected_grey = 0.5 * (1 + 0.5 * u[0])  # a grey patch: contrast and saturation leave it
    torch.testing.assert_close(
        out, (expected_grey * (1 + 0.25 * u[3:]).view(3, 1, 1)).clamp(0, 1).expand(3, 2, 2)
    )
    with pytest.raises(ValueError, match=r"strength must be in \[0, 1\)"):
        ColorJitter(1.5, [[0, 1, 2]])
    with pytest.raises(ValueError, match="RGB channel triples"):
        ColorJitter(0.2, [[0, 1]])


def test_flip_and_crop():
    s = _sample()
    flipped = RandomFlip(p=1.0)(s)["image"]
    assert torch.equal(flipped, s["image"].flip(-1).flip(-2))
    crop = RandomCrop(3, generator=torch.Generator().manual_seed(0))(s)["image"]
    assert crop.shape == (2, 3, 3)
    with pytest.raises(ValueError, match="larger than the image"):
        RandomCrop(9)(s)


def test_blur_keeps_the_mean_and_smooths():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 32, 32, generator=g)
    out = GaussianBlur(sigma=(1.0, 1.0), p=1.0)({"image": img, "lonlat": torch.zeros(2)})["image"]
    assert out.shape == img.shape
    assert abs(out.mean() - img.mean()) < 0.01 and out.std() < img.std() * 0.6


@pytest.mark.parametrize("lat", [0.0, 60.0, 89.5])
def test_jitter_is_symmetric_and_bounded_in_km(lat):
    jitter = CoordinateJitter(25.0, generator=torch.Generator().manual_seed(0))
    moved = np.array([jitter(_sample(170.0, lat))["lonlat"].numpy() for _ in range(2000)], dtype=np.float64)
    d = great_circle_km(170.0, lat, moved[:, 0], moved[:, 1])
    assert d.max() <= 25.0 + 1e-2 and np.median(d) > 12
    # Symmetric: displacements average out (unlike the published one-sided jitter).
    east = (moved[:, 0] - 170.0 + 180) % 360 - 180
    assert abs(np.mean(moved[:, 1] - lat)) < 0.02 and abs(np.mean(east)) < 0.05 / max(
        np.cos(np.deg2rad(lat)), 0.05
    )


def test_splits():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-180, 180, 5000), rng.uniform(-90, 90, 5000)
    train, val = split_indices(lon, lat, "random", val_fraction=0.2, seed=1)
    assert len(val) == 1000 and len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 5000
    train, val = split_indices(lon, lat, "block", val_fraction=0.2, seed=1, block_deg=10)
    assert 0.2 <= len(val) / 5000 < 0.25
    block = lambda i: (np.floor((lon[i] + 180) / 10) * 100 + np.floor((lat[i] + 90) / 10)).astype(int)  # noqa: E731
    assert not set(block(train)) & set(block(val)), "no block is on both sides"
    with pytest.raises(ValueError, match="unknown split"):
        split_indices(lon, lat, "spatial")


def test_center_crop():
    from satclip.data.transforms import CenterCrop

    crop = CenterCrop(4)(_sample())["image"]
    torch.testing.assert_close(crop, _sample()["image"][:, 2:6, 2:6])
    with pytest.raises(ValueError, match="larger than the image"):
        CenterCrop(9)(_sample())
