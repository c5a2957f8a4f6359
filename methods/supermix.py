"""SuperMix (Dabouei et al., CVPR 2021; reference/methods.md 5): the mixed set, a stage made with
the subset's teacher, and the method that trains on it (the mixing itself: methods/supermix_mixing.py,
imported by the hooks that compute).

The teacher is the subset's teacher stage (methods/teacher.py: the baseline classifier of the same
subset and recipe), never a pretrained network. A stage of kind "supermix_set" mixes K = 2 images
(a batch and its cyclic shift) under masks optimised so that the teacher's prediction on the mix
matches target weights drawn from a Dirichlet over the two images' teacher labels, and keeps the
mixes whose teacher top-K labels are the target's. The `supermix` method trains on the
cross-entropy of its batch plus that of a batch of the set against the teacher's labels.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.profiles import recipe_for
from benchmark.spec import StageSpec
from benchmark.training.recipes import PAPER_32, PAPER_96, Schedule
from methods.base import Context, Method, small_images_only
from methods.registry import register, register_stage_kind
from methods.stage import StageKind
from methods.teacher import TeacherKind

if TYPE_CHECKING:
    import torch
    from torch import nn

    from benchmark.training.pipeline import Batch, TrainData

@dataclass(frozen=True)
class MixRecipe(Schedule):
    """How a mixed set is made: `epochs` passes over the subset repeated like the classifier's epoch,
    in batches of `batch_size`; every image is the first of one K-tuple per pass."""

    mask_size: int  # side of the mask variables before upsampling to the image
    sigma: float  # std, in mask cells, of the Gaussian smoothing of the gradient
    k: int = 2  # images per mix
    alpha: float = 3.0  # Dirichlet concentration of the target weights
    lambda_s: float = 25.0  # weight of the sparsity term mean|m (m - 1)|
    max_iter: int = 50  # (cost estimates assume every batch takes all: the demo's sets' batches all did)
    tol: float = 0.1  # a batch stops when at most this fraction of it is unfinished


# The reference's CIFAR-100 command (batch 128, masks 8x8, sigma 1) at 32 px, its ImageNet command
# (batch 16, 16x16, sigma 2) at 96 px. One pass over the subset repeated like the classifier's epoch
# tries about 50,000 mixes on ciFAIR-100 at any shots; with the half or more that are kept, each is
# drawn a few hundred times by the student, as in the reference (each of its 500,000 mixes once per
# student epoch). quick and medium: one pass without repeats (the demo's sets take seconds).
SUPERMIX_PAPER_32 = MixRecipe(batch_size=128, epochs=1, repeats_base=PAPER_32.repeats_base, mask_size=8, sigma=1.0)
SUPERMIX_PAPER_96 = MixRecipe(batch_size=16, epochs=1, repeats_base=PAPER_96.repeats_base, mask_size=16, sigma=2.0)
SUPERMIX_QUICK_32 = dataclasses.replace(SUPERMIX_PAPER_32, repeats_base=1)
SUPERMIX_QUICK_96 = dataclasses.replace(SUPERMIX_PAPER_96, repeats_base=1)


@register_stage_kind
class MixedSetKind(StageKind):
    """The SuperMix set of a subset, made with the subset's baseline teacher."""

    name = "supermix_set"
    label = "supermix set"
    profile_section = "supermix_set"
    recipes = {"paper": {32: SUPERMIX_PAPER_32, 96: SUPERMIX_PAPER_96},
               "quick": {32: SUPERMIX_QUICK_32, 96: SUPERMIX_QUICK_96},
               "medium": {32: SUPERMIX_QUICK_32, 96: SUPERMIX_QUICK_96}}
    implementation = "methods.supermix_mixing"

    def requires(self, stage: StageSpec) -> tuple[StageSpec, ...]:
        return (TeacherKind.spec(stage, method="baseline"),)

    def gpu_step_s(self, stage: StageSpec, recipe: MixRecipe) -> float:
        # one batch: max_iter x (two forwards and a backward of the teacher, WRN-16-8 at batch 128 or
        # ResNet-50 at 16, ~20 ms) (assumed, not measured)
        return recipe.max_iter * 0.020

    def step_key(self, stage: StageSpec, recipe: MixRecipe, image_size: int, num_classes: int) -> str:
        teacher = recipe_for(stage.profile, image_size).model  # the baseline teacher's model
        return (f"supermix_set:{teacher}:b{recipe.batch_size}:{image_size}px:{num_classes}c:w{recipe.mask_size}:"
                f"x{recipe.max_iter}")


@register("supermix")
class SuperMix(Method):
    label = "SuperMix"
    summary = ("cross-entropy of the batch plus that of a batch of the subset's SuperMix set (2 images mixed under "
               "masks fitted to a baseline teacher) against the teacher's labels")
    passes = 2  # the natural and the mixed batch
    figure = "benchmark.output.stage_samples:supermix_figure"
    figure_caption = ("pairs of training images, the masks fitted with the teacher (coloured by source), the mixes "
                      "with the teacher's top-2 classes, and images of the stored set")

    @classmethod
    def unsuitable(cls, ctx: Context) -> str | None:
        return small_images_only(ctx)

    def requires(self) -> tuple[StageSpec, ...]:
        return (MixedSetKind.spec(self.ctx),)

    def setup(self, data: TrainData, artifacts: dict[str, Path]) -> None:
        from methods.supermix_mixing import load_set
        super().setup(data, artifacts)
        self.mixed_images, self.mixed_labels = load_set(artifacts[MixedSetKind.name], data.labels.device)

    def augment(self, batch: Batch) -> Batch:
        """The batch followed by as many mixes, drawn uniformly from the set, with their own crop (of
        half the batch's padding, as the reference's transform of its set) and flip."""
        import torch

        from methods.supermix_mixing import mixed_batch
        x, y = mixed_batch(self.mixed_images, self.mixed_labels, len(batch.y), self.data.pad // 2)
        return dataclasses.replace(batch, x=torch.cat([batch.x, x]), y=torch.cat([batch.y, y]), targets=())

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """CE(natural half) + CE(mixed half), each its own forward pass (as the reference's student)."""
        import torch.nn.functional as F
        natural, mixed = batch.x.chunk(2)
        y_natural, y_mixed = batch.y.chunk(2)
        return F.cross_entropy(model(natural), y_natural) + F.cross_entropy(model(mixed), y_mixed)
