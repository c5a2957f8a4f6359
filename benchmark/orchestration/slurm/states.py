"""Task states: the store and the scheduler together. A task is done (its result is in the store),
running, pending (queued, with SLURM's reason), failed (with its error and log) or missing
(never submitted, or its job was cancelled or interrupted: resubmitted by the next `run`)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Collection

from benchmark.orchestration.slurm.scheduler import (INTERRUPTED_STATES, PENDING_STATES, RUNNING_STATES, Scheduler,
                                                     ended_job)
from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import Task


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
        tid = task.id
        if tid in done or task.done(store):
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
            state, error, skipped = ended_job(store, job_id, final[job_id] or acct[job_id])
            if state in INTERRUPTED_STATES:
                ending = TaskState("missing", job_id, f"job {job_id} {state.lower()}")
            elif state == "COMPLETED":
                ending = TaskState("failed", job_id, f"job {job_id} completed without writing a record")
            else:
                ending = TaskState("failed", job_id, f"job {job_id} {state}: {error}")
            for tid, log in tasks_of_job:
                left = TaskState("missing", job_id, f"job {job_id} left it to another process training it")
                states[tid] = replace(left if tid in skipped else ending, log=log)
    return states

