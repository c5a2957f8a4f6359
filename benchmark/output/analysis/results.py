"""Analysis results on disk: <results>/analysis/<kind>/<key>.json, one file per (dataset, shots,
seed, profile, K, ...) setting, one entry per image set. Written atomically; `report` reads them."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from benchmark.atomic import write_json_atomic
from benchmark.orchestration.store import Store


def analysis_dir(store: Store, kind: str) -> Path:
    return store.root / "analysis" / kind


def safe_key(*parts: Any) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.=-]+", "-", str(p)).strip("-") for p in parts)


def load_result(path: Path) -> dict[str, Any] | None:
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and isinstance(result.get("sets"), list) else None


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
