"""The results store: one JSON record per finished run, written atomically.

Layout under the results directory:
  runs/<run_id>.json         finished runs (a run is done when its record exists and validates)
  failed/<run_id>.json       the last error of a run that failed, with its log path
  checkpoints/<run_id>.pt    periodic checkpoints of unfinished runs (removed when the record is written)
  artifacts/<stage_id>.pt    trained stages (generators), shared by every run that needs them
  artifacts/<stage_id>.json  the stage's record (spec, timing)
  progress/<id>              epoch counter of runs and stages in flight, for progress bars
  jobs/                      submitit job folders and logs
  slurm/<id>.json            the SLURM job a run or stage was last submitted to (--executor slurm)
  datasets/<hash>.json       the contents of a folder dataset the results were trained on (its manifest)
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from benchmark.atomic import write_json_atomic
from benchmark.orchestration.record import RunRecord


def default_results_dir() -> Path:
    return Path(os.environ.get("BENCHMARK_RESULTS_DIR", "results"))


def _read_json(path: Path) -> Any:
    """The parsed file; None if it is missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)

    def record_path(self, run_id: str) -> Path:
        return self.root / "runs" / f"{run_id}.json"

    def failure_path(self, run_id: str) -> Path:
        return self.root / "failed" / f"{run_id}.json"

    def checkpoint_path(self, run_id: str) -> Path:
        path = self.root / "checkpoints" / f"{run_id}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def progress_path(self, run_id: str) -> Path:
        return self.root / "progress" / run_id

    def artifact_path(self, stage_id: str) -> Path:
        path = self.root / "artifacts" / f"{stage_id}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def stage_record(self, stage_id: str) -> dict[str, Any] | None:
        return _read_json(self.root / "artifacts" / f"{stage_id}.json")

    def stage_done(self, stage_id: str) -> bool:
        return self.stage_record(stage_id) is not None and self.artifact_path(stage_id).exists()

    def write_stage_record(self, stage_id: str, record: dict[str, Any]) -> None:
        write_json_atomic(self.root / "artifacts" / f"{stage_id}.json", record)
        for leftover in (self.checkpoint_path(stage_id), self.failure_path(stage_id), self.progress_path(stage_id)):
            leftover.unlink(missing_ok=True)

    def manifest_path(self, dataset: str) -> Path:
        """The manifest of a folder dataset (benchmark.orchestration.folders)."""
        return self.root / "datasets" / f"{hashlib.sha1(dataset.encode()).hexdigest()[:16]}.json"

    def manifest(self, dataset: str) -> dict[str, Any] | None:
        manifest = _read_json(self.manifest_path(dataset))
        return manifest if isinstance(manifest, dict) else None

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
        return RunRecord.from_json(_read_json(self.record_path(run_id)), run_id)

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
        return _read_json(self.failure_path(run_id))

    def submission_path(self, task_id: str) -> Path:
        return self.submissions_dir / f"{task_id}.json"

    def write_submission(self, task_id: str, payload: dict[str, Any]) -> None:
        write_json_atomic(self.submission_path(task_id), payload)

    def load_submission(self, task_id: str) -> dict[str, Any] | None:
        return _read_json(self.submission_path(task_id))

    def write_progress(self, run_id: str, epoch: int, epochs: int) -> None:
        path = self.progress_path(run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{epoch} {epochs}")

    def progress(self, task_id: str) -> tuple[int, int]:
        """(epochs done, epochs) of a task in flight; (0, 1) when unknown."""
        try:
            epoch, epochs = self.progress_path(task_id).read_text().split()
            return int(epoch), int(epochs)
        except (OSError, ValueError):
            return 0, 1

    def records(self) -> Iterable[RunRecord]:
        for path in sorted((self.root / "runs").glob("*.json")):
            record = self.load_record(path.stem)
            if record is not None:
                yield record
