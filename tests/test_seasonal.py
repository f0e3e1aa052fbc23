"""A seasonal location encoder: the month as an input beside the harmonics."""

import numpy as np
import pytest
import torch

import satclip
from satclip import LocationEncoder, LocationEncoderConfig
from satclip.embedder import embed_at_times
from satclip.encodings.spherical_harmonics import SphericalHarmonicsConfig
from satclip.encodings.time import TimeConfig, time_features
from satclip.networks import MLPConfig, SirenConfig


def _seasonal(network=SirenConfig, seed=0) -> LocationEncoder:
    torch.manual_seed(seed)
    sh = SphericalHarmonicsConfig(legendre_polys=10)
    net = network(dim_in=sh.dim + 4, dim_out=16, dim_hidden=32)
    enc = LocationEncoder.from_config(LocationEncoderConfig(sh, net, time=TimeConfig(2))).eval()
    with torch.no_grad():  # time columns large enough that months differ clearly
        first = enc.network.first_layer if network is SirenConfig else enc.network.net[0]
        first.weight[:, sh.dim :].normal_(0, 1.0)
    return enc


@pytest.fixture(scope="module")
def enc() -> LocationEncoder:
    return _seasonal()


def _concat_reference(enc, lonlat, t):
    feats = enc.encoding.encode(torch.as_tensor(lonlat, dtype=torch.float64)).float()
    tf = time_features(torch.as_tensor(t, dtype=torch.float64), 2).float()
    with torch.no_grad():
        return enc.network(torch.cat([feats, tf], dim=1)).numpy()


@pytest.mark.parametrize("network", [SirenConfig, MLPConfig])
def test_embedding_is_the_network_on_harmonics_and_time_features(network, sphere_points):
    enc = _seasonal(network)
    t = np.random.default_rng(0).uniform(0, 1, len(sphere_points))
    emb = embed_at_times(enc, sphere_points, t)
    np.testing.assert_allclose(emb, _concat_reference(enc, sphere_points, t), atol=2e-5)
    annual = enc.embed(sphere_points)  # no time: the time features are zero
    np.testing.assert_allclose(
        annual, _concat_reference(enc, sphere_points, np.full(len(t), np.nan)), atol=2e-5
    )


def test_months_change_the_embedding_and_every_form_of_time_agrees(enc):
    lon, lat = [10.0, -60.0], [50.0, -10.0]
    jan, jul = enc.embed(lon, lat, month=1), enc.embed(lon, lat, month=7)
    assert np.abs(jan - jul).max() > 1e-2
    np.testing.assert_array_equal(enc.embed(lon, lat, month=[7, 7]), jul)
    np.testing.assert_array_equal(enc.embed(np.stack([lon, lat], 1), month=7), jul)
    np.testing.assert_array_equal(enc.embed_array(np.stack([lon, lat], 1), month=7), jul)
    mixed = enc.embed(lon, lat, month=[1, 7])
    np.testing.assert_array_equal(mixed[0], jan[0])
    np.testing.assert_array_equal(mixed[1], jul[1])
    day = enc.embed(lon, lat, month=np.datetime64("2023-07-16"))  # 16 July: ~mid-July
    assert np.abs(day - jul).max() < np.abs(day - jan).max()
    np.testing.assert_array_equal(day, enc.embed(lon, lat, month="2023-07-16"))


def test_a_grid_at_one_month_equals_its_points(enc):
    lons, lats = np.linspace(-175, 175, 9), np.linspace(-80, 80, 5)
    lon_g, lat_g = np.meshgrid(lons, lats)
    for month in (None, 3):
        grid = enc.embed_grid(lons, lats, month=month)
        points = enc.embed(lon_g, lat_g, month=month)
        np.testing.assert_allclose(grid, points, atol=2e-5)
    with pytest.raises(ValueError, match="one month or day_of_year for all its pixels"):
        enc.embed_grid(lons, lats, month=[1, 2])


def test_a_static_model_refuses_a_time_and_a_wrong_count_is_named(enc):
    static = satclip.load("sh10")
    assert not static.seasonal and enc.seasonal
    with pytest.raises(ValueError, match="sh10 is a static model"):
        static.embed(1.0, 2.0, month=3)
    with pytest.raises(ValueError, match="static model"):
        static.embed_grid([0.0], [0.0], day_of_year=30)
    with pytest.raises(ValueError, match="3 points"):
        enc.embed([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], month=[1, 2])


