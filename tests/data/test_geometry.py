import numpy as np
import pytest

from satclip.data.geometry import aeqd_inverse, patch_offsets_km
from satclip.geography import EARTH_RADIUS_KM, sample_equirectangular
from tests.references import great_circle_km


@pytest.mark.parametrize("lat0", [-90.0, -60.0, 0.0, 45.0, 89.9, 90.0])
@pytest.mark.parametrize("lon0", [-180.0, 0.0, 179.95])
def test_aeqd_distances_are_true_from_the_centre(lon0, lat0):
    x, y = patch_offsets_km(9, 25.0)
    lon, lat = aeqd_inverse(np.array([lon0]), np.array([lat0]), x, y)
    d = great_circle_km(np.full_like(lon, lon0), np.full_like(lat, lat0), lon, lat)
    np.testing.assert_allclose(d[0], np.hypot(x, y), rtol=1e-9, atol=1e-6)
    assert np.all((lon >= -180) & (lon < 180))


def test_north_is_up_and_east_is_right():
    lon, lat = aeqd_inverse(
        np.array([10.0]), np.array([20.0]), np.array([0.0, 100.0]), np.array([100.0, 0.0])
    )
    assert lat[0, 0] > 20 and abs(lon[0, 0] - 10) < 1e-9  # y = north
    assert lon[0, 1] > 10 and abs(lat[0, 1] - 20) < 0.1  # x = east


def test_patch_on_the_pole_is_not_stretched():
    x, y = patch_offsets_km(8, 10.0)
    lon, lat = aeqd_inverse(np.array([0.0]), np.array([90.0]), x, y)
    # Every pixel sits at its own distance from the pole, whatever its longitude.
    np.testing.assert_allclose(90 - lat[0], np.rad2deg(np.hypot(x, y) / EARTH_RADIUS_KM), atol=1e-9)
    neighbours = great_circle_km(lon[0, :, :-1], lat[0, :, :-1], lon[0, :, 1:], lat[0, :, 1:])
    np.testing.assert_allclose(neighbours, 10.0, rtol=2e-3)


def test_patch_across_the_dateline_is_whole():
    x, y = patch_offsets_km(16, 7.4)
    lon, lat = aeqd_inverse(np.array([179.99]), np.array([-16.5]), x, y)
    assert (lon > 170).any() and (lon < -170).any()
    neighbours = great_circle_km(lon[0, :, :-1], lat[0, :, :-1], lon[0, :, 1:], lat[0, :, 1:])
    np.testing.assert_allclose(neighbours, 7.4, rtol=2e-3)


def test_bilinear_sampling_wraps_columns_and_clamps_rows():
    h, w = 4, 8
    image = np.zeros((h, w, 1), dtype=np.uint8)
    image[:, 0] = 100  # first column (just east of 180° W)
    image[:, -1] = 200  # last column (just west of 180° E)
    # Pixel centres are at half steps: lon = -180 + (j + 0.5) * 45.
    at_centre = sample_equirectangular(image, np.array([-180 + 0.5 * 45]), np.array([0.0]))
    assert at_centre[0, 0] == pytest.approx(100)
    on_dateline = sample_equirectangular(image, np.array([180.0, -180.0]), np.array([0.0, 0.0]))
    np.testing.assert_allclose(on_dateline[:, 0], 150)  # halfway between last and first columns
    at_pole = sample_equirectangular(image, np.array([-180 + 0.5 * 45]), np.array([90.0]))
    assert at_pole[0, 0] == pytest.approx(100)
