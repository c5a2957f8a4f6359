"""Cutout and Random Erasing as batched tensor ops on normalised images."""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

from methods import register
from methods.base import Context, Method
from benchmark.pipeline import Batch


def square_mask(size: int, length: torch.Tensor | int, cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
    """[B, 1, size, size] bool: the square of side `length` centred at (cy, cx), clipped at the borders."""
    ar = torch.arange(size, device=cy.device)
    half = length // 2
    rows = (ar >= (cy - half)[:, None]) & (ar < (cy - half + length)[:, None])
    cols = (ar >= (cx - half)[:, None]) & (ar < (cx - half + length)[:, None])
    return (rows[:, :, None] & cols[:, None, :])[:, None]


def box_mask(size: int, start: torch.Tensor, extent: torch.Tensor) -> torch.Tensor:
    """[B, 1, size, size] bool: rows start[:, 0] to + extent[:, 0], columns start[:, 1] to + extent[:, 1]."""
    offset = torch.arange(size, device=start.device) - start[:, :, None]  # [B, 2, size]
    inside = (offset >= 0) & (offset < extent[:, :, None])
    return (inside[:, 0, :, None] & inside[:, 1, None, :])[:, None]


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

    def augment(self, batch: Batch) -> Batch:
        x = batch.x
        b, size, a = len(x), x.shape[-1], self.attempts
        hp = self.hp
        u = torch.rand(b, 2 * a + 3, device=x.device)  # every random number of the batch in one draw
        low = torch.tensor([[hp["area_min"] * size * size], [hp["ratio_min"]]], device=x.device)
        span = torch.tensor([[(hp["area_max"] - hp["area_min"]) * size * size], [1 / hp["ratio_min"] - hp["ratio_min"]]],
                            device=x.device)
        area, ratio = u[:, :2 * a].view(b, 2, a).mul(span).add_(low).unbind(1)
        hw = torch.stack([area * ratio, area / ratio], 1).sqrt_().round_()  # [B, 2, attempts]
        ok = (hw < size).all(1)
        first = ok.byte().argmax(1)  # the first attempt that fits, as in the original's retry loop
        erase = (u[:, 2 * a] < hp["p"]) & ok.any(1)
        extent = hw.gather(2, first.view(b, 1, 1).expand(b, 2, 1))[:, :, 0] * erase[:, None]  # 0 x 0: not erased
        start = u[:, 2 * a + 1:].mul(size + 1 - extent).floor_()
        noise = torch.empty_like(x).uniform_(-1, 1)  # U(0, 1) pixels, normalised
        return dataclasses.replace(batch, x=torch.where(box_mask(size, start, extent), noise, x))
