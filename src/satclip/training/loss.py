"""The CLIP loss with negatives gathered across processes."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from satclip.errors import InputError

LOGIT_SCALE_MAX = 100.0


def check_temperature(value: object, name: str = "temperature") -> None:
    """Refuse a temperature the loss cannot use: not a number, or below 1 / LOGIT_SCALE_MAX,
    where the logit scale's cap would silently replace it."""
    if not (isinstance(value, int | float) and 1 / LOGIT_SCALE_MAX <= value < float("inf")):
        raise InputError(
            f"{name} must be a number >= {1 / LOGIT_SCALE_MAX} (the CLIP logit scale is capped at "
            f"{LOGIT_SCALE_MAX:g}; published: 0.07), got {value!r}"
        )


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every process, keeping gradients (a no-op with one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)


class ClipLoss(nn.Module):
    """Symmetric cross-entropy over L2-normalised image and location embeddings.

    The temperature is ``logit_scale`` (log(1 / temperature), used as exp(logit_scale), capped
    at 100), learnt from ``temperature`` = 0.07 as published, or held fixed with ``learn=False``.
    With several processes every process scores its own rows against the gathered embeddings of
    all processes, so the negatives are the global batch.
    """

    def __init__(self, temperature: float = 0.07, learn: bool = True) -> None:
        super().__init__()
        check_temperature(temperature)
        # A parameter either way, so checkpoints have the same keys whether it is learnt or not.
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)), requires_grad=learn)

    def forward(self, image_emb: torch.Tensor, loc_emb: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        img = F.normalize(image_emb, dim=-1)
        loc = F.normalize(loc_emb, dim=-1)
        all_img, all_loc = gather_with_grad(img), gather_with_grad(loc)
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        n = img.shape[0]
        labels = torch.arange(n, device=img.device) + rank * n
        scale = self.logit_scale.exp().clamp(max=LOGIT_SCALE_MAX)
        logits_img = scale * img @ all_loc.T  # this process's images vs every location
        logits_loc = scale * loc @ all_img.T
        return (F.cross_entropy(logits_img, labels) + F.cross_entropy(logits_loc, labels)) / 2
