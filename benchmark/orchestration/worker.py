"""What a job runs: tasks one after another, each under its claim (benchmark.orchestration.claims)
and ending in its result in the store (a run's record, a stage's artifact and record) or a failure
note; a task another process is training is left to it."""
from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from benchmark import stored
from benchmark.errors import os_error_line
from benchmark.orchestration.claims import Busy, claimed, holder
from benchmark.orchestration.job_end import (ERROR, SUCCESS, end_note_path, passed_note_path, write_end_note,
                                             write_passed_note)
from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import EpochCallback, Task

RUN_THREADS = 1  # torch threads of every task (see `reproducible_torch`)


@dataclass(frozen=True)
class JobOptions:
    """How a job runs its tasks; not part of any task's identity."""

    checkpoint_every_s: float = 60.0  # checkpoint at the first epoch end after this many seconds
    compile_model: bool = False  # torch.compile the classifier


def reproducible_torch() -> None:
    """What makes a task's numbers the same in every process, whatever the machine's cores and the
    launcher's workers: one torch thread (a CPU reduction's result depends on how it is split among
    threads) and, on CUDA, deterministic kernels (cuDNN without autotuning; the few ops that have no
    deterministic CUDA kernel warn)."""
    import torch
    torch.set_num_threads(RUN_THREADS)
    if torch.cuda.is_available():
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = False  # correct code never reads it; costs a fill


def execute(task: Task, store: Store, data_dir: Path, options: JobOptions = JobOptions(),
            on_epoch: EpochCallback | None = None) -> None:
    """Train a task on its subset and write its result; a task already done is left as it is."""
    if task.done(store):
        return
    missing = [s for s in task.requires if not s.done(store)]
    for stage in missing:
        busy = holder(store.root, stage.id)
        if busy is not None:
            raise Busy(f"stage {stage.describe()}", busy)
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


def run_batch(tasks: list[Task], results_dir: str, data_dir: str, options: JobOptions = JobOptions(),
              on_pass: Callable[[dict[str, list[str]]], None] | None = None) -> dict[str, list[str]]:
    """A job's body: every task in turn; a failing task is noted and the next one starts; a task
    that another process is training (or that needs a stage it is training), or has finished since
    the job was planned, is skipped. `on_pass` gets the tasks passed so far (done, failed, skipped)
    after each one."""
    reproducible_torch()
    store = Store(Path(results_dir))
    passed = {"done": [], "failed": [], "skipped": []}
    for task in tasks:
        try:
            with claimed(store.root, task.id) as busy:
                if busy is not None:
                    raise Busy(task.describe(), busy)
                if task.done(store):  # by another process (or an earlier attempt of this job) meanwhile
                    passed["skipped"].append(task.id)
                else:
                    if not store.progress_path(task.id).exists():
                        store.write_progress(task.id, 0, 1)  # "started" for `status` (the engine writes epochs)
                    execute(task, store, Path(data_dir), options)
                    passed["done"].append(task.id)
        except Busy as exc:
            print(f"skipped {task.describe()}: {exc}", file=sys.stderr, flush=True)
            passed["skipped"].append(task.id)
        except Exception as exc:  # noqa: BLE001  one bad task must not stop the others
            passed["failed"].append(task.id)
            note_failure(store, task, exc)
        if on_pass:
            on_pass(passed)
    return passed


def note_failure(store: Store, task: Task, exc: Exception) -> None:
    """The task's failure note; where it cannot be written (a full disk), the reason on stderr."""
    try:
        store.write_failure(task.id, task.to_dict(), error_line(exc), job_log_path())
    except OSError as unwritten:
        print(f"error: {task.describe()} failed ({error_line(exc)}) and its failure note cannot be written: "
              f"{os_error_line(unwritten)}", file=sys.stderr, flush=True)


def run_job(tasks: list[Task], results_dir: str, data_dir: str, options: JobOptions = JobOptions()) -> dict[str, list[str]]:
    """A submitted job's body (local processes, SLURM): `run_batch`, then the job's end note beside
    its logs (benchmark.orchestration.job_end)."""
    import submitit
    try:
        env = submitit.JobEnvironment()
    except RuntimeError:  # called in process: no job, no note
        return run_batch(tasks, results_dir, data_dir, options)
    note = end_note_path(env.paths.folder, env.job_id)
    note.unlink(missing_ok=True)  # an earlier attempt of a requeued job
    first_warning = len(stored.said)
    passed = passed_note_path(env.paths.folder, env.job_id)
    try:
        result = run_batch(tasks, results_dir, data_dir, options, lambda so_far: write_passed_note(passed, so_far))
    except Exception as exc:
        write_end_note(note, ERROR, error_line(exc), warnings=stored.said[first_warning:])
        raise
    write_end_note(note, SUCCESS, skipped=result["skipped"], warnings=stored.said[first_warning:])
    return result


def error_line(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def job_log_path() -> str | None:
    """The stderr log of the submitit job running this code; None in process (debug executor)."""
    import submitit
    try:
        return str(submitit.JobEnvironment().paths.stderr)
    except (RuntimeError, KeyError):
        return None
