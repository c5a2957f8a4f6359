"""`report`: the papers' tables from the run records, the comparison with the published numbers,
the figures, and the analyses (FID, CLIP Synset Entropy) found in the results directory.

For every grid with results it writes into <out>/<grid>/:
  tables.md    the table in the papers' layout (benchmark.output.tables), the reproduction section
               (benchmark.output.reproduction), the analyses and the figures
  tables.tex   the same table in LaTeX (booktabs), to \\input
  report.tex   a standalone LaTeX document of it (pdflatex report.tex)
  figures/     PNG and PDF figures (benchmark.output.figures)
A missing or half-finished cell is shown and counted, never an error. The report only reads: the
analyses it shows were computed before (`analyze`, and the demo's FID by the `report` command).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import pandas as pd

from benchmark.orchestration.grids import GRIDS, grid_specs
from benchmark.orchestration.plan import Plan, resolve
from benchmark.orchestration.record import RunRecord
from benchmark.orchestration.store import Store
from benchmark.output.reproduction import reproduction_section
from benchmark.output.tables import (FULL_SEEDS, MISSING, build_table, latex_table, markdown_table,
                                     standalone_latex)

COLUMNS = ["dataset", "dataset_name", "method", "method_name", "method_label", "augment", "shots", "seed",
           "hparams", "overrides", "defaults", "accuracy", "task"]


def results_frame(plan: Plan, records: dict[str, RunRecord]) -> pd.DataFrame:
    """One row per planned run: its labels, hyperparameters and the accuracy of its record (NaN
    where it has none)."""
    from benchmark.data import dataset_label
    rows = []
    for run in plan.runs:
        record = records.get(run.id)
        rows.append({"dataset": dataset_label(run.dataset), "dataset_name": run.dataset, "method": run.label,
                     "method_name": run.spec.method, "method_label": run.method.label, "augment": run.spec.augment,
                     "shots": run.spec.shots, "seed": run.spec.seed, "hparams": run.hparams,
                     "overrides": dict(run.spec.overrides), "defaults": run.method.defaults(run.context),
                     "accuracy": record.accuracy if record else math.nan, "task": run})
    return pd.DataFrame(rows, columns=COLUMNS)


def analysis_section(store: Store, kind: str, datasets: list[str], title: str, intro: str,
                     describe: Callable[[dict], str]) -> str:
    """A section with one line per `analyze` result of a kind (fid, cse) for these datasets
    (names or labels); empty when there is none."""
    from benchmark.output.analysis.results import load_results
    results = [r for r in load_results(store, kind) if r.get("dataset_label") in datasets or r.get("dataset") in datasets]
    if not results:
        return ""
    return "\n".join([f"## {title}", "", intro, "", *(describe(r) for r in results), ""])


def describe_fid(r: dict) -> str:
    sets = ", ".join(f"{s['label']} {s['fid']:.3g}" for s in r["sets"])
    layer = r.get("feature_layer", "2048")
    features = f"{layer}-d Inception features" + ("" if layer == "2048" else " (not the standard 2048-d FID)")
    if r.get("feature_extractor", "inception-v3-compat") != "inception-v3-compat":
        features = f"feature extractor {r['feature_extractor']}"
    return (f"- {r['dataset_label']}, {r['shots']} shots, seed {r['seed']} ({r['profile']} profile), "
            f"K = {r['k']}, reference = {r['reference_size']} of {r['reference_pool']} training images, "
            f"{features}: {sets}. Weights: {r['weights']}.")


def describe_cse(r: dict) -> str:
    sets = ", ".join(f"{s['label']} {s['entropy_bits']:.2f} bits / {s['distinct']} synsets" for s in r["sets"])
    return (f"- {r['dataset_label']}, {r['shots']} shots, seed {r['seed']}, K = {r['k']}, "
            f"{r['synsets']} synsets under {r['root']}, CLIP {r['model']} ({r['weights']}): {sets}.")


def fid_section(store: Store, datasets: list[str]) -> str:
    return analysis_section(
        store, "fid", datasets, "FID of generated sets",
        "Fréchet Inception Distance of K images of each set to the dataset's training pool (lower = closer), "
        "torch-fidelity's TF-compatible Inception-v3. FID at small K is biased upwards and only comparable "
        "between sets of the same K and reference size, i.e. within a row of this table.", describe_fid)


def cse_section(store: Store, datasets: list[str]) -> str:
    return analysis_section(
        store, "cse", datasets, "CLIP Synset Entropy",
        "Entropy (bits) of the histogram of the WordNet synsets CLIP picks for K images of each set, and the "
        "number of distinct synsets (higher = more concepts covered; at most log2 K bits).", describe_cse)


def figure_links(paths: list[Path], base: Path) -> str:
    pngs = [p for p in paths if p.suffix == ".png"]
    if not pngs:
        return ""
    lines = ["## Figures", ""]
    for p in pngs:
        rel = p.relative_to(base)
        lines.append(f"![{p.stem}]({rel.as_posix()}) (also [{rel.with_suffix('.pdf').as_posix()}]"
                     f"({rel.with_suffix('.pdf').as_posix()}))")
        lines.append("")
    return "\n".join(lines)


def write_grid_report(store: Store, out: Path, grid: str, frame: pd.DataFrame, figures: bool = True,
                      data_dir: Path | None = None, log: Callable[[str], None] = print) -> Path:
    table = build_table(grid, frame)
    folder = Path(out) / grid
    folder.mkdir(parents=True, exist_ok=True)
    n_expected = len(table.expected)
    missing = len(table.missing)
    caption = (f"Grid {grid}: top-1 test accuracy (%) of the final model, mean ± std over seeds; best per column in "
               f"bold; (n=k) where fewer than {FULL_SEEDS} seeds finished; – no finished run.")
    md = [f"# Grid `{grid}`", "", GRIDS[grid].summary, "",
          f"Top-1 test accuracy (%) of the final model, mean ± std over seeds. Rows: methods; column groups: "
          f"datasets; columns: samples per class. **Bold**: the best mean of the column. (n=k): only k seeds "
          f"finished (the papers use {FULL_SEEDS}). {MISSING}: no finished run.", "",
          markdown_table(table), "", f"{missing} of {n_expected} cells missing; {len(table.partial)} cells with fewer "
          f"seeds than the grid has.", "", reproduction_section(table, grid)]
    md += [s for s in (fid_section(store, table.datasets), cse_section(store, table.datasets)) if s]
    paths: list[Path] = []
    if figures:
        from benchmark.output.figures import write_figures
        try:
            paths = write_figures(store, frame, table, folder / "figures", grid, data_dir, log)
        except Exception as exc:  # noqa: BLE001  a figure problem must not lose the tables
            log(f"figures failed: {type(exc).__name__}: {exc}")
    md.append(figure_links(paths, folder))
    (folder / "tables.md").write_text("\n".join(md).rstrip() + "\n")
    tex = latex_table(table, caption)
    tex_missing = f"% {missing} of {n_expected} cells missing"
    (folder / "tables.tex").write_text(f"{tex_missing}\n{tex}\n")
    body = tex + f"\n\n{missing} of {n_expected} cells missing.\n"
    (folder / "report.tex").write_text(standalone_latex(body, f"Grid {grid}"))
    return folder / "tables.md"


def write_report(store: Store, out: Path, only_grid: str | None = None, figures: bool = True,
                 data_dir: Path | None = None, log: Callable[[str], None] = print) -> list[Path]:
    grids = [only_grid] if only_grid else list(GRIDS)
    if only_grid:
        grid_specs(only_grid)  # an unknown grid is a UserError
    records = {r.run_id: r for r in store.records()}
    written = []
    for grid in grids:
        frame = results_frame(resolve(grid_specs(grid), data_dir), records)
        if frame["accuracy"].isna().all():
            if only_grid:
                log(f"no finished runs of grid '{grid}' in {store.root}")
            continue
        written.append(write_grid_report(store, out, grid, frame, figures, data_dir, log))
    return written
