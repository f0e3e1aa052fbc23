import importlib
import math
from typing import Any

import numpy as np
import pytest
import torch

from satclip.encodings import create_encoding, spherical_harmonics
from satclip.encodings._sh_convention import ANGLE_CONVENTIONS
from tests.references import published_closed_form, scipy_real_harmonics

sh_module = importlib.import_module("satclip.encodings.spherical_harmonics")
sphericart_module = importlib.import_module("satclip.encodings._sh_sphericart")
HAS_SPHERICART = sphericart_module.calculator(2) is not None
needs_sphericart = pytest.mark.skipif(not HAS_SPHERICART, reason="sphericart-torch not installed")
SPHERICART_MAX = sphericart_module.MAX_LEGENDRE_POLYS
HAS_NUMBA = sh_module._import_numba_backend() is not None
# Every numerical check runs on every implementation; numba and sphericart come with `test`.
BACKENDS = [
    "torch",
    pytest.param("sphericart", marks=needs_sphericart),
    pytest.param("numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")),
]


def _harmonics(
    lonlat: torch.Tensor, L: int, convention: str = "satclip", backend: str = "torch"
) -> torch.Tensor:
    """spherical_harmonics, with sphericart's degree limit applied: beyond it, asking for sphericart
    by name is an error that says why, and the default backend falls back to the recurrence."""
    if backend == "sphericart" and L > SPHERICART_MAX:
        with pytest.raises(ValueError, match=f"exact up to legendre_polys={SPHERICART_MAX}"):
            spherical_harmonics(lonlat, L, convention, backend)
        backend = "auto"
    return spherical_harmonics(lonlat, L, convention, backend)


