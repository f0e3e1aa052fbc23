"""``LocationEncoder``: a positional encoding followed by a network, with its rebuildable config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from satclip._coords import as_lonlat_array, check_lonlat_array, check_lonlat_tensor, wrap_longitude
from satclip._registry import build_config, config_to_dict
from satclip.encodings import ENCODINGS, Encoding, encoding_from_config
from satclip.networks import NETWORKS, network_from_config

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}
# Points per batch in embed(). Small batches are faster on CPU: once a batch frees more than
# glibc's trim threshold (a few MB) at the top of the heap, glibc hands it back to the OS and
# the next batch faults it in again. At 1 024 points the 2 MB activations stay under it, and
# the 6.5 MB of L=40 features go into one buffer reused by every batch (Encoding.encode_into):
# without that buffer, 0.2-3.5 M page faults per million points cost up to a third of the time.
EMBED_BATCH = 1024


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
    """

    def __init__(self, encoding: Encoding, network: nn.Module, dtype: str = "float32") -> None:
        super().__init__()
        self.config = LocationEncoderConfig(encoding.config, network.config, dtype)
        self.encoding = encoding
        self.network = network.to(DTYPES[dtype])
        # (K, 2) lon/lat degrees the model was pretrained on, when known (see satclip.ood).
        self.training_index: np.ndarray | None = None

    @classmethod
    def from_config(cls, config: LocationEncoderConfig) -> LocationEncoder:
        return cls(encoding_from_config(config.encoding), network_from_config(config.network), config.dtype)

    @property
    def dim(self) -> int:
        return int(self.config.network.dim_out)

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.config.dtype]

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """(N, 2) lon/lat degrees → (N, dim) in the encoder's dtype."""
        return self._forward_checked(check_lonlat_tensor(lonlat))

    def _forward_checked(self, lonlat: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        # Features are computed in the network's precision (coordinates cast first), into
        # ``features`` (N, encoding dim) where the encoding can write in place.
        coords = lonlat.to(self.dtype)
        feats = (
            self.encoding.encode(coords) if features is None else self.encoding.encode_into(coords, features)
        )
        return self.network(feats)

    def embed(self, lon: Any, lat: Any, batch_size: int = EMBED_BATCH) -> np.ndarray:
        """Embeddings of points given as scalars, lists or 1-D arrays of lon and lat (degrees).

        Returns an (N, dim) numpy array in the encoder's dtype. Raises ``ValueError`` naming
        the first bad point (non-finite, latitude outside [-90, 90], mismatched lengths).
        Longitudes are wrapped (190 ≡ -170). The default batch is the fastest on CPU (see
        ``EMBED_BATCH``); on a GPU larger batches pay off.
        """
        return self._embed_valid(as_lonlat_array(lon, lat), batch_size)

    def embed_array(self, lonlat: np.ndarray, batch_size: int = EMBED_BATCH) -> np.ndarray:
        """Like :meth:`embed` for an (N, 2) array of (lon, lat) rows."""
        arr = np.asarray(lonlat, dtype=np.float64)
        check_lonlat_array(arr)
        return self._embed_valid(arr, batch_size)

    @torch.inference_mode()
    def _embed_valid(self, lonlat: np.ndarray, batch_size: int) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        np_dtype = np.float64 if self.dtype == torch.float64 else np.float32
        out = np.empty((lonlat.shape[0], self.dim), dtype=np_dtype)
        was_training = self.training
        self.eval()
        # One features buffer for all batches (see EMBED_BATCH).
        rows = min(batch_size, lonlat.shape[0])
        features = torch.empty(rows, self.encoding.dim, dtype=self.dtype, device=self.device)
        try:
            for i in range(0, lonlat.shape[0], batch_size):
                # A copy: the caller's array may be read-only (pandas 3 columns), which from_numpy warns about.
                chunk = torch.tensor(lonlat[i : i + batch_size], device=self.device)
                chunk = torch.stack([wrap_longitude(chunk[:, 0]), chunk[:, 1]], dim=1)
                emb = self._forward_checked(chunk, features[: chunk.shape[0]])
                out[i : i + batch_size] = emb.cpu().numpy()
        finally:
            self.train(was_training)
        return out
