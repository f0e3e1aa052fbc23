"""Task data from the real sources, checked at known places."""

import json

import h5py
import numpy as np
import pytest

from satclip.evaluation.geodata import continents, polygon_labels, read_gpkg_layer, read_image
from satclip.evaluation.tasks import MIN_CLASS_COUNT, MONTHLY_TASKS, list_tasks, load_task, precip_mm
from satclip.geography import grid_lookup
from satclip.sources import fetch

PARIS, NAIROBI, SYDNEY, MANAUS, CAIRO = (
    (2.35, 48.86),
    (36.82, -1.29),
    (151.21, -33.87),
    (-60.02, -3.12),
    (31.24, 30.04),
)


def _lonlat(*pts):
    a = np.array(pts, dtype=np.float64)
    return a[:, 0], a[:, 1]


def test_elevation_grid_at_known_places(cache):
    with h5py.File(fetch("elevation"), "r") as f:
        grid = f["Altitude"][:]
    lon, lat = _lonlat((86.93, 27.99), (35.5, 31.5), PARIS, (-150.0, 0.0))  # Everest, Dead Sea, Paris, ocean
    v = grid_lookup(grid, lon, lat).astype(int)
    metres = v * 28 - 450
    assert metres[0] > 4500 and metres[1] < 0 and 0 < metres[2] < 300 and v[3] == 255


def test_temperature_and_climate_at_known_places(cache):
    lon, lat = _lonlat((10.0, 23.0), (0.0, -80.0), PARIS)
    july = 0.4395 * grid_lookup(read_image("airtemp-july"), lon, lat) - 68.84
    dec = 0.4395 * grid_lookup(read_image("airtemp-dec"), lon, lat) - 68.84
    assert july[0] > 28 and july[1] < -30 and 15 < july[2] < 24 and dec[2] < july[2]
    codes = grid_lookup(read_image("koppen"), lon, lat)
    assert codes.tolist() == [7, 30, 10]  # BWh (hot desert), EF (ice cap), Cfb (oceanic)


def test_polygons_and_continents_at_known_places(cache):
    lon, lat = _lonlat(PARIS, NAIROBI, SYDNEY, MANAUS, CAIRO, (-150.0, 0.0))
    geoms, rows = read_gpkg_layer(fetch("world-map"), "countries", ["ISO_A3"])
    labels = polygon_labels(geoms, [r[0] for r in rows], lon, lat)
    assert labels.tolist() == ["FRA", "KEN", "AUS", "BRA", "EGY", ""]
    assert continents(lon, lat).tolist() == ["Europe", "Africa", "Oceania", "South America", "Africa", ""]


@pytest.mark.parametrize("name", list_tasks())
def test_tasks_are_real_reproducible_and_cached(cache, name):
    task = load_task(name)
    n = len(task.y)
    assert task.lonlat.shape == (n, 2) and task.continent.shape == (n,)
    assert np.isfinite(task.lonlat).all() and np.abs(task.lonlat[:, 1]).max() <= 90
    expected_n = {"cal_housing": 20640, "air_temp": 3000}.get(name)
    if expected_n:
        assert n == expected_n
    elif name in MONTHLY_TASKS:
        assert 5_000 < n <= 6_000 and task.time is not None and task.time.shape == (n,)
    else:
        assert 10_000 < n <= 20_000 and task.time is None
    if task.kind == "classification":
        counts = np.bincount(task.y)
        assert counts.min() >= MIN_CLASS_COUNT and len(task.classes) == len(counts)
    else:
        assert task.y.std() > 0
    again = load_task(name)  # from the cache file now
    np.testing.assert_array_equal(again.y, task.y)
    np.testing.assert_array_equal(again.lonlat, task.lonlat)
    if task.time is not None:
        np.testing.assert_array_equal(again.time, task.time)
    assert (cache / "tasks" / f"{name}-v1.npz").exists()


def test_unknown_task():
    with pytest.raises(ValueError, match="cal_housing"):
        load_task("housing")


