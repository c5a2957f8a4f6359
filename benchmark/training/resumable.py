"""The resumable epoch loop of classifier runs and stages, and the epoch of a stage that records
its mean losses per epoch (`train_curve`, `mean_losses_epoch`).

A checkpoint is written atomically at most every `checkpoint_every_s` seconds (never after the last
epoch: the caller writes the result) and holds the job's state, its progress and the RNG states, so
that a resumed job ends exactly where an uninterrupted one would. It is resumed only by the job it
belongs to (its identity: the run's or the stage's spec); any other checkpoint is trained over, and
a damaged one, or one whose progress does not fit the job's epochs (`check_progress`), is moved
aside (the job starts afresh).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

import torch

from benchmark.atomic import save_atomic
from benchmark.stored import open_regular, set_aside


class Job(Protocol):
    def parts(self) -> dict[str, Any]:
        """The job's modules, optimizers and schedulers by name: what has a state_dict to save."""


P = TypeVar("P")  # the job's progress: a dataclass with `epoch`, `train_seconds` and `check(epochs)`


def train_epochs(job: Job, identity: dict[str, Any], progress: P, epochs: int, run_epoch: Callable[[P], None],
                 checkpoint: Path, checkpoint_every_s: float,
                 on_epoch: Callable[[int, int], None] | None) -> tuple[P, int]:
    """Call `run_epoch` (it trains one epoch, records it in the progress and advances
    progress.epoch) until the progress reaches `epochs`, after resuming `checkpoint` if it is this
    job's. Returns the final progress and the epoch resumed from (0: a fresh start)."""
    if checkpoint.exists() or checkpoint.is_symlink():
        progress = resume(job, identity, progress, checkpoint, epochs)
    resumed_from = progress.epoch
    last_save = time.monotonic()
    while progress.epoch < epochs:
        t0 = time.perf_counter()
        run_epoch(progress)
        progress.train_seconds += time.perf_counter() - t0
        if progress.epoch < epochs and time.monotonic() - last_save >= checkpoint_every_s:
            save_atomic({"identity": identity, "progress": asdict(progress),
                         "job": {name: part.state_dict() for name, part in job.parts().items()},
                         "rng_cpu": torch.get_rng_state(),
                         "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
                        checkpoint)
            last_save = time.monotonic()
        if on_epoch:
            on_epoch(progress.epoch, epochs)
    return progress, resumed_from


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class InvalidProgress(ValueError):
    """A checkpoint's progress that is not one of its job's."""


def check_progress(progress: Any, epochs: int) -> None:
    """InvalidProgress unless `progress.epoch` is a whole number of epochs in 0..epochs - 1 (a
    checkpoint is never written after the last) and `progress.train_seconds` a finite number of seconds."""
    epoch = progress.epoch
    if type(epoch) is not int or not 0 <= epoch < epochs:
        raise InvalidProgress(f"progress.epoch {epoch!r} is not a whole number in 0..{epochs - 1}")
    if not is_number(progress.train_seconds) or not 0 <= progress.train_seconds < math.inf:
        raise InvalidProgress(f"progress.train_seconds {progress.train_seconds!r} is not a number of seconds")


def check_curve(name: str, curve: Any, length: int, point: Callable[[Any], bool]) -> None:
    """InvalidProgress unless `curve` is a list of `length` points that `point` accepts."""
    if not isinstance(curve, list) or len(curve) != length or not all(point(p) for p in curve):
        raise InvalidProgress(f"progress.{name} is not a list of {length} points of its kind")


@dataclass
class StageProgress:
    epoch: int = 0
    curve: list[dict[str, float]] = field(default_factory=list)  # per epoch: its mean losses (or counts)
    train_seconds: float = 0.0

    def check(self, epochs: int) -> None:
        """InvalidProgress unless this is the progress of a stage of `epochs` epochs (a checkpoint's)."""
        check_progress(self, epochs)
        check_curve("curve", self.curve, self.epoch, lambda p: isinstance(p, dict) and all(
            isinstance(k, str) and is_number(v) for k, v in p.items()))


def train_curve(job: Job, identity: dict[str, Any], epochs: int, train_epoch: Callable[[], dict[str, float]],
                checkpoint: Path, checkpoint_every_s: float,
                on_epoch: Callable[[int, int], None] | None) -> tuple[StageProgress, int]:
    """`train_epochs` for a stage whose epoch returns a point of its curve."""

    def run_epoch(progress: StageProgress) -> None:
        progress.curve.append(train_epoch())
        progress.epoch += 1

    return train_epochs(job, identity, StageProgress(), epochs, run_epoch, checkpoint, checkpoint_every_s, on_epoch)


def curve_summary(recipe: Any, steps_per_epoch: int, progress: StageProgress, resumed_from: int) -> dict[str, Any]:
    """A trained stage's summary for its record: its recipe, steps, time and loss curve."""
    return {"recipe": asdict(recipe), "epochs": recipe.epochs, "steps": recipe.epochs * steps_per_epoch,
            "train_seconds": progress.train_seconds, "resumed_from_epoch": resumed_from,
            "final_losses": progress.curve[-1], "curve": progress.curve}


def mean_losses_epoch(step: Callable[[torch.Tensor], torch.Tensor], names: tuple[str, ...], n: int, repeats: int,
                      batch_size: int, device: torch.device) -> dict[str, float]:
    """One epoch of a stage: the subset of n images repeated `repeats` times in random order, in
    batches; `step` returns the batch's losses on the device, read back once, as their means."""
    order = torch.randperm(n * repeats, device=device) % n
    total = torch.zeros(len(names), device=device)
    for i in range(0, len(order), batch_size):
        total += step(order[i:i + batch_size])
    return dict(zip(names, (total / -(-len(order) // batch_size)).tolist()))


def resume(job: Job, identity: dict[str, Any], fresh: P, checkpoint: Path, epochs: int) -> P:
    """The job restored from its checkpoint, and its progress. A checkpoint of another job is
    trained over; one that does not load or does not fit the job (damaged, truncated, a progress
    that is not one of its `epochs`) is moved aside with a warning, and the job starts afresh (its
    parts as they were)."""
    try:
        with open_regular(checkpoint) as f:  # never a link, a FIFO or a device
            state = torch.load(f, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("identity") != identity:
            return fresh
        before = {name: copy.deepcopy(part.state_dict()) for name, part in job.parts().items()}
        try:
            for name, part in job.parts().items():
                part.load_state_dict(state["job"][name])
            progress = type(fresh)(**state["progress"])
            progress.check(epochs)
            rng_cuda = state["rng_cuda"]
            torch.set_rng_state(state["rng_cpu"])
        except BaseException:
            for name, part in job.parts().items():
                part.load_state_dict(before[name])
            raise
    except Exception as exc:  # noqa: BLE001  a damaged file fails anywhere in the loader
        why = str(exc) if isinstance(exc, InvalidProgress) else type(exc).__name__
        set_aside(checkpoint, "checkpoint", f"{why}; training from the start")
        return fresh
    if rng_cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng_cuda)
    return progress
