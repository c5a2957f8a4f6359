"""`report`: the papers' tables from the run records, the comparison with the published numbers,
the figures, and the analyses (FID, CLIP Synset Entropy) found in the results directory.

For every grid with results, and for the runs that are in no grid (`other`), or for one grid or
selection (benchmark.orchestration.selection), it writes into <out>/<name>/:
  tables.md    the table in the papers' layout (benchmark.output.tables), the reproduction section
               (benchmark.output.reproduction), for datasets without published numbers the
               recommendation (benchmark.output.recommendation), the analyses and the figures
  report.tex   the same as a standalone LaTeX document (pdflatex report.tex)
  tables.tex   the table alone in LaTeX (booktabs), to \\input
  figures/     PNG and PDF figures (benchmark.output.figures)
A missing or half-finished cell is shown and counted, never an error. The report only reads: the
analyses it shows were computed before (`analyze`, and the demo's FID by the `report` command).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from benchmark.atomic import write_text_atomic
from benchmark.errors import UserError
from benchmark.orchestration.grids import GRIDS, grid_specs
from benchmark.orchestration.plan import Plan, resolve
from benchmark.orchestration.record import RunRecord
from benchmark.orchestration.selection import Selection
from benchmark.orchestration.store import Store
from benchmark.orchestration.tuning import tuned_specs
from benchmark.output.document import Block, Heading, Text, Verbatim, to_latex, to_markdown
from benchmark.output.recommendation import recommendation_section
from benchmark.output.reproduction import reproduction_section
from benchmark.output.tables import MISSING, build_table, latex_table, markdown_table
from benchmark.spec import RunSpec

COLUMNS = ["dataset", "dataset_name", "method", "method_name", "method_label", "augment", "shots", "seed", "profile",
           "hparams", "overrides", "recipe", "defaults", "accuracy", "balanced_accuracy", "task", "tune"]


def results_frame(plan: Plan, records: dict[str, RunRecord], tuned: dict[str, dict] | None = None) -> pd.DataFrame:
    """One row per planned run: its labels, hyperparameters and the accuracy of its record (NaN
    where it has none); a tuned run (`tuned`: run id -> the choice of `tune` that made it) is
    labelled as its default run plus " (tuned)", whatever values each seed's search chose, and
    carries its choice in the column "tune"."""
    from benchmark.data import dataset_label
    from benchmark.orchestration.tasks import run_label
    from benchmark.spec import RunSpec
    tuned = tuned or {}
    rows = []
    for run in plan.runs:
        record = records.get(run.id)
        choice = tuned.get(run.id)
        label = run.label if choice is None else run_label(run.method.label, RunSpec.from_dict(choice["run"])) + " (tuned)"
        rows.append({"dataset": dataset_label(run.dataset), "dataset_name": run.dataset, "method": label,
                     "method_name": run.spec.method, "method_label": run.method.label, "augment": run.spec.augment,
                     "shots": run.spec.shots, "seed": run.spec.seed, "profile": run.spec.profile,
                     "hparams": run.hparams, "overrides": dict(run.spec.overrides), "recipe": dict(run.spec.recipe),
                     "defaults": run.method.defaults(run.context), "accuracy": record.accuracy if record else math.nan,
                     "balanced_accuracy": record.metrics.get("balanced_accuracy", math.nan) if record else math.nan,
                     "task": run, "tune": choice})
    return pd.DataFrame(rows, columns=COLUMNS)


def analysis_section(store: Store, kind: str, datasets: list[str], title: str, intro: str,
                     describe: Callable[[dict], str]) -> list[Block]:
    """A section with a paragraph per `analyze` result of a kind (fid, cse) for these datasets
    (names or labels); none when there is no result."""
    from benchmark.output.analysis.results import load_results
    results = [r for r in load_results(store, kind) if r.get("dataset_label") in datasets or r.get("dataset") in datasets]
    if not results:
        return []
    return [Heading(title), Text(intro), *(Text(describe(r)) for r in results)]


def describe_fid(r: dict) -> str:
    sets = ", ".join(f"{s['label']} {s['fid']:.3g}" for s in r["sets"])
    layer = r.get("feature_layer", "2048")
    features = f"{layer}-d Inception features" + ("" if layer == "2048" else " (not the standard 2048-d FID)")
    if r.get("feature_extractor", "inception-v3-compat") != "inception-v3-compat":
        features = f"feature extractor {r['feature_extractor']}"
    return (f"{r['dataset_label']}, {r['shots']} shots, seed {r['seed']} ({r['profile']} profile), "
            f"K = {r['k']}, reference = {r['reference_size']} of {r['reference_pool']} training images, "
            f"{features}: {sets}. Weights: {r['weights']}.")


def describe_cse(r: dict) -> str:
    sets = ", ".join(f"{s['label']} {s['entropy_bits']:.2f} bits / {s['distinct']} synsets" for s in r["sets"])
    return (f"{r['dataset_label']}, {r['shots']} shots, seed {r['seed']}, K = {r['k']}, "
            f"{r['synsets']} synsets under {r['root']}, CLIP {r['model']} ({r['weights']}): {sets}.")


def fid_section(store: Store, datasets: list[str]) -> list[Block]:
    return analysis_section(
        store, "fid", datasets, "FID of generated sets",
        "Fréchet Inception Distance of K images of each set to the dataset's training pool (lower = closer), "
        "torch-fidelity's TF-compatible Inception-v3. FID at small K is biased upwards and only comparable "
        "between sets of the same K and reference size, i.e. within a paragraph.", describe_fid)


def cse_section(store: Store, datasets: list[str]) -> list[Block]:
    return analysis_section(
        store, "cse", datasets, "CLIP Synset Entropy",
        "Entropy (bits) of the histogram of the WordNet synsets CLIP picks for K images of each set, and the "
        "number of distinct synsets (higher = more concepts covered; at most log2 K bits).", describe_cse)


@dataclass(frozen=True)
class Section:
    """What one report is about: a grid, or the records outside every grid."""

    name: str  # the folder under the report's output directory; the grid's name for a grid
    title: str
    summary: str
    compare: str = ""  # the named grid whose published numbers the table is compared with (default: name)


def write_section_report(store: Store, out: Path, section: Section, frame: pd.DataFrame, figures: bool = True,
                         data_dir: Path | None = None, log: Callable[[str], None] = print) -> Path:
    """<out>/<name>/: tables.md and report.tex (the same sections: the table, the reproduction, the
    analyses, the figures), tables.tex (the table alone, to \\input) and figures/."""
    table = build_table(section.name, frame)
    folder = Path(out) / section.name
    folder.mkdir(parents=True, exist_ok=True)
    missing = f"{len(table.missing)} of {len(table.expected)} cells missing; {len(table.partial)} with fewer seeds than asked."
    caption = (f"{section.title}: top-1 test accuracy (%) of the final model, mean ± std over seeds; best per column in "
               f"bold; (n=k): only k of the cell's seeds finished; {MISSING}: no finished run.")
    blocks: list[Block] = [
        Text(section.summary), Heading("Results"),
        Text("Top-1 test accuracy (%) of the final model, mean ± std over seeds. Rows: methods; column groups: "
             "datasets; columns: samples per class. **Bold**: the best mean of the column. (n=k): only k of the "
             f"seeds the cell asks for finished. {MISSING}: no finished run."),
        Verbatim(markdown_table(table), latex_table(table, caption, placement="H")), Text(missing),
        *reproduction_section(table, section.compare or section.name),
        *recommendation_section(frame, folder / "figures" if figures else None, log),
        *fid_section(store, table.datasets), *cse_section(store, table.datasets)]
    if figures:
        from benchmark.output.figures import write_figures
        try:
            drawn = write_figures(store, frame, table, folder / "figures", section.name, data_dir, log)
        except Exception as exc:  # noqa: BLE001  a figure problem must not lose the tables
            log(f"figures failed: {type(exc).__name__}: {exc}")
            drawn = []
        blocks += [Heading("Figures"), *drawn] if drawn else []
    write_text_atomic(folder / "tables.md", to_markdown([Heading(section.title, 1), *blocks]))
    write_text_atomic(folder / "tables.tex", f"% {missing}\n{latex_table(table, caption)}\n")
    write_text_atomic(folder / "report.tex", to_latex(blocks, section.title))
    return folder / "tables.md"


OUTSIDE = Section("other", "Runs outside the named grids", "The finished runs of this results directory that no named "
                  "grid has (e.g. earlier selections or grids since changed).")


def write_report(store: Store, out: Path, only: str | Selection | None = None, figures: bool = True,
                 data_dir: Path | None = None, log: Callable[[str], None] = print) -> list[Path]:
    """The report of one grid or selection (`only`), or one per grid with finished runs and one of
    the runs in no grid."""
    records = {r.run_id: r for r in store.records()}
    if only is not None:
        selection = only if isinstance(only, Selection) else Selection(
            only, GRIDS[only].summary if only in GRIDS else "", grid_specs(only))
        frame = with_tuned(selection.specs, store, records)
        if frame["accuracy"].isna().all():
            log(f"no finished runs of '{selection.name}' in {store.root}")
            return []
        title = f"Grid `{selection.name}`" if selection.name in GRIDS else f"Selection `{selection.name}`"
        section = Section(selection.name, title, selection.summary, selection.compare)
        return [write_section_report(store, out, section, frame, figures, data_dir, log)]
    written, in_grids = [], set()
    for grid in GRIDS:
        frame = with_tuned(grid_specs(grid), store, records)
        in_grids |= {run.id for run in frame["task"]}
        if frame["accuracy"].isna().all():
            continue
        section = Section(grid, f"Grid `{grid}`", GRIDS[grid].summary)
        written.append(write_section_report(store, out, section, frame, figures, data_dir, log))
    outside = [r for run_id, r in records.items() if run_id not in in_grids]
    if outside:
        plan = resolvable(outside, log)
        if plan.runs:
            written.append(write_section_report(store, out, OUTSIDE, results_frame(plan, records), figures, data_dir,
                                                 log))
    if not written:
        log(f"no finished runs in {store.root}")
    return written


def with_tuned(specs: list[RunSpec], store: Store, records: dict[str, RunRecord]) -> pd.DataFrame:
    """The results frame of these runs and of the tuned runs `tune` chose for them."""
    tuned = tuned_specs(specs, store)
    return results_frame(resolve([*specs, *(RunSpec.from_dict(c["tuned"]) for c in tuned.values())]), records, tuned)


def resolvable(records: list[RunRecord], log: Callable[[str], None]) -> Plan:
    """The plan of these records' runs; a run whose method or dataset is gone is left out, with one line."""
    runs = []
    for record in records:
        try:
            runs += resolve([record.spec]).runs
        except UserError as exc:
            log(f"left out of the report: {record.spec.describe()}: {exc}")
    return Plan(tuple(runs))
