"""Cosine loss (Barz & Denzler 2020): 1 - cos(one-hot(y), output); optionally plus lambda x CE of an
extra head ReLU -> BatchNorm -> Linear on the L2-normalised embedding (as GEM's PyTorch port)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from methods.registry import register
from methods.base import Context, HParam, Method

if TYPE_CHECKING:
    import torch
    from torch import nn

    from benchmark.training.pipeline import Batch


def cosine_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F
    return (1 - F.normalize(out, dim=1).gather(1, y[:, None])).mean()


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
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        return {"ce_weight": HParam(0.1, low=0.0, high=100.0, search=(0.01, 1.0), log=True)}

    def wrap_model(self, model: nn.Module) -> nn.Module:
        from benchmark.training.models import CosineCEModel
        return CosineCEModel(model, self.ctx.num_classes)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        import torch.nn.functional as F
        emb, logits = model.both(batch.x)
        return cosine_loss(emb, batch.y) + self.hp["ce_weight"] * F.cross_entropy(logits, batch.y)
