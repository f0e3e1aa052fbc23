"""The explorer's arrays: the tile pyramid, PCA colours through the folded last layer, cosine
similarity, the colour map and the base imagery, each against an independent computation."""

import numpy as np
import pytest

import satclip
from satclip._fold import folded
from satclip.errors import InputError
from satclip.explore.layers import (
    MAX_ZOOM,
    BaseImagery,
    ModelLayers,
    colour,
    colour_lut,
    cosine,
    pixel_centres,
    tile_bbox,
    with_cosine,
)
from satclip.maps import PcaColours
from tests.explore.conftest import MODEL, SEASONAL


def test_tile_pyramid_is_leaflets_epsg4326():
    assert tile_bbox(0, 0, 0) == (-180.0, -90.0, 0.0, 90.0)
    assert tile_bbox(0, 1, 0) == (0.0, -90.0, 180.0, 90.0)
    assert tile_bbox(2, 7, 3) == (135.0, -90.0, 180.0, -45.0)
    # The tiles of one zoom cover the world once.
    z = 3
    area = sum(
        (e - w) * (n - s)
        for x in range(2 ** (z + 1))
        for y in range(2**z)
        for w, s, e, n in [tile_bbox(z, x, y)]
    )
    assert area == 360 * 180


@pytest.mark.parametrize(
    "z, x, y", [(-1, 0, 0), (MAX_ZOOM + 1, 0, 0), (0, 2, 0), (0, 0, 1), (3, -1, 0), (3, 0, 8)]
)
def test_tiles_outside_the_pyramid_are_refused(z, x, y):
    with pytest.raises(InputError, match="outside"):
        tile_bbox(z, x, y)


def test_pixel_centres():
    lons, lats = pixel_centres((-10.0, 0.0, 10.0, 5.0), 4, 2)
    assert lons.tolist() == [-7.5, -2.5, 2.5, 7.5] and lats.tolist() == [3.75, 1.25]


@pytest.mark.parametrize("name", [MODEL, "satclip-bluemarble-viirs-l40-v3", "sh10"])
def test_folded_projection_equals_projecting_the_embedding(name):
    model = satclip.load(name)
    rng = np.random.default_rng(0)
    a, c = rng.normal(size=(3, model.dim)), rng.normal(size=3)
    proj = folded(model, a, c)
    lons, lats = np.linspace(-179, 179, 37), np.linspace(85, -85, 23)
    want = model.embed_grid(lons, lats).astype(np.float64) @ a.T + c
    if name == "sh10":  # no SIREN to fold into
        assert proj is None
        return
    got = proj.embed_grid(lons, lats)
    assert got.shape == (23, 37, 3)
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())
    assert model.embed_grid(lons[:2], lats[:2]).shape[-1] == model.dim  # the original is untouched


def test_folded_projection_of_a_seasonal_model_at_a_month():
    model = satclip.load(SEASONAL)
    a, c = np.random.default_rng(1).normal(size=(2, model.dim)), np.zeros(2)
    lons, lats = np.linspace(-170, 170, 11), np.linspace(60, -60, 7)
    got = folded(model, a, c).embed_grid(lons, lats, month=7)
    want = model.embed_grid(lons, lats, month=7).astype(np.float64) @ a.T
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())


def test_pca_layer_is_the_maps_colours(cache):
    layers = ModelLayers(satclip.load(MODEL), MODEL)
    lons, lats = pixel_centres((-20.0, 0.0, 40.0, 50.0), 48, 40)
    got = layers.pca(lons, lats, None)
    emb = layers.model.embed_grid(lons, lats)
    want = layers.colours(emb.reshape(-1, emb.shape[-1])).reshape(got.shape)
    assert np.abs(got - want).max() < 1e-4
    # The colours are satclip map's: fitted on land over the 1° world grid.
    from satclip.geography import land_mask

    wl, wt = pixel_centres((-180.0, -90.0, 180.0, 90.0), 360, 180)
    world = layers.model.embed_grid(wl, wt)
    lon_g, lat_g = np.meshgrid(wl, wt)
    ref = PcaColours.fit(world.reshape(-1, world.shape[-1]), land_mask()(lon_g.ravel(), lat_g.ravel()))
    np.testing.assert_allclose(ref.pca.components, layers.colours.pca.components, atol=1e-6)
    assert layers.pca_scores(lons, lats, None).shape == (40, 48, 3)


