"""`report`: the papers' tables from the run records, the comparison with the published numbers,
the figures, and the analyses (FID, CLIP Synset Entropy) found in the results directory.

For every grid with results it writes into <out>/<grid>/:
  tables.md    the table in the papers' layout (rows: methods, column groups: datasets, columns:
               samples per class; cells: mean ± std of the top-1 test accuracy over seeds, the best
               of each column in bold, "(n=k)" where fewer than 5 seeds finished, "–" where none
               did), the reproduction section (ours vs published: difference, within two
               published standard deviations, Kendall tau of the method rankings per column),
               the analyses and the figures
  tables.tex   the same table in LaTeX (booktabs), to \\input
  report.tex   a standalone LaTeX document of it (pdflatex report.tex)
  figures/     PNG and PDF figures (see benchmark.output.figures)
A missing or half-finished cell is shown and counted, never an error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from benchmark.orchestration.grids import GRIDS, grid_specs
from benchmark.paths import REPOSITORY
from benchmark.training.spec import RunSpec
from benchmark.orchestration.store import Store

PAPER_DIR = REPOSITORY / "results" / "paper"
# grid -> the published tables its rows are compared with (rows they lack have no published numbers);
# fig4's GridMix row is in Table 3, its ChimeraMix+Grid row in Table 1 (and 3: the same numbers)
PAPER_TABLE = {"table1": ("chimeramix_table1.csv",), "table2": ("chimeramix_table2.csv",),
               "table3": ("chimeramix_table3.csv",), "hydramix": ("chimeramix_table1.csv",),
               "fig4": ("chimeramix_table1.csv", "chimeramix_table3.csv")}
PAPER_NAME = {"chimeramix_table1.csv": "ChimeraMix Table 1", "chimeramix_table2.csv": "ChimeraMix Table 2",
              "chimeramix_table3.csv": "ChimeraMix Table 3"}


def paper_source(grid: str) -> str:
    names = PAPER_TABLE[grid]
    text = " and ".join(PAPER_NAME.get(n, n) for n in names)
    return f"{text} ({', '.join(f'`results/paper/{n}`' for n in names)})"
POLICY_LABEL = {"autoaugment": "AutoAugment", "trivialaugment": "TrivialAugment"}
POLICY_METHODS = set(POLICY_LABEL.values())
PAPER_DATASETS = ("ciFAIR-10", "STL-10", "ciFAIR-100")  # the datasets of the published tables  # Table 2 rows that are the policy alone
FULL_SEEDS = 5  # the papers' seeds; a cell with fewer shows its count
MISSING = "–"


# ---------------------------------------------------------------- labels

def row_label(method_label: str, augment: str) -> str:
    return method_label if augment == "none" else f"{method_label} + {POLICY_LABEL[augment]}"


def with_overrides(label: str, overrides: dict[str, Any]) -> str:
    """"HydraMix" + {p_gen: 0.25} -> "HydraMix (p_gen=0.25)" (unchanged if the label says it already)."""
    if not overrides:
        return label
    text = ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    return label if f"({text})" in label else f"{label} ({text})"


def spec_row_label(spec: RunSpec, recorded_label: str | None = None) -> str:
    from methods import METHODS
    base = METHODS[spec.method].label if spec.method in METHODS else (recorded_label or spec.method)
    return row_label(with_overrides(base, dict(spec.overrides)), spec.augment)


def spec_dataset_label(name: str) -> str:
    from benchmark.data import dataset_label
    try:
        return dataset_label(name)
    except Exception:  # noqa: BLE001  a dataset that is no longer known keeps its name
        return name


# ---------------------------------------------------------------- results

COLUMNS = ["dataset", "dataset_name", "method", "method_name", "augment", "shots", "seed", "accuracy", "p_gen"]


def results_frame(store: Store, grid: str, records: Iterable[dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per finished run of the grid (unreadable or foreign records are skipped), from
    `records` if given (the store's records, read once for several grids), else from the store."""
    wanted = {s.run_id: s for s in grid_specs(grid)}
    rows = []
    for rec in store.records() if records is None else records:
        spec = wanted.get(rec["run_id"])
        if spec is None:
            continue
        try:
            accuracy = float(rec["metrics"]["accuracy"])
        except (KeyError, TypeError, ValueError):
            continue
        hp = rec.get("hparams") or {}
        p_gen = hp.get("p_gen", dict(spec.overrides).get("p_gen"))
        rows.append({"dataset": spec_dataset_label(spec.dataset), "dataset_name": spec.dataset,
                     "method": spec_row_label(spec, rec.get("method_label")), "method_name": spec.method,
                     "augment": spec.augment, "shots": spec.shots, "seed": spec.seed, "accuracy": accuracy,
                     "p_gen": p_gen})
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass
class Cell:
    n: int
    mean: float
    std: float  # sample std over seeds (ddof 1); nan for one seed


