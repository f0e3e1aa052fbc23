"""``embed_file``: every input format, both layouts, (Geo)Parquet out, resume after a kill."""

import json
import logging
import os
import signal
import subprocess
import sys
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely
import torch

import satclip
from satclip.io import embed_file
from satclip.io.points import representative_lonlat


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=8)
    return satclip.LocationEncoder(sh, satclip.create_network("siren", dim_in=sh.dim, dim_out=8))


@pytest.fixture
def frame():
    """Points and polygons (one across the dateline) with attributes, in lon/lat."""
    rng = np.random.default_rng(3)
    pts = [
        shapely.Point(x, y) for x, y in zip(rng.uniform(-180, 180, 40), rng.uniform(-80, 80, 40), strict=True)
    ]
    polys = [shapely.box(5, 45, 15, 55), shapely.box(170, -20, 179.5, -10), shapely.box(-60, -30, -40, -5)]
    geoms = pts + polys
    return gpd.GeoDataFrame(
        {"id": np.arange(len(geoms)), "name": [f"g{i}" for i in range(len(geoms))]},
        geometry=geoms,
        crs="EPSG:4326",
    )


def _embedding(table):
    return np.stack(table.column("embedding").to_numpy(zero_copy_only=False))


@pytest.mark.parametrize(
    ("suffix", "crs"), [(".geojson", "EPSG:4326"), (".gpkg", "EPSG:3857"), (".parquet", "EPSG:3035")]
)
def test_vector_inputs_in_any_crs_give_geoparquet(tmp_path, encoder, frame, suffix, crs):
    src = tmp_path / f"in{suffix}"
    data = frame.to_crs(crs) if crs != "EPSG:4326" else frame
    if suffix == ".parquet":
        data.to_parquet(src)  # GeoParquet
    else:
        data.to_file(src)
    out = tmp_path / "out.parquet"
    assert embed_file(encoder, src, out, chunk_rows=10, progress=False) == len(frame)
    back = gpd.read_parquet(out)  # a valid GeoParquet, CRS kept
    assert back.crs.equals(data.crs) if suffix != ".geojson" else back.crs.to_epsg() == 4326
    assert list(back["name"]) == list(frame["name"])
    expected = representative_lonlat(np.asarray(frame.geometry.values, dtype=object))
    got = np.stack([back["point_lon"], back["point_lat"]], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(np.stack(back["embedding"]), encoder.embed_array(got), atol=1e-5)


def _points_csv(path, seed: int, spreadsheet: bool = False) -> np.ndarray:
    """50 random points written as a CSV with a site column, every digit kept: ``site,lon,lat``,
    or as a European spreadsheet saves it, ``Site;Lat;Lon``. Returns their (lon, lat)."""
    rng = np.random.default_rng(seed)
    lonlat = np.stack([rng.uniform(-180, 180, 50), rng.uniform(-90, 90, 50)], axis=1)
    if spreadsheet:
        rows = [f"s{i};{y!r};{x!r}" for i, (x, y) in enumerate(lonlat.tolist())]
        path.write_text("Site;Lat;Lon\n" + "".join(r + "\n" for r in rows))
    else:
        rows = [f"s{i},{x!r},{y!r}" for i, (x, y) in enumerate(lonlat.tolist())]
        path.write_text("site,lon,lat\n" + "".join(r + "\n" for r in rows))
    return lonlat


def test_csv_columns_layout_and_points_geoparquet(tmp_path, encoder):
    src = tmp_path / "p.csv"
    lonlat = _points_csv(src, seed=0)
    out = tmp_path / "out.parquet"
    embed_file(encoder, src, out, layout="columns", geoparquet=True, chunk_rows=16, progress=False)
    back = gpd.read_parquet(out)
    assert back.crs.to_string() == "OGC:CRS84"
    np.testing.assert_allclose(np.stack([back.geometry.x, back.geometry.y], axis=1), lonlat)
    emb = back[[f"emb_{j}" for j in range(encoder.dim)]].to_numpy()
    np.testing.assert_allclose(emb, encoder.embed_array(lonlat), atol=1e-5)


def test_csv_output_for_spreadsheets_keeps_the_columns_and_every_digit(tmp_path, encoder, frame):
    src = tmp_path / "p.csv"
    lonlat = _points_csv(src, seed=1, spreadsheet=True)
    out = tmp_path / "out.csv"
    assert embed_file(encoder, src, out, chunk_rows=16, progress=False) == 50  # 4 parts, one header
    back = pd.read_csv(out)
    assert list(back.columns) == ["Site", "Lat", "Lon", *(f"emb_{j}" for j in range(encoder.dim))]
    assert list(back["Site"]) == [f"s{i}" for i in range(50)]
    emb = back[[f"emb_{j}" for j in range(encoder.dim)]].to_numpy().astype(np.float32)
    # Every float32 digit round-trips: equal to the same chunks embedded in memory.
    expected = np.concatenate([encoder.embed_array(lonlat[i : i + 16]) for i in range(0, 50, 16)])
    np.testing.assert_array_equal(emb, expected)
    # Geometries are written as WKT, in full precision, in a column GDAL's CSV driver reads.
    geo_src = tmp_path / "in.geojson"
    frame.to_file(geo_src)
    embed_file(encoder, geo_src, out, progress=False)
    back = pd.read_csv(out)
    assert shapely.equals_exact(shapely.from_wkt(back["WKT"]), frame.geometry.values, tolerance=1e-12).all()
    assert {"point_lon", "point_lat", "emb_0"} <= set(back.columns)
    read_by_gdal = gpd.read_file(out).set_crs(frame.crs)  # a CSV records no CRS
    assert read_by_gdal.geom_equals_exact(frame.geometry, tolerance=1e-12).all()
    with pytest.raises(ValueError, match=r"a CSV is not GeoParquet; write \.geoparquet"):
        embed_file(encoder, src, out, geoparquet=True, progress=False)


@pytest.mark.parametrize("suffix", [".npy", ".parquet", ".csv"])
def test_output_folders_are_created(tmp_path, encoder, suffix):
    src = tmp_path / "p.csv"
    src.write_text("lon,lat\n2.35,48.86\n-74.0,40.71\n")
    out = tmp_path / "new" / "dir" / f"emb{suffix}"
    assert embed_file(encoder, src, out, progress=False) == 2
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name], "no lock or temp file left"