def test_similarity_is_cosine_and_is_one_at_the_place(cache):
    layers = ModelLayers(satclip.load(MODEL), MODEL)
    lons, lats = np.array([2.0, 2.35, 100.0]), np.array([48.85, 48.85])
    sim = layers.similarity(lons, lats, (2.35, 48.85), None)
    assert sim[0, 1] == pytest.approx(1.0, abs=1e-6)
    e = layers.model.embed([100.0], [48.85])[0].astype(np.float64)
    r = layers.model.embed([2.35], [48.85])[0].astype(np.float64)
    assert sim[0, 2] == pytest.approx(e @ r / np.linalg.norm(e) / np.linalg.norm(r), abs=1e-6)
    low = layers.similarity_low((2.35, 48.85), None)
    assert -1 <= low < 1
    info = layers.ood(2.35, 48.85)
    assert info["on_water"] is False and info["ood_km"] >= 0
    assert layers.ood(-30.0, 0.0)["on_water"] is True


def test_months_only_for_seasonal_models(cache):
    static = ModelLayers(satclip.load(MODEL), MODEL)
    with pytest.raises(InputError, match="static model"):
        static.pca(np.array([0.0]), np.array([0.0]), 7)
    seasonal = ModelLayers(satclip.load(SEASONAL), SEASONAL)
    lons, lats = np.linspace(-100, 100, 9), np.linspace(60, -60, 5)
    jan, jul = seasonal.pca(lons, lats, 1), seasonal.pca(lons, lats, 7)
    emb = seasonal.model.embed_grid(lons, lats, month=7)
    want = seasonal.colours(emb.reshape(-1, emb.shape[-1])).reshape(jul.shape)
    assert np.abs(jul - want).max() < 1e-4
    assert np.abs(jan - jul).max() > 0.01  # one set of colours: the months differ in it


def test_cosine_and_colour_map():
    emb = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    assert cosine(emb, np.array([2.0, 0.0])).tolist() == [1.0, 0.0, -1.0]
    lut = colour_lut()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    rgb = colour(np.array([-1.0, 0.0, 1.0, 2.0, np.nan]), 0.0, 1.0, lut)
    assert (rgb[0] == lut[0]).all() and (rgb[1] == lut[0]).all() and (rgb[2] == lut[-1]).all()
    assert (rgb[3] == lut[-1]).all() and (rgb[4] == 0).all()


def test_base_imagery_is_the_blue_marble(cache):
    from PIL import Image

    from satclip.sources import fetch

    base = BaseImagery()
    whole = base.render((-180.0, -90.0, 180.0, 90.0), 360, 180)
    with Image.open(fetch("bluemarble")) as img:
        want = np.asarray(img.convert("RGB").resize((360, 180), Image.Resampling.BILINEAR)).astype(int)
    assert np.abs(whole.astype(int) - want).mean() < 2
    sahara = base.render((0.0, 20.0, 10.0, 25.0), 16, 8).mean(axis=(0, 1))
    pacific = base.render((-150.0, -10.0, -140.0, 0.0), 16, 8).mean(axis=(0, 1))
    assert sahara[0] > sahara[2] and pacific[2] > pacific[0]  # desert is red-brown, ocean blue


def test_a_model_without_training_index_has_no_ood_distance(cache):
    layers = ModelLayers(satclip.load("sh10"), "sh10")
    assert layers.ood(2.35, 48.85) == {"ood_km": None, "on_water": False}
    rgb = layers.pca(*pixel_centres((0.0, 0.0, 10.0, 10.0), 4, 4), None)  # no SIREN: embedded, then projected
    assert rgb.shape == (4, 4, 3) and rgb.min() >= 0 and rgb.max() <= 1


@pytest.mark.parametrize(
    ("name", "month"), [("satclip-bluemarble-viirs-l40-v3", None), (SEASONAL, 7), ("sh10", None)]
)
def test_similarity_through_the_cosine_head_equals_the_embeddings_cosine(name, month):
    model = satclip.load(name)
    lons, lats = np.linspace(-179, 179, 29), np.linspace(80, -80, 17)
    kw = {"month": month} if month else {}
    ref = model.embed([2.35], [48.85], **kw)[0]
    want = cosine(model.embed_grid(lons, lats, **kw), ref)
    head = with_cosine(model, ref)
    assert (head is None) == (name == "sh10")
    if head is not None:
        np.testing.assert_allclose(head.embed_grid(lons, lats, **kw)[..., 0], want, atol=2e-6)
    layers = ModelLayers(model, name)
    np.testing.assert_allclose(layers.similarity(lons, lats, (2.35, 48.85), month), want, atol=2e-6)
