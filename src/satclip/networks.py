"""Networks that map positional-encoding features to the embedding, and their registry.

``create_network(name, dim_in=..., dim_out=..., **params)``; ``list_networks()``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from satclip._registry import NamedConfig, build_config
from satclip.errors import InputError


def _check_dims(cfg: Any) -> None:
    for field in ("dim_in", "dim_out", "dim_hidden", "num_layers"):
        value = getattr(cfg, field, 1)
        if not isinstance(value, int) or value < (0 if field == "num_layers" else 1):
            raise InputError(f"{cfg.name} network: {field} must be a positive integer, got {value!r}")
    dropout = getattr(cfg, "dropout", 0.0)
    if not 0.0 <= dropout < 1.0:
        raise InputError(f"{cfg.name} network: dropout must be in [0, 1), got {dropout!r}")


@dataclass(frozen=True)
class LinearConfig:
    """One affine layer."""

    dim_in: int
    dim_out: int

    name: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        _check_dims(self)


class LinearNet(nn.Module):
    def __init__(self, config: LinearConfig) -> None:
        super().__init__()
        self.config = config
        self.linear = nn.Linear(config.dim_in, config.dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


@dataclass(frozen=True)
class MLPConfig:
    """``num_layers`` hidden [Linear, ReLU, Dropout] layers, each with its own weights."""

    dim_in: int
    dim_out: int
    dim_hidden: int = 256
    num_layers: int = 2
    dropout: float = 0.0

    name: ClassVar[str] = "mlp"

    def __post_init__(self) -> None:
        _check_dims(self)


class MLP(nn.Module):
    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        dim = config.dim_in
        for _ in range(config.num_layers):
            layers += [nn.Linear(dim, config.dim_hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            dim = config.dim_hidden
        layers.append(nn.Linear(dim, config.dim_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass(frozen=True)
class SirenConfig:
    """SIREN (Sitzmann et al. 2020) as in SatCLIP: ``num_layers`` sine layers, linear last layer.

    First layer: sin(w0_initial·(Wx + b)), W, b ~ U(±1/dim_in). Later layers: w0, W, b ~
    U(±sqrt(6/dim_in)/w0). Dropout acts on hidden pre-activations while training (the released
    models used 0.5). The released models: dim_hidden 512, num_layers 2, dim_out 256.
    """

    dim_in: int
    dim_out: int
    dim_hidden: int = 512
    num_layers: int = 2
    w0: float = 1.0
    w0_initial: float = 30.0
    dropout: float = 0.0

    name: ClassVar[str] = "siren"

    def __post_init__(self) -> None:
        _check_dims(self)


class SirenLayer(nn.Module):
    """sin(w0·(x Wᵀ + b)), or the affine map alone when ``activation`` is False."""

    def __init__(
        self, dim_in: int, dim_out: int, w0: float, is_first: bool, activation: bool, dropout: float
    ) -> None:
        super().__init__()
        self.w0, self.activation, self.dropout = w0, activation, dropout
        bound = 1.0 / dim_in if is_first else math.sqrt(6.0 / dim_in) / w0
        # Raw parameters (not nn.Linear) so state-dict keys match the published checkpoints.
        self.weight = nn.Parameter(torch.empty(dim_out, dim_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(dim_out).uniform_(-bound, bound))
        # bfloat16 when inference runs this layer's product on bf16 operands (satclip._precision):
        # the operands are rounded, the bias, the sine and everything after stay in float32.
        self.matmul_dtype: torch.dtype | None = None
        self._low_weight: tuple[tuple[int, torch.device, torch.dtype], torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.affine(x))

    def affine(self, x: torch.Tensor, cols: slice | None = None, bias: bool = True) -> torch.Tensor:
        """x Wᵀ + b, on the columns ``cols`` of W when given; with :attr:`matmul_dtype` set, and
        nothing recorded for autograd, the product's operands are rounded to it and the result
        is float32 again before the bias."""
        w = self.weight if cols is None else self.weight[:, cols]
        b = self.bias if bias else None
        low = self.matmul_dtype
        if low is None or x.dtype != torch.float32 or torch.is_grad_enabled():
            return F.linear(x, w, b)
        # A contiguous copy: oneDNN's bf16 kernels are ~100x slower on the column-major
        # features buffer embed() fills (BENCHMARKS.md, "Lower precision").
        xl = x.to(low, memory_format=torch.contiguous_format)
        wl = self._rounded_weight(low)
        out = F.linear(xl, wl if cols is None else wl[:, cols]).float()
        return out if b is None else out.add_(b)

    def _rounded_weight(self, low: torch.dtype) -> torch.Tensor:
        """The weight in ``low``, cached until the weight changes (its version) or moves."""
        w = self.weight
        key = (w._version, w.device, low)
        if self._low_weight is None or self._low_weight[0] != key:
            self._low_weight = (key, w.detach().to(low))
        return self._low_weight[1]

    def activate(self, out: torch.Tensor) -> torch.Tensor:
        """The layer's output from its affine map's value ``out`` (in place where no gradient is
        recorded)."""
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        if not self.activation:
            return out
        if out.requires_grad:
            return torch.sin(self.w0 * out)
        # In place where nothing is recorded for autograd: no temporaries per batch in embed().
        # w0 is 1 in every layer but the first of the published SIREN: skip that pass.
        return (out if self.w0 == 1.0 else out.mul_(self.w0)).sin_()


class Siren(nn.Module):
    layers: nn.ModuleList  # of SirenLayer
    last_layer: SirenLayer

    def __init__(self, config: SirenConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.layers = nn.ModuleList(
            SirenLayer(
                c.dim_in if i == 0 else c.dim_hidden,
                c.dim_hidden,
                c.w0_initial if i == 0 else c.w0,
                is_first=i == 0,
                activation=True,
                dropout=c.dropout,
            )
            for i in range(c.num_layers)
        )
        last_in = c.dim_hidden if c.num_layers else c.dim_in
        self.last_layer = SirenLayer(last_in, c.dim_out, c.w0, False, activation=False, dropout=0.0)

    @property
    def first_layer(self) -> SirenLayer:
        """The layer that reads the features: the last one where there are no hidden layers."""
        return self.layers[0] if len(self.layers) else self.last_layer  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.last_layer(x)

    def from_first_affine(self, z: torch.Tensor) -> torch.Tensor:
        """The network's output given its first layer's affine map ``z`` = x Wᵀ + b: what a
        caller that forms ``z`` its own way (the grid path, factored by row and column) runs."""
        first = self.first_layer
        x = first.activate(z)
        if first is self.last_layer:
            return x
        for layer in itertools.islice(self.layers, 1, None):  # a slice would build a ModuleList
            x = layer(x)
        return self.last_layer(x)


@dataclass(frozen=True)
class ResMLPConfig:
    """Residual MLP of SINR (Cole et al. 2023): Linear+ReLU, ``num_layers`` residual blocks
    (Linear, ReLU, Dropout, Linear, ReLU, plus the skip), then a linear head."""

    dim_in: int
    dim_out: int
    dim_hidden: int = 256
    num_layers: int = 4
    dropout: float = 0.5

    name: ClassVar[str] = "resmlp"

    def __post_init__(self) -> None:
        _check_dims(self)


class _ResBlock(nn.Module):
    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResMLP(nn.Module):
    def __init__(self, config: ResMLPConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.stem = nn.Sequential(nn.Linear(c.dim_in, c.dim_hidden), nn.ReLU())
        self.blocks = nn.Sequential(*(_ResBlock(c.dim_hidden, c.dropout) for _ in range(c.num_layers)))
        self.head = nn.Linear(c.dim_hidden, c.dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


@dataclass(frozen=True)
class IdentityConfig:
    """No network: the encoding's features are the embedding (``satclip.load("sh40")``, the
    baselines of the evaluation suite). ``dim_out`` must equal ``dim_in``."""

    dim_in: int
    dim_out: int

    name: ClassVar[str] = "identity"

    def __post_init__(self) -> None:
        _check_dims(self)
        if self.dim_out != self.dim_in:
            raise InputError(
                f"identity network: dim_out must equal dim_in ({self.dim_in}), got {self.dim_out}"
            )


class Identity(nn.Module):
    def __init__(self, config: IdentityConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


_NETWORK_CLASSES: list[tuple[type[NamedConfig], type[nn.Module]]] = [
    (LinearConfig, LinearNet),
    (MLPConfig, MLP),
    (SirenConfig, Siren),
    (ResMLPConfig, ResMLP),
    (IdentityConfig, Identity),
]
NETWORKS: dict[str, tuple[type[NamedConfig], type[nn.Module]]] = {
    cfg.name: (cfg, module) for cfg, module in _NETWORK_CLASSES
}


def list_networks() -> list[str]:
    """Names accepted by :func:`create_network`."""
    return list(NETWORKS)


def network_from_config(config: Any) -> nn.Module:
    """Rebuild a network module from its config dataclass."""
    return NETWORKS[config.name][1](config)


def create_network(name: str, dim_in: int, dim_out: int, **params: Any) -> nn.Module:
    """A network ``(N, dim_in) → (N, dim_out)``; ``params`` are its config's other fields."""
    cfg = build_config(NETWORKS, "network", name, {"dim_in": dim_in, "dim_out": dim_out, **params})
    return network_from_config(cfg)
