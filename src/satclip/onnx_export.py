"""ONNX export of a :class:`~satclip.encoder.LocationEncoder` (run it with
:class:`satclip.onnx_runtime.OnnxEncoder`).

    >>> from satclip.onnx_export import export_onnx
    >>> from satclip.onnx_runtime import OnnxEncoder
    >>> path = export_onnx(satclip.load("satclip-bluemarble-viirs-l40-v4"), "l40.onnx")
    >>> OnnxEncoder(path).embed(lon=[2.35], lat=[48.86]).shape
    (1, 256)

The graph maps ``lonlat`` (N, 2) degrees to ``embedding`` float32 (N, dim); a seasonal model's
graph takes a second input, ``time`` (N,): year fractions in [0, 1), NaN for the annual
embedding (what :func:`satclip._time.year_fractions` makes of months and dates). ``lonlat`` is float32
by default, what most tools hand over (``input_dtype="float64"`` keeps a float64 encoder's
coordinates unrounded; float32 coordinates are within ~1 m). The encoder's config travels in the
model's ``metadata_props``, so one file rebuilds the :class:`OnnxEncoder`.

The spherical harmonics are not exported from their library code, which writes slices of its
output in place (or runs numba). :class:`_ExportSphericalHarmonics` forms the same float64
products (the same values, so float32 features agree to rounding) from traceable ops, with points
along the last axis: onnxruntime broadcasts a per-row coefficient over a contiguous row quickly,
and the final reordering is a gather of whole rows. Other encodings export from their own code.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from satclip import _onnx_precision, _precision
from satclip._compat import renamed
from satclip._coords import wrap_longitude
from satclip._files import atomic_path
from satclip.embedder import Embedder
from satclip.encoder import LocationEncoder
from satclip.encodings import Encoding
from satclip.encodings._sh_convention import ANGLE_CONVENTIONS
from satclip.encodings._sh_recurrence import P00, SQRT2, recurrence_coefficients
from satclip.encodings.spherical_harmonics import SphericalHarmonics
from satclip.encodings.time import place_time_features, time_features
from satclip.errors import InputError
from satclip.onnx_runtime import FORMAT_NAME, FORMAT_VERSION, INPUT_NAME, OUTPUT_NAME, TIME_NAME
from satclip.pretrained import ModelSpec, resolve_torch

INPUT_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}


class _ExportSphericalHarmonics(nn.Module):
    """:func:`~satclip.encodings.spherical_harmonics`, traceable: (N, 2) → (N, L²), float64 inside.

    Degree by degree, ``p`` holds P̄_l^m for all m in L rows (zero where m > l), so every step is
    whole-tensor arithmetic; each degree's cosine and sine products are cast at once, and one row
    gather puts them in the l, m = -l..l order. Constants are float64 buffers: the dynamo exporter
    stores Python float scalars as float32 values, which would cost float64 graphs precision.
    """

    a: torch.Tensor
    ab: torch.Tensor
    diag: torch.Tensor
    m: torch.Tensor
    cos_scale: torch.Tensor
    sin_scale: torch.Tensor
    p0: torch.Tensor
    order: torch.Tensor

    def __init__(self, legendre_polys: int, convention: str, out_dtype: torch.dtype) -> None:
        super().__init__()
        L, self.convention = legendre_polys, ANGLE_CONVENTIONS[convention]
        self.L, self.out_dtype = L, out_dtype
        a, ab, diag = recurrence_coefficients(L, torch.device("cpu"))

        def f64(value: float) -> torch.Tensor:
            return torch.tensor(value, dtype=torch.float64)

        self.register_buffer("a", a[:, :, None])  # (L, L, 1): degree l's row is (L, 1)
        self.register_buffer("ab", ab[:, :, None])
        self.register_buffer("diag", torch.diag(diag)[:, :, None])  # P̄_l^l's factor, in row l only
        self.register_buffer("m", torch.arange(L, dtype=torch.float64)[:, None])
        cos_scale = torch.full((L, 1), SQRT2, dtype=torch.float64)
        cos_scale[0] = self.convention.m0_scale
        self.register_buffer("cos_scale", cos_scale)
        self.register_buffer("sin_scale", f64(SQRT2))
        p0 = torch.zeros(L, 1, dtype=torch.float64)
        p0[0] = P00
        self.register_buffer("p0", p0)
        # Degree l contributes 2L rows from 2Ll on: cosines of m = 0..L-1, then sines. Its output
        # columns are m = -l..-1 (the sines of |m| = l..1), then m = 0..l (the cosines).
        order: list[int] = []
        for l in range(L):
            base = 2 * L * l
            order += [base + L + k for k in range(l, 0, -1)] + [base + k for k in range(l + 1)]
        self.register_buffer("order", torch.tensor(order))

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        coords = lonlat.to(torch.float64).T  # (2, N)
        x, s, phi = self.convention.angles(coords[0:1], coords[1:2])
        m_phi = phi * self.m  # (L, N)
        cos_m = torch.cos(m_phi) * self.cos_scale
        sin_m = torch.sin(m_phi) * self.sin_scale
        p = self.p0 * torch.ones_like(x)
        p_prev = torch.zeros_like(p)
        blocks = []
        for l in range(self.L):
            if l > 0:
                # The module's recurrence; the padding rows (m > l) stay exactly zero.
                p, p_prev = self.a[l] * x * p - self.ab[l] * p_prev + self.diag[l] * s * p[l - 1 : l], p
            blocks += [(p * cos_m).to(self.out_dtype), (p * sin_m).to(self.out_dtype)]
        return torch.index_select(torch.cat(blocks), 0, self.order).T


class _Encode(nn.Module):
    """An encoding's ``encode`` (``forward`` validates with data-dependent checks, untraceable),
    on coordinates cast to the network's dtype."""

    def __init__(self, encoding: Encoding, dtype: torch.dtype) -> None:
        super().__init__()
        self.encoding, self.dtype = encoding, dtype

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        return self.encoding.encode(lonlat.to(self.dtype))


