"""The SatCLIP LightningModule: image encoder, location encoder, CLIP loss, AdamW + schedule."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn

from satclip.checkpoints import RUN_ENCODER_KEY, degree_scale, run_checkpoint_entry, run_encoder_config
from satclip.encoder import LocationEncoder
from satclip.errors import InputError
from satclip.networks import Siren
from satclip.training.config import TrainConfig
from satclip.training.distill import Distiller
from satclip.training.image_encoders import ImageEncoder
from satclip.training.loss import ClipLoss


def build_location_encoder(cfg: TrainConfig) -> LocationEncoder:
    enc = LocationEncoder.from_config(
        run_encoder_config(dataclasses.asdict(cfg.location), cfg.image.embed_dim)
    )
    if cfg.location.init:
        start_from(enc, cfg.location.init)
    return enc


def start_from(enc: LocationEncoder, spec: str) -> None:
    """Copy the weights of the model ``spec`` into ``enc``: every weight but the first layer's
    time columns, which are zeroed (a static model has none; a seasonal one's are not copied
    either, so every start is the model's annual embedding). The shapes must agree."""
    from satclip.pretrained import resolve_torch

    src = resolve_torch(spec, "location.init")
    ours, theirs = enc.config, src.config
    if (
        ours.encoding != theirs.encoding
        or not isinstance(enc.network, Siren)
        or not isinstance(src.network, Siren)
    ):
        raise InputError(
            f"location.init={spec!r} is {theirs.encoding} into a {type(src.network).__name__}; this run "
            f"builds {ours.encoding} into a SIREN: they must agree"
        )
    # The same function but for the time columns: every setting but dim_in and dropout (which
    # acts in training only) must agree.
    like = dataclasses.replace(ours.network, dim_in=theirs.network.dim_in, dropout=theirs.network.dropout)
    if like != theirs.network:
        differ = [
            f"{f.name} {getattr(theirs.network, f.name)} (this run: {getattr(ours.network, f.name)})"
            for f in dataclasses.fields(like)
            if getattr(like, f.name) != getattr(theirs.network, f.name)
        ]
        raise InputError(
            f"location.init={spec!r} has another network: {', '.join(differ)}; set the run's "
            "location.* (or image.embed_dim for dim_out) to match"
        )
    d = enc.encoding.dim
    mine, given = enc.network.state_dict(), src.network.state_dict()
    first = "layers.0.weight" if len(enc.network.layers) else "last_layer.weight"
    with torch.no_grad():
        for key, value in mine.items():
            if key == first:
                value.zero_()
                value[:, :d].copy_(given[key][:, :d])
            else:
                value.copy_(given[key])


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
        self.image_encoder = ImageEncoder(cfg.image)
        self.location_encoder = build_location_encoder(cfg)
        decay = cfg.location.degree_decay
        # The location encoder's own config travels in every checkpoint, so loading one
        # (satclip.load, satclip export) is LocationEncoderConfig.from_dict and its weights.
        entry = run_checkpoint_entry(self.location_encoder.config, decay)
        self.save_hyperparameters({"config": cfg.to_dict(), RUN_ENCODER_KEY: entry})
        scale = degree_scale(cfg.location.legendre_polys, decay).float() if decay else None
        self.register_buffer("feature_scale", scale, persistent=False)
        self.loss = ClipLoss(cfg.optim.temperature, learn=cfg.optim.learn_temperature)
        self._kept: torch.Tensor | None = None
        if cfg.location.learn == "time":
            # Only the first layer's weight has gradients; its harmonics' columns are written back
            # after every step (AdamW's decay would move them), so only the time columns learn.
            net = self.location_encoder.network
            assert isinstance(net, Siren), "start_from checked it"
            self.location_encoder.requires_grad_(False)
            net.first_layer.weight.requires_grad_(True)
            self._kept = net.first_layer.weight[:, : self.location_encoder.encoding.dim].detach().clone()
        d = cfg.distill
        self.distill = (
            Distiller(d.teacher, cfg.image.embed_dim, d.points, d.lights, cfg.seed) if d.weight else None
        )

    def on_fit_start(self) -> None:
        o, total = self.cfg.optim, int(self.trainer.estimated_stepping_batches)
        if o.ema_decay and o.ema_start_step >= total:
            # The average would stay the initial weights, and be validated and exported as such.
            raise InputError(
                f"optim.ema_start_step={o.ema_start_step} but this run has {total} optimiser steps, so the "
                f"average of the weights would never start; set it below {total} (or optim.ema_decay=0)"
            )

    def location_embedding(self, lonlat: torch.Tensor, time: torch.Tensor | None = None) -> torch.Tensor:
        """The location side as trained (with the degree scale, when on; a seasonal model with
        each sample's year fraction, NaN for the annual ones)."""
        return self.location_encoder(lonlat, feature_scale=self.feature_scale, time=time)

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        pairs = batch["image"].ndim == 5
        if pairs:  # seasonal pairs: (places, 2, ...) -> (2 * places, ...), each place's views adjacent
            batch = {k: v.flatten(0, 1) for k, v in batch.items()}
        img = self.image_encoder(batch["image"])
        # The location side stays in full precision under mixed precision: SIREN's first layer
        # multiplies by 30, which would amplify bf16 rounding.
        with torch.autocast(self.device.type, enabled=False):
            loc = self.location_embedding(batch["lonlat"].double(), batch.get("time"))
            loss = self.loss(img.float(), loc.float())
            change = self.cfg.data.season_change
            if pairs and change:
                # How a place changes between its two views, in the image and in the location
                # embedding, matched across places: the month must move each place its own way.
                img_n, loc_n = F.normalize(img.float(), dim=-1), F.normalize(loc.float(), dim=-1)
                loss = loss + change * self.loss(img_n[0::2] - img_n[1::2], loc_n[0::2] - loc_n[1::2])
            if self.distill is not None:
                lonlat = batch["lonlat"]
                if self.cfg.distill.annual_only and "time" in batch:
                    # A static teacher knows no season: taught only where the sample has no time.
                    annual = torch.isnan(batch["time"])
                    loc, lonlat = loc[annual], lonlat[annual]
                if self.distill.points and stage == "train":
                    # Points without an image, where the teacher still knows something (see
                    # satclip.training.distill): taught by the teacher alone.
                    extra = self.distill.extra_points().to(lonlat)
                    loc = torch.cat([loc, self.location_embedding(extra.double())])
                    lonlat = torch.cat([lonlat, extra])
                distill = self.distill(loc, lonlat) if len(loc) else loc.sum() * 0.0
                self.log(
                    f"{stage}_distill", distill, on_step=stage == "train", on_epoch=True, batch_size=len(loc)
                )
                loss = loss + self.cfg.distill.weight * distill
            return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._kept is not None:
            net = self.location_encoder.network
            assert isinstance(net, Siren)
            weight = net.first_layer.weight
            with torch.no_grad():
                weight[:, : self._kept.shape[1]].copy_(self._kept)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "train")
        self.log(
            "train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["image"])
        )
        self.log("logit_scale", self.loss.logit_scale.exp(), on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss = self._step(batch, "val")
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
