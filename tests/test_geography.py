"""The core geography module: grid lookups, unit vectors, blocks."""

import numpy as np

from satclip.geography import (
    EARTH_RADIUS_KM,
    LandMask,
    block_ids,
    equirect_index,
    grid_lookup,
    sample_equirectangular,
    unit_vectors,
)
from tests.references import great_circle_km


def test_cell_and_grid_registration_pick_the_nearest_pixel():
    shape = (180, 360)  # one-degree pixels
    lon = np.array([-180.0, -179.6, -0.2, 0.2, 179.6, 180.0, 12.5])
    lat = np.array([90.0, 89.6, 0.2, -0.2, -89.6, -90.0, 45.5])
    rows, cols = equirect_index(lon, lat, shape, "cell")
    # Cell (i, j) covers lat (90 - i - 1, 90 - i], lon [-180 + j, -180 + j + 1).
    np.testing.assert_array_equal(rows, [0, 0, 89, 90, 179, 179, 44])
    np.testing.assert_array_equal(cols, [0, 0, 179, 180, 359, 0, 192])
    rows, cols = equirect_index(lon, lat, shape, "grid")
    # Node (i, j) sits at lat 90 - i, lon -180 + j: the nearest node, wrapped at the dateline
    # and clamped at the last row.
    np.testing.assert_array_equal(rows, [0, 0, 90, 90, 179, 179, 44])
    np.testing.assert_array_equal(cols, [0, 0, 180, 180, 0, 0, 192])


def test_grid_lookup_and_bilinear_sampling_agree_at_pixel_centres():
    rng = np.random.default_rng(0)
    image = rng.random((18, 36, 2)).astype(np.float32)
    lat = 90 - (np.arange(18) + 0.5) * 10
    lon = -180 + (np.arange(36) + 0.5) * 10
    lon_g, lat_g = np.meshgrid(lon, lat)
    np.testing.assert_array_equal(grid_lookup(image, lon_g, lat_g), image)
    np.testing.assert_allclose(sample_equirectangular(image, lon_g, lat_g), image, atol=1e-6)


def test_land_mask_reads_packed_bits_at_the_nearest_node():
    land = np.zeros((180, 360), dtype=bool)
    land[90, 0] = True  # (lon -180, lat 0)
    land[0, 17] = True  # (lon -163, lat 90)
    mask = LandMask(land)
    assert mask.bits.nbytes == 180 * 45
    got = mask(
        np.array([-180.0, 180.0, 179.6, -163.0, -162.4, 0.0]), np.array([0.0, 0.0, 0.4, 89.7, 90.0, 0.0])
    )
    np.testing.assert_array_equal(got, [True, True, True, True, False, False])


def test_the_land_mask_is_kept_packed_and_made_again_when_damaged(cache):
    from satclip import geography
    from satclip.sources import fetch

    geography.land_mask.cache_clear()
    try:
        first = geography.land_mask()  # from the source (or a packed file of an earlier test)
        (packed,) = fetch("landmask").parent.glob("landmask-*.bits.npy")
        size = packed.stat().st_size
        assert size == 21600 * 43200 // 8 + 128  # the bits and the .npy header
        made = packed.stat().st_mtime_ns
        geography.land_mask.cache_clear()
        mapped = geography.land_mask()
        assert packed.stat().st_mtime_ns == made and mapped.shape == (21600, 43200)  # read, not made
        np.testing.assert_array_equal(mapped.bits, first.bits)
        # Paris and the Sahara are land; the mid-Atlantic and the Tasman Sea water.
        lon, lat = np.array([2.35, 10.0, -30.0, 150.0]), np.array([48.86, 25.0, 30.0, -40.0])
        np.testing.assert_array_equal(mapped(lon, lat), [True, True, False, False])
        with packed.open("r+b") as f:  # a crash while it was written elsewhere: half a file
            f.truncate(size // 2)
        geography.land_mask.cache_clear()
        rebuilt = geography.land_mask()
        assert packed.stat().st_size == size and packed.stat().st_mtime_ns != made
        np.testing.assert_array_equal(rebuilt.bits, first.bits)
    finally:
        geography.land_mask.cache_clear()


def test_unit_vectors_give_great_circle_distances():
    rng = np.random.default_rng(1)
    lon1, lon2 = rng.uniform(-180, 180, (2, 200))
    lat1, lat2 = np.degrees(np.arcsin(rng.uniform(-1, 1, (2, 200))))
    chord = np.linalg.norm(unit_vectors(lon1, lat1) - unit_vectors(lon2, lat2), axis=1)
    km = 2 * EARTH_RADIUS_KM * np.arcsin(chord / 2)
    np.testing.assert_allclose(km, great_circle_km(lon1, lat1, lon2, lat2), rtol=1e-9, atol=1e-6)


def test_block_ids_are_whole_cells():
    lon = np.array([-180.0, -170.01, -169.99, 179.99, 180.0])
    lat = np.array([-90.0, -80.01, -79.99, 89.99, 90.0])
    ids = block_ids(lon, lat, 10.0)
    assert ids[0] == ids[1] != ids[2]
    assert ids[3] == ids[4] == 17 * 36 + 35  # the edges belong to the last cell
