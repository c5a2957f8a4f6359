"""The SLURM launcher: job arrays through submitit, generator stages first and the classifier
arrays that need them held by a dependency, all submitted at once (nothing waits here).

- Resources come from a cluster profile (slurm/<name>.toml, see `load_profile`) per dataset and
  stage (generator, classifier); command-line values win over the profile.
- Each job runs a few tasks in turn (`SlurmBatch`, a submitit Checkpointable): on a time limit or a
  preemption submitit calls its `checkpoint()` and requeues the job, which runs the same tasks
  again: finished ones are skipped, the interrupted one resumes from results/checkpoints/.
- Idempotent: results/slurm/<task_id>.json remembers the job a task was submitted to; a task is
  submitted only if it has no record, is not in the queue and has not failed (`--retry-failed`).
- `task_states` merges the store and the scheduler (squeue; sacct where accounting is on; else
  submitit's result files and the job's log) into done / running / pending / failed / missing.
"""
from __future__ import annotations

import contextlib
import getpass
import io
import math
import os
import re
import subprocess
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Collection, Iterable

import submitit
from submitit.core.utils import JobPaths

from benchmark.errors import UserError
from benchmark.paths import REPOSITORY
from benchmark.training.spec import RunSpec, StageSpec
from benchmark.orchestration.store import Store
from benchmark.orchestration.worker import JobOptions, Task, run_batch, task_id
from methods import get_method

PROFILE_DIR = REPOSITORY / "slurm"
DEFAULT_PROFILE = "default"
STAGE_KINDS = ("generator", "classifier")  # profile sections; every pre-classifier stage uses `generator`
COMMAND_TIMEOUT_S = 60


class SchedulerError(RuntimeError):
    """squeue / sbatch could not be run or answered with an error."""


# ----------------------------------------------------------------------------------------------
# Cluster profiles
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Resources:
    """What one job asks for, and how tasks are packed into jobs. Hashable: tasks with equal
    resources go into one array."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gres: str | None = None
    gpus: int | None = None  # --gpus-per-node; use either gres or gpus
    cpus: int = 1  # --cpus-per-task, also the job's torch threads
    mem: str | None = None  # --mem, e.g. "12G"
    time: int = 60  # --time in minutes
    constraint: str | None = None
    exclude: str | None = None
    array_parallelism: int = 256  # jobs of one array running at once
    runs_per_job: int = 1  # tasks run one after another in one job
    max_timeouts: int = 3  # requeues after hitting the time limit before the job counts as failed
    signal_delay_s: int = 90  # USR2 this long before the time limit: submitit checkpoints and requeues
    setup: tuple[str, ...] = ()  # shell lines run in the job before the worker (module load ...)
    sbatch: tuple[tuple[str, str], ...] = ()  # any other sbatch option, name -> value

    def executor_parameters(self) -> dict[str, Any]:
        """Parameters of submitit.SlurmExecutor.update_parameters."""
        params: dict[str, Any] = {
            "time": self.time, "cpus_per_task": self.cpus, "array_parallelism": self.array_parallelism,
            "signal_delay_s": self.signal_delay_s,
        }
        optional = {"partition": self.partition, "account": self.account, "qos": self.qos, "gres": self.gres,
                    "gpus_per_node": self.gpus, "mem": self.mem, "constraint": self.constraint,
                    "exclude": self.exclude}
        params.update({k: v for k, v in optional.items() if v is not None})
        if self.setup:
            params["setup"] = list(self.setup)
        if self.sbatch:
            params["additional_parameters"] = dict(self.sbatch)
        return params

    def describe(self) -> str:
        parts = [f"partition={self.partition}" if self.partition else "",
                 f"gres={self.gres}" if self.gres else "", f"gpus={self.gpus}" if self.gpus is not None else "",
                 f"cpus={self.cpus}", f"mem={self.mem}" if self.mem else "", f"time={format_minutes(self.time)}",
                 f"account={self.account}" if self.account else "", f"qos={self.qos}" if self.qos else ""]
        return " ".join(p for p in parts if p)


def parse_minutes(value: Any, where: str) -> int:
    """A SLURM time limit (minutes as a number, or "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM",
    "D-HH:MM:SS") in whole minutes, rounded up."""
    if isinstance(value, bool):
        raise UserError(f"{where}: time {value!r} is not a time limit")
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        minutes = int(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", value.strip())
        if m is None:
            raise UserError(f"{where}: time '{value}' is not a SLURM time limit; use minutes or "
                            "HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS")
        days, a, b, c = m.groups()
        if days is not None:  # D-HH[:MM[:SS]]
            seconds = int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
        elif c is not None:  # HH:MM:SS
            seconds = int(a) * 3600 + int(b) * 60 + int(c)
        else:  # MM:SS
            seconds = int(a) * 60 + int(b)
        minutes = math.ceil(seconds / 60)
    else:
        raise UserError(f"{where}: time {value!r} is not a time limit; use minutes or 'HH:MM:SS'")
    if minutes < 1:
        raise UserError(f"{where}: time limit {value!r} is shorter than a minute")
    return minutes


def format_minutes(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    text = f"{rest // 60:02d}:{rest % 60:02d}:00"
    return f"{days}-{text}" if days else text


def parse_mem(value: Any, where: str) -> str:
    """Memory per node: an integer number of GB, or SLURM's "<int>[K|M|G|T]" ("12G", "500M")."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return f"{value}G"
    if isinstance(value, str):
        m = re.fullmatch(r"(\d+)\s*([KMGT])?B?", value.strip(), re.IGNORECASE)
        if m and int(m.group(1)) > 0:
            return f"{m.group(1)}{(m.group(2) or 'M').upper()}"
    raise UserError(f"{where}: mem {value!r} is not a memory size; use e.g. 12G or 500M (integers)")