def test_population_counts_the_people_within_50_km(cache):
    import json

    from tests.references import great_circle_km

    task = load_task("population")
    with fetch("geonames-cities").open(encoding="utf-8") as f:
        cities = [c for c in json.load(f).values() if c["population"] > 0]
    clon = np.array([c["longitude"] for c in cities])
    clat = np.array([c["latitude"] for c in cities])
    people = np.array([c["population"] for c in cities], dtype=np.float64)
    for i in np.random.default_rng(0).choice(len(task.y), 40, replace=False):
        lon, lat = task.lonlat[i]
        near = great_circle_km(np.full_like(clon, lon), np.full_like(clat, lat), clon, clat) <= 50.0
        assert task.y[i] == pytest.approx(np.log10(1 + people[near].sum()), abs=1e-9)
    assert task.kind == "regression" and 0.3 < np.mean(task.y == 0) < 0.9  # much land is empty
    assert task.y.max() > 7  # tens of millions around the largest cities


def test_read_image_lifts_the_pixel_limit_for_its_own_file_only(tmp_path, monkeypatch):
    from PIL import Image

    from satclip.evaluation import geodata

    path = tmp_path / "big.png"
    Image.new("L", (40, 30), 7).save(path)
    monkeypatch.setattr(geodata, "fetch", lambda name: path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # a user's own, lower limit: 1200 px is a "bomb"
    assert geodata.read_image("koppen").shape == (30, 40)
    assert Image.MAX_IMAGE_PIXELS == 100  # restored: the user's guard still stands for other images
    with pytest.raises(Image.DecompressionBombError), Image.open(path):
        pass


@pytest.mark.parametrize("name", ["town_population", "town_elevation"])
def test_town_tasks_are_scored_at_the_towns(cache, name):
    task = load_task(name)
    with fetch("geonames-cities").open(encoding="utf-8") as f:
        towns = [c for c in json.load(f).values() if c["population"] > 0]
    at: dict[tuple[float, float], list[float]] = {}  # a few places hold two towns
    for c in towns:
        at.setdefault((c["longitude"], c["latitude"]), []).append(np.log10(c["population"]))
    for (lon, lat), y in zip(task.lonlat.tolist(), task.y, strict=True):
        assert (lon, lat) in at
        if name == "town_population":
            assert min(abs(y - v) for v in at[(lon, lat)]) < 1e-12
    if name == "town_population":
        assert np.median(task.y) > np.log10(15_000)
    else:
        with h5py.File(fetch("elevation"), "r") as f:
            grid = f["Altitude"][:]
        v = grid_lookup(grid, task.lonlat[:, 0], task.lonlat[:, 1]).astype(np.float64)
        np.testing.assert_allclose(task.y, v * 28.0 - 450.0)
        assert task.y.max() > 3500  # the Andes' and Tibet's cities


MUMBAI, CAPE_TOWN = (72.88, 19.08), (18.42, -33.92)


def test_precipitation_at_known_places(cache):
    """The monsoon and the Mediterranean winter: Mumbai is wet in July and dry in December,
    Cape Town the other way round (Legates & Willmott's climatology via Marble's maps)."""
    lon, lat = _lonlat(MUMBAI, CAPE_TOWN)
    july, dec = (
        precip_mm(grid_lookup(read_image(f"precip-{m}").mean(axis=2), lon, lat)) for m in ("july", "dec")
    )
    assert july[0] > 300 and dec[0] < 20  # Mumbai: ~600 mm in July, ~1 mm in December
    assert july[1] > 2 * dec[1]  # Cape Town: winter rain


def test_precip_mm_follows_the_legend():
    grey = 255 * np.array([0.0, 0.04, 0.5, 0.93, 1.0])
    np.testing.assert_allclose(precip_mm(grey), [0, 10, 127, 1024, 1024])
    assert np.all(np.diff(precip_mm(np.arange(256))) >= 0)


@pytest.mark.parametrize("name", MONTHLY_TASKS)
def test_monthly_tasks_hold_every_place_once_per_month(cache, name):
    task = load_task(name)
    half = len(task.y) // 2
    np.testing.assert_array_equal(task.lonlat[:half], task.lonlat[half:])  # July rows, then December's
    np.testing.assert_allclose(task.time[:half], 6.5 / 12)
    np.testing.assert_allclose(task.time[half:], 11.5 / 12)
    assert not np.allclose(task.y[:half], task.y[half:])
    if name == "air_temp_monthly":  # the northern summer is July: warmer there than in December
        north = task.lonlat[:half, 1] > 30
        assert (task.y[:half][north] > task.y[half:][north]).mean() > 0.95
        south = task.lonlat[:half, 1] < -30
        assert (task.y[:half][south] < task.y[half:][south]).mean() > 0.9