def test_saved_seasonal_model_round_trips_and_static_configs_have_no_time_key(enc, tmp_path):
    path = satclip.save(enc, tmp_path / "s.safetensors")
    back = satclip.load(path)
    assert back.config == enc.config and back.config.time == TimeConfig(2)
    np.testing.assert_array_equal(back.embed(5.0, 5.0, month=4), enc.embed(5.0, 5.0, month=4))
    assert "time" not in satclip.load("sh10").config.to_dict()  # old files and fingerprints unchanged


def test_network_width_must_include_the_time_columns():
    sh = SphericalHarmonicsConfig(legendre_polys=10)
    with pytest.raises(ValueError, match="plus the time input's 4"):
        LocationEncoderConfig(sh, SirenConfig(dim_in=sh.dim, dim_out=8), time=TimeConfig(2))


def test_a_fixed_time_view_embeds_at_its_month(enc):
    from satclip.embedder import at_time

    view = at_time(enc, month=8)
    assert at_time(enc) is enc and not view.seasonal
    np.testing.assert_array_equal(view.embed([3.0], [4.0]), enc.embed([3.0], [4.0], month=8))
    np.testing.assert_allclose(view.embed_grid([3.0], [4.0])[0], enc.embed([3.0], [4.0], month=8), atol=2e-5)
    assert view.fingerprint() != at_time(enc, month=9).fingerprint() != enc.fingerprint()
    with pytest.raises(ValueError, match="already set to one time"):
        view.embed([3.0], [4.0], month=1)
    with pytest.raises(ValueError, match="static model"):
        at_time(satclip.load("sh10"), month=1)


def test_the_shipped_seasonal_model_is_named_where_a_static_model_refuses_a_time():
    from satclip.pretrained import PRETRAINED, SEASONAL

    model = satclip.load(SEASONAL)
    assert model.seasonal and PRETRAINED[SEASONAL].seasonal and "seasonal" in PRETRAINED[SEASONAL].description
    seasonal = [n for n in PRETRAINED if PRETRAINED[n].seasonal]
    assert seasonal == [SEASONAL, "satclip-bluemarble-seasonal-l40-v2", "satclip-bluemarble-seasonal-l40"]
    with pytest.raises(ValueError, match=SEASONAL):
        satclip.load("sh4").embed(0.0, 0.0, month=1)
    jan, jul = model.embed([10.0], [60.0], month=1), model.embed([10.0], [60.0], month=7)
    assert np.isfinite(jan).all() and not np.allclose(jan, jul)


def _place_model(network=SirenConfig, place_degree=3) -> LocationEncoder:
    """A seasonal model whose time features also multiply the harmonics of degree < 3."""
    torch.manual_seed(1)
    sh, time = SphericalHarmonicsConfig(legendre_polys=10), TimeConfig(2, place_degree)
    net = network(dim_in=sh.dim + time.dim, dim_out=16, dim_hidden=32)
    enc = LocationEncoder.from_config(LocationEncoderConfig(sh, net, time=time)).eval()
    with torch.no_grad():
        first = enc.network.first_layer if network is SirenConfig else enc.network.net[0]
        first.weight[:, sh.dim :].normal_(0, 1.0)
    return enc


@pytest.mark.parametrize("network", [SirenConfig, MLPConfig])
def test_place_products_are_the_time_features_times_the_low_harmonics(network, sphere_points):
    enc = _place_model(network)
    assert enc.config.time.dim == 4 * (1 + 9) and enc.network.config.dim_in == 100 + 40
    t = np.random.default_rng(1).uniform(0, 1, len(sphere_points))
    feats = enc.encoding.encode(torch.as_tensor(sphere_points, dtype=torch.float64)).float()
    tf = time_features(torch.as_tensor(t, dtype=torch.float64), 2).float()
    products = torch.einsum("nk,nj->nkj", tf, feats[:, :9]).reshape(len(t), 36)  # k-major
    with torch.no_grad():
        want = enc.network(torch.cat([feats, tf, products], dim=1)).numpy()
    # (the time columns' weights are large, so float32 rounding of the harmonics shows more)
    np.testing.assert_allclose(embed_at_times(enc, sphere_points, t), want, atol=2e-4)
    # No time: the products vanish with the time features; the annual embedding ignores them.
    with torch.no_grad():
        annual = enc.network(torch.cat([feats, torch.zeros(len(t), 40)], dim=1)).numpy()
    np.testing.assert_allclose(enc.embed(sphere_points), annual, atol=2e-4)


