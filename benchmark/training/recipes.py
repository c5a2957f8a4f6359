"""The classifier's training recipes, in one place (stage kinds keep theirs beside their model, e.g.
methods/generator.py; the profiles that name them: benchmark/profiles.py).

The `paper` recipes are the published ChimeraMix recipe (reference/chimeramix.md 7.1, 7.2, 7.6);
`quick` is the same code with a tiny model and few epochs, for tests and the CPU demo; `medium` lies
between them: the quick CNN trained four times as long, for comparisons on a CPU (the default of
folder datasets there); `synermix` is the SynerMix code's recipe (reference/methods.md 1.2), for
32x32 sets only. A method may adapt its run's recipe (`Method.adapt_recipe`: another model,
balanced batches).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmark.hparams import HParam
from benchmark.spec import ALL_SHOTS, Shots, per_class

if TYPE_CHECKING:  # the planning commands read recipes without torch
    import torch
    from torch.optim.lr_scheduler import LRScheduler


@dataclass(frozen=True)
class Schedule:
    """How many steps a training of a subset takes: shared by the classifier and the generator."""

    batch_size: int
    epochs: int
    repeats_base: int  # an epoch is the subset repeated max(repeats_base // shots, 1) times

    def repeats(self, shots: int) -> int:
        return max(self.repeats_base // shots, 1)

    def epoch_steps(self, n_images: int, shots: int) -> int:
        """Steps per epoch of a subset of n_images (fewer than shots x classes where a class has fewer)."""
        return math.ceil(n_images * self.repeats(shots) / self.batch_size)

    def total_steps(self, shots: Shots, num_classes: int, pool_size: int = 0) -> int:
        """Steps of training a subset of `shots` per class, or (ALL_SHOTS) the pool of `pool_size` images."""
        n_images = pool_size if shots == ALL_SHOTS else shots * num_classes
        return self.epochs * self.epoch_steps(n_images, per_class(shots, n_images, num_classes))


@dataclass(frozen=True)
class StepDecay:
    """StepLR: the learning rate times `gamma` after every `epochs` epochs."""

    epochs: int
    gamma: float


@dataclass(frozen=True)
class Recipe(Schedule):
    model: str
    lr: float
    weight_decay: float
    pad: int  # reflect padding of the random crop
    momentum: float = 0.9
    nesterov: bool = True
    lr_decay: StepDecay | None = None  # None: cosine annealing to 0 over the whole training
    cutout: int = 0  # side of the black square cut out of every training image after crop and flip (0: none)
    sampler: str = "shuffle"  # how an epoch's order is cut into batches (benchmark.training.samplers)

    def lr_scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> LRScheduler:
        """The schedule, stepped after every training step."""
        import torch
        if self.lr_decay is None:
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.epochs * steps_per_epoch)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=self.lr_decay.epochs * steps_per_epoch,
                                               gamma=self.lr_decay.gamma)


def recipe_params(recipe: Recipe) -> dict[str, HParam]:
    """The recipe values a run may set (RunSpec.recipe), declared as the methods' hyperparameters
    are: the default (the recipe's own value), the valid range, and the range `tune` searches: the
    learning rate and the weight decay log-uniformly over a decade either side of the recipe's value
    (DEIC/GEM tune these two)."""
    def decade(value: float) -> tuple[float, float] | None:
        return (value / 10, value * 10) if value > 0 else None

    return {"lr": HParam(recipe.lr, low=0.0, high=10.0, above=True, search=decade(recipe.lr), log=True),
            "weight_decay": HParam(recipe.weight_decay, low=0.0, high=1.0, search=decade(recipe.weight_decay), log=True),
            "epochs": HParam(recipe.epochs, low=1, high=10_000),
            "batch_size": HParam(recipe.batch_size, low=1, high=4096)}


# ciFAIR/CIFAR (and every 32x32 set: digits, user folders): WRN-16-8, GEM's tuned values.
PAPER_32 = Recipe(model="wrn-16-8", batch_size=10, lr=4.6e-3, weight_decay=5.3e-3, epochs=200, repeats_base=500, pad=4)
# STL-10 (96x96): torchvision ResNet-50.
PAPER_96 = Recipe(model="resnet50", batch_size=16, lr=0.0074, weight_decay=4.1e-4, epochs=200, repeats_base=120, pad=12)
# quick: a 2-conv CNN, 12 epochs of at most 50 repeats; a larger lr suits the short schedule.
QUICK_32 = Recipe(model="cnn", batch_size=10, lr=0.02, weight_decay=5e-4, epochs=12, repeats_base=50, pad=4)
QUICK_96 = Recipe(model="cnn", batch_size=16, lr=0.02, weight_decay=5e-4, epochs=12, repeats_base=12, pad=12)
# SynerMix's CIFAR-100 recipe: ResNet-18 with a CIFAR stem, SGD without Nesterov, x0.5 every 10 of
# 120 epochs, Cutout 16, balanced batches, the subset once per epoch (its grid trains on all of CIFAR-100).
SYNERMIX_32 = Recipe(model="resnet18-cifar", batch_size=128, lr=0.1, weight_decay=5e-4, epochs=120, repeats_base=1,
                     pad=4, nesterov=False, lr_decay=StepDecay(epochs=10, gamma=0.5), cutout=16, sampler="balanced")
# medium: the quick CNN trained 4x as long (48 epochs): the cheapest schedule under which the
# papers' order (baseline < MixUp, baseline < ChimeraMix+Seg) came back on real 32-px images (issue
# 13); a WRN-16-2 costs ~30x the CNN's step on a CPU, beyond an hour for a 5-seed comparison.
MEDIUM_32 = Recipe(model="cnn", batch_size=10, lr=0.02, weight_decay=5e-4, epochs=48, repeats_base=50, pad=4)
MEDIUM_96 = Recipe(model="cnn", batch_size=16, lr=0.02, weight_decay=5e-4, epochs=48, repeats_base=12, pad=12)


# Assumed seconds per training step on a data-centre GPU at each model's usual batch size (the models: benchmark/training/models.py) (10 or 16
# images of 32 or 96 px, 128 for ResNet-18): batches this small keep the GPU launch-bound, so these
# are rough figures for estimates, not measurements (no GPU was at hand).
GPU_STEP_S: dict[str, float] = {"wrn-16-8": 0.010, "wrn-16-4": 0.008, "wrn-16-2": 0.006, "wrn-16-1": 0.005,
                                "resnet50": 0.015, "resnet18-cifar": 0.020, "cnn": 0.002, "tiny": 0.001,
                                "scattering-wrn-16-8": 0.010, "scattering-cnn": 0.003}


def classifier_step_key(recipe: Recipe, image_size: int, num_classes: int) -> str:
    """What decides the cost of a classifier's step: its model, batch, image size and classes."""
    return f"{recipe.model}:b{recipe.batch_size}:{image_size}px:{num_classes}c"
