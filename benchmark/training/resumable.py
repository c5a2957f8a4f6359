"""The resumable epoch loop of classifier runs and generator stages.

A checkpoint is written atomically at most every `checkpoint_every_s` seconds (never after the last
epoch: the caller writes the result) and holds the job's state, its progress and the RNG states, so
that a resumed job ends exactly where an uninterrupted one would. It is resumed only by the job it
belongs to (its identity: the run's or the stage's spec); any other checkpoint is trained over, and
a damaged one is moved aside (the job starts afresh).
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

import torch

from benchmark.atomic import save_atomic
from benchmark.stored import set_aside


class Job(Protocol):
    def parts(self) -> dict[str, Any]:
        """The job's modules, optimizers and schedulers by name: what has a state_dict to save."""


P = TypeVar("P")  # the job's progress: a dataclass with `epoch` and `train_seconds`


def train_epochs(job: Job, identity: dict[str, Any], progress: P, epochs: int, run_epoch: Callable[[P], None],
                 checkpoint: Path, checkpoint_every_s: float,
                 on_epoch: Callable[[int, int], None] | None) -> tuple[P, int]:
    """Call `run_epoch` (it trains one epoch, records it in the progress and advances
    progress.epoch) until the progress reaches `epochs`, after resuming `checkpoint` if it is this
    job's. Returns the final progress and the epoch resumed from (0: a fresh start)."""
    if checkpoint.exists():
        progress = resume(job, identity, progress, checkpoint)
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


def resume(job: Job, identity: dict[str, Any], fresh: P, checkpoint: Path) -> P:
    """The job restored from its checkpoint, and its progress. A checkpoint of another job is
    trained over; one that does not load or does not fit the job (damaged, truncated) is moved aside
    with a warning, and the job starts afresh (its parts as they were)."""
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("identity") != identity:
            return fresh
        before = {name: copy.deepcopy(part.state_dict()) for name, part in job.parts().items()}
        try:
            for name, part in job.parts().items():
                part.load_state_dict(state["job"][name])
            progress = type(fresh)(**state["progress"])
            rng_cuda = state["rng_cuda"]
            torch.set_rng_state(state["rng_cpu"])
        except BaseException:
            for name, part in job.parts().items():
                part.load_state_dict(before[name])
            raise
    except Exception as exc:  # noqa: BLE001  a damaged file fails anywhere in the loader
        set_aside(checkpoint, "checkpoint", f"{type(exc).__name__}; training from the start")
        return fresh
    if rng_cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng_cuda)
    return progress
