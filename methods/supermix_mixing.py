"""SuperMix's mixing (reference/methods.md 5): the masks, their smoothed Newton-like steps and the
top-K rule, and the stage that makes a mixed set with the subset's teacher (the stage kind, its
recipe and the student: methods/supermix.py, which imports this module when a set is made or used)."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.atomic import save_atomic
from benchmark.training.artifacts import fields_problem, tensor_problem
from benchmark.training.models import build_model
from benchmark.training.pipeline import TrainData, denormalize, normalize
from benchmark.profiles import recipe_for
from benchmark.spec import StageSpec
from benchmark.training.resumable import train_curve
from benchmark.training.timing import interleaved_medians
from methods.teacher_model import load_teacher

if TYPE_CHECKING:
    from methods.stage import StageWork
    from methods.supermix import MixRecipe


@functools.cache
def gaussian_taps(sigma: float) -> torch.Tensor:
    """int(5 sigma) taps of a Gaussian of std sigma centred on the kernel, summing to 1 (the reference's kernel)."""
    size = int(5 * sigma)
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    taps = torch.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


def smooth(g: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian smoothing of [B, K, w, w] per map, zero padding, same size."""
    taps = gaussian_taps(sigma).to(g.device, g.dtype)
    size = len(taps)
    before, after = size // 2 - (1 - size % 2), size // 2
    flat = F.pad(g.flatten(0, 1)[:, None], (before, after, before, after))
    flat = F.conv2d(F.conv2d(flat, taps.view(1, 1, size, 1)), taps.view(1, 1, 1, size))
    return flat.view_as(g)


def process_masks(m: torch.Tensor, size: int) -> torch.Tensor:
    """Mask variables [B, K, w, w] -> masks [B, K, size, size]: bilinear upsampling, sigmoid, and
    normalisation over K (the masks of a mix sum to 1 at every pixel)."""
    s = torch.sigmoid(F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False))
    return s / s.sum(1, keepdim=True)


def apply_masks(masks: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    """The mixes [B, 3, H, W] of sources [B, K, 3, H, W] under masks [B, K, H, W]."""
    return (masks[:, :, None] * sources).sum(1)


def top_k_match(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """bool [B]: the teacher's top-m classes are the m distinct labels of each K-tuple [B, K]. With
    distinct labels this is the reference's rule (sorted top-K of the mix = sorted top-K of the
    target); a tuple of one class needs it as the top-1 (the reference compares an arbitrary
    zero-weight class there)."""
    k = labels.shape[1]
    top = logits.topk(k, dim=1).indices
    distinct = (labels[:, :, None] == labels[:, None, :]).triu(1).any(1).logical_not().sum(1)  # [B]
    within = torch.arange(k, device=labels.device)[None, None, :] < distinct[:, None, None]
    return ((labels[:, :, None] == top[:, None, :]) & within).any(2).all(1)


@dataclass
class Mixes:
    images: torch.Tensor  # normalised [b, 3, H, W], the kept mixes
    masks: torch.Tensor  # [b, K, H, W]
    sources: torch.Tensor  # [b, K, 3, H, W]
    iterations: int


@torch.no_grad()
def mix_batch(teacher: nn.Module, x: torch.Tensor, num_classes: int, recipe: MixRecipe) -> Mixes:
    """SuperMix's mixing of a normalised batch x [B, 3, H, W] with its cyclic shifts, by the
    smoothed Newton-like steps of the masks; only the mixes that succeeded are returned."""
    b, size, k = len(x), x.shape[-1], recipe.k
    device = x.device
    tuples = (torch.arange(b, device=device)[:, None] + torch.arange(k, device=device)[None, :]) % b
    sources = x[tuples]
    labels = teacher(x).argmax(1)[tuples]
    weights = torch.distributions.Dirichlet(torch.full((k,), recipe.alpha, device=device)).sample((b,))
    target = torch.zeros(b, num_classes, device=device).scatter_add_(1, labels, weights)
    variables = torch.zeros(b, k, recipe.mask_size, recipe.mask_size, device=device)
    active = torch.ones(b, dtype=torch.bool, device=device)
    iterations = 0
    while int(active.sum()) > int(b * recipe.tol) and iterations < recipe.max_iter:
        with torch.enable_grad():
            m = variables.requires_grad_()
            masks = process_masks(m, size)
            logits = teacher(apply_masks(masks, sources))
            kl = F.kl_div(F.log_softmax(logits, 1), target, reduction="none").sum(1)
            sparsity = (masks * (masks - 1)).abs().mean((1, 2, 3))
            objective = (kl + recipe.lambda_s * sparsity) * active
            (grad,) = torch.autograd.grad(objective.sum(), m)
        smoothed = smooth(grad, recipe.sigma)
        step = (objective.abs() / ((grad * smoothed).flatten(1).sum(1) + 1e-10)).clamp(1e-4, 2000)
        variables = variables.detach() - (step * active)[:, None, None, None] * smoothed
        masks = process_masks(variables, size)
        mixed = apply_masks(masks, sources)
        active = ~top_k_match(teacher(mixed), labels)
        iterations += 1
    kept = ~active
    return Mixes(mixed[kept], masks[kept], sources[kept], iterations)


class MixedSet:
    """The mixes made so far (uint8, on the device) and their teacher labels; a checkpointable part."""

    def __init__(self, image_size: int, device: torch.device):
        self.images = [torch.empty(0, 3, image_size, image_size, dtype=torch.uint8, device=device)]
        self.labels = [torch.empty(0, dtype=torch.long, device=device)]

    def add(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images.append(images)
        self.labels.append(labels)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"images": torch.cat(self.images), "labels": torch.cat(self.labels)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        device = self.images[0].device
        self.images, self.labels = [state["images"].to(device)], [state["labels"].to(device)]


class SetMaking:
    """One mixed-set stage: the subset on the device (flips only, as the reference's loader), the
    teacher, and the set made so far."""

    def __init__(self, stage: StageSpec, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                 device: torch.device, teacher: nn.Module, recipe: MixRecipe):
        self.recipe, self.device, self.teacher, self.num_classes = recipe, device, teacher, num_classes
        torch.manual_seed(stage.seed)
        self.data = TrainData(images.to(device), labels.to(device), pad=0)
        self.repeats = recipe.repeats(stage.shots)
        self.set = MixedSet(images.shape[-1], device)

    def make(self, idx: torch.Tensor) -> Mixes:
        """The kept mixes of one batch, added to the set with the teacher's label of each (uint8) mix."""
        mixes = mix_batch(self.teacher, self.data.batch(idx).x, self.num_classes, self.recipe)
        images = denormalize(mixes.images)
        with torch.no_grad():
            self.set.add(images, self.teacher(normalize(images)).argmax(1))
        return mixes

    def run_pass(self) -> dict[str, float]:
        """One pass over the subset repeated; how many mixes it tried and kept, the mean iterations."""
        n = len(self.data)
        order = torch.randperm(n * self.repeats, device=self.device) % n
        kept, iterations, batches = 0, 0, 0
        for i in range(0, len(order), self.recipe.batch_size):
            mixes = self.make(order[i:i + self.recipe.batch_size])
            kept += len(mixes.images)
            iterations += mixes.iterations
            batches += 1
        return {"tried": len(order), "kept": kept, "mean_iterations": iterations / batches}

    def parts(self) -> dict[str, Any]:
        """What a checkpoint holds (benchmark.training.resumable.Job)."""
        return {"set": self.set}


def write_set(images: torch.Tensor, labels: torch.Tensor, stage: StageSpec, path: Path) -> None:
    save_atomic({"stage": stage.to_dict(), "images": images.cpu(), "labels": labels.cpu()}, path)


def artifact_problem(state: Any, stage: StageSpec, recipe: MixRecipe) -> str:
    problem = (fields_problem(state, stage, {"images": torch.Tensor, "labels": torch.Tensor})
               or tensor_problem("images", state["images"], torch.uint8, (None, 3, None, None)))
    return problem or tensor_problem("labels", state["labels"], torch.int64, (len(state["images"]),))


def load_set(path: Path, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 mixes [m, 3, H, W], their teacher labels [m]) of an artifact, on the device."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["images"].to(device), state["labels"].to(device)


def train(work: StageWork) -> dict:
    """Make the stage's set with the teacher (the artifact of its teacher stage), resuming from and
    periodically writing the checkpoint, then write the artifact; the stage's summary."""
    from methods.teacher import TeacherKind
    teacher = load_teacher(work.inputs[TeacherKind.name], work.device)
    making = SetMaking(work.stage, work.images, work.labels, work.num_classes, work.device, teacher, work.recipe)
    progress, resumed_from = train_curve(making, work.stage.to_dict(), work.recipe.epochs, making.run_pass,
                                         work.checkpoint, work.checkpoint_every_s, work.on_epoch)
    made = making.set.state_dict()
    if not len(made["labels"]):
        raise RuntimeError(f"no mix of {work.stage.describe()} met the teacher's top-{work.recipe.k} rule; the set "
                           "is empty")
    write_set(made["images"], made["labels"], work.stage, work.artifact)
    return {"recipe": asdict(work.recipe), "images": len(made["labels"]), "train_seconds": progress.train_seconds,
            "resumed_from_epoch": resumed_from, "curve": progress.curve}


def stand_in(work: StageWork) -> None:
    """The subset itself as the set: drawing from it costs what drawing from a made set costs."""
    write_set(work.images, work.labels, work.stage, work.artifact)


def measure_step(stage: StageSpec, recipe: MixRecipe, image_size: int, num_classes: int, device: torch.device) -> float:
    """recipe.max_iter x the median time of one mask update of a batch (an untrained teacher of the
    profile's classifier, random images): a batch at the most mask updates it may take."""
    iterations = recipe.max_iter
    recipe = dataclasses.replace(recipe, max_iter=1, tol=-1.0)
    torch.manual_seed(0)
    teacher = build_model(recipe_for(stage.profile, image_size).model, num_classes).to(device).eval()
    teacher.requires_grad_(False)
    x = torch.rand(recipe.batch_size, 3, image_size, image_size, device=device) * 2 - 1
    seconds = interleaved_medians({"step": lambda: mix_batch(teacher, x, num_classes, recipe)}, 2, device, warmup=1)
    return iterations * seconds["step"]


def mixed_batch(images: torch.Tensor, labels: torch.Tensor, n: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n mixes drawn uniformly from a set (uint8 images, labels) with their own crop (padding pad) and
    flip: the normalised images and their labels."""
    pick = torch.randint(len(labels), (n,), device=labels.device)
    batch = TrainData(images[pick], labels[pick], pad).batch(torch.arange(n, device=pick.device))
    return batch.x, batch.y
