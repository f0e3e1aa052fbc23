"""Building the Blue Marble dataset from the real registry imagery."""

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from satclip.data import bluemarble
from satclip.data.bluemarble import BlueMarbleConfig, build_bluemarble, read_manifest
from satclip.data.geometry import aeqd_inverse, patch_offsets_km
from satclip.geography import LandMask, land_mask, sample_equirectangular, sample_land_points

SMALL = BlueMarbleConfig(n=300, size=8, seed=1)


@pytest.fixture(scope="module")
def mask(source_cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SATCLIP_CACHE", str(source_cache))
        return land_mask()


@pytest.fixture(scope="module")
def small(source_cache, tmp_path_factory):
    """SMALL built once into a fresh folder; tests only read it (copy it to change it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SATCLIP_CACHE", str(source_cache))
        return build_bluemarble(SMALL, tmp_path_factory.mktemp("small") / "bm", progress=False)


@pytest.fixture(scope="module")
def source(source_cache, small):
    """The real Blue Marble image (RGB, 5400 × 2700) the builds sampled, decoded once."""
    from PIL import Image

    with Image.open(source_cache / "sources" / "bluemarble" / "bmng.jpg") as im:
        return np.asarray(im.convert("RGB"))


def test_build_layout_and_contents(small, mask, source):
    out = small
    images = np.load(out / "images.npy", mmap_mode="r")
    assert images.shape == (300, 3, 8, 8) and images.dtype == np.uint8
    index = pq.read_table(out / "index.parquet")
    assert index.column_names == ["id", "lon", "lat"]
    lon, lat = index.column("lon").to_numpy(), index.column("lat").to_numpy()
    assert mask(lon, lat).all(), "every point is on land"
    manifest = read_manifest(out)
    assert manifest["count"] == 300 and manifest["params"]["seed"] == 1
    assert manifest["sources"]["bluemarble"]["sha256"].startswith("10f5389b365d7ece")
    assert manifest["footprint_km"] == pytest.approx(8 * 40075.017 / 5400, rel=1e-4)
    assert not (out.parent / "bm.partial").exists()
    # Patches are real imagery: they vary, and match a direct resample of the source.
    assert images.std() > 10
    x, y = patch_offsets_km(8, manifest["params"]["pixel_km"])
    plon, plat = aeqd_inverse(lon[:5], lat[:5], x, y)
    expected = np.rint(sample_equirectangular(source, plon, plat)).astype(np.uint8).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(images[:5], expected)


def test_sampling_is_uniform_by_area():
    all_land = LandMask(np.ones((180, 360), dtype=bool))
    lon, lat = sample_land_points(20000, 0, all_land)
    # Uniform on the sphere: sin(lat) is uniform on [-1, 1], so E[sin²] = 1/3.
    assert np.mean(np.sin(np.deg2rad(lat)) ** 2) == pytest.approx(1 / 3, abs=0.01)
    assert abs(np.mean(lon)) < 5
    half = np.zeros((180, 360), dtype=bool)
    half[:, :180] = True  # western hemisphere is land; node 0 is at 180° W ≡ 180° E
    lon, _ = sample_land_points(1000, 0, LandMask(half))
    assert ((lon < 0.5) | (lon > 179.5)).all() and (lon < 0).mean() > 0.99


def test_known_places_pole_and_dateline(mask, source):
    x, y = patch_offsets_km(32, 7.42)
    # South Pole: Antarctic ice, bright and white everywhere in the patch.
    plon, plat = aeqd_inverse(np.array([0.0]), np.array([-90.0]), x, y)
    pole = sample_equirectangular(source, plon, plat)[0]
    assert pole.min() > 180 and np.ptp(pole.mean(axis=(0, 1))) < 30
    # Centred on the pole, turning the frame by 90° of longitude turns the patch by 90°.
    plon90, plat90 = aeqd_inverse(np.array([90.0]), np.array([-90.0]), x, y)
    turned = sample_equirectangular(source, plon90, plat90)[0]
    assert min(np.abs(np.rot90(pole, k) - turned).mean() for k in (1, 3)) < 1.0
    # Taveuni, Fiji, straddles ±180°: the patch is whole (land on both sides), the same from
    # either side of the dateline.
    lon_e, lat_e = aeqd_inverse(np.array([179.999]), np.array([-16.8]), x, y)
    lon_w, lat_w = aeqd_inverse(np.array([-180.001]), np.array([-16.8]), x, y)
    east, west = sample_equirectangular(source, lon_e, lat_e), sample_equirectangular(source, lon_w, lat_w)
    np.testing.assert_allclose(east, west, atol=0.5)
    assert (lon_e > 0).any() and (lon_e < 0).any()
    land = mask(lon_e[0], lat_e[0])
    assert land[:, :16].any() and land[:, 16:].any()


def test_interrupted_build_resumes_to_the_same_result(cache, small, tmp_path, monkeypatch):
    reference = small  # the same parameters, built without interruption
    monkeypatch.setattr(bluemarble, "_CHUNK", 64)
    calls = {"n": 0}
    real = bluemarble.sample_equirectangular

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed mid-build")
        return real(*args, **kwargs)

    monkeypatch.setattr(bluemarble, "sample_equirectangular", failing)
    out = tmp_path / "bm"
    with pytest.raises(KeyboardInterrupt):
        build_bluemarble(SMALL, out, progress=False)
    assert not out.exists(), "an interrupted build never has the final name"
    state = json.loads((tmp_path / "bm.partial" / "progress.json").read_text())
    assert state["done"] == 128
    with pytest.raises(FileNotFoundError, match="unfinished build"):
        read_manifest(out)
    monkeypatch.setattr(bluemarble, "sample_equirectangular", real)
    build_bluemarble(SMALL, out, progress=False)
    np.testing.assert_array_equal(np.load(out / "images.npy"), np.load(reference / "images.npy"))
    assert pq.read_table(out / "index.parquet").equals(pq.read_table(reference / "index.parquet"))


def test_rebuild_is_a_no_op_and_other_parameters_need_overwrite(cache, small, tmp_path):
    out = Path(shutil.copytree(small, tmp_path / "bm"))  # a finished build of SMALL, ours to change
    mtime = (out / "images.npy").stat().st_mtime_ns
    build_bluemarble(SMALL, out, progress=False)
    assert (out / "images.npy").stat().st_mtime_ns == mtime
    other = BlueMarbleConfig(n=300, size=8, seed=2)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        build_bluemarble(other, out, progress=False)
    build_bluemarble(other, out, progress=False, overwrite=True)
    assert read_manifest(out)["params"]["seed"] == 2


def test_monthly_channels(cache, tmp_path):
    cfg = BlueMarbleConfig(n=50, size=8, months=("01", "07"))
    out = build_bluemarble(cfg, tmp_path / "bm", progress=False)
    assert np.load(out / "images.npy").shape == (50, 9, 8, 8)
    assert read_manifest(out)["channels"][3:6] == ["bmng01_r", "bmng01_g", "bmng01_b"]


def test_night_lights_and_a_coarser_view_as_channels(cache, tmp_path):
    plain = np.load(
        build_bluemarble(BlueMarbleConfig(n=40, size=8), tmp_path / "plain", progress=False) / "images.npy"
    )
    cfg = BlueMarbleConfig(n=40, size=8, layers=("night-viirs", "night-dmsp"), scales=(1, 4))
    out = build_bluemarble(cfg, tmp_path / "multi", progress=False)
    images = np.load(out / "images.npy")
    manifest = read_manifest(out)
    assert images.shape == (40, 18, 8, 8)
    assert manifest["channels"][3:9] == [f"{n}_{c}" for n in ("night-viirs", "night-dmsp") for c in "rgb"]
    assert manifest["channels"][9] == "bmng_r@4x" and manifest["params"]["scales"] == [1.0, 4.0]
    assert manifest["footprints_km"][1] == pytest.approx(4 * manifest["footprint_km"])
    assert {"night-viirs", "night-dmsp"} <= set(manifest["sources"])
    np.testing.assert_array_equal(images[:, :3], plain)  # the first view is the plain build's
    assert "layers" not in read_manifest(tmp_path / "plain")["params"]  # old datasets still match


def test_coarse_views_are_box_filtered_at_poles_and_dateline(cache):
    from satclip.data.bluemarble import cut_patches, load_rgb
    from satclip.data.geometry import aeqd_inverse, patch_offsets_km
    from satclip.sources import fetch

    image = load_rgb(fetch("night-viirs"))
    lon = np.array([179.9, -180.0, 0.0, 33.0])
    lat = np.array([0.0, 89.99, -90.0, 45.0])
    size, pixel_km = 6, 20.0
    views = cut_patches([image], lon, lat, size, pixel_km, (1.0, 3.0))
    assert views.shape == (4, 6, size, size) and np.isfinite(views).all()
    # The 3x view: each pixel the mean of a 3 x 3 grid of samples over its 60 km.
    x, y = patch_offsets_km(size * 3, pixel_km)
    plon, plat = aeqd_inverse(lon, lat, x, y)
    fine = sample_equirectangular(image, plon, plat)
    expected = fine.reshape(4, size, 3, size, 3, 3).mean(axis=(2, 4)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(views[:, 3:], expected, rtol=1e-6)
    # The first view is plain bilinear sampling, whole across the dateline.
    x1, y1 = patch_offsets_km(size, pixel_km)
    np.testing.assert_array_equal(
        views[:, :3], sample_equirectangular(image, *aeqd_inverse(lon, lat, x1, y1)).transpose(0, 3, 1, 2)
    )


@pytest.mark.parametrize(
    "params,message",
    [
        ({"n": 0}, "positive"),
        ({"months": ("02",)}, "not available"),
        ({"pixel_km": -1}, "pixel_km"),
        ({"layers": ("elevation",)}, "not pretraining imagery.*never enter pretraining"),
        ({"layers": ("bluemarble",)}, "given twice"),
        ({"scales": (1, 0)}, "scales must be"),
        ({"scales": ()}, "scales must be"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        BlueMarbleConfig(**params)
