"""A linear map of the embedding folded into a copy of the model's last (linear) SIREN layer.

``embedding @ a.T + c`` computed by the network itself, in one layer of the same shape or a
narrower one: the explorer's PCA colours and cosine (K outputs instead of D, through the grid
path) and a model whose spectrum is reshaped after training (``training/spectrum.py``) use it.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch
from torch import nn

from satclip.embedder import Embedder
from satclip.encoder import LocationEncoder
from satclip.networks import Siren, SirenLayer


def last_linear(model: Embedder) -> SirenLayer | None:
    """The last SIREN layer of ``model`` where it is a plain affine map, else None."""
    if not isinstance(model, LocationEncoder) or not isinstance(model.network, Siren):
        return None
    last = model.network.last_layer
    return None if last.activation or last.dropout else last


def with_head(model: LocationEncoder, head: nn.Module, dim_out: int) -> LocationEncoder:
    """A copy of ``model`` whose last layer is ``head`` (``dim_out`` outputs): what the grid
    path then runs, block by block, instead of the embedding."""
    out = copy.deepcopy(model)
    assert isinstance(out.network, Siren)
    out.network.last_layer = head.requires_grad_(False)  # type: ignore[assignment]
    out.network.config = dataclasses.replace(out.network.config, dim_out=dim_out)
    return out


def folded(model: Embedder, a: np.ndarray, c: np.ndarray) -> LocationEncoder | None:
    """A copy of ``model`` that outputs ``embedding @ a.T + c`` directly, ``a`` (K, D) and ``c``
    (K,) folded into its last (linear) SIREN layer in float64: the same values to float
    rounding, for K outputs instead of D. None where the model is not such a network."""
    last = last_linear(model)
    if last is None:
        return None
    layer = SirenLayer(last.weight.shape[1], len(a), last.w0, False, activation=False, dropout=0.0)
    with torch.no_grad():
        w = last.weight.detach().to(torch.float64)
        proj = torch.from_numpy(np.asarray(a, dtype=np.float64))
        layer.weight.copy_(proj @ w)
        layer.bias.copy_(proj @ last.bias.detach().to(torch.float64) + torch.from_numpy(np.asarray(c)))
    assert isinstance(model, LocationEncoder)
    return with_head(model, layer.to(last.weight.dtype), len(a))
