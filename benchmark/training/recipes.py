"""The classifier's training recipes, in one place (stage kinds keep theirs beside their model, e.g.
methods/generator.py; the profiles that name them: benchmark/profiles.py).

The `paper` recipes are the published ChimeraMix recipe (reference/chimeramix.md 7.1, 7.2, 7.6);
`quick` is the same code with a tiny model and few epochs, for tests and the CPU demo; `medium` lies
between them: the quick CNN trained four times as long, for comparisons on a CPU (the default of
folder datasets there); `synermix` is the SynerMix code's recipe (reference/methods.md 1.2) for
CIFAR-100, miniImageNet and the 224-px sets. A method may adapt its run's recipe
(`Method.adapt_recipe`: another model, balanced batches).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any
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
    # "pad": reflect padding `pad` + a random crop of the image size; "resized": torchvision's
    # RandomResizedCrop of the original image to the image size, tested on Resize + CenterCrop
    # (benchmark.training.resized_crop)
    crop: str = "pad"
    normalization: str = "half"  # "half": mean = std = 0.5; "imagenet": ImageNet's mean and std

    def to_dict(self) -> dict[str, Any]:
        """The recipe as a record stores it. The fields added after records existed are left out at
        their defaults, so that an earlier run's recipe reads as it always did."""
        d = dataclasses.asdict(self)
        for name in ADDED_FIELDS:
            if d[name] == Recipe.__dataclass_fields__[name].default:
                del d[name]
        return d

    def lr_scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> LRScheduler:
        """The schedule, stepped after every training step."""
        import torch
        if self.lr_decay is None:
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.epochs * steps_per_epoch)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=self.lr_decay.epochs * steps_per_epoch,
                                               gamma=self.lr_decay.gamma)


ADDED_FIELDS = ("crop", "normalization")


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
# miniImageNet (84 px, the 96-px recipe size): the same with RandomCrop(84, padding 12) and Cutout 32.
SYNERMIX_96 = dataclasses.replace(SYNERMIX_32, pad=12, cutout=32)
# Food-101, Oxford-IIIT Pet, Caltech-256 (and folder@SIZE from 160 px): torchvision's ResNet-18 with its
# ImageNet stem, RandomResizedCrop + flip, ImageNet normalisation. An epoch is the subset repeated up to
# 60 images per class (Caltech-256's training split): the whole sets go through once per epoch, as in
# the SynerMix code, and the few-shot subsets of the synermix_fewshot grid as often as Caltech-256's.
SYNERMIX_224 = Recipe(model="resnet18", batch_size=128, lr=0.1, weight_decay=5e-4, epochs=120, repeats_base=60,
                      pad=0, nesterov=False, lr_decay=StepDecay(epochs=10, gamma=0.5), sampler="balanced",
                      crop="resized", normalization="imagenet")
# paper at 224 px (folder@SIZE from 160 px on a GPU): the SynerMix recipe with the plain batches of the
# other paper recipes (the SynerMix methods balance their own).
PAPER_224 = dataclasses.replace(SYNERMIX_224, sampler="shuffle")
QUICK_224 = Recipe(model="cnn", batch_size=16, lr=0.02, weight_decay=5e-4, epochs=12, repeats_base=12, pad=0,
                   crop="resized", normalization="imagenet")
# medium: the quick CNN trained 4x as long (48 epochs): the cheapest schedule under which the
# papers' order (baseline < MixUp, baseline < ChimeraMix+Seg) came back on real 32-px images (issue
# 13); a WRN-16-2 costs ~30x the CNN's step on a CPU, beyond an hour for a 5-seed comparison.
MEDIUM_32 = Recipe(model="cnn", batch_size=10, lr=0.02, weight_decay=5e-4, epochs=48, repeats_base=50, pad=4)
MEDIUM_96 = Recipe(model="cnn", batch_size=16, lr=0.02, weight_decay=5e-4, epochs=48, repeats_base=12, pad=12)
MEDIUM_224 = dataclasses.replace(QUICK_224, epochs=48)


# Assumed seconds per training step on a data-centre GPU at each model's usual batch size (the models: benchmark/training/models.py) (10 or 16
# images of 32 or 96 px, 128 for ResNet-18): batches this small keep the GPU launch-bound, so these
# are rough figures for estimates, not measurements (no GPU was at hand).
GPU_STEP_S: dict[str, float] = {"wrn-16-8": 0.010, "wrn-16-4": 0.008, "wrn-16-2": 0.006, "wrn-16-1": 0.005,
                                "resnet50": 0.015, "resnet18-cifar": 0.020, "cnn": 0.002, "tiny": 0.001,
                                "scattering-wrn-16-8": 0.010, "scattering-cnn": 0.003, "resnet18": 0.030}
# A model whose step at some image size is far from its usual one: ResNet-18 with the CIFAR stem on
# miniImageNet's 84-px images computes 6.9x its 32-px step (3.9 GFLOPs per image, twice the ImageNet
# stem's at 224 px).
GPU_STEP_S_AT: dict[tuple[str, int], float] = {("resnet18-cifar", 84): 0.060}


def gpu_step_seconds(recipe: Recipe, image_size: int) -> float:
    """The assumed GPU seconds of one step of the recipe's model on images of `image_size`."""
    return GPU_STEP_S_AT.get((recipe.model, image_size), GPU_STEP_S[recipe.model])


def classifier_step_key(recipe: Recipe, image_size: int, num_classes: int) -> str:
    """What decides the cost of a classifier's step: its model, batch, image size and classes."""
    return f"{recipe.model}:b{recipe.batch_size}:{image_size}px:{num_classes}c"
