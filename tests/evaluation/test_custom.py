"""Evaluating on your own labelled points: files in, the suite's probes, splits and report out."""

import csv

import numpy as np
import pandas as pd
import pytest

from satclip.cli import main
from satclip.evaluation import evaluate
from satclip.evaluation.custom import task_from_file


@pytest.fixture(scope="module")
def houses(california):
    """2 000 California block groups (the paper's task, real data): lon, lat, log value, a class."""
    frame = california.sample(2000, random_state=0).reset_index(drop=True)
    y = frame["value"].to_numpy()
    band = np.where(y < np.quantile(y, 1 / 3), "low", np.where(y < np.quantile(y, 2 / 3), "mid", "high"))
    return frame.assign(band=band)


# What a notebook user is told about the kind chosen for them; ignored where that is not the point.
_KIND_STATED = "ignore:target '.*' holds:UserWarning"


def test_regression_from_csv_inferred_and_stated(tmp_path, houses, cache):
    path = tmp_path / "houses.csv"
    houses.to_csv(path, index=False)
    with pytest.warns(UserWarning, match="holds numbers: regression") as record:
        task = task_from_file(path, "value")
    assert task.kind == "regression" and task.name == "houses" and len(task.y) == len(houses)
    # Shown where the user called, not inside satclip.
    assert [w.filename for w in record] == [__file__]
    np.testing.assert_allclose(task.y, houses["value"])
    assert set(task.continent) == {"North America"}


def test_classification_from_text_drops_rare_classes_and_missing_labels(tmp_path, houses, cache):
    frame = houses.copy()
    frame.loc[:4, "band"] = "rare"  # 5 rows: below the 20 a class needs
    frame.loc[5:9, "band"] = None  # no label
    path = tmp_path / "bands.parquet"
    frame.to_parquet(path)
    with pytest.warns(UserWarning) as record:
        task = task_from_file(path, "band")
    said = [str(w.message) for w in record]
    assert task.kind == "classification" and list(task.classes) == ["high", "low", "mid"]
    assert len(task.y) == len(frame) - 10
    assert any("classification" in s for s in said)
    assert any("dropped 5 of 2000 rows without a 'band' value" in s for s in said)
    assert any("dropped 1 class(es) with fewer than 20 rows ('rare'" in s for s in said)


@pytest.mark.filterwarnings(_KIND_STATED)
def test_bad_labels_give_clear_errors(tmp_path, houses, cache):
    frame = houses.astype({"value": object})
    frame.loc[7, "value"] = "unknown"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(
        ValueError, match=r"row 7: value value 'unknown' is not a number.*kind='classification'"
    ):
        task_from_file(path, "value", kind="regression")
    with pytest.raises(ValueError, match="no target column 'price'"):
        task_from_file(path, "price")
    with pytest.raises(ValueError, match=r"no target column 'Value' \(did you mean 'value'\?\)"):
        task_from_file(path, "Value")
    with pytest.raises(ValueError, match="is a coordinate column"):
        task_from_file(path, "lat")
    with (
        pytest.raises(ValueError, match="fewer than 2 classes"),
        pytest.warns(UserWarning, match="dropped 3 class"),
    ):
        task_from_file(path, "band", min_class_count=10_000)
    with pytest.raises(ValueError, match="kind must be one of"):
        task_from_file(path, "value", kind="ordinal")


def test_semicolon_csv_with_decimal_commas(tmp_path, houses, cache):
    path = tmp_path / "excel.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["lon", "lat", "value"])
        for lon, lat, v in houses[["lon", "lat", "value"]].itertuples(index=False):
            w.writerow(
                [f"{lon:.5f}".replace(".", ","), f"{lat:.5f}".replace(".", ","), f"{v:.6f}".replace(".", ",")]
            )
    task = task_from_file(path, "value", kind="regression")
    np.testing.assert_allclose(task.y, houses["value"], atol=1e-6)


