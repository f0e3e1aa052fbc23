"""Running a location encoder exported by :func:`satclip.onnx_export.export_onnx` with onnxruntime.

    >>> from satclip.onnx_runtime import OnnxEncoder
    >>> OnnxEncoder("l40.onnx").embed(lon=[2.35], lat=[48.86]).shape
    (1, 256)

:class:`OnnxEncoder` is an :class:`~satclip.embedder.Embedder` like the torch encoder: same input
checks, longitude wrapping and errors. It needs onnxruntime (the ``onnx`` extra), not torch's
exporter. The file format (input and output names, metadata keys) is defined here, where it is
read; the exporter writes it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from satclip._optional import require
from satclip.embedder import BatchEmbedder, LocationEncoderConfig
from satclip.errors import ModelFileError, ModelNotFoundError

FORMAT_NAME = "satclip-onnx-location-encoder"
FORMAT_VERSION = "1"
INPUT_NAME, OUTPUT_NAME = "lonlat", "embedding"
TIME_NAME = "time"  # a seasonal model's second input: (N,) year fractions, NaN = annual
# Rows per onnxruntime call when ``batch_size`` is None: the fastest on CPU at L=40
# (BENCHMARKS.md, "Embedding files at scale"). A call holds ~16 bytes per feature value per row in
# flight, so wide encodings get fewer rows: at most 2^22 feature values a call (~60 MB).
DEFAULT_BATCH_SIZE = 2048
_MAX_FEATURES_PER_CALL = 1 << 22
_NP_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


def _default_threads() -> int:
    # The CPUs this process may run on (taskset, cpusets), not the machine's count.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class OnnxEncoder(BatchEmbedder):
    """A location encoder run by onnxruntime from a file written by :func:`export_onnx`.

    ``embed`` and ``embed_array`` validate and wrap coordinates exactly as
    :class:`~satclip.encoder.LocationEncoder` does (same errors) and return float32 arrays.
    ``providers`` defaults to the CPU; ``intra_op_threads`` to the CPUs this process may use.
    ``training_index`` is the (K, 2) lon/lat the model was pretrained on, for out-of-distribution
    flags (the ONNX file does not carry it; pass the source model's ``training_index``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        providers: list[Any] | None = None,
        intra_op_threads: int | None = None,
        training_index: np.ndarray | None = None,
    ) -> None:
        ort = require("onnxruntime", "onnx", "OnnxEncoder")
        self.path = Path(path)
        self.training_index = training_index
        if not self.path.exists():
            raise ModelNotFoundError(f"{self.path}: no such model file")
        if not self.path.is_file():
            raise ModelFileError(self.path, "not a file")
        self.spec = str(self.path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads or _default_threads()
        options.inter_op_num_threads = 1  # the graph is one chain; nothing to run side by side
        try:
            self._session = ort.InferenceSession(
                str(self.path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime's errors derive from Exception only
            raise ModelFileError(self.path, f"not a readable ONNX model: {e}") from e
        meta = self._session.get_modelmeta().custom_metadata_map
        if meta.get("format") != FORMAT_NAME or "satclip_config" not in meta:
            raise ModelFileError(
                self.path, "an ONNX model, but not a satclip location encoder (no satclip metadata)"
            )
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(
                self.path,
                f"format version {meta.get('format_version')!r}; this satclip reads {FORMAT_VERSION!r}",
            )
        try:
            self.config = LocationEncoderConfig.from_dict(json.loads(meta["satclip_config"]))
        except (ValueError, json.JSONDecodeError) as e:
            raise ModelFileError(self.path, f"bad config: {e}") from e
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        names = [INPUT_NAME, TIME_NAME] if self.config.time is not None else [INPUT_NAME]
        if [i.name for i in inputs] != names or [o.name for o in outputs] != [OUTPUT_NAME]:
            raise ModelFileError(self.path, f"expected the input(s) {names} and one output {OUTPUT_NAME!r}")
        if inputs[0].type not in _NP_DTYPES:
            raise ModelFileError(self.path, f"input {INPUT_NAME!r} has unsupported type {inputs[0].type}")
        self._input_dtype = _NP_DTYPES[inputs[0].type]

    @property
    def dim(self) -> int:
        return int(self.config.network.dim_out)

    @property
    def output_dtype(self) -> np.dtype:
        """The graphs write float32 embeddings, whatever the encoder's dtype."""
        return np.dtype(np.float32)

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def __repr__(self) -> str:
        return f"OnnxEncoder({str(self.path)!r}, providers={self.providers})"

    @property
    def default_batch_size(self) -> int:
        """Rows per call when ``batch_size`` is None (see ``DEFAULT_BATCH_SIZE``)."""
        return max(1, min(DEFAULT_BATCH_SIZE, _MAX_FEATURES_PER_CALL // self.config.encoding.dim))

    def fingerprint(self) -> str:
        """sha256 of the config and of the model file itself."""
        h = hashlib.sha256(json.dumps(self.config.to_dict(), sort_keys=True).encode())
        with open(self.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    def _embed_batch(self, rows: np.ndarray) -> np.ndarray:
        # Rounded to the graph's input type only now, after wrapping in float64.
        feed = {INPUT_NAME: rows[:, :2].astype(self._input_dtype)}
        if self.config.time is not None:  # no time given: NaN, the annual embedding
            time = rows[:, 2] if rows.shape[1] == 3 else np.full(len(rows), np.nan)
            feed[TIME_NAME] = time.astype(self._input_dtype)
        return self._session.run([OUTPUT_NAME], feed)[0]
