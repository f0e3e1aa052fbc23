"""ONNX export and the onnxruntime backend: parity with torch, validation, file handling."""

import json
import sys

import numpy as np
import pytest
import torch

import satclip
from satclip import LocationEncoder

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from satclip.encodings import spherical_harmonics  # noqa: E402
from satclip.onnx_export import _ExportSphericalHarmonics, export_onnx  # noqa: E402
from satclip.onnx_runtime import FORMAT_NAME, OnnxEncoder  # noqa: E402

# float32 embeddings: torch and onnxruntime sum the same products in different orders.
ATOL = 1e-5


def _points(n: int = 10_000) -> np.ndarray:
    """Area-uniform random points plus the poles, the dateline from both sides, and zero."""
    rng = np.random.default_rng(42)
    lon = rng.uniform(-180, 180, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    special = [
        [0, 90], [123.4, 90], [-77, 90], [0, -90], [-77, -90], [180, -90],
        [180, 0], [-180, 0], [180, 33.3], [-180, 33.3],
        [179.9999, 0], [-179.9999, 0], [179.9999, -60], [-179.9999, 60],
        [0, 0], [0, 45], [45, 89.9999], [-45, -89.9999],
    ]  # fmt: skip
    return np.concatenate([np.array(special, dtype=np.float64), np.stack([lon, lat], axis=1)])


POINTS = _points()


def _max_diff(onnx_enc: OnnxEncoder, enc: LocationEncoder, pts: np.ndarray = POINTS) -> float:
    got, want = onnx_enc.embed_array(pts), enc.embed_array(pts)
    assert got.dtype == np.float32 and got.shape == want.shape == (len(pts), enc.dim)
    return float(np.abs(got.astype(np.float64) - want).max())


def _fresh(encoding: str, network: str = "mlp", dtype: str = "float32", **enc_params) -> LocationEncoder:
    torch.manual_seed(0)
    enc = satclip.create_encoding(encoding, **enc_params)
    hidden = {} if network in ("linear", "identity") else {"dim_hidden": 32}
    dim_out = enc.dim if network == "identity" else 16
    net = satclip.create_network(network, dim_in=enc.dim, dim_out=dim_out, **hidden)
    return LocationEncoder(enc, net, dtype)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """name -> (torch encoder, OnnxEncoder of its export), each exported once per module."""
    cache: dict[str, tuple[LocationEncoder, OnnxEncoder]] = {}

    def get(name: str) -> tuple[LocationEncoder, OnnxEncoder]:
        if name not in cache:
            enc = satclip.load(name)
            path = export_onnx(enc, tmp_path_factory.mktemp("onnx") / f"{name}.onnx")
            cache[name] = (enc, OnnxEncoder(path))
        return cache[name]

    return get


@pytest.fixture(scope="module")
def small(bundled):
    """The bundled L=10 model and its export, shared by the behaviour tests."""
    return bundled("satclip-bluemarble-l10")


@pytest.mark.parametrize(
    "name", ["satclip-bluemarble-l10", pytest.param("satclip-bluemarble-l40", marks=pytest.mark.slow)]
)
def test_bundled_models_match_torch(bundled, name):
    enc, onnx_enc = bundled(name)
    assert onnx_enc.config == enc.config and onnx_enc.dim == enc.dim == 256
    assert _max_diff(onnx_enc, enc) <= ATOL


ENCODING_CASES = [
    pytest.param(name, {"legendre_polys": 6} if name == "sphericalharmonics" else {}, id=name)
    for name in satclip.list_encodings()
] + [
    pytest.param(
        "sphericalharmonics", {"legendre_polys": 6, "convention": "orthonormal"}, id="sh-orthonormal"
    )
]


@pytest.mark.parametrize("encoding,params", ENCODING_CASES)
def test_every_encoding_matches_torch(encoding, params, tmp_path):
    enc = _fresh(encoding, **params)
    assert _max_diff(OnnxEncoder(export_onnx(enc, tmp_path / "m.onnx")), enc) <= ATOL


@pytest.mark.parametrize("convention", ["satclip", "orthonormal"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_export_harmonics_module_is_the_torch_function(convention, dtype):
    """The traceable rewrite forms the very same float64 products, so eager results are identical."""
    x = torch.from_numpy(POINTS).to(dtype)
    for L in (1, 2, 7, 40):
        got = _ExportSphericalHarmonics(L, convention, dtype)(x)
        assert got.dtype == dtype
        assert torch.equal(got, spherical_harmonics(x, L, convention, backend="torch")), L


@pytest.mark.parametrize("convention", ["satclip", "orthonormal"])
def test_exported_harmonics_are_the_torch_features(convention, tmp_path):
    """Through an identity network the file outputs the features themselves: float32 rounding apart."""
    L = 12
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=L, convention=convention)
    net = satclip.create_network("linear", dim_in=L * L, dim_out=L * L)
    with torch.no_grad():
        net.linear.weight.copy_(torch.eye(L * L))
        net.linear.bias.zero_()
    got = OnnxEncoder(export_onnx(LocationEncoder(sh, net), tmp_path / "sh.onnx")).embed_array(POINTS)
    want = spherical_harmonics(torch.from_numpy(POINTS).float(), L, convention).numpy()
    # 1 float32 ulp; atol for the ~1e-16 float64 residues (sin π), whose float32 ulps are tiny.
    np.testing.assert_allclose(got, want, rtol=2**-23, atol=1e-14)


@pytest.mark.parametrize("network", satclip.list_networks())
@pytest.mark.parametrize("convention", ["satclip", "orthonormal"])
def test_every_network_matches_torch(network, convention, tmp_path):
    enc = _fresh("sphericalharmonics", network, legendre_polys=8, convention=convention)
    assert _max_diff(OnnxEncoder(export_onnx(enc, tmp_path / "m.onnx")), enc) <= ATOL


def test_float64_encoder_takes_float64_coordinates(tmp_path):
    enc = _fresh("sphericalharmonics", "siren", dtype="float64", legendre_polys=8)
    onnx_enc = OnnxEncoder(export_onnx(enc, tmp_path / "m.onnx", input_dtype="float64"))
    assert onnx_enc._session.get_inputs()[0].type == "tensor(double)"
    assert onnx_enc.config.dtype == "float64"
    # Computed in float64 throughout: the float32 output is torch's float64 result, rounded.
    got, want = onnx_enc.embed_array(POINTS), enc.embed_array(POINTS)
    assert want.dtype == np.float64 and got.dtype == np.float32
    np.testing.assert_array_max_ulp(got, want.astype(np.float32), maxulp=1)


def test_metadata_holds_format_and_config(small, tmp_path):
    enc, onnx_enc = small
    model = onnx.load(onnx_enc.path)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["format"] == FORMAT_NAME
    assert json.loads(meta["satclip_config"]) == enc.config.to_dict()
    assert [i.name for i in model.graph.input] == ["lonlat"]
    assert [o.name for o in model.graph.output] == ["embedding"]


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    """Raw radians in: unlike the harmonics, not periodic, so only wrapping makes 190 ≡ -170."""
    enc = _fresh("direct")
    return enc, OnnxEncoder(export_onnx(enc, tmp_path_factory.mktemp("onnx") / "direct.onnx"))


def test_longitudes_wrap(direct):
    enc, onnx_enc = direct
    lon, lat = [190.0, -540.0, 360.0, 1e7 + 0.3], [10.0, 10.0, -20.0, 5.0]
    out = onnx_enc.embed(lon, lat)
    np.testing.assert_array_equal(out[:3], onnx_enc.embed([-170.0, -180.0, 0.0], lat[:3]))
    # Wrapped in float64 before rounding to float32, as torch does: 1e7 + 0.3 is -79.7 (float32
    # would first round it to 1e7, i.e. -80).
    np.testing.assert_allclose(out, enc.embed(lon, lat), atol=ATOL)
    assert np.abs(onnx_enc.embed(190.0, 10.0) - onnx_enc.embed(10.0, 10.0)).max() > 1e-3


def test_graph_itself_wraps_longitudes(direct):
    """Other runtimes feed the file directly: 190 must still mean -170 there."""
    _, onnx_enc = direct
    run = onnx_enc._session.run
    out = [run(None, {"lonlat": np.array([[lon, 10.0]], np.float32)})[0] for lon in (190.0, -170.0, 10.0)]
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    assert np.abs(out[0] - out[2]).max() > 1e-3


def test_single_points_and_chunks_agree(small):
    _, onnx_enc = small
    one = onnx_enc.embed(2.35, 48.86)
    assert one.shape == (1, 256) and one.dtype == np.float32
    pts = POINTS[:500]
    np.testing.assert_allclose(onnx_enc.embed_array(pts, batch_size=7), onnx_enc.embed_array(pts), atol=ATOL)
    np.testing.assert_allclose(onnx_enc.embed_array(pts[3:4]), onnx_enc.embed_array(pts)[3:4], atol=ATOL)
    assert onnx_enc.embed_array(np.zeros((0, 2))).shape == (0, 256)


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize(
    "lon,lat",
    [
        ([0, 1, 2], [0, 95, 0]),
        ([0, 0], [0, 91]),
        ([0, 0, 0], [0, -90.5, 0]),
        ([0, np.nan], [0, 0]),
        ([0, 0, 0], [0, 0, np.inf]),
        ([0, 1], [0]),
        ([[0, 1]], [0, 1]),  # arrays of different shapes
        ([[0, 1], [2, 3]], [[0, 0], [95, 0]]),  # a 2-D grid, the bad point named by its 2-D index
    ],
)
def test_bad_points_raise_what_torch_raises(small, lon, lat):
    enc, onnx_enc = small
    message = _error(enc.embed, lon, lat)
    assert _error(onnx_enc.embed, lon, lat) == message


@pytest.mark.parametrize(
    "lonlat",
    [np.zeros((3, 3)), np.zeros(4), np.array([[0.0, 0.0], [np.nan, 1.0]]), np.array([[1.0, 91.0]])],
    ids=["3-columns", "1-d", "nan", "lat-91"],
)
def test_bad_arrays_raise_what_torch_raises(small, lonlat):
    enc, onnx_enc = small
    message = _error(enc.embed_array, lonlat)
    assert _error(onnx_enc.embed_array, lonlat) == message


def test_bad_batch_size(small):
    enc, onnx_enc = small
    assert _error(onnx_enc.embed, 0, 0, batch_size=0) == _error(enc.embed, 0, 0, batch_size=0)


def _onnx_identity(path, metadata=None):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["lonlat"], ["embedding"])],
        "g",
        [helper.make_tensor_value_info("lonlat", TensorProto.FLOAT, ["n", 2])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    helper.set_model_props(model, metadata or {})
    onnx.save(model, path)
    return path


def test_onnx_model_without_satclip_metadata(tmp_path):
    path = _onnx_identity(tmp_path / "other.onnx")
    with pytest.raises(ValueError, match=r"other\.onnx: .*not a satclip location encoder"):
        OnnxEncoder(path)


@pytest.mark.parametrize(
    "metadata,message",
    [
        ({"format": FORMAT_NAME, "format_version": "1", "satclip_config": "{not json"}, "bad config"),
        ({"format": FORMAT_NAME, "format_version": "1", "satclip_config": '{"encoding": {}}'}, "bad config"),
        ({"format": FORMAT_NAME, "format_version": "99", "satclip_config": "{}"}, "format version '99'"),
    ],
)
def test_malformed_satclip_metadata(tmp_path, metadata, message):
    path = _onnx_identity(tmp_path / "bad-meta.onnx", metadata)
    with pytest.raises(ValueError, match=rf"bad-meta\.onnx: .*{message}"):
        OnnxEncoder(path)


def test_not_an_onnx_file(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not protobuf \x00\xff" * 10)
    with pytest.raises(ValueError, match=r"garbage\.onnx: not a readable ONNX model"):
        OnnxEncoder(garbage)
    with pytest.raises(FileNotFoundError, match=r"missing\.onnx: no such model file"):
        OnnxEncoder(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="not a file"):
        OnnxEncoder(tmp_path)


def test_missing_onnxruntime_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(ImportError, match=r"pip install 'satclip\[onnx\]'"):
        OnnxEncoder(tmp_path / "any.onnx")


@pytest.mark.parametrize("failing", ["save", "check"])
def test_failed_export_leaves_no_file(tmp_path, monkeypatch, failing):
    enc = _fresh("wrap", "linear")
    target = tmp_path / "out.onnx"
    target.write_bytes(b"previous export")

    def save_half(model, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(model.SerializeToString()[:100])
        raise OSError("disk full")

    def reject(*args, **kwargs):
        raise onnx.checker.ValidationError("simulated checker failure")

    if failing == "save":
        monkeypatch.setattr(onnx, "save", save_half)
    else:
        monkeypatch.setattr(onnx.checker, "check_model", reject)
    with pytest.raises((OSError, onnx.checker.ValidationError)):
        export_onnx(enc, target)
    assert target.read_bytes() == b"previous export", "the old file is untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.onnx"], "no temporary file left"
    with pytest.raises((OSError, onnx.checker.ValidationError)):
        export_onnx(enc, tmp_path / "new.onnx")
    assert not (tmp_path / "new.onnx").exists()


def test_untraceable_encoding_is_named(tmp_path):
    enc = _fresh("wrap", "linear")

    def data_dependent(lonlat: torch.Tensor) -> torch.Tensor:
        if bool(lonlat.sum() > 0):  # branches on values: torch.export cannot trace this
            return torch.cat([lonlat, lonlat], dim=1)
        return torch.cat([lonlat, -lonlat], dim=1)

    enc.encoding.encode = data_dependent
    with pytest.raises(ValueError, match="cannot export encoding 'wrap' with network 'linear' to ONNX"):
        export_onnx(enc, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_export_leaves_the_encoder_as_it_was(tmp_path):
    enc = _fresh("sphericalharmonics", "siren", legendre_polys=4)
    enc.train()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    export_onnx(enc, tmp_path / "m.onnx")
    assert enc.training and enc.network.training
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())


@pytest.mark.parametrize("place_degree", [0, 3], ids=["time", "time-by-place"])
def test_a_seasonal_model_exports_with_a_time_input_and_matches_torch(tmp_path, place_degree):
    from satclip.encodings.time import TimeConfig

    torch.manual_seed(0)
    time = TimeConfig(2, place_degree)
    sh = satclip.create_encoding("sphericalharmonics", legendre_polys=10)
    net = satclip.create_network("siren", dim_in=sh.dim + time.dim, dim_out=16, dim_hidden=32)
    enc = LocationEncoder(sh, net, time=time).eval()
    with torch.no_grad():  # time columns that matter (a fresh SIREN's first layer is ~1/dim_in)
        net.first_layer.weight[:, sh.dim :].uniform_(-0.1, 0.1)
    path = export_onnx(enc, tmp_path / "s.onnx")
    onnx_enc = OnnxEncoder(path)
    assert onnx_enc.seasonal and [i.name for i in onnx_enc._session.get_inputs()] == ["lonlat", "time"]
    months = np.arange(len(POINTS)) % 12 + 1
    for kwargs in ({}, {"month": 7}, {"month": months}, {"day_of_year": 40}):
        got, want = onnx_enc.embed_array(POINTS, **kwargs), enc.embed_array(POINTS, **kwargs)
        assert np.abs(got - want).max() < ATOL, kwargs
    jan = onnx_enc.embed([1.0], [2.0], month=1)
    assert not np.allclose(jan, onnx_enc.embed([1.0], [2.0], month=7))
    static = OnnxEncoder(
        export_onnx(_fresh("sphericalharmonics", "siren", legendre_polys=4), tmp_path / "x.onnx")
    )
    with pytest.raises(ValueError, match="static model"):
        static.embed([1.0], [2.0], month=1)
