"""The ChimeraMix / HydraMix generator's networks, losses and training (the stage kind and its
recipe: methods/generator.py, which imports this module when a generator is trained or used).

An encoder turns each of N same-class images into features at 1/4 of the generator's image size;
the features are mixed with one-hot masks (methods.masks) and decoded into one composition.
Architecture and losses follow reference/chimeramix.md 7.5, with the decoder's residual blocks
used (the reference code discards their output) and the discriminator's final sigmoid kept (the
reference feeds sigmoid scores to its least-squares loss).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.atomic import save_atomic
from benchmark.training.artifacts import fields_problem, weights_problem
from benchmark.training.models import bf16_autocast
from benchmark.training.resumable import curve_summary, mean_losses_epoch, train_curve
from benchmark.training.timing import median_batch_seconds, random_subset
from benchmark.training.pipeline import Batch, TrainData, normalize
from benchmark.spec import StageSpec, per_class
from methods.masks import MASKS, SEGMENTED_SOURCE, felzenszwalb_params, mix, sample_masks, segment

if TYPE_CHECKING:
    from methods.generator import GeneratorRecipe
    from methods.stage import StageWork

LAPLACIAN_LEVELS = 3


def conv_norm_relu(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, padding), nn.InstanceNorm2d(cout), nn.ReLU(inplace=True)]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), *conv_norm_relu(channels, channels, 3),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """CycleGAN-style encoder (7x7 conv, two stride-2 convs, 2 residual blocks) and decoder
    (2 residual blocks, two stride-2 transposed convs, 7x7 conv, tanh)."""

    def __init__(self, features: int, image_size: int):
        super().__init__()
        f = features
        self.features = features
        self.image_size = image_size
        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3), *conv_norm_relu(3, f, 7),
            *conv_norm_relu(f, 2 * f, 3, 2, 1), *conv_norm_relu(2 * f, 4 * f, 3, 2, 1),
            ResidualBlock(4 * f), ResidualBlock(4 * f),
        )
        self.decoder = nn.Sequential(
            ResidualBlock(4 * f), ResidualBlock(4 * f),
            nn.ConvTranspose2d(4 * f, 2 * f, 2, 2), nn.InstanceNorm2d(2 * f), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * f, f, 2, 2), nn.InstanceNorm2d(f), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(3), nn.Conv2d(f, 3, 7), nn.Tanh(),
        )

    @property
    def mask_size(self) -> int:
        return self.image_size // 4

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(features)

    def compose(self, sources: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Decode the mix of the features of sources [B, N, 3, S, S] under masks [B, N, S/4, S/4]."""
        features = self.encode(sources.flatten(0, 1)).unflatten(0, sources.shape[:2])
        return self.decode(mix(features, masks))


