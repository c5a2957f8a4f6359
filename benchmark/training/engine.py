"""The training engine: a method, its run's context and recipe, and the subset in; a trained
classifier and its test metrics out.

The subset and the test set live on the device (or, too large for it, stream from disk:
benchmark.training.stream); an epoch is the subset repeated
max(repeats_base // shots, 1) times in random order (shots: the mean per class of the whole pool
for a run on all of it), cut into batches by the recipe's sampler; SGD with momentum (Nesterov in the
ChimeraMix recipe) and the recipe's schedule (cosine, or StepLR) stepped per iteration; the top-1
accuracy of the final model is what the tables report.
The training step never reads a value back to the host: losses are summed on the device and
read once per epoch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from benchmark.training.models import bf16_autocast, build_model
from benchmark.training.pipeline import NORMALIZATIONS, TrainData
from benchmark.training.policies import BatchPolicy
from benchmark.training.recipes import Recipe
from benchmark.training.resized_crop import ResizedCropData
from benchmark.training.resumable import InvalidProgress, check_curve, check_progress, is_number, train_epochs
from benchmark.training.samplers import SAMPLERS
from benchmark.training.stream import Images, in_chunks
from benchmark.spec import per_class

if TYPE_CHECKING:
    from methods import Method

EVALUATIONS_PER_RUN = 10  # points of the test-accuracy curve


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def evaluation_every(epochs: int) -> int:
    """The epochs between two points of the test-accuracy curve."""
    return max(epochs // EVALUATIONS_PER_RUN, 1)


@dataclass
class Progress:
    epoch: int = 0
    curve_loss: list[float] = field(default_factory=list)
    curve_acc: list[list[float]] = field(default_factory=list)  # [epoch, accuracy %] every evaluation_every
    train_seconds: float = 0.0

    def check(self, epochs: int) -> None:
        """InvalidProgress unless this is the progress of a run of `epochs` epochs (a checkpoint's)."""
        check_progress(self, epochs)
        check_curve("curve_loss", self.curve_loss, self.epoch, is_number)
        evaluated = list(range(evaluation_every(epochs), self.epoch + 1, evaluation_every(epochs)))
        check_curve("curve_acc", self.curve_acc, len(evaluated), lambda p: (
            isinstance(p, list) and len(p) == 2 and is_number(p[1]) and 0 <= p[1] <= 100))
        if [p[0] for p in self.curve_acc] != evaluated or not all(type(p[0]) is int for p in self.curve_acc):
            raise InvalidProgress(f"progress.curve_acc is not evaluated at epochs {evaluated}")


class Trainer:
    """A run's training on its subset: `method` is the run's resolved method (a fresh copy: its
    `setup` fills it for this training), `recipe` its recipe; `images` held (a tensor) or streamed,
    and for the 224-px recipes the originals' sizes (`sizes`, benchmark.data.photos)."""

    def __init__(self, method: Method, recipe: Recipe, images: Images, labels: torch.Tensor,
                 device: torch.device, artifacts: dict[str, Path], compile_model: bool = False,
                 sizes: torch.Tensor | None = None):
        ctx = method.ctx
        self.recipe = recipe
        self.device = device
        self.cuda = device.type == "cuda"
        policy = method.policy_for(ctx.augment)
        size = images.shape[-1]
        torch.manual_seed(ctx.seed)  # same initial weights for every method of a (dataset, shots, seed)
        self.method = method
        model = self.method.wrap_model(build_model(recipe.model, ctx.num_classes)).to(device)
        if self.cuda:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.forward = torch.compile(model) if compile_model else model
        held = images.to(device) if isinstance(images, torch.Tensor) else images
        self.data = training_data(recipe, held, labels.to(device), None if policy == "none" else BatchPolicy(policy, size),
                                  sizes, ctx.image_size)
        self.method.setup(self.data, artifacts)
        r = recipe
        self.optimizer = torch.optim.SGD(model.parameters(), lr=r.lr, momentum=r.momentum,
                                         weight_decay=r.weight_decay, nesterov=r.nesterov)
        shots = per_class(ctx.shots, len(self.data), ctx.num_classes)
        self.repeats = r.repeats(shots)
        self.steps_per_epoch = r.epoch_steps(len(self.data), shots)
        self.total_steps = r.epochs * self.steps_per_epoch
        self.scheduler = r.lr_scheduler(self.optimizer, self.steps_per_epoch)

    def step(self, idx: torch.Tensor) -> torch.Tensor:
        batch = self.method.augment(self.data.batch(idx))
        batch.x = self.layout(batch.x)
        with bf16_autocast(self.device):
            loss = self.method.loss(self.forward, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return loss.detach()

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """The model's input memory layout: channels_last on CUDA."""
        return x.contiguous(memory_format=torch.channels_last) if self.cuda else x

    def epoch_order(self) -> torch.Tensor:
        n = len(self.data)
        return torch.randperm(n * self.repeats, device=self.device) % n

    def epoch_batches(self) -> list[torch.Tensor]:
        """The index batches of an epoch: its order cut by the recipe's sampler."""
        return SAMPLERS[self.recipe.sampler](self.epoch_order(), self.data.labels, self.recipe.batch_size)

    def train_epoch(self) -> float:
        self.model.train()
        total = torch.zeros((), device=self.device)
        for idx in self.data.loaded(self.epoch_batches()):
            total += self.step(idx)
        return float(total) / self.steps_per_epoch

    @torch.inference_mode()
    def evaluate(self, test_x: Images, test_y: torch.Tensor, chunk: int = 500) -> dict[str, float]:
        self.model.eval()
        logits = []
        for images in in_chunks(test_x, chunk):
            x = self.layout(self.data.normalization(images))
            with bf16_autocast(self.device):
                logits.append(self.model(x).float())
        return classification_metrics(torch.cat(logits), test_y)

    def parts(self) -> dict[str, Any]:
        """What a checkpoint holds (benchmark.training.resumable.Job)."""
        return {"model": self.model, "optimizer": self.optimizer, "scheduler": self.scheduler}


def training_data(recipe: Recipe, images: Images, labels: torch.Tensor, policy: BatchPolicy | None,
                  sizes: torch.Tensor | None, image_size: int) -> TrainData | ResizedCropData:
    """The subset's batches as the recipe crops them."""
    normalization = NORMALIZATIONS[recipe.normalization]
    if recipe.crop == "resized":
        if sizes is None:
            raise ValueError("the resized crops of a 224-px recipe need the originals' sizes")
        return ResizedCropData(images, labels, sizes.to(labels.device), image_size, normalization, policy, recipe.cutout)
    return TrainData(images, labels, recipe.pad, policy, recipe.cutout, normalization)


def classification_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Top-1, balanced (mean per-class recall) and top-5 accuracy, in percent."""
    num_classes = logits.shape[1]
    pred = logits.argmax(1)
    correct = (pred == y).float()
    per_class = torch.zeros(num_classes, device=y.device).index_add_(0, y, correct)
    counts = torch.bincount(y, minlength=num_classes).float()
    present = counts > 0
    metrics = {
        "accuracy": 100 * float(correct.mean()),
        "balanced_accuracy": 100 * float((per_class[present] / counts[present]).mean()),
    }
    if num_classes > 5:
        top5 = logits.topk(5, dim=1).indices
        metrics["top5_accuracy"] = 100 * float((top5 == y[:, None]).any(1).float().mean())
    return metrics


def train(trainer: Trainer, identity: dict[str, Any], checkpoint: Path, checkpoint_every_s: float = 60.0,
          on_epoch: Callable[[int, int], None] | None = None,
          test: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[dict[str, float], Progress, int]:
    """Train to the end, resuming from and periodically writing `checkpoint` (of the job `identity`).
    With a test set (uint8 images, labels): the test accuracy at EVALUATIONS_PER_RUN points and the
    final metrics (evaluation draws no random numbers: it leaves the training unchanged)."""
    epochs = trainer.recipe.epochs
    eval_every = evaluation_every(epochs)

    def run_epoch(progress: Progress) -> None:
        progress.curve_loss.append(trainer.train_epoch())
        progress.epoch += 1
        if test is not None and progress.epoch % eval_every == 0 and progress.epoch < epochs:
            progress.curve_acc.append([progress.epoch, trainer.evaluate(*test)["accuracy"]])

    progress, resumed_from = train_epochs(trainer, identity, Progress(), epochs, run_epoch, checkpoint,
                                          checkpoint_every_s, on_epoch)
    if test is None:
        return {}, progress, resumed_from
    metrics = trainer.evaluate(*test)
    progress.curve_acc.append([epochs, metrics["accuracy"]])
    return metrics, progress, resumed_from