@dataclass
class Table:
    """A grid's table: rows x (dataset, shots) columns; `expected` are the cells the grid has."""
    grid: str
    rows: list[str]
    datasets: list[str]
    shots: dict[str, list[int]]
    cells: dict[tuple[str, str, int], Cell]
    expected: dict[tuple[str, str, int], int]  # cell -> seeds the grid has for it
    dataset_names: dict[str, str] = field(default_factory=dict)  # label -> CLI name

    @property
    def columns(self) -> list[tuple[str, int]]:
        return [(d, s) for d in self.datasets for s in self.shots[d]]

    @property
    def missing(self) -> list[tuple[str, str, int]]:
        return [key for key in self.expected if key not in self.cells]

    @property
    def partial(self) -> list[tuple[str, str, int]]:
        return [key for key, c in self.cells.items() if c.n < self.expected.get(key, FULL_SEEDS)]

    def best(self, dataset: str, shots: int) -> float | None:
        means = [c.mean for (r, d, s), c in self.cells.items() if d == dataset and s == shots]
        return round(max(means), 2) if means else None


def build_table(grid: str, frame: pd.DataFrame, specs: list[RunSpec] | None = None) -> Table:
    specs = grid_specs(grid) if specs is None else specs
    expected: dict[tuple[str, str, int], int] = {}
    names: dict[str, str] = {}
    for spec in specs:
        d = spec_dataset_label(spec.dataset)
        names[d] = spec.dataset
        key = (spec_row_label(spec), d, spec.shots)
        expected[key] = expected.get(key, 0) + 1
    cells = {}
    for (row, dataset, shots), g in frame.groupby(["method", "dataset", "shots"], sort=False):
        values = g["accuracy"].astype(float)
        cells[(row, dataset, int(shots))] = Cell(len(values), float(values.mean()),
                                                 float(values.std(ddof=1)) if len(values) > 1 else math.nan)
    keys = list(expected) + [k for k in cells if k not in expected]
    rows = list(dict.fromkeys(k[0] for k in keys))
    datasets = list(dict.fromkeys(k[1] for k in keys))
    shots = {d: sorted({k[2] for k in keys if k[1] == d}) for d in datasets}
    return Table(grid, rows, datasets, shots, cells, expected, names)


# ---------------------------------------------------------------- cell text

def cell_text(c: Cell | None, bold: bool, latex: bool, in_grid: bool = True) -> str:
    if c is None:
        return ("--" if latex else MISSING) if in_grid else ""
    pm = " $\\pm$ " if latex else " ± "
    text = f"{c.mean:.2f}" if c.n < 2 else f"{c.mean:.2f}{pm}{c.std:.2f}"
    if bold:
        text = f"\\textbf{{{text}}}" if latex else f"**{text}**"
    if c.n < FULL_SEEDS:
        text += f"\\,{{\\scriptsize(n={c.n})}}" if latex else f" (n={c.n})"
    return text


