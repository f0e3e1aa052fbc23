"""Distillation from a location encoder learned from imagery (GeoCLIP, from geotagged photos).

A linear head maps the student's location embedding to the teacher's space; the loss is one
minus their cosine, averaged over the batch, at the batch's own (jittered) points. The teacher
runs frozen, outside the module's parameters and checkpoints; only the head is trained beside
the location encoder, and only the location encoder is exported.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from satclip.pretrained import load


class Distiller(nn.Module):
    """``forward(student (B, D), lonlat (B, 2) degrees) -> scalar loss``."""

    def __init__(self, teacher: str, student_dim: int) -> None:
        super().__init__()
        model = load(teacher)
        # Held in a tuple: not a submodule, so neither trained, moved nor saved with the run.
        self._teacher = (model,)
        self.head = nn.Linear(student_dim, model.dim)

    def teacher_embedding(self, lonlat: torch.Tensor) -> torch.Tensor:
        (teacher,) = self._teacher
        emb = teacher.embed_array(lonlat.detach().double().cpu().numpy())
        return torch.from_numpy(emb).to(device=lonlat.device, dtype=torch.float32)

    def forward(self, student: torch.Tensor, lonlat: torch.Tensor) -> torch.Tensor:
        target = self.teacher_embedding(lonlat)
        return (1 - F.cosine_similarity(self.head(student.float()), target, dim=-1)).mean()
