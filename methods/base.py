"""The method contract, in the spirit of DomainBed's `Algorithm`: a method is a class with a
label, a summary and a few hooks, and knows nothing about grids, launchers or storage.

- `hparams(ctx)`: every hyperparameter, declared once as an HParam: its default for this dataset,
  the values it may take, and the range `tune` may search. A run's overrides are coerced to the
  default's type and checked against the range (one line naming the value and the valid range);
  the run id hashes only the values that differ from the defaults.
- `adapt_recipe(recipe, ctx)`: the recipe its runs train with, from their profile's (another model,
  another batch sampler); unchanged by default.
- `requires()`: the stages (orchestration's word for work trained once and shared, e.g. a generator
  or a teacher; see methods/stage.py) that must be trained before this run, as StageSpecs.
- `setup(data, artifacts)`: once before training, with the subset on the device and the artifact
  of each required stage (by stage kind).
- `wrap_model(model)`: change the classifier (an extra head, a front end).
- `augment(batch)`: transform or replace a batch; mixing methods mix here: images, soft targets
  (`Batch.targets`) and hidden features at a mixing point of the classifier (`Batch.mix`).
- `loss(model, batch)`: the training loss; by default the cross-entropy of the batch's targets.
- `made(batch)`: the images the method makes of a batch, for the analyses (FID, CLIP Synset
  Entropy): what `augment` makes; a batch replacement always replaces.
- `passes`: how many forward-backward passes of the classifier one step makes (2 for SuperMix's
  natural and mixed batches); the cost model multiplies the step time by it.
- `mixes_images`: whether `made` makes new images (the analyses offer such methods as image sets).
- `policy`: the augment policy the method always applies (AutoAugment, TrivialAugment), or "none".
- `figure`, `figure_caption`: the `samples` figure of the method's images ("module:function", e.g.
  benchmark/output/samples.py's `composition_figure`) and its caption in reports; None: none.
- `unsuitable(ctx)` (a classmethod, torch-free): why the method cannot run in this context (its
  dataset's classes or image size, the shots), or None. A selection without a named grid
  (`run --datasets ... --methods all`) leaves such runs out with this reason, one line each.

A method's __init__ stays cheap, needs no torch and draws no random number (the plan constructs
every run's method once to resolve it, the planning commands do not import torch, and the engine
trains a copy of that object); what needs the data or torch goes into `setup`.

A worked example, a MixUp with its lambda fixed per run (in a plug-in package: docs/methods.md):

    import torch

    from benchmark.training.pipeline import mix_pairs
    from methods.base import HParam, Method
    from methods.registry import register

    @register("fixed_mixup")
    class FixedMixUp(Method):
        label = "MixUp (fixed lambda)"
        summary = "convex combination of image pairs with a constant lambda"

        @classmethod
        def hparams(cls, ctx):
            return {"lam": HParam(0.7, low=0.0, high=1.0)}

        def augment(self, batch):
            perm = torch.randperm(len(batch.x), device=batch.x.device)
            return mix_pairs(batch, self.hp["lam"], perm)

`register` puts it in the registry when its module is imported: a built-in family's module is listed
in methods/__init__.py, a plug-in's is named by its entry point (methods/plugins.py).
`python -m benchmark run --methods fixed_mixup ...` then trains it; the report labels a run with
lam = 0.5 "MixUp (fixed lambda) (lam=0.5)".
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from benchmark.errors import UserError
from benchmark.hparams import HParam, coerce  # noqa: F401  the contract's vocabulary, imported from here
from benchmark.spec import Shots, StageSpec

if TYPE_CHECKING:  # the planning commands import methods without torch; the hooks that compute import it
    import torch
    from torch import nn

    from benchmark.training.pipeline import Batch, TrainData
    from benchmark.training.recipes import Recipe


@dataclass(frozen=True)
class Context:
    """What a method knows about its run."""

    dataset: str
    num_classes: int
    image_size: int
    shots: Shots  # or ALL_SHOTS, the whole training pool
    seed: int
    profile: str = "paper"
    augment: str = "none"  # the run's augment policy (AutoAugment / TrivialAugment on top of the method)
    overrides: dict[str, Any] = field(default_factory=dict)


class Method:
    label: ClassVar[str]  # the papers' row label
    summary: ClassVar[str]
    policy: ClassVar[str] = "none"  # autoaugment / trivialaugment for the policy methods
    mixes_images: ClassVar[bool] = False  # `made` makes new images (the analyses' image sets)
    passes: ClassVar[int] = 1  # forward-backward passes of the classifier per step (the cost model's multiplier)
    figure: ClassVar[str | None] = None  # "module:function" that draws the `samples` figure of its images
    figure_caption: ClassVar[str] = ""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.hp = self.resolve(ctx)

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        """The method's hyperparameters for this dataset: defaults, valid ranges, search ranges."""
        return {}

    @classmethod
    def defaults(cls, ctx: Context) -> dict[str, Any]:
        return {name: p.default for name, p in cls.hparams(ctx).items()}

    @classmethod
    def adapt_recipe(cls, recipe: Recipe, ctx: Context) -> Recipe:
        """The recipe this method's runs train with, from their profile's."""
        return recipe

    @classmethod
    def unsuitable(cls, ctx: Context) -> str | None:
        """Why a run of this method in this context makes no sense (e.g. "mixes images of one class:
        1 shot has none to mix"), or None; read without torch, before anything is built."""
        return None

    @classmethod
    def resolve(cls, ctx: Context) -> dict[str, Any]:
        """The defaults with the context's overrides, coerced and checked against their ranges."""
        declared = cls.hparams(ctx)
        unknown = sorted(set(ctx.overrides) - set(declared))
        if unknown:
            valid = ", ".join(declared) or "none"
            raise UserError(f"unknown parameter '{unknown[0]}' for method {cls.__name__}; valid: {valid}")
        return {name: p.check(name, ctx.overrides[name]) if name in ctx.overrides else p.default
                for name, p in declared.items()}

    @classmethod
    def policy_for(cls, augment: str) -> str:
        """The augment policy a run of this method applies: the run's, or the method's own."""
        if cls.policy != "none" and augment not in ("none", cls.policy):
            raise UserError(f"method {cls.__name__} already applies {cls.policy}; augment '{augment}' cannot be added")
        return augment if augment != "none" else cls.policy

    def requires(self) -> tuple[StageSpec, ...]:
        """The stages this run needs trained first (orchestration trains each once)."""
        return ()

    def setup(self, data: TrainData, artifacts: dict[str, Path]) -> None:
        """Called once before training with the subset on the device and the required stages'
        artifacts by stage kind."""
        self.data = data

    def wrap_model(self, model: nn.Module) -> nn.Module:
        return model

    def augment(self, batch: Batch) -> Batch:
        return batch

    def made(self, batch: Batch) -> Batch:
        """The images the method makes of a batch (the analyses' image sets)."""
        return self.augment(batch)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        from benchmark.training.pipeline import mixed_cross_entropy
        logits = model(batch.x) if batch.mix is None else model(batch.x, mix=batch.mix)
        return mixed_cross_entropy(logits, batch.targets)


def small_images_only(ctx: Context) -> str | None:
    """Why a method made for the 32- and 96-px recipes (crops of the padded subset, stages trained at
    those sizes) cannot run on images that take the 224-px recipes; None where it can."""
    from benchmark.profiles import LARGE_FROM
    if ctx.image_size >= LARGE_FROM:
        return f"made for images below {LARGE_FROM} px (its crops, its stages); these are {ctx.image_size} px"
    return None


class BatchReplacement(Method, ABC):
    """A method that replaces the whole batch, with probability p_gen per step, by images it makes
    (ChimeraMix, HydraMix, GLICO). `perf` times both kinds of batch; the analyses draw made ones."""

    mixes_images = True

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        return {"p_gen": HParam(0.5, low=0.0, high=1.0, search=(0.1, 0.9))}

    def augment(self, batch: Batch) -> Batch:
        import torch
        if not bool(torch.rand(()) < self.hp["p_gen"]):  # drawn on the host: no device sync
            return batch
        return self.replace(batch)

    def made(self, batch: Batch) -> Batch:
        return self.replace(batch)

    @abstractmethod
    def replace(self, batch: Batch) -> Batch:
        """The batch's replacement: made images, labelled with the batch's classes."""
