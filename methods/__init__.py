"""The method registry: name -> Method class. One module per method family."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

import torch

from benchmark.errors import UserError
from benchmark.training.spec import StageSpec
from methods.base import Context, Method

METHODS: dict[str, type[Method]] = {}


class StageTrainer(Protocol):
    def __call__(self, stage: StageSpec, images: torch.Tensor, labels: torch.Tensor, device: torch.device,
                 artifact: Path, checkpoint: Path, checkpoint_every_s: float,
                 on_epoch: Callable[[int, int], None] | None) -> dict: ...


STAGES: dict[str, StageTrainer] = {}  # stage kind -> function that trains it and writes `artifact`


def register(name: str) -> Callable[[type[Method]], type[Method]]:
    def add(cls: type[Method]) -> type[Method]:
        METHODS[name] = cls
        return cls

    return add


def register_stage(kind: str) -> Callable[[StageTrainer], StageTrainer]:
    def add(fn: StageTrainer) -> StageTrainer:
        STAGES[kind] = fn
        return fn

    return add


def get_method(name: str) -> type[Method]:
    if name not in METHODS:
        raise UserError(f"unknown method '{name}'; valid: {', '.join(METHODS)}")
    return METHODS[name]


from methods import standard, erasing, cosine, mixup, generator, generative  # noqa: E402,F401  (they register themselves)

__all__ = ["METHODS", "STAGES", "Context", "Method", "get_method", "register", "register_stage"]
