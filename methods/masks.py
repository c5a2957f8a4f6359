"""Mixing masks of ChimeraMix and HydraMix, as pure functions on batched tensors.

A mask tensor is [B, N, H, W]: one-hot over the N source images of each sample, so it sums to 1
at every location. Mixing is `sum_n masks[:, n] * sources[:, n]`, in feature space (generator) or
in pixel space (GridMix, SegMix, HydraMix without generator).

Mask kinds:
- `grid`: ChimeraMix+Grid (reference/chimeramix.md 7.4), N = 2.
- `seg_range`: ChimeraMix+Seg, the reference code's rule (7.3), N = 2: a contiguous range of the
  segment ids of image B is filled with image A.
- `seg_assign`: HydraMix (our rule, reference/hydramix.md): every segment of the first image goes
  to one of the N images, uniformly at random.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage.segmentation import felzenszwalb

from benchmark.profiles import recipe_size

MASKS = ("grid", "seg_range", "seg_assign")
GRID_CELLS = 4  # the reference's mix_size: a 4x4 grid
SEGMENTED_SOURCE = {"seg_range": 1, "seg_assign": 0}  # whose segmentation each rule reads (B, resp. the first)


def felzenszwalb_params(image_size: int) -> tuple[float, int]:
    """(scale, min_size) of the reference code for a dataset of `image_size` images: 400/400 on
    STL-10, 60/60 on every other dataset (datasets of the 96-px recipe, e.g. folder@96:PATH, take
    STL-10's)."""
    return (400.0, 400) if recipe_size(image_size) == 96 else (60.0, 60)


def segment(images: torch.Tensor, scale: float, min_size: int) -> torch.Tensor:
    """Felzenszwalb segmentation of normalised images [N, 3, H, W] in [-1, 1] -> int64 [N, H, W].

    Like the reference code, the segmented image is the normalised float image, not [0, 1]; this
    changes what `scale` means (edge weights are twice as large)."""
    hwc = images.detach().float().permute(0, 2, 3, 1).cpu().numpy().astype(np.float64)
    segs = [felzenszwalb(img, scale=scale, min_size=min_size) for img in hwc]
    return torch.from_numpy(np.stack(segs).astype(np.int64))


def grid_masks(batch: int, size: int, device: torch.device, cells: int = GRID_CELLS) -> torch.Tensor:
    """[B, 2, size, size]: a cells x cells Bernoulli(0.5) grid per sample, nearest-upsampled to
    size + size // cells and cropped back to size at a random offset. Channel 0 selects image A.
    Unlike the reference (one offset for the whole batch), every sample has its own offset."""
    pad = size // cells
    coarse = torch.randint(0, 2, (batch, 1, cells, cells), device=device).float()
    fine = F.interpolate(coarse, size=size + pad, mode="nearest")[:, 0]
    top = torch.randint(0, max(pad, 1), (batch,), device=device)
    left = torch.randint(0, max(pad, 1), (batch,), device=device)
    ar = torch.arange(size, device=device)
    rows = (top[:, None] + ar)[:, :, None]
    cols = (left[:, None] + ar)[:, None, :]
    f = fine[torch.arange(batch, device=device)[:, None, None], rows, cols]
    return torch.stack([f, 1 - f], 1)


def segment_range_masks(segmentation: torch.Tensor) -> torch.Tensor:
    """[B, 2, H, W] from image B's segmentation [B, H, W] (the reference rule): with n = max id + 1,
    l ~ U{0, ..., max(1, n-1) - 1}, u ~ U{l+1, ..., max(l+2, n) - 1}; the ids in [l, u) are filled
    with image A (channel 0), the rest keeps image B (channel 1)."""
    n = segmentation.flatten(1).amax(1) + 1
    low = (torch.rand(n.shape, device=n.device) * (n - 1).clamp(min=1)).long()
    high_span = torch.maximum(low + 2, n) - (low + 1)
    high = low + 1 + (torch.rand(n.shape, device=n.device) * high_span).long()
    f = ((segmentation >= low[:, None, None]) & (segmentation < high[:, None, None])).float()
    return torch.stack([f, 1 - f], 1)


def segment_assign_masks(segmentation: torch.Tensor, n_images: int, num_segments: int) -> torch.Tensor:
    """[B, N, H, W] from the first image's segmentation [B, H, W] with ids < num_segments: every
    segment goes to one of the N images, uniformly at random and independently."""
    b = segmentation.shape[0]
    owner = torch.randint(0, n_images, (b, num_segments), device=segmentation.device)
    assigned = owner.gather(1, segmentation.flatten(1)).view_as(segmentation)
    return F.one_hot(assigned, n_images).permute(0, 3, 1, 2).float()


def resize_masks(masks: torch.Tensor, size: int) -> torch.Tensor:
    """Nearest resize [B, N, H, W] -> [B, N, size, size]; one-hot masks stay one-hot."""
    if masks.shape[-1] == size:
        return masks
    return F.interpolate(masks, size=(size, size), mode="nearest")


def sample_masks(kind: str, n_images: int, batch: int, size: int, device: torch.device,
                 segmentation: torch.Tensor | None = None, num_segments: int = 0) -> torch.Tensor:
    """Masks [B, N, size, size] of a kind; the segment rules read `segmentation` [B, H, W] (of the
    source named by SEGMENTED_SOURCE) and are nearest-resized to `size`."""
    if kind == "grid":
        return grid_masks(batch, size, device)
    if kind == "seg_range":
        return resize_masks(segment_range_masks(segmentation), size)
    if kind == "seg_assign":
        return resize_masks(segment_assign_masks(segmentation, n_images, num_segments), size)
    raise ValueError(f"unknown mask kind '{kind}'; valid: {', '.join(MASKS)}")


def mix(sources: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """sum_n masks[:, n] * sources[:, n] for sources [B, N, C, H, W] and masks [B, N, H, W]."""
    return (masks[:, :, None] * sources).sum(1)