def is_best(table: Table, key: tuple[str, str, int]) -> bool:
    c = table.cells.get(key)
    return c is not None and round(c.mean, 2) == table.best(key[1], key[2])


def markdown_table(table: Table) -> str:
    cols = table.columns
    head = "| Method | " + " | ".join(f"{d} / {s}" for d, s in cols) + " |"
    lines = [head, "|---|" + "---:|" * len(cols)]
    for r in table.rows:
        cells = [cell_text(table.cells.get((r, d, s)), is_best(table, (r, d, s)), False, (r, d, s) in table.expected)
                 for d, s in cols]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                 "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "–": "--"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex_table(table: Table, caption: str) -> str:
    cols = table.columns
    spec = "l" + "".join("r" * len(table.shots[d]) for d in table.datasets)
    groups, rules, start = [], [], 2
    for d in table.datasets:
        n = len(table.shots[d])
        groups.append(f"\\multicolumn{{{n}}}{{c}}{{{latex_escape(d)}}}")
        rules.append(f"\\cmidrule(lr){{{start}-{start + n - 1}}}")
        start += n
    lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{latex_escape(caption)}}}",
             f"\\label{{tab:{latex_escape(table.grid)}}}",
             "\\resizebox{\\ifdim\\width>\\textwidth\\textwidth\\else\\width\\fi}{!}{%",  # shrink wide tables only
             f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
             " & " + " & ".join(groups) + " \\\\", " ".join(rules),
             "Method & " + " & ".join(str(s) for _, s in cols) + " \\\\", "\\midrule"]
    for r in table.rows:
        cells = [cell_text(table.cells.get((r, d, s)), is_best(table, (r, d, s)), True, (r, d, s) in table.expected)
                 for d, s in cols]
        lines.append(f"{latex_escape(r)} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}}", "\\end{table}"]
    return "\n".join(lines)


def standalone_latex(body: str, title: str) -> str:
    return "\n".join(["\\documentclass[10pt]{article}", "\\usepackage[utf8]{inputenc}", "\\usepackage{booktabs}",
                      "\\usepackage{graphicx}", "\\begin{document}", f"\\section*{{{latex_escape(title)}}}", body,
                      "\\end{document}", ""])


# ---------------------------------------------------------------- reproduction

