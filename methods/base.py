"""The method contract. A method may transform a batch (`augment`), replace the loss (`loss`),
change the model (`wrap_model`), use the whole training subset (`setup`), and carry an augment
policy. It knows nothing about grids, launchers or storage."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.errors import UserError
from benchmark.training.pipeline import Batch, TrainData
from benchmark.training.spec import RunSpec, StageSpec


@dataclass(frozen=True)
class Context:
    dataset: str
    num_classes: int
    image_size: int
    overrides: dict[str, Any] = field(default_factory=dict)
    profile: str = "paper"


class Method:
    label: ClassVar[str]  # the papers' row label
    summary: ClassVar[str]
    policy: ClassVar[str] = "none"  # autoaugment / trivialaugment for the policy methods

    def __init__(self, ctx: Context):
        self.ctx = ctx
        defaults = self.defaults(ctx)
        unknown = sorted(set(ctx.overrides) - set(defaults))
        if unknown:
            valid = ", ".join(defaults) or "none"
            raise UserError(f"unknown parameter '{unknown[0]}' for method {type(self).__name__}; valid: {valid}")
        self.hp = {**defaults, **{k: type(defaults[k])(v) for k, v in ctx.overrides.items()}}

    @classmethod
    def defaults(cls, ctx: Context) -> dict[str, Any]:
        """The method's tunable parameters and their defaults for this dataset."""
        return {}

    @classmethod
    def stage(cls, spec: RunSpec) -> StageSpec | None:
        """The stage (e.g. a generator) this run needs trained first, if any."""
        return None

    def setup(self, data: TrainData, artifact: Path | None) -> None:
        """Called once before training with the subset on the device and the stage's artifact."""
        self.data = data

    def wrap_model(self, model: nn.Module) -> nn.Module:
        return model

    def augment(self, batch: Batch) -> Batch:
        return batch

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(model(batch.x), batch.y)
