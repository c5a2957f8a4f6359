"""AutoAugment and TrivialAugmentWide applied to a whole uint8 batch [B, 3, H, W] at once.

Every sample draws its own op, magnitude and sign, with the distribution of
torchvision.transforms.v2.AutoAugment (CIFAR-10 policy at 32 px, ImageNet policy otherwise) and
TrivialAugmentWide (31 magnitude bins), interpolation NEAREST, fill 0. The draws come from the global
torch RNG on the images' device, two or three calls per batch: a seed (or a saved RNG state)
reproduces the batch, but the stream differs from torchvision's per-image draws, so the same seed
does not give the images torchvision would.

Everything a policy can draw is tabulated once (`OpTable`: op, signed magnitude and, for the
geometric ops, the sampling matrix), and a draw is one table row per sample. A policy applies one
(TrivialAugmentWide) or two (AutoAugment) stages, each sample getting one row per stage (Identity
when AutoAugment skips the op). A stage sorts the batch by op, so each op kind is a contiguous slice:
- the five geometric kinds (ShearX/Y about the top-left corner, TranslateX/Y by whole pixels, Rotate
  about the centre) are one nearest-neighbour `grid_sample` with a matrix per sample;
- Color and Sharpness are one vectorised op each, with per-sample factors;
- the other colour kinds map each value through a 256-entry lookup table (LUT), one per sample and
  channel, all applied with one gather. Brightness, Posterize, Solarize and Invert LUTs depend on the
  magnitude alone and are tabulated too; Contrast, AutoContrast and Equalize build theirs from the
  images' statistics.
Only the per-kind counts reach the host: one sync per stage, none per sample.

The result equals torchvision's functional ops on single images bit for bit, for every op at every
magnitude either policy draws (tests/test_policies.py). The float arithmetic follows torchvision's:
the grid is built in float32 from the same inverse matrix (a 90-degree turn, which torchvision does
with rot90, lands on whole pixels), and blends add the second image with one rounding, as the fused
multiply-add of torch's `add(..., alpha=)` on CPUs with FMA (x86 since AVX2) and on CUDA. The
matrices are computed in float64 from the signed magnitude rather than through degrees and
arctangents, so an entry can differ from torchvision's in the last bit of float32, which can change
a pixel only where a sampling point falls exactly between two pixels.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from itertools import accumulate

import torch
import torch.nn.functional as F
from torchvision.transforms import AutoAugment, AutoAugmentPolicy

# In the order a stage handles them: Identity, GEOMETRIC (one affine grid), IMAGE_OPS, VALUE_MAPS (LUTs).
OPS = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Color", "Sharpness", "Brightness",
       "Contrast", "Posterize", "Solarize", "AutoContrast", "Equalize", "Invert")
OP = {name: i for i, name in enumerate(OPS)}
GEOMETRIC = (OP["ShearX"], OP["Rotate"] + 1)
VALUE_MAPS = (OP["Brightness"], OP["Invert"] + 1)
TRIVIAL_OPS = OPS[:OP["Equalize"] + 1]  # TrivialAugmentWide draws one of these 14 uniformly
SIGNED = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color", "Contrast", "Sharpness")
TRIVIAL_BINS = 31
AUTOAUGMENT_BINS = 10


def magnitude_bins(op: str, bins: int, height: int, width: int, wide: bool) -> torch.Tensor:
    """The unsigned magnitude of each bin, float32 [bins], as torchvision tabulates it; zeros for the
    ops without one. `wide` selects TrivialAugmentWide's ranges, else AutoAugment's."""
    if op in ("ShearX", "ShearY"):
        return torch.linspace(0.0, 0.99 if wide else 0.3, bins)
    if op in ("TranslateX", "TranslateY"):
        extent = width if op == "TranslateX" else height
        return torch.linspace(0.0, 32.0 if wide else 150.0 / 331.0 * extent, bins)
    if op == "Rotate":
        return torch.linspace(0.0, 135.0 if wide else 30.0, bins)
    if op in ("Brightness", "Color", "Contrast", "Sharpness"):
        return torch.linspace(0.0, 0.99 if wide else 0.9, bins)
    if op == "Posterize":  # bits kept: 8 down to 2 (wide) or 4
        return (8 - torch.arange(bins) / ((bins - 1) / (6 if wide else 4))).round()
    if op == "Solarize":  # threshold as a fraction of 255
        return torch.linspace(1.0, 0.0, bins)
    return torch.zeros(bins)


def per_sample(values: torch.Tensor, ndim: int = 4) -> torch.Tensor:
    """[n] -> [n, 1, ...] with `ndim` dimensions, to broadcast over each sample's values."""
    return values.view(-1, *[1] * (ndim - 1))


