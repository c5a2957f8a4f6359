"""The training recipe of every dataset and profile, in one place.

Profile `paper` is the published ChimeraMix recipe (reference/chimeramix.md 7.1, 7.2, 7.6);
profile `quick` is the same code with a tiny model and few epochs, for tests and the CPU demo.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from benchmark.errors import UserError
from benchmark.spec import PROFILES


@dataclass(frozen=True)
class Recipe:
    model: str
    batch_size: int
    lr: float
    weight_decay: float
    epochs: int
    repeats_base: int  # an epoch is the subset repeated max(repeats_base // shots, 1) times
    pad: int  # reflect padding of the random crop
    momentum: float = 0.9
    nesterov: bool = True

    def repeats(self, shots: int) -> int:
        return max(self.repeats_base // shots, 1)

    def steps_per_epoch(self, shots: int, num_classes: int) -> int:
        return math.ceil(shots * num_classes * self.repeats(shots) / self.batch_size)

    def total_steps(self, shots: int, num_classes: int) -> int:
        return self.epochs * self.steps_per_epoch(shots, num_classes)


# ciFAIR/CIFAR (and every 32x32 set: digits, user folders): WRN-16-8, GEM's tuned values.
PAPER_32 = Recipe(model="wrn-16-8", batch_size=10, lr=4.6e-3, weight_decay=5.3e-3, epochs=200, repeats_base=500, pad=4)
# STL-10 (96x96): torchvision ResNet-50.
PAPER_96 = Recipe(model="resnet50", batch_size=16, lr=0.0074, weight_decay=4.1e-4, epochs=200, repeats_base=120, pad=12)
# quick: a 2-conv CNN, 12 epochs of at most 50 repeats; a larger lr suits the short schedule.
QUICK_32 = Recipe(model="cnn", batch_size=10, lr=0.02, weight_decay=5e-4, epochs=12, repeats_base=50, pad=4)
QUICK_96 = Recipe(model="cnn", batch_size=16, lr=0.02, weight_decay=5e-4, epochs=12, repeats_base=12, pad=12)


def recipe_for(dataset: str, profile: str) -> Recipe:
    if profile not in PROFILES:
        raise UserError(f"unknown profile '{profile}'; valid: {', '.join(PROFILES)}")
    large = dataset == "stl10"
    if profile == "paper":
        return PAPER_96 if large else PAPER_32
    return QUICK_96 if large else QUICK_32
