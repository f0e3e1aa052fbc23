"""satclip.dask.embed: embedding columns for dask DataFrames, the model loaded once per worker."""

import importlib
import logging
import sys

import numpy as np
import pandas as pd
import pytest
import torch

dd = pytest.importorskip("dask.dataframe")

import dask  # noqa: E402

import satclip  # noqa: E402
import satclip.dask  # noqa: E402

MODEL = "satclip-bluemarble-l10"


def _points(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "lon": rng.uniform(-180, 180, n),
            "lat": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
            "site": np.arange(n),
            "tag": [f"p{i}" for i in range(n)],
        }
    )


def _expected(df: pd.DataFrame, encoder: satclip.LocationEncoder) -> np.ndarray:
    # np.stack copies: pandas' own to_numpy() views are read-only, which torch warns about.
    return encoder.embed_array(np.stack([df["lon"].to_numpy(), df["lat"].to_numpy()], axis=1))


def _assert_same_rows(out: pd.DataFrame, df: pd.DataFrame) -> None:
    # dask turns object string columns into Arrow strings (dataframe.convert-string), and a
    # Parquet round trip names the index; neither matters here.
    pd.testing.assert_frame_equal(out[["lon", "lat", "site"]], df[["lon", "lat", "site"]], check_names=False)
    assert out["tag"].tolist() == df["tag"].tolist()


def _emb(out: pd.DataFrame, dim: int) -> np.ndarray:
    return out[[f"emb_{i}" for i in range(dim)]].to_numpy()


@pytest.fixture(scope="module")
def encoder() -> satclip.LocationEncoder:
    return satclip.load(MODEL)


def _refuse_to_compute(*args, **kwargs):
    raise AssertionError("embed() computed something; it must only build the graph")


def test_embed_matches_embed_array_without_a_cluster(encoder):
    df = _points(2000)
    ddf = dd.from_pandas(df, npartitions=5)
    satclip.dask._clear_cache()
    with dask.config.set(scheduler=_refuse_to_compute):
        lazy = satclip.dask.embed(MODEL, ddf, batch_size=300)
    names = [f"emb_{i}" for i in range(encoder.dim)]
    assert list(lazy.columns) == ["lon", "lat", "site", "tag", *names]
    assert all(lazy.dtypes[n] == np.float32 for n in names)
    out = lazy.compute(scheduler="sync")
    assert out.dtypes.equals(lazy.dtypes), "the declared meta is what partitions return"
    _assert_same_rows(out, df)
    np.testing.assert_array_equal(_emb(out, encoder.dim), _expected(df, encoder))
    key = satclip.dask._model_ref(MODEL).key
    assert satclip.dask._load_counts() == {key: 1}, "one load for five partitions"


def test_in_memory_float64_encoder_gives_float64_columns():
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=5)
    enc = satclip.LocationEncoder(sh, satclip.create_network("mlp", dim_in=sh.dim, dim_out=8), "float64")
    df = _points(500)
    out = satclip.dask.embed(enc, dd.from_pandas(df, npartitions=3)).compute(scheduler="threads")
    assert out["emb_7"].dtype == np.float64
    # Partitions cut the batches elsewhere than one embed_array call does: last-bit differences.
    np.testing.assert_allclose(_emb(out, 8), _expected(df, enc), rtol=1e-12, atol=1e-15)


def test_in_memory_encoder_cache_key_is_its_content(encoder):
    # Saving the same encoder twice can give different file bytes (header order), so the key
    # must come from the content, or every embed() call would load the model again.
    ref = satclip.dask._model_ref(encoder)
    assert satclip.dask._model_ref(encoder).key == ref.key
    assert satclip.dask._model_ref(satclip.load(MODEL)).key == ref.key
    changed = satclip.load(MODEL)
    with torch.no_grad():
        next(changed.network.parameters())[0, 0] += 1
    assert satclip.dask._model_ref(changed).key != ref.key
    assert satclip.dask._load(ref).config == encoder.config, "the shipped bytes rebuild the model"


