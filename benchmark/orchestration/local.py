"""The local launchers, through submitit: `debug` runs every task in this process, `local` in
parallel local processes. Finished tasks are skipped; the waves of the plan (stages level by level,
then the runs) run in order, and within a wave tasks are dealt to workers so that their estimated
costs are balanced. `Feedback` shows what is happening."""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from benchmark.orchestration.claims import leave_claimed
from benchmark.orchestration.cost import deal
from benchmark.orchestration.job_end import SUCCESS, log_tail, read_end_note, read_passed_note
from benchmark.orchestration.plan import Plan
from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import RunTask, Task
from benchmark.orchestration.worker import JobOptions, run_batch, run_job
from benchmark.stored import printable

WEEK_MINUTES = 7 * 24 * 60
POLL_S = 0.5
STOP_WAIT_S = 30  # how long an interrupted launch waits for its workers to end


@dataclass
class Outcome:
    skipped: int = 0
    stages_trained: int = 0
    done: list[RunTask] = field(default_factory=list)
    failed: list[Task] = field(default_factory=list)
    left: list[RunTask] = field(default_factory=list)  # runs another process trained or is training


def default_workers() -> int:
    import torch
    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return max(1, min(os.cpu_count() or 1, 8))


def is_finished(store: Store, task: Task) -> bool:
    return task.done(store) or store.failure_path(task.id).exists()


class Feedback:
    """What the user sees while a launch trains: a bar of finished tasks with the running ones beside
    it (on a terminal), and a line for every task that starts, finishes or fails (on a terminal
    above the bar; elsewhere, e.g. in a log file, these lines alone). A finished task is announced
    once one of the launch's jobs has passed it (`passed`: trained or failed; `left`: left to
    another process, which trained it or is training it): another process's record can appear
    before the job that leaves the task to it gets there."""

    def __init__(self, store: Store, tasks: list[Task], enabled: bool, stream: IO[str] | None = None):
        self.store, self.tasks, self.enabled, self.stream = store, tasks, enabled, stream or sys.stderr
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.passed: set[str] = set()
        self.left: set[str] = set()
        self.bar = None
        if enabled and self.stream.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=len(tasks), unit="task", file=self.stream, dynamic_ncols=True,
                            bar_format="{n}/{total} tasks |{bar}| {elapsed} {postfix}")

    def say(self, line: str, always: bool = False) -> None:
        """Show a line; `always`: even when progress output is off (--quiet)."""
        if not (self.enabled or always):
            return
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def poll(self, settled: bool = False) -> None:
        """Announce what started and finished since the last poll; `settled`: the jobs have ended, so
        every finished task is announced (a job that died wrote no note of what it passed)."""
        running = []
        for task in self.tasks:
            if task.id in self.finished:
                continue
            if (settled or task.id in self.passed or task.id in self.left) and is_finished(self.store, task):
                self.finished.add(task.id)
                self.say(f"[{len(self.finished)}/{len(self.tasks)}] {self.ending(task)}")
            elif task.id in self.left:
                continue
            elif self.store.progress_path(task.id).exists():
                running.append(task)
                if task.id not in self.started:
                    self.started.add(task.id)
                    if self.bar is None:
                        self.say(f"started {task.what}: {task.describe()}")
        if self.bar is not None:
            self.bar.n = len(self.finished)
            self.bar.set_postfix_str("running: " + "; ".join(self.running(t) for t in running) if running else "",
                                     refresh=False)
            self.bar.refresh()

    def running(self, task: Task) -> str:
        epoch, epochs = self.store.progress(task.id)
        return f"{task.describe()} (epoch {epoch}/{epochs})" if epochs > 1 else task.describe()

    def ending(self, task: Task) -> str:
        if task.id in self.left:
            done = f", which finished it: {task.result(self.store)}" if task.done(self.store) else ""
            return f"{task.what} left to another process: {task.describe()}{done}"
        if task.done(self.store):
            return f"finished {task.what}: {task.describe()}: {task.result(self.store)}"
        failure = self.store.load_failure(task.id) or {}
        return f"FAILED {task.what}: {task.describe()}: {printable(failure.get('error', 'no result written'))}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def opening(plan: Plan, store: Store) -> str:
    """What a launch is about to do: how much is done, what resumes."""
    todo = plan.unfinished(store)
    resuming = sum(store.checkpoint_path(t.id).exists() for t in [*todo.runs, *todo.stages])
    stages_done = sum(s.done(store) for s in todo.stages)
    line = f"{len(plan.runs)} {plan.what}s: {len(plan.runs) - len(todo.runs)} already done, {len(todo.runs)} to train"
    if todo.stages:
        line += f"; {len(todo.stages)} stages needed: {stages_done} already trained, {len(todo.stages) - stages_done} to train"
    if resuming:
        line += f"; resuming {resuming} of them from their checkpoints"
    return line


