"""Launchers, all through submitit: `debug` runs in this process, `local` in parallel local
processes. Runs that already have a record are skipped; the rest are dealt to jobs so that the
jobs' estimated costs are balanced."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import submitit
import torch
from tqdm import tqdm

from benchmark.recipes import recipe_for
from benchmark.spec import RunSpec
from benchmark.store import Store
from benchmark.worker import run_batch

EXECUTORS = ("local", "debug")
WEEK_MINUTES = 7 * 24 * 60


@dataclass
class Outcome:
    skipped: int = 0
    done: list[RunSpec] = field(default_factory=list)
    failed: list[RunSpec] = field(default_factory=list)


def estimated_steps(spec: RunSpec, num_classes: int = 10) -> int:
    return recipe_for(spec.dataset, spec.profile).total_steps(spec.shots, num_classes)


def deal(specs: list[RunSpec], jobs: int) -> list[list[RunSpec]]:
    """Longest run first onto the least loaded job."""
    bins: list[list[RunSpec]] = [[] for _ in range(jobs)]
    load = [0] * jobs
    for spec in sorted(specs, key=estimated_steps, reverse=True):
        j = load.index(min(load))
        bins[j].append(spec)
        load[j] += estimated_steps(spec)
    return [b for b in bins if b]


def default_workers() -> int:
    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return max(1, min(os.cpu_count() or 1, 8))


def launch(specs: list[RunSpec], executor: str, store: Store, data_dir: Path, workers: int | None = None,
           checkpoint_every_s: float = 60.0, progress: bool = True) -> Outcome:
    pending = [s for s in specs if not store.is_done(s)]
    outcome = Outcome(skipped=len(specs) - len(pending))
    if not pending:
        return outcome
    if executor == "debug":
        run_in_process(pending, store, data_dir, checkpoint_every_s, progress)
    else:
        run_local(pending, store, data_dir, workers or default_workers(), checkpoint_every_s, progress)
    for spec in pending:
        (outcome.done if store.is_done(spec) else outcome.failed).append(spec)
    return outcome


def run_in_process(pending: list[RunSpec], store: Store, data_dir: Path, checkpoint_every_s: float, progress: bool) -> None:
    executor = submitit.DebugExecutor(folder=store.jobs_dir / "debug")
    for spec in tqdm(pending, desc="runs", unit="run", disable=not progress):
        job = executor.submit(run_batch, [spec], str(store.root), str(data_dir), None, checkpoint_every_s)
        job.result()


def run_local(pending: list[RunSpec], store: Store, data_dir: Path, workers: int, checkpoint_every_s: float, progress: bool) -> None:
    batches = deal(pending, min(workers, len(pending)))
    threads = max(1, (os.cpu_count() or 1) // len(batches))
    executor = submitit.LocalExecutor(folder=store.jobs_dir / "local" / "%j")
    executor.update_parameters(timeout_min=WEEK_MINUTES)
    jobs = [executor.submit(run_batch, b, str(store.root), str(data_dir), threads, checkpoint_every_s) for b in batches]
    bar = tqdm(total=len(pending), desc=f"runs ({len(jobs)} workers)", unit="run", disable=not progress,
               bar_format="{l_bar}{bar}| {n:.1f}/{total} [{elapsed}<{remaining}]")
    try:
        while True:
            finished = all(job.done() for job in jobs)
            bar.n = sum(1.0 if store.record_path(s.run_id).exists() or store.failure_path(s.run_id).exists()
                        else store.progress_fraction(s.run_id) for s in pending)
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
        for spec in batch:
            if not store.is_done(spec) and store.load_failure(spec.run_id) is None:
                store.write_failure(spec, f"job {job.job_id} died: {last_line}", str(job.paths.stderr))
