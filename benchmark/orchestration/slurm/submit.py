"""Submission: the unfinished tasks of a plan as job arrays of equal resources, level by level,
each array of tasks that need stages held by an `afterany` dependency on the jobs that train them;
all submitted at once (nothing waits here)."""
from __future__ import annotations

import contextlib
import io
import math
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import submitit

from benchmark.errors import UserError
from benchmark.orchestration.cost import CPU, GPU, deal
from benchmark.orchestration.plan import Plan
from benchmark.orchestration.slurm.profiles import DEFAULT_PROFILE, Profile, Resources, load_profile
from benchmark.orchestration.slurm.scheduler import Scheduler, scheduler_for
from benchmark.orchestration.slurm.states import task_states
from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import Task
from benchmark.orchestration.worker import JobOptions, run_job



class SlurmBatch(submitit.helpers.Checkpointable):
    """One SLURM job: its tasks one after another, each ending in a record or a failure note.

    On a time limit (USR2 `signal_delay_s` before it) or a preemption, submitit calls
    `checkpoint()` and requeues the job with what it returns: this same batch. The training state is
    already on disk (results/checkpoints/<id>.pt, written at epoch ends every `options.checkpoint_every_s`),
    so the requeued job skips the finished tasks and resumes the interrupted one from its checkpoint.
    """

    def __init__(self, tasks: list[Task], results_dir: str, data_dir: str, options: JobOptions):
        self.tasks = tasks
        self.results_dir = results_dir
        self.data_dir = data_dir
        self.options = options

    def __call__(self) -> dict[str, list[str]]:
        return run_job(self.tasks, self.results_dir, self.data_dir, self.options)

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)



@dataclass
class SlurmOptions:
    profile: str = DEFAULT_PROFILE
    overrides: dict[str, Any] = field(default_factory=dict)  # Resources fields from the command line
    retry_failed: bool = False

    def resources(self) -> Profile:
        """The profile with the command line's overrides; a UserError for a bad profile or value."""
        return load_profile(self.profile).with_overrides(self.overrides)

    def device_kind(self, plan: Plan) -> str:
        """What the jobs train on: a GPU if the profile gives the plan's runs one, else the CPU."""
        profile = self.resources()
        gpu = any(r.gpus or "gpu" in (r.gres or "") for r in {profile.resources(t.dataset, t.section) for t in plan.runs})
        return GPU if gpu else CPU


@dataclass
class Array:
    """Tasks of one level, section, dataset and resources: one job array."""

    level: int
    section: str  # the profile section: classifier, or the stage kind's
    dataset: str
    resources: Resources
    tasks: list[Task]
    waits: bool  # some of its tasks need stages that are still to be trained
    array_id: str | None = None  # once submitted
    dependency: str | None = None

    @property
    def jobs(self) -> int:
        return math.ceil(len(self.tasks) / self.resources.runs_per_job)

    def describe(self) -> str:
        if self.dependency:
            after = f", starts when job(s) {self.dependency.split(':', 1)[1].replace(':', ', ')} end"
        else:
            after = ", held until the stages it needs end" if self.waits else ""
        job = f"job {self.array_id}: " if self.array_id else ""
        return (f"  {job}{self.section} {self.dataset}: {len(self.tasks)} task(s) in {self.jobs} job(s) "
                f"[{self.resources.describe()}]{after}")


@dataclass
class Submission:
    """What `run --executor slurm` submits (or, in a dry run, would), and what it leaves alone."""

    arrays: list[Array]
    done: int = 0  # runs (or trials) with a record
    queued: int = 0  # runs (or trials) already pending or running
    what: str = "run"  # the plan's: run, or trial for `tune`
    stage_jobs: dict[str, str] = field(default_factory=dict)  # stage id -> the job that trains it
    stages_queued: int = 0
    left_out: list[tuple[Task, str]] = field(default_factory=list)  # (task, why)
    retried: list[Task] = field(default_factory=list)  # failed tasks submitted again (--retry-failed)

    def counts(self) -> str:
        counts = f"{self.done} {self.what}(s) already done, {self.queued} already queued"
        return counts + (f" ({self.stages_queued} stage(s) queued)" if self.stages_queued else "")

    def left_out_lines(self, verb: str) -> list[str]:
        return [f"{verb} {n} task(s): {why}" for why, n in Counter(w for _, w in self.left_out).items()]

    def dry_run(self, profile: str) -> list[str]:
        return [f"slurm profile {profile}: would submit {len(self.arrays)} array(s)",
                *(a.describe() for a in self.arrays), self.counts(), *self.left_out_lines("would leave out")]

    def summary(self, folder: Path) -> list[str]:
        if not self.arrays:
            return [f"nothing to submit: {self.counts()}", *self.left_out_lines("left out")]
        submitted = Counter(t.what for a in self.arrays for t in a.tasks)
        counts = [f"{n} {name}(s)" for name, n in sorted(submitted.items(), key=lambda w: w[0] == "run")]
        what = " and ".join([", ".join(counts[:-1]), counts[-1]] if len(counts) > 1 else counts)
        head = (f"submitted {what} as {sum(a.jobs for a in self.arrays)} job(s) in {len(self.arrays)} array(s); "
                f"{self.counts()}")
        if self.retried:
            head += f"; {len(self.retried)} of the submitted task(s) had failed before (--retry-failed)"
        return [head, *(a.describe() for a in self.arrays), *self.left_out_lines("left out"),
                f"logs in {folder}; follow with `python -m benchmark status` (same selection)"]


