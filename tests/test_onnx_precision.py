"""Lower-precision ONNX exports (satclip._onnx_precision, export_onnx(precision=)): refused with
the numbers where they do not keep the embedding (fp16 and int8 on every shipped model); where a
bar lets layers through, the file runs and records what was chosen; nothing is lowered silently."""

import json

import numpy as np
import onnx
import pytest

import satclip
from satclip import _onnx_precision, _precision
from satclip.cli import main
from satclip.errors import InputError
from satclip.onnx_export import export_onnx
from satclip.onnx_runtime import OnnxEncoder

pytest.importorskip("onnxruntime")

L10 = "satclip-bluemarble-l10"


def _points(n: int = 5000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-180, 180, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))], axis=1)


def _meta(path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.fixture
def l10_fp16(tmp_path, monkeypatch):
    # The check without its local part (fp16 moves 10 km differences by ~20 %): the path itself.
    monkeypatch.setattr(_precision, "LOCAL_ERROR", 10.0)
    return export_onnx(satclip.load(L10), tmp_path / "l10-fp16.onnx", precision="fp16")


def test_fp16_is_refused_where_it_moves_nearby_places(tmp_path):
    with pytest.raises(
        InputError, match=r"keeps the embedding in fp16 \(layer 0: worst cosine (0\.99\d+|1\.0+), 10 km"
    ):
        export_onnx(satclip.load(L10), tmp_path / "h.onnx", precision="fp16")
    assert not (tmp_path / "h.onnx").exists()


def test_fp16_path_runs_and_records_its_choice(l10_fp16):
    info = json.loads(_meta(l10_fp16)["satclip_precision"])
    assert info["precision"] == "fp16" and info["layers"] == [0, 1, 2]
    assert (
        info["worst_cosine"] >= _precision.CHECK_COSINE and info["local_error"] > 0.05
    )  # what the loose bar let through
    assert _onnx_precision.lowered_gemms(onnx.load(str(l10_fp16)), "fp16") == 3
    pts = _points()
    got = OnnxEncoder(l10_fp16).embed_array(pts)
    assert got.dtype == np.float32
    assert _precision.worst_cosine(got, satclip.load(L10).embed_array(pts)) >= 0.999


def test_the_float32_export_is_unchanged(tmp_path):
    path = export_onnx(satclip.load(L10), tmp_path / "f32.onnx")
    assert "satclip_precision" not in _meta(path)
    assert _onnx_precision.lowered_gemms(onnx.load(str(path)), "fp16") == 0


def test_int8_is_real_int8_and_refused_where_it_loses_the_embedding(tmp_path):
    with pytest.raises(
        InputError, match=r"no layer of this model keeps the embedding in int8 \(layer 0: worst cosine 0\.99"
    ):
        export_onnx(satclip.load(L10), tmp_path / "q.onnx", precision="int8")
    assert not (tmp_path / "q.onnx").exists()
    # What it measured is int8 indeed: the first product as QGemm, close to float32 but not equal.
    f32 = onnx.load(str(export_onnx(satclip.load(L10), tmp_path / "f.onnx")))
    inputs = {"lonlat": _precision.check_points().astype(np.float32)}
    q = _onnx_precision.lowered(f32, "int8", [0], inputs)
    assert _onnx_precision.lowered_gemms(q, "int8") == 1
    import onnxruntime as ort

    run = lambda m: ort.InferenceSession(m.SerializeToString()).run(None, inputs)[0]  # noqa: E731
    cos = _precision.worst_cosine(run(q), run(f32))
    assert 0.99 < cos < 0.9999


def test_a_converter_that_lowers_nothing_is_caught(monkeypatch, tmp_path):
    f32 = onnx.load(str(export_onnx(satclip.load(L10), tmp_path / "f.onnx")))
    monkeypatch.setattr(_onnx_precision, "_lowered", lambda model, *args: model)
    with pytest.raises(RuntimeError, match="lowered 0 products to fp16, not 1"):
        _onnx_precision.lowered(f32, "fp16", [0], {})


def test_bad_precision_and_the_cli(tmp_path, capsys, monkeypatch):
    with pytest.raises(InputError, match="precision must be one of float32, fp16, int8; got 'bf16'"):
        export_onnx(satclip.load(L10), tmp_path / "x.onnx", precision="bf16")
    out = tmp_path / "h.onnx"
    assert main(["export-onnx", "--model", L10, "-o", str(out), "--precision", "fp16"]) == 2
    assert "export with --precision float32" in capsys.readouterr().err
    monkeypatch.setattr(_precision, "LOCAL_ERROR", 10.0)
    assert main(["export-onnx", "--model", L10, "-o", str(out), "--precision", "fp16"]) == 0
    assert "fp16 in layers 0, 1, 2; worst cosine to float32 0.99" in capsys.readouterr().out


@pytest.mark.slow
def test_a_seasonal_model_in_fp16_keeps_its_months(tmp_path, monkeypatch):
    monkeypatch.setattr(_precision, "LOCAL_ERROR", 10.0)
    name = "satclip-bluemarble-seasonal-l40"
    path = export_onnx(satclip.load(name), tmp_path / "s.onnx", precision="fp16")
    pts = _points(3000, seed=5)
    months = np.resize(np.arange(1, 13), len(pts))
    got = OnnxEncoder(path).embed_array(pts, month=months)
    assert _precision.worst_cosine(got, satclip.load(name).embed_array(pts, month=months)) >= 0.999
