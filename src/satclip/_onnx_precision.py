"""Lower-precision ONNX graphs: the network's matrix products (``Gemm`` nodes) in float16 or
int8, each layer lowered only where the embedding stays within cosine
:data:`satclip._precision.CHECK_COSINE` of float32 (the rule of the torch bf16 path,
:mod:`satclip._precision`).

- ``fp16``: onnxruntime's own float16 converter, every op but the chosen ``Gemm`` nodes blocked,
  so the harmonics, the sines and the casts around them stay as exported.
- ``int8``: onnxruntime's static quantization (operator format, per-channel int8 weights, uint8
  activations calibrated by min/max on area-uniform points). An activation has one scale per
  tensor, so 8 bits must span the largest harmonic at any point: on the shipped L=40 models no
  layer keeps the cosine bar (worst 0.97-0.98 for the first layer; BENCHMARKS.md, "Lower
  precision"), and the export refuses with the numbers rather than write a file that does not
  keep the embedding.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from satclip import _precision
from satclip.errors import InputError

ONNX_PRECISIONS = ("float32", "fp16", "int8")
# Points the int8 activations are calibrated on (the check uses all of CHECK_POINTS).
_CALIBRATION_POINTS = 8192


def gemm_names(model: Any) -> list[str]:
    """The names of the graph's ``Gemm`` nodes, in graph order: the network's layers, first to last."""
    return [n.name for n in model.graph.node if n.op_type == "Gemm"]


def lowered(model: Any, precision: str, layers: Sequence[int], inputs: dict[str, np.ndarray]) -> Any:
    """``model`` (a ModelProto) with the products of ``layers`` in ``precision`` (fp16 or int8);
    ``inputs``: feeds to calibrate int8 activations on. Checks that exactly those products
    were lowered: a converter that silently skips a node would pass every accuracy check."""
    out = _lowered(model, precision, layers, inputs)
    if lowered_gemms(out, precision) != len(layers):
        raise RuntimeError(
            f"onnxruntime lowered {lowered_gemms(out, precision)} products to {precision}, not "
            f"{len(layers)}: this onnxruntime version is not supported for precision={precision!r}"
        )
    return out


def lowered_gemms(model: Any, precision: str) -> int:
    """How many of the graph's products run in ``precision``: int8 ``QGemm`` nodes, or ``Gemm``
    nodes with a float16 weight."""
    if precision == "int8":
        return sum(n.op_type == "QGemm" for n in model.graph.node)
    half = {t.name for t in model.graph.initializer if t.data_type == 10}  # TensorProto.FLOAT16
    return sum(n.op_type == "Gemm" and n.input[1] in half for n in model.graph.node)


def _lowered(model: Any, precision: str, layers: Sequence[int], inputs: dict[str, np.ndarray]) -> Any:
    names = gemm_names(model)
    chosen = [names[i] for i in layers]
    if precision == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16
        from onnxruntime.transformers.onnx_model import OnnxModel

        others = sorted({n.op_type for n in model.graph.node} - {"Gemm"})
        half = OnnxModel(
            convert_float_to_float16(
                model,
                keep_io_types=True,
                op_block_list=others,
                node_block_list=[n for n in names if n not in chosen],
            )
        )
        # The converter appends the casts of the graph inputs after their readers, and leaves
        # the exporter's float32 types on tensors it made float16: sorted, types inferred anew.
        half.topological_sort()
        del half.model.graph.value_info[:]
        return half.model
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds: Iterator[dict[str, np.ndarray]] = iter(_batches(inputs, 1024))

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    import onnx

    with tempfile.TemporaryDirectory(prefix="satclip-int8-") as d:
        src, pre, dst = Path(d) / "in.onnx", Path(d) / "pre.onnx", Path(d) / "out.onnx"
        onnx.save(model, str(src))
        # onnxruntime's recommended step before quantizing, without its graph optimisation,
        # which renames the Gemm nodes it fuses (nodes_to_quantize would then match nothing).
        quant_pre_process(str(src), str(pre), skip_optimization=True)
        quantize_static(
            str(pre),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            nodes_to_quantize=chosen,
        )
        return onnx.load(str(dst))


def _batches(inputs: dict[str, np.ndarray], rows: int) -> list[dict[str, np.ndarray]]:
    n = len(next(iter(inputs.values())))
    return [{k: v[i : i + rows] for k, v in inputs.items()} for i in range(0, n, rows)]


def choose_layers(
    model: Any, precision: str, embed: Callable[[Any], np.ndarray], inputs: dict[str, np.ndarray]
) -> tuple[list[int], list[_precision.Check]]:
    """Layers, first to last, whose products may run in ``precision``: each joins if ``embed``
    (a ModelProto → the embeddings of ``inputs``, :func:`satclip._precision.check_inputs`) then
    passes the check against the float32 graph. Also returns each layer's check when tried."""
    reference = embed(model)
    calibration = {k: v[:_CALIBRATION_POINTS] for k, v in inputs.items()}
    chosen: list[int] = []
    checks: list[_precision.Check] = []
    for i in range(len(gemm_names(model))):
        candidate = lowered(model, precision, [*chosen, i], calibration)
        checks.append(_precision.check(embed(candidate), reference))
        if checks[-1].passed:
            chosen.append(i)
    return chosen, checks


def check_onnx_precision(precision: Any) -> str:
    if precision not in ONNX_PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(ONNX_PRECISIONS)}; got {precision!r}")
    return str(precision)
