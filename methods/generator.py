"""The generator stage kind of ChimeraMix and HydraMix, and its recipes (configs beside the model:
the networks, losses and training are in methods/generator_net.py).

The generator is trained once per (dataset, shots, seed, mask, N, profile) as a stage of kind
"generator", and its artifact is loaded by the classifier runs that need it.
"""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.spec import StageSpec
from benchmark.training.recipes import Schedule
from methods.registry import register_stage_kind
from methods.stage import StageKind


@dataclass(frozen=True)
class GeneratorRecipe(Schedule):
    image_size: int  # the generator's working size; the encoder's features are image_size // 4
    features: int  # channels of the first encoder conv (x2, x4 after the two strided convs)
    milestones: tuple[int, ...]  # epochs at which the learning rate is multiplied by gamma
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    gamma: float = 0.2
    reconstruction_weight: float = 1000.0


# reference/chimeramix.md 7.5: 32-px sets are upsampled to 64 px (bilinear); STL-10 stays at 96 px
# with batch 8 and 30 repeats.
GENERATOR_PAPER_32 = GeneratorRecipe(image_size=64, features=64, batch_size=64, epochs=200,
                                     milestones=(60, 120, 160), repeats_base=500)
GENERATOR_PAPER_96 = GeneratorRecipe(image_size=96, features=64, batch_size=8, epochs=200,
                                     milestones=(60, 120, 160), repeats_base=30)
# quick: width 8, no upsampling at 32 px (8x8 features), 150 steps of 8 at a larger lr (the demo's
# 12 generators take about 2 minutes of a 2-core CPU).
GENERATOR_QUICK_32 = GeneratorRecipe(image_size=32, features=8, batch_size=8, epochs=3,
                                     milestones=(2,), repeats_base=40, lr=4e-3)
GENERATOR_QUICK_96 = GeneratorRecipe(image_size=48, features=8, batch_size=8, epochs=3,
                                     milestones=(2,), repeats_base=12, lr=4e-3)
# medium: the quick generator trained 4x as long (600 steps of 8 at 5 shots), as the medium classifier.
GENERATOR_MEDIUM_32 = GeneratorRecipe(image_size=32, features=8, batch_size=8, epochs=12,
                                      milestones=(8,), repeats_base=40, lr=4e-3)
GENERATOR_MEDIUM_96 = GeneratorRecipe(image_size=48, features=8, batch_size=8, epochs=12,
                                      milestones=(8,), repeats_base=12, lr=4e-3)


@register_stage_kind
class GeneratorKind(StageKind):
    """The ChimeraMix / HydraMix generator of a subset, for one mask rule and N (the stage's params)."""

    name = "generator"
    label = "generator"
    profile_section = "generator"
    params = ("mask", "n_images")
    recipes = {"paper": {32: GENERATOR_PAPER_32, 96: GENERATOR_PAPER_96},
               "quick": {32: GENERATOR_QUICK_32, 96: GENERATOR_QUICK_96},
               "medium": {32: GENERATOR_MEDIUM_32, 96: GENERATOR_MEDIUM_96}}
    implementation = "methods.generator_net"

    def gpu_step_s(self, stage: StageSpec, recipe: GeneratorRecipe) -> float:
        return 0.050  # generator + discriminator step, batch 64 at 64 px (assumed, not measured)

    def step_key(self, stage: StageSpec, recipe: GeneratorRecipe, image_size: int, num_classes: int) -> str:
        params = dict(stage.params)
        return (f"generator:{recipe.features}f:b{recipe.batch_size}:{recipe.image_size}px:{params['mask']}:"
                f"n{params['n_images']}")
