"""Property-based tests (hypothesis) of the encoder's entry points and of the file readers.

- any valid coordinates give finite embeddings, the same batched and one by one;
- any invalid one gives a ``ValueError`` naming its index;
- any generated CSV or Parquet file either embeds completely or gives a ``ValueError`` naming the
  row or column, with no output file and no work folder left behind.
"""

import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import satclip
from satclip.io import embed_file

# 60 examples per test in the suite; RELIABILITY.md's counts come from a larger run
# (SATCLIP_HYPOTHESIS_EXAMPLES=1000).
SETTINGS = settings(
    max_examples=int(os.environ.get("SATCLIP_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

lons = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
lats = st.floats(min_value=-90, max_value=90, allow_nan=False, allow_infinity=False)
points = st.lists(st.tuples(lons, lats), min_size=1, max_size=40)


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=8)
    net = satclip.create_network("siren", dim_in=sh.dim, dim_out=8, dropout=0.5)
    return satclip.LocationEncoder(sh, net).eval()


@SETTINGS
@given(pts=points, batch=st.integers(1, 50))
def test_valid_points_give_finite_embeddings_batched_or_not(encoder, pts, batch):
    arr = np.array(pts, dtype=np.float64)
    out = encoder.embed_array(arr, batch_size=batch)
    assert out.shape == (len(pts), encoder.dim) and np.isfinite(out).all()
    one_by_one = np.concatenate([encoder.embed(lon, lat) for lon, lat in pts])
    np.testing.assert_allclose(out, one_by_one, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(encoder.embed(arr[:, 0], arr[:, 1], batch_size=batch), out)


bad_values = st.sampled_from(
    [
        ("lat", math.nan),
        ("lon", math.nan),
        ("lat", math.inf),
        ("lon", -math.inf),
        ("lat", 90.0001),
        ("lat", -1e9),
    ]
)


@SETTINGS
@given(pts=points, where=st.integers(0, 39), bad=bad_values)
def test_an_invalid_point_is_named_by_its_index(encoder, pts, where, bad):
    arr = np.array(pts, dtype=np.float64)
    i = where % len(arr)
    arr[i, 0 if bad[0] == "lon" else 1] = bad[1]
    with pytest.raises(ValueError, match=rf"at index {i}: \(lon, lat\)"):
        encoder.embed_array(arr)
    with pytest.raises(ValueError, match=rf"at index {i}: \(lon, lat\)"):
        encoder.embed(arr[:, 0], arr[:, 1])


# A CSV cell: a good number, or one of the ways real files go wrong.
good_cells = st.floats(min_value=-89.9, max_value=89.9, allow_nan=False).map(repr)
bad_cells = st.sampled_from(["", "abc", "nan", "inf", "-inf", "95", "1,5.2", "--3", "0x1p3", "N/A"])
cells = st.one_of(good_cells, good_cells, good_cells, bad_cells)


def _bad(cell, is_lat):
    try:
        v = float(cell)
    except ValueError:
        return True
    return not math.isfinite(v) or (is_lat and abs(v) > 90)


@SETTINGS
@given(rows=st.lists(st.tuples(cells, cells), min_size=0, max_size=30), chunk=st.integers(1, 12))
def test_generated_csv_files_embed_or_fail_clearly(tmp_path_factory, encoder, rows, chunk):
    tmp = tmp_path_factory.mktemp("csv")
    src, out = tmp / "p.csv", tmp / "o.parquet"
    src.write_text("lon,lat,id\n" + "".join(f'"{a}","{b}",{i}\n' for i, (a, b) in enumerate(rows)))
    first_bad = next((i for i, (a, b) in enumerate(rows) if _bad(a, False) or _bad(b, True)), None)
    if not rows:
        with pytest.raises(ValueError, match="no data rows"):
            embed_file(encoder, src, out, chunk_rows=chunk, progress=False)
    elif first_bad is None:
        assert embed_file(encoder, src, out, chunk_rows=chunk, progress=False) == len(rows)
        t = pq.read_table(out)
        want = np.array([[float(a), float(b)] for a, b in rows])
        np.testing.assert_array_equal(np.stack([t["lon"].to_numpy(), t["lat"].to_numpy()], 1), want)
    else:
        with pytest.raises(ValueError, match=rf"(row|index) {first_bad}\b"):
            embed_file(encoder, src, out, chunk_rows=chunk, progress=False)
    if first_bad is not None or not rows:
        assert not out.exists()
    assert not (tmp / ".o.parquet.partial").exists()


numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64))


@SETTINGS
@given(lon=st.lists(numbers, min_size=1, max_size=30), data=st.data())
def test_generated_parquet_files_embed_or_fail_clearly(tmp_path_factory, encoder, lon, data):
    lat = data.draw(st.lists(numbers, min_size=len(lon), max_size=len(lon)))
    tmp = tmp_path_factory.mktemp("pq")
    src, out = tmp / "p.parquet", tmp / "o.npy"
    pq.write_table(pa.table({"lon": pa.array(lon, pa.float64()), "lat": pa.array(lat, pa.float64())}), src)

    def bad(i):
        x, y = lon[i], lat[i]
        return x is None or y is None or not (math.isfinite(x) and math.isfinite(y)) or abs(y) > 90

    first_bad = next((i for i in range(len(lon)) if bad(i)), None)
    if first_bad is None:
        assert embed_file(encoder, src, out, chunk_rows=7, progress=False) == len(lon)
        assert np.load(out).shape == (len(lon), encoder.dim)
    else:
        with pytest.raises(ValueError, match=rf"(row|index) {first_bad}\b"):
            embed_file(encoder, src, out, chunk_rows=7, progress=False)
        assert not out.exists()
    assert not (tmp / ".o.npy.partial").exists()


@SETTINGS
@given(blob=st.binary(min_size=0, max_size=400), suffix=st.sampled_from([".csv", ".parquet"]))
def test_arbitrary_bytes_never_give_a_traceback(tmp_path_factory, encoder, blob, suffix):
    tmp = tmp_path_factory.mktemp("blob")
    src, out = tmp / f"p{suffix}", tmp / "o.npy"
    src.write_bytes(blob)
    try:
        embed_file(encoder, src, out, progress=False)
    except ValueError as e:
        assert str(src) in str(e)
        assert not out.exists()
    else:  # random bytes that happen to be a valid CSV with lon, lat columns
        assert out.exists()
    assert not (tmp / ".o.npy.partial").exists()
