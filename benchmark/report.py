"""`report`: one Markdown table per grid and dataset (methods x samples per class, mean ± std over
seeds), next to the published numbers of results/paper/ where the paper has that dataset."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.grids import GRIDS, grid_specs
from benchmark.store import Store

PAPER_DIR = Path(__file__).resolve().parent.parent / "results" / "paper"
PAPER_TABLE = {"table1": "chimeramix_table1.csv"}  # grid -> the published table it reproduces
POLICY_LABEL = {"autoaugment": "AutoAugment", "trivialaugment": "TrivialAugment"}


def row_label(method_label: str, augment: str) -> str:
    return method_label if augment == "none" else f"{method_label} + {POLICY_LABEL[augment]}"


def results_frame(store: Store, grid: str) -> pd.DataFrame:
    """One row per finished run of the grid."""
    wanted = {s.run_id for s in grid_specs(grid)}
    rows = []
    for rec in store.records():
        if rec["run_id"] not in wanted:
            continue
        spec = rec["spec"]
        rows.append({"dataset": rec["dataset_label"], "method": row_label(rec["method_label"], spec["augment"]),
                     "shots": spec["shots"], "seed": spec["seed"], "accuracy": rec["metrics"]["accuracy"]})
    return pd.DataFrame(rows, columns=["dataset", "method", "shots", "seed", "accuracy"])


def paper_frame(grid: str) -> pd.DataFrame | None:
    name = PAPER_TABLE.get(grid)
    return pd.read_csv(PAPER_DIR / name) if name else None


def cell(values: pd.Series) -> str:
    text = f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0:.2f}"
    return text if len(values) >= 5 else f"{text} (n={len(values)})"


def markdown_table(rows: list[str], columns: list[int], cells: dict[tuple[str, int], str]) -> str:
    lines = ["| method | " + " | ".join(str(c) for c in columns) + " |", "|---|" + "---:|" * len(columns)]
    for r in rows:
        lines.append(f"| {r} | " + " | ".join(cells.get((r, c), "–") for c in columns) + " |")
    return "\n".join(lines)


def dataset_section(ours: pd.DataFrame, paper: pd.DataFrame | None, dataset: str, source: str | None) -> str:
    shots = sorted(ours["shots"].unique())
    methods = list(dict.fromkeys(ours["method"]))
    cells = {(m, s): cell(g["accuracy"]) for (m, s), g in ours.groupby(["method", "shots"])}
    text = [f"## {dataset}", "", "Ours: top-1 test accuracy (%) of the final model, mean ± std over seeds "
            "(n = seeds where fewer than 5; – = no finished run).", "", markdown_table(methods, shots, cells), ""]
    published = paper[paper["dataset"] == dataset] if paper is not None else None
    if published is None or published.empty:
        text += [f"No published numbers for {dataset}.", ""]
    else:
        p_cells = {(r.method, r.shots): f"{r.mean:.2f} ± {r.std:.2f}" for r in published.itertuples()}
        p_rows = list(dict.fromkeys(published["method"]))
        p_shots = sorted(published["shots"].unique())
        text += [f"Published ({source}):", "", markdown_table(p_rows, p_shots, p_cells), ""]
    return "\n".join(text)


def write_report(store: Store, out: Path, only_grid: str | None = None) -> list[Path]:
    grids = [only_grid] if only_grid else list(GRIDS)
    written = []
    for grid in grids:
        ours = results_frame(store, grid)
        if ours.empty:
            if only_grid:
                print(f"no finished runs of grid '{grid}' in {store.root}")
            continue
        paper = paper_frame(grid)
        sections = [f"# Grid `{grid}`", "", GRIDS[grid].summary, ""]
        for dataset in dict.fromkeys(ours["dataset"]):
            sections.append(dataset_section(ours[ours["dataset"] == dataset], paper, dataset, PAPER_TABLE.get(grid)))
        path = Path(out) / grid / "tables.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(sections))
        written.append(path)
    return written
