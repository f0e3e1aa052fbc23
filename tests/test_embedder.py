"""The one encoder interface: what both backends share, and the batching written once."""

import warnings

import numpy as np
import pytest
import torch

from satclip.embedder import BatchEmbedder, Embedder
from satclip.encoder import LocationEncoder
from satclip.encodings import create_encoding
from satclip.networks import create_network


class Recorder(BatchEmbedder):
    """The smallest Embedder: embeds (lon, lat) as itself and records the batches it is given."""

    training_index = None
    config = None

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []

    @property
    def dim(self) -> int:
        return 2

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(np.float64)

    @property
    def default_batch_size(self) -> int:
        return 3

    def fingerprint(self) -> str:
        return "recorder"

    def _embed_batch(self, lonlat: np.ndarray) -> np.ndarray:
        self.batches.append(lonlat.copy())
        return lonlat


@pytest.fixture(scope="module")
def enc() -> LocationEncoder:
    torch.manual_seed(0)
    sh = create_encoding("sphericalharmonics", legendre_polys=6)
    return LocationEncoder(sh, create_network("siren", dim_in=sh.dim, dim_out=8))


def test_location_encoder_and_a_minimal_class_satisfy_the_protocol(enc):
    assert isinstance(enc, Embedder)
    assert isinstance(Recorder(), Embedder)
    assert not isinstance(object(), Embedder)


def test_batches_are_checked_wrapped_and_sized_once_for_every_backend():
    r = Recorder()
    out = r.embed([190.0, -180.0, 10.0, 540.0, 0.0], [0.0, 1.0, 2.0, 3.0, 90.0])
    # Wrapped in float64 before the batch method sees them; default batch size 3.
    np.testing.assert_array_equal(out[:, 0], [-170.0, -180.0, 10.0, -180.0, 0.0])
    assert [len(b) for b in r.batches] == [3, 2]
    r.batches.clear()
    r.embed_array(np.zeros((5, 2)), batch_size=2)
    assert [len(b) for b in r.batches] == [2, 2, 1]
    with pytest.raises(ValueError, match="index 1"):
        r.embed([0.0, 0.0], [0.0, 91.0])
    with pytest.raises(ValueError, match="batch_size must be positive"):
        r.embed_array(np.zeros((1, 2)), batch_size=0)
    assert r.embed_array(np.zeros((0, 2))).shape == (0, 2)


def test_read_only_and_unwrapped_input_embed_like_writable_wrapped_input(enc):
    # np.load(mmap_mode="r") hands out read-only arrays: torch.from_numpy would warn on them.
    pts = np.array([[190.0, 10.0], [-170.0, 10.0], [20.0, -30.0], [-540.0, 89.0]])
    inside = pts[1:3].copy()  # within ±180°: handed to the backend as views, not copies
    frozen = pts.copy()
    frozen.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = enc.embed_array(frozen, batch_size=3)
    np.testing.assert_array_equal(out, enc.embed_array(pts, batch_size=3))
    np.testing.assert_array_equal(out[0], out[1])  # 190 is -170, wrapped exactly
    np.testing.assert_array_equal(out[3], enc.embed(180.0, 89.0)[0])
    # Batches are views of the caller's array now: no backend may write into them.
    np.testing.assert_array_equal(pts, frozen)
    np.testing.assert_allclose(enc.embed_array(inside), out[1:3], rtol=1e-5, atol=1e-6)
    inside_frozen = inside.copy()  # read-only with nothing to wrap: copied on its own path
    inside_frozen.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(enc.embed_array(inside_frozen), enc.embed_array(inside))
    np.testing.assert_array_equal(inside, pts[1:3])
    assert not frozen.flags.writeable


def test_a_class_without_a_batch_method_says_what_is_missing():
    class Incomplete(Recorder):
        _embed_batch = BatchEmbedder._embed_batch

    with pytest.raises(NotImplementedError, match="_embed_batch"):
        Incomplete().embed(0.0, 0.0)


