"""The training subset held on the device, its batches, and batched augmentation as tensor ops.

Images are normalised with mean = std = 0.5 (both papers' code; ImageNet's mean and std where the
recipe says so), reflect-padded once, and every batch is cut out of the padded subset by one gather
that applies the random crop and the horizontal flip of all samples at once (and, where the recipe
says so, a black Cutout square). A subset streamed from disk (benchmark.training.stream) is padded
batch by batch instead, which gives the same batches. The 224-px recipes' batches are made by
benchmark.training.resized_crop.

A batch carries soft targets as a convex combination of hard labels (`targets`: (weight, labels)
pairs; one pair of weight 1 for a plain batch), which is exact for every mixing method here and
makes their loss the weighted sum of cross-entropies, and optionally a `FeatureMix` that the
classifier applies at one of its mixing points (benchmark.training.models).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from benchmark.training.policies import BatchPolicy
from benchmark.training.stream import Images, gather


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], i.e. (x/255 - 0.5) / 0.5."""
    return images.float().div_(127.5).sub_(1.0)


@dataclass(frozen=True)
class Normalization:
    """A recipe's normalisation of pixels in [0, 255] (uint8, or float: then in place)."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def stats(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.tensor(self.mean, device=device)[:, None, None],
                torch.tensor(self.std, device=device)[:, None, None])

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if self.name == "half":
            return normalize(images)
        mean, std = self.stats(images.device)
        return images.float().div_(255).sub_(mean).div_(std)

    def blacken(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] with the pixels of `mask` [B, 1, H, W] black."""
        if self.name == "half":
            return x.masked_fill(mask, -1.0)
        mean, std = self.stats(x.device)
        return torch.where(mask, -mean / std, x)

    def noise_(self, region: torch.Tensor) -> torch.Tensor:
        """Fill `region` [C, h, w] with uniform noise pixels U(0, 1), normalised."""
        if self.name == "half":
            return region.uniform_(-1, 1)
        mean, std = self.stats(region.device)
        return region.uniform_(0, 1).sub_(mean).div_(std)


NORMALIZATIONS = {n.name: n for n in [Normalization("half", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
                                      Normalization("imagenet", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))]}
HALF = NORMALIZATIONS["half"]


def reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    return F.pad(x.float(), (pad, pad, pad, pad), mode="reflect") if pad else x.float()


Target = tuple[float, torch.Tensor]  # (weight, int64 labels [B])


@dataclass(frozen=True)
class FeatureMix:
    """Mix the hidden features at mixing point `point` (0 = the input) with their permutation:
    lam * h + (1 - lam) * h[perm]."""

    point: int
    lam: float
    perm: torch.Tensor

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        return self.lam * h + (1 - self.lam) * h[self.perm]


@dataclass
class Batch:
    x: torch.Tensor  # normalised float [B, 3, H, W], augmented
    y: torch.Tensor  # int64 [B], the class of each sample's (first) source image
    idx: torch.Tensor  # indices into the training subset
    top: torch.Tensor  # crop offsets into the padded image
    left: torch.Tensor
    flip: torch.Tensor  # bool
    targets: tuple[Target, ...] = ()  # soft targets; () means the hard labels y
    mix: FeatureMix | None = None  # hidden features to mix in the forward pass

    def __post_init__(self) -> None:
        if not self.targets:
            self.targets = ((1.0, self.y),)


def mix_pairs(batch: Batch, lam: float, perm: torch.Tensor) -> Batch:
    """The images and targets of the batch mixed with their permutation `perm`, weight `lam`."""
    return dataclasses.replace(batch, x=lam * batch.x + (1 - lam) * batch.x[perm],
                               targets=mix_targets(batch.targets, lam, perm))


def mix_targets(targets: tuple[Target, ...], lam: float, perm: torch.Tensor) -> tuple[Target, ...]:
    return (*((lam * w, y) for w, y in targets), *(((1 - lam) * w, y[perm]) for w, y in targets))


def mixed_cross_entropy(logits: torch.Tensor, targets: tuple[Target, ...]) -> torch.Tensor:
    """sum_i w_i * CE(logits, y_i): the cross-entropy of the soft targets. A plain batch's loss is
    exactly F.cross_entropy."""
    loss = None
    for weight, labels in targets:
        term = F.cross_entropy(logits, labels)
        if weight != 1.0:
            term = weight * term
        loss = term if loss is None else loss + term
    return loss


def square_mask(size: int, length: torch.Tensor | int, cy: torch.Tensor, cx: torch.Tensor) -> torch.Tensor:
    """[B, 1, size, size] bool: the square of side `length` centred at (cy, cx), clipped at the borders."""
    ar = torch.arange(size, device=cy.device)
    half = length // 2
    rows = (ar >= (cy - half)[:, None]) & (ar < (cy - half + length)[:, None])
    cols = (ar >= (cx - half)[:, None]) & (ar < (cx - half + length)[:, None])
    return (rows[:, :, None] & cols[:, None, :])[:, None]


def random_squares(x: torch.Tensor, length: int) -> torch.Tensor:
    """One square of side `length` per image of x [B, C, H, W], centred at a uniform pixel (Cutout)."""
    b, size = len(x), x.shape[-1]
    cy = torch.randint(0, size, (b,), device=x.device)
    cx = torch.randint(0, size, (b,), device=x.device)
    return square_mask(size, length, cy, cx)


class TrainData:
    """The training subset: its images (uint8 [N, 3, H, W], held on the device or streamed) and labels."""

    def __init__(self, images: Images, labels: torch.Tensor, pad: int, policy: BatchPolicy | None = None,
                 cutout: int = 0, normalization: Normalization = HALF):
        self.source = images
        self.labels = labels
        self.pad = pad
        self.policy = policy
        self.cutout = cutout  # side of a black square cut out of every image of a batch (0: none)
        self.normalization = normalization
        self.size = images.shape[-1]
        self.held = isinstance(images, torch.Tensor)
        self.padded = self.pad_for_crop(normalization(images)) if self.held else None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def images(self) -> torch.Tensor:
        """The held subset; a streamed one has none (stream.StreamedImages says why)."""
        return self.source if self.held else self.source.held()

    def loaded(self, batches: list[torch.Tensor]):
        """The batches, each once its images are on the device (at once where the subset is held)."""
        return batches if self.held else self.source.loaded(batches)

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
        if self.policy is None and self.held:
            x = self.crop_flip(self.padded, idx, rows, cols)
        else:
            images = gather(self.source, idx)
            images = images if self.policy is None else self.policy(images)
            x = self.crop_flip(self.pad_for_crop(self.normalization(images)), torch.arange(len(idx), device=idx.device),
                               rows, cols)
        if self.cutout:
            x = self.normalization.blacken(x, random_squares(x, self.cutout))  # as Cutout before normalisation
        return Batch(x=x.contiguous(), y=self.labels[idx], idx=idx, top=top, left=left, flip=flip)

    def originals(self, idx: torch.Tensor) -> torch.Tensor:
        """The images at `idx` as they are, normalised: no crop, flip, policy or Cutout."""
        return self.normalization(gather(self.source, idx))


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `normalize`: float [-1, 1] -> uint8 [0, 255], rounded and clamped."""
    return ((x.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
