"""The command line: list, demo, info, embed (CSV / Parquet in; .npy / .parquet out)."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import satclip
from satclip.cli import main
from satclip.sources import SOURCES


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=10)
    enc = satclip.LocationEncoder(sh, satclip.create_network("siren", dim_in=sh.dim, dim_out=16))
    return satclip.save(enc, tmp_path / "model.safetensors")


@pytest.fixture
def points_csv(tmp_path):
    rng = np.random.default_rng(1)
    n = 1000
    lon, lat = rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)
    path = tmp_path / "points.csv"
    with path.open("w") as f:
        f.write("id,name,x,y\n")
        for i in range(n):
            f.write(f"{i},site{i},{float(lon[i])!r},{float(lat[i])!r}\n")
    return path, np.stack([lon, lat], axis=1)


def test_version_and_no_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"satclip {satclip.__version__}"
    # `satclip` alone lists the commands (argparse said only "the following arguments are required").
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "usage: satclip" in err and "embed" in err and "evaluate" in err and "required" not in err


def test_list_and_demo(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "sphericalharmonics" in out and "siren" in out and "satclip-resnet50-l40" in out
    lines = {
        line.split()[1] if line.startswith("  *") else line.split()[0]: line for line in out.splitlines()
    }
    assert lines[satclip.pretrained.RECOMMENDED].startswith("  * ")  # the recommended one is marked
    assert lines[satclip.pretrained.RECOMMENDED].endswith("[in the package]")
    assert lines["satclip-resnet50-l40"].endswith(
        ("[satclip download --model satclip-resnet50-l40]", "[downloaded]")
    )
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Paris" in out and "dim 256" in out


def test_info(model_file, capsys):
    assert main(["info", "--model", str(model_file)]) == 0
    assert '"legendre_polys": 10' in capsys.readouterr().out


def test_embed_csv_to_npy(tmp_path, model_file, points_csv):
    src, lonlat = points_csv
    out = tmp_path / "emb.npy"
    argv = ["embed", str(src), "-o", str(out), "--model", str(model_file), "--lon-col", "x", "--lat-col", "y"]
    assert main([*argv, "--chunk-rows", "300", "-q"]) == 0
    emb = np.load(out)
    assert emb.shape == (1000, 16) and emb.dtype == np.float32
    np.testing.assert_allclose(emb, satclip.load(model_file).embed_array(lonlat), atol=1e-5)
    assert np.load(out, mmap_mode="r").shape == (1000, 16)


def test_embed_parquet_to_parquet_keeps_columns(tmp_path, model_file, points_csv):
    _, lonlat = points_csv
    src = tmp_path / "points.parquet"
    pq.write_table(
        pa.table({"lon": lonlat[:, 0], "lat": lonlat[:, 1], "tag": [f"t{i}" for i in range(1000)]}), src
    )
    out = tmp_path / "emb.parquet"
    assert (
        main(["embed", str(src), "-o", str(out), "--model", str(model_file), "--chunk-rows", "256", "-q"])
        == 0
    )
    table = pq.read_table(out)
    assert table.column_names == ["lon", "lat", "tag", "embedding"]
    assert table.column("tag").to_pylist()[-1] == "t999"
    emb = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(emb, satclip.load(model_file).embed_array(lonlat), atol=1e-5)


def test_bad_row_is_named_and_nothing_is_left(tmp_path, model_file, points_csv, capsys):
    src, _ = points_csv
    lines = src.read_text().splitlines()
    lines[701] = "700,site700,10.0,123.0"  # data row 700
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "emb.npy"
    argv = ["embed", str(src), "-o", str(out), "--model", str(model_file), "--lon-col", "x", "--lat-col", "y"]
    assert main([*argv, "--chunk-rows", "300", "-q"]) == 2
    err = capsys.readouterr().err
    assert "latitude out of range" in err and "index 700" in err and "points.csv" in err
    assert not out.exists() and not list(tmp_path.glob(".emb.npy*"))


def test_missing_column_and_unparseable_value(tmp_path, model_file, points_csv, capsys):
    src, _ = points_csv
    out = tmp_path / "emb.parquet"
    assert main(["embed", str(src), "-o", str(out), "--model", str(model_file), "-q"]) == 2
    assert "no column(s) ['lon', 'lat']" in capsys.readouterr().err
    argv = ["embed", str(src), "-o", str(out), "--model", str(model_file), "-q", "--lon-col", "X"]
    assert main([*argv, "--lat-col", "y"]) == 2
    assert "no column(s) ['X'] (did you mean 'x'?)" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat\n1.0,2.0\nabc,3.0\n")
    assert main(["embed", str(bad), "-o", str(out), "--model", str(model_file), "-q"]) == 2
    assert "bad.csv: row 1: lon value 'abc' is not a number" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_model_and_output_type(tmp_path, points_csv, model_file, capsys):
    src, _ = points_csv
    assert main(["embed", str(src), "-o", str(tmp_path / "e.npy"), "--model", "nope"]) == 2
    assert "unknown model 'nope'; pass a pretrained name" in capsys.readouterr().err
    assert main(["embed", str(src), "-o", str(tmp_path / "e.npy"), "--model", "resnet18-l10"]) == 2
    assert "unknown model 'resnet18-l10' (did you mean 'satclip-resnet18-l10'?)" in capsys.readouterr().err
    assert main(["embed", str(src), "-o", str(tmp_path / "e.h5"), "--model", str(model_file)]) == 2
    assert "use .npy, .parquet, .geoparquet or .csv" in capsys.readouterr().err


def test_data_build_and_preview(tmp_path, cache, capsys):
    out = tmp_path / "bm"
    assert main(["data", "build", "bluemarble", "--n", "100", "--size", "8", "--out", str(out), "-q"]) == 0
    assert (out / "manifest.json").exists()
    png = tmp_path / "grid.png"
    assert main(["data", "preview", str(out), "-o", str(png), "--patches", "4"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["data", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("bluemarble ")
    # Columns line up: every description starts at the same place.
    starts = {line.index(SOURCES[line.split()[0]].description) for line in lines}
    assert len(lines) == len(SOURCES) and len(starts) == 1
    assert main(["data", "fetch", "nope"]) == 2
    assert "unknown data source 'nope'" in capsys.readouterr().err
    for argv in (["data", "fetch"], ["data", "fetch", "landmask", "--all"]):
        assert main(argv) == 2
        assert "give one source name (satclip data list) or --all" in capsys.readouterr().err


def test_data_fetch_all_offline_serves_the_warm_cache(cache, monkeypatch, capsys):
    """`satclip data fetch --all` warms the cache; with SATCLIP_OFFLINE=1 it then only checks it."""
    from satclip import sources

    few = {name: SOURCES[name] for name in ("land-110m", "koppen-names")}
    for name in few:
        sources.fetch(name)
    monkeypatch.setattr(sources, "SOURCES", few)
    monkeypatch.setenv("SATCLIP_OFFLINE", "1")
    assert main(["data", "fetch", "--all"]) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == list(few)


def test_raster_command_writes_a_georeferenced_cog(tmp_path, model_file):
    import rasterio

    out = tmp_path / "r.tif"
    argv = ["raster", "--model", str(model_file), "--bbox", "5,45,7,46", "--resolution", "0.25"]
    assert main([*argv, "-o", str(out), "--pca", "3", "-q"]) == 0
    with rasterio.open(out) as ds:
        assert ds.count == 3 and (ds.width, ds.height) == (8, 4) and ds.crs.to_epsg() == 4326
        assert ds.transform.c == 5 and ds.transform.f == 46
    assert main([*argv[:4], "5,45,4,46", "--resolution", "0.25", "-o", str(tmp_path / "x.tif")]) == 2
    with pytest.raises(SystemExit) as exit_info:  # argparse rejects a malformed bbox
        main([*argv[:4], "5;45", "--resolution", "0.25", "-o", str(tmp_path / "x.tif")])
    assert exit_info.value.code == 2


def test_export_onnx_and_embed_with_the_onnx_backend(tmp_path, model_file, points_csv, cache):
    src, lonlat = points_csv
    onnx_file = tmp_path / "m.onnx"
    assert main(["export-onnx", "--model", str(model_file), "-o", str(onnx_file)]) == 0
    ref = satclip.load(model_file).embed_array(lonlat)
    for model in (str(onnx_file), str(model_file)):  # an .onnx, or exported on the fly
        out = tmp_path / "e.npy"
        argv = ["embed", str(src), "-o", str(out), "--model", model, "--lon-col", "x", "--lat-col", "y"]
        assert main([*argv, "--backend", "onnx", "-q"]) == 0
        np.testing.assert_allclose(np.load(out), ref, atol=1e-5)
    assert main(["embed", str(src), "-o", str(out), "--model", str(onnx_file), "-q"]) == 2


def test_western_and_southern_bboxes_need_no_trick(tmp_path, model_file):
    import rasterio

    out = tmp_path / "w.tif"
    argv = ["raster", "--model", str(model_file), "--bbox", "-10,-40,-9,-39.5", "--resolution", "0.25"]
    assert main([*argv, "-o", str(out), "--pca", "2", "-q"]) == 0
    with rasterio.open(out) as ds:
        assert (ds.transform.c, ds.transform.f) == (-10, -39.5)


def _coordinate_options():
    """(command, option) for every option whose value is a coordinate or a list of them."""
    from satclip.cli import build_parser

    found = []

    def walk(parser, path):
        for action in parser._actions:
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif "--bbox" in action.option_strings:
                found.append((tuple(path), "--bbox"))

    walk(build_parser(), [])
    return found


def test_every_coordinate_option_takes_negative_values():
    from satclip.cli import _join_negative_values, build_parser

    options = _coordinate_options()
    assert {cmd for cmd, _ in options} == {("raster",), ("map",), ("data", "s2")}
    parser = build_parser()
    required = {
        ("raster",): ["--model", "m", "--resolution", "1", "-o", "x.tif"],
        ("map",): ["-o", "x.png"],
        ("data", "s2"): ["--n", "1", "--out", "d"],
    }
    for cmd, opt in options:
        for text, want in [
            ("-10,-40,-9.5,-39", (-10, -40, -9.5, -39)),
            ("-1e1,40,10,5e1", (-10, 40, 10, 50)),
        ]:
            argv = [*cmd, opt, text, *required[cmd]]
            assert parser.parse_args(_join_negative_values(parser, argv)).bbox == want, (cmd, text)


def test_export_onnx_dtype_choice_and_float32_coordinates(tmp_path):
    import onnxruntime as ort

    torch.manual_seed(0)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=6)
    enc = satclip.LocationEncoder(sh, satclip.create_network("siren", dim_in=36, dim_out=4), dtype="float64")
    model = satclip.save(enc, tmp_path / "m64.safetensors")
    pts = np.array([[2.35, 48.86], [-74.0, 40.71]])
    for dtype, np_dtype in [(None, np.float32), ("float64", np.float64)]:
        out = tmp_path / f"m-{dtype}.onnx"
        assert (
            main(
                ["export-onnx", "--model", str(model), "-o", str(out), *(["--dtype", dtype] if dtype else [])]
            )
            == 0
        )
        session = ort.InferenceSession(str(out))
        got = session.run(None, {"lonlat": pts.astype(np_dtype)})[0]
        np.testing.assert_allclose(got, enc.embed_array(pts), atol=1e-5)


def test_satclip_ood_after_import_satclip():
    import subprocess
    import sys

    code = (
        "import satclip; print(satclip.ood.ood_flags.__name__, satclip.io.embed_file.__name__, "
        "satclip.sklearn.SatCLIPFeatures.__name__, satclip.geography.land_mask.__name__, "
        "satclip.hub.HubFile.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ood_flags", "embed_file", "SatCLIPFeatures", "land_mask", "HubFile"]
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        satclip.nonexistent  # noqa: B018


def test_user_errors_are_one_line_and_bugs_keep_their_traceback(monkeypatch, capsys, tmp_path):
    import satclip.cli.models as cli

    assert main(["info", "--model", str(tmp_path / "missing.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("satclip info: error:") and "Traceback" not in err

    def bug(args):
        raise RuntimeError("an internal bug")

    monkeypatch.setattr(cli, "_cmd_list", bug)
    with pytest.raises(RuntimeError, match="an internal bug"):
        main(["list"])


def test_data_build_with_layers_and_scales(tmp_path, cache, capsys):
    out = tmp_path / "night"
    args = ["data", "build", "bluemarble", "--n", "20", "--size", "4", "--out", str(out), "-q"]
    assert main([*args, "--layers", "night-dmsp", "--scales", "1,2"]) == 0
    assert np.load(out / "images.npy").shape == (20, 12, 4, 4)
    assert main([*args, "--scales", "1,x", "--overwrite"]) == 2
    assert "--scales must be comma-separated numbers" in capsys.readouterr().err
    assert main([*args, "--layers", "koppen", "--overwrite"]) == 2
    assert "never enter pretraining" in capsys.readouterr().err


def test_notices_and_warnings_reach_the_terminal_for_the_length_of_a_command(monkeypatch, capsys):
    """The library only logs and warns; ``main`` shows both on stderr (notices not with -q) and
    leaves logging and warnings as it found them."""
    import logging
    import warnings

    import satclip.cli.use as cli

    def command(args):
        logging.getLogger("satclip.io.embed").info("a notice")
        logging.getLogger("satclip.io.embed").warning("work thrown away")
        warnings.warn("a choice made for you", UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(cli, "_cmd_embed", command)
    logger = logging.getLogger("satclip")
    before = (logger.level, list(logger.handlers), warnings.showwarning, list(warnings.filters))
    argv = ["embed", "in.csv", "-o", "out.npy"]
    assert main(argv) == 0
    assert capsys.readouterr().err.splitlines() == [
        "a notice",
        "satclip embed: warning: work thrown away",
        "satclip embed: warning: a choice made for you",
    ]
    assert main([*argv, "-q"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "satclip embed: warning: work thrown away",
        "satclip embed: warning: a choice made for you",
    ]
    assert (logger.level, list(logger.handlers), warnings.showwarning, list(warnings.filters)) == before
