"""``LocationEncoder``: a positional encoding followed by a network (its rebuildable config,
:class:`~satclip.embedder.LocationEncoderConfig`, is part of the shared interface)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from satclip import _grid, _precision
from satclip._coords import check_lonlat_tensor
from satclip.embedder import DTYPES, BatchEmbedder, BatchFn, LocationEncoderConfig
from satclip.encodings import Encoding, encoding_from_config
from satclip.encodings.time import TimeConfig, place_time_features, time_features
from satclip.errors import InputError
from satclip.networks import Siren, SirenLayer, network_from_config

_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
# Points per batch in embed(): small batches whose activations stay under glibc's trim
# threshold, with one features buffer reused by every batch, so that memory is not handed back
# to the OS and faulted in again batch after batch (BENCHMARKS.md, "The L=40 encoder").
EMBED_BATCH = 1024
# Guards the count of embed() calls in flight and the mode switch (see _batches).
_MODE_LOCK = threading.Lock()


def _features_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the encoding computes in for a network of ``dtype``: float32 for half precision."""
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


class LocationEncoder(BatchEmbedder, nn.Module):
    """(lon, lat) degrees → embedding.

    ``enc(lonlat)`` takes an (N, 2) tensor; ``enc.embed(lon, lat)`` takes scalars, lists or
    arrays and returns a numpy array, in batches, in eval mode and without autograd (see
    :class:`~satclip.embedder.Embedder`, the interface it shares with the ONNX backend).
    ``embed`` is safe to call from several threads at once.

    The encoder's dtype and device are those of its network's parameters, so every ``nn.Module``
    conversion works as it does elsewhere in torch: ``.float()``, ``.double()``, ``.half()``,
    ``.bfloat16()``, ``.to(dtype)``, ``.to(device)``, ``.cuda()``. ``config`` follows, so a model
    saved after a conversion is saved as what it now is. Half-precision networks take their
    features from float32 harmonics (float16 cannot hold a coordinate to better than ~0.1°).

    :meth:`set_precision` (or ``satclip.load(..., precision=)``) runs a float32 SIREN's products
    on bfloat16 operands where that keeps the embedding (:mod:`satclip._precision`).
    """

    def __init__(
        self, encoding: Encoding, network: nn.Module, dtype: str = "float32", time: TimeConfig | None = None
    ) -> None:
        super().__init__()
        self._config = LocationEncoderConfig(encoding.config, network.config, dtype, time)
        self.encoding = encoding
        self.network = network.to(DTYPES[dtype])
        # (K, 2) lon/lat degrees the model was pretrained on, when known (see satclip.ood).
        self.training_index: np.ndarray | None = None
        # embed() calls in flight, and the mode to return to after them (see _inference).
        self._embed_calls = 0
        self._mode_before_embed = False
        self._switched_mode = False

    @classmethod
    def from_config(cls, config: LocationEncoderConfig) -> LocationEncoder:
        return cls(
            encoding_from_config(config.encoding),
            network_from_config(config.network),
            config.dtype,
            config.time,
        )

    @property
    def config(self) -> LocationEncoderConfig:
        """The config that rebuilds this encoder as it is now (its dtype included)."""
        name = _DTYPE_NAMES.get(self.dtype, self._config.dtype)
        return self._config if name == self._config.dtype else dataclasses.replace(self._config, dtype=name)

    @property
    def dim(self) -> int:
        return int(self._config.network.dim_out)

    @property
    def dtype(self) -> torch.dtype:
        """The network's floating-point dtype (the config's for a network without parameters)."""
        for p in self.network.parameters():
            if p.is_floating_point():
                return p.dtype
        return DTYPES[self._config.dtype]

    @property
    def device(self) -> torch.device:
        for p in self.network.parameters():
            return p.device
        for b in self.encoding.buffers():
            return b.device
        return torch.device("cpu")

    @property
    def feature_dtype(self) -> torch.dtype:
        """The dtype the encoding computes in: the network's, or float32 for half precision."""
        return _features_dtype(self.dtype)

    @property
    def output_dtype(self) -> np.dtype:
        """The numpy dtype of :meth:`embed`'s result (float32 for bfloat16, which numpy lacks)."""
        return np.dtype({torch.float64: np.float64, torch.float16: np.float16}.get(self.dtype, np.float32))

    @property
    def default_batch_size(self) -> int:
        return EMBED_BATCH

    def fingerprint(self) -> str:
        """sha256 of the config, tensors and training index: what the encoder computes with.

        Not of a saved file: safetensors writes the header metadata in varying order, so saving
        the same encoder twice can give different bytes.
        """
        h = hashlib.sha256(json.dumps(self.config.to_dict(), sort_keys=True).encode())
        for name, tensor in sorted(self.state_dict().items()):
            t = tensor.detach().cpu().contiguous()
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}:".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        # Saved beside the weights but outside the state dict (the pretraining locations).
        if self.training_index is not None:
            h.update(
                b"training_index:" + np.ascontiguousarray(self.training_index, dtype=np.float32).tobytes()
            )
        # A run-time choice, not in the config, but it changes the values computed.
        if self.bf16_layers:
            h.update(f"bf16_layers:{self.bf16_layers}".encode())
        return h.hexdigest()

    @property
    def precision(self) -> str:
        """``"bf16"`` when some products run on bfloat16 operands (:attr:`bf16_layers`), else
        ``"float32"`` (the network's own dtype, whatever it is)."""
        return "bf16" if self.bf16_layers else "float32"

    @property
    def bf16_layers(self) -> tuple[int, ...]:
        """Indices of the SIREN layers (the last one included) whose products run on bfloat16
        operands in inference; empty for full precision."""
        return tuple(i for i, layer in enumerate(self._siren_layers()) if layer.matmul_dtype is not None)

    def set_precision(self, precision: str = "auto") -> LocationEncoder:
        """Choose the inference precision, in place; returns the encoder.

        ``"float32"``: every product in the network's dtype (bit-identical to never calling
        this). ``"bf16"``: each SIREN layer, first to last, runs its product on bfloat16 operands
        (bias, sine and accumulation in float32) if the embedding still passes the check of
        :mod:`satclip._precision` (whole vectors and differences between places 10 km apart);
        which ones passed is :attr:`bf16_layers`, and a model where none does is refused with
        the numbers. ``"auto"``: ``"bf16"`` where the device multiplies bfloat16 in hardware
        (AVX512-BF16 / AMX CPUs, CUDA GPUs with bf16) and a layer passes, else ``"float32"``.
        Training (autograd on) always runs in full precision.
        """
        precision = _precision.check_precision(precision)
        self._use_bf16(())
        if precision == "float32":
            return self
        if not self._siren_layers() or self.dtype != torch.float32:
            if precision == "auto":
                return self
            raise InputError(
                "precision='bf16' is for float32 SIREN networks (the published architecture); this "
                f"model is a {type(self.network).__name__} in {_DTYPE_NAMES.get(self.dtype, self.dtype)}: "
                "use precision='float32' or 'auto'"
            )
        if precision == "auto" and not _precision.has_bf16_units(self.device):
            return self
        inputs = _precision.check_inputs()
        times = None
        if self._config.time is not None:  # the annual embedding and four seasons
            times = np.resize(np.array([np.nan, 0.04, 0.29, 0.54, 0.79]), len(inputs) // 2)
            times = np.concatenate([times, times])  # a partner shares its point's time
        reference = self._embed_rows(inputs, None, times)
        chosen: list[int] = []
        checks = []
        for i in range(len(self._siren_layers())):
            self._use_bf16((*chosen, i))
            checks.append(_precision.check(self._embed_rows(inputs, None, times), reference))
            if checks[-1].passed:
                chosen.append(i)
        self._use_bf16(tuple(chosen))
        if not chosen and precision == "bf16":
            raise _precision.refusal("bf16", checks, "use precision='float32' (or 'auto')")
        return self

    def _siren_layers(self) -> list[SirenLayer]:
        net = self.network
        return [*net.layers, net.last_layer] if isinstance(net, Siren) else []

    def _use_bf16(self, layers: tuple[int, ...]) -> None:
        for i, layer in enumerate(self._siren_layers()):
            layer.matmul_dtype = torch.bfloat16 if i in layers else None

    def forward(
        self,
        lonlat: torch.Tensor,
        feature_scale: torch.Tensor | None = None,
        time: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(N, 2) lon/lat degrees → (N, dim) in the encoder's dtype, on its device.

        ``feature_scale`` (encoding dim,) multiplies the features before the network: the
        degree-dependent scale some training presets use (folded into the first layer's weights
        when the model is exported, so a saved model never needs it).

        ``time`` (N,): a seasonal model's year fractions in [0, 1) (NaN: no time, the annual
        embedding; see :mod:`satclip.encodings.time`); None gives every point the annual one.
        """
        return self._forward_checked(check_lonlat_tensor(lonlat), feature_scale=feature_scale, time=time)

    def _forward_checked(
        self,
        lonlat: torch.Tensor,
        features: torch.Tensor | None = None,
        feature_scale: torch.Tensor | None = None,
        time: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # Features are computed in the network's precision (coordinates cast first), into
        # ``features`` (N, encoding dim) when given.
        # The dtype and device are looked up once: each lookup walks the module's parameters,
        # which is a fair share of a one-point embed call.
        dtype = self.dtype
        if features is None:
            coords = lonlat.to(device=self.device, dtype=_features_dtype(dtype))
        else:
            coords = lonlat.to(device=features.device, dtype=features.dtype)
        feats = self.encoding.encode(coords, out=features)
        if feature_scale is not None:
            feats = feats * feature_scale.to(device=feats.device, dtype=feats.dtype)
        if self._config.time is None:
            if time is not None:
                raise InputError("this location encoder is static: it takes no time input (time=None)")
            return self.network(feats.to(dtype))
        return self._seasonal(feats.to(dtype), time)

    def _seasonal(self, feats: torch.Tensor, time: torch.Tensor | None) -> torch.Tensor:
        """The network on the features and the time features after them (see
        :class:`~satclip.embedder.LocationEncoderConfig`). A SIREN's first layer is applied in
        two parts, W[:, :D]·features + W[:, D:]·time features + b: the same map as on the
        concatenation, without copying the features; no time is no second part."""
        net, time_cfg = self.network, self._config.time
        assert time_cfg is not None
        tf = None
        if time is not None:
            if time.shape != feats.shape[:1]:
                raise InputError(
                    f"time must hold one year fraction per point, shape {tuple(feats.shape[:1])}"
                )
            t = time.to(device=feats.device, dtype=torch.float64)
            tf = time_features(t, time_cfg.harmonics).to(feats.dtype)
        if not isinstance(net, Siren):
            if tf is None:
                return net(torch.cat([feats, feats.new_zeros(len(feats), time_cfg.dim)], dim=1))
            return net(torch.cat([feats, tf, place_time_features(tf, feats, time_cfg.n_place)], dim=1))
        first, d, nt = net.first_layer, feats.shape[1], time_cfg.n_time
        z = first.affine(feats, slice(None, d))
        if tf is not None:
            z = z + first.affine(tf, slice(d, d + nt), bias=False)
            if time_cfg.n_place:
                products = place_time_features(tf, feats, time_cfg.n_place)
                z = z + first.affine(products, slice(d + nt, None), bias=False)
        return net.from_first_affine(z)

    def _embed_grid_at(self, lon: np.ndarray, lat: np.ndarray, t: float | None) -> np.ndarray:
        """What :meth:`embed_grid` runs. Harmonics into a SIREN (the published architecture)
        factor the first layer by row and column (:mod:`satclip._grid`), a seasonal model's one
        time folded into its bias: the same values as :meth:`embed` on the pixel centres, to
        float rounding, several times faster. Other encoders embed point by point."""
        if not _grid.supports(self.encoding, self.network, self.dtype):
            return super()._embed_grid_at(lon, lat, t)
        with self._inference():
            bias, weight = self._first_at(t)
            return _grid.embed_grid(
                self.encoding,
                self.network,
                lon,
                lat,
                self.output_dtype,
                self._batch_threads(),
                bias=bias,
                weight=weight,
            )

    def _first_at(self, t: float | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The first layer's bias and harmonics' weight columns with one time folded in (a grid
        has one time): the time features into the bias, their products with the low harmonics
        into those harmonics' columns. None where nothing changes (a static model, no time)."""
        time_cfg = self._config.time
        if t is None or time_cfg is None:
            return None, None
        assert isinstance(self.network, Siren), "the grid path is SIREN's (_grid.supports)"
        first, d, nt, n = self.network.first_layer, self.encoding.dim, time_cfg.n_time, time_cfg.n_place
        tf = time_features(torch.tensor([t], dtype=torch.float64), time_cfg.harmonics).to(first.weight)
        bias = first.bias + F.linear(tf, first.weight[:, d : d + nt])[0]
        if not n:
            return bias, None
        weight = first.weight[:, :d].clone()
        # Σ_k tf_k · h_j multiplies column (k, j): at one time, tf_k folds into h_j's column.
        weight[:, :n] += (first.weight[:, d + nt :].reshape(-1, nt, n) * tf[0, None, :, None]).sum(1)
        return bias, weight

    @contextmanager
    def _inference(self) -> Iterator[None]:
        # The module is in eval mode while any embed call runs, and goes back to its own mode
        # when the last one ends: calls from several threads overlap without one switching
        # dropout back on under another.
        with _MODE_LOCK:
            if self._embed_calls == 0:
                self._mode_before_embed = self.training
                # Switching walks every submodule: skipped for a model already in eval mode
                # (as loaded), which halves the overhead of a one-point call.
                self._switched_mode = any(m.training for m in self.modules())
                if self._switched_mode:
                    self.eval()
            self._embed_calls += 1
        try:
            with torch.inference_mode():
                yield
        finally:
            with _MODE_LOCK:
                self._embed_calls -= 1
                if self._embed_calls == 0 and self._switched_mode:
                    self.train(self._mode_before_embed)

    def _batch_threads(self) -> int:
        # On CPU, one batch per core beats every op split over the cores (BENCHMARKS.md); a
        # GPU runs one batch at a time.
        return torch.get_num_threads() if self.device.type == "cpu" else 1

    @contextmanager
    def _batches(self, rows: int) -> Iterator[BatchFn]:
        with self._inference():
            device = self.device
            # One features buffer for all batches of the call (see EMBED_BATCH).
            features = self.encoding._features_buffer(rows, self.feature_dtype, device)

            def run(rows: np.ndarray) -> np.ndarray:
                chunk = torch.from_numpy(rows[:, :2]).to(device)
                time = torch.from_numpy(rows[:, 2]) if rows.shape[1] == 3 else None
                emb = self._forward_checked(chunk, features[: chunk.shape[0]], time=time)
                return (emb.float() if emb.dtype == torch.bfloat16 else emb).cpu().numpy()

            yield run
