"""The training subset held on the device, and batched augmentation as tensor ops.

Images are normalised with mean = std = 0.5 (both papers' code), reflect-padded once, and every
batch is cut out of the padded subset by one gather that applies the random crop and the
horizontal flip of all samples at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from benchmark.training.policies import BatchPolicy


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], i.e. (x/255 - 0.5) / 0.5."""
    return images.float().div_(127.5).sub_(1.0)


def reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    return F.pad(x.float(), (pad, pad, pad, pad), mode="reflect") if pad else x.float()


@dataclass
class Batch:
    x: torch.Tensor  # normalised float [B, 3, H, W], augmented
    y: torch.Tensor  # int64 [B]
    idx: torch.Tensor  # indices into the training subset
    top: torch.Tensor  # crop offsets into the padded image
    left: torch.Tensor
    flip: torch.Tensor  # bool


class TrainData:
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pad: int, policy: BatchPolicy | None = None):
        self.images = images  # uint8 [N, 3, H, W], on the device
        self.labels = labels
        self.pad = pad
        self.policy = policy
        self.size = images.shape[-1]
        self.padded = self.pad_for_crop(normalize(images))

    def __len__(self) -> int:
        return len(self.labels)

    def pad_for_crop(self, t: torch.Tensor) -> torch.Tensor:
        """Reflect-pad [N, C, H, W] and store channels-last, ready for `crop_flip`."""
        return reflect_pad(t, self.pad).permute(0, 2, 3, 1).contiguous()

    def crop_flip(self, padded: torch.Tensor, idx: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Crops [B, C, H, W] of the channels-last `padded` [N, H+2p, W+2p, C] at entries `idx`:
        one index_select of whole pixels (faster than advanced indexing with three index tensors)."""
        n, hp, wp, c = padded.shape
        flat = ((idx[:, None] * hp + rows) * wp)[:, :, None] + cols[:, None, :]
        out = padded.reshape(n * hp * wp, c).index_select(0, flat.reshape(-1))
        return out.view(len(idx), self.size, self.size, c).permute(0, 3, 1, 2)

    def geometry(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        device = self.labels.device
        top = torch.randint(0, 2 * self.pad + 1, (n,), device=device)
        left = torch.randint(0, 2 * self.pad + 1, (n,), device=device)
        flip = torch.rand(n, device=device) < 0.5
        return top, left, flip

    def index_grid(self, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ar = torch.arange(self.size, device=top.device)
        rows = top[:, None] + ar
        cols = left[:, None] + torch.where(flip[:, None], self.size - 1 - ar, ar)
        return rows, cols

    def aligned(self, padded: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Apply the batch's crop and flip to another per-sample tensor (e.g. segmentations)
        that was prepared with `pad_for_crop` over the whole subset."""
        rows, cols = self.index_grid(batch.top, batch.left, batch.flip)
        return self.crop_flip(padded, batch.idx, rows, cols)

    def batch(self, idx: torch.Tensor) -> Batch:
        top, left, flip = self.geometry(len(idx))
        rows, cols = self.index_grid(top, left, flip)
        if self.policy is None:
            x = self.crop_flip(self.padded, idx, rows, cols)
        else:
            augmented = self.pad_for_crop(normalize(self.policy(self.images[idx])))
            x = self.crop_flip(augmented, torch.arange(len(idx), device=idx.device), rows, cols)
        return Batch(x=x.contiguous(), y=self.labels[idx], idx=idx, top=top, left=left, flip=flip)


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `normalize`: float [-1, 1] -> uint8 [0, 255], rounded and clamped."""
    return ((x.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