def launch(plan: Plan, executor: str, store: Store, data_dir: Path, workers: int | None = None,
           options: JobOptions = JobOptions(), progress: bool = True) -> Outcome:
    """Train every unfinished run of the plan and the stages it needs, in this process (`debug`) or
    in local processes (`local`)."""
    waves = plan.waves(store)
    pending = plan.unfinished(store).runs
    outcome = Outcome(skipped=len(plan.runs) - len(pending))
    feedback = Feedback(store, [t for wave in waves for t in wave], progress)
    feedback.say(opening(plan, store))
    for task in feedback.tasks:
        store.failure_path(task.id).unlink(missing_ok=True)
    left = feedback.left  # tasks another process is training, and the tasks that need them
    try:
        for wave in waves:
            wave = leave_claimed(wave, store.root, left, lambda line: feedback.say(line, always=True))
            if not wave:
                continue
            if executor == "debug":
                run_in_process(wave, store, data_dir, options, feedback)
            else:
                run_local(wave, store, data_dir, workers or default_workers(), options, feedback)
    finally:
        feedback.close()
    stages = [t for wave in (waves[:-1] if pending else waves) for t in wave if t.id not in left]
    outcome.stages_trained = sum(s.done(store) for s in stages)
    outcome.failed = [s for s in stages if not s.done(store)]
    for run in pending:
        (outcome.left if run.id in left else outcome.done if run.done(store) else outcome.failed).append(run)
    return outcome


def run_in_process(wave: list[Task], store: Store, data_dir: Path, options: JobOptions, feedback: Feedback) -> None:
    """The tasks of the wave in this process, `feedback` told what each one passed."""
    import submitit
    executor = submitit.DebugExecutor(folder=store.jobs_dir / "debug")
    for task in wave:
        result = executor.submit(run_batch, [task], str(store.root), str(data_dir), options).result()
        feedback.passed |= {*result["done"], *result["failed"]}
        feedback.left |= set(result["skipped"])
        feedback.poll()


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Point this process's stdout and stderr at `log` while worker processes are started: they
    inherit it, so what they print (e.g. their tracebacks when Ctrl-C reaches them) goes there and
    not to the terminal."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "a") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def stop_workers(jobs: list) -> None:
    """Each job's controller is asked to stop its task (SIGINT); whatever of a job is still alive
    after STOP_WAIT_S is killed (a controller that Ctrl-C already reached can die before it kills
    its task), and this returns once they are all gone."""
    import signal
    processes = {pid for job in jobs for pid in (int(job.job_id), *descendants(int(job.job_id)))}
    for job in jobs:
        job.cancel(check=False)

    def running() -> bool:
        for job in jobs:
            job.done()  # reaps a controller that has ended
        return any(alive(pid) for pid in processes)

    deadline = time.monotonic() + STOP_WAIT_S
    while running() and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    while running():
        time.sleep(0.1)


def descendants(pid: int) -> set[int]:
    """The processes below `pid` (Linux's /proc; none elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie, waiting to be reaped, has stopped: Linux's /proc tells)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def run_local(wave: list[Task], store: Store, data_dir: Path, workers: int, options: JobOptions,
              feedback: Feedback) -> None:
    """The tasks of the wave in local processes; `feedback` learns what they passed as they pass it
    (the jobs' notes of the tasks they passed)."""
    import submitit
    batches = deal(wave, min(workers, len(wave)))
    executor = submitit.LocalExecutor(folder=store.jobs_dir / "local")
    executor.update_parameters(timeout_min=WEEK_MINUTES)
    with output_to(store.jobs_dir / "local" / "workers.log"):
        jobs = [executor.submit(run_job, b, str(store.root), str(data_dir), options) for b in batches]
    try:
        while not all(job.done() for job in jobs):
            for job in jobs:
                passed = read_passed_note(job.paths.folder, job.job_id)
                feedback.passed |= passed["done"] | passed["failed"]
                feedback.left |= passed["skipped"]
            feedback.poll()
            time.sleep(POLL_S)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (the CLI turns it into one): stop every worker
        stop_workers(jobs)
        raise
    for job, batch in zip(jobs, batches):
        note = read_end_note(job.paths.folder, job.job_id)  # the job's own JSON, never its result pickle
        for line in note["warnings"] if note else []:  # e.g. a checkpoint it moved aside: not only in its log
            feedback.say(f"warning: {printable(line)}", always=True)
        if note is not None and note["outcome"] == SUCCESS:
            feedback.left |= set(note["skipped"])
            continue
        last_line = note["error"] if note else (log_tail(job.paths.stderr) or ["no end note and no log"])[-1]
        for task in batch:
            if not is_finished(store, task):
                store.write_failure(task.id, task.to_dict(), f"job {job.job_id} died: {last_line}", str(job.paths.stderr))
    feedback.poll(settled=True)
