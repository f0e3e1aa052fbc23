import json
import os

import numpy as np
import pytest
import torch

import satclip
from satclip import raster
from satclip.raster import RasterGrid, embedding_raster, fit_pca

rasterio = pytest.importorskip("rasterio")
zarr = pytest.importorskip("zarr")
from rasterio.transform import from_origin  # noqa: E402

BBOX = (-2.0, 40.0, 3.0, 43.0)  # 5 x 3 degrees: 10 x 6 pixels of 0.5 degrees
RES = 0.5


@pytest.fixture(scope="module")
def enc() -> satclip.LocationEncoder:
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=10)
    net = satclip.create_network("siren", dim_in=sh.dim, dim_out=8, dim_hidden=64)
    return satclip.LocationEncoder(sh, net)


class Recording:
    """An encoder stand-in that records the batches it is asked for and can fail on a given call."""

    spec = training_index = None
    default_batch_size = 1024

    def fingerprint(self):
        return self.inner.fingerprint()

    def embed(self, *args, **kwargs):
        return self.inner.embed(*args, **kwargs)

    def __init__(self, inner, fail_on_call: int | None = None):
        self.inner, self.fail_on_call = inner, fail_on_call
        self.sizes: list[int] = []

    @property
    def dim(self):
        return self.inner.dim

    @property
    def config(self):
        return self.inner.config

    @property
    def output_dtype(self):
        return self.inner.output_dtype

    def _record(self, n):
        self.sizes.append(n)
        if self.fail_on_call is not None and len(self.sizes) == self.fail_on_call:
            raise RuntimeError("embedding failed midway")

    def embed_array(self, lonlat, batch_size=4096):
        self._record(len(lonlat))
        return self.inner.embed_array(lonlat, batch_size)

    def embed_grid(self, lons, lats):
        self._record(len(lons) * len(lats))
        return self.inner.embed_grid(lons, lats)


