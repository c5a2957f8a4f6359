"""MixUp (Zhang et al. 2018): one lambda ~ Beta(alpha, alpha) per batch, partners by permutation;
the images and the targets are mixed, the loss is the cross-entropy of the mixed targets."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from methods import register
from methods.base import Context, Method

if TYPE_CHECKING:
    from benchmark.training.pipeline import Batch, TrainData


@register("mixup")
class MixUp(Method):
    label = "MixUp"
    summary = "convex combination of image pairs and of their labels, lambda ~ Beta(1, 1)"
    mixes_images = True

    @classmethod
    def defaults(cls, ctx: Context) -> dict[str, Any]:
        return {"alpha": 1.0}

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
