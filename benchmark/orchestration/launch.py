"""Launchers, all through submitit: `debug` runs in this process, `local` in parallel local
processes, `slurm` submits job arrays and returns at once (benchmark/slurm.py). Finished tasks
are skipped. The stages that runs depend on (generators) form a first wave, the classifier runs a
second; within a wave, tasks are dealt to jobs so that the jobs' estimated costs are balanced."""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import submitit
import torch
from tqdm import tqdm

from benchmark.training.recipes import recipe_for
from benchmark.training.spec import RunSpec, StageSpec
from benchmark.orchestration.store import Store
from benchmark.orchestration.worker import JobOptions, Task, run_batch, task_id
from methods import get_method

EXECUTORS = ("local", "debug", "slurm")
WEEK_MINUTES = 7 * 24 * 60


@dataclass
class Outcome:
    skipped: int = 0
    stages_trained: int = 0
    done: list[RunSpec] = field(default_factory=list)
    failed: list[Task] = field(default_factory=list)


def needed_stages(specs: list[RunSpec]) -> list[StageSpec]:
    stages = (get_method(s.method).stage(s) for s in specs)
    return list(dict.fromkeys(st for st in stages if st is not None))


def estimated_cost(task: Task) -> int:
    if isinstance(task, StageSpec):
        return 1
    return recipe_for(task.dataset, task.profile).total_steps(task.shots, 10)


def deal(tasks: list[Task], jobs: int) -> list[list[Task]]:
    """Longest task first onto the least loaded job."""
    bins: list[list[Task]] = [[] for _ in range(jobs)]
    load = [0] * jobs
    for task in sorted(tasks, key=estimated_cost, reverse=True):
        j = load.index(min(load))
        bins[j].append(task)
        load[j] += estimated_cost(task)
    return [b for b in bins if b]


def default_workers() -> int:
    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return max(1, min(os.cpu_count() or 1, 8))


def is_finished(store: Store, task: Task) -> bool:
    return store.task_done(task) or store.failure_path(task_id(task)).exists()


def launch(specs: list[RunSpec], executor: str, store: Store, data_dir: Path, workers: int | None = None,
           options: JobOptions = JobOptions(), progress: bool = True, slurm=None):
    """Run (debug, local) and return an Outcome, or submit (slurm: `slurm` is a
    benchmark.orchestration.slurm.SlurmOptions) and return a benchmark.orchestration.slurm.SubmitOutcome without waiting."""
    if executor == "slurm":
        from benchmark.orchestration.slurm import SlurmOptions, submit
        return submit(specs, store, data_dir, slurm or SlurmOptions(), options)
    pending = [s for s in specs if not store.is_done(s)]
    outcome = Outcome(skipped=len(specs) - len(pending))
    stages = [st for st in needed_stages(pending) if not store.stage_done(st.stage_id)]
    for task in [*stages, *pending]:
        store.failure_path(task_id(task)).unlink(missing_ok=True)
    for name, wave in (("stages", stages), ("runs", pending)):
        if not wave:
            continue
        if executor == "debug":
            run_in_process(wave, store, data_dir, options, progress, name)
        else:
            run_local(wave, store, data_dir, workers or default_workers(), options, progress, name)
    outcome.stages_trained = sum(store.stage_done(st.stage_id) for st in stages)
    outcome.failed = [st for st in stages if not store.stage_done(st.stage_id)]
    for spec in pending:
        (outcome.done if store.is_done(spec) else outcome.failed).append(spec)
    return outcome


def run_in_process(wave: list[Task], store: Store, data_dir: Path, options: JobOptions, progress: bool, name: str) -> None:
    executor = submitit.DebugExecutor(folder=store.jobs_dir / "debug")
    for task in tqdm(wave, desc=name, unit="task", disable=not progress):
        executor.submit(run_batch, [task], str(store.root), str(data_dir), options).result()


def run_local(wave: list[Task], store: Store, data_dir: Path, workers: int, options: JobOptions,
              progress: bool, name: str) -> None:
    batches = deal(wave, min(workers, len(wave)))
    threads = max(1, (os.cpu_count() or 1) // len(batches))
    executor = submitit.LocalExecutor(folder=store.jobs_dir / "local")
    executor.update_parameters(timeout_min=WEEK_MINUTES)
    job_options = dataclasses.replace(options, threads=threads)
    jobs = [executor.submit(run_batch, b, str(store.root), str(data_dir), job_options) for b in batches]
    bar = tqdm(total=len(wave), desc=f"{name} ({len(jobs)} workers)", unit=name, disable=not progress,
               bar_format="{l_bar}{bar}| {n:.1f}/{total} [{elapsed}<{remaining}]")
    try:
        while True:
            finished = all(job.done() for job in jobs)
            bar.n = sum(1.0 if is_finished(store, t) else store.progress_fraction(task_id(t)) for t in wave)
            bar.refresh()
            if finished:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        for job in jobs:
            job.cancel(check=False)
        raise
    finally:
        bar.close()
    for job, batch in zip(jobs, batches):
        error = job.exception()
        if error is None:
            continue
        last_line = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        for task in batch:
            if not is_finished(store, task):
                store.write_failure(task_id(task), task.to_dict(), f"job {job.job_id} died: {last_line}", str(job.paths.stderr))
