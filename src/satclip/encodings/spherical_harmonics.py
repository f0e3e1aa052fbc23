"""Real spherical harmonics by a normalised three-term recurrence.

The published SatCLIP code evaluates sympy-expanded closed forms of the associated Legendre
polynomials. Those lose accuracy by cancellation at high degree near the poles (float64) and
overflow in float32. Here every degree is computed from the previous two with the fully
normalised recurrence, which stays exact to ~1e-13 in float64 for any degree we care about, and
all orders of one degree are updated at once so the Python loop has only ``L`` steps.

Two optional backends (the ``fast`` extra) compute the same values faster; ``backend="auto"``
picks the fastest one that applies (BENCHMARKS.md, "sphericart"):

- numba (:mod:`satclip.encodings._sh_numba`): the recurrence as one compiled loop over points,
  writing straight into the output. CPU inference only (no gradients).
- sphericart (:mod:`satclip.encodings._sh_sphericart`): CPU and CUDA kernels with autograd,
  up to L=80. Training, GPUs, and CPU inference where numba is missing.
- the torch recurrence here: any device, any degree, differentiable; the reference.

For CPU inference, where both numba and sphericart apply, which is faster depends on the CPU;
"auto" takes the one measured faster on this machine, once per degree and dtype, and cached
(:mod:`satclip.encodings._sh_calibration`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType
from typing import ClassVar, Literal

import torch

from satclip.encodings import _sh_sphericart
from satclip.encodings._base import Encoding
from satclip.encodings._sh_convention import ANGLE_CONVENTIONS, AngleConvention
from satclip.encodings._sh_recurrence import P00, SQRT2, recurrence_coefficients
from satclip.errors import InputError

Convention = Literal["satclip", "orthonormal"]
CONVENTIONS: tuple[str, ...] = tuple(ANGLE_CONVENTIONS)
Backend = Literal["auto", "torch", "sphericart", "numba"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "sphericart", "numba")
MAX_LEGENDRE_POLYS = 1000
# Features per block of points (points x L^2): on CPU, ops large enough for torch's threads with
# temporaries still in cache; on a GPU, where each degree costs a fixed number of kernel
# launches, as large as memory comfortably allows (BENCHMARKS.md, "Block sizes").
_CHUNK_FEATURES_CPU = 1 << 23
_CHUNK_FEATURES_ACCEL = 1 << 28


def _harmonics_block(
    lon: torch.Tensor,
    lat: torch.Tensor,
    coefficients: tuple[torch.Tensor, ...],
    conv: AngleConvention,
    out: torch.Tensor,
) -> None:
    """Write the real harmonics of (n,) float64 lon, lat into ``out`` (n, L²), any float dtype.

    Products are formed in float64 and cast once, as they are copied into ``out``; the copies
    are recorded by autograd, so gradients flow to the coordinates."""
    a, ab, diag = coefficients
    L = len(diag)
    n = lon.shape[0]
    x, s, phi = conv.angles(lon, lat)
    m_phi = phi[:, None] * torch.arange(L, dtype=torch.float64, device=lon.device)
    # √2 folded into the trigonometric factors; column 0 of the cosines carries the m = 0 scale,
    # so one product gives all of m = 0..l.
    cos_m = torch.cos(m_phi) * SQRT2
    cos_m[:, 0] = conv.m0_scale
    sin_m = torch.sin(m_phi) * SQRT2

    x_col, s_col = x[:, None], s[:, None]
    # p_curr holds P̄_l^m for m = 0..l (l + 1 columns), p_prev the l columns of degree l - 1.
    p_prev = torch.empty(n, 0, dtype=torch.float64, device=lon.device)
    p_curr = torch.full((n, 1), P00, dtype=torch.float64, device=lon.device)
    for l in range(L):
        if l > 0:
            rec = a[l, :l] * x_col * p_curr[:, :l]
            rec[:, : l - 1] -= ab[l, : l - 1] * p_prev[:, : l - 1]
            p_prev, p_curr = p_curr, torch.cat([rec, diag[l] * s_col * p_curr[:, l - 1 :]], dim=1)
        centre = l * l + l
        out[:, centre : centre + l + 1] = p_curr * cos_m[:, : l + 1]
        if l > 0:
            # m = -l..-1 uses |m| = l..1: the sine terms in reverse order.
            out[:, l * l : centre] = (p_curr[:, 1:] * sin_m[:, 1 : l + 1]).flip(1)


def spherical_harmonics(
    lonlat: torch.Tensor,
    legendre_polys: int,
    convention: Convention = "satclip",
    backend: Backend = "auto",
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Real spherical harmonics of degrees 0..L-1 at (lon, lat) points.

    Args:
        lonlat: (N, 2) longitude, latitude in degrees (any float dtype, any device).
        legendre_polys: L, the number of degrees; 1 <= L <= 1000.
        convention: ``"satclip"`` (the published angles and the π factor on m = 0, what the
            released weights expect) or ``"orthonormal"`` (colatitude, orthonormal on the sphere).
        backend: ``"torch"`` (tensor ops: any device, any degree, differentiable),
            ``"sphericart"`` (any device, differentiable, L <= 80), ``"numba"`` (CPU, no
            gradients), or ``"auto"``: numba or sphericart where they apply (for CPU inference
            the one measured faster on this machine), else torch (numba and sphericart need
            the ``fast`` extra). Asked for by name, a backend that
            cannot run here is an error that says why.
        out: optional (N, L²) tensor of the result's dtype and device to write into, C-contiguous
            or column-major (batched inference reuses one, see :class:`~satclip.encodings.Encoding`;
            the numba backend writes column-major 2.5x faster at L=40).

    Returns:
        (N, L²) features in ``lonlat``'s dtype, ordered l = 0..L-1, then m = -l..l. Computed in
        float64 and written straight into the output (in blocks of points with torch), so peak
        memory stays near the output's own size.
    """
    if not 1 <= legendre_polys <= MAX_LEGENDRE_POLYS:
        raise InputError(f"legendre_polys must be in [1, {MAX_LEGENDRE_POLYS}], got {legendre_polys}")
    if convention not in CONVENTIONS:
        raise InputError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}, got {backend!r}")
    L2 = legendre_polys * legendre_polys
    n = lonlat.shape[0]
    out_dtype = lonlat.dtype if lonlat.is_floating_point() else torch.get_default_dtype()
    coords = lonlat.to(torch.float64)
    conv = ANGLE_CONVENTIONS[convention]
    per_block = _CHUNK_FEATURES_CPU if lonlat.device.type == "cpu" else _CHUNK_FEATURES_ACCEL
    numba_backend = _numba_backend(lonlat, out_dtype, backend, legendre_polys)
    sphericart = numba_backend is None and _use_sphericart(legendre_polys, backend)
    if out is None and n * L2 <= per_block and sphericart:
        # One block and no buffer: sphericart's own result, cast, with no copy in between.
        return _sh_sphericart.harmonics(coords, legendre_polys, conv, out_dtype)
    if out is None:
        out = torch.empty(n, L2, dtype=out_dtype, device=lonlat.device)
    elif (
        out.shape != (n, L2)
        or out.dtype != out_dtype
        or out.device != lonlat.device
        or not _writable_layout(out)
    ):
        raise InputError(
            f"out must be a C-contiguous or column-major ({n}, {L2}) {out_dtype} tensor on {lonlat.device}, "
            f"got a{'' if _writable_layout(out) else 'n overlapping or scattered'} {tuple(out.shape)} "
            f"{out.dtype} tensor on {out.device}"
        )
    chunk = _block_points(n, L2, per_block)
    if sphericart:
        for i in range(0, n, chunk):
            _sh_sphericart.harmonics(
                coords[i : i + chunk], legendre_polys, conv, out_dtype, out[i : i + chunk]
            )
        return out
    if numba_backend is not None:
        coords_np = coords.detach().contiguous().numpy()
        numba_backend.harmonics_into(coords_np, legendre_polys, conv, out.numpy())
        return out
    coefficients = recurrence_coefficients(legendre_polys, lonlat.device)
    for i in range(0, n, chunk):
        c = coords[i : i + chunk]
        _harmonics_block(c[:, 0], c[:, 1], coefficients, conv, out[i : i + chunk])
    return out


