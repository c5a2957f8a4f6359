"""The results store: one JSON record per finished run, written atomically.

Layout under the results directory:
  runs/<run_id>.json         finished runs (a run is done when its record exists and validates)
  failed/<run_id>.json       the last error of a run that failed, with its log path
  checkpoints/<run_id>.pt    periodic checkpoints of unfinished runs (removed when the record is written)
  artifacts/<stage_id>.pt    trained stages (generators), shared by every run that needs them
  artifacts/<stage_id>.json  the stage's record (spec, timing)
  progress/<id>              epoch counter of runs and stages in flight, for progress bars
  claims/<id>.json           the process training a run or stage now (benchmark.orchestration.claims)
  jobs/                      submitit job folders and logs, and each job's end note (<job id>_end.json)
  slurm/<id>.json            the SLURM job a run or stage was last submitted to (--executor slurm)
  datasets/<hash>.json       the contents of a folder dataset the results were trained on (its manifest)
  tune/studies/<study_id>.journal  a search's Optuna study (its journal file; the sampler's memory)
  tune/trials/<trial_id>.json      a finished trial of `tune`: its values, fold accuracies, state
  tune/choices/<run_id>.json       the values `tune` chose for a run, and the tuned run that uses them

Every file read back is validated (benchmark.stored): an invalid one is treated as absent and moved
aside with a warning. Nothing here is unpickled: records and notes are JSON, and checkpoints and
artifacts are loaded with torch's weights-only loader.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any, Callable, Iterable

from benchmark.atomic import write_json_atomic, write_text_atomic
from benchmark.errors import UserError
from benchmark.orchestration.record import RunRecord
from benchmark.stored import (MANIFEST_BYTES, NOTE_BYTES, PROGRESS_BYTES, NotRegular, fields, read_json,
                              read_regular, set_aside)
from benchmark.spec import RunSpec, StageSpec, TrialSpec

JOB_ID = re.compile(r"\d+(_\d+)?")  # a SLURM job (123) or array element (123_4), a local job (its pid)
SHA1 = re.compile(r"[0-9a-f]{40}")


def default_results_dir() -> Path:
    """$BENCHMARK_RESULTS_DIR if set, else ./results; set but empty is an error, not the current directory."""
    configured = os.environ.get("BENCHMARK_RESULTS_DIR")
    if configured is None:
        return Path("results")
    if not configured.strip():
        raise UserError("$BENCHMARK_RESULTS_DIR is set but empty; unset it (./results) or give a directory")
    return Path(configured).expanduser()


def valid_job_id(value: Any) -> bool:
    return isinstance(value, str) and JOB_ID.fullmatch(value) is not None


def _failure(payload: Any) -> dict[str, Any] | None:
    note = fields(payload, {"error": str})
    return note if note is not None and isinstance(note.get("log"), (str, type(None))) else None


def _submission(payload: Any) -> dict[str, Any] | None:
    note = fields(payload, {"job_id": str})
    if note is None or not valid_job_id(note["job_id"]) or not isinstance(note.get("log"), (str, type(None))):
        return None
    position = note.get("position", 0)
    return note if isinstance(position, int) and not isinstance(position, bool) and position >= 0 else None


def _manifest(dataset: str):
    def parse(payload: Any) -> dict[str, Any] | None:
        manifest = fields(payload, {"dataset": str, "contents": dict})
        if manifest is None or manifest["dataset"] != dataset:
            return None
        files = manifest["contents"].items()
        return manifest if all(isinstance(v, str) and SHA1.fullmatch(v) for _, v in files) else None
    return parse


def _stage_record(stage_id: str):
    def parse(payload: Any) -> dict[str, Any] | None:
        record = fields(payload, {"stage": dict, "summary": dict})
        return record if record is not None and StageSpec.from_dict(record["stage"]).id == stage_id else None
    return parse


TRIAL_STATES = ("complete", "pruned")


def _numbers(payload: Any) -> bool:
    return isinstance(payload, dict) and all(isinstance(k, str) and isinstance(v, (int, float))
                                             and not isinstance(v, bool) for k, v in payload.items())


def _trial_record(trial_id: str):
    def parse(payload: Any) -> dict[str, Any] | None:
        record = fields(payload, {"trial": dict, "state": str, "values": dict, "folds": list, "number": int})
        if record is None or TrialSpec.from_dict(record["trial"]).id != trial_id or record["state"] not in TRIAL_STATES:
            return None
        value = record.get("value")
        ok = (_numbers(record["values"]) and all(isinstance(a, (int, float)) for a in record["folds"])
              and (isinstance(value, (int, float)) if record["state"] == "complete" else value is None))
        return record if ok else None
    return parse


def _choice(run_id: str):
    def parse(payload: Any) -> dict[str, Any] | None:
        choice = fields(payload, {"run": dict, "tuned": dict, "mode": str, "study": str, "trials": int,
                                  "values": dict, "defaults": dict, "validation_accuracy": float})
        if choice is None or RunSpec.from_dict(choice["run"]).id != run_id:
            return None
        RunSpec.from_dict(choice["tuned"])  # a tuned spec that does not parse: no choice
        return choice if _numbers(choice["values"]) and _numbers(choice["defaults"]) else None
    return parse


_loadable: set[tuple[Path, int, int]] = set()  # artifacts found loadable in this process: (path, mtime, size)

# The results directory's own folders: one planted as a link would send what is written there (and
# read from there) to another place, so a store with such a folder is refused.
FOLDERS = ("runs", "failed", "checkpoints", "artifacts", "progress", "claims", "slurm", "datasets", "jobs", "jobs/local",
           "jobs/slurm", "jobs/debug", "tune", "tune/studies", "tune/trials", "tune/choices", "analysis", "analysis/fid",
           "analysis/fid/features", "analysis/cse")


def check_own_folders(root: Path) -> None:
    for name in FOLDERS:
        path = root / name
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not stat.S_ISDIR(mode):
            what = "a symbolic link" if stat.S_ISLNK(mode) else "not a folder"
            raise UserError(f"{path} is {what}: the results directory's own folders must be folders in it (move it "
                            "away; to keep results elsewhere, give that place as --results-dir)")


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)
        check_own_folders(self.root)

    def record_path(self, run_id: str) -> Path:
        return self.root / "runs" / f"{run_id}.json"

    def failure_path(self, run_id: str) -> Path:
        return self.root / "failed" / f"{run_id}.json"

    def checkpoint_path(self, run_id: str) -> Path:
        return self.root / "checkpoints" / f"{run_id}.pt"

    def progress_path(self, run_id: str) -> Path:
        return self.root / "progress" / run_id

    def artifact_path(self, stage_id: str) -> Path:
        return self.root / "artifacts" / f"{stage_id}.pt"

    def stage_record(self, stage_id: str) -> dict[str, Any] | None:
        return read_json(self.root / "artifacts" / f"{stage_id}.json", _stage_record(stage_id), "stage record")

    def stage_done(self, stage_id: str, problem: Callable[[Any], str]) -> bool:
        """A valid record and an artifact that loads and that `problem` finds nothing wrong with (its
        stage kind's check): a stage whose artifact does not is not done."""
        return self.stage_record(stage_id) is not None and self.artifact_loads(stage_id, problem)

    def artifact_loads(self, stage_id: str, problem: Callable[[Any], str]) -> bool:
        """Whether the stage's artifact loads with torch's weights-only loader (memory-mapped: its
        structure is read, not its tensors) into what its kind writes; one that does not is moved aside."""
        path = self.artifact_path(stage_id)
        try:
            st = path.lstat()
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode):  # torch would follow a link, block on a FIFO, read a device
            set_aside(path, "stage artifact", "not a regular file; the stage is trained again")
            return False
        key = (path.resolve(), st.st_mtime_ns, st.st_size)
        if key in _loadable:
            return True
        import torch
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as exc:  # noqa: BLE001  a damaged file fails anywhere in the loader
            set_aside(path, "stage artifact", f"does not load: {type(exc).__name__}; the stage is trained again")
            return False
        wrong = problem(state)
        if wrong:
            set_aside(path, "stage artifact", f"{wrong}; the stage is trained again")
            return False
        _loadable.add(key)
        return True

    def write_stage_record(self, stage_id: str, record: dict[str, Any]) -> None:
        write_json_atomic(self.root / "artifacts" / f"{stage_id}.json", record)
        for leftover in (self.checkpoint_path(stage_id), self.failure_path(stage_id), self.progress_path(stage_id)):
            leftover.unlink(missing_ok=True)

    def manifest_path(self, dataset: str) -> Path:
        """The manifest of a folder dataset (benchmark.orchestration.folders)."""
        return self.root / "datasets" / f"{hashlib.sha1(dataset.encode()).hexdigest()[:16]}.json"

    def manifest(self, dataset: str) -> dict[str, Any] | None:
        """{"dataset": its name, "contents": {path: SHA-1}} (benchmark.orchestration.folders)."""
        return read_json(self.manifest_path(dataset), _manifest(dataset), "dataset manifest", MANIFEST_BYTES)

    def write_manifest(self, dataset: str, manifest: dict[str, Any]) -> None:
        write_json_atomic(self.manifest_path(dataset), manifest)

    def stage_records(self) -> Iterable[dict[str, Any]]:
        for path in sorted((self.root / "artifacts").glob("*.json")):
            record = self.stage_record(path.stem)
            if isinstance(record, dict):
                yield record

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def slurm_jobs_dir(self) -> Path:
        """submitit's folder of SLURM jobs: their logs and result files."""
        return self.jobs_dir / "slurm"

    @property
    def submissions_dir(self) -> Path:
        """The SLURM job each task was last submitted to; exists once a store has used SLURM."""
        return self.root / "slurm"

    def load_record(self, run_id: str) -> RunRecord | None:
        return read_json(self.record_path(run_id), lambda payload: RunRecord.from_json(payload, run_id), "run record")

    def is_done(self, run_id: str) -> bool:
        return self.load_record(run_id) is not None

    def write_record(self, record: RunRecord) -> None:
        run_id = record.run_id
        write_json_atomic(self.record_path(run_id), record.to_json())
        for leftover in (self.checkpoint_path(run_id), self.failure_path(run_id), self.progress_path(run_id)):
            leftover.unlink(missing_ok=True)

    def write_failure(self, task_id: str, spec: dict[str, Any], error: str, log: str | None) -> None:
        write_json_atomic(self.failure_path(task_id), {"spec": spec, "error": error, "log": log})

    def load_failure(self, run_id: str) -> dict[str, Any] | None:
        """The failure note: "error" (its last line) and "log" (a path or None)."""
        return read_json(self.failure_path(run_id), _failure, "failure note", NOTE_BYTES)

    def submission_path(self, task_id: str) -> Path:
        return self.submissions_dir / f"{task_id}.json"

    def write_submission(self, task_id: str, payload: dict[str, Any]) -> None:
        write_json_atomic(self.submission_path(task_id), payload)

    def load_submission(self, task_id: str) -> dict[str, Any] | None:
        """The submission note: "job_id" (checked: digits and an array index, never a path),
        "position" in its job, "log", and what `submit` noted besides."""
        return read_json(self.submission_path(task_id), _submission, "SLURM submission note", NOTE_BYTES)

    def write_progress(self, run_id: str, epoch: int, epochs: int) -> None:
        write_text_atomic(self.progress_path(run_id), f"{epoch} {epochs}")

    def progress(self, task_id: str) -> tuple[int, int]:
        """(epochs done, epochs) of a task in flight; (0, 1) when unknown (an invalid file is set aside)."""
        path = self.progress_path(task_id)
        try:
            text = read_regular(path, PROGRESS_BYTES).decode(errors="replace")
        except NotRegular as exc:
            set_aside(path, "progress file", exc.strerror)
            return 0, 1
        except OSError:
            return 0, 1
        parts = text.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            epoch, epochs = map(int, parts)
            if 0 < epochs and epoch <= epochs:
                return epoch, epochs
        set_aside(path, "progress file", "not '<epoch> <epochs>'")
        return 0, 1

    def study_path(self, study_id: str) -> Path:
        return self.root / "tune" / "studies" / f"{study_id}.journal"

    def trial_record_path(self, trial_id: str) -> Path:
        return self.root / "tune" / "trials" / f"{trial_id}.json"

    def trial_record(self, trial_id: str) -> dict[str, Any] | None:
        """A finished trial: "trial" (its spec), "number" (in its study), "state" (complete or
        pruned), "values" (what it tried), "folds" (the accuracy of each validation fold it
        trained), "value" (their mean; None when pruned)."""
        return read_json(self.trial_record_path(trial_id), _trial_record(trial_id), "trial record")

    def write_trial_record(self, trial_id: str, record: dict[str, Any]) -> None:
        write_json_atomic(self.trial_record_path(trial_id), record)
        for leftover in (self.failure_path(trial_id), self.progress_path(trial_id)):
            leftover.unlink(missing_ok=True)

    def choice_path(self, run_id: str) -> Path:
        return self.root / "tune" / "choices" / f"{run_id}.json"

    def choice(self, run_id: str) -> dict[str, Any] | None:
        """What `tune` chose for a run (benchmark.orchestration.tuning.choose)."""
        return read_json(self.choice_path(run_id), _choice(run_id), "tune choice")

    def write_choice(self, run_id: str, choice: dict[str, Any]) -> None:
        write_json_atomic(self.choice_path(run_id), choice)

    def records(self) -> Iterable[RunRecord]:
        for path in sorted((self.root / "runs").glob("*.json")):
            record = self.load_record(path.stem)
            if record is not None:
                yield record
