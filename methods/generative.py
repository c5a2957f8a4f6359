"""ChimeraMix (Grid, Seg), HydraMix, and their pixel-space ablations (GridMix, SegMix, HydraMix
without generator).

With probability p_gen per training step the whole batch is replaced by compositions of N images
of the same class: every sample of the batch is the first source, its N - 1 partners are drawn
from its class in the subset and augmented like the batch, and the composition is labelled with
the class. The generator methods mix encoder features and decode them (reference/chimeramix.md
7.6); the ablations mix the pixels with the same masks (the reference's mix_direct).
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from benchmark.spec import StageSpec
from methods.base import BatchReplacement, Context, HParam, small_images_only
from methods.generator import GeneratorKind
from methods.registry import register

if TYPE_CHECKING:
    import torch

    from benchmark.training.pipeline import Batch, TrainData

HYDRAMIX_IMAGES = 4  # our choice of N for HydraMix (reference/hydramix.md)
MAX_IMAGES = 8  # the sample figure has a colour for each of 8 sources


class Composition(BatchReplacement, ABC):
    """Batch replacement by compositions; subclasses choose the mask and how sources are mixed."""

    mask: ClassVar[str]
    figure = "benchmark.output.samples:composition_figure"
    figure_caption = "source images, masks (coloured by source) and the compositions they give"

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        if cls.mask == "seg_assign":  # the only rule that mixes N images; the others mix 2
            return {**super().hparams(ctx), "n_images": HParam(HYDRAMIX_IMAGES, low=2, high=MAX_IMAGES)}
        return super().hparams(ctx)

    @classmethod
    def unsuitable(cls, ctx: Context) -> str | None:
        if ctx.shots == 1:
            return "composes images of one class, and 1 shot per class gives it no two to compose"
        return small_images_only(ctx)

    @property
    def n_images(self) -> int:
        """N, the number of images mixed."""
        return self.hp.get("n_images", 2)

    @abstractmethod
    def mask_size(self) -> int:
        """The side of the masks: the image's (pixel space) or the generator's feature grid."""

    @abstractmethod
    def render(self, sources: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Compositions [B, 3, H, W] of sources [B, N, 3, H, W] under masks [B, N, h, w]."""

    def setup(self, data: TrainData, artifacts: dict[str, Path]) -> None:
        from methods.generator_net import Composer
        super().setup(data, artifacts)
        self.composer = Composer(data, self.mask, self.n_images, self.mask_size(), self.ctx.image_size)

    def replace(self, batch: Batch) -> Batch:
        import torch
        sources = self.composer.sources(batch)
        x = self.render(torch.stack([s.x for s in sources], 1), self.composer.masks(sources))
        return dataclasses.replace(batch, x=x)


class PixelComposition(Composition):
    """The masks applied to the pixels at the classifier's image size (no generator, no stage)."""

    def mask_size(self) -> int:
        return self.ctx.image_size

    def render(self, sources: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        from methods.masks import mix
        return mix(sources, masks)


class GeneratorComposition(Composition):
    """The masks applied to the generator's encoder features; needs the generator stage."""

    def requires(self) -> tuple[StageSpec, ...]:
        return (GeneratorKind.spec(self.ctx, mask=self.mask, n_images=self.n_images),)

    def setup(self, data: TrainData, artifacts: dict[str, Path]) -> None:
        from methods.generator_net import load_generator
        self.generator = load_generator(artifacts[GeneratorKind.name], data.labels.device)
        super().setup(data, artifacts)

    def mask_size(self) -> int:
        return self.generator.mask_size

    def render(self, sources: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        import torch

        from benchmark.training.models import bf16_autocast
        from methods.generator_net import resize
        size = sources.shape[-1]
        device = sources.device
        with torch.inference_mode(), bf16_autocast(device, native_cpu=True):
            x = resize(sources.flatten(0, 1), self.generator.image_size).unflatten(0, sources.shape[:2])
            out = resize(self.generator.compose(x, masks).float(), size)
        return out.clone()  # a normal tensor again, usable by autograd


@register("chimeramix_grid")
class ChimeraMixGrid(GeneratorComposition):
    label = "ChimeraMix+Grid"
    summary = "generated batches (p_gen): features of 2 same-class images mixed by a random 4x4 grid, decoded"
    mask = "grid"


@register("chimeramix_seg")
class ChimeraMixSeg(GeneratorComposition):
    label = "ChimeraMix+Seg"
    summary = "generated batches (p_gen): features of 2 same-class images mixed along Felzenszwalb segments, decoded"
    mask = "seg_range"


@register("hydramix")
class HydraMix(GeneratorComposition):
    label = "HydraMix"
    summary = "generated batches (p_gen): features of n_images same-class images mixed by segments, decoded"
    mask = "seg_assign"


@register("gridmix")
class GridMix(PixelComposition):
    label = "GridMix"
    summary = "batches (p_gen) of 2 same-class images mixed in pixel space by a random 4x4 grid"
    mask = "grid"


@register("segmix")
class SegMix(PixelComposition):
    label = "SegMix"
    summary = "batches (p_gen) of 2 same-class images mixed in pixel space along Felzenszwalb segments"
    mask = "seg_range"


@register("hydramix_direct")
class HydraMixDirect(PixelComposition):
    label = "HydraMix (no generator)"
    summary = "batches (p_gen) of n_images same-class images mixed in pixel space by segments"
    mask = "seg_assign"
