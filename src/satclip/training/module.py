"""The SatCLIP LightningModule: image encoder, location encoder, CLIP loss, AdamW + schedule."""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from satclip.encoder import LocationEncoder
from satclip.encodings import create_encoding
from satclip.networks import Siren, SirenLayer, create_network
from satclip.training.config import TrainConfig
from satclip.training.image_encoders import ImageEncoder
from satclip.training.loss import ClipLoss


def build_location_encoder(cfg: TrainConfig) -> LocationEncoder:
    sh = create_encoding("sphericalharmonics", legendre_polys=cfg.location.legendre_polys)
    net = create_network(
        "siren",
        dim_in=sh.dim,
        dim_out=cfg.image.embed_dim,
        dim_hidden=cfg.location.dim_hidden,
        num_layers=cfg.location.num_layers,
        dropout=cfg.location.dropout,
        w0_initial=cfg.location.w0_initial,
    )
    return LocationEncoder(sh, net)


def degree_scale(legendre_polys: int, decay: float) -> torch.Tensor:
    """(L²,) float64: (1 + l)^-decay for every feature of degree l, in the l-major feature order."""
    degrees = torch.arange(legendre_polys)
    return ((1.0 + degrees.double()) ** -decay).repeat_interleave(2 * degrees + 1)


def fold_degree_scale(enc: LocationEncoder, decay: float) -> None:
    """Fold the training-time feature scale into the first layer's weight columns (exact:
    W·(s ⊙ y) = (W diag s)·y), so the encoder alone reproduces the trained location side."""
    net = enc.network
    if not isinstance(net, Siren):
        raise TypeError(f"fold_degree_scale needs a SIREN location network, got {type(net).__name__}")
    first = net.layers[0] if len(net.layers) else net.last_layer
    assert isinstance(first, SirenLayer)  # Siren.layers holds SirenLayers
    scale = degree_scale(enc.config.encoding.legendre_polys, decay)
    with torch.no_grad():
        first.weight.mul_(scale.to(first.weight.dtype))


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases, normalisation weights and the logit scale."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim < 2 or name.endswith("logit_scale") or "norm" in name or ".bn" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_cosine(step: int, warmup: int, total: int, schedule: str) -> float:
    """Learning-rate factor: linear warmup, then cosine to 0 (or constant)."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant" or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1 + math.cos(math.pi * progress))


class SatCLIPModule(pl.LightningModule):
    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.save_hyperparameters({"config": cfg.to_dict()})
        self.image_encoder = ImageEncoder(cfg.image)
        self.location_encoder = build_location_encoder(cfg)
        decay = cfg.location.degree_decay
        scale = degree_scale(cfg.location.legendre_polys, decay).float() if decay else None
        self.register_buffer("feature_scale", scale, persistent=False)
        self.loss = ClipLoss(cfg.optim.temperature, learn=cfg.optim.learn_temperature)

    def on_fit_start(self) -> None:
        o, total = self.cfg.optim, int(self.trainer.estimated_stepping_batches)
        if o.ema_decay and o.ema_start_step >= total:
            # The average would stay the initial weights, and be validated and exported as such.
            raise ValueError(
                f"optim.ema_start_step={o.ema_start_step} but this run has {total} optimiser steps, so the "
                f"average of the weights would never start; set it below {total} (or optim.ema_decay=0)"
            )

    def location_embedding(self, lonlat: torch.Tensor) -> torch.Tensor:
        """The location side as trained (with the degree scale, when on)."""
        return self.location_encoder(lonlat, feature_scale=self.feature_scale)

    def _step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        img = self.image_encoder(batch["image"])
        # The location side stays in full precision under mixed precision: SIREN's first layer
        # multiplies by 30, which would amplify bf16 rounding.
        with torch.autocast(self.device.type, enabled=False):
            loc = self.location_embedding(batch["lonlat"].double())
            return self.loss(img.float(), loc.float())

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._step(batch)
        self.log(
            "train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["image"])
        )
        self.log("logit_scale", self.loss.logit_scale.exp(), on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss = self._step(batch)
        self.log(
            "val_loss", loss, prog_bar=True, on_epoch=True, sync_dist=True, batch_size=len(batch["image"])
        )

    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        opt = torch.optim.AdamW(param_groups(self, o.weight_decay), lr=o.lr)
        total = int(self.trainer.estimated_stepping_batches)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: warmup_cosine(step, o.warmup_steps, total, o.schedule)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