@pytest.fixture(scope="module")
def scipy_reference():
    """scipy's harmonics, computed once per (points, L, convention) and shared by both backends
    (L = 100 takes seconds)."""
    memo: dict[tuple[bytes, int, str], np.ndarray] = {}

    def get(points: np.ndarray, L: int, convention: str) -> np.ndarray:
        key = (points.tobytes(), L, convention)
        if key not in memo:
            memo[key] = scipy_real_harmonics(points[:, 0], points[:, 1], L, convention)
            memo[key].setflags(write=False)
        return memo[key]

    return get


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("convention", ["satclip", "orthonormal"])
@pytest.mark.parametrize("L", [1, 2, 10, 40, SPHERICART_MAX, SPHERICART_MAX + 1, 100])
def test_matches_scipy(sphere_points, scipy_reference, convention, L, backend):
    ours = _harmonics(torch.from_numpy(sphere_points), L, convention, backend).numpy()
    ref = scipy_reference(sphere_points, L, convention)
    assert ours.shape == (len(sphere_points), L * L)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def _gauss_sphere_grid(L: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (lon, lat) and weights integrating polynomials of degree < 2L exactly on S²."""
    x, w = np.polynomial.legendre.leggauss(L + 1)  # in sin(lat)
    n_lon = 2 * L + 1
    lon = np.arange(n_lon) * 360.0 / n_lon - 180.0
    lat = np.degrees(np.arcsin(x))
    lon_g, lat_g = np.meshgrid(lon, lat)
    weights = np.repeat(w, n_lon) * (2 * np.pi / n_lon)
    return np.stack([lon_g.ravel(), lat_g.ravel()], axis=1), weights


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("convention", ["orthonormal", "satclip"])
def test_orthogonality_by_quadrature(convention, backend):
    L = 20
    nodes, w = _gauss_sphere_grid(L)
    y = _harmonics(torch.from_numpy(nodes), L, convention, backend).numpy()
    gram = (y * w[:, None]).T @ y
    expected = np.eye(L * L)
    if convention == "satclip":
        # The published m = 0 terms carry an extra factor π, so their norm is π².
        m0 = [l * l + l for l in range(L)]
        expected[m0, m0] = math.pi**2
    np.testing.assert_allclose(gram, expected, atol=1e-12)


# Where the exact published formula is checked. Its sympy evaluation is slow, so it is done once for
# all of them (published_closed_form is cached) and shared by every point and backend below.
PUBLISHED_POINTS = ((12.5, 41.9), (-179.25, -67.5), (33.0, 88.75), (-100.0, -12.0))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lon,lat", PUBLISHED_POINTS)
def test_satclip_convention_matches_exact_published_formula(lon, lat, backend):
    L = 20
    exact = published_closed_form(L, PUBLISHED_POINTS)[PUBLISHED_POINTS.index((lon, lat))]
    ours = spherical_harmonics(torch.tensor([[lon, lat]], dtype=torch.float64), L, "satclip", backend)[
        0
    ].numpy()
    np.testing.assert_allclose(ours, exact, rtol=0, atol=1e-11)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_and_longitude_free_at_poles(dtype, backend):
    L = 100
    lon = torch.linspace(-180, 180, 17, dtype=dtype)
    for lat in (90.0, -90.0):
        pts = torch.stack([lon, torch.full_like(lon, lat)], dim=1)
        y = _harmonics(pts, L, backend=backend)
        assert y.dtype == dtype
        assert torch.isfinite(y).all()
        assert (y == y[0]).all(), "every longitude at a pole must give the same features"


@pytest.mark.parametrize("backend", BACKENDS)
def test_continuous_across_dateline(backend):
    pts = torch.tensor([[179.9999, 10.0], [-179.9999, 10.0]], dtype=torch.float64)
    y = spherical_harmonics(pts, 40, backend=backend)
    assert (y[0] - y[1]).abs().max() < 1e-2
    assert torch.nn.functional.cosine_similarity(y[:1], y[1:]).item() > 0.9999


@pytest.mark.parametrize("backend", BACKENDS)
def test_blocked_evaluation_equals_single_block(monkeypatch, sphere_points, backend):
    pts = torch.from_numpy(sphere_points)
    whole = spherical_harmonics(pts, 12, backend=backend)
    monkeypatch.setattr(sh_module, "_CHUNK_FEATURES_CPU", 12 * 12 * 7)  # 7 points per block
    blocked = spherical_harmonics(pts, 12, backend=backend)
    assert torch.equal(whole, blocked)
    if backend != "numba":  # numba gives no gradients
        pts_grad = pts.clone().requires_grad_(True)
        assert torch.equal(spherical_harmonics(pts_grad, 12, backend=backend).detach(), whole)


def test_gradients_flow_to_coordinates():
    pts = torch.tensor([[10.0, 20.0], [-50.0, -30.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: spherical_harmonics(p, 6), (pts,))


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_has_no_overflow_at_high_degree(sphere_points, backend):
    y32 = spherical_harmonics(torch.from_numpy(sphere_points).float(), 40, backend=backend)
    y64 = spherical_harmonics(torch.from_numpy(sphere_points), 40, backend=backend)
    assert y32.dtype == torch.float32 and torch.isfinite(y32).all()
    np.testing.assert_allclose(y32.double().numpy(), y64.numpy(), atol=1e-5)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"legendre_polys": 0}, "legendre_polys"),
        ({"legendre_polys": 10.5}, "legendre_polys"),
        ({"convention": "scipy"}, "convention"),
        ({"legendre_poly": 10}, "no parameter"),
    ],
)
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        create_encoding("sphericalharmonics", **params)


def test_blocks_under_inference_and_no_grad(monkeypatch, sphere_points):
    monkeypatch.setattr(sh_module, "_CHUNK_FEATURES_CPU", 10 * 10 * 16)  # 16 points per block
    pts = torch.from_numpy(sphere_points)
    serial = torch.cat([spherical_harmonics(p, 10, backend="torch") for p in pts.split(16)])
    with torch.inference_mode():
        torch.testing.assert_close(spherical_harmonics(pts, 10, backend="torch"), serial, rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(spherical_harmonics(pts, 10, backend="torch"), serial, rtol=0, atol=0)


@pytest.mark.parametrize("n,blocks", [(4096, 4), (1_000_000, 764), (1311, 2), (7, 1)])
def test_blocks_are_equal(n, blocks):
    per_block, features = 1 << 21, 1600  # at most 1 310 points of L=40 per block
    chunk = sh_module._block_points(n, features, per_block)
    sizes = [min(chunk, n - i) for i in range(0, n, chunk)]
    assert len(sizes) == blocks and sum(sizes) == n and chunk * features <= per_block
    assert max(sizes) - min(sizes) < blocks  # equal up to rounding: no sliver of a last block
    assert sh_module._block_points(0, features, per_block) == 1


@pytest.mark.skipif(sh_module._import_numba_backend() is None, reason="numba not installed")
@pytest.mark.parametrize("convention", ["satclip", "orthonormal"])
@pytest.mark.parametrize("L", [1, 3, 40, 100])
def test_numba_matches_torch(sphere_points, convention, L):
    # 1 001 points: several parallel work items and a partial last one.
    rng = np.random.default_rng(1)
    extra = np.stack(
        [rng.uniform(-540, 540, 1001 - len(sphere_points)), rng.uniform(-90, 90, 1001 - len(sphere_points))],
        1,
    )
    pts = torch.from_numpy(np.concatenate([sphere_points, extra]))
    fast = spherical_harmonics(pts, L, convention, backend="numba")
    ref = spherical_harmonics(pts, L, convention, backend="torch")
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-12)
    # Non-contiguous float32 input: cast and copied, same values as torch's float32 output.
    pts32 = torch.from_numpy(np.asfortranarray(pts.numpy())).float()
    torch.testing.assert_close(
        spherical_harmonics(pts32, L, convention, backend="numba"),
        spherical_harmonics(pts32, L, convention, backend="torch"),
        rtol=0,
        atol=1e-5,
    )


def _column_major(n: int, features: int, dtype: Any = np.float64) -> np.ndarray:
    """An (n, features) NaN array whose columns are contiguous and 7 points longer than n, as
    a slice of a padded features buffer is."""
    return np.full((features, n + 7), np.nan, dtype).T[:n]


@pytest.mark.skipif(sh_module._import_numba_backend() is None, reason="numba not installed")
@pytest.mark.parametrize("layout", ["rows", "column-major"])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 33, 255, 256, 257, 600])
def test_numba_blocks_of_points_cover_every_row_once(n, layout):
    # The kernel works on blocks of points side by side (32 for rows, 256 column-major):
    # partial blocks, and ranges that start inside a block (a thread's share), must write
    # exactly their own points, in either layout, and nothing past them.
    from satclip.encodings import _sh_numba

    rng = np.random.default_rng(n)
    pts = np.stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)], 1)
    ref = spherical_harmonics(torch.from_numpy(pts), 6, "satclip", backend="torch").numpy()
    out = np.full((n, 36), np.nan) if layout == "rows" else _column_major(n, 36)
    rows, flat, stride, features_major = _sh_numba._layout(out)
    assert features_major == (layout == "column-major")
    a, ab, diag = _sh_numba._coefficients(6)
    start = n // 3
    args = (
        pts,
        a,
        ab,
        diag,
        180.0,
        -1.0,
        math.pi,
        rows,
        flat,
        stride,
        features_major,
        256 if features_major else 32,
    )
    _sh_numba._harmonics_points(*args, start, n)
    assert np.isnan(out[:start]).all()
    np.testing.assert_allclose(out[start:], ref[start:], rtol=0, atol=1e-13)
    _sh_numba._harmonics_points(*args, 0, start)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-13)
    if layout == "column-major":
        assert np.isnan(out.base[:, n:]).all()  # the padding past the points is never written


@pytest.mark.skipif(sh_module._import_numba_backend() is None, reason="numba not installed")
@pytest.mark.parametrize("threads", [2, 3])
def test_numba_ranges_handed_to_threads_cover_every_row_once(threads):
    # 3 001 points of L=40 over 2-3 threads: ranges of whole blocks, taken as threads ask, and a
    # partial last one; every row written once, equal to the single-thread result bit for bit,
    # in both layouts.
    from satclip.encodings import _sh_numba

    rng = np.random.default_rng(threads)
    pts = np.stack([rng.uniform(-180, 180, 3001), rng.uniform(-90, 90, 3001)], 1)
    one = np.full((3001, 1600), np.nan)
    a, ab, diag = _sh_numba._coefficients(40)
    _sh_numba._harmonics_points(
        pts, a, ab, diag, 180.0, -1.0, math.pi, one, np.empty(0), 1600, False, 32, 0, 3001
    )
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        many = np.full((3001, 1600), np.nan)
        _sh_numba.harmonics_into(pts, 40, ANGLE_CONVENTIONS["satclip"], many)
        many_columns = _column_major(3001, 1600)
        _sh_numba.harmonics_into(pts, 40, ANGLE_CONVENTIONS["satclip"], many_columns)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(many, one)
    np.testing.assert_array_equal(many_columns, one)


@pytest.mark.skipif(sh_module._import_numba_backend() is None, reason="numba not installed")
@needs_sphericart
def test_auto_backend_picks_the_faster_of_numba_and_sphericart_then_torch(sphere_points):
    from satclip.encodings._sh_calibration import cpu_inference_backend

    pts = torch.from_numpy(sphere_points)
    # CPU, no gradient: numba or sphericart, whichever was measured faster on this machine.
    fast = spherical_harmonics(pts, 40, backend=cpu_inference_backend(40, pts.dtype))
    assert torch.equal(spherical_harmonics(pts, 40), fast)
    grad = spherical_harmonics(pts.clone().requires_grad_(True), 40)  # gradients: sphericart
    assert grad.requires_grad
    assert torch.equal(grad.detach(), spherical_harmonics(pts, 40, backend="sphericart"))
    with pytest.raises(ValueError, match="require gradients.*backend='auto' or 'torch'"):
        spherical_harmonics(pts.clone().requires_grad_(True), 10, backend="numba")
    with pytest.raises(ValueError, match="float16"):
        spherical_harmonics(pts.half(), 10, backend="numba")
    half = spherical_harmonics(pts.half(), 10)  # auto: sphericart, in float64, then cast
    assert half.dtype == torch.float16 and torch.equal(
        half, spherical_harmonics(pts.half(), 10, backend="torch")
    )
    # Beyond sphericart's exact range, gradients come from the recurrence.
    high = spherical_harmonics(pts.clone().requires_grad_(True), SPHERICART_MAX + 1)
    assert torch.equal(high.detach(), spherical_harmonics(pts, SPHERICART_MAX + 1, backend="torch"))


def test_without_the_fast_extra_auto_falls_back_and_named_backends_are_refused(monkeypatch, sphere_points):
    monkeypatch.setattr(sh_module, "_import_numba_backend", lambda: None)
    monkeypatch.setattr(sphericart_module, "calculator", lambda legendre_polys: None)
    pts = torch.from_numpy(sphere_points)
    assert torch.equal(spherical_harmonics(pts, 10), spherical_harmonics(pts, 10, backend="torch"))
    with pytest.raises(ValueError, match=r"numba is not installed \(pip install 'satclip\[fast\]'\)"):
        spherical_harmonics(pts, 10, backend="numba")
    with pytest.raises(
        ValueError, match=r"sphericart-torch is not installed \(pip install 'satclip\[fast\]'\)"
    ):
        spherical_harmonics(pts, 10, backend="sphericart")


@needs_sphericart
@pytest.mark.parametrize("convention", ["satclip", "orthonormal"])
def test_sphericart_gradients_equal_the_recurrence(convention):
    rng = np.random.default_rng(3)
    pts = np.stack([rng.uniform(-180, 180, 40), np.degrees(np.arcsin(rng.uniform(-1, 1, 40)))], axis=1)
    pts = torch.from_numpy(np.concatenate([pts, [[179.9, 0.0], [-180.0, 45.0], [10.0, 89.5]]]))
    weights = torch.from_numpy(rng.standard_normal((len(pts), 40 * 40)))
    grads = {}
    for backend in ("sphericart", "torch"):
        x = pts.clone().requires_grad_(True)
        (spherical_harmonics(x, 40, convention, backend) * weights).sum().backward()
        grads[backend] = x.grad
    torch.testing.assert_close(grads["sphericart"], grads["torch"], rtol=1e-10, atol=1e-9)
    small = pts[:3].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: spherical_harmonics(p, 6, convention, "sphericart"), (small,))


@needs_sphericart
def test_sphericart_gradients_after_inference_in_the_same_process():
    """Embedding first (inference mode) and then training in one process: the m = 0 scale that
    sphericart's path caches must not be an inference tensor, which autograd cannot save."""
    from satclip.encodings import _sh_sphericart

    _sh_sphericart._column_scale.cache_clear()
    pts = torch.tensor([[10.0, 20.0], [-120.0, -45.0]], dtype=torch.float64)
    with torch.inference_mode():
        spherical_harmonics(pts, 12, "satclip", "sphericart")
    x = pts.clone().requires_grad_(True)
    spherical_harmonics(x, 12, "satclip", "sphericart").sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@needs_sphericart
def test_sphericart_limits_that_the_backend_works_around():
    """Why sphericart runs in float64 up to L=80 only: its own float32 kernels and its float64
    values above ~L=87 are not exact. If a sphericart release fixes them, this test fails: then
    raise _sh_sphericart.MAX_LEGENDRE_POLYS or use its float32 kernels."""
    import sphericart.torch

    rng = np.random.default_rng(0)
    lat = np.radians(np.degrees(np.arcsin(rng.uniform(-1, 1, 2000))))
    lon = np.radians(rng.uniform(-180, 180, 2000))
    xyz = torch.from_numpy(np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1))
    lonlat = torch.from_numpy(np.stack([np.degrees(lon), np.degrees(lat)], 1))

    def error(L: int, dtype: torch.dtype) -> float:
        theirs = sphericart.torch.SphericalHarmonics(l_max=L - 1)(xyz.to(dtype)).double()
        ours = spherical_harmonics(lonlat, L, "orthonormal", "torch")
        return float(torch.nan_to_num((theirs - ours).abs(), nan=np.inf).max())

    assert error(40, torch.float32) > 1e-3
    assert error(100, torch.float64) > 1e-3
    assert error(SPHERICART_MAX, torch.float64) < 1e-11


