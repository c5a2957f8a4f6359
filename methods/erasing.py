"""Cutout and Random Erasing as batched tensor ops on normalised images."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
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
        # The boxes are drawn on the host (torch's CPU generator, a few numpy ops on [B, attempts]):
        # tens of tiny device ops cost more than the pixels, and the step needs no device sync.
        u = torch.rand(b, 2 * a + 3).numpy().astype(np.float64)
        area = size * size * (hp["area_min"] + (hp["area_max"] - hp["area_min"]) * u[:, :a])
        ratio = hp["ratio_min"] + (1 / hp["ratio_min"] - hp["ratio_min"]) * u[:, a:2 * a]
        hw = np.rint(np.sqrt(np.stack([area * ratio, area / ratio], 1)))  # [B, 2, attempts]
        ok = (hw < size).all(1)
        first = ok.argmax(1)  # the first attempt that fits, as in the original's retry loop
        erase = (u[:, 2 * a] < hp["p"]) & ok.any(1)
        extent = hw[np.arange(b), :, first] * erase[:, None]  # 0 x 0: not erased
        start = np.floor(u[:, 2 * a + 1:] * (size + 1 - extent))
        box = torch.from_numpy(np.concatenate([start, extent], 1)).to(x.device, torch.float32, non_blocking=True)
        noise = torch.empty_like(x).uniform_(-1, 1)  # U(0, 1) pixels, normalised
        return dataclasses.replace(batch, x=torch.where(box_mask(size, box[:, :2], box[:, 2:]), noise, x))