def test_place_products_move_places_their_own_way():
    """With products the month's change differs between places beyond what one shared shift of
    the first layer gives: north and south can move in opposite directions."""
    enc = _place_model()
    first, points = enc.network.first_layer, torch.tensor([[20.0, 50.0], [20.0, -30.0]])
    feats = enc.encoding.encode(points)

    def pre_activation(month: int) -> torch.Tensor:
        tf = time_features(torch.full((2,), (month - 0.5) / 12, dtype=torch.float64), 2).float()
        products = torch.einsum("nk,nj->nkj", tf, feats[:, :9]).flatten(1)
        return first.affine(torch.cat([feats, tf, products], dim=1))

    with torch.no_grad():
        change = pre_activation(7) - pre_activation(1)
    assert (change[0] - change[1]).abs().max() > 0.1  # one shared shift would move both alike


def test_a_place_model_grid_folds_the_products_into_the_harmonics_columns():
    enc = _place_model()
    lons, lats = np.linspace(-175, 175, 9), np.linspace(-80, 80, 5)
    lon_g, lat_g = np.meshgrid(lons, lats)
    for month in (None, 3, 11):
        np.testing.assert_allclose(
            enc.embed_grid(lons, lats, month=month), enc.embed(lon_g, lat_g, month=month), atol=1e-4
        )


def test_a_place_model_round_trips_and_older_configs_are_saved_as_before(tmp_path):
    enc = _place_model()
    back = satclip.load(satclip.save(enc, tmp_path / "p.safetensors"))
    assert back.config.time == TimeConfig(2, 3)
    np.testing.assert_array_equal(back.embed(5.0, 5.0, month=4), enc.embed(5.0, 5.0, month=4))
    assert enc.config.to_dict()["time"]["params"] == {"harmonics": 2, "place_degree": 3}
    # Without products the saved time input is what it was before they existed (same fingerprints).
    assert _seasonal().config.to_dict()["time"]["params"] == {"harmonics": 2}


def test_place_degree_is_checked():
    sh = SphericalHarmonicsConfig(legendre_polys=4)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="place_degree must be a whole number >= 0"):
            TimeConfig(2, bad)
    time = TimeConfig(1, 5)
    with pytest.raises(ValueError, match="at least that many degrees"):
        LocationEncoderConfig(sh, SirenConfig(dim_in=sh.dim + time.dim, dim_out=8), time=time)
    wrap = satclip.create_encoding("wrap")
    with pytest.raises(ValueError, match="needs a harmonics encoding"):
        LocationEncoderConfig(wrap.config, SirenConfig(dim_in=wrap.dim + 4, dim_out=8), time=TimeConfig(1, 1))


def test_the_shipped_seasonal_model_is_the_recommended_model_when_no_time_is_given(sphere_points):
    """-v2 is -v3 locked with a month learnt beside it: its annual embedding is -v3's bit for bit,
    and the month moves each place its own way (products with the harmonics of degree < 8).
    -v3 is -v2 with the recommended -v4's spectrum map in its last layer: it is -v4 bit for bit."""
    from satclip.pretrained import PRETRAINED, RECOMMENDED, SEASONAL

    v2, v3 = (
        satclip.load("satclip-bluemarble-seasonal-l40-v2"),
        satclip.load("satclip-bluemarble-viirs-l40-v3"),
    )
    np.testing.assert_array_equal(v2.embed_array(sphere_points), v3.embed_array(sphere_points))
    seasonal, static = satclip.load(SEASONAL), satclip.load(RECOMMENDED)
    assert seasonal.config.time == TimeConfig(2, 8) and PRETRAINED[SEASONAL].teachers == ("geoclip",)
    np.testing.assert_array_equal(seasonal.embed_array(sphere_points), static.embed_array(sphere_points))
    np.testing.assert_array_equal(seasonal.training_index, static.training_index)
    # Mid-latitudes north and south: January and July move them in different directions.
    north_south = np.array([[10.0, 50.0], [-60.0, -35.0]])
    change = seasonal.embed_array(north_south, month=7) - seasonal.embed_array(north_south, month=1)
    cos = (change[0] @ change[1]) / np.linalg.norm(change, axis=1).prod()
    assert cos < 0.5