def test_bad_backend_is_named():
    with pytest.raises(ValueError, match="backend must be one of"):
        spherical_harmonics(torch.zeros(1, 2), 10, backend="cuda")  # type: ignore[arg-type]


def _features_checksum(n: int) -> float:
    # numpy around the call: torch's own OpenMP ops hang in a forked child once the parent has used
    # them (a libgomp limitation, not ours), so the child must only run satclip's code.
    pts = torch.from_numpy(np.stack([np.linspace(-180, 180, n), np.linspace(-90, 90, n)], axis=1))
    return float(spherical_harmonics(pts, 40).numpy().sum())


@pytest.mark.skipif(sh_module._import_numba_backend() is None, reason="numba not installed")
def test_numba_threads_survive_fork_and_concurrent_callers():
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    n = 3000  # 4.8 M features: split over threads
    expected = _features_checksum(n)  # starts the thread pool in this process
    with ThreadPoolExecutor(4) as callers:  # concurrent callers share the pool
        assert list(callers.map(_features_checksum, [n] * 4)) == [expected] * 4
    with multiprocessing.get_context("fork").Pool(1) as child:  # a forked child starts its own
        assert child.apply_async(_features_checksum, (n,)).get(timeout=60) == expected


@pytest.mark.parametrize("layout", ["rows", "column-major"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_writes_into_a_given_output(sphere_points, backend, layout):
    pts = torch.from_numpy(sphere_points).float()
    if layout == "rows":
        buf = torch.full((len(pts), 100), float("nan"))
    else:  # a leading slice of a padded column-major buffer, as embed() passes
        buf = torch.full((100, len(pts) + 9), float("nan")).T[: len(pts)]
    got = spherical_harmonics(pts, 10, backend=backend, out=buf)
    assert got.data_ptr() == buf.data_ptr()
    assert torch.equal(buf, spherical_harmonics(pts, 10, backend=backend))


@pytest.mark.parametrize(
    "out,message",
    [
        (torch.empty(5, 99), r"\(5, 100\) torch.float32"),
        (torch.empty(5, 100, dtype=torch.float64), "got a .* torch.float64"),
        (torch.empty(5, 200)[:, ::2], "scattered"),
        (torch.empty(100, 5).T[:, :1].expand(5, 100), "overlapping"),
    ],
)
def test_bad_output_buffer_is_named(out, message):
    with pytest.raises(ValueError, match=message):
        spherical_harmonics(torch.zeros(5, 2), 10, out=out)


@needs_sphericart
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sphericart_on_cuda_equals_the_cpu_recurrence_values_and_gradients(sphere_points):
    cpu = torch.from_numpy(sphere_points).requires_grad_(True)
    gpu = torch.from_numpy(sphere_points).cuda().requires_grad_(True)
    ref = spherical_harmonics(cpu, 40, backend="torch")
    got = spherical_harmonics(gpu, 40)  # auto: sphericart's CUDA kernels
    torch.testing.assert_close(got.cpu(), ref.detach(), rtol=0, atol=1e-11)
    ref.sum().backward()
    got.sum().backward()
    torch.testing.assert_close(gpu.grad.cpu(), cpu.grad, rtol=1e-9, atol=1e-9)


@pytest.mark.skipif(sh_module._import_numba_backend() is None, reason="numba not installed")
@pytest.mark.parametrize("rows", [1, 1000, 1024])
def test_features_buffer_is_column_major_where_numba_writes_it(rows, monkeypatch):
    # Column-major with each feature's points not a multiple of 4 KiB apart: the layout embed()
    # relies on for speed (BENCHMARKS.md, "The L=40 encoder"), where numba was measured faster.
    from satclip.encodings import _sh_calibration

    monkeypatch.setattr(_sh_calibration, "cpu_inference_backend", lambda *a: "numba")
    enc = create_encoding("sphericalharmonics", legendre_polys=40)
    buf = enc._features_buffer(rows, torch.float32, torch.device("cpu"))
    assert buf.shape == (rows, 1600) and buf.stride(0) == 1
    assert buf.stride(1) >= rows and (buf.stride(1) * 4) % 4096 != 0
    assert enc._features_buffer(rows, torch.float16, torch.device("cpu")).is_contiguous()


@pytest.mark.parametrize("convention", ["satclip", "orthonormal"])
def test_the_numba_kernels_point_angles_are_the_conventions_angles(convention):
    # The numba kernel compiles the scalar form of the convention into its loop; both forms must
    # give the same angles, the poles' exact sin θ = 0 included.
    from satclip.encodings._sh_convention import point_angles

    conv = ANGLE_CONVENTIONS[convention]
    lon = np.array([-180.0, -179.9999, -77.0, 0.0, 33.3, 123.4, 180.0, 45.0, -45.0])
    lat = np.array([90.0, -90.0, 89.9999, -89.9999, 0.0, 45.0, -60.0, 12.5, -33.3])
    want = conv.angles(torch.from_numpy(lon), torch.from_numpy(lat))
    got = np.array(
        [point_angles(x, y, conv.lon_offset, conv.cos_theta_sign) for x, y in zip(lon, lat, strict=True)]
    )
    for i in range(3):
        np.testing.assert_allclose(got[:, i], want[i].numpy(), rtol=1e-15, atol=1e-16)
    assert (got[:2, 1] == 0).all() and (want[1][:2] == 0).all()
