"""The 224-px recipes' batches (recipe crop "resized"): torchvision's RandomResizedCrop(T, scale
(0.08, 1), ratio (3/4, 4/3)) + horizontal flip, batched on the device, from the stored images of the
photo sets (benchmark.data.photos: each image resized to S x S, with its original size).

Each sample's box is drawn as torchvision draws it, in the original image's pixels (10 attempts of an
area fraction U(0.08, 1) and a log-uniform aspect ratio, the first that fits, at a uniform position;
else the centre crop of the clamped ratio), all samples and attempts at once with the device's RNG,
then mapped to the stored image and resampled to T x T by one `torchvision.ops.roi_align` per batch
(bilinear, adaptive sampling: 2 samples per output pixel where the box is larger than T, which
antialiases the mild downscaling). The unaugmented view (SynerMix-Intra's originals) is the test
view: torchvision's Resize(S) + CenterCrop(T) box of each original, read from the stored image the
same way.
"""
from __future__ import annotations

import math

import torch
from torchvision.ops import roi_align

from benchmark.training.pipeline import Batch, Normalization, random_squares
from benchmark.training.policies import BatchPolicy
from benchmark.training.stream import Images, gather

SCALE = (0.08, 1.0)
RATIO = (3 / 4, 4 / 3)
ATTEMPTS = 10


def random_boxes(sizes: torch.Tensor) -> torch.Tensor:
    """[B, 4] float (top, left, height, width) in the originals' pixels, for originals of (height,
    width) `sizes` [B, 2]: torchvision's RandomResizedCrop.get_params, drawn for all at once."""
    b, device = len(sizes), sizes.device
    height, width = sizes[:, :1].double(), sizes[:, 1:].double()
    area = height * width * torch.empty(b, ATTEMPTS, device=device, dtype=torch.float64).uniform_(*SCALE)
    log_ratio = torch.empty(b, ATTEMPTS, device=device, dtype=torch.float64).uniform_(math.log(RATIO[0]),
                                                                                          math.log(RATIO[1]))
    ratio = torch.exp(log_ratio)
    w = torch.round(torch.sqrt(area * ratio))
    h = torch.round(torch.sqrt(area / ratio))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.double().argmax(1, keepdim=True)  # the first attempt that fits (0 if none does)
    w, h, any_fits = w.gather(1, first)[:, 0], h.gather(1, first)[:, 0], fits.any(1)
    height, width = height[:, 0], width[:, 0]
    # none fits: the whole image, or its centre at the nearest ratio in range
    in_ratio = width / height
    fallback_w = torch.where(in_ratio > RATIO[1], torch.round(height * RATIO[1]), width)
    fallback_h = torch.where(in_ratio < RATIO[0], torch.round(width / RATIO[0]), height)
    w, h = torch.where(any_fits, w, fallback_w), torch.where(any_fits, h, fallback_h)
    u = torch.rand(b, 2, device=device, dtype=torch.float64)
    top = torch.where(any_fits, torch.floor(u[:, 0] * (height - h + 1)), torch.div(height - h, 2, rounding_mode="floor"))
    left = torch.where(any_fits, torch.floor(u[:, 1] * (width - w + 1)), torch.div(width - w, 2, rounding_mode="floor"))
    return torch.stack([top, left, h, w], 1)


def center_boxes(sizes: torch.Tensor, size: int, crop: int) -> torch.Tensor:
    """[B, 4] (top, left, height, width) in the originals' pixels of torchvision's Resize(size) +
    CenterCrop(crop) of originals of (height, width) `sizes` [B, 2]."""
    height, width = sizes[:, 0].double(), sizes[:, 1].double()
    short, long = torch.minimum(height, width), torch.maximum(height, width)
    new_long = torch.floor(size * long / short)  # torchvision truncates the long side
    new_h = torch.where(height <= width, torch.full_like(height, size), new_long)
    new_w = torch.where(height <= width, new_long, torch.full_like(width, size))
    top, left = torch.round((new_h - crop) / 2), torch.round((new_w - crop) / 2)  # both round half to even
    scale_h, scale_w = height / new_h, width / new_w
    return torch.stack([top * scale_h, left * scale_w, crop * scale_h, crop * scale_w], 1)


def resample(stored: torch.Tensor, boxes: torch.Tensor, sizes: torch.Tensor, out: int) -> torch.Tensor:
    """float [B, 3, out, out] in [0, 255]: each box of an original (`boxes` in its pixels, its size
    `sizes`) read from its stored image `stored` [B, 3, S, S] (uint8)."""
    side = stored.shape[-1]
    scale_h, scale_w = side / sizes[:, 0].double(), side / sizes[:, 1].double()
    top, left, h, w = boxes.unbind(1)
    rois = torch.stack([torch.arange(len(boxes), device=boxes.device, dtype=torch.float64), left * scale_w,
                        top * scale_h, (left + w) * scale_w, (top + h) * scale_h], 1)
    return roi_align(stored.float(), rois.float(), (out, out), spatial_scale=1.0, sampling_ratio=-1, aligned=True)


class ResizedCropData:
    """The training subset of a 224-px recipe (same interface as pipeline.TrainData): its stored
    images (held on the device, or streamed: benchmark.training.stream), labels and original sizes."""

    pad = 0

    def __init__(self, images: Images, labels: torch.Tensor, sizes: torch.Tensor, size: int,
                 normalization: Normalization, policy: BatchPolicy | None = None, cutout: int = 0):
        self.source = images
        self.labels = labels
        self.sizes = sizes  # int64 [N, 2], on the device
        self.size = size
        self.stored = images.shape[-1]
        self.normalization = normalization
        self.policy = policy
        self.cutout = cutout
        self.views = center_boxes(sizes, self.stored, size)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def images(self) -> torch.Tensor:
        """The held subset (uint8 [N, 3, S, S]); a streamed one has none (stream.StreamedImages says why)."""
        return self.source if isinstance(self.source, torch.Tensor) else self.source.held()

    def loaded(self, batches: list[torch.Tensor]):
        return batches if isinstance(self.source, torch.Tensor) else self.source.loaded(batches)

    def batch(self, idx: torch.Tensor) -> Batch:
        stored = gather(self.source, idx)
        if self.policy is not None:
            stored = self.policy(stored)
        sizes = self.sizes[idx]
        boxes = random_boxes(sizes)
        flip = torch.rand(len(idx), device=idx.device) < 0.5
        x = resample(stored, boxes, sizes, self.size)
        x = self.normalization(torch.where(flip[:, None, None, None], x.flip(-1), x))
        if self.cutout:
            x = self.normalization.blacken(x, random_squares(x, self.cutout))
        top, left = boxes[:, 0].long(), boxes[:, 1].long()
        return Batch(x=x.contiguous(), y=self.labels[idx], idx=idx, top=top, left=left, flip=flip)

    def originals(self, idx: torch.Tensor) -> torch.Tensor:
        """The test view of the images at `idx`, normalised."""
        return self.normalization(resample(gather(self.source, idx), self.views[idx], self.sizes[idx], self.size))
