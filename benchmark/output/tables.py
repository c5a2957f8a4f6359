"""A grid's table in the papers' layout: rows (methods with the papers' labels) x column groups
(datasets) x columns (samples per class), each cell the mean ± std over seeds; as Markdown and LaTeX."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from benchmark.output.document import latex_escape
from benchmark.spec import ALL_SHOTS, Shots, shots_order

MISSING = "–"


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
    shots: dict[str, list[Shots]]
    cells: dict[tuple[str, str, Shots], Cell]
    expected: dict[tuple[str, str, Shots], int]  # cell -> seeds the grid has for it
    dataset_names: dict[str, str] = field(default_factory=dict)  # label -> CLI name

    @property
    def columns(self) -> list[tuple[str, Shots]]:
        return [(d, s) for d in self.datasets for s in self.shots[d]]

    @property
    def missing(self) -> list[tuple[str, str, Shots]]:
        return [key for key in self.expected if key not in self.cells]

    @property
    def partial(self) -> list[tuple[str, str, Shots]]:
        return [key for key, c in self.cells.items() if c.n < self.expected[key]]

    def best(self, dataset: str, shots: Shots) -> float | None:
        means = [c.mean for (r, d, s), c in self.cells.items() if d == dataset and s == shots]
        return round(max(means), 2) if means else None


def build_table(grid: str, frame: pd.DataFrame) -> Table:
    """The table of a results frame (benchmark.output.report.results_frame: one row per planned run,
    accuracy NaN where the run has no record)."""
    expected: dict[tuple[str, str, Shots], int] = {}
    names: dict[str, str] = {}
    cells = {}
    for (row, dataset, shots), g in frame.groupby(["method", "dataset", "shots"], sort=False):
        shots = shots if shots == ALL_SHOTS else int(shots)
        names[dataset] = g["dataset_name"].iloc[0]
        expected[(row, dataset, shots)] = len(g)
        values = g["accuracy"].dropna().astype(float)
        if len(values):
            cells[(row, dataset, shots)] = Cell(len(values), float(values.mean()),
                                                float(values.std(ddof=1)) if len(values) > 1 else math.nan)
    keys = list(expected)
    rows = list(dict.fromkeys(k[0] for k in keys))
    datasets = list(dict.fromkeys(k[1] for k in keys))
    shots = {d: sorted({k[2] for k in keys if k[1] == d}, key=shots_order) for d in datasets}
    return Table(grid, rows, datasets, shots, cells, expected, names)


# ---------------------------------------------------------------- cell text

def cell_text(c: Cell | None, expected: int | None, bold: bool, latex: bool) -> str:
    """mean ± std; "(n=k)" where fewer seeds finished than the `expected` ones; missing: "–" if the
    grid has the cell (`expected` not None), else empty."""
    if c is None:
        return ("--" if latex else MISSING) if expected else ""
    pm = " $\\pm$ " if latex else " ± "
    text = f"{c.mean:.2f}" if c.n < 2 else f"{c.mean:.2f}{pm}{c.std:.2f}"
    if bold:
        text = f"\\textbf{{{text}}}" if latex else f"**{text}**"
    if expected and c.n < expected:
        text += f"\\,{{\\scriptsize(n={c.n})}}" if latex else f" (n={c.n})"
    return text


def is_best(table: Table, key: tuple[str, str, Shots]) -> bool:
    c = table.cells.get(key)
    return c is not None and round(c.mean, 2) == table.best(key[1], key[2])


def markdown_table(table: Table) -> str:
    cols = table.columns
    head = "| Method | " + " | ".join(f"{d} / {s}" for d, s in cols) + " |"
    lines = [head, "|---|" + "---:|" * len(cols)]
    for r in table.rows:
        cells = [cell_text(table.cells.get((r, d, s)), table.expected.get((r, d, s)), is_best(table, (r, d, s)), False)
                 for d, s in cols]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def latex_table(table: Table, caption: str, placement: str = "t") -> str:
    cols = table.columns
    spec = "l" + "".join("r" * len(table.shots[d]) for d in table.datasets)
    groups, rules, start = [], [], 2
    for d in table.datasets:
        n = len(table.shots[d])
        groups.append(f"\\multicolumn{{{n}}}{{c}}{{{latex_escape(d)}}}")
        rules.append(f"\\cmidrule(lr){{{start}-{start + n - 1}}}")
        start += n
    lines = [f"\\begin{{table}}[{placement}]", "\\centering", f"\\caption{{{latex_escape(caption)}}}",
             f"\\label{{tab:{latex_escape(table.grid)}}}",
             "\\resizebox{\\ifdim\\width>\\textwidth\\textwidth\\else\\width\\fi}{!}{%",  # shrink wide tables only
             f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
             " & " + " & ".join(groups) + " \\\\", " ".join(rules),
             "Method & " + " & ".join(str(s) for _, s in cols) + " \\\\", "\\midrule"]
    for r in table.rows:
        cells = [cell_text(table.cells.get((r, d, s)), table.expected.get((r, d, s)), is_best(table, (r, d, s)), True)
                 for d, s in cols]
        lines.append(f"{latex_escape(r)} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}}", "\\end{table}"]
    return "\n".join(lines)
