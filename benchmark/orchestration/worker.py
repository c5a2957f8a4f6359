"""What a job runs: execute RunSpecs one after another, each ending in a record or a failure note."""
from __future__ import annotations

import functools
import platform
import subprocess
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from benchmark.data import cached_dataset, subsample
from benchmark.training.engine import Trainer, default_device, train
from benchmark.training.spec import RunSpec, StageSpec
from benchmark.orchestration.store import Store
from methods import STAGES, get_method

Task = RunSpec | StageSpec


@dataclass(frozen=True)
class JobOptions:
    """How a job runs its tasks; not part of any task's identity."""

    threads: int | None = None  # torch threads (None: torch's default)
    checkpoint_every_s: float = 60.0  # checkpoint at the first epoch end after this many seconds
    compile_model: bool = False  # torch.compile the classifier


def task_id(task: Task) -> str:
    return task.run_id if isinstance(task, RunSpec) else task.stage_id


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    import torchvision
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "host": platform.node(), "commit": commit}


def execute(spec: RunSpec, store: Store, data_dir: Path, device: torch.device | None = None,
            options: JobOptions = JobOptions(), on_epoch: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train and evaluate one run and write its record; a finished run is returned as it is."""
    record = store.load_record(spec.run_id)
    if record is not None:
        return record
    device = device or default_device()
    stage = get_method(spec.method).stage(spec)
    if stage is not None and not store.stage_done(stage.stage_id):
        raise RuntimeError(f"stage {stage.describe()} has no artifact; its job failed or has not run")
    data = cached_dataset(spec.dataset, str(data_dir))
    idx = subsample(data.train_y, spec.shots, spec.seed)
    artifact = store.artifact_path(stage.stage_id) if stage else None
    trainer = Trainer(spec, data.train_x[idx], data.train_y[idx], data.num_classes, device, artifact,
                      compile_model=options.compile_model)
    test_x, test_y = data.test_x.to(device), data.test_y.to(device)

    def report(epoch: int, epochs: int) -> None:
        store.write_progress(spec.run_id, epoch, epochs)
        if on_epoch:
            on_epoch(epoch, epochs)

    t0 = time.perf_counter()
    metrics, progress, resumed_from = train(trainer, test_x, test_y, store.checkpoint_path(spec.run_id),
                                            options.checkpoint_every_s, report)
    record = {
        "run_id": spec.run_id,
        "spec": spec.to_dict(),
        "dataset_label": data.name,
        "method_label": trainer.method.label,
        "metrics": metrics,
        "curve": {"train_loss": progress.curve_loss, "test_accuracy": progress.curve_acc},
        "recipe": trainer.recipe.__dict__,
        "hparams": trainer.method.hp,
        "stage": None if stage is None else {"stage_id": stage.stage_id, **(store.stage_record(stage.stage_id) or {})},
        "timing": {"train_seconds": progress.train_seconds, "wall_seconds_this_attempt": time.perf_counter() - t0,
                   "steps": trainer.total_steps, "resumed_from_epoch": resumed_from},
        "environment": {**environment(), "device": str(device), "threads": torch.get_num_threads(),
                        "compiled": options.compile_model},
    }
    store.write_record(record)
    return record


def execute_stage(stage: StageSpec, store: Store, data_dir: Path, device: torch.device | None = None,
                  options: JobOptions = JobOptions()) -> dict[str, Any]:
    """Train a stage once and write its artifact and record; a finished stage is returned as it is."""
    record = store.stage_record(stage.stage_id)
    if record is not None and store.stage_done(stage.stage_id):
        return record
    device = device or default_device()
    data = cached_dataset(stage.dataset, str(data_dir))
    idx = subsample(data.train_y, stage.shots, stage.seed)
    t0 = time.perf_counter()
    summary = STAGES[stage.kind](stage, data.train_x[idx], data.train_y[idx], device,
                                 store.artifact_path(stage.stage_id), store.checkpoint_path(stage.stage_id),
                                 options.checkpoint_every_s, lambda e, n: store.write_progress(stage.stage_id, e, n))
    record = {"stage": stage.to_dict(), "summary": summary, "wall_seconds_this_attempt": time.perf_counter() - t0,
              "environment": {**environment(), "device": str(device)}}
    store.write_stage_record(stage.stage_id, record)
    return record


def run_batch(tasks: list[Task], results_dir: str, data_dir: str, options: JobOptions = JobOptions()) -> dict[str, list[str]]:
    """A job's body: every task in turn; a failing task is noted and the next one starts."""
    if options.threads:
        torch.set_num_threads(options.threads)
    store = Store(Path(results_dir))
    done, failed = [], []
    for task in tasks:
        try:
            if not store.task_done(task) and not store.progress_path(task_id(task)).exists():
                store.write_progress(task_id(task), 0, 1)  # "started" for `status` (the engine writes epochs)
            if isinstance(task, RunSpec):
                execute(task, store, Path(data_dir), options=options)
            else:
                execute_stage(task, store, Path(data_dir), options=options)
            done.append(task_id(task))
        except Exception as exc:  # noqa: BLE001  one bad task must not stop the others
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            store.write_failure(task_id(task), task.to_dict(), last, job_log_path())
            failed.append(task_id(task))
    return {"done": done, "failed": failed}


def job_log_path() -> str | None:
    """The stderr log of the submitit job running this code; None in process (debug executor)."""
    import submitit
    try:
        return str(submitit.JobEnvironment().paths.stderr)
    except (RuntimeError, KeyError):
        return None