def test_a_spec_model_is_built_once_in_the_client(monkeypatch):
    """A raw encoding (or geoclip) is sent by its spec; the client builds it once, for its
    fingerprint and for the frame's meta alike."""
    satclip.dask._clear_cache()
    built = []
    real = satclip.dask.load
    monkeypatch.setattr(satclip.dask, "load", lambda spec: built.append(spec) or real(spec))
    frame = pd.DataFrame({"lon": [2.35, -74.0], "lat": [48.86, 40.71]})
    out = satclip.dask.embed("sh4", dd.from_pandas(frame, npartitions=2)).compute(scheduler="sync")
    assert built == ["sh4"]
    np.testing.assert_array_equal(out[[f"emb_{i}" for i in range(16)]].to_numpy(), real("sh4").embed(frame))


def test_coordinate_columns_are_found_by_name():
    frame = _points(50)
    ddf = dd.from_pandas(frame.rename(columns={"lon": "Longitude", "lat": "LAT"}), npartitions=2)
    out = satclip.dask.embed(MODEL, ddf).compute()
    emb = out[[c for c in out.columns if c.startswith("emb_")]].to_numpy()
    np.testing.assert_array_equal(emb, satclip.load(MODEL).embed(frame["lon"], frame["lat"]))
    with pytest.raises(
        ValueError, match=r"columns \['Longitude', 'lng'\] could each be the lon; name one with lon_col="
    ):
        satclip.dask.embed(MODEL, ddf.assign(lng=0.0))


def test_bad_inputs_are_refused_before_computing():
    ddf = dd.from_pandas(_points(100)[["lon", "site"]], npartitions=2)
    with pytest.raises(ValueError, match=r"no column\(s\) \['lat'\]; columns are \['lon', 'site'\]"):
        satclip.dask.embed(MODEL, ddf)
    ddf = dd.from_pandas(_points(100), npartitions=2)
    with pytest.raises(ValueError, match=r"no column\(s\) \['x', 'y'\]"):
        satclip.dask.embed(MODEL, ddf, lon_col="x", lat_col="y")
    with pytest.raises(ValueError, match="column 'tag' has dtype"):
        satclip.dask.embed(MODEL, ddf, lat_col="tag")
    with pytest.raises(ValueError, match=r"\['emb_0'\] already exist; pass another prefix="):
        satclip.dask.embed(MODEL, ddf.rename(columns={"site": "emb_0"}))
    with pytest.raises(ValueError, match="batch_size must be positive"):
        satclip.dask.embed(MODEL, ddf, batch_size=0)
    with pytest.raises(TypeError, match="from_pandas"):
        satclip.dask.embed(MODEL, _points(10))
    with pytest.raises(ValueError, match="unknown model 'no-such-model'"):
        satclip.dask.embed("no-such-model", ddf)


def test_bad_latitude_names_partition_and_index_label():
    df = _points(1000)
    df.index = df.index + 10_000
    df.loc[10_612, "lat"] = 95.0
    lazy = satclip.dask.embed(MODEL, dd.from_pandas(df, npartitions=4))  # lazy: no error yet
    with pytest.raises(
        ValueError,
        match=r"partition 2 of 4, row 112 of the partition \(index label 10612\): "
        r"latitude out of range \[-90, 90\] at index 112",
    ):
        lazy.compute(scheduler="sync")


