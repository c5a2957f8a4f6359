"""A folder dataset whose contents changed is never mixed with the results of its old contents.

The store keeps, per folder dataset, the manifest of the contents its results were trained on
(`datasets/<hash of the name>.json` in the results directory: every image's path and SHA-1).
Before `run` launches anything, each folder of the plan is compared with its manifest:
- no manifest, or the same contents: the manifest is written and the runs go ahead;
- changed contents, and the store holds nothing trained on the folder (no record, no trained
  stage, no checkpoint of the plan's tasks): the manifest is replaced and the runs go ahead;
- changed contents and results of the old ones: a UserError naming the change (files added,
  removed, modified) and what to do. Nothing is deleted or overwritten.
"""
from __future__ import annotations

from benchmark.data import folder_of
from benchmark.data.folder_index import scan_folder
from benchmark.errors import UserError
from benchmark.orchestration.plan import Plan
from benchmark.orchestration.store import Store


def check_folders(plan: Plan, store: Store) -> None:
    for name in dict.fromkeys(r.dataset for r in plan.runs):
        folder = folder_of(name)
        if folder is None:
            continue
        contents = scan_folder(folder[0]).contents()
        old = (store.manifest(name) or {}).get("contents")
        if old == contents:
            continue
        if old is not None and has_results(name, plan, store):
            raise UserError(f"folder {folder[0]} changed since the results in {store.root} were trained on it: "
                            f"{describe_change(old, contents)}; restore it, or benchmark its new contents in another "
                            "results directory (--results-dir DIR): the results of the old contents are kept as they are")
        store.write_manifest(name, {"dataset": name, "contents": contents})


def has_results(name: str, plan: Plan, store: Store) -> bool:
    """Whether anything in the store was trained on the dataset: a record, a stage, a checkpoint."""
    tasks = [*(r for r in plan.runs if r.dataset == name), *(s for s in plan.stages if s.dataset == name)]
    return (any(r.spec.dataset == name for r in store.records())
            or any(s.get("stage", {}).get("dataset") == name for s in store.stage_records())
            or any(store.checkpoint_path(t.id).exists() for t in tasks))


def describe_change(old: dict[str, str], new: dict[str, str]) -> str:
    """"2 files added (a/x.png, a/y.png), 1 modified (b/1.png)": at most 3 names per kind."""
    kinds = {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
             "modified": sorted(f for f in set(old) & set(new) if old[f] != new[f])}
    parts = []
    for kind, files in kinds.items():
        if files:
            more = f", and {len(files) - 3} more" if len(files) > 3 else ""
            parts.append(f"{len(files)} file{'s' if len(files) > 1 else ''} {kind} ({', '.join(files[:3])}{more})")
    return ", ".join(parts)
