"""Cosine loss (Barz & Denzler 2020): 1 - cos(one-hot(y), output); optionally plus lambda x CE of an
extra head ReLU -> BatchNorm -> Linear on the L2-normalised embedding (as GEM's PyTorch port)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from methods import register
from methods.base import Context, Method
from benchmark.training.pipeline import Batch


def cosine_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (1 - F.normalize(out, dim=1).gather(1, y[:, None])).mean()


class CosineCEModel(nn.Module):
    """Embedding network plus a classification head; `forward` gives the head's logits."""

    def __init__(self, embed: nn.Module, num_classes: int):
        super().__init__()
        self.embed = embed
        self.cls = nn.Sequential(nn.ReLU(), nn.BatchNorm1d(num_classes), nn.Linear(num_classes, num_classes))

    def both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.embed(x)
        return emb, self.cls(F.normalize(emb, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.both(x)[1]


@register("cosine")
class Cosine(Method):
    label = "Cosine"
    summary = "cosine loss against one-hot class embeddings"

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return cosine_loss(model(batch.x), batch.y)


@register("cosine_ce")
class CosineCE(Method):
    label = "Cosine + CE"
    summary = "cosine loss plus 0.1 x cross-entropy of a head on the normalised embedding"

    @classmethod
    def defaults(cls, ctx: Context) -> dict[str, Any]:
        return {"ce_weight": 0.1}

    def wrap_model(self, model: nn.Module) -> nn.Module:
        return CosineCEModel(model, self.ctx.num_classes)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        emb, logits = model.both(batch.x)
        return cosine_loss(emb, batch.y) + self.hp["ce_weight"] * F.cross_entropy(logits, batch.y)
