"""Analysis results on disk: <results>/analysis/<kind>/<key>.json, one file per (dataset, shots,
seed, profile, K, ...) setting, one entry per image set. Written atomically; `report` reads them."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from benchmark.atomic import write_json_atomic
from benchmark.orchestration.store import Store
from benchmark.stored import fields, read_json


def analysis_dir(store: Store, kind: str) -> Path:
    return store.root / "analysis" / kind


def safe_key(*parts: Any) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.=-]+", "-", str(p)).strip("-") for p in parts)


NUMBER = (int, float)
# what `report` and the figures read of a result, and of each of its sets, by kind
FIELDS = {
    "fid": ({"dataset": str, "dataset_label": str, "shots": int, "seed": int, "profile": str, "k": int,
             "reference_size": int, "reference_pool": int, "weights": str, "sets": list},
            {"name": str, "label": str, "fid": NUMBER}),
    "cse": ({"dataset": str, "dataset_label": str, "shots": int, "seed": int, "k": int, "synsets": int, "root": str,
             "model": str, "weights": str, "sets": list},
            {"name": str, "label": str, "entropy_bits": NUMBER, "distinct": int}),
}


def load_result(path: Path) -> dict[str, Any] | None:
    """The result in `path` (its kind: the folder's name); None if missing, or invalid (set aside):
    among them a set whose figure is NaN or infinite."""
    top, per_set = FIELDS[path.parent.name]

    def valid_set(entry: Any) -> bool:
        return fields(entry, per_set) is not None and all(
            math.isfinite(entry[key]) for key, kind in per_set.items() if kind is NUMBER)

    def parse(payload: Any) -> dict[str, Any] | None:
        result = fields(payload, top)
        return result if result is not None and all(valid_set(s) for s in result["sets"]) else None

    return read_json(path, parse, f"{path.parent.name} result")


def save_result(store: Store, kind: str, key: str, result: dict[str, Any]) -> Path:
    path = analysis_dir(store, kind) / f"{key}.json"
    write_json_atomic(path, result)
    return path


def load_results(store: Store, kind: str) -> list[dict[str, Any]]:
    """Every readable result of a kind; unreadable files are skipped (never an error)."""
    out = []
    for path in sorted(analysis_dir(store, kind).glob("*.json")):
        result = load_result(path)
        if result is not None:
            out.append(result)
    return out


def merge_sets(old: dict[str, Any] | None, new_sets: list[dict[str, Any]], same: bool) -> list[dict[str, Any]]:
    """The sets of `old` (if it was computed the same way) updated with `new_sets`, in a stable order."""
    merged = {s["name"]: s for s in (old or {}).get("sets", [])} if same else {}
    for s in new_sets:
        merged[s["name"]] = s
    return list(merged.values())
