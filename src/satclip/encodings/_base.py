"""The common shape of every positional encoding module."""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import nn

from satclip._coords import check_lonlat_tensor
from satclip.errors import InputError


class Encoding(nn.Module, abc.ABC):
    """(N, 2) lon/lat degrees → (N, dim) features.

    Subclasses hold a frozen config dataclass (with a ``dim`` property) and implement
    :meth:`encode` on already-validated coordinates. ``forward`` checks the input (shape, finite,
    latitude range) and wraps longitudes into [-180, 180] first.

    ``encode(lonlat, out=buf)`` writes the features into ``buf``: batched inference reuses one
    buffer for every batch, so that large features are not allocated, freed and page-faulted in
    again batch after batch. Encodings that compute in place write there directly, the others
    copy their result in (:meth:`_into`).
    """

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    @property
    def dim(self) -> int:
        return int(self.config.dim)

    @abc.abstractmethod
    def encode(self, lonlat: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Features of validated (N, 2) lon/lat degrees, shape (N, dim): ``out`` itself, filled,
        when given (an (N, dim) tensor of the result's dtype and device, contiguous or a slice
        of :meth:`_features_buffer`)."""

    def _features_buffer(self, rows: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """An (rows, dim) buffer for ``encode(out=...)`` in the layout this encoding writes
        fastest; its leading slices ``buf[:n]`` are valid ``out`` arguments too."""
        return torch.empty(rows, self.dim, dtype=dtype, device=device)

    @staticmethod
    def _into(features: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        """``features``, or ``out`` filled with them when given."""
        if out is None:
            return features
        if out.shape != features.shape:
            raise InputError(f"out must have shape {tuple(features.shape)}, got {tuple(out.shape)}")
        return out.copy_(features)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        return self.encode(check_lonlat_tensor(lonlat))

    def _apply(self, fn: Any, recurse: bool = True) -> Encoding:
        # Module conversions (.half(), .to(dtype), .cuda(), ...) move an encoding's constants
        # (frequencies, projections) to the new device but keep their float64 precision: the
        # features are computed in float64 whatever the network is cast to.
        def keep_dtype(t: torch.Tensor) -> torch.Tensor:
            moved = fn(t)
            return moved if moved.dtype == t.dtype else t.to(device=moved.device)

        return super()._apply(keep_dtype, recurse)

    def extra_repr(self) -> str:
        return f"{self.config}"
