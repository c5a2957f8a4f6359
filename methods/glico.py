"""GLICO (Azuri & Weinshall; reference/methods.md 2): the stage kind that fits its latent generator,
its recipe, and the method that samples from it (the networks and the fitting: methods/glico_net.py,
imported by the hooks that compute).

A stage of kind "glico" fits, on the training subset only, one latent code per image (512-d,
projected onto the unit sphere after every step) and a generator that reconstructs each image from
its code and a 100-d noise code, with an auxiliary classifier on the reconstructions. The `glico`
method replaces the batch (p_gen 0.5) by images generated from each sample's latent slerped towards
the latent of a random image of its class.

The reference's perceptual loss (ImageNet-pretrained VGG16) is replaced by pixel L1 plus the
Laplacian-pyramid L1 of the ChimeraMix generator, and its transductive fitting on test and
unlabelled images is left out: nothing here sees anything but the subset.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.spec import StageSpec
from benchmark.training.recipes import Schedule
from methods.base import BatchReplacement, Context, small_images_only
from methods.registry import register, register_stage_kind
from methods.stage import StageKind

if TYPE_CHECKING:
    import torch

    from benchmark.training.pipeline import Batch, TrainData

RATIOS = (0.1, 0.2, 0.3, 0.4)  # slerp ratios, one drawn per batch


@dataclass(frozen=True)
class GlicoRecipe(Schedule):
    image_size: int  # the generator's output size
    hidden: int = 1024  # width of the generator's first linear layer
    channels: int = 128  # channels of its image_size/4 feature map (halved by the first transposed conv)
    classifier_width: int = 64  # filters of the auxiliary classifier's convs
    lr: float = 1e-3  # Adam of the latents; the generator's is lr x generator_factor
    generator_factor: float = 0.7
    decay_epochs: int = 70  # both lrs x decay_rate every decay_epochs epochs
    decay_rate: float = 0.5
    gamma: float = 0.5  # weight of the auxiliary classification loss
    classifier_lr: float = 0.1  # SGD, momentum 0.9
    classifier_weight_decay: float = 1e-4


# The reference's defaults (train_glico.py): 202 epochs, batch 128 (STL-10: 32), lr 1e-3 halved
# every 70 epochs; an epoch is the subset repeated like the ChimeraMix generator's (500 // shots,
# STL-10 30 // shots), since the reference's epochs also went over thousands of transductive images.
GLICO_PAPER_32 = GlicoRecipe(image_size=32, batch_size=128, epochs=202, repeats_base=500)
GLICO_PAPER_96 = GlicoRecipe(image_size=96, batch_size=32, epochs=202, repeats_base=30)
# quick: a narrow generator, STL-10 at 48 px, a few hundred steps at a larger lr (the demo's 4
# stages take seconds on a 2-core CPU).
GLICO_QUICK_32 = GlicoRecipe(image_size=32, hidden=256, channels=32, classifier_width=8, batch_size=32, epochs=30,
                             repeats_base=40, lr=1e-2, decay_epochs=20)
GLICO_QUICK_96 = dataclasses.replace(GLICO_QUICK_32, image_size=48, repeats_base=12)
# medium: quick's trained four times as long, as the medium profile's classifier and generator.
GLICO_MEDIUM_32 = dataclasses.replace(GLICO_QUICK_32, epochs=120, decay_epochs=80)
GLICO_MEDIUM_96 = dataclasses.replace(GLICO_QUICK_96, epochs=120, decay_epochs=80)


@register_stage_kind
class GlicoKind(StageKind):
    """The GLICO latents and generator of a subset."""

    name = "glico"
    label = "glico"
    profile_section = "glico"
    recipes = {"paper": {32: GLICO_PAPER_32, 96: GLICO_PAPER_96}, "quick": {32: GLICO_QUICK_32, 96: GLICO_QUICK_96},
               "medium": {32: GLICO_MEDIUM_32, 96: GLICO_MEDIUM_96}}
    implementation = "methods.glico_net"

    def gpu_step_s(self, stage: StageSpec, recipe: GlicoRecipe) -> float:
        # generator + classifier step, batch 128 at 32 px (launch-bound) or 32 at 96 px (assumed, not measured)
        return 0.005 if recipe.image_size <= 32 else 0.015

    def step_key(self, stage: StageSpec, recipe: GlicoRecipe, image_size: int, num_classes: int) -> str:
        r = recipe
        return f"glico:b{r.batch_size}:{r.image_size}px:h{r.hidden}:c{r.channels}:{num_classes}c"


@register("glico")
class Glico(BatchReplacement):
    label = "GLICO"
    summary = ("generated batches (p_gen): each sample's GLICO latent slerped towards a random same-class latent "
               "(ratio 0.1-0.4 per batch), decoded")
    figure = "benchmark.output.stage_samples:glico_figure"
    figure_caption = "training images, their decoded latents slerped towards a same-class image's latent, and that image"

    @classmethod
    def unsuitable(cls, ctx: Context) -> str | None:
        return small_images_only(ctx)

    def requires(self) -> tuple[StageSpec, ...]:
        return (GlicoKind.spec(self.ctx),)

    def setup(self, data: TrainData, artifacts: dict[str, Path]) -> None:
        import torch

        from methods.generator_net import SameClass
        from methods.glico_net import load_glico
        super().setup(data, artifacts)
        self.generator, self.latents, labels = load_glico(artifacts[GlicoKind.name], data.labels.device)
        if not torch.equal(labels, data.labels):
            raise RuntimeError(f"the GLICO artifact {artifacts[GlicoKind.name]} was fitted on another subset")
        self.same_class = SameClass(data.labels)

    def replace(self, batch: Batch) -> Batch:
        import torch

        from methods.glico_net import slerped_images
        ratio = RATIOS[int(torch.randint(len(RATIOS), ()))]  # drawn on the host: no device sync
        partners = self.same_class.partners(batch.y, 1)[:, 0]
        x = slerped_images(self.generator, self.latents, batch.idx, partners, ratio, self.ctx.image_size)
        return dataclasses.replace(batch, x=x)