class Discriminator(nn.Module):
    """PatchGAN: four 4x4 stride-2 convs (features x1, x2, x4, x8; instance norm from the second
    on; LeakyReLU 0.2), then a 4x4 conv to one channel and a sigmoid."""

    def __init__(self, features: int):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i, cout in enumerate((features, 2 * features, 4 * features, 8 * features)):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1))
            if i:
                layers.append(nn.InstanceNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        self.model = nn.Sequential(*layers, nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(cin, 1, 4, padding=1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@functools.cache
def binomial_kernel(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The 5x5 binomial filter (outer product of 1 4 6 4 1, / 256), copied to a device once: a
    copy per call would sync the host with the GPU at every loss."""
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    return (k1[:, None] * k1[None, :] / 256).to(device, dtype)


def binomial_blur(x: torch.Tensor) -> torch.Tensor:
    """The binomial filter per channel, reflect padding."""
    kernel = binomial_kernel(x.device, x.dtype).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=x.shape[1])


def laplacian_loss(a: torch.Tensor, b: torch.Tensor, levels: int = LAPLACIAN_LEVELS) -> torch.Tensor:
    """Sum over the band-pass levels of the Laplacian pyramid of the mean absolute difference.
    The pyramid is linear, so the pyramid of a - b is the difference of the pyramids."""
    x = a - b
    total = x.new_zeros(())
    for _ in range(levels):
        down = binomial_blur(x)[..., ::2, ::2]
        up = torch.zeros_like(x)
        up[..., ::2, ::2] = down
        total = total + (x - 4 * binomial_blur(up)).abs().mean()
        x = down
    return total


class SameClass:
    """The subset's indices by class, to draw partners of each sample's class uniformly from the
    subset (possibly the sample itself)."""

    def __init__(self, labels: torch.Tensor):
        self.counts = torch.bincount(labels)
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        self.by_class = torch.argsort(labels, stable=True)

    def partners(self, y: torch.Tensor, k: int) -> torch.Tensor:
        """[B, k] indices of images of the classes y."""
        r = (torch.rand(len(y), k, device=y.device) * self.counts[y][:, None]).long()
        return self.by_class[self.starts[y][:, None] + r]


class Composer:
    """Draws, for every sample of a batch, N - 1 partners of its class (SameClass), augments them
    like the batch, and draws the masks. Segmentations are computed once per training image and
    cropped/flipped with their image; `image_size` is the dataset's (it chooses the segmentation's
    parameters), the images in `data` may be resized."""

    def __init__(self, data: TrainData, mask: str, n_images: int, mask_size: int, image_size: int):
        if mask not in MASKS:
            raise ValueError(f"unknown mask '{mask}'; valid: {', '.join(MASKS)}")
        if n_images < 2 or (mask != "seg_assign" and n_images != 2):
            raise ValueError(f"mask '{mask}' cannot mix {n_images} images")
        self.data = data
        self.mask = mask
        self.n_images = n_images
        self.mask_size = mask_size
        labels = data.labels
        self.same_class = SameClass(labels)
        self.num_segments = 0
        if mask in SEGMENTED_SOURCE:
            segments = segment(normalize(data.images), *felzenszwalb_params(image_size))
            self.num_segments = int(segments.max()) + 1
            self.segments = data.pad_for_crop(segments[:, None].to(labels.device))

    def sources(self, batch: Batch) -> list[Batch]:
        """The batch and N - 1 batches of partners, each with its own crop and flip (and policy)."""
        partners = self.same_class.partners(batch.y, self.n_images - 1)
        return [batch, *(self.data.batch(p) for p in partners.T)]

    def masks(self, sources: list[Batch]) -> torch.Tensor:
        segmentation = None
        if self.mask in SEGMENTED_SOURCE:
            segmentation = self.data.aligned(self.segments, sources[SEGMENTED_SOURCE[self.mask]])[:, 0].long()
        return sample_masks(self.mask, self.n_images, len(sources[0].y), self.mask_size, sources[0].x.device,
                            segmentation, self.num_segments)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear with align_corners=True, as the reference resizes to and from the generator."""
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=True)


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear with align_corners=False, as the reference's torchvision Resize of its training images
    (generated batches are resized with align_corners=True, as the reference does there)."""
    if images.shape[-1] == size:
        return images
    up = F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False)
    return up.round().clamp(0, 255).to(torch.uint8)


def write_artifact(generator: Generator, stage: StageSpec, path: Path) -> None:
    save_atomic({"stage": stage.to_dict(), "features": generator.features, "image_size": generator.image_size,
                 "generator": generator.state_dict()}, path)


def artifact_problem(state: Any, stage: StageSpec, recipe: GeneratorRecipe) -> str:
    return (fields_problem(state, stage, {"features": int, "image_size": int, "generator": dict})
            or ("" if (state["features"], state["image_size"]) == (recipe.features, recipe.image_size)
                else "another recipe's generator")
            or weights_problem(state["generator"], lambda: Generator(recipe.features, recipe.image_size)))


def load_generator(path: Path, device: torch.device) -> Generator:
    """The trained generator of an artifact, in eval mode and without gradients."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    generator = Generator(state["features"], state["image_size"])
    generator.load_state_dict(state["generator"])
    return generator.to(device).eval().requires_grad_(False)


LOSS_NAMES = ("reconstruction", "adversarial", "discriminator")


class GeneratorTraining:
    """One generator stage: the subset upsampled to the generator's size on the device, G and D
    with Adam and a per-iteration step decay, and the state needed to resume exactly."""

    def __init__(self, stage: StageSpec, images: torch.Tensor, labels: torch.Tensor, device: torch.device,
                 recipe: GeneratorRecipe):
        self.recipe = recipe
        self.device = device
        params = dict(stage.params)
        mask, n_images = str(params["mask"]), int(params["n_images"])
        torch.manual_seed(stage.seed)
        self.generator = Generator(recipe.features, recipe.image_size).to(device)
        self.discriminator = Discriminator(recipe.features).to(device)
        size = recipe.image_size
        self.data = TrainData(resize_uint8(images.to(device), size), labels.to(device), pad=size // 8)
        self.composer = Composer(self.data, mask, n_images, self.generator.mask_size, images.shape[-1])
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=recipe.lr, betas=recipe.betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=recipe.lr, betas=recipe.betas)
        shots = per_class(stage.shots, len(self.data), int(labels.max()) + 1)
        self.repeats = recipe.repeats(shots)
        self.steps_per_epoch = recipe.epoch_steps(len(self.data), shots)
        milestones = [m * self.steps_per_epoch for m in recipe.milestones]
        self.sched_g = torch.optim.lr_scheduler.MultiStepLR(self.opt_g, milestones, recipe.gamma)
        self.sched_d = torch.optim.lr_scheduler.MultiStepLR(self.opt_d, milestones, recipe.gamma)

    def step(self, idx: torch.Tensor) -> torch.Tensor:
        """One G and one D update on compositions of the samples `idx`; the losses, on the device."""
        sources = self.composer.sources(self.data.batch(idx))
        x = torch.stack([s.x for s in sources], 1)
        masks = self.composer.masks(sources)
        b, n = x.shape[:2]
        flat = x.flatten(0, 1)
        with bf16_autocast(self.device):
            features = self.generator.encode(flat)
            mixed = mix(features.unflatten(0, (b, n)), masks)
            out = self.generator.decode(torch.cat([features, mixed])).float()
        reconstructed, fake = out[:b * n], out[b * n:]
        # Every source's reconstruction terms are summed (the reference sums A's and B's): n x the mean.
        loss_rec = n * (self.recipe.reconstruction_weight * F.mse_loss(reconstructed, flat)
                        + laplacian_loss(reconstructed, flat))
        self.discriminator.requires_grad_(False)
        with bf16_autocast(self.device):
            score_fake = self.discriminator(fake).float()
        loss_adv = F.mse_loss(score_fake, torch.ones_like(score_fake))
        self.opt_g.zero_grad(set_to_none=True)
        (loss_rec + loss_adv).backward()
        self.opt_g.step()

        self.discriminator.requires_grad_(True)
        real = x[torch.arange(b, device=x.device), torch.randint(0, n, (b,), device=x.device)]
        with bf16_autocast(self.device):
            scores = self.discriminator(torch.cat([real, fake.detach()])).float()
        loss_d = F.mse_loss(scores[:b], torch.ones_like(scores[:b])) + F.mse_loss(scores[b:], torch.zeros_like(scores[b:]))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        self.sched_g.step()
        self.sched_d.step()
        return torch.stack([loss_rec, loss_adv, loss_d]).detach()

    def train_epoch(self) -> dict[str, float]:
        self.generator.train()
        self.discriminator.train()
        return mean_losses_epoch(self.step, LOSS_NAMES, len(self.data), self.repeats, self.recipe.batch_size,
                                 self.device)

    def parts(self) -> dict[str, Any]:
        """What a checkpoint holds (benchmark.training.resumable.Job)."""
        return {"generator": self.generator, "discriminator": self.discriminator, "opt_g": self.opt_g,
                "opt_d": self.opt_d, "sched_g": self.sched_g, "sched_d": self.sched_d}


def train(work: StageWork) -> dict:
    """Train the stage's generator, resuming from and periodically writing the checkpoint, then write
    the artifact; the stage's summary."""
    training = GeneratorTraining(work.stage, work.images, work.labels, work.device, work.recipe)
    progress, resumed_from = train_curve(training, work.stage.to_dict(), work.recipe.epochs, training.train_epoch,
                                         work.checkpoint, work.checkpoint_every_s, work.on_epoch)
    write_artifact(training.generator, work.stage, work.artifact)
    return curve_summary(work.recipe, training.steps_per_epoch, progress, resumed_from)


def stand_in(work: StageWork) -> None:
    """An untrained generator of the stage's recipe: same cost as a trained one."""
    write_artifact(Generator(work.recipe.features, work.recipe.image_size), work.stage, work.artifact)


def measure_step(stage: StageSpec, recipe: GeneratorRecipe, image_size: int, num_classes: int,
                 device: torch.device) -> float:
    """Median time of one generator training step of the recipe, on random images."""
    images, labels = random_subset(num_classes, image_size)
    training = GeneratorTraining(stage, images, labels, device, recipe)
    return median_batch_seconds(training.step, recipe.batch_size, len(labels), device)
