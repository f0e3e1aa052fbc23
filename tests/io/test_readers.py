"""CSV and Parquet inputs as people have them: Excel's byte-order mark, quoted headers, European
semicolons and decimal commas, tabs, projected coordinates; and the columns written back."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from pyproj import Transformer

import satclip
from satclip.io import embed_file
from satclip.io.readers import InputTable, ReadOptions
from satclip.io.text import sniff_delimiter

LONLAT = np.array([[2.35, 48.86], [-74.0, 40.71], [151.21, -33.87], [-0.13, 51.51]])


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    return satclip.LocationEncoder(sh, satclip.create_network("siren", dim_in=sh.dim, dim_out=4)).eval()


def _embedded(path, encoder, **kwargs):
    out = path.with_name(path.stem + "-out.parquet")
    assert embed_file(encoder, path, out, progress=False, **kwargs) == len(LONLAT)
    return pq.read_table(out)


def _rows(sep=",", decimal=".", quote_header=False):
    head = ['"lon"', '"lat"', '"name, full"'] if quote_header else ["lon", "lat", "name"]
    lines = [sep.join(head)]
    for i, (x, y) in enumerate(LONLAT):
        lines.append(sep.join([f"{x}".replace(".", decimal), f"{y}".replace(".", decimal), f'"p{i}, x"']))
    return lines


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("excel-utf8-bom", "\ufeff" + "\r\n".join(_rows()) + "\r\n"),
        ("quoted-header-with-comma", "\n".join(_rows(quote_header=True)) + "\n"),
        ("semicolon-decimal-comma", "\n".join(_rows(";", ",")) + "\n"),
        ("semicolon-decimal-point", "\n".join(_rows(";")) + "\n"),
        ("tab", "\n".join(_rows("\t")) + "\n"),
        ("no-final-newline", "\n".join(_rows())),
    ],
)
def test_csv_dialects_are_read(tmp_path, encoder, label, data):
    src = tmp_path / f"{label}.csv"
    src.write_bytes(data.encode("utf-8"))
    t = _embedded(src, encoder)
    assert t.column_names[:2] == ["lon", "lat"]
    # Coordinates are written back as numbers, not as the text they were read as.
    assert t.schema.field("lon").type == pa.float64() and t.schema.field("lat").type == pa.float64()
    np.testing.assert_allclose(np.stack([t["lon"].to_numpy(), t["lat"].to_numpy()], axis=1), LONLAT)
    emb = np.stack(t["embedding"].to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(emb, encoder.embed_array(LONLAT), atol=1e-6)
    assert len(t.column_names) == 4 and t.column_names[2] in ("name", "name, full")


def test_delimiter_is_sniffed_and_can_be_given(tmp_path, encoder):
    src = tmp_path / "p.csv"
    src.write_text("\n".join(_rows(";", ",")) + "\n")
    assert sniff_delimiter(src) == ";"
    assert InputTable(src, ReadOptions(delimiter="semicolon")).delimiter == ";"
    # A wrong delimiter gives one column, named in the error.
    with pytest.raises(ValueError, match="not a readable CSV file with delimiter ','.*delimiter="):
        InputTable(src, ReadOptions(delimiter=","))
    with pytest.raises(ValueError, match="delimiter must be one character"):
        InputTable(src, ReadOptions(delimiter=";;"))
    with pytest.raises(ValueError, match="CSV files only"):
        InputTable(_parquet(tmp_path), ReadOptions(delimiter=";"))


def _parquet(tmp_path, x=LONLAT[:, 0], y=LONLAT[:, 1], names=("lon", "lat")):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({names[0]: x, names[1]: y, "id": np.arange(len(x))}), path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_projected_coordinates_with_crs(tmp_path, encoder, fmt):
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(
        LONLAT[:, 0], LONLAT[:, 1]
    )
    if fmt == "csv":
        src = tmp_path / "xy.csv"
        src.write_text(
            "x,y\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y, strict=True)) + "\n"
        )
    else:
        src = _parquet(tmp_path, x, y, names=("x", "y"))
    t = _embedded(src, encoder, lon_col="x", lat_col="y", crs="EPSG:3857")
    # The point used is stated; the x/y columns are kept as numbers.
    np.testing.assert_allclose(np.stack([t["point_lon"].to_numpy(), t["point_lat"].to_numpy()], 1), LONLAT)
    assert t.schema.field("x").type == pa.float64()
    emb = np.stack(t["embedding"].to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(emb, encoder.embed_array(LONLAT), atol=1e-5)


def test_crs_errors_are_clear(tmp_path, encoder):
    src = tmp_path / "xy.csv"
    src.write_text("x,y\n1e30,1e30\n")
    with pytest.raises(ValueError, match="unknown CRS 'EPSG:999999'"):
        InputTable(src, ReadOptions("x", "y", crs="EPSG:999999"))
    with pytest.raises(ValueError, match=r"row 0: \(x, y\) = \(1e\+30, 1e\+30\) has no lon/lat in EPSG:3035"):
        embed_file(
            encoder, src, tmp_path / "o.npy", lon_col="x", lat_col="y", crs="EPSG:3035", progress=False
        )
    assert not (tmp_path / "o.npy").exists()
    # Lon/lat declared in degrees is the identity.
    ll = tmp_path / "ll.csv"
    ll.write_text("lon,lat\n2.35,48.86\n")
    assert not InputTable(ll, ReadOptions(crs="EPSG:4326")).derived_points


def test_crs_conflicting_with_a_files_own_is_refused(tmp_path):
    gpd = pytest.importorskip("geopandas")
    import shapely

    src = tmp_path / "g.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(1, 2)], crs="EPSG:4326").to_file(src)
    with pytest.raises(ValueError, match=r"declares its CRS \(EPSG:4326\), which differs from crs=EPSG:3857"):
        InputTable(src, ReadOptions(crs="EPSG:3857"))
    assert InputTable(src, ReadOptions(crs="EPSG:4326")).geometry is not None


def test_csv_row_count_for_the_progress_bar(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("lon,lat\n" + "1,2\n" * 1000)
    assert InputTable(src).total_rows == 1000
    src.write_text("lon,lat\n" + "1,2\n" * 999 + "1,2")
    assert InputTable(src).total_rows == 1000


def test_cli_takes_crs_and_delimiter(tmp_path, encoder):
    from satclip.cli import main

    model = satclip.save(encoder, tmp_path / "m.safetensors")
    src = tmp_path / "p.csv"
    src.write_text("\ufeff" + "\n".join(_rows("|")) + "\n")
    out = tmp_path / "o.parquet"
    assert main(["embed", str(src), "-o", str(out), "--model", str(model), "--delimiter", "pipe", "-q"]) == 0
    assert pq.read_table(out).num_rows == len(LONLAT)


@pytest.mark.parametrize(
    ("header", "sep", "decimal"),
    [
        (["Name", "Lon", "Lat"], ";", ","),  # Excel, European locale
        (["gbifID", "decimalLongitude", "decimalLatitude"], "\t", "."),  # GBIF occurrence download
        (["site", " LONGITUDE ", "Latitude"], ",", "."),
        (["id", "lng", "lat"], ",", "."),
    ],
)
def test_coordinate_columns_are_found_by_their_usual_names(tmp_path, encoder, header, sep, decimal):
    src = tmp_path / "p.csv"
    rows = [
        sep.join([f"s{i}", f"{x}".replace(".", decimal), f"{y}".replace(".", decimal)])
        for i, (x, y) in enumerate(LONLAT)
    ]
    src.write_text("\ufeff" + "\n".join([sep.join(header), *rows]) + "\n")
    assert InputTable(src).coords == (header[1], header[2])
    t = _embedded(src, encoder)
    assert t.column_names == [*header, "embedding"]
    emb = np.stack(t["embedding"].to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(emb, encoder.embed_array(LONLAT), atol=1e-6)


def test_coordinate_column_names_that_do_not_decide_are_refused(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("lon,Longitude,Lat\n1,1,2\n")
    assert InputTable(src).coords == ("lon", "Lat"), "the exact name wins"
    src.write_text("Lng,Longitude,Lat\n1,1,2\n")
    with pytest.raises(
        ValueError, match=r"columns \['Lng', 'Longitude'\] could each be the lon; name one with lon_col="
    ):
        InputTable(src)
    assert InputTable(src, ReadOptions(lon_col="Lng")).coords == ("Lng", "Lat")
    src.write_text("x,y\n1,2\n")
    with pytest.raises(ValueError, match=r"no column\(s\) \['lon', 'lat'\].*decimallongitude"):
        InputTable(src)


def test_cli_embeds_with_the_recommended_model_by_default(tmp_path):
    from satclip.cli import main
    from satclip.pretrained import RECOMMENDED

    src = tmp_path / "p.csv"
    src.write_text("\n".join(_rows()) + "\n")
    out = tmp_path / "o.npy"
    assert main(["embed", str(src), "-o", str(out), "-q"]) == 0
    np.testing.assert_array_equal(np.load(out), satclip.load(RECOMMENDED).embed_array(LONLAT))
