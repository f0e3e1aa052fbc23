"""``LocationEncoder``: a positional encoding followed by a network (its rebuildable config,
:class:`~satclip.embedder.LocationEncoderConfig`, is part of the shared interface)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from satclip import _grid
from satclip._coords import check_lonlat_tensor
from satclip.embedder import DTYPES, BatchEmbedder, BatchFn, LocationEncoderConfig, grid_axes
from satclip.encodings import Encoding, encoding_from_config
from satclip.networks import network_from_config

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
    """

    def __init__(self, encoding: Encoding, network: nn.Module, dtype: str = "float32") -> None:
        super().__init__()
        self._config = LocationEncoderConfig(encoding.config, network.config, dtype)
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
        return cls(encoding_from_config(config.encoding), network_from_config(config.network), config.dtype)

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
        return h.hexdigest()

    def forward(self, lonlat: torch.Tensor, feature_scale: torch.Tensor | None = None) -> torch.Tensor:
        """(N, 2) lon/lat degrees → (N, dim) in the encoder's dtype, on its device.

        ``feature_scale`` (encoding dim,) multiplies the features before the network: the
        degree-dependent scale some training presets use (folded into the first layer's weights
        when the model is exported, so a saved model never needs it).
        """
        return self._forward_checked(check_lonlat_tensor(lonlat), feature_scale=feature_scale)

    def _forward_checked(
        self,
        lonlat: torch.Tensor,
        features: torch.Tensor | None = None,
        feature_scale: torch.Tensor | None = None,
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
        return self.network(feats.to(dtype))

    def embed_grid(self, lons: Any, lats: Any) -> np.ndarray:
        """Embeddings of every pixel of the grid ``lons`` x ``lats``: (len(lats), len(lons), dim).

        Harmonics into a SIREN (the published architecture) factor the first layer by row and
        column (:mod:`satclip._grid`): the same values as :meth:`embed` on the pixel centres, to
        float rounding, several times faster. Other encoders embed point by point."""
        if not _grid.supports(self.encoding, self.network, self.dtype):
            return super().embed_grid(lons, lats)
        lon, lat = grid_axes(lons, lats)
        with self._inference():
            return _grid.embed_grid(
                self.encoding, self.network, lon, lat, self.output_dtype, self._batch_threads()
            )

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

            def run(lonlat: np.ndarray) -> np.ndarray:
                chunk = torch.from_numpy(lonlat).to(device)
                emb = self._forward_checked(chunk, features[: chunk.shape[0]])
                return (emb.float() if emb.dtype == torch.bfloat16 else emb).cpu().numpy()

            yield run