def _writable_layout(out: torch.Tensor) -> bool:
    """C-contiguous, or column-major: ``out.T`` contiguous, or a leading slice of the transpose
    of a contiguous buffer (see :meth:`SphericalHarmonics._features_buffer`)."""
    return out.is_contiguous() or (out.stride(0) == 1 and out.stride(1) >= out.shape[0])


def _use_sphericart(legendre_polys: int, backend: Backend) -> bool:
    """Whether sphericart computes these features: by default wherever it is installed and exact
    (see :mod:`satclip.encodings._sh_sphericart`); asked for by name, or an error saying why not."""
    if backend not in ("auto", "sphericart"):
        return False
    reason = None
    if legendre_polys > _sh_sphericart.MAX_LEGENDRE_POLYS:
        reason = f"it is exact up to legendre_polys={_sh_sphericart.MAX_LEGENDRE_POLYS}, not {legendre_polys}"
    elif _sh_sphericart.calculator(legendre_polys) is None:
        reason = "sphericart-torch is not installed (pip install 'satclip[fast]')"
    if reason is not None and backend == "sphericart":
        raise InputError(f"backend='sphericart' cannot be used: {reason}; use backend='auto' or 'torch'")
    return reason is None


@functools.cache
def _import_numba_backend() -> ModuleType | None:
    try:
        from satclip.encodings import _sh_numba
    except ImportError:  # numba is optional: the `fast` extra
        return None
    return _sh_numba


