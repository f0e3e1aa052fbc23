"""Excel workbooks as input: `satclip embed sites.xlsx`, embed_file, InputTable."""

import datetime

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import satclip
from satclip.cli import main
from satclip.evaluation.custom import task_from_file
from satclip.io import embed_file
from satclip.io.excel import read_xlsx
from satclip.io.readers import InputTable, ReadOptions

openpyxl = pytest.importorskip("openpyxl")

LONLAT = np.array([[2.35, 48.86], [-74.0, 40.71], [13.4, 52.52], [151.21, -33.87]])


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    return satclip.LocationEncoder(sh, satclip.create_network("siren", dim_in=sh.dim, dim_out=4)).eval()


def _workbook(path, rows, header=("Site", "Longitude", "Latitude", "Visited", "count"), above=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "sites"
    for r in above:
        ws.append(list(r))
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    wb.create_sheet("notes").append(["only the first sheet is read"])
    wb.save(path)
    return path


def _sites():
    # As people type them: an integer longitude, a coordinate typed as text with a decimal
    # comma, a date, a column mixing numbers and text.
    return [
        ("Paris", 2.35, 48.86, datetime.date(2024, 5, 1), 3),
        ("NYC", -74, 40.71, datetime.date(2024, 5, 2), "n/a"),
        ("Berlin", "13,4", "52,52", None, 1),
        ("Sydney", 151.21, -33.87, datetime.date(2024, 5, 4), 7),
    ]


def test_the_first_sheet_is_embedded_with_its_columns(tmp_path, encoder):
    src = _workbook(tmp_path / "sites.xlsx", [*_sites(), (None,) * 5, (None,) * 5])
    out = tmp_path / "out.parquet"
    assert embed_file(encoder, src, out, progress=False) == 4  # trailing empty rows dropped
    t = pq.read_table(out)
    assert t.column_names == ["Site", "Longitude", "Latitude", "Visited", "count", "embedding"]
    lonlat = np.stack([t["Longitude"].to_numpy(), t["Latitude"].to_numpy()], axis=1)
    np.testing.assert_allclose(lonlat, LONLAT)
    emb = np.stack(t["embedding"].to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(emb, encoder.embed_array(LONLAT), atol=1e-6)
    assert t["Site"].to_pylist() == ["Paris", "NYC", "Berlin", "Sydney"]
    assert t["Visited"].to_pylist()[0] == datetime.datetime(2024, 5, 1)
    assert t["count"].to_pylist() == ["3", "n/a", "1", "7"]  # mixed types: read as text


def test_chunks_and_resume_see_the_same_rows(tmp_path):
    src = _workbook(tmp_path / "sites.xlsx", _sites())
    table = InputTable(src)
    assert table.total_rows == 4 and table.kind == "xlsx"
    whole = np.concatenate([c.lonlat for c in table.chunks(3)])
    np.testing.assert_allclose(whole, LONLAT)
    np.testing.assert_allclose(np.concatenate([c.lonlat for c in table.chunks(2, skip=1)]), LONLAT[1:])


def test_bad_cells_are_named_by_their_row_in_the_sheet(tmp_path):
    rows = _sites()
    rows.insert(2, (None,) * 5)  # an empty row in between: reported, not skipped
    src = _workbook(tmp_path / "gap.xlsx", rows)
    with pytest.raises(ValueError, match=r"row 2: Latitude is empty \(.*row 0 is the sheet's row 2\)"):
        list(InputTable(src).chunks(10))
    src = _workbook(tmp_path / "text.xlsx", [("x", 10.0, "north", None, 1)])
    with pytest.raises(ValueError, match=r"row 0: Latitude value 'north' is not a number"):
        list(InputTable(src).chunks(10))
    src = _workbook(tmp_path / "far.xlsx", [("x", 10.0, 95.0, None, 1)])
    with pytest.raises(ValueError, match=r"latitude out of range.*row 0 is the sheet's row 2"):
        list(InputTable(src).chunks(10))


def test_unreadable_and_unsupported_workbooks_say_what_to_do(tmp_path):
    fake = tmp_path / "fake.xlsx"
    fake.write_text("lon,lat\n1,2\n")
    with pytest.raises(ValueError, match=r"fake.xlsx: not a readable Excel workbook"):
        read_xlsx(fake)
    empty = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(empty)
    with pytest.raises(ValueError, match=r"the sheet 'Sheet' is empty"):
        read_xlsx(empty)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ValueError, match=r"unsupported input type '.xls'.*save it as .xlsx or CSV UTF-8"):
        InputTable(old)


def test_a_header_cell_left_empty_gets_a_name(tmp_path):
    src = _workbook(tmp_path / "h.xlsx", [(1.0, 2.0, "a")], header=("lon", "lat"))
    table, first = read_xlsx(src)
    assert table.column_names == ["lon", "lat", "column_3"] and first == 2


def test_a_title_and_blank_lines_above_the_header_are_passed_over(tmp_path):
    above = [("Oak survey 2024",), (), (None, None, "(degrees)")]
    src = _workbook(tmp_path / "titled.xlsx", _sites(), above=above)
    table, first = read_xlsx(src)
    assert table.column_names[:3] == ["Site", "Longitude", "Latitude"] and first == 5
    np.testing.assert_allclose(np.concatenate([c.lonlat for c in InputTable(src).chunks(10)]), LONLAT)
    bad = _workbook(tmp_path / "titled-bad.xlsx", [("x", 10.0, 95.0, None, 1)], above=above)
    with pytest.raises(ValueError, match=r"latitude out of range.*row 0 is the sheet's row 5"):
        list(InputTable(bad).chunks(10))
    lonely = tmp_path / "lonely.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["just a title"])
    wb.save(lonely)
    with pytest.raises(ValueError, match=r"no row of the sheet 'Sheet' has two cells filled"):
        read_xlsx(lonely)


def test_command_line(tmp_path, encoder):
    src = _workbook(tmp_path / "sites.xlsx", _sites())
    model = tmp_path / "m.safetensors"
    satclip.save(encoder, model)
    out = tmp_path / "sites.csv"
    assert main(["embed", str(src), "-o", str(out), "--model", str(model), "-q"]) == 0
    header = out.read_text().splitlines()[0]
    assert header.startswith('"Site","Longitude","Latitude","Visited","count","emb_0"')


def test_a_sheet_is_chosen_by_name(tmp_path, encoder):
    src = _workbook(tmp_path / "sites.xlsx", _sites())
    wb = openpyxl.load_workbook(src)
    wb.move_sheet("notes", offset=-1)  # the points are no longer on the first sheet
    other = wb.create_sheet("more")
    other.append(["lon", "lat"])
    other.append([5.0, 6.0])
    wb.save(src)
    with pytest.raises(ValueError, match=r"no row of the sheet 'notes' has two cells filled"):
        InputTable(src)
    np.testing.assert_allclose(
        np.concatenate([c.lonlat for c in InputTable(src, ReadOptions(sheet="sites")).chunks(10)]), LONLAT
    )
    np.testing.assert_array_equal(
        next(InputTable(src, ReadOptions(sheet="more")).chunks(10)).lonlat, [[5.0, 6.0]]
    )
    with pytest.raises(ValueError, match=r"no sheet 'Sites' \(did you mean 'sites'\?\); its sheets are"):
        InputTable(src, ReadOptions(sheet="Sites"))
    csv = tmp_path / "p.csv"
    csv.write_text("lon,lat\n1,2\n")
    with pytest.raises(ValueError, match="a sheet applies to Excel workbooks only"):
        InputTable(csv, ReadOptions(sheet="sites"))
    # Through the command line, for embed and for evaluate --task-file.
    model = tmp_path / "m.safetensors"
    satclip.save(encoder, model)
    out = tmp_path / "sites.npy"
    assert main(["embed", str(src), "-o", str(out), "--model", str(model), "--sheet", "sites", "-q"]) == 0
    np.testing.assert_allclose(np.load(out), encoder.embed_array(LONLAT), atol=1e-6)
    with (
        pytest.raises(ValueError, match="a classification needs more labelled rows"),
        pytest.warns(UserWarning, match="dropped 4 class"),  # read from the sheet: 4 names
    ):
        task_from_file(src, "Site", "classification", sheet="sites")
    with pytest.raises(ValueError, match="no row of the sheet 'notes'"):
        task_from_file(src, "Site")
