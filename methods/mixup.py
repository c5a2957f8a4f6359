"""MixUp (Zhang et al. 2018): one lambda ~ Beta(alpha, alpha) per batch, partners by permutation;
the images and the targets are mixed, the loss is the cross-entropy of the mixed targets. Manifold
MixUp (Verma et al. 2019) mixes the hidden features at a mixing point drawn per batch instead."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from methods.registry import register
from methods.base import Context, HParam, Method

if TYPE_CHECKING:
    from torch import nn

    from benchmark.training.pipeline import Batch, TrainData


def alpha(default: float) -> HParam:
    """Beta(alpha, alpha)'s concentration: positive, at most 100 (lambda's standard deviation is 0.035 there)."""
    return HParam(default, low=0.0, high=100.0, above=True, search=(0.1, 10.0), log=True)


@register("mixup")
class MixUp(Method):
    label = "MixUp"
    summary = "convex combination of image pairs and of their labels, lambda ~ Beta(1, 1)"
    mixes_images = True

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        return {"alpha": alpha(1.0)}

    def setup(self, data: TrainData, artifacts: dict[str, Path]) -> None:
        import torch
        super().setup(data, artifacts)
        alpha = torch.tensor(float(self.hp["alpha"]))
        self.beta = torch.distributions.Beta(alpha, alpha, validate_args=False)

    def augment(self, batch: Batch) -> Batch:
        import torch

        from benchmark.training.pipeline import mix_pairs
        lam = float(self.beta.sample())  # drawn on the host: no device sync
        perm = torch.randperm(len(batch.x), device=batch.x.device)
        return mix_pairs(batch, lam, perm)


@register("manifold_mixup")
class ManifoldMixUp(MixUp):
    label = "Manifold MixUp"
    summary = "MixUp of the hidden features at the input or after block 1 or 2 (one per batch), lambda ~ Beta(2, 2)"
    mixes_images = False
    points = 3  # the input, after the first block, after the second (fewer where the model has fewer)

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        return {"alpha": alpha(2.0)}

    def wrap_model(self, model: nn.Module) -> nn.Module:
        self.points = min(type(self).points, model.mixing_points)
        return model

    def augment(self, batch: Batch) -> Batch:
        import torch

        from benchmark.training.pipeline import FeatureMix, mix_targets
        lam = float(self.beta.sample())  # lambda and the point are drawn on the host: no device sync
        point = int(torch.randint(self.points, ()))
        perm = torch.randperm(len(batch.x), device=batch.x.device)
        return dataclasses.replace(batch, mix=FeatureMix(point, lam, perm), targets=mix_targets(batch.targets, lam, perm))
