"""The local launchers, through submitit: `debug` runs every task in this process, `local` in
parallel local processes. Finished tasks are skipped; the waves of the plan (stages level by level,
then the runs) run in order, and within a wave tasks are dealt to workers so that their estimated
costs are balanced."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import submitit
from tqdm import tqdm

from benchmark.orchestration.claims import leave_claimed
from benchmark.orchestration.cost import CostModel
from benchmark.orchestration.job_end import SUCCESS, log_tail, read_end_note
from benchmark.orchestration.plan import Plan
from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import RunTask, Task
from benchmark.orchestration.worker import JobOptions, run_batch, run_job

WEEK_MINUTES = 7 * 24 * 60


@dataclass
class Outcome:
    skipped: int = 0
    stages_trained: int = 0
    done: list[RunTask] = field(default_factory=list)
    failed: list[Task] = field(default_factory=list)
    left: list[RunTask] = field(default_factory=list)  # runs another process trained or is training


def deal(tasks: list[Task], jobs: int) -> list[list[Task]]:
    """Longest task first onto the least loaded job (cost: the assumed GPU seconds; only their
    ratios matter here, and they need no measuring)."""
    cost = CostModel()
    bins: list[list[Task]] = [[] for _ in range(jobs)]
    load = [0.0] * jobs
    for task in sorted(tasks, key=cost.seconds, reverse=True):
        j = load.index(min(load))
        bins[j].append(task)
        load[j] += cost.seconds(task)
    return [b for b in bins if b]


def default_workers() -> int:
    import torch
    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return max(1, min(os.cpu_count() or 1, 8))


def is_finished(store: Store, task: Task) -> bool:
    return task.done(store) or store.failure_path(task.id).exists()


def launch(plan: Plan, executor: str, store: Store, data_dir: Path, workers: int | None = None,
           options: JobOptions = JobOptions(), progress: bool = True) -> Outcome:
    """Train every unfinished run of the plan and the stages it needs, in this process (`debug`) or
    in local processes (`local`)."""
    waves = plan.waves(store)
    pending = plan.unfinished(store).runs
    outcome = Outcome(skipped=len(plan.runs) - len(pending))
    for wave in waves:
        for task in wave:
            store.failure_path(task.id).unlink(missing_ok=True)
    left: set[str] = set()  # tasks another process is training, and the tasks that need them
    for wave in waves:
        wave = leave_claimed(wave, store.root, left)
        if not wave:
            continue
        name = f"{wave[0].what}s"
        if executor == "debug":
            left |= run_in_process(wave, store, data_dir, options, progress, name)
        else:
            left |= run_local(wave, store, data_dir, workers or default_workers(), options, progress, name)
    stages = [t for wave in (waves[:-1] if pending else waves) for t in wave if t.id not in left]
    outcome.stages_trained = sum(s.done(store) for s in stages)
    outcome.failed = [s for s in stages if not s.done(store)]
    for run in pending:
        (outcome.left if run.id in left else outcome.done if run.done(store) else outcome.failed).append(run)
    return outcome


def run_in_process(wave: list[Task], store: Store, data_dir: Path, options: JobOptions, progress: bool,
                   name: str) -> set[str]:
    """The tasks of the wave in this process; returns those it left to other processes."""
    executor = submitit.DebugExecutor(folder=store.jobs_dir / "debug")
    skipped: set[str] = set()
    for task in tqdm(wave, desc=name, unit="task", disable=not progress):
        skipped |= set(executor.submit(run_batch, [task], str(store.root), str(data_dir), options).result()["skipped"])
    return skipped


def run_local(wave: list[Task], store: Store, data_dir: Path, workers: int, options: JobOptions,
              progress: bool, name: str) -> set[str]:
    """The tasks of the wave in local processes; returns those they left to other processes."""
    batches = deal(wave, min(workers, len(wave)))
    executor = submitit.LocalExecutor(folder=store.jobs_dir / "local")
    executor.update_parameters(timeout_min=WEEK_MINUTES)
    jobs = [executor.submit(run_job, b, str(store.root), str(data_dir), options) for b in batches]
    bar = tqdm(total=len(wave), desc=f"{name} ({len(jobs)} workers)", unit=name, disable=not progress,
               bar_format="{l_bar}{bar}| {n:.1f}/{total} [{elapsed}<{remaining}]")
    try:
        while True:
            finished = all(job.done() for job in jobs)
            bar.n = sum(1.0 if is_finished(store, t) else store.progress_fraction(t.id) for t in wave)
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
    skipped: set[str] = set()
    for job, batch in zip(jobs, batches):
        note = read_end_note(job.paths.folder, job.job_id)  # the job's own JSON, never its result pickle
        if note is not None and note["outcome"] == SUCCESS:
            skipped |= set(note["skipped"])
            continue
        last_line = note["error"] if note else (log_tail(job.paths.stderr) or ["no end note and no log"])[-1]
        for task in batch:
            if not is_finished(store, task):
                store.write_failure(task.id, task.to_dict(), f"job {job.job_id} died: {last_line}", str(job.paths.stderr))
    return skipped
