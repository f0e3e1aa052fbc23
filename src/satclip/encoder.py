"""``LocationEncoder``: a positional encoding followed by a network, with its rebuildable config."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from satclip._coords import as_lonlat_array, check_lonlat_array, check_lonlat_tensor, wrap_longitude
from satclip._registry import build_config, config_to_dict
from satclip.encodings import ENCODINGS, Encoding, encoding_from_config
from satclip.networks import NETWORKS, network_from_config

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
# Points per batch in embed(). Small batches are faster on CPU: once a batch frees more than
# glibc's trim threshold (a few MB) at the top of the heap, glibc hands it back to the OS and
# the next batch faults it in again. At 1 024 points the 2 MB activations stay under it, and
# the 6.5 MB of L=40 features go into one buffer reused by every batch (Encoding.encode_into):
# without that buffer, 0.2-3.5 M page faults per million points cost up to a third of the time.
EMBED_BATCH = 1024
# Guards the count of embed() calls in flight and the mode switch (see _embed_valid).
_MODE_LOCK = threading.Lock()


@dataclass(frozen=True)
class LocationEncoderConfig:
    """Everything needed to rebuild a :class:`LocationEncoder` (weights aside)."""

    encoding: Any
    network: Any
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}, got {self.dtype!r}")
        if self.network.dim_in != self.encoding.dim:
            raise ValueError(
                f"network dim_in {self.network.dim_in} does not match the {self.encoding.name} "
                f"encoding's dimension {self.encoding.dim}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoding": config_to_dict(self.encoding),
            "network": config_to_dict(self.network),
            "dtype": self.dtype,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LocationEncoderConfig:
        try:
            enc, net = d["encoding"], d["network"]
            return cls(
                encoding=build_config(ENCODINGS, "encoding", enc["name"], enc["params"]),
                network=build_config(NETWORKS, "network", net["name"], net["params"]),
                dtype=d.get("dtype", "float32"),
            )
        except (KeyError, TypeError) as e:
            raise ValueError(f"malformed location-encoder config ({e!r}): {d!r}") from e


class LocationEncoder(nn.Module):
    """(lon, lat) degrees → embedding.

    ``enc(lonlat)`` takes an (N, 2) tensor; ``enc.embed(lon, lat)`` takes scalars, lists or
    arrays and returns a numpy array, in chunks, in eval mode and without autograd.

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
        # embed() calls in flight, and the mode to return to after them (see _embed_valid).
        self._embed_calls = 0
        self._mode_before_embed = False

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
        dtype = self.dtype
        return dtype if dtype in (torch.float32, torch.float64) else torch.float32

    @property
    def output_dtype(self) -> np.dtype:
        """The numpy dtype of :meth:`embed`'s result (float32 for bfloat16, which numpy lacks)."""
        return np.dtype({torch.float64: np.float64, torch.float16: np.float16}.get(self.dtype, np.float32))

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """(N, 2) lon/lat degrees → (N, dim) in the encoder's dtype, on its device."""
        return self._forward_checked(check_lonlat_tensor(lonlat))

    def _forward_checked(self, lonlat: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        # Features are computed in the network's precision (coordinates cast first), into
        # ``features`` (N, encoding dim) where the encoding can write in place.
        coords = lonlat.to(device=self.device, dtype=self.feature_dtype)
        feats = (
            self.encoding.encode(coords) if features is None else self.encoding.encode_into(coords, features)
        )
        return self.network(feats.to(self.dtype))

    def embed(self, lon: Any, lat: Any, batch_size: int = EMBED_BATCH) -> np.ndarray:
        """Embeddings of points given as scalars, lists or 1-D arrays of lon and lat (degrees).

        Returns an (N, dim) numpy array of :attr:`output_dtype` (the encoder's dtype; float32
        for bfloat16). Raises ``ValueError`` naming the first bad point (non-finite, latitude
        outside [-90, 90], mismatched lengths). Longitudes are wrapped (190 ≡ -170). The default
        batch is the fastest on CPU (see ``EMBED_BATCH``); on a GPU larger batches pay off.
        Safe to call from several threads at once.
        """
        return self._embed_valid(as_lonlat_array(lon, lat), batch_size)

    def embed_array(self, lonlat: np.ndarray, batch_size: int = EMBED_BATCH) -> np.ndarray:
        """Like :meth:`embed` for an (N, 2) array of (lon, lat) rows."""
        arr = np.asarray(lonlat, dtype=np.float64)
        check_lonlat_array(arr)
        return self._embed_valid(arr, batch_size)

    def _embed_valid(self, lonlat: np.ndarray, batch_size: int) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        # The module is in eval mode while any embed call runs, and goes back to its own mode
        # when the last one ends: calls from several threads overlap without one switching
        # dropout back on under another.
        with _MODE_LOCK:
            if self._embed_calls == 0:
                self._mode_before_embed = self.training
                self.eval()
            self._embed_calls += 1
        try:
            return self._embed_eval(lonlat, batch_size)
        finally:
            with _MODE_LOCK:
                self._embed_calls -= 1
                if self._embed_calls == 0:
                    self.train(self._mode_before_embed)

    @torch.inference_mode()
    def _embed_eval(self, lonlat: np.ndarray, batch_size: int) -> np.ndarray:
        out = np.empty((lonlat.shape[0], self.dim), dtype=self.output_dtype)
        device = self.device
        # One features buffer for all batches (see EMBED_BATCH).
        rows = min(batch_size, lonlat.shape[0])
        features = torch.empty(rows, self.encoding.dim, dtype=self.feature_dtype, device=device)
        for i in range(0, lonlat.shape[0], batch_size):
            # A copy: the caller's array may be read-only (pandas 3 columns), which from_numpy warns about.
            chunk = torch.tensor(lonlat[i : i + batch_size], device=device)
            chunk = torch.stack([wrap_longitude(chunk[:, 0]), chunk[:, 1]], dim=1)
            emb = self._forward_checked(chunk, features[: chunk.shape[0]])
            if emb.dtype == torch.bfloat16:
                emb = emb.float()
            out[i : i + batch_size] = emb.cpu().numpy()
        return out
