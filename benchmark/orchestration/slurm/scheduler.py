"""The scheduler: what squeue, sacct and the jobs' own files say about the jobs."""
from __future__ import annotations

import getpass
import re
import subprocess
from typing import Iterable

from submitit.core.utils import JobPaths

from benchmark.errors import UserError
from benchmark.orchestration.job_end import ERROR, log_tail, read_end_note
from benchmark.orchestration.store import Store, valid_job_id

COMMAND_TIMEOUT_S = 60


class SchedulerError(RuntimeError):
    """squeue / sbatch could not be run or answered with an error."""


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
    if not valid_job_id(job_id):  # ids come from files of the results directory: never a path
        raise ValueError(f"not a SLURM job id: {job_id!r}")
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


def ended_job(store: Store, job_id: str, state: str) -> tuple[str, str, list[str]]:
    """(state, last error line, tasks it left to other processes) of a job that left the queue.
    `state` is the scheduler's final state if known (squeue within MinJobAge, or sacct), else "" and
    it is read from the job's end note and SLURM's lines in its log (never from submitit's result
    pickle: see benchmark.orchestration.job_end)."""
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
    note = read_end_note(store.slurm_jobs_dir, job_id)
    if note is not None and note["outcome"] == ERROR:
        error = note["error"] or "error"
        state = state or "FAILED"
    elif note is not None:
        state = state or "COMPLETED"
    if not state and event is not None:
        state = event[1]
    if not error and event is not None:
        error = re.sub(r"^slurmstepd(-\S+)?: error: ", "", event[0])
    if not error:
        error = lines[-1] if lines else "no log"
    return state or "UNKNOWN", error, note["skipped"] if note else []


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