def plan_submission(plan: Plan, store: Store, options: SlurmOptions, scheduler: Scheduler | None) -> Submission:
    """Which tasks to submit, grouped into arrays of equal level, section, dataset and resources:
    the untrained stages that the unfinished runs need, then the runs. Skips runs with a record and
    tasks already queued; leaves out failed tasks (and what needs them) unless options.retry_failed."""
    profile = options.resources()
    todo_plan = plan.unfinished(store)
    states = task_states(store, [*todo_plan.stages, *todo_plan.runs], scheduler)
    sub = Submission([], done=len(plan.runs) - len(todo_plan.runs), what=plan.what)
    blocked: set[str] = set()
    todo: list[Task] = []
    for task in [*todo_plan.stages, *todo_plan.runs]:
        state = states[task.id].state
        if state == "done":
            continue
        if state in ("pending", "running"):
            if task.what == "run":
                sub.queued += 1
            else:
                sub.stage_jobs[task.id] = states[task.id].job_id
                sub.stages_queued += 1
        elif any(s.id in blocked for s in task.requires):
            blocked.add(task.id)
            sub.left_out.append((task, f"{task.what}s whose required stage failed (--retry-failed resubmits both)"))
        elif state == "failed" and not options.retry_failed:
            blocked.add(task.id)
            sub.left_out.append((task, f"failed {task.what}s (see `status` for their errors and logs; "
                                       "--retry-failed resubmits them)"))
        else:
            todo.append(task)
            if state == "failed":
                sub.retried.append(task)
    todo_ids = {t.id for t in todo}
    groups: dict[tuple, list[Task]] = {}
    for task in todo:
        waits = any(s.id in sub.stage_jobs or s.id in todo_ids for s in task.requires)
        key = (task.level, task.section, task.dataset, profile.resources(task.dataset, task.section), waits)
        groups.setdefault(key, []).append(task)
    sub.arrays = [Array(level, section, dataset, resources, tasks, waits)
                  for (level, section, dataset, resources, waits), tasks in sorted(groups.items(), key=lambda g: g[0][0])]
    return sub


def dependency_string(job_ids: set[str], arrays: dict[str, set[str]]) -> str | None:
    """afterany on the given jobs; a whole array submitted now is named by its id alone."""
    if not job_ids:
        return None
    names = []
    remaining = set(job_ids)
    for array_id, elements in arrays.items():
        if elements and elements <= remaining:
            names.append(array_id)
            remaining -= elements
    names += sorted(remaining)
    return "afterany:" + ":".join(sorted(names))


def make_executor(store: Store, resources: Resources) -> submitit.SlurmExecutor:
    try:
        executor = submitit.SlurmExecutor(folder=store.slurm_jobs_dir, max_num_timeout=resources.max_timeouts)
    except RuntimeError as exc:  # no srun on this machine
        raise UserError(f"--executor slurm: {exc}") from None
    try:
        executor.update_parameters(**resources.executor_parameters())
    except ValueError as exc:
        raise UserError(f"bad slurm parameters: {exc}") from None
    return executor


def submit_array(store: Store, data_dir: Path, array: Array, job_options: JobOptions) -> list[tuple[str, list[Task]]]:
    """Submit one array; returns (job id, its tasks) per job and notes the job of every task."""
    batches = deal(array.tasks, array.jobs)
    executor = make_executor(store, array.resources)
    executor.update_parameters(job_name=f"bench-{array.section}-{array.dataset.split(':')[0]}",
                               **({"dependency": array.dependency} if array.dependency else {}))
    fns = [SlurmBatch(b, str(store.root.resolve()), str(data_dir.resolve()), job_options) for b in batches]
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # submitit echoes sbatch's errors; we say it once
            jobs = executor.submit_array(fns)
    except (subprocess.CalledProcessError, submitit.core.utils.FailedJobError,
            submitit.core.utils.FailedSubmissionError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        last = (str(detail).strip().splitlines() or ["no message"])[-1].removeprefix("sbatch: error: ")
        raise UserError(f"sbatch refused the {array.section} jobs of {array.dataset} "
                        f"({array.resources.describe()}): {last}") from None
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    placed = []
    for job, batch in zip(jobs, batches):
        for position, task in enumerate(batch):
            store.failure_path(task.id).unlink(missing_ok=True)
            store.progress_path(task.id).unlink(missing_ok=True)
            store.write_submission(task.id, {"job_id": job.job_id, "position": position, "section": array.section,
                                             "task": task.describe(), "submitted": now, "log": str(job.paths.stderr),
                                             "dependency": array.dependency,
                                             "resources": array.resources.describe()})
        placed.append((job.job_id, batch))
    array.array_id = jobs[0].job_id.split("_")[0]
    return placed


def submit(plan: Plan, store: Store, data_dir: Path, options: SlurmOptions,
           job_options: JobOptions = JobOptions()) -> Submission:
    """Submit every unfinished run that is not queued (and not failed, unless
    options.retry_failed), with the stages it needs, level by level; an array whose tasks need
    stages waits for the jobs that train them (afterany). Returns once sbatch has accepted the arrays."""
    scheduler, _ = scheduler_for(required=True)
    sub = plan_submission(plan, store, options, scheduler)
    submitted: dict[str, set[str]] = {}  # array id -> its jobs
    for array in sub.arrays:
        waits = {sub.stage_jobs[s.id] for t in array.tasks for s in t.requires if s.id in sub.stage_jobs}
        array.dependency = dependency_string(waits, submitted)
        placed = submit_array(store, data_dir, array, job_options)
        submitted[array.array_id] = {job_id for job_id, _ in placed}
        sub.stage_jobs.update({t.id: job_id for job_id, batch in placed for t in batch})
    return sub