@pytest.mark.filterwarnings(_KIND_STATED)
def test_python_api_returns_the_suite_rows_as_a_frame(tmp_path, houses, cache):
    path = tmp_path / "houses.csv"
    houses.to_csv(path, index=False)
    with pytest.warns(UserWarning, match="holds numbers: regression") as record:
        df = evaluate(["sh10", "wrap"], path, target="value", splits=["random", "block"], block_deg=1.0)
    assert [w.filename for w in record] == [__file__]  # through evaluate too, one call deeper
    assert list(df.columns) == [
        "encoder",
        "task",
        "metric",
        "probe",
        "split",
        "labels",
        "fold",
        "score",
        "n_train",
        "n_test",
        "seconds",
    ]
    assert set(df["split"]) == {"random", "block"} and set(df["encoder"]) == {"sh10", "wrap"}
    assert len(df) == 2 * (3 + 5)  # 3 random seeds, 5 block folds
    assert (df[df.split == "random"].groupby("encoder")["score"].mean() > 0.2).all()
    with pytest.raises(ValueError, match="needs target="):
        evaluate(["sh10"], path)
    with pytest.raises(ValueError, match="block_deg must be a positive"):
        evaluate(["sh10"], path, target="value", splits=["block"], block_deg=0)


@pytest.mark.filterwarnings(_KIND_STATED)
def test_a_dataframe_in_memory_is_a_task_like_its_file(tmp_path, houses, cache):
    from satclip.evaluation.custom import task_from_frame

    path = tmp_path / "houses.csv"
    houses.to_csv(path, index=False)
    # Spreadsheet names, found without lon_col / lat_col; the columns in another order.
    frame = houses.rename(columns={"lon": "Longitude", "lat": "Latitude"})[
        ["band", "value", "Latitude", "Longitude"]
    ]
    for target in ("value", "band"):
        from_file, from_frame = task_from_file(path, target), task_from_frame(frame, target)
        assert from_frame.kind == from_file.kind
        np.testing.assert_array_equal(from_frame.lonlat, from_file.lonlat)
        np.testing.assert_array_equal(from_frame.y, from_file.y)
    args = {"target": "value", "splits": ["block"], "block_deg": 1.0}
    scores = evaluate(["sh10"], frame, **args)["score"].to_numpy()
    np.testing.assert_array_equal(scores, evaluate(["sh10"], path, **args)["score"].to_numpy())
    with pytest.raises(ValueError, match="no target column 'price'"):
        task_from_frame(frame, "price")
    with pytest.raises(ValueError, match=r"no target column 'valeu' \(did you mean 'value'\?\)"):
        task_from_frame(frame, "valeu")
    with pytest.raises(ValueError, match="'Latitude' is a coordinate column"):
        task_from_frame(frame, "Latitude")
    with pytest.raises(ValueError, match=r"no longitude column among \['band', 'value', 'Latitude'\]"):
        task_from_frame(frame.drop(columns="Longitude"), "value")
    with pytest.raises(ValueError, match="a DataFrame task needs target="):
        evaluate(["sh10"], frame)
    # One column named, the other found by name: the longitude under a name no list knows.
    odd = frame.rename(columns={"Longitude": "x_deg"})
    named = task_from_frame(odd, "value", lon_col="x_deg")
    np.testing.assert_array_equal(named.lonlat, from_file.lonlat)
    with pytest.raises(ValueError, match=r"frame: the frame has no column 'X' \(given as the longitude\)"):
        task_from_frame(odd, "value", lon_col="X")
    # A GeoDataFrame: its point geometry, here in a projected CRS.
    import geopandas as gpd

    points = gpd.points_from_xy(frame["Longitude"], frame["Latitude"], crs="EPSG:4326")
    geo = gpd.GeoDataFrame(frame[["band", "value"]], geometry=points).to_crs("EPSG:3857")
    np.testing.assert_allclose(task_from_frame(geo, "value").lonlat, from_file.lonlat, atol=1e-9)


