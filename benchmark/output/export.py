"""`export`: every record as one long-form CSV row (for pandas: `pd.read_csv`), its spec, labels,
hyperparameters, metrics, timing and environment. Only reads the store."""
from __future__ import annotations

import csv
import json
from typing import IO, Iterable

from benchmark.orchestration.record import RunRecord

COLUMNS = ["run_id", "method", "method_label", "dataset", "dataset_label", "shots", "seed", "subset",
           "dataset_fingerprint", "augment", "profile", "overrides", "recipe", "hparams", "accuracy", "balanced_accuracy", "top5_accuracy", "train_seconds", "steps",
           "resumed_from_epoch", "device", "threads", "compiled", "torch", "python", "host", "commit"]


def row(record: RunRecord) -> dict[str, object]:
    spec = record.spec
    return {"run_id": record.run_id, "method": spec.method, "method_label": record.method_label,
            "dataset": spec.dataset, "dataset_label": record.dataset_label, "shots": spec.shots, "seed": spec.seed,
            "subset": record.subset, "dataset_fingerprint": record.dataset_fingerprint, "augment": spec.augment,
            "profile": spec.profile, "overrides": json.dumps(dict(spec.overrides)), "recipe": json.dumps(dict(spec.recipe)),
            "hparams": json.dumps(record.hparams, sort_keys=True), **{k: record.metrics.get(k) for k in
                                                                        ("accuracy", "balanced_accuracy", "top5_accuracy")},
            **{k: record.timing.get(k) for k in ("train_seconds", "steps", "resumed_from_epoch")},
            **{k: record.environment.get(k) for k in ("device", "threads", "compiled", "torch", "python", "host",
                                                      "commit")}}


def write_csv(records: Iterable[RunRecord], out: IO[str]) -> int:
    """The records as CSV rows under a header; how many."""
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for record in records:
        writer.writerow(row(record))
        n += 1
    return n
