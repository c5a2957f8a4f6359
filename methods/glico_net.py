"""GLICO's networks, latents and stage training (reference/methods.md 2; the stage kind, its recipe
and the method: methods/glico.py, which imports this module when a stage is trained or used)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.atomic import save_atomic
from benchmark.training.artifacts import fields_problem, tensor_problem, weights_problem
from benchmark.training.models import bf16_autocast
from benchmark.training.pipeline import normalize
from benchmark.training.resumable import curve_summary, mean_losses_epoch, train_curve
from benchmark.spec import StageSpec
from benchmark.training.timing import median_batch_seconds, random_subset
from methods.generator_net import laplacian_loss, resize, resize_uint8

if TYPE_CHECKING:
    from methods.glico import GlicoRecipe
    from methods.stage import StageWork

LATENT_DIM = 512
CODE_DIM = 100  # the noise code, N(0, CODE_STD^2), drawn afresh for every batch
CODE_STD = 0.15


def xavier_init(module: nn.Module) -> None:
    """The reference's init: Xavier-normal weights with gain sqrt(2) for every linear and conv layer."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_normal_(m.weight, gain=math.sqrt(2.0))


class LatentGenerator(nn.Module):
    """The reference's CIFAR generator: [z, LeakyReLU(Linear(code))] -> Linear(hidden) -> Linear(to
    channels x S/4 x S/4) -> two stride-2 4x4 transposed convs -> sigmoid; LeakyReLU 0.2 throughout,
    no normalisation layers. Images come out in [0, 1]."""

    def __init__(self, image_size: int, hidden: int, channels: int):
        super().__init__()
        self.image_size, self.hidden, self.channels = image_size, hidden, channels
        side = image_size // 4
        self.code = nn.Linear(CODE_DIM, CODE_DIM, bias=False)
        self.body = nn.Sequential(
            nn.Linear(LATENT_DIM + CODE_DIM, hidden, bias=False), nn.LeakyReLU(0.2),
            nn.Linear(hidden, channels * side * side, bias=False), nn.LeakyReLU(0.2),
            nn.Unflatten(1, (channels, side, side)),
            nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(channels // 2, 3, 4, 2, 1), nn.Sigmoid(),
        )
        xavier_init(self)

    def forward(self, z: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        z = z / z.norm(dim=1, keepdim=True).detach()  # the reference normalises again, not through the norm
        return self.body(torch.cat([z, F.leaky_relu(self.code(code), 0.2)], 1))


def auxiliary_classifier(num_classes: int, width: int, image_size: int) -> nn.Sequential:
    """The reference's small conv classifier (`--d conv`): 4 x (3x3 conv, BN, LeakyReLU 0.1, 2x2
    max pool), then a linear layer; it returns logits (the reference returns softmax probabilities
    and applies cross-entropy on top of them)."""
    layers: list[nn.Module] = []
    cin = 3
    for _ in range(4):
        layers += [nn.Conv2d(cin, width, 3, 1, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.1), nn.MaxPool2d(2)]
        cin = width
    classifier = nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * (image_size // 16) ** 2, num_classes))
    xavier_init(classifier)
    return classifier


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between the rows of a (t = 0) and b (t = 1); where they point the
    same way (angle 0, e.g. a sample paired with itself) the linear interpolation, i.e. a."""
    cos = (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    curved = sin > 1e-6
    sin = torch.where(curved, sin, torch.ones_like(sin))
    wa = torch.where(curved, torch.sin((1 - t) * omega) / sin, torch.full_like(sin, 1 - t))
    wb = torch.where(curved, torch.sin(t * omega) / sin, torch.full_like(sin, t))
    return wa * a + wb * b


def random_latents(n: int, device: torch.device) -> nn.Embedding:
    latents = nn.Embedding(n, LATENT_DIM).to(device)
    with torch.no_grad():
        latents.weight.copy_(F.normalize(latents.weight, dim=1))
    return latents


def write_artifact(generator: LatentGenerator, latents: torch.Tensor, labels: torch.Tensor, stage: StageSpec,
                   path: Path) -> None:
    save_atomic({"stage": stage.to_dict(), "image_size": generator.image_size, "hidden": generator.hidden,
                 "channels": generator.channels, "generator": generator.state_dict(),
                 "latents": latents.detach().cpu(), "labels": labels.cpu()}, path)


def artifact_problem(state: Any, stage: StageSpec, recipe: GlicoRecipe) -> str:
    r = recipe
    problem = (fields_problem(state, stage, {"image_size": int, "hidden": int, "channels": int, "generator": dict,
                                             "latents": torch.Tensor, "labels": torch.Tensor})
               or ("" if (state["image_size"], state["hidden"], state["channels"]) == (r.image_size, r.hidden, r.channels)
                   else "another recipe's generator")
               or weights_problem(state["generator"], lambda: LatentGenerator(r.image_size, r.hidden, r.channels))
               or tensor_problem("labels", state["labels"], torch.int64, (None,)))
    return problem or tensor_problem("latents", state["latents"], torch.float32, (len(state["labels"]), LATENT_DIM))


def load_glico(path: Path, device: torch.device) -> tuple[LatentGenerator, torch.Tensor, torch.Tensor]:
    """(the generator in eval mode without gradients, the latents [n, 512], their labels) of an artifact."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    generator = LatentGenerator(state["image_size"], state["hidden"], state["channels"])
    generator.load_state_dict(state["generator"])
    return generator.to(device).eval().requires_grad_(False), state["latents"].to(device), state["labels"].to(device)


LOSS_NAMES = ("reconstruction", "classification")


class GlicoTraining:
    """One GLICO stage: the subset (no augmentation, as the reference) at the generator's size on
    the device, the latents, generator and auxiliary classifier, their optimizers and schedules."""

    def __init__(self, stage: StageSpec, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                 device: torch.device, recipe: GlicoRecipe):
        self.recipe = recipe
        self.device = device
        torch.manual_seed(stage.seed)
        self.x = normalize(resize_uint8(images.to(device), recipe.image_size))
        self.y = labels.to(device)
        self.latents = random_latents(len(labels), device)
        self.generator = LatentGenerator(recipe.image_size, recipe.hidden, recipe.channels).to(device)
        self.classifier = auxiliary_classifier(num_classes, recipe.classifier_width, recipe.image_size).to(device)
        betas = (0.5, 0.999)
        self.opt_z = torch.optim.Adam(self.latents.parameters(), lr=recipe.lr, betas=betas)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=recipe.lr * recipe.generator_factor, betas=betas)
        self.opt_c = torch.optim.SGD(self.classifier.parameters(), lr=recipe.classifier_lr, momentum=0.9,
                                     weight_decay=recipe.classifier_weight_decay)
        self.repeats = recipe.repeats(stage.shots)
        self.steps_per_epoch = recipe.epoch_steps(len(labels), stage.shots)
        decay_steps = recipe.decay_epochs * self.steps_per_epoch
        self.sched_z = torch.optim.lr_scheduler.StepLR(self.opt_z, decay_steps, recipe.decay_rate)
        self.sched_g = torch.optim.lr_scheduler.StepLR(self.opt_g, decay_steps, recipe.decay_rate)

    def step(self, idx: torch.Tensor) -> torch.Tensor:
        """One update of latents, generator and classifier on the samples `idx`; the losses, on the device."""
        code = CODE_STD * torch.randn(len(idx), CODE_DIM, device=self.device)
        target = self.x[idx]
        with bf16_autocast(self.device):
            made = 2 * self.generator(self.latents(idx), code).float() - 1
            logits = self.classifier(made).float()
        reconstruction = F.l1_loss(made, target) + laplacian_loss(made, target)
        classification = F.cross_entropy(logits, self.y[idx])
        optimizers = (self.opt_z, self.opt_g, self.opt_c)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        (reconstruction + self.recipe.gamma * classification).backward()
        for optimizer in optimizers:
            optimizer.step()
        self.sched_z.step()
        self.sched_g.step()
        with torch.no_grad():
            self.latents.weight.div_(self.latents.weight.norm(dim=1, keepdim=True))
        return torch.stack([reconstruction, classification]).detach()

    def train_epoch(self) -> dict[str, float]:
        self.generator.train()
        self.classifier.train()
        return mean_losses_epoch(self.step, LOSS_NAMES, len(self.y), self.repeats, self.recipe.batch_size, self.device)

    def parts(self) -> dict[str, Any]:
        """What a checkpoint holds (benchmark.training.resumable.Job)."""
        return {"latents": self.latents, "generator": self.generator, "classifier": self.classifier,
                "opt_z": self.opt_z, "opt_g": self.opt_g, "opt_c": self.opt_c, "sched_z": self.sched_z,
                "sched_g": self.sched_g}


def train(work: StageWork) -> dict:
    """Train the stage's latents and generator, resuming from and periodically writing the
    checkpoint, then write the artifact; the stage's summary."""
    training = GlicoTraining(work.stage, work.images, work.labels, work.num_classes, work.device, work.recipe)
    progress, resumed_from = train_curve(training, work.stage.to_dict(), work.recipe.epochs, training.train_epoch,
                                         work.checkpoint, work.checkpoint_every_s, work.on_epoch)
    write_artifact(training.generator, training.latents.weight, work.labels, work.stage, work.artifact)
    return curve_summary(work.recipe, training.steps_per_epoch, progress, resumed_from)


def measure_step(stage: StageSpec, recipe: GlicoRecipe, image_size: int, num_classes: int,
                 device: torch.device) -> float:
    """Median time of one training step of the recipe, on random images."""
    images, labels = random_subset(num_classes, image_size)
    training = GlicoTraining(stage, images, labels, num_classes, device, recipe)
    return median_batch_seconds(training.step, recipe.batch_size, len(labels), device)


def stand_in(work: StageWork) -> None:
    """An untrained generator of the recipe and random latents: same cost as trained ones."""
    r = work.recipe
    latents = random_latents(len(work.labels), torch.device("cpu")).weight
    write_artifact(LatentGenerator(r.image_size, r.hidden, r.channels), latents, work.labels, work.stage, work.artifact)


def slerped_images(generator: LatentGenerator, latents: torch.Tensor, idx: torch.Tensor, partners: torch.Tensor,
                   ratio: float, size: int) -> torch.Tensor:
    """Images [B, 3, size, size] in [-1, 1] from the latents of idx slerped towards those of
    partners by `ratio`, with fresh noise codes; resized as the ChimeraMix generator's images."""
    z = slerp(latents[idx], latents[partners], ratio)
    code = CODE_STD * torch.randn(len(z), CODE_DIM, device=z.device)
    with torch.inference_mode(), bf16_autocast(z.device, native_cpu=True):
        made = resize(2 * generator(z, code).float() - 1, size)
    return made.clone()  # a normal tensor again, usable by autograd
