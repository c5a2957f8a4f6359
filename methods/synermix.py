"""SynerMix (Xu et al. 2024): SynerMix-Intra makes, per batch, one feature per class present: a
random convex combination (weights U[0, 1) normalised to sum 1) of the penultimate features of that
class's unaugmented images, computed by a second forward pass in train mode and not detached; the
loss is beta x the cross-entropy of those features (mean over the classes) + (1 - beta) x the
inter-class loss: plain cross-entropy, MixUp or Manifold MixUp. Batches are balanced: every class in
a batch has at least two images (benchmark.training.samplers)."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from methods.registry import register
from methods.base import Context, HParam, Method
from methods.mixup import ManifoldMixUp, MixUp, alpha

if TYPE_CHECKING:
    import torch
    from torch import nn

    from benchmark.training.pipeline import Batch
    from benchmark.training.recipes import Recipe


def intra_class_mix(features: torch.Tensor, labels: torch.Tensor,
                    num_classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mixed [num_classes, D], weights [B], present [num_classes] bool): row c of `mixed` is
    sum_i w_i f_i over the samples of class c, with w_i ~ U[0, 1) normalised to sum 1 per class;
    rows of absent classes are 0. Fixed shapes: no host-device sync."""
    import torch
    w = torch.rand(len(labels), device=features.device)
    sums = torch.zeros(num_classes, device=features.device).index_add_(0, labels, w)
    w = w / sums[labels]
    mixed = torch.zeros(num_classes, features.shape[1], device=features.device)
    mixed.index_add_(0, labels, w[:, None] * features.float())
    return mixed, w, sums > 0


def beta(default: float) -> HParam:
    """The weight of the intra-class loss (1 - beta: the inter-class loss's)."""
    return HParam(default, low=0.0, high=1.0, search=(0.05, 0.95))


@register("synermix_intra")
class SynerMixIntra(Method):
    label = "SynerMix-Intra"
    summary = ("beta x CE of one random mix per class of the unaugmented images' features + (1 - beta) x CE, "
               "beta 0.5, balanced batches")
    passes = 2  # the batch and its unaugmented images

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        return {"beta": beta(0.5)}

    @classmethod
    def adapt_recipe(cls, recipe: Recipe, ctx: Context) -> Recipe:
        return dataclasses.replace(recipe, sampler="balanced")

    def intra_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        import torch
        import torch.nn.functional as F
        originals = torch.empty_like(batch.x).copy_(self.data.originals(batch.idx))  # in the batch's layout
        mixed, _, present = intra_class_mix(model.features(originals), batch.y, self.ctx.num_classes)
        classes = torch.arange(self.ctx.num_classes, device=mixed.device)
        per_class = F.cross_entropy(model.head(mixed), classes, reduction="none")
        return (per_class * present).sum() / present.sum()

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        beta = self.hp["beta"]
        intra = self.intra_loss(model, batch)  # first, as in the reference (BatchNorm, dropout)
        return beta * intra + (1 - beta) * super().loss(model, batch)


class SynerMix(SynerMixIntra):
    """SynerMix-Intra with an inter-class method (the next base class of a subclass) as the inter term."""

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        return {"beta": beta(0.1), "alpha": alpha(1.0)}


@register("synermix_mixup")
class SynerMixMixUp(SynerMix, MixUp):
    label = "SynerMix (MixUp)"
    summary = "SynerMix-Intra with MixUp as the inter-class loss, beta 0.1, alpha 1"


@register("synermix_manifold")
class SynerMixManifold(SynerMix, ManifoldMixUp):
    label = "SynerMix (Manifold MixUp)"
    summary = "SynerMix-Intra with Manifold MixUp as the inter-class loss, beta 0.1, alpha 1"