def test_geometry_col_and_lon_lat_cols_choose_the_points(tmp_path, encoder, frame):
    src = tmp_path / "in.parquet"
    frame.assign(lon=0.0, lat=0.0).to_parquet(src)
    out = tmp_path / "a.npy"
    embed_file(encoder, src, out, progress=False)  # lon/lat columns present: they win
    np.testing.assert_allclose(np.load(out), encoder.embed_array(np.zeros((len(frame), 2))), atol=1e-6)
    embed_file(encoder, src, out, geometry_col="geometry", progress=False)
    expected = representative_lonlat(np.asarray(frame.geometry.values, dtype=object))
    np.testing.assert_allclose(np.load(out), encoder.embed_array(expected), atol=1e-6)


def test_embed_geodataframe_does_not_touch_the_input(encoder, frame):
    before = frame.geometry.to_wkb().copy()
    out = satclip.embed_geodataframe(encoder, frame.to_crs("EPSG:3857"))
    cols = satclip.embed_geodataframe(encoder, frame, layout="columns")
    expected = encoder.embed_array(representative_lonlat(np.asarray(frame.geometry.values, dtype=object)))
    np.testing.assert_allclose(np.stack(out["embedding"]), expected, atol=1e-5)
    np.testing.assert_allclose(cols[[f"emb_{j}" for j in range(encoder.dim)]].to_numpy(), expected, atol=1e-5)
    assert (frame.geometry.to_wkb() == before).all()
    with pytest.raises(ValueError, match="no CRS"):
        satclip.embed_geodataframe(encoder, frame.set_crs(None, allow_override=True))


class _Killed(Exception):
    pass


class _DiesAfter:
    """An encoder that is 'killed' after ``n`` chunks, and counts the rows it embedded."""

    def __init__(self, encoder, n=None):
        self.encoder, self.n, self.rows = encoder, n, 0
        self.config, self.dim, self.training_index = encoder.config, encoder.dim, None
        self.output_dtype, self.default_batch_size, self.spec = encoder.output_dtype, 1024, None
        self.embed, self.embed_grid = encoder.embed, encoder.embed_grid  # the Embedder protocol; unused here
        self.fingerprint = encoder.fingerprint

    def embed_array(self, lonlat, batch_size=4096):
        if self.n is not None and self.n == 0:
            raise _Killed
        if self.n is not None:
            self.n -= 1
        self.rows += len(lonlat)
        return self.encoder.embed_array(lonlat)


