"""Image encoders for contrastive pretraining: timm backbones and a small CNN for CPUs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from satclip.errors import InputError, MissingDependencyError

TIMM_BACKBONES = ("resnet18", "resnet50", "vit_small_patch16_224")
BACKBONES = (*TIMM_BACKBONES, "smallcnn")
# torchgeo's SSL4EO-S12 Sentinel-2 MoCo weights (13 bands), for online users with torchgeo.
TORCHGEO_WEIGHTS = {
    "resnet18": "ResNet18_Weights.SENTINEL2_ALL_MOCO",
    "resnet50": "ResNet50_Weights.SENTINEL2_ALL_MOCO",
    "vit_small_patch16_224": "ViTSmall16_Weights.SENTINEL2_ALL_MOCO",
}


@dataclass(frozen=True)
class ImageEncoderConfig:
    backbone: str = "smallcnn"
    in_channels: int = 3
    image_size: int = 32
    embed_dim: int = 256
    weights: str | None = None  # a local state-dict file, or "ssl4eo" (torchgeo, online)
    freeze_backbone: bool = False  # the published mode: train only the projection

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise InputError(f"unknown backbone {self.backbone!r}; choose one of {', '.join(BACKBONES)}")


class SmallCNN(nn.Module):
    """Four conv blocks (32-64-128-256 channels, stride-2 after the first), global pooling.
    About 0.4 M parameters: trains on a laptop CPU on 32×32 patches."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        chans = [in_channels, 32, 64, 128, 256]
        for i in range(4):
            layers += [
                nn.Conv2d(chans[i], chans[i + 1], 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                nn.BatchNorm2d(chans[i + 1]),
                nn.ReLU(inplace=True),
            ]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features = 256

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _backbone(cfg: ImageEncoderConfig) -> nn.Module:
    if cfg.backbone == "smallcnn":
        return SmallCNN(cfg.in_channels)
    import timm

    kwargs: dict[str, Any] = {"pretrained": False, "in_chans": cfg.in_channels, "num_classes": 0}
    if cfg.backbone.startswith("vit"):
        kwargs |= {"img_size": cfg.image_size, "dynamic_img_size": True}
    return timm.create_model(cfg.backbone, **kwargs)


def _load_weights(backbone: nn.Module, cfg: ImageEncoderConfig) -> None:
    if cfg.weights == "ssl4eo":
        try:
            import torchgeo.models as tgm
        except ImportError as e:
            raise MissingDependencyError(
                "SSL4EO-S12 weights come from torchgeo: pip install torchgeo (online)"
            ) from e
        enum_name, member = TORCHGEO_WEIGHTS[cfg.backbone].split(".")
        state = getattr(tgm, enum_name)[member].get_state_dict(progress=True)
    else:
        assert cfg.weights is not None  # ImageEncoder loads weights only when cfg.weights is set
        path = os.fspath(cfg.weights)
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state)
    _, unexpected = backbone.load_state_dict(state, strict=False)
    loaded = len(state) - len(unexpected)
    if loaded == 0:
        raise InputError(f"{cfg.weights}: no tensor matches the {cfg.backbone} backbone's parameter names")


class ImageEncoder(nn.Module):
    """Backbone features → linear projection to ``embed_dim``."""

    def __init__(self, cfg: ImageEncoderConfig) -> None:
        super().__init__()
        self.config = cfg
        self.backbone = _backbone(cfg)
        if cfg.weights:
            _load_weights(self.backbone, cfg)
        if cfg.freeze_backbone:
            for p in self.backbone.parameters():
                p.requires_grad_(False)
        # An int attribute of SmallCNN and of every timm model; torch types Module attributes as
        # Tensor | Module, which is wrong for plain attributes.
        self.projection = nn.Linear(cast(int, self.backbone.num_features), cfg.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.freeze_backbone:
            self.backbone.eval()  # frozen batch-norm statistics too
            with torch.no_grad():
                feats = self.backbone(x)
        else:
            feats = self.backbone(x)
        return self.projection(feats)
