"""Claims: which process is training a run or stage now, so that two launches on one results
directory (two identical `run` commands, a local `run` beside SLURM jobs) never train the same task
twice. A task is trained only under its claim, `claims/<id>.json`, made by a hard link that fails
when the name exists (atomic on local filesystems and on NFS) and holding the host, the pid, the
job (if any) and a token; its modification time is the heartbeat, refreshed by a thread every
HEARTBEAT_S.

A claim is stale, and the next process that wants the task takes it over, when its process is dead
(same host), when it belongs to the job asking (a requeued SLURM job resumes its own task), or when
its heartbeat is older than STALE_S (a process on another host, or a hung one)."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from benchmark.atomic import create_temporary
from benchmark.stored import NOTE_BYTES, fields, read_json

if TYPE_CHECKING:
    from benchmark.orchestration.tasks import Task

HEARTBEAT_S = 15.0
STALE_S = 120.0


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    job: str | None  # the SLURM job of the holder, None outside SLURM
    token: str

    def describe(self) -> str:
        job = f", job {self.job}" if self.job else ""
        return f"pid {self.pid} on {self.host}{job}"


class Busy(Exception):
    """The task, or a stage it needs, is being trained by another process."""

    def __init__(self, what: str, holder: Holder):
        super().__init__(f"{what} is being trained by {holder.describe()}")
        self.holder = holder


def current_job() -> str | None:
    """The SLURM job (or array element) running this process; None outside SLURM."""
    import submitit
    try:
        env = submitit.JobEnvironment()
        return str(env.job_id) if env.cluster == "slurm" else None
    except (RuntimeError, KeyError):
        return None


def _holder(payload: Any) -> Holder | None:
    claim = fields(payload, {"host": str, "pid": int, "token": str})
    if claim is None or not isinstance(claim.get("job"), (str, type(None))) or claim["pid"] <= 0:
        return None  # pid 0 or -1 would ask os.kill about a process group or every process: "alive"
    return Holder(claim["host"], claim["pid"], claim.get("job"), claim["token"])


def claim_path(root: Path, task_id: str) -> Path:
    return Path(root) / "claims" / f"{task_id}.json"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # another user's process (or an absurd pid: not ours to judge)
    return True


def is_stale(path: Path, holder: Holder) -> bool:
    if holder.host == platform.node() and (holder.pid == os.getpid() or not pid_alive(holder.pid)):
        return True  # a dead process, or an earlier one that had this process's pid
    if holder.job is not None and holder.job == current_job() and holder.pid != os.getpid():
        return True
    try:
        return time.time() - path.stat().st_mtime > STALE_S
    except OSError:
        return True


def holder(root: Path, task_id: str) -> Holder | None:
    """The live process that holds the task's claim; None if there is none (or only a stale one)."""
    path = claim_path(root, task_id)
    found = read_json(path, _holder, "claim", NOTE_BYTES)
    return None if found is None or is_stale(path, found) else found


def _take_over(path: Path, stale: Holder) -> None:
    """Remove a stale claim; if another process replaced it by a fresh one meanwhile, put that back."""
    aside = path.with_name(f".{path.name}.{uuid.uuid4().hex}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    moved = read_json(aside, _holder, "claim", NOTE_BYTES)
    if moved is not None and moved.token != stale.token:
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    aside.unlink(missing_ok=True)


def _acquire(path: Path, mine: Holder) -> Holder | None:
    """Create the claim; returns None once it is ours, or the live holder that has it. The claim is
    written whole to a file of its own, then hard-linked to its name: the link fails if the name
    exists, so no reader ever sees half a claim."""
    f, mine_file = create_temporary(path)
    try:
        with f:
            f.write(json.dumps(asdict(mine)).encode())
        for _ in range(5):
            try:
                os.link(mine_file, path)
                return None
            except FileExistsError:
                found = read_json(path, _holder, "claim", NOTE_BYTES)  # an invalid claim is moved aside: try again
                if found is not None and not is_stale(path, found):
                    return found
                if found is not None:
                    _take_over(path, found)
        raise RuntimeError(f"could not claim {path}: other processes keep replacing it")
    finally:
        mine_file.unlink(missing_ok=True)


def _release(path: Path, mine: Holder) -> None:
    found = read_json(path, _holder, "claim", NOTE_BYTES)
    if found is not None and found.token == mine.token:
        path.unlink(missing_ok=True)


def _heartbeat(path: Path, mine: Holder, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        found = read_json(path, _holder, "claim", NOTE_BYTES)
        if found is None or found.token != mine.token:
            return  # taken over (this process was thought dead): nothing left to refresh
        with contextlib.suppress(OSError):
            os.utime(path)


@contextlib.contextmanager
def claimed(root: Path, task_id: str) -> Iterator[Holder | None]:
    """Hold the task's claim for the block, which gets None; when another live process holds it,
    the block gets that holder and nothing is claimed."""
    path = claim_path(root, task_id)
    mine = Holder(platform.node(), os.getpid(), current_job(), uuid.uuid4().hex)
    other = _acquire(path, mine)
    if other is not None:
        yield other
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(path, mine, stop), daemon=True, name=f"claim-{task_id}")
    beat.start()
    try:
        yield None
    finally:
        stop.set()
        _release(path, mine)


def leave_claimed(tasks: list[Task], root: Path, left: set[str], say: Callable[[str], None]) -> list[Task]:
    """The tasks a launch trains: the ones another live process is training, and the ones that need a
    task left to another, are added to `left`, and one line says so."""
    mine, holders = [], []
    for task in tasks:
        busy = holder(root, task.id)
        if busy is not None:
            holders.append(busy.describe())
        if busy is not None or any(s.id in left for s in task.requires):
            left.add(task.id)
        else:
            mine.append(task)
    if len(mine) < len(tasks):
        by = f" ({'; '.join(dict.fromkeys(holders))})" if holders else ""
        say(f"skipping {len(tasks) - len(mine)} {tasks[0].what}(s) that another process is training{by} or that "
            "need a stage it trains; run the same command again once it has finished")
    return mine
