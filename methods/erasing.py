"""Cutout (a batched mask) and Random Erasing (one in-place noise fill per erased image) on
normalised images."""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from methods import register
from methods.base import Context, Method

if TYPE_CHECKING:
    import torch

    from benchmark.training.pipeline import Batch


def square_mask(size: int, length: torch.Tensor | int, cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
    """[B, 1, size, size] bool: the square of side `length` centred at (cy, cx), clipped at the borders."""
    import torch
    ar = torch.arange(size, device=cy.device)
    half = length // 2
    rows = (ar >= (cy - half)[:, None]) & (ar < (cy - half + length)[:, None])
    cols = (ar >= (cx - half)[:, None]) & (ar < (cx - half + length)[:, None])
    return (rows[:, :, None] & cols[:, None, :])[:, None]


@register("cutout")
class Cutout(Method):
    label = "Cutout"
    summary = "one zeroed square per image (16 px on 32x32 10-class, 8 px on 100-class, 24 px on STL-10)"

    @classmethod
    def defaults(cls, ctx: Context) -> dict[str, Any]:
        if ctx.image_size >= 96:
            return {"length": 24}
        return {"length": 8 if ctx.num_classes >= 100 else 16}

    def augment(self, batch: Batch) -> Batch:
        import torch
        b, size = len(batch.x), batch.x.shape[-1]
        cy = torch.randint(0, size, (b,), device=batch.x.device)
        cx = torch.randint(0, size, (b,), device=batch.x.device)
        mask = square_mask(size, self.hp["length"], cy, cx)
        return dataclasses.replace(batch, x=batch.x.masked_fill(mask, 0.0))


@register("random_erasing")
class RandomErasing(Method):
    label = "Random Erasing"
    summary = "with p 0.5 a random box (area 0.02-0.4, aspect 0.3-1/0.3) filled with uniform noise"
    attempts = 10

    @classmethod
    def defaults(cls, ctx: Context) -> dict[str, Any]:
        return {"p": 0.5, "area_min": 0.02, "area_max": 0.4, "ratio_min": 0.3}

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
                x[i, :, top:top + h, left:left + w].uniform_(-1, 1)  # U(0, 1) pixels, normalised
        return dataclasses.replace(batch, x=x)
