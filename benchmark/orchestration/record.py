"""The record of a finished run: what the worker writes (results/runs/<run_id>.json) and the report
reads. A file that does not parse into a record of its id is no record."""
from __future__ import annotations

import functools
import math
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmark.spec import RunSpec


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    spec: RunSpec
    dataset_label: str  # the papers' label of the dataset, e.g. "ciFAIR-10"
    method_label: str
    metrics: dict[str, float]  # accuracy, balanced_accuracy, top5_accuracy (more than 5 classes): percent
    curve: dict[str, list] = field(default_factory=dict)  # train_loss per epoch, test_accuracy [epoch, %]
    recipe: dict[str, Any] = field(default_factory=dict)
    hparams: dict[str, Any] = field(default_factory=dict)  # every hyperparameter, resolved
    stages: list[dict[str, Any]] = field(default_factory=list)  # the records of the stages it used
    timing: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    subset: str = ""  # the hash of its training subset's file list (benchmark.data.subsets)
    dataset_fingerprint: str = ""  # of a folder's contents when it trained (benchmark.data.folder_index)

    @property
    def accuracy(self) -> float:
        return self.metrics["accuracy"]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "spec": self.spec.to_dict()}

    @classmethod
    def from_json(cls, payload: Any, run_id: str) -> RunRecord | None:
        """The record in `payload` if it is one of run `run_id`, else None."""
        try:
            spec = RunSpec.from_dict(payload["spec"])
            if payload["run_id"] != run_id or spec.id != run_id:
                return None
            metrics = {str(k): float(v) for k, v in payload["metrics"].items()}
            if not (all(math.isfinite(v) for v in metrics.values()) and 0 <= metrics["accuracy"] <= 100):
                return None  # NaN or inf would be the best cell of its column and break the figures
            fields = {k: payload[k] for k in ("curve", "recipe", "hparams", "timing", "environment") if k in payload}
            if not all(isinstance(v, dict) for v in fields.values()):
                return None
            return cls(run_id, spec, str(payload.get("dataset_label", spec.dataset)),
                       str(payload.get("method_label", spec.method)), metrics, **fields,
                       stages=list(payload.get("stages") or []), subset=str(payload.get("subset", "")),
                       dataset_fingerprint=str(payload.get("dataset_fingerprint", "")))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """Versions, host and git commit of this process, for every record."""
    import torch
    import torchvision
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "host": platform.node(), "commit": commit}