def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (ties in either ranking corrected); nan if a ranking is constant or n < 2."""
    n = len(x)
    if n != len(y):
        raise ValueError("x and y differ in length")
    concordant = discordant = only_x = only_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                only_x += 1
            elif dy == 0:
                only_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + only_x) * (concordant + discordant + only_y))
    return (concordant - discordant) / denominator if denominator else math.nan



def paper_frame(grid: str, paper_dir: Path = PAPER_DIR) -> pd.DataFrame | None:
    """The published table of the grid with our row labels in `row`; None if the grid has none."""
    frames = []
    for name in PAPER_TABLE.get(grid, ()):
        if not (Path(paper_dir) / name).is_file():
            continue
        paper = pd.read_csv(Path(paper_dir) / name)
        if "autoaugment" in paper.columns:  # Table 2: the policy columns are our augment policy
            def label(r: Any) -> str:
                policy = "autoaugment" if r.autoaugment else "trivialaugment" if r.trivialaugment else "none"
                return r.method if r.method in POLICY_METHODS else row_label(r.method, policy)
            paper["row"] = [label(r) for r in paper.itertuples()]
        else:
            paper["row"] = paper["method"]
        frames.append(paper[["dataset", "row", "shots", "mean", "std"]])
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True).drop_duplicates(["dataset", "row", "shots"]).reset_index(drop=True)


@dataclass
class Comparison:
    rows: pd.DataFrame  # dataset, shots, method, ours, ours_std, n, paper, paper_std, diff, within
    taus: pd.DataFrame  # dataset, shots, methods, tau
    paper_cells: int  # published cells of the datasets we have
    only_ours: list[str]  # our rows with no published numbers
    unpublished_datasets: list[str]


def compare(table: Table, paper: pd.DataFrame) -> Comparison:
    rows = []
    for (r, d, s), c in table.cells.items():
        hit = paper[(paper["dataset"] == d) & (paper["row"] == r) & (paper["shots"] == s)]
        if hit.empty:
            continue
        p = hit.iloc[0]
        diff = c.mean - float(p["mean"])
        rows.append({"dataset": d, "shots": s, "method": r, "ours": c.mean, "ours_std": c.std, "n": c.n,
                     "paper": float(p["mean"]), "paper_std": float(p["std"]), "diff": diff,
                     "within": abs(diff) <= 2 * float(p["std"])})
    frame = pd.DataFrame(rows, columns=["dataset", "shots", "method", "ours", "ours_std", "n", "paper", "paper_std",
                                        "diff", "within"])
    if not frame.empty:  # the table's order: columns (dataset, shots), then rows
        column = {c: i for i, c in enumerate(table.columns)}
        frame["_c"] = [column[(r.dataset, r.shots)] for r in frame.itertuples()]
        frame["_r"] = [table.rows.index(m) for m in frame["method"]]
        frame = frame.sort_values(["_c", "_r"]).drop(columns=["_c", "_r"]).reset_index(drop=True)
    taus = []
    for d, s in table.columns:
        g = frame[(frame["dataset"] == d) & (frame["shots"] == s)]
        if g.empty:
            continue
        taus.append({"dataset": d, "shots": s, "methods": len(g), "tau": kendall_tau_b(list(g["ours"]), list(g["paper"]))})
    published = set(paper["dataset"])
    return Comparison(frame, pd.DataFrame(taus, columns=["dataset", "shots", "methods", "tau"]),
                      int(paper["dataset"].isin(table.datasets).sum()),
                      [r for r in table.rows if r not in set(paper["row"])],
                      [d for d in table.datasets if d not in published])


def fmt(x: float, digits: int = 2, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def reproduction_section(table: Table, grid: str, paper_dir: Path = PAPER_DIR) -> str:
    lines = ["## Reproduction", ""]
    paper = paper_frame(grid, paper_dir)
    if paper is None:
        ours = [d for d in table.datasets if d not in PAPER_DATASETS]
        theirs = [d for d in table.datasets if d in PAPER_DATASETS]
        lines += [f"No published numbers for {d}." for d in ours]
        if theirs:
            lines.append(f"No published numbers for grid `{grid}` ({', '.join(theirs)}): results/paper/ has no table "
                         "of it (the HydraMix paper's tables and figures could not be read).")
        return "\n".join(lines + [""])
    source = " and ".join(PAPER_NAME.get(n, n) for n in PAPER_TABLE[grid])
    cmp = compare(table, paper)
    for d in cmp.unpublished_datasets:
        lines += [f"No published numbers for {d}.", ""]
    if cmp.only_ours and len(cmp.unpublished_datasets) < len(table.datasets):
        lines += [f"No published numbers in {source} for: {', '.join(cmp.only_ours)}.", ""]
    if cmp.rows.empty:
        if len(cmp.unpublished_datasets) < len(table.datasets):
            lines += [f"None of our finished cells has a published counterpart in {source} yet.", ""]
        return "\n".join(lines)
    within = int(cmp.rows["within"].sum())
    lines += [f"Ours vs {paper_source(grid)}: difference = ours − published mean; "
              "\"within 2σ\" = the difference is at most two published standard deviations.", "",
              f"{within} of {len(cmp.rows)} compared cells are within 2σ; {len(cmp.rows)} of the {cmp.paper_cells} "
              f"published cells of these datasets have results of ours.", "",
              "| Dataset | Shots | Method | Ours | Published | Difference | Within 2σ |",
              "|---|---:|---|---:|---:|---:|:---:|"]
    for r in cmp.rows.itertuples():
        ours = cell_text(Cell(r.n, r.ours, r.ours_std), False, False)
        lines.append(f"| {r.dataset} | {r.shots} | {r.method} | {ours} | {r.paper:.2f} ± {r.paper_std:.2f} | "
                     f"{r.diff:+.2f} | {'yes' if r.within else 'no'} |")
    lines += ["", "Rank agreement per column: Kendall's tau-b between our ordering of the methods (by mean) and "
              "the published one, over the methods both have (1 = same order, −1 = reversed; n/a with fewer "
              "than two methods or a constant ranking).", "",
              "| Dataset | Shots | Methods | Kendall tau |", "|---|---:|---:|---:|"]
    for r in cmp.taus.itertuples():
        lines.append(f"| {r.dataset} | {r.shots} | {r.methods} | {fmt(r.tau)} |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- analyses

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


# ---------------------------------------------------------------- the report

DEMO_FID_SETS = ("original", "mixup", "chimeramix_grid", "chimeramix_seg", "hydramix")
# K = 100 per set against 100 training images, on 192-d Inception features: about 600 Inception passes
# (~0.1 s of CPU each) and no 2048 x 2048 matrix square roots (~20 s of CPU each): the demo report
# stays within about two minutes on 2 cores
DEMO_FID = {"shots": 20, "seed": 0, "k": 100, "reference_size": 100, "feature_layer": "192"}


def demo_fid(store: Store, data_dir: Path | None, table: Table, log: Callable[[str], None]) -> None:
    """FID of the demo's generated sets, if the Inception weights are on this machine (never downloads)."""
    from benchmark.output.analysis.fid import inception_available_offline, run_fid, WEIGHTS_HINT
    from benchmark.output.analysis.sets import trained_profiles
    from benchmark.data import default_data_dir
    if not inception_available_offline():
        log(f"demo FID skipped: no Inception weights on this machine; to add it, {WEIGHTS_HINT}")
        return
    shots, seed = DEMO_FID["shots"], DEMO_FID["seed"]
    dataset = table.dataset_names.get("digits", "digits")
    sets = [s for s in DEMO_FID_SETS if s in ("original", "mixup") or "quick" in trained_profiles(s, dataset, shots, seed, store)]
    if len(sets) <= 2:
        log(f"demo FID skipped: no trained generator of the demo at {shots} shots, seed {seed}")
        return
    log(f"demo FID: {', '.join(sets)} (K = {DEMO_FID['k']}, reference {DEMO_FID['reference_size']} images, "
        f"{DEMO_FID['feature_layer']}-d Inception features)")
    run_fid(dataset, shots, seed, sets, DEMO_FID["k"], store, data_dir or default_data_dir(), profile="quick",
            reference_size=DEMO_FID["reference_size"], feature_layer=DEMO_FID["feature_layer"], log=log)


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
                      fid: bool = True, data_dir: Path | None = None, log: Callable[[str], None] = print) -> Path:
    table = build_table(grid, frame)
    folder = Path(out) / grid
    folder.mkdir(parents=True, exist_ok=True)
    if grid == "demo" and fid:
        try:
            demo_fid(store, data_dir, table, log)
        except Exception as exc:  # noqa: BLE001  the tables must still be written
            log(f"demo FID failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
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


def write_report(store: Store, out: Path, only_grid: str | None = None, figures: bool = True, fid: bool = True,
                 data_dir: Path | None = None, log: Callable[[str], None] = print) -> list[Path]:
    grids = [only_grid] if only_grid else list(GRIDS)
    if only_grid:
        grid_specs(only_grid)  # an unknown grid is a UserError
    records = list(store.records())
    written = []
    for grid in grids:
        frame = results_frame(store, grid, records)
        if frame.empty:
            if only_grid:
                log(f"no finished runs of grid '{grid}' in {store.root}")
            continue
        written.append(write_grid_report(store, out, grid, frame, figures, fid, data_dir, log))
    return written