def _int(minimum: int):
    def check(value: Any, where: str, key: str) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise UserError(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")
        return value
    return check


def _text(value: Any, where: str, key: str) -> str | None:
    if not isinstance(value, str):
        raise UserError(f"{where}: {key} must be a string, got {value!r}")
    return value.strip() or None  # "" unsets a value of an earlier table


def _lines(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where}: {key} must be a list of shell lines, got {value!r}")
    return tuple(value)


def _table(value: Any, where: str, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise UserError(f"{where}: {key} must be a table of sbatch options, e.g. {{ mail-type = \"FAIL\" }}")
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))


KEYS = {
    "partition": _text, "account": _text, "qos": _text, "gres": _text, "constraint": _text, "exclude": _text,
    "gpus": _int(0), "cpus": _int(1), "mem": lambda v, w, k: parse_mem(v, w), "time": lambda v, w, k: parse_minutes(v, w),
    "array_parallelism": _int(1), "runs_per_job": _int(1), "max_timeouts": _int(0), "signal_delay_s": _int(0),
    "setup": _lines, "sbatch": _table,
}
assert set(KEYS) == {f.name for f in fields(Resources)}


def check_values(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(KEYS)}")
    return {k: KEYS[k](v, where, k) for k, v in table.items()}


@dataclass(frozen=True)
class Profile:
    """A cluster profile. Later tables win: top level < [generator] / [classifier] <
    [datasets.NAME] < [datasets.NAME.generator] / [datasets.NAME.classifier] < command line."""

    name: str
    path: Path | None
    base: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    dataset_stages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)

    def resources(self, dataset: str, stage: str) -> Resources:
        key = "folder" if dataset.startswith("folder:") else dataset
        values: dict[str, Any] = {}
        for layer in (self.base, self.stages.get(stage, {}), self.datasets.get(key, {}),
                      self.dataset_stages.get((key, stage), {}), self.overrides):
            values.update(layer)
        return Resources(**values)

    def with_overrides(self, overrides: dict[str, Any]) -> "Profile":
        return replace(self, overrides=check_values({k: v for k, v in overrides.items() if v is not None},
                                                    "command line"))


def profile_names() -> list[str]:
    dirs = [Path("slurm"), PROFILE_DIR]
    return sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.toml")})


def find_profile(name_or_path: str) -> Path:
    candidate = Path(name_or_path).expanduser()
    if name_or_path.endswith(".toml") or os.sep in name_or_path:
        if candidate.is_file():
            return candidate
        raise UserError(f"slurm profile file '{name_or_path}' does not exist")
    for folder in (Path("slurm"), PROFILE_DIR):
        if (folder / f"{name_or_path}.toml").is_file():
            return folder / f"{name_or_path}.toml"
    raise UserError(f"unknown slurm profile '{name_or_path}'; valid: {', '.join(profile_names()) or '(none)'} "
                    f"(slurm/NAME.toml), or the path of a .toml file")


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> Profile:
    from benchmark.data import DATASETS

    path = find_profile(name_or_path)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"slurm profile {path}: {exc}") from None
    doc.pop("description", None)
    stages_doc = {k: doc.pop(k) for k in STAGE_KINDS if k in doc}
    datasets_doc = doc.pop("datasets", {})
    valid_tables = ", ".join([*STAGE_KINDS, "datasets"])
    for key, value in doc.items():
        if isinstance(value, dict) and key not in KEYS:
            raise UserError(f"slurm profile {path}: unknown table [{key}]; valid: {valid_tables}")
    base = check_values(doc, f"slurm profile {path}")
    stages = {kind: check_values(table, f"slurm profile {path} [{kind}]") for kind, table in stages_doc.items()}
    if not isinstance(datasets_doc, dict):
        raise UserError(f"slurm profile {path}: 'datasets' must be a table [datasets.NAME]")
    datasets, dataset_stages = {}, {}
    valid_datasets = [*DATASETS, "folder"]
    for name, table in datasets_doc.items():
        if name not in valid_datasets:
            raise UserError(f"slurm profile {path}: unknown dataset [datasets.{name}]; valid: {', '.join(valid_datasets)}")
        if not isinstance(table, dict):
            raise UserError(f"slurm profile {path}: 'datasets.{name}' must be a table")
        table = dict(table)
        for kind in STAGE_KINDS:
            if kind in table:
                dataset_stages[(name, kind)] = check_values(table.pop(kind), f"slurm profile {path} [datasets.{name}.{kind}]")
        datasets[name] = check_values(table, f"slurm profile {path} [datasets.{name}]")
    return Profile(path.stem, path, base, stages, datasets, dataset_stages)