def _numba_backend(
    lonlat: torch.Tensor, out_dtype: torch.dtype, backend: Backend, legendre_polys: int
) -> ModuleType | None:
    """The numba module when ``backend`` asks for it and it can run here, else ``None`` (torch).

    Numba writes outside autograd and outside torch's tracers, so it is skipped (or, when asked
    for by name, refused) where gradients, tracing or compilation need the torch ops. Under
    ``"auto"`` it is also skipped where sphericart applies and was measured faster here."""
    if backend not in ("auto", "numba"):
        return None
    reason = None
    if lonlat.device.type != "cpu":
        reason = f"the points are on {lonlat.device}, numba runs on the CPU"
    elif out_dtype not in (torch.float32, torch.float64):
        reason = f"the points are {out_dtype}; numba writes float32 or float64"
    elif torch.is_grad_enabled() and lonlat.requires_grad:
        reason = "the points require gradients, which numba does not give"
    elif torch.jit.is_tracing() or torch.compiler.is_compiling():
        reason = "torch is tracing or compiling, which sees only torch ops"
    elif _import_numba_backend() is None:
        reason = "numba is not installed (pip install 'satclip[fast]')"
    if reason is None:
        if backend == "auto" and not _numba_measured_faster(legendre_polys, out_dtype):
            return None
        return _import_numba_backend()
    if backend == "numba":
        raise InputError(f"backend='numba' cannot be used: {reason}; use backend='auto' or 'torch'")
    return None


def _numba_measured_faster(legendre_polys: int, dtype: torch.dtype) -> bool:
    """Whether numba is the one to use for CPU inference under ``"auto"``, numba being available:
    yes where sphericart does not apply, else as measured on this machine."""
    if (
        legendre_polys > _sh_sphericart.MAX_LEGENDRE_POLYS
        or _sh_sphericart.calculator(legendre_polys) is None
    ):
        return True
    from satclip.encodings._sh_calibration import cpu_inference_backend

    return cpu_inference_backend(legendre_polys, dtype) == "numba"


def _block_points(n: int, features: int, per_block: int) -> int:
    """Points per block: at most ``per_block // features`` (at least 1), in blocks of equal
    size up to rounding, so that no call ends on a sliver of a block that costs a whole block's
    per-degree overhead."""
    if n == 0:
        return 1
    blocks = -(-n // max(1, per_block // features))
    return -(-n // blocks)


@dataclass(frozen=True)
class SphericalHarmonicsConfig:
    """Spherical-harmonic positional encoding: L² features (100 at L=10, 1600 at L=40)."""

    legendre_polys: int = 10
    convention: Convention = "satclip"

    name: ClassVar[str] = "sphericalharmonics"

    def __post_init__(self) -> None:
        if not isinstance(self.legendre_polys, int) or not 1 <= self.legendre_polys <= MAX_LEGENDRE_POLYS:
            raise InputError(
                f"legendre_polys must be an integer in [1, {MAX_LEGENDRE_POLYS}], got {self.legendre_polys!r}"
            )
        if self.convention not in CONVENTIONS:
            raise InputError(f"convention must be one of {CONVENTIONS}, got {self.convention!r}")

    @property
    def dim(self) -> int:
        return self.legendre_polys**2


class SphericalHarmonics(Encoding):
    """``nn.Module`` wrapper of :func:`spherical_harmonics`; no parameters."""

    config: SphericalHarmonicsConfig

    def encode(self, lonlat: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        return spherical_harmonics(lonlat, self.config.legendre_polys, self.config.convention, out=out)

    def _features_buffer(self, rows: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        # Column-major where the numba kernel writes it (see numba_buffer).
        if (
            device.type == "cpu"
            and dtype in (torch.float32, torch.float64)
            and _import_numba_backend() is not None
            and _numba_measured_faster(self.config.legendre_polys, dtype)
        ):
            return numba_buffer(rows, self.dim, dtype, device)
        return super()._features_buffer(rows, dtype, device)


def numba_buffer(rows: int, features: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An empty (rows, features) buffer in the layout the numba kernel writes fastest: column-major,
    2.5x faster than rows at L=40, and read by a first linear layer as fast as rows
    (BENCHMARKS.md) once each feature's points are not a multiple of 4 KiB apart (which cost that
    matmul ~10 %); hence 64 extra columns past a multiple of 64."""
    padded = -(-rows // 64) * 64 + 64
    return torch.empty(features, padded, dtype=dtype, device=device).T[:rows]