@pytest.mark.parametrize("suffix", [".parquet", ".npy", ".csv"])
def test_resume_neither_redoes_nor_duplicates_chunks(tmp_path, encoder, frame, suffix, caplog):
    src = tmp_path / "in.geojson"
    frame.to_file(src)
    out = tmp_path / f"out{suffix}"
    with pytest.raises(_Killed):
        embed_file(_DiesAfter(encoder, n=2), src, out, chunk_rows=10, progress=False)
    assert not out.exists()
    state = json.loads((tmp_path / f".out{suffix}.partial" / "state.json").read_text())
    assert state["rows_done"] == 20
    second = _DiesAfter(encoder)
    with caplog.at_level(logging.INFO, logger="satclip"):
        assert embed_file(second, src, out, chunk_rows=10, resume=True, progress=False) == len(frame)
    assert second.rows == len(frame) - 20
    assert caplog.messages == ["resuming: 20 rows already done"]
    ref = tmp_path / f"ref{suffix}"
    embed_file(encoder, src, ref, chunk_rows=10, progress=False)
    if suffix == ".npy":
        np.testing.assert_array_equal(np.load(out), np.load(ref))
    elif suffix == ".csv":
        assert out.read_bytes() == ref.read_bytes()
    else:
        assert pq.read_table(out).equals(pq.read_table(ref))
    assert not (tmp_path / f".out{suffix}.partial").exists()


def test_resume_refuses_other_options_and_discards_unrecorded_parts(tmp_path, encoder, frame):
    src = tmp_path / "in.geojson"
    frame.to_file(src)
    out = tmp_path / "out.parquet"
    with pytest.raises(_Killed):
        embed_file(_DiesAfter(encoder, n=1), src, out, chunk_rows=10, progress=False)
    work = tmp_path / ".out.parquet.partial"
    (work / "part-000001.arrow").write_bytes(b"written after the last recorded state")
    with pytest.raises(ValueError, match=r"differs in \['layout'\]"):
        embed_file(encoder, src, out, chunk_rows=10, layout="columns", resume=True, progress=False)
    # A run folder left by a version that wrote Parquet parts (no part_format recorded).
    state = json.loads((work / "state.json").read_text())
    del state["run"]["part_format"]
    (work / "state.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match=r"differs in \['part_format'\]"):
        embed_file(encoder, src, out, chunk_rows=10, resume=True, progress=False)
    state["run"]["part_format"] = ".arrow"
    (work / "state.json").write_text(json.dumps(state))
    embed_file(encoder, src, out, chunk_rows=10, resume=True, progress=False)
    assert pq.read_table(out).num_rows == len(frame)


def test_a_new_run_discards_an_unfinished_one_with_a_warning(tmp_path, encoder, frame, caplog):
    src = tmp_path / "in.geojson"
    frame.to_file(src)
    out = tmp_path / "out.parquet"
    with pytest.raises(_Killed):
        embed_file(_DiesAfter(encoder, n=1), src, out, chunk_rows=10, progress=False)
    assert caplog.records == []
    counting = _DiesAfter(encoder)
    assert embed_file(counting, src, out, chunk_rows=10, progress=False) == len(frame) == counting.rows
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "discarding the unfinished earlier run" in caplog.text and "resume=True" in caplog.text


def test_bad_rows_are_named_and_leave_nothing(tmp_path, encoder):
    src = tmp_path / "p.csv"
    src.write_text("lon,lat\n0,0\n1,1\n2,95\n")
    out = tmp_path / "out.parquet"
    with pytest.raises(ValueError, match="latitude out of range.*index 2"):
        embed_file(encoder, src, out, progress=False)
    assert not out.exists() and not (tmp_path / ".out.parquet.partial").exists()
    geo = tmp_path / "g.geojson"
    geo.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"a": 1},
                        "geometry": {"type": "Point", "coordinates": [1, 2]},
                    },
                    {"type": "Feature", "properties": {"a": 2}, "geometry": None},
                ],
            }
        )
    )
    with pytest.raises(ValueError, match="row 1: empty or missing geometry"):
        embed_file(encoder, geo, out, progress=False)
    with pytest.raises(ValueError, match="unsupported input type '.dbf'"):
        (tmp_path / "t.dbf").write_text("x")
        embed_file(encoder, tmp_path / "t.dbf", out, progress=False)
    with pytest.raises(ValueError, match="not a readable Excel workbook"):
        (tmp_path / "t.xlsx").write_text("x")
        embed_file(encoder, tmp_path / "t.xlsx", out, progress=False)
    with pytest.raises(ValueError, match="no column"):
        embed_file(encoder, src, out, lon_col="x", progress=False)