def centres_embedding(encoder, transform, height, width):
    """(dim, height, width) embeddings at pixel centres, the centres taken from the file's transform."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    xs, ys = rasterio.transform.xy(transform, rows.ravel(), cols.ravel(), offset="center")
    return encoder.embed(np.asarray(xs), np.asarray(ys)).T.reshape(-1, height, width)


def test_geotiff_grid_and_values(enc, tmp_path):
    out = embedding_raster(enc, BBOX, RES, tmp_path / "emb.tif", tile=4, progress=False)
    assert out == tmp_path / "emb.tif"
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 4326
        assert src.transform.almost_equals(from_origin(-2.0, 43.0, RES, RES))
        assert (src.count, src.height, src.width) == (8, 6, 10)
        assert src.dtypes[0] == "float32"
        assert src.descriptions == tuple(f"emb_{i}" for i in range(8))
        assert json.loads(src.tags()["satclip_encoder"]) == enc.config.to_dict()
        values = src.read()
        expected = centres_embedding(enc, src.transform, src.height, src.width)
    np.testing.assert_allclose(values, expected, atol=1e-5)
    assert os.listdir(tmp_path) == ["emb.tif"], "temporary files are removed"


def test_geotiff_is_a_cloud_optimised_geotiff(tmp_path):
    # The bundled model (256 bands -> 128-pixel COG tiles) on 160 x 60 pixels: wider than one
    # tile, so the COG driver must add an overview.
    enc = satclip.load("satclip-bluemarble-l10")
    out = embedding_raster(enc, (0, 0, 8, 3), 0.05, tmp_path / "emb.tiff", tile=64, progress=False)
    with rasterio.open(out) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.profile["tiled"] and src.block_shapes[0] == (128, 128)
        assert src.overviews(1) == [2]
        full = src.read()
        np.testing.assert_allclose(full[:, :3, :3], centres_embedding(enc, src.transform, 3, 3), atol=1e-5)
    with rasterio.open(out, overview_level=0) as ov:
        overview = ov.read()
    # Overviews average the embeddings of the 2 x 2 pixels they cover.
    mean2x2 = full.reshape(256, 30, 2, 80, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(overview, mean2x2, atol=1e-5)


def test_pca_bands_are_the_stored_projection(enc, tmp_path):
    out = embedding_raster(enc, BBOX, RES, tmp_path / "pca.tif", pca=3, tile=4, progress=False)
    with rasterio.open(out) as src:
        tags = src.tags()
        values = src.read()
        assert src.descriptions == ("pc_0", "pc_1", "pc_2")
        emb = centres_embedding(enc, src.transform, src.height, src.width).reshape(8, -1).T
    mean = np.array(json.loads(tags["pca_mean"]))
    comps = np.array(json.loads(tags["pca_components"]))
    assert comps.shape == (3, 8) and int(tags["pca_sample_size"]) == 60
    np.testing.assert_allclose(comps @ comps.T, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(values.reshape(3, -1).T, (emb - mean) @ comps.T, atol=1e-5)
    # All 60 pixels are the sample here, so these are the principal axes of the whole raster.
    np.testing.assert_allclose(mean, emb.mean(axis=0), atol=1e-6)
    _, _, vt = np.linalg.svd(emb - emb.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(np.sum(vt[:3] * comps, axis=1)), 1, atol=1e-4)
    var = np.array(json.loads(tags["pca_explained_variance"]))
    assert np.all(np.diff(var) <= 0)
    np.testing.assert_allclose(var, values.reshape(3, -1).var(axis=1, ddof=1), rtol=1e-3)
    # Signs are fixed: each component's largest entry is positive.
    assert np.all(comps[np.arange(3), np.abs(comps).argmax(axis=1)] > 0)


def test_pca_on_a_seeded_sample_is_deterministic(enc):
    grid = RasterGrid.from_bbox(BBOX, 0.1)  # 1500 pixels, more than the sample
    a = fit_pca(enc, grid, 2, sample=200)
    b = fit_pca(enc, grid, 2, sample=200)
    assert a.sample_size == 200
    np.testing.assert_array_equal(a.components, b.components)
    np.testing.assert_array_equal(a.mean, b.mean)
    full = fit_pca(enc, grid, 2, sample=10**6)
    assert full.sample_size == 1500 and not np.array_equal(full.mean, a.mean)


def test_zarr_store(enc, tmp_path):
    out = embedding_raster(enc, BBOX, RES, tmp_path / "emb.zarr", tile=4, progress=False)
    g = zarr.open_group(out, mode="r")
    arr = g["embedding"]
    assert arr.shape == (8, 6, 10) and arr.chunks == (8, 4, 4) and arr.dtype == np.float32
    assert arr.metadata.dimension_names == ("band", "lat", "lon")
    assert g["lon"].metadata.dimension_names == ("lon",)
    assert list(g["band"][:]) == [f"emb_{i}" for i in range(8)]
    np.testing.assert_allclose(g["lon"][:], -2.0 + 0.25 + 0.5 * np.arange(10))
    np.testing.assert_allclose(g["lat"][:], 43.0 - 0.25 - 0.5 * np.arange(6))
    for attrs in (g.attrs, arr.attrs):
        assert attrs["crs"] == "EPSG:4326"
        assert attrs["geotransform"] == [-2.0, 0.5, 0.0, 43.0, 0.0, -0.5]
        assert attrs["transform"] == [0.5, 0.0, -2.0, 0.0, -0.5, 43.0]
        assert attrs["band_names"] == [f"emb_{i}" for i in range(8)]
    assert rasterio.crs.CRS.from_wkt(g.attrs["crs_wkt"]).to_epsg() == 4326
    assert arr.attrs["grid_mapping"] == "spatial_ref" and "crs_wkt" in g["spatial_ref"].attrs
    lon, lat = np.meshgrid(g["lon"][:], g["lat"][:])
    expected = enc.embed(lon.ravel(), lat.ravel()).T.reshape(8, 6, 10)
    np.testing.assert_allclose(arr[:], expected, atol=1e-5)


def test_zarr_chunks_are_blosc_compressed_and_read_back_exactly(enc, tmp_path):
    out = embedding_raster(enc, BBOX, RES, tmp_path / "c.zarr", tile=4, progress=False)
    arr = zarr.open_group(out, mode="r")["embedding"]
    (codec,) = arr.compressors
    assert type(codec).__name__ == "BloscCodec" and codec.cname.value == "lz4"
    lons, lats = -2.0 + 0.25 + 0.5 * np.arange(10), 43.0 - 0.25 - 0.5 * np.arange(6)
    np.testing.assert_array_equal(arr[:], enc.embed_grid(lons, lats).transpose(2, 0, 1))


def test_float16_zarr_is_half_the_values_and_close_to_float32(enc, tmp_path):
    full = embedding_raster(enc, BBOX, RES, tmp_path / "f32.zarr", progress=False)
    from satclip.cli import main

    model = satclip.save(enc, tmp_path / "m.safetensors")
    argv = ["raster", "--model", str(model), "--bbox=-2,40,3,43", "--resolution", "0.5", "-q"]
    assert main([*argv, "--dtype", "float16", "-o", str(tmp_path / "f16.zarr")]) == 0
    a32 = zarr.open_group(full, mode="r")["embedding"]
    a16 = zarr.open_group(tmp_path / "f16.zarr", mode="r")["embedding"]
    assert a16.dtype == np.float16 and a16.shape == a32.shape
    np.testing.assert_allclose(a16[:].astype(np.float32), a32[:], rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="float16 values are written to Zarr only"):
        embedding_raster(enc, BBOX, RES, tmp_path / "f16.tif", dtype="float16", progress=False)
    with pytest.raises(ValueError, match="dtype must be one of float16, float32, float64"):
        embedding_raster(enc, BBOX, RES, tmp_path / "x.zarr", dtype="int8", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["f16.zarr", "f32.zarr", "m.safetensors"]


@pytest.mark.parametrize("pixels", [1, 255, 256, 700])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_tiles_reach_the_writers_as_contiguous_band_planes(pixels, dtype):
    emb = np.random.default_rng(0).normal(size=(pixels, 7)).astype(np.float32)
    planes = raster._bands_first(emb, np.dtype(dtype))
    assert planes.flags.c_contiguous and planes.dtype == dtype
    np.testing.assert_array_equal(planes, emb.T.astype(dtype))


def test_zarr_splits_many_bands_into_band_chunks(enc, tmp_path, monkeypatch):
    monkeypatch.setattr(raster, "_ZARR_CHUNK_BYTES", 3 * 4 * 4 * 4)  # three bands of a 4 x 4 tile
    out = embedding_raster(enc, BBOX, RES, tmp_path / "b.zarr", tile=4, progress=False)
    arr = zarr.open_group(out, mode="r")["embedding"]
    assert arr.chunks == (3, 4, 4)
    lon, lat = np.meshgrid(-2.0 + 0.25 + 0.5 * np.arange(10), 43.0 - 0.25 - 0.5 * np.arange(6))
    np.testing.assert_allclose(arr[:], enc.embed(lon.ravel(), lat.ravel()).T.reshape(8, 6, 10), atol=1e-5)


def test_zarr_and_geotiff_agree_with_pca(enc, tmp_path):
    tif = embedding_raster(enc, BBOX, RES, tmp_path / "p.tif", pca=2, tile=4, progress=False)
    store = embedding_raster(enc, BBOX, RES, tmp_path / "p.zarr", pca=2, tile=4, progress=False)
    g = zarr.open_group(store, mode="r")
    with rasterio.open(tif) as src:
        np.testing.assert_array_equal(src.read(), g["embedding"][:])
        assert json.loads(src.tags()["pca_components"]) == g.attrs["pca_components"]
    assert g.attrs["band_names"] == ["pc_0", "pc_1"]


@pytest.mark.parametrize("pca", [None, 3])
def test_embeds_tile_by_tile(enc, tmp_path, pca):
    rec = Recording(enc)
    embedding_raster(rec, BBOX, RES, tmp_path / "t.zarr", pca=pca, tile=4, progress=False)
    assert max(rec.sizes) <= 16
    tiles = [16, 16, 8, 8, 8, 4]  # 10 x 6 pixels in 4 x 4 tiles: full, cut at the edges
    assert sorted(rec.sizes[-6:], reverse=True) == tiles
    assert sum(rec.sizes) == 60 * (2 if pca else 1)  # with PCA every pixel is also in the fit


@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_memory_is_bounded_by_the_tile(tmp_path, suffix):
    import tracemalloc

    enc = satclip.load("satclip-bluemarble-l10")  # 256 bands
    # A first small raster, so that lazily imported modules do not count below.
    embedding_raster(enc, (0, 0, 1, 1), 0.5, tmp_path / f"warm{suffix}", tile=16, progress=False)
    full_bytes = 256 * 100 * 100 * 4  # 10 MB as one array; one 16 x 16 tile is 256 kB
    tracemalloc.start()
    try:
        embedding_raster(enc, (0, 0, 10, 10), 0.1, tmp_path / f"m{suffix}", tile=16, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy allocations are traced (GDAL's and torch's are not): a few tiles, far below the array.
    assert peak < full_bytes / 4, peak


@pytest.mark.parametrize("name", ["fail.tif", "fail.zarr"])
def test_failure_midway_leaves_nothing_and_keeps_an_old_file(enc, tmp_path, name):
    out = tmp_path / name
    with pytest.raises(RuntimeError, match="midway"):
        embedding_raster(Recording(enc, fail_on_call=3), BBOX, RES, out, tile=4, progress=False)
    assert os.listdir(tmp_path) == []

    embedding_raster(enc, BBOX, RES, out, pca=2, tile=4, progress=False)
    with pytest.raises(RuntimeError, match="midway"):
        embedding_raster(Recording(enc, fail_on_call=3), BBOX, RES, out, tile=4, progress=False)
    assert os.listdir(tmp_path) == [name]
    if name.endswith(".zarr"):
        assert zarr.open_group(out, mode="r")["embedding"].shape[0] == 2
    else:
        with rasterio.open(out) as src:
            assert src.count == 2


def test_a_writer_that_fails_stops_the_tiles_embedded_ahead(enc, tmp_path, monkeypatch):
    import threading

    import satclip.raster as raster

    def failing_writer(path, spec, blocks, tile, bar, chunk_bytes, codec):
        next(blocks)
        raise OSError("no space left")

    monkeypatch.setattr(raster, "_write_zarr", failing_writer)
    counting = Recording(enc)
    with pytest.raises(OSError, match="no space left"):
        embedding_raster(counting, BBOX, RES, tmp_path / "e.zarr", tile=2, progress=False)
    assert os.listdir(tmp_path) == []
    assert not [t for t in threading.enumerate() if t.name == "satclip-ahead"]
    assert len(counting.sizes) <= 3  # of 15 tiles: the producer stopped with the writer


def test_rewrites_an_existing_zarr_store_but_not_another_directory(enc, tmp_path):
    out = tmp_path / "e.zarr"
    embedding_raster(enc, BBOX, RES, out, pca=2, progress=False)
    embedding_raster(enc, BBOX, RES, out, progress=False)
    assert zarr.open_group(out, mode="r")["embedding"].shape == (8, 6, 10)
    other = tmp_path / "notes.zarr"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a Zarr store"):
        embedding_raster(enc, BBOX, RES, other, progress=False)
    assert (other / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("bbox", "res", "match"),
    [
        (
            (3, 40, -2, 43),
            RES,
            "west 3.0 must be less than east -2.0.*antimeridian give east past 180 .* 358",
        ),
        (
            (170, 40, 531, 43),
            RES,
            r"east = 531.0 is outside \[-180, 180\] \(or, across the antimeridian, \(180, west \+ 360\]\)",
        ),
        ((-2, 43, 3, 40), RES, "south 43.0 must be less than north 40.0"),
        ((-2, 40, 3, 95), RES, r"north = 95.0 is outside \[-90, 90\]"),
        ((-200, 40, 3, 43), RES, r"west = -200.0 is outside \[-180, 180\]"),
        ((-2, 40, 3, float("nan")), RES, "non-finite"),
        ((-2, 40, 3), RES, r"\(west, south, east, north\)"),
        (BBOX, 0.0, "resolution must be a positive"),
        (BBOX, -0.5, "resolution must be a positive"),
        ((-2, 40, 3.2, 43), RES, "width 5.2 degrees is not a whole number.*east edge to 3.5"),
        ((-2, 40.1, 3, 43), RES, "height 2.9 degrees is not a whole number.*south edge to 40"),
    ],
)
def test_bad_grids_are_rejected(enc, tmp_path, bbox, res, match):
    with pytest.raises(ValueError, match=match):
        embedding_raster(enc, bbox, res, tmp_path / "x.tif", progress=False)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_a_raster_across_the_antimeridian(enc, tmp_path, suffix):
    # Fiji: 170°E to 170°W, written as GDAL writes such grids, with east past 180°.
    out = embedding_raster(enc, (170, -20, 190, -10), 1.0, tmp_path / f"fiji{suffix}", tile=8, progress=False)
    lons = np.arange(170.5, 190, 1.0)
    lats = np.arange(-10.5, -20, -1.0)
    lon_g, lat_g = np.meshgrid(np.where(lons > 180, lons - 360, lons), lats)
    expected = enc.embed(lon_g.ravel(), lat_g.ravel()).T.reshape(-1, len(lats), len(lons))
    if suffix == ".tif":
        with rasterio.open(out) as src:
            assert src.transform.almost_equals(from_origin(170.0, -10.0, 1.0, 1.0))
            assert (src.height, src.width) == (10, 20)
            values = src.read()
    else:
        values = np.asarray(zarr.open_group(str(out), mode="r")["embedding"])
    np.testing.assert_allclose(values, expected, atol=1e-5)
    # Either side of the antimeridian, the same place: 179.5 and 180.5 are neighbours.
    np.testing.assert_allclose(values[:, :, 9], enc.embed(np.full(10, 179.5), lats).T, atol=1e-5)


def test_float_rounding_in_the_bbox_is_tolerated():
    grid = RasterGrid.from_bbox((0.1, 0.2, 0.1 + 0.3, 0.2 + 0.7), 0.1)  # 0.30000000000000004 wide
    assert (grid.width, grid.height) == (3, 7)
    np.testing.assert_allclose(grid.lons(), [0.15, 0.25, 0.35])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"out": "x.png"}, ValueError, "unsupported output type '.png'; use .tif"),
        ({"pca": 9}, ValueError, "pca must be a number of components from 1 to the embedding dimension 8"),
        ({"pca": 0}, ValueError, "pca must be"),
        ({"tile": 0}, ValueError, "tile must be a positive"),
    ],
)
def test_bad_arguments_are_rejected(enc, tmp_path, kwargs, error, match):
    args = {"bbox": BBOX, "resolution": RES, "out": "x.tif", "progress": False, **kwargs}
    args["out"] = tmp_path / args["out"]
    with pytest.raises(error, match=match):
        embedding_raster(enc, **args)
    assert os.listdir(tmp_path) == []


def test_wkt_constant_is_epsg_4326():
    assert rasterio.crs.CRS.from_wkt(raster.WGS84_WKT) == rasterio.crs.CRS.from_epsg(4326)


def _write_raster(path, crs, transform, width=8, height=5):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
    ) as dst:
        dst.write(np.arange(width * height, dtype="float32").reshape(1, height, width))


def test_like_an_existing_raster_aligns_pixel_for_pixel(tmp_path, cache, capsys):
    # A WorldClim-style layer: 2.5 arc-minutes, origin off the degree lines.
    res = 2.5 / 60
    like = tmp_path / "bio1.tif"
    _write_raster(like, "EPSG:4326", from_origin(7.125, 46.875, res, res))
    bbox, resolution = raster.grid_of(like)
    np.testing.assert_allclose(bbox, (7.125, 46.875 - 5 * res, 7.125 + 8 * res, 46.875))
    assert resolution == pytest.approx(res)
    from satclip.cli import main

    out = tmp_path / "emb.tif"
    argv = ["raster", "--model", "satclip-bluemarble-l10", "--like", str(like), "-o", str(out), "-q"]
    assert main(argv) == 0
    with rasterio.open(like) as a, rasterio.open(out) as b:
        assert b.transform.almost_equals(a.transform) and (b.width, b.height) == (a.width, a.height)
    assert main([*argv, "--resolution", "0.1"]) == 2  # --like brings its own
    assert main(["raster", "--bbox", "5,45,6,46", "-o", str(out)]) == 2
    assert "give --bbox and --resolution, or --like RASTER" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("crs", "transform", "match"),
    [
        ("EPSG:3035", from_origin(4e6, 3e6, 1000, 1000), r"EPSG:3035 \(projected, not degrees\); .*gdalwarp"),
        ("EPSG:4326", rasterio.Affine(0.5, 0.1, 0.0, 0.0, -0.5, 50.0), "not north-up"),
        ("EPSG:4326", rasterio.Affine(0.5, 0.0, 0.0, 0.0, -0.25, 50.0), "pixels of 0.5 x 0.25 degrees"),
    ],
)
def test_like_refuses_grids_that_are_not_lon_lat_squares(tmp_path, crs, transform, match):
    like = tmp_path / "in.tif"
    _write_raster(like, crs, transform)
    with pytest.raises(ValueError, match=match):
        raster.grid_of(like)


def test_a_seasonal_model_rasters_one_month_and_records_it(tmp_path):
    from satclip.encodings.time import TimeConfig

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    net = satclip.create_network("siren", dim_in=sh.dim + 2, dim_out=4, dim_hidden=16)
    seasonal = satclip.LocationEncoder(sh, net, time=TimeConfig(1))
    out = embedding_raster(seasonal, BBOX, RES, tmp_path / "jan.zarr", tile=4, progress=False, month=1)
    g = zarr.open_group(out, mode="r")
    assert g.attrs["satclip_month"] == 1
    lon, lat = np.meshgrid(g["lon"][:], g["lat"][:])
    expected = seasonal.embed(lon.ravel(), lat.ravel(), month=1).T.reshape(4, 6, 10)
    np.testing.assert_allclose(g["embedding"][:], expected, atol=1e-5)
    with pytest.raises(ValueError, match="static model"):
        embedding_raster(satclip.load("sh4"), BBOX, RES, tmp_path / "s.zarr", progress=False, month=1)
    assert not (tmp_path / "s.zarr").exists()