# Geometric ops.

def inverse_affine(op: torch.Tensor, magnitude: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """float32 [n, 2, 3]: the matrix that maps an output pixel's coordinates (x, y, 1), taken from the
    image centre, to the input point it samples; the identity for non-geometric ops. Shears are about
    the top-left corner (x_in = x + m (y + H/2) for ShearX), translations move by the magnitude
    truncated to whole pixels, rotations turn by the magnitude in degrees (counter-clockwise, as
    torchvision's rotate)."""
    m = magnitude.double()
    one, zero, shift = torch.ones_like(m), torch.zeros_like(m), m.trunc()
    angle = torch.deg2rad(torch.remainder(m, 360.0))
    cos, sin = angle.cos(), angle.sin()
    per_op = torch.stack([
        torch.stack([one, zero, zero, zero, one, zero], -1),  # every other op
        torch.stack([one, m, m * (height / 2), zero, one, zero], -1),  # ShearX
        torch.stack([one, zero, zero, m, one, m * (width / 2)], -1),  # ShearY
        torch.stack([one, zero, -shift, zero, one, zero], -1),  # TranslateX
        torch.stack([one, zero, zero, zero, one, -shift], -1),  # TranslateY
        torch.stack([cos, -sin, zero, sin, cos, zero], -1),  # Rotate
    ])
    kind = torch.where((op >= GEOMETRIC[0]) & (op < GEOMETRIC[1]), op - GEOMETRIC[0] + 1, 0)
    return per_op[kind, torch.arange(len(m), device=m.device)].float().view(-1, 2, 3)


def affine_nearest(images: torch.Tensor, grid_matrix: torch.Tensor, centred: torch.Tensor) -> torch.Tensor:
    """Resample each image with its own matrix: one nearest `grid_sample`, zeros outside."""
    n, _, height, width = images.shape
    grid = centred.matmul(grid_matrix).view(n, height, width, 2)
    out = F.grid_sample(images.float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out.to(torch.uint8)


# Colour ops on whole images.

def blend(values: torch.Tensor, other: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """values * (1 + m) + other * (-m), clamped and truncated to uint8 (float32 `values`, `other` and
    `magnitude` broadcast together). The second product is added with a single rounding (evaluated
    in float64, rounded to float32), like the fused multiply-add of torch's `add(other, alpha=-m)`
    in torchvision's blend."""
    out = (values * (1 + magnitude)).double()
    out.sub_(other.double() * magnitude.double())
    return out.float().clamp_(0, 255).to(torch.uint8)


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """float32 [n, 1, H, W]: floor(0.2989 R + 0.587 G + 0.114 B), with torchvision's float ops."""
    r, g, b = images.unbind(1)
    return r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).floor_().unsqueeze(1)


def color(images: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    return blend(images.float(), grayscale(images), per_sample(magnitude))


def sharpness(images: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """Blend the interior pixels with a 3x3 smoothing (weight 5 in the middle, 1 around, over 13,
    rounded); the one-pixel border is kept. The smoothing is computed from exact integer sums and
    equals torchvision's rounded float convolution: both are within 1e-3 of the quotient
    (box sum + 4 centre) / 13, which is never within 1/26 of a tie."""
    x = images.to(torch.int16)
    rows = x[..., :-2] + x[..., 1:-1] + x[..., 2:]
    box = rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]
    centre = x[..., 1:-1, 1:-1]
    smooth = (torch.add(box, centre, alpha=4) / 13).round_()
    inner = centre.double().sub_((smooth - centre).double().mul_(per_sample(magnitude.double())))
    out = images.clone()
    out[..., 1:-1, 1:-1] = inner.float().clamp_(0, 255).to(torch.uint8)
    return out


# Colour ops as value maps: uint8 LUTs [n, 1 or C, 256], one per sample (and channel).

def levels(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.arange(256, dtype=dtype, device=device)


def brightness_lut(magnitude: torch.Tensor) -> torch.Tensor:
    values = levels(torch.float32, magnitude.device)
    return (values * per_sample(1 + magnitude, 3)).clamp_(0, 255).to(torch.uint8)


def posterize_lut(magnitude: torch.Tensor) -> torch.Tensor:
    """Keep the `magnitude` high bits."""
    dropped = per_sample(8 - magnitude.to(torch.int32), 3)
    return levels(torch.int32, magnitude.device).bitwise_and(256 - (1 << dropped)).to(torch.uint8)


def solarize_lut(magnitude: torch.Tensor) -> torch.Tensor:
    """Invert the values >= 255 * magnitude (compared in float32)."""
    values = levels(torch.uint8, magnitude.device)
    return torch.where(values >= per_sample(255 * magnitude, 3), 255 - values, values)


def invert_lut(magnitude: torch.Tensor) -> torch.Tensor:
    return (255 - levels(torch.uint8, magnitude.device)).expand(len(magnitude), 1, 256)


def contrast_lut(images: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """Blend with the mean of the grey image."""
    mean = grayscale(images).mean(dim=(1, 2, 3))
    return blend(levels(torch.float32, images.device), per_sample(mean, 3), per_sample(magnitude, 3))


def autocontrast_lut(images: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """Stretch each channel's range [lo, hi] to [0, 255] in float32, truncated; flat channels are kept."""
    lo, hi = images.flatten(2).aminmax(dim=2, keepdim=True)
    flat = hi == lo
    scale = (hi - lo).float().mul_(1.0 / 255).masked_fill_(flat, 1.0)
    values = levels(torch.float32, images.device)
    return ((values - lo.masked_fill(flat, 0)) / scale).clamp_(0, 255).to(torch.uint8)


def equalize_lut(images: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """PIL's histogram equalisation of each channel, as torchvision's: value v maps to
    (pixels below v + step // 2) // step, capped at 255, where step = (pixels below the channel's
    largest value) // 255; channels with step 0 are kept."""
    n, c, height, width = images.shape
    flat = images.reshape(n, c, height * width).long()
    hist = flat.new_zeros(n, c, 256).scatter_add_(2, flat, flat.new_ones(1).expand_as(flat))
    step = (height * width - hist.gather(2, flat.amax(2, keepdim=True))) // 255
    lut = (hist.cumsum(2) - hist + step // 2) // step.clamp(min=1)
    return torch.where(step > 0, lut.clamp_(max=255), levels(torch.long, images.device)).to(torch.uint8)


def map_values(images: torch.Tensor, luts: torch.Tensor) -> torch.Tensor:
    """Map every value of image i, channel c through luts[i, c]."""
    n, c, height, width = images.shape
    return luts.gather(2, images.view(n, c, height * width).long()).view_as(images)


ImageOp = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (images [n, C, H, W], magnitudes [n])
IMAGE_OPS: dict[int, ImageOp] = {OP["Color"]: color, OP["Sharpness"]: sharpness}  # -> images
IMAGE_LUT_OPS: dict[int, ImageOp] = {  # -> LUTs from the images
    OP["Contrast"]: contrast_lut,
    OP["AutoContrast"]: autocontrast_lut,
    OP["Equalize"]: equalize_lut,
}
MAGNITUDE_LUT_OPS: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {  # -> LUTs from the magnitudes alone
    OP["Brightness"]: brightness_lut,
    OP["Posterize"]: posterize_lut,
    OP["Solarize"]: solarize_lut,
    OP["Invert"]: invert_lut,
}


@dataclass(frozen=True)
class OpTable:
    """Ops with their signed magnitudes, one per row, and what can be computed from them ahead; a
    stage picks one row per sample."""
    op: torch.Tensor  # int64 [k]
    magnitude: torch.Tensor  # float32 [k]
    grid_matrix: torch.Tensor  # float32 [k, 3, 2]: centred pixel (x, y, 1) -> grid_sample's input point
    lut: torch.Tensor  # uint8 [k, 1, 256]: the value map of MAGNITUDE_LUT_OPS rows, else the identity
    centred: torch.Tensor  # float32 [H * W, 3]: every pixel's (x, y, 1) from the image centre, row-major

    @classmethod
    def build(cls, op: torch.Tensor, magnitude: torch.Tensor, height: int, width: int) -> OpTable:
        to_unit = torch.tensor([width / 2, height / 2])  # grid_sample's coordinates run from -1 to 1
        grid_matrix = inverse_affine(op, magnitude, height, width).transpose(1, 2) / to_unit
        lut = levels(torch.uint8, op.device).repeat(len(op), 1, 1)
        for k, make in MAGNITUDE_LUT_OPS.items():
            lut[op == k] = make(magnitude[op == k])
        xs = torch.arange(width) - (width - 1) / 2
        ys = torch.arange(height) - (height - 1) / 2
        centred = torch.stack([xs.expand(height, width), ys[:, None].expand(height, width),
                               torch.ones(height, width)], -1).view(height * width, 3)
        return cls(op, magnitude, grid_matrix, lut, centred)

    def to(self, device: torch.device) -> OpTable:
        """The table on the device, except `op`: a stage sorts its samples by op on the host."""
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self) if f.name != "op"})


@dataclass(frozen=True)
class TrivialAugmentSampler:
    table: OpTable  # row (op * TRIVIAL_BINS + bin) * 2 + negative

    @classmethod
    def build(cls, size: int) -> TrivialAugmentSampler:
        op = torch.arange(len(TRIVIAL_OPS)).repeat_interleave(2 * TRIVIAL_BINS)
        bins = torch.stack([magnitude_bins(name, TRIVIAL_BINS, size, size, wide=True) for name in TRIVIAL_OPS])
        signs = torch.tensor([[1.0, -1.0 if name in SIGNED else 1.0] for name in TRIVIAL_OPS])
        return cls(OpTable.build(op, (bins[:, :, None] * signs[:, None, :]).flatten(), size, size))

    def draw(self, n: int) -> list[torch.Tensor]:
        """One stage: per sample a uniform op, a uniform bin and a sign (negative with p = 0.5)."""
        op = torch.randint(len(TRIVIAL_OPS), (n,))
        bin_ = torch.randint(TRIVIAL_BINS, (n,))
        negative = torch.rand(n) <= 0.5
        return [(op * TRIVIAL_BINS + bin_) * 2 + negative]


@dataclass(frozen=True)
class AutoAugmentSampler:
    table: OpTable  # row (stage * sub_policies + sub-policy) * 2 + negative; the last row is Identity
    probability: torch.Tensor  # float32 [len(table.op)]: that a row's op runs
    sub_policies: int

    @classmethod
    def build(cls, size: int) -> AutoAugmentSampler:
        """The CIFAR-10 sub-policies for 32-px images, else the ImageNet ones, as torchvision lists them."""
        policy = AutoAugmentPolicy.CIFAR10 if size == 32 else AutoAugmentPolicy.IMAGENET
        stages = [[(name, p, b or 0) for name, p, b in stage] for stage in zip(*AutoAugment(policy).policies)]
        bins = {name: magnitude_bins(name, AUTOAUGMENT_BINS, size, size, wide=False) for name in OPS}
        entries = [entry for stage in stages for entry in stage]
        op = [OP[name] for name, _, _ in entries for _ in range(2)] + [OP["Identity"]]
        probability = [p for _, p, _ in entries for _ in range(2)] + [1.0]
        magnitude = []
        for name, _, b in entries:
            value = float(bins[name][b])
            magnitude += [value, -value if name in SIGNED else value]
        table = OpTable.build(torch.tensor(op), torch.tensor(magnitude + [0.0]), size, size)
        return cls(table, torch.tensor(probability), len(stages[0]))

    def draw(self, n: int) -> list[torch.Tensor]:
        """Two stages: per sample a uniform sub-policy; each of its ops runs with its probability
        (else Identity) and a sign (negative with p = 0.5)."""
        sub = torch.randint(self.sub_policies, (n,))
        uniform = torch.rand(2, 2, n)
        row = torch.stack([sub, sub + self.sub_policies]) * 2 + (uniform[1] <= 0.5)
        return list(row.masked_fill_(uniform[0] > self.probability.take(row), len(self.table.op) - 1))


def apply_stage(images: torch.Tensor, table: OpTable, row: torch.Tensor) -> torch.Tensor:
    """Apply table row `row[i]` to image i: sort the batch by op, transform the contiguous slices
    (Identity, the geometric ops, each image op, the value maps), concatenate them and unsort.
    `row` and `table.op` are on the host, so the slicing needs no device sync."""
    op = table.op.take(row)
    order = torch.argsort(op)
    starts = [0, *accumulate(torch.bincount(op, minlength=len(OPS)).tolist())]
    row = row.index_select(0, order).to(images.device, non_blocking=True)
    order = order.to(images.device, non_blocking=True)
    x, magnitude = images.index_select(0, order), table.magnitude.take(row)
    pieces = [x[:starts[GEOMETRIC[0]]]]
    lo, hi = starts[GEOMETRIC[0]], starts[GEOMETRIC[1]]
    if hi > lo:
        pieces.append(affine_nearest(x[lo:hi], table.grid_matrix.index_select(0, row[lo:hi]), table.centred))
    for k, fn in IMAGE_OPS.items():
        lo, hi = starts[k], starts[k + 1]
        if hi > lo:
            pieces.append(fn(x[lo:hi], magnitude[lo:hi]))
    lo, hi = starts[VALUE_MAPS[0]], starts[VALUE_MAPS[1]]
    if hi > lo:
        luts = table.lut.index_select(0, row[lo:hi]).repeat(1, images.shape[1], 1)
        for k, fn in IMAGE_LUT_OPS.items():
            a, b = starts[k], starts[k + 1]
            if b > a:
                luts[a - lo:b - lo] = fn(x[a:b], magnitude[a:b])
        pieces.append(map_values(x[lo:hi], luts))
    return torch.cat(pieces).index_select(0, torch.argsort(order))


class BatchPolicy:
    """AutoAugment ("autoaugment": CIFAR-10 policy at 32 px, ImageNet policy otherwise) or
    TrivialAugmentWide ("trivialaugment", 31 bins) on uint8 [B, 3, size, size] batches, drawn
    independently per sample. The draws are made on the host with torch's CPU generator."""

    def __init__(self, name: str, image_size: int):
        if name not in ("autoaugment", "trivialaugment"):
            raise ValueError(f"unknown policy '{name}'; valid: autoaugment, trivialaugment")
        self.name = name
        self.image_size = image_size
        sampler = AutoAugmentSampler if name == "autoaugment" else TrivialAugmentSampler
        self.sampler: AutoAugmentSampler | TrivialAugmentSampler = sampler.build(image_size)
        self.table = self.sampler.table  # moved to the images' device on first use

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"expected {self.image_size}x{self.image_size} images, got {tuple(images.shape)}")
        if self.table.magnitude.device != images.device:
            self.table = self.sampler.table.to(images.device)
        for row in self.sampler.draw(len(images)):
            images = apply_stage(images, self.table, row)
        return images