# ----------------------------------------------------------------------------------------------
# What a job runs
# ----------------------------------------------------------------------------------------------

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
        return run_batch(self.tasks, self.results_dir, self.data_dir, self.options)

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


# ----------------------------------------------------------------------------------------------
# The scheduler
# ----------------------------------------------------------------------------------------------

RUNNING_STATES = {"RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING", "SUSPENDED", "STOPPED"}
PENDING_STATES = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
INTERRUPTED_STATES = {"CANCELLED", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL"}  # not the run's fault: resubmitted


def run_command(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except FileNotFoundError:
        raise SchedulerError(f"{cmd[0]} not found: is SLURM installed on this machine?") from None
    except subprocess.TimeoutExpired:
        raise SchedulerError(f"{cmd[0]} did not answer within {COMMAND_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise SchedulerError(lines[-1] if lines else f"{cmd[0]}: exit status {proc.returncode}")
    return proc.stdout


class Scheduler:
    """The jobs SLURM knows: squeue for everything the controller still holds (pending, running,
    and ended within MinJobAge), sacct for older ones where accounting is on."""

    def __init__(self) -> None:
        self._queue: dict[str, tuple[str, str]] | None = None
        self._acct: dict[str, str] = {}

    def queue(self) -> dict[str, tuple[str, str]]:
        """job id (array elements as 123_4) -> (state, reason)."""
        if self._queue is None:
            out = run_command(["squeue", "--noheader", "--array", "--states=all", f"--user={getpass.getuser()}",
                               "--format=%i|%T|%r"])
            self._queue = {}
            for line in out.splitlines():
                parts = line.strip().split("|")
                if len(parts) == 3:
                    self._queue[parts[0]] = (parts[1], parts[2])
        return self._queue

    def accounting(self, job_ids: Iterable[str]) -> dict[str, str]:
        """job id -> final state from sacct; empty where accounting is off (best effort)."""
        wanted = sorted(set(job_ids) - set(self._acct))
        if wanted:
            try:
                out = run_command(["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State",
                                   "--jobs", ",".join(wanted)])
            except SchedulerError:
                out = ""
            for line in out.splitlines():
                parts = line.strip().split("|")
                if len(parts) >= 2:
                    self._acct[parts[0]] = parts[1].split()[0]  # "CANCELLED by 0" -> CANCELLED
            for job_id in wanted:
                self._acct.setdefault(job_id, "")
        return {j: self._acct.get(j, "") for j in job_ids}


def job_files(store: Store, job_id: str) -> JobPaths:
    return JobPaths(store.slurm_jobs_dir, job_id=job_id, task_id=0)


LOG_EVENTS = [  # slurmstepd's lines in a job's log -> the state they mean (None: not an end)
    (re.compile(r"CANCELLED AT \S+ DUE TO JOB REQUEUE"), None),
    (re.compile(r"\*\*\* STEP \S+ ON \S+ CANCELLED AT"), None),  # a step ends with its job or its requeue
    (re.compile(r"CANCELLED AT \S+ DUE TO TIME LIMIT"), "TIMEOUT"),
    (re.compile(r"CANCELLED AT \S+ DUE TO PREEMPTION"), "PREEMPTED"),
    (re.compile(r"CANCELLED AT \S+ DUE TO NODE FAIL"), "NODE_FAIL"),
    (re.compile(r"CANCELLED AT"), "CANCELLED"),
    (re.compile(r"oom[-_]kill|Out Of Memory|OUT_OF_MEMORY", re.IGNORECASE), "OUT_OF_MEMORY"),
]


def log_tail(path: Path, limit: int = 64_000) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return [ln.strip() for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return []


def ended_job(store: Store, job_id: str, state: str) -> tuple[str, str]:
    """(state, last error line) of a job that left the queue. `state` is the scheduler's final
    state if known (squeue within MinJobAge, or sacct), else "" and it is read from submitit's
    result file and the job's log."""
    paths = job_files(store, job_id)
    lines = log_tail(paths.stderr)
    event = None
    for line in reversed(lines):
        found = next(((rx, st) for rx, st in LOG_EVENTS if rx.search(line)), None)
        if found is not None:
            if found[1] is not None:
                event = (line, found[1])
            break  # the last event counts; a requeue means the job ran again after it
    error = ""
    if paths.result_pickle.exists():
        try:
            outcome, value = submitit.core.utils.pickle_load(paths.result_pickle)
        except Exception:  # noqa: BLE001  a half-written or foreign file tells nothing
            outcome, value = "", None
        if outcome == "error":
            error = (str(value).strip().splitlines() or ["error"])[-1]
            state = state or "FAILED"
        elif outcome == "success":
            state = state or "COMPLETED"
    if not state and event is not None:
        state = event[1]
    if not error and event is not None:
        error = re.sub(r"^slurmstepd(-\S+)?: error: ", "", event[0])
    if not error:
        error = lines[-1] if lines else "no log"
    return state or "UNKNOWN", error


# ----------------------------------------------------------------------------------------------
# Task states: the store and the scheduler together
# ----------------------------------------------------------------------------------------------

@dataclass
class TaskState:
    state: str  # done | running | pending | failed | missing
    job_id: str | None = None
    detail: str = ""  # why pending, the error of a failed task, "cancelled" for an interrupted one
    log: str | None = None


def task_states(store: Store, tasks: list[Task], scheduler: Scheduler | None,
                done: Collection[str] = ()) -> dict[str, TaskState]:
    """The state of each task; `done` holds ids already known to be done (not read again). Without
    a scheduler (none reachable), submitted tasks without a record count as pending with detail
    "scheduler not reachable"."""
    states: dict[str, TaskState] = {}
    ended: dict[str, list[tuple[str, str | None]]] = {}  # job id -> (task id, log): jobs that have ended
    for task in tasks:
        tid = task_id(task)
        if tid in done or store.task_done(task):
            states[tid] = TaskState("done")
            continue
        submission = store.load_submission(tid)
        failure = store.load_failure(tid)
        if submission is None:
            states[tid] = (TaskState("failed", None, failure.get("error", ""), failure.get("log")) if failure
                           else TaskState("missing"))
            continue
        job_id = submission["job_id"]
        log = submission.get("log")
        if scheduler is None:
            states[tid] = TaskState("pending", job_id, "scheduler not reachable", log)
            continue
        queued = scheduler.queue().get(job_id)
        if queued and queued[0] in PENDING_STATES:
            states[tid] = TaskState("pending", job_id, queued[1], log)
        elif queued and queued[0] in RUNNING_STATES:
            if failure:
                states[tid] = TaskState("failed", job_id, failure.get("error", ""), failure.get("log") or log)
            elif store.progress_path(tid).exists() or not submission.get("position"):
                states[tid] = TaskState("running", job_id, queued[0].lower(), log)
            else:  # several runs per job: this one waits for the ones before it
                states[tid] = TaskState("pending", job_id, "after other runs of its job", log)
        elif failure:
            states[tid] = TaskState("failed", job_id, failure.get("error", ""), failure.get("log") or log)
        else:
            ended.setdefault(job_id, []).append((tid, log))
    if ended:
        final = {job_id: scheduler.queue().get(job_id, ("", ""))[0] for job_id in ended}  # squeue within MinJobAge
        acct = scheduler.accounting([job_id for job_id, state in final.items() if not state])
        for job_id, tasks_of_job in ended.items():
            state, error = ended_job(store, job_id, final[job_id] or acct[job_id])
            if state in INTERRUPTED_STATES:
                ending = TaskState("missing", job_id, f"job {job_id} {state.lower()}")
            elif state == "COMPLETED":
                ending = TaskState("failed", job_id, f"job {job_id} completed without writing a record")
            else:
                ending = TaskState("failed", job_id, f"job {job_id} {state}: {error}")
            for tid, log in tasks_of_job:
                states[tid] = replace(ending, log=log)
    return states


def scheduler_for(required: bool) -> tuple[Scheduler | None, str | None]:
    """A Scheduler if one answers; with `required` a UserError if none does."""
    scheduler = Scheduler()
    try:
        scheduler.queue()
    except SchedulerError as exc:
        if required:
            raise UserError(f"cannot ask SLURM which jobs are queued ({exc}); --executor slurm needs a machine "
                            "where squeue and sbatch work") from None
        return None, str(exc)
    return scheduler, None


# ----------------------------------------------------------------------------------------------
# Submission
# ----------------------------------------------------------------------------------------------

@dataclass
class SlurmOptions:
    profile: str = DEFAULT_PROFILE
    overrides: dict[str, Any] = field(default_factory=dict)  # Resources fields from the command line
    retry_failed: bool = False

    def resources(self) -> Profile:
        """The profile with the command line's overrides; a UserError for a bad profile or value."""
        return load_profile(self.profile).with_overrides(self.overrides)


@dataclass
class ArraySubmission:
    array_id: str
    kind: str  # generator | classifier
    dataset: str
    jobs: int
    tasks: int
    resources: Resources
    dependency: str | None


@dataclass
class SubmitOutcome:
    done: int = 0  # runs with a record
    queued: int = 0  # runs already pending or running
    stages_queued: int = 0
    submitted_runs: int = 0
    submitted_stages: int = 0
    left_out: list[tuple[Task, str]] = field(default_factory=list)  # (task, why)
    retried: int = 0  # failed tasks resubmitted (--retry-failed)
    arrays: list[ArraySubmission] = field(default_factory=list)
    folder: Path | None = None

    def summary(self) -> list[str]:
        lines = []
        for a in self.arrays:
            after = f", starts when job(s) {a.dependency.split(':', 1)[1].replace(':', ', ')} end" if a.dependency else ""
            lines.append(f"  job {a.array_id}: {a.kind} {a.dataset}, {a.tasks} task(s) in {a.jobs} job(s) "
                         f"[{a.resources.describe()}{after}]")
        jobs = sum(a.jobs for a in self.arrays)
        counts = f"{self.done} run(s) already done, {self.queued} already queued"
        if self.stages_queued:
            counts += f" ({self.stages_queued} generator stage(s) queued)"
        if self.arrays:
            what = [f"{self.submitted_stages} generator stage(s)"] * bool(self.submitted_stages)
            what += [f"{self.submitted_runs} run(s)"] * bool(self.submitted_runs)
            head = f"submitted {' and '.join(what)} as {jobs} job(s) in {len(self.arrays)} array(s); {counts}"
            if self.retried:
                head += f"; {self.retried} of the submitted task(s) had failed before (--retry-failed)"
        else:
            head = f"nothing to submit: {counts}"
        out = [head, *lines]
        reasons = Counter(why for _, why in self.left_out)
        for why, n in reasons.items():
            out.append(f"left out {n} task(s): {why}")
        if self.arrays:
            out.append(f"logs in {self.folder}; follow with `python -m benchmark status` (same selection)")
        return out


def group_by(tasks: Iterable[Task], key) -> dict[Any, list[Task]]:
    groups: dict[Any, list[Task]] = {}
    for task in tasks:
        groups.setdefault(key(task), []).append(task)
    return groups


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


def submit_array(store: Store, data_dir: Path, tasks: list[Task], resources: Resources, kind: str,
                 dataset: str, dependency: str | None,
                 job_options: JobOptions) -> tuple[ArraySubmission, list[tuple[str, list[Task]]]]:
    from benchmark.orchestration.launch import deal

    batches = deal(tasks, math.ceil(len(tasks) / resources.runs_per_job))
    executor = make_executor(store, resources)
    executor.update_parameters(job_name=f"bench-{'gen' if kind == 'generator' else 'cls'}-{dataset.split(':')[0]}",
                               **({"dependency": dependency} if dependency else {}))
    job_options = replace(job_options, threads=resources.cpus)
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
        raise UserError(f"sbatch refused the {kind} jobs of {dataset} ({resources.describe()}): {last}") from None
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    placed = []
    for job, batch in zip(jobs, batches):
        for position, task in enumerate(batch):
            tid = task_id(task)
            store.failure_path(tid).unlink(missing_ok=True)
            store.progress_path(tid).unlink(missing_ok=True)
            store.write_submission(tid, {"job_id": job.job_id, "position": position, "kind": kind,
                                         "task": task.describe(), "submitted": now, "log": str(job.paths.stderr),
                                         "dependency": dependency, "resources": resources.describe()})
        placed.append((job.job_id, batch))
    array_id = jobs[0].job_id.split("_")[0]
    return ArraySubmission(array_id, kind, dataset, len(jobs), len(tasks), resources, dependency), placed


def stage_of(spec: RunSpec) -> StageSpec | None:
    return get_method(spec.method).stage(spec)


@dataclass
class PlannedArray:
    kind: str  # generator | classifier
    dataset: str
    resources: Resources
    tasks: list[Task]
    after_stages: bool  # classifier runs whose generator is still to be trained


@dataclass
class Plan:
    arrays: list[PlannedArray]
    outcome: SubmitOutcome
    stage_jobs: dict[str, str]  # stage id -> the queued job that produces it
    retried: list[Task]


def plan_submission(specs: list[RunSpec], store: Store, options: SlurmOptions, scheduler: Scheduler | None) -> Plan:
    """Which tasks to submit, grouped into arrays of equal resources: the generator stages that the
    unfinished runs need first, then the runs. Skips runs with a record and tasks already queued;
    leaves out failed tasks unless options.retry_failed."""
    from benchmark.orchestration.launch import needed_stages

    profile = options.resources()
    outcome = SubmitOutcome(folder=store.slurm_jobs_dir)
    pending_runs = [s for s in specs if not store.is_done(s)]
    outcome.done = len(specs) - len(pending_runs)
    stages = needed_stages(pending_runs)
    states = task_states(store, [*stages, *pending_runs], scheduler)

    stage_jobs: dict[str, str] = {}
    blocked: set[str] = set()
    todo_stages: list[Task] = []
    retried: list[Task] = []
    for st in stages:
        s = states[st.stage_id]
        if s.state == "done":
            continue
        if s.state in ("pending", "running"):
            stage_jobs[st.stage_id] = s.job_id
            outcome.stages_queued += 1
        elif s.state == "failed" and not options.retry_failed:
            blocked.add(st.stage_id)
            outcome.left_out.append((st, "failed generator stage (see `status`; --retry-failed resubmits it)"))
        else:
            todo_stages.append(st)
            if s.state == "failed":
                retried.append(st)
    todo_runs: list[RunSpec] = []
    for spec in pending_runs:
        s = states[spec.run_id]
        stage = stage_of(spec)
        if s.state in ("pending", "running"):
            outcome.queued += 1
        elif s.state == "failed" and not options.retry_failed:
            outcome.left_out.append((spec, "failed runs (see `status` for their errors and logs; "
                                           "--retry-failed resubmits them)"))
        elif stage is not None and stage.stage_id in blocked:
            outcome.left_out.append((spec, "runs whose generator stage failed (--retry-failed resubmits both)"))
        else:
            todo_runs.append(spec)
            if s.state == "failed":
                retried.append(spec)

    arrays = [PlannedArray("generator", dataset, resources, group, False) for (resources, dataset), group in
              group_by(todo_stages, lambda t: (profile.resources(t.dataset, "generator"), t.dataset)).items()]
    todo_stage_ids = {task_id(t) for t in todo_stages}

    def after_stages(spec: RunSpec) -> bool:
        stage = stage_of(spec)
        return stage is not None and (stage.stage_id in stage_jobs or stage.stage_id in todo_stage_ids)

    arrays += [PlannedArray("classifier", dataset, resources, group, waits) for (resources, dataset, waits), group in
               group_by(todo_runs, lambda t: (profile.resources(t.dataset, "classifier"), t.dataset,
                                              after_stages(t))).items()]
    return Plan(arrays, outcome, stage_jobs, retried)


# Assumed GPU seconds per training step, for the estimate of `run --executor slurm --dry-run` (and the
# README's table): small batches (10, 16) make these steps launch-bound on a current data-centre GPU,
# so the numbers are rough, not measured here (this machine has no GPU).
ASSUMED_GPU_STEP_S = {"wrn-16-8": 0.010, "resnet50": 0.015, "cnn": 0.002}
ASSUMED_GPU_GENERATOR_STEP_S = 0.050  # ChimeraMix generator + discriminator step, batch 64 at 64 px


def estimate_gpu_hours(tasks: Iterable[Task]) -> tuple[float, float, int]:
    """(classifier GPU-hours, generator GPU-hours, tasks without an estimate): steps per task from
    the recipe x the assumed step time of its model."""
    from benchmark.data import DATASETS
    from benchmark.training.recipes import recipe_for

    runs = stages = 0.0
    unknown = 0
    for task in tasks:
        info = DATASETS.get(task.dataset)
        if info is None:
            unknown += 1
        elif isinstance(task, RunSpec):
            recipe = recipe_for(task.dataset, task.profile)
            runs += recipe.total_steps(task.shots, info.num_classes) * ASSUMED_GPU_STEP_S.get(recipe.model, 0.0) / 3600
        else:
            try:
                from benchmark.training.recipes import generator_recipe_for
                steps = generator_recipe_for(task.dataset, task.profile).total_steps(task.shots, info.num_classes)
            except ImportError:
                unknown += 1
                continue
            stages += steps * ASSUMED_GPU_GENERATOR_STEP_S / 3600
    return runs, stages, unknown


def two_figures(x: float) -> str:
    """An estimate shown with the precision it has: two significant figures."""
    if x <= 0:
        return "0"
    digits = 1 - math.floor(math.log10(x))
    if round(x, digits) >= 10 ** (2 - digits):  # 9.96 -> 10, not 10.0
        digits -= 1
    return f"{round(x, digits):,.{max(digits, 0)}f}"


def describe_plan(plan: Plan, profile: str) -> str:
    lines = [f"slurm profile {profile}: would submit {len(plan.arrays)} array(s)"]
    for a in plan.arrays:
        jobs = math.ceil(len(a.tasks) / a.resources.runs_per_job)
        after = ", held until its generator stages end" if a.after_stages else ""
        lines.append(f"  {a.kind} {a.dataset}: {len(a.tasks)} task(s) in {jobs} job(s) [{a.resources.describe()}]{after}")
    o = plan.outcome
    lines.append(f"{o.done} run(s) already done, {o.queued} already queued")
    lines += [f"would leave out {n} task(s): {why}" for why, n in Counter(w for _, w in o.left_out).items()]
    runs, stages, unknown = estimate_gpu_hours(t for a in plan.arrays for t in a.tasks)
    steps = ", ".join(f"{m} {1000 * s:g} ms" for m, s in ASSUMED_GPU_STEP_S.items())
    lines.append(f"estimated GPU time: about {two_figures(runs + stages)} GPU-hours ({two_figures(runs)} classifier + "
                 f"{two_figures(stages)} generator"
                 f"{f'; {unknown} task(s) not estimated' if unknown else ''}), assuming one GPU per job and per step "
                 f"{steps}, generator {1000 * ASSUMED_GPU_GENERATOR_STEP_S:g} ms (a rough assumption, not a measurement)")
    return "\n".join(lines)


def submit(specs: list[RunSpec], store: Store, data_dir: Path, options: SlurmOptions,
           job_options: JobOptions = JobOptions()) -> SubmitOutcome:
    """Submit every run without a record that is not queued (and not failed, unless
    options.retry_failed), with the generator stages they need first; classifier arrays that need
    a generator wait for its job (afterany). Returns as soon as sbatch has accepted the arrays."""
    scheduler, _ = scheduler_for(required=True)
    plan = plan_submission(specs, store, options, scheduler)
    outcome = plan.outcome
    outcome.retried = len(plan.retried)
    stage_jobs = dict(plan.stage_jobs)
    submitted_arrays: dict[str, set[str]] = {}
    for planned in plan.arrays:
        dependency = None
        if planned.kind == "classifier" and planned.after_stages:
            waits = {stage_jobs[st.stage_id] for s in planned.tasks if (st := stage_of(s)) and st.stage_id in stage_jobs}
            dependency = dependency_string(waits, submitted_arrays)
        array, placed = submit_array(store, data_dir, planned.tasks, planned.resources, planned.kind, planned.dataset,
                                     dependency, job_options)
        outcome.arrays.append(array)
        submitted_arrays[array.array_id] = {job_id for job_id, _ in placed}
        if planned.kind == "generator":
            outcome.submitted_stages += len(planned.tasks)
            stage_jobs.update({task_id(t): job_id for job_id, batch in placed for t in batch})
        else:
            outcome.submitted_runs += len(planned.tasks)
    return outcome


# ----------------------------------------------------------------------------------------------
# Status
# ----------------------------------------------------------------------------------------------

def status_lines(store: Store, specs: list[RunSpec]) -> tuple[list[str], list[str]]:
    """(table lines, detail lines) for `status`: runs per method and
    dataset as done / running / pending / failed / missing, from the store and, for tasks submitted
    to SLURM, from the scheduler."""
    from benchmark.orchestration.launch import needed_stages

    uses_slurm = store.submissions_dir.is_dir()
    scheduler, problem = scheduler_for(required=False) if uses_slurm else (None, None)
    done = {s.run_id for s in specs if store.is_done(s)}
    stages = needed_stages([s for s in specs if s.run_id not in done])
    states = task_states(store, [*stages, *specs], scheduler, done)
    columns = ("done", "missing", "failed", "pending", "running")  # the first three as before SLURM
    counts: dict[tuple[str, str], Counter] = {}
    for spec in specs:
        counts.setdefault((spec.method, spec.dataset), Counter())[states[spec.run_id].state] += 1
    table = [f"{'method':<18} {'dataset':<12} " + " ".join(f"{c:>7}" for c in columns)]
    total: Counter = Counter()
    for (method, dataset), c in counts.items():
        total.update(c)
        table.append(f"{method:<18} {dataset:<12} " + " ".join(f"{c[col]:>7}" for col in columns))
    table.append(f"{'total':<31} " + " ".join(f"{total[col]:>7}" for col in columns) + f"   (results: {store.root})")
    details = []
    if stages:
        sc = Counter(states[st.stage_id].state for st in stages)
        details.append("generator stages of the unfinished runs: " + ", ".join(f"{sc[c]} {c}" for c in columns if sc[c]))
    if problem:
        details.append(f"scheduler not reachable ({problem}): submitted runs without a record are shown as pending")
    if scheduler is not None:
        queue = scheduler.queue()
        jobs = {s.job_id: queue[s.job_id] for s in states.values()
                if s.job_id in queue and s.state in ("pending", "running")}
        if jobs:
            running = sum(state in RUNNING_STATES for state, _ in jobs.values())
            pend = Counter(reason for state, reason in jobs.values() if state not in RUNNING_STATES)
            reasons = ", ".join(f"{reason}: {n}" for reason, n in pend.most_common())
            details.append(f"SLURM jobs: {running} running, {sum(pend.values())} pending"
                           + (f" (reasons: {reasons})" if reasons else ""))
        interrupted = [s for s in states.values() if s.state == "missing" and s.job_id]
        if interrupted:
            details.append(f"{len(interrupted)} task(s) whose job was cancelled or interrupted: the next `run` "
                           "resubmits them and they resume from their checkpoints")
    failed_tasks = [t for t in [*stages, *specs] if states[task_id(t)].state == "failed"]
    for task in failed_tasks:
        s = states[task_id(task)]
        job = f" (job {s.job_id})" if s.job_id else ""
        details.append(f"failed: {task.describe()}{job}\n  error: {s.detail}\n  log: {s.log}")
    if failed_tasks and uses_slurm:
        details.append("`run ... --executor slurm --retry-failed` resubmits the failed tasks")
    return table, details


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------

CLI_OVERRIDES = [  # (option, Resources field, metavar, help)
    ("--partition", "partition", "NAME", "partition (sbatch --partition)"),
    ("--account", "account", "NAME", "account to charge (sbatch --account)"),
    ("--qos", "qos", "NAME", "quality of service (sbatch --qos)"),
    ("--gres", "gres", "SPEC", "generic resources per node, e.g. gpu:1 or gpu:a100:1 (sbatch --gres)"),
    ("--gpus", "gpus", "N", "GPUs per node (sbatch --gpus-per-node), instead of --gres"),
    ("--cpus", "cpus", "N", "CPUs per job (sbatch --cpus-per-task); also the job's torch threads"),
    ("--mem", "mem", "SIZE", "memory per job, e.g. 12G or 500M (sbatch --mem)"),
    ("--time", "time", "LIMIT", "time limit per job: minutes, HH:MM:SS or D-HH:MM:SS (sbatch --time); a job that "
                                "reaches it is checkpointed and requeued up to --max-timeouts times"),
    ("--constraint", "constraint", "FEATURES", "node features, e.g. a100 (sbatch --constraint)"),
    ("--array-parallelism", "array_parallelism", "N", "jobs of one array that may run at once (sbatch --array=...%%N)"),
    ("--runs-per-job", "runs_per_job", "N", "runs (or generator stages) that one job trains one after another; "
                                            "packs several short runs into one job"),
    ("--max-timeouts", "max_timeouts", "N", "requeues after reaching the time limit before the job counts as failed"),
]


def add_slurm_arguments(parser) -> None:
    group = parser.add_argument_group(
        "SLURM (--executor slurm)",
        "Submit job arrays and return at once: generator stages first, the classifier runs that need them held "
        "until their generator's job ends. Resources come from the cluster profile, per dataset and stage "
        "(see slurm/default.toml); each option below overrides the profile for every job. Running the same "
        "command again submits only runs that have no record, are not queued and have not failed.")
    group.add_argument("--slurm-profile", default=None, metavar="NAME|PATH",
                       help="cluster profile: slurm/NAME.toml (looked up in ./slurm, then the repository's slurm/) or "
                            f"the path of a .toml file (default: {DEFAULT_PROFILE}; shipped: default, testcluster)")
    for option, _, metavar, text in CLI_OVERRIDES:
        group.add_argument(option, default=None, metavar=metavar, help=text)
    group.add_argument("--retry-failed", action="store_true",
                       help="also resubmit runs and generator stages whose last job failed (without it they are left "
                            "out and the command says how many)")


def slurm_options_from_args(args) -> SlurmOptions | None:
    """SlurmOptions for --executor slurm; a UserError if a SLURM option comes with another executor."""
    given = {field_name: getattr(args, option[2:].replace("-", "_")) for option, field_name, _, _ in CLI_OVERRIDES}
    given = {k: v for k, v in given.items() if v is not None}
    if args.executor != "slurm":
        used = [o for o, f, _, _ in CLI_OVERRIDES if f in given]
        used += ["--slurm-profile"] * (args.slurm_profile is not None) + ["--retry-failed"] * args.retry_failed
        if used:
            raise UserError(f"{', '.join(used)} only apply to --executor slurm (got --executor {args.executor})")
        return None
    options = SlurmOptions(args.slurm_profile or DEFAULT_PROFILE, given, args.retry_failed)
    options.resources()  # a bad profile or value fails here, before the plan is measured or data is read
    return options
