"""How a submitted job ended, in its own words: a small JSON note beside its logs
(`<job id>_end.json`: "outcome" success or error, the error's last line, the tasks it left to other
processes, the warnings it gave), written by the job and read by `run` and `status`; and while it
runs, the tasks it has passed so far (`<job id>_passed.json`: trained, failed, left to other
processes), for `run`'s lines.
They never read submitit's result pickle: unpickling a file of a (shared) results directory would
run whatever code it holds."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmark.atomic import write_json_atomic
from benchmark.orchestration.store import valid_job_id
from benchmark.stored import NOTE_BYTES, fields, read_json, read_tail

SUCCESS, ERROR = "success", "error"


def end_note_path(folder: Path, job_id: str) -> Path:
    if not valid_job_id(job_id):
        raise ValueError(f"not a job id: {job_id!r}")
    return Path(folder) / f"{job_id}_end.json"


def write_end_note(path: Path, outcome: str, error: str = "", skipped: list[str] | None = None,
                   warnings: list[str] | None = None) -> None:
    """The note; a job that cannot write it (a full disk) says so in its log and goes on."""
    try:
        write_json_atomic(path, {"outcome": outcome, "error": error, "skipped": skipped or [],
                                 "warnings": warnings or []})
    except OSError as exc:
        print(f"could not write the job's end note {path}: {exc}", file=sys.stderr)


def _note(payload: Any) -> dict[str, Any] | None:
    note = fields(payload, {"outcome": str, "error": str, "skipped": list})
    if note is None or note["outcome"] not in (SUCCESS, ERROR):
        return None
    warnings = note.setdefault("warnings", [])  # absent from the notes of older versions
    if not isinstance(warnings, list) or not all(isinstance(s, str) for s in [*note["skipped"], *warnings]):
        return None
    return note


PASSED = ("done", "failed", "skipped")  # trained, failed, left to another process


def passed_note_path(folder: Path, job_id: str) -> Path:
    return end_note_path(folder, job_id).with_name(f"{job_id}_passed.json")


def write_passed_note(path: Path, passed: dict[str, list[str]]) -> None:
    try:
        write_json_atomic(path, passed)
    except OSError as exc:  # the launcher then learns it from the end note and the store
        print(f"could not write the job's note of the tasks it passed {path}: {exc}", file=sys.stderr)


def read_passed_note(folder: Path, job_id: str) -> dict[str, set[str]]:
    """The tasks the job has passed so far, by how (PASSED); empty sets before the first."""
    def valid(note: Any) -> dict[str, list[str]] | None:
        note = fields(note, dict.fromkeys(PASSED, list))
        return note if note is not None and all(isinstance(i, str) for ids in note.values() for i in ids) else None
    found = read_json(passed_note_path(folder, job_id), valid, "job's note of the tasks it passed", NOTE_BYTES)
    return {how: set((found or {}).get(how, [])) for how in PASSED}


def read_end_note(folder: Path, job_id: str) -> dict[str, Any] | None:
    """The job's note; None if it wrote none (it is running, or was killed) or the id is no job id."""
    if not valid_job_id(job_id):
        return None
    return read_json(end_note_path(folder, job_id), _note, "job end note", NOTE_BYTES)


def log_tail(path: Path) -> list[str]:
    """The non-empty lines of the end of a log; none if it is missing or no regular file (a link, a FIFO)."""
    try:
        tail = read_tail(path)
    except OSError:
        return []
    return [ln.strip() for ln in tail.decode(errors="replace").splitlines() if ln.strip()]
