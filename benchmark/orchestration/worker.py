"""What a job runs: tasks one after another, each ending in its result in the store (a run's
record, a stage's artifact and record) or a failure note."""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import EpochCallback, Task


@dataclass(frozen=True)
class JobOptions:
    """How a job runs its tasks; not part of any task's identity."""

    threads: int | None = None  # torch threads (None: torch's default)
    checkpoint_every_s: float = 60.0  # checkpoint at the first epoch end after this many seconds
    compile_model: bool = False  # torch.compile the classifier


def execute(task: Task, store: Store, data_dir: Path, options: JobOptions = JobOptions(),
            on_epoch: EpochCallback | None = None) -> None:
    """Train a task on its subset and write its result; a task already done is left as it is."""
    if task.done(store):
        return
    missing = [s for s in task.requires if not s.done(store)]
    if missing:
        raise RuntimeError(f"stage {missing[0].describe()} has no artifact; its job failed or has not run")
    from benchmark.data import cached_dataset, subsample
    from benchmark.training.engine import default_device
    data = cached_dataset(task.dataset, str(data_dir))
    idx = subsample(data.train_y, task.spec.shots, task.spec.seed)
    inputs = {s.kind.name: store.artifact_path(s.id) for s in task.requires}

    def report(epoch: int, epochs: int) -> None:
        store.write_progress(task.id, epoch, epochs)
        if on_epoch:
            on_epoch(epoch, epochs)

    task.train(data, idx, inputs, store, default_device(), options.checkpoint_every_s, options.compile_model, report)


def run_batch(tasks: list[Task], results_dir: str, data_dir: str, options: JobOptions = JobOptions()) -> dict[str, list[str]]:
    """A job's body: every task in turn; a failing task is noted and the next one starts."""
    if options.threads:
        import torch
        torch.set_num_threads(options.threads)
    store = Store(Path(results_dir))
    done, failed = [], []
    for task in tasks:
        try:
            if not task.done(store) and not store.progress_path(task.id).exists():
                store.write_progress(task.id, 0, 1)  # "started" for `status` (the engine writes epochs)
            execute(task, store, Path(data_dir), options)
            done.append(task.id)
        except Exception as exc:  # noqa: BLE001  one bad task must not stop the others
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            store.write_failure(task.id, task.to_dict(), last, job_log_path())
            failed.append(task.id)
    return {"done": done, "failed": failed}


def job_log_path() -> str | None:
    """The stderr log of the submitit job running this code; None in process (debug executor)."""
    import submitit
    try:
        return str(submitit.JobEnvironment().paths.stderr)
    except (RuntimeError, KeyError):
        return None
