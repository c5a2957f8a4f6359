"""CutMix (Yun et al., ICCV 2019) as a plug-in method: with probability p, one box of the batch's
images is replaced by the same box of a permuted batch; the box covers a fraction 1 - lambda of the
image, lambda ~ Beta(alpha, alpha), and the targets are mixed by the area actually pasted. One
lambda, one box and one permutation per batch, as the reference code (alpha 1, p 0.5 on CIFAR).

The module imports no torch at import time: the suite's `list`, `status` and dry run read the
class without it; the hooks that compute import it.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING

from methods.base import Context, HParam, Method

if TYPE_CHECKING:
    from benchmark.training.pipeline import Batch, TrainData


class CutMix(Method):
    label = "CutMix"
    summary = "with probability p, a box of a permuted image pasted into each image (area 1 - lambda, lambda ~ Beta(1, 1))"
    mixes_images = True  # the analyses (FID, CLIP Synset Entropy) may compare its images

    @classmethod
    def hparams(cls, ctx: Context) -> dict[str, HParam]:
        return {"alpha": HParam(1.0, low=0.0, high=100.0, above=True, search=(0.1, 10.0), log=True),
                "p": HParam(0.5, low=0.0, high=1.0, search=(0.1, 1.0))}

    def setup(self, data: TrainData, artifacts: dict[str, Path]) -> None:
        import torch
        super().setup(data, artifacts)
        alpha = torch.tensor(float(self.hp["alpha"]))
        self.beta = torch.distributions.Beta(alpha, alpha)

    def augment(self, batch: Batch) -> Batch:
        import torch
        if float(torch.rand(())) >= self.hp["p"]:  # drawn on the host: no device sync
            return batch
        return self.made(batch)

    def made(self, batch: Batch) -> Batch:
        """The batch with a box of its permutation pasted in (always, for the analyses)."""
        import torch

        from benchmark.training.pipeline import mix_targets
        size = batch.x.shape[-1]
        top, left, height, width = cut_box(float(self.beta.sample()), size, torch.rand(2).tolist())
        perm = torch.randperm(len(batch.x), device=batch.x.device)
        x = batch.x.clone()
        x[:, :, top:top + height, left:left + width] = batch.x[perm, :, top:top + height, left:left + width]
        lam = 1 - height * width / (size * size)  # the area of the image that stayed its own
        return dataclasses.replace(batch, x=x, targets=mix_targets(batch.targets, lam, perm))


def cut_box(lam: float, size: int, centre: list[float]) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the box: sides size * sqrt(1 - lam) around a uniform centre
    (`centre`: two uniforms), clipped at the borders (the reference's rand_bbox)."""
    side = int(size * math.sqrt(1.0 - lam))
    cy, cx = int(centre[0] * size), int(centre[1] * size)
    top, bottom = max(cy - side // 2, 0), min(cy + side // 2, size)
    left, right = max(cx - side // 2, 0), min(cx + side // 2, size)
    return top, left, bottom - top, right - left
