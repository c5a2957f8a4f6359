"""MixUp (Zhang et al. 2018): one lambda ~ Beta(alpha, alpha) per batch, partners by permutation."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from methods import register
from methods.base import Context, Method
from benchmark.training.pipeline import Batch


@register("mixup")
class MixUp(Method):
    label = "MixUp"
    summary = "convex combination of image pairs and of their losses, lambda ~ Beta(1, 1)"

    @classmethod
    def defaults(cls, ctx: Context) -> dict[str, Any]:
        return {"alpha": 1.0}

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        alpha = torch.tensor(float(self.hp["alpha"]))
        self.beta = torch.distributions.Beta(alpha, alpha, validate_args=False)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        lam = float(self.beta.sample())  # drawn on the host: no device sync
        perm = torch.randperm(len(batch.x), device=batch.x.device)
        out = model(lam * batch.x + (1 - lam) * batch.x[perm])
        return lam * F.cross_entropy(out, batch.y) + (1 - lam) * F.cross_entropy(out, batch.y[perm])
