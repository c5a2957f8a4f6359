"""Cutout (a batched mask) and Random Erasing (one in-place noise fill per erased image) on
normalised images."""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from methods.registry import register
from benchmark.errors import UserError
from benchmark.profiles import LARGE_FROM
from methods.base import Context, HParam, Method

if TYPE_CHECKING:
    from benchmark.training.pipeline import Batch


@register("cutout")
class Cutout(Method):
    label = "Cutout"
    summary = ("one zeroed square per image (16 px on 32x32 10-class, 8 px on 100-class, 24 px on STL-10, a quarter of "
               "the side from 160 px)")

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        if ctx.image_size >= LARGE_FROM:
            length = ctx.image_size // 4  # as STL-10's 24 of 96 (no paper runs Cutout at 224 px)
        else:
            length = 24 if ctx.image_size >= 96 else 8 if ctx.num_classes >= 100 else 16
        return {"length": HParam(length, low=1, high=ctx.image_size)}

    def augment(self, batch: Batch) -> Batch:
        from benchmark.training.pipeline import random_squares
        return dataclasses.replace(batch, x=batch.x.masked_fill(random_squares(batch.x, self.hp["length"]), 0.0))


@register("random_erasing")
class RandomErasing(Method):
    label = "Random Erasing"
    summary = "with p 0.5 a random box (area 0.02-0.4, aspect 0.3-1/0.3) filled with uniform noise"
    attempts = 10

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        return {"p": HParam(0.5, low=0.0, high=1.0), "area_min": HParam(0.02, low=0.0, high=1.0, above=True),
                "area_max": HParam(0.4, low=0.0, high=1.0, above=True),
                "ratio_min": HParam(0.3, low=0.0, high=1.0, above=True)}

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        if self.hp["area_min"] > self.hp["area_max"]:
            raise UserError(f"parameter area_min: {self.hp['area_min']} is more than area_max {self.hp['area_max']}; "
                            "valid: area_min <= area_max")

    def box(self, u: list[float], size: int) -> tuple[int, int, int, int] | None:
        """(top, left, height, width) of the box that the uniforms `u` draw, or None (not erased):
        u[2a] decides whether to erase, u[:a] and u[a:2a] are the attempts' areas and aspect ratios,
        u[2a+1:] the position; the first attempt that fits is taken, as in the original's retry loop."""
        a, hp = self.attempts, self.hp
        if u[2 * a] >= hp["p"]:
            return None
        for area_u, ratio_u in zip(u[:a], u[a:2 * a]):
            area = size * size * (hp["area_min"] + (hp["area_max"] - hp["area_min"]) * area_u)
            ratio = hp["ratio_min"] + (1 / hp["ratio_min"] - hp["ratio_min"]) * ratio_u
            h, w = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
            if h < size and w < size:
                return math.floor(u[2 * a + 1] * (size + 1 - h)), math.floor(u[2 * a + 2] * (size + 1 - w)), h, w
        return None

    def augment(self, batch: Batch) -> Batch:
        # The boxes are drawn on the host with torch's CPU generator, and only the boxes' pixels get
        # noise: one in-place fill per erased image, no full-size noise or mask, no device sync.
        import torch
        x = batch.x.clone()
        size = x.shape[-1]
        for i, u in enumerate(torch.rand(len(x), 2 * self.attempts + 3).tolist()):
            box = self.box(u, size)
            if box is not None:
                top, left, h, w = box
                self.data.normalization.noise_(x[i, :, top:top + h, left:left + w])  # U(0, 1) pixels, normalised
        return dataclasses.replace(batch, x=x)