def test_clear_import_error_without_dask(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    monkeypatch.delitem(sys.modules, "satclip.dask")
    with pytest.raises(ImportError, match=r"pip install 'satclip\[dask\]'"):
        importlib.import_module("satclip.dask")


# --- on a two-process LocalCluster ---------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["name", "path", "encoder"])
def test_cluster_loads_the_model_once_per_worker(client, encoder, tmp_path, kind):
    from distributed import futures_of, wait

    model = {"name": MODEL, "path": tmp_path / "m.safetensors", "encoder": encoder}[kind]
    if kind == "path":
        satclip.save(encoder, model)
    df = _points(4000, seed=1)
    lazy = satclip.dask.embed(model, dd.from_pandas(df, npartitions=24), batch_size=1000)
    done = lazy.persist()
    wait(done)
    # Which worker holds each partition's result = which worker ran that partition.
    partitions_per_worker: dict[str, int] = {}
    for holders in client.who_has(futures_of(done)).values():
        partitions_per_worker[holders[0]] = partitions_per_worker.get(holders[0], 0) + 1
    key = satclip.dask._model_ref(model).key
    loads = {w: counts.get(key, 0) for w, counts in client.run(satclip.dask._load_counts).items()}
    assert sum(partitions_per_worker.values()) == 24
    for worker, n_partitions in partitions_per_worker.items():
        assert loads[worker] == 1, f"{worker} ran {n_partitions} partitions and loaded {loads[worker]} times"
    out = done.compute()
    _assert_same_rows(out, df)
    np.testing.assert_allclose(_emb(out, encoder.dim), _expected(df, encoder), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The inplace keyword:")  # dask's own Parquet reader, pandas 3.1
def test_cluster_parquet_in_parquet_out(client, encoder, tmp_path):
    df = _points(3000, seed=2)
    dd.from_pandas(df, npartitions=4).to_parquet(tmp_path / "points")
    ddf = dd.read_parquet(tmp_path / "points")
    assert ddf.npartitions == 4
    satclip.dask.embed(MODEL, ddf).to_parquet(tmp_path / "embedded")
    back = pd.read_parquet(tmp_path / "embedded").sort_index()
    assert back["emb_255"].dtype == np.float32
    _assert_same_rows(back, df)
    np.testing.assert_allclose(_emb(back, encoder.dim), _expected(df, encoder), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_cluster_bad_latitude_surfaces(client):
    df = _points(2000, seed=3)
    df.loc[1234, "lat"] = -91.0
    lazy = satclip.dask.embed(MODEL, dd.from_pandas(df, npartitions=4))
    with pytest.raises(
        ValueError, match=r"partition 2 of 4, row 234 .*index label 1234.*latitude out of range"
    ):
        lazy.compute()


def test_a_seasonal_model_embeds_each_row_at_its_month_or_date():
    from satclip.encodings.time import TimeConfig

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    net = satclip.create_network("siren", dim_in=sh.dim + 4, dim_out=8, dim_hidden=16)
    seasonal = satclip.LocationEncoder(sh, net, time=TimeConfig(2))
    df = _points(600).assign(month=lambda d: d["site"] % 12 + 1)
    df = df.assign(date=pd.to_datetime([f"2023-{m:02d}-16" for m in df["month"]]))
    ddf = dd.from_pandas(df, npartitions=3)
    lonlat = np.stack([df["lon"].to_numpy(), df["lat"].to_numpy()], axis=1)
    out = satclip.dask.embed(seasonal, ddf, month_col="month").compute(scheduler="sync")
    np.testing.assert_allclose(_emb(out, 8), seasonal.embed(lonlat, month=df["month"].to_numpy()), atol=1e-6)
    by_date = satclip.dask.embed(seasonal, ddf, date_col="date").compute(scheduler="sync")
    np.testing.assert_allclose(
        _emb(by_date, 8), seasonal.embed(lonlat, month=df["date"].to_numpy()), atol=1e-6
    )
    with pytest.raises(ValueError, match="static model"):
        satclip.dask.embed(MODEL, ddf, month_col="month")
    with pytest.raises(ValueError, match="no month column 'months'"):
        satclip.dask.embed(seasonal, ddf, month_col="months")
    bad = dd.from_pandas(df.assign(month=df["month"].where(df["site"] != 450, 13)), npartitions=3)
    with pytest.raises(ValueError, match="partition 2 of 3, month column 'month': row 50"):
        satclip.dask.embed(seasonal, bad, month_col="month").compute(scheduler="sync")