class _ExportGraph(nn.Module):
    """What the ONNX graph computes: wrap longitudes, features, network, float32 out."""

    def __init__(self, encoder: LocationEncoder) -> None:
        super().__init__()
        self.dtype = encoder.dtype
        enc = encoder.encoding
        if isinstance(enc, SphericalHarmonics):
            cfg = enc.config
            self.features: nn.Module = _ExportSphericalHarmonics(
                cfg.legendre_polys, cfg.convention, encoder.dtype
            )
        else:
            self.features = _Encode(copy.deepcopy(enc).cpu(), encoder.dtype)
        self.network = copy.deepcopy(encoder.network).cpu()

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        return self.network(self._features(lonlat)).to(torch.float32)

    def _features(self, lonlat: torch.Tensor) -> torch.Tensor:
        # OnnxEncoder wraps in float64 first (in range, this is the identity); kept in the graph so
        # the file alone also maps 190 to -170 for other runtimes.
        return self.features(torch.stack([wrap_longitude(lonlat[:, 0]), lonlat[:, 1]], dim=1))


class _ExportSeasonalGraph(_ExportGraph):
    """A seasonal model's graph: the time features after the harmonics (see
    :class:`~satclip.embedder.LocationEncoderConfig`), zero where ``time`` is NaN."""

    def __init__(self, encoder: LocationEncoder) -> None:
        super().__init__(encoder)
        assert encoder.config.time is not None
        self.harmonics, self.n_place = encoder.config.time.harmonics, encoder.config.time.n_place

    def forward(self, lonlat: torch.Tensor, time: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        tf = time_features(time.to(torch.float64), self.harmonics).to(self.dtype)
        feats = self._features(lonlat)
        parts = [feats, tf]
        if self.n_place:
            parts.append(place_time_features(tf, feats, self.n_place))
        return self.network(torch.cat(parts, dim=1)).to(torch.float32)


def _run_graph(model: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """A ModelProto run by onnxruntime on ``inputs``, in batches: (N, dim) float32."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    n = len(inputs[INPUT_NAME])
    return np.concatenate(
        [session.run(None, {k: v[i : i + 4096] for k, v in inputs.items()})[0] for i in range(0, n, 4096)]
    )


def _lower_precision(model: Any, precision: str, input_dtype: str, seasonal: bool) -> tuple[Any, dict]:
    """``model`` with the layers that keep the embedding in ``precision`` (:mod:`satclip._onnx_precision`),
    and what was chosen and measured, for the file's metadata."""
    lonlat = _precision.check_inputs()
    inputs = {INPUT_NAME: lonlat.astype(input_dtype)}
    if seasonal:  # the annual embedding and four seasons, as the torch check
        times = np.resize(np.array([np.nan, 0.04, 0.29, 0.54, 0.79]), len(lonlat) // 2)
        inputs[TIME_NAME] = np.concatenate([times, times]).astype(input_dtype)
    layers, checks = _onnx_precision.choose_layers(model, precision, lambda m: _run_graph(m, inputs), inputs)
    if not layers:
        raise _precision.refusal(precision, checks, "export with precision='float32'")
    calibration = {k: v[: _onnx_precision._CALIBRATION_POINTS] for k, v in inputs.items()}
    lowered = _onnx_precision.lowered(model, precision, layers, calibration)
    final = _precision.check(_run_graph(lowered, inputs), _run_graph(model, inputs))
    return lowered, {
        "precision": precision,
        "layers": layers,
        "worst_cosine": round(final.worst_cosine, 6),
        "local_error": round(final.local_error, 6),
    }


@renamed(encoder="model", path="out")
def export_onnx(
    model: Embedder | ModelSpec,
    out: str | os.PathLike[str],
    opset: int | None = None,
    input_dtype: str = "float32",
    precision: str = "float32",
) -> Path:
    """Write ``model`` (a torch model, or what :func:`satclip.load` takes) as an ONNX model: ``lonlat`` (N, 2) degrees → ``embedding`` float32 (N, dim).

    ``lonlat`` has ``input_dtype``: float32 (the default, what most tools produce) or float64
    (a float64 encoder's coordinates unrounded). Inside, the features are float64 and the
    network runs in the encoder's dtype (float32 or float64). The config JSON and a format marker go
    into ``metadata_props``; the file is checked with ``onnx.checker`` under a temporary name and
    only then renamed to ``out``, so a failed export never leaves a file with the final name.
    ``opset`` defaults to torch's exporter default. Raises ``ValueError`` naming the encoding and
    network when torch cannot export them.

    ``precision``: ``"float32"`` (the network in the encoder's dtype), ``"fp16"`` or ``"int8"``:
    the network's matrix products in that type, each layer only where the embedding passes
    the check of :mod:`satclip._precision` (whole vectors, and differences between places 10 km
    apart; :mod:`satclip._onnx_precision`); what was chosen and measured goes into the
    ``satclip_precision`` metadata. A model none of whose layers passes is refused with the
    numbers (every shipped model, in fp16 and in int8: BENCHMARKS.md, "Lower precision").
    """
    import onnx

    encoder = resolve_torch(model, "ONNX export")
    precision = _onnx_precision.check_onnx_precision(precision)
    if precision != "float32" and encoder.dtype != torch.float32:
        raise InputError(f"precision={precision!r} lowers a float32 network; this one is {encoder.dtype}")
    if input_dtype not in INPUT_DTYPES:
        raise InputError(f"input_dtype must be one of {list(INPUT_DTYPES)}, got {input_dtype!r}")
    if encoder.dtype not in (torch.float32, torch.float64):
        raise InputError(
            f"ONNX export takes float32 or float64 encoders, this one is {encoder.dtype}; "
            "export a float32 copy: export_onnx(copy.deepcopy(model).float(), out)"
        )
    path = Path(out)
    seasonal = encoder.config.time is not None
    graph = (_ExportSeasonalGraph if seasonal else _ExportGraph)(encoder).eval()
    # 8 rows: torch.export specialises sizes 0 and 1.
    example: tuple[torch.Tensor, ...] = (torch.zeros(8, 2, dtype=INPUT_DTYPES[input_dtype]),)
    rows = torch.export.Dim("n")
    shapes: tuple[dict[int, Any], ...] = ({0: rows},)
    if seasonal:
        example += (torch.full((8,), 0.5, dtype=INPUT_DTYPES[input_dtype]),)
        shapes += ({0: rows},)
    try:
        program = torch.onnx.export(
            graph,
            example,
            input_names=[INPUT_NAME, TIME_NAME] if seasonal else [INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=shapes,
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    except Exception as e:
        raise InputError(
            f"cannot export encoding {encoder.config.encoding.name!r} with network "
            f"{encoder.config.network.name!r} to ONNX: {type(e).__name__}: {str(e).strip()[:2000]}"
        ) from e
    if program is None:  # torch.onnx.export(dynamo=True) always returns an ONNXProgram
        raise RuntimeError("torch.onnx.export returned no ONNXProgram; this torch version is not supported")
    proto = program.model_proto
    props = {}
    if precision != "float32":
        proto, chosen = _lower_precision(proto, precision, input_dtype, seasonal)
        props["satclip_precision"] = json.dumps(chosen)
    proto.doc_string = "satclip location encoder: lonlat (N, 2) degrees -> embedding (N, dim)" + (
        "; time (N,) year fractions in [0, 1), NaN = annual" if seasonal else ""
    )
    onnx.helper.set_model_props(
        proto,
        {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "satclip_config": json.dumps(encoder.config.to_dict()),
            **props,
        },
    )
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
        onnx.checker.check_model(str(tmp), full_check=True)
    return path