def test_ood_columns(cache, tmp_path):  # on_water reads the fetched land mask
    enc = satclip.load("satclip-bluemarble-l10")
    src = tmp_path / "p.csv"
    src.write_text("lon,lat\n2.35,48.86\n-30,0\n")
    out = tmp_path / "o.parquet"
    embed_file(enc, src, out, ood=True, progress=False)
    t = pq.read_table(out).to_pydict()
    assert t["on_water"] == [False, True]
    assert t["ood_km"][0] < 100 < 500 < t["ood_km"][1]


@pytest.mark.slow
def test_cli_resume_after_kill_9(tmp_path):
    """A real SIGKILL in the middle of a run, then --resume: same file as an uninterrupted run."""
    rng = np.random.default_rng(0)
    n = 200_000
    src = tmp_path / "big.csv"
    with src.open("w") as f:
        f.write("lon,lat\n")
        np.savetxt(
            f,
            np.stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)], axis=1),
            fmt="%.6f",
            delimiter=",",
        )
    out = tmp_path / "e.npy"
    args = [
        sys.executable,
        "-m",
        "satclip.cli",
        "embed",
        str(src),
        "-o",
        str(out),
        "--model",
        "satclip-bluemarble-l10",
        "--chunk-rows",
        "4096",
        "-q",
    ]
    proc = subprocess.Popen(args)
    state_file = tmp_path / ".e.npy.partial" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if state_file.exists() and json.loads(state_file.read_text())["rows_done"] >= 3 * 4096:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = json.loads(state_file.read_text())["rows_done"]
    assert 0 < done < n and not out.exists()
    subprocess.run([*args, "--resume"], check=True)
    emb = np.load(out)
    assert emb.shape == (n, 256)
    enc = satclip.load("satclip-bluemarble-l10")
    lonlat = np.loadtxt(src, delimiter=",", skiprows=1)
    for rows in (slice(0, 2000), slice(done - 1000, done + 1000), slice(n - 2000, n)):
        np.testing.assert_allclose(emb[rows], enc.embed_array(lonlat[rows]), atol=1e-5)


def _seasonal_encoder():
    from satclip.encodings.time import TimeConfig

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=8)
    net = satclip.create_network("siren", dim_in=sh.dim + 4, dim_out=8)
    return satclip.LocationEncoder(sh, net, time=TimeConfig(2))


def test_month_and_date_columns_embed_each_row_at_its_time(tmp_path, encoder):
    seasonal = _seasonal_encoder()
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-180, 180, 50), rng.uniform(-60, 60, 50)
    month = np.arange(50) % 12 + 1
    src = tmp_path / "obs.csv"
    pd.DataFrame(
        {"lon": lon, "lat": lat, "month": month, "date": [f"2023-{m:02d}-01" for m in month]}
    ).to_csv(src, index=False)
    embed_file(seasonal, src, tmp_path / "m.npy", month_col="month", progress=False, chunk_rows=16)
    # (chunks of 16 rows: the float rounding of other batch shapes)
    np.testing.assert_allclose(np.load(tmp_path / "m.npy"), seasonal.embed(lon, lat, month=month), atol=1e-5)
    embed_file(seasonal, src, tmp_path / "d.parquet", date_col="date", progress=False)
    by_date = np.stack(
        pq.read_table(tmp_path / "d.parquet").column("embedding").to_numpy(zero_copy_only=False)
    )
    np.testing.assert_allclose(
        by_date, seasonal.embed(lon, lat, month=[f"2023-{m:02d}-01" for m in month]), atol=1e-5
    )
    embed_file(seasonal, src, tmp_path / "one.npy", month=3, progress=False)
    np.testing.assert_allclose(np.load(tmp_path / "one.npy"), seasonal.embed(lon, lat, month=3), atol=1e-5)
    with pytest.raises(ValueError, match="static model"):
        embed_file(encoder, src, tmp_path / "s.npy", month_col="month", progress=False)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"lon": lon, "lat": lat, "month": np.where(np.arange(50) == 37, 0, month)}).to_csv(
        bad, index=False
    )
    with pytest.raises(ValueError, match="row 37"):
        embed_file(seasonal, bad, tmp_path / "bad.npy", month_col="month", progress=False, chunk_rows=16)
    assert not (tmp_path / "bad.npy").exists()