def test_fingerprint_follows_weights_and_training_index(enc):
    a = enc.fingerprint()
    assert a == enc.fingerprint() and len(a) == 64
    enc.training_index = np.zeros((3, 2))
    try:
        assert enc.fingerprint() != a
    finally:
        enc.training_index = None
    bias = enc.network.last_layer.bias
    saved = bias.detach().clone()
    with torch.no_grad():
        bias.add_(1.0)
    try:
        assert enc.fingerprint() != a
    finally:
        with torch.no_grad():
            bias.copy_(saved)
    assert enc.fingerprint() == a


def test_forward_with_a_feature_scale_scales_the_features(enc):
    lonlat = torch.tensor([[10.0, 20.0], [200.0, -45.0]], dtype=torch.float64)
    scale = torch.linspace(0.5, 2.0, enc.encoding.dim, dtype=torch.float64)
    wrapped = torch.tensor([[10.0, 20.0], [-160.0, -45.0]], dtype=torch.float64)
    expected = enc.network((enc.encoding(wrapped) * scale).float())
    torch.testing.assert_close(enc(lonlat, feature_scale=scale), expected)
    torch.testing.assert_close(enc(lonlat, feature_scale=torch.ones_like(scale)), enc(lonlat))


def test_rows_or_a_frame_can_be_passed_to_embed_alone():
    import pandas as pd

    r = Recorder()
    rows = np.array([[190.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(r.embed(rows), r.embed(rows[:, 0], rows[:, 1]))
    np.testing.assert_array_equal(r.embed(torch.tensor(rows)), r.embed_array(rows))
    np.testing.assert_array_equal(r.embed([[2.0, 3.0]], batch_size=1), [[2.0, 3.0]])
    with pytest.raises(ValueError, match=r"shape \(N, 2\), got shape \(3,\)"):
        r.embed([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"got shape \(2,\);.*for one point, pass \[\[lon, lat\]\]"):
        r.embed((2.35, 48.86))
    # A DataFrame's columns are found by name, whatever their order.
    frame = pd.DataFrame({"Latitude": [3.0, 4.0], "site": ["a", "b"], "Longitude": [2.0, 190.0]})
    np.testing.assert_array_equal(r.embed(frame), [[2.0, 3.0], [-170.0, 4.0]])
    np.testing.assert_array_equal(r.embed(frame.rename(columns={"Longitude": "lon"})), r.embed(frame))
    with pytest.raises(ValueError, match=r"no latitude column among \['lon', 'y'\].*frame\[LON_COLUMN\]"):
        r.embed(pd.DataFrame({"lon": [1.0], "y": [2.0]}))
    with pytest.raises(ValueError, match=r"columns \['lng', 'Longitude'\] could each be the lon"):
        r.embed(pd.DataFrame({"lng": [1.0], "Longitude": [1.0], "lat": [2.0]}))
    # A dict of columns and a pyarrow Table, likewise by name (a Table's `columns` are its arrays).
    import pyarrow as pa

    columns = {"Latitude": [3.0, 4.0], "Longitude": [2.0, 190.0]}
    np.testing.assert_array_equal(r.embed(columns), r.embed(frame))
    np.testing.assert_array_equal(r.embed(pa.table(columns)), r.embed(frame))
    with pytest.raises(ValueError, match=r"no longitude column among \['x', 'lat'\]"):
        r.embed({"x": [1.0], "lat": [2.0]})


def test_lon_lat_arrays_of_one_shape_embed_to_that_shape():
    # np.meshgrid's arrays (or a 2-D coordinate field) give (rows, cols, dim), point (i, j) at
    # [i, j]; a bad point is named by its 2-D index.
    rec = Recorder()
    lon, lat = np.meshgrid([-170.0, 0.0, 10.0, 190.0], [-60.0, 0.0, 60.0])
    got = rec.embed(lon, lat)
    assert got.shape == (3, 4, 2)
    np.testing.assert_array_equal(got.reshape(-1, 2), rec.embed(lon.ravel(), lat.ravel()))
    np.testing.assert_array_equal(got[2, 1], [0.0, 60.0])
    assert got[0, 3, 0] == -170.0  # wrapped like any point
    lat[2, 1] = 95.0
    with pytest.raises(ValueError, match=r"latitude out of range .* at index \(2, 1\)"):
        rec.embed(lon, lat)
    with pytest.raises(ValueError, match=r"or arrays of one shape\), got shapes \(3, 4\) and \(4,\)"):
        rec.embed(lon, lat[0])


def test_masked_points_are_refused_not_read_through_the_mask():
    # np.asarray drops a mask and keeps whatever lies beneath (netCDF fill values): refused.
    rec = Recorder()
    lon = np.ma.array([10.0, 9.96921e36, 30.0], mask=[False, True, False])
    with pytest.raises(
        ValueError, match=r"lon is a masked array with 1 masked value\(s\), the first at index 1"
    ):
        rec.embed(lon, [0.0, 0.0, 0.0])
    rows = np.ma.array([[1.0, 2.0], [3.0, 4.0]], mask=[[False, False], [False, True]])
    with pytest.raises(ValueError, match=r"first at index \(1, 1\)"):
        rec.embed_array(rows)
    # A masked array with nothing masked embeds as its data.
    np.testing.assert_array_equal(rec.embed(np.ma.array([10.0]), [5.0]), [[10.0, 5.0]])


def test_none_and_text_that_is_not_a_number_are_named():
    rec = Recorder()
    with pytest.raises(ValueError, match="lonlat is None; pass longitudes and latitudes"):
        rec.embed(None)
    with pytest.raises(ValueError, match=r"lon must be numbers in degrees: .*'paris'.*geocode them first"):
        rec.embed("paris", "france")
    with pytest.raises(ValueError, match="lonlat must be numbers in degrees: float"):
        rec.embed_array(np.array([object(), object()]))
    # Numbers written as text are read, as numpy reads them.
    np.testing.assert_array_equal(rec.embed("2.5", "4"), [[2.5, 4.0]])


def test_a_geodataframe_or_geoseries_of_points_embeds_its_geometry():
    gpd = pytest.importorskip("geopandas")
    shapely = pytest.importorskip("shapely")
    rec = Recorder()
    lon, lat = [2.35, -74.0, 190.0], [48.86, 40.71, -17.0]
    # Columns that disagree with the geometry: a GeoDataFrame's points are its geometry.
    gdf = gpd.GeoDataFrame(
        {"lon": [0.0] * 3, "lat": [0.0] * 3}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"
    )
    expected = rec.embed(lon, lat)
    np.testing.assert_array_equal(rec.embed(gdf), expected)
    np.testing.assert_array_equal(rec.embed(gdf.geometry), expected)
    # Any CRS: reprojected to lon/lat by geopandas (pyproj), longitude first.
    np.testing.assert_allclose(rec.embed(gdf.to_crs("EPSG:3857")), expected, atol=1e-9)
    np.testing.assert_allclose(rec.embed(gdf.to_crs("OGC:CRS84")), expected, atol=1e-12)
    assert rec.embed(gdf.iloc[:0]).shape == (0, 2)
    with pytest.raises(ValueError, match=r"GeoDataFrame has no CRS.*set_crs\('EPSG:4326'\)"):
        rec.embed(gdf.set_crs(None, allow_override=True))
    polygon = gdf.copy()
    polygon.loc[1, "geometry"] = shapely.box(0, 0, 1, 1)
    with pytest.raises(
        ValueError, match=r"not points, the first at index 1 \(label 1\): a Polygon.*embed_geodataframe"
    ):
        rec.embed(polygon)
    with pytest.raises(ValueError, match=r"GeoSeries are not points.*a Polygon"):
        rec.embed(polygon.geometry)
    gdf.loc[2, "geometry"] = None
    with pytest.raises(ValueError, match=r"index 2 \(label 2\): a missing geometry"):
        rec.embed(gdf)
    gdf.loc[2, "geometry"] = shapely.Point()
    with pytest.raises(ValueError, match=r"index 2 \(label 2\): an empty Point"):
        rec.embed(gdf)
    # A point off the globe after reprojection is named like any bad point.
    off = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0.0], [95.0]), crs="EPSG:4326")
    with pytest.raises(ValueError, match="latitude out of range"):
        rec.embed(off)