def test_command_line_report_for_a_task_file(tmp_path, houses, cache, capsys, monkeypatch):
    path = tmp_path / "houses.csv"
    houses.to_csv(path, index=False)
    out = tmp_path / "report"
    args = ["evaluate", "--models", "sh10,wrap", "--task-file", str(path), "--target", "band"]
    assert main([*args, "--splits", "random", "-o", str(out), "-q"]) == 0
    printed = capsys.readouterr()
    assert "satclip evaluate: warning: target 'band' holds text: classification" in printed.err
    assert "houses (accuracy)" in printed.out
    assert (out / "results.csv").exists() and (out / "results.md").exists()
    rows = pd.read_csv(out / "results.csv")
    assert set(rows["task"]) == {"houses"} and len(rows) == 2 * 3
    assert main(["evaluate", "--models", "sh10", "--target", "band", "-o", str(out)]) == 2
    assert "add --task-file" in capsys.readouterr().err
    # Without -o: the same table printed, and nothing written.
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main([*args, "--splits", "random", "-q"]) == 0
    printed_only = capsys.readouterr().out
    assert "houses (accuracy)" in printed_only and "add -o DIR to keep these scores" in printed_only
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_command_line_defaults_compare_the_recommended_model_with_raw_features_and_idw(
    tmp_path, houses, cache, capsys
):
    from satclip.pretrained import RECOMMENDED

    path = tmp_path / "houses.csv"
    # Column names as a spreadsheet has them: found without --lon-col / --lat-col.
    houses.rename(columns={"lon": "Longitude", "lat": "Latitude"}).to_csv(path, index=False)
    out = tmp_path / "report"
    args = ["evaluate", "--task-file", str(path), "--target", "value", "--splits", "random"]
    assert main([*args, "-o", str(out), "-q"]) == 0
    rows = pd.read_csv(out / "results.csv")
    assert set(rows["encoder"]) == {RECOMMENDED, "sh40", "wrap", "idw", "imagery"}
    assert set(rows[rows.encoder == "idw"]["probe"]) == {"idw"}


def test_vector_file_with_geometries_in_another_crs(tmp_path, houses, cache):
    gpd = pytest.importorskip("geopandas")
    frame = gpd.GeoDataFrame(
        houses[["band"]], geometry=gpd.points_from_xy(houses["lon"], houses["lat"]), crs="EPSG:4326"
    ).to_crs("EPSG:3310")  # California Albers, metres
    path = tmp_path / "houses.geojson"
    frame.to_file(path)
    with pytest.warns(UserWarning, match="holds text: classification"):
        task = task_from_file(path, "band")
    assert task.kind == "classification" and len(task.y) == len(houses)
    np.testing.assert_allclose(task.lonlat, houses[["lon", "lat"]].to_numpy(), atol=1e-6)


@pytest.mark.filterwarnings(_KIND_STATED)
def test_a_task_file_with_a_month_or_date_column_is_a_monthly_task(tmp_path, houses, cache):
    frame = houses.iloc[:300].assign(month=np.arange(300) % 12 + 1)
    frame = frame.assign(date=[f"2023-{m:02d}-15" for m in frame["month"]])
    path = tmp_path / "h.csv"
    frame.to_csv(path, index=False)
    by_month = task_from_file(path, "value", month_col="month")
    by_date = task_from_file(path, "value", date_col="date")
    assert by_month.time is not None and by_month.time.shape == (300,)
    np.testing.assert_allclose(by_month.time, (frame["month"] - 0.5) / 12)
    np.testing.assert_allclose(by_date.time, by_month.time, atol=0.02)  # the 15th: about mid-month
    from satclip.evaluation.custom import task_from_frame

    np.testing.assert_array_equal(task_from_frame(frame, "value", month_col="month").time, by_month.time)
    with pytest.raises(ValueError, match="no month column 'mon'"):
        task_from_file(path, "value", month_col="mon")
    bad = frame.assign(month=frame["month"].where(frame.index != 7, 13))
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="row 7"):
        task_from_file(tmp_path / "bad.csv", "value", month_col="month")
    rows = evaluate(["sh4"], path, target="value", month_col="month", splits=["random"])
    assert len(rows) == 6 and rows["score"].notna().all()  # 3 folds, with and without ×month
    assert set(rows["encoder"]) == {"sh4", "sh4 ×month"}
