"""The reproduction section: our cells against the published tables (results/paper/*.csv), the
difference, whether it lies within two published standard deviations, and Kendall's tau-b of the
rankings per column."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from benchmark.orchestration.grids import GRIDS
from benchmark.output.document import Block, Heading, Rows, Text
from benchmark.output.tables import Cell, Table, cell_text
from benchmark.paths import REPOSITORY
from benchmark.spec import AUGMENT_POLICIES

PAPER_DIR = REPOSITORY / "results" / "paper"
PAPER_NAME = {"chimeramix_table1.csv": "ChimeraMix Table 1", "chimeramix_table2.csv": "ChimeraMix Table 2",
              "chimeramix_table3.csv": "ChimeraMix Table 3"}


def published(grid: str) -> tuple[str, ...]:
    """The published tables a named grid's rows are compared with (none for another name)."""
    return GRIDS[grid].published if grid in GRIDS else ()


def paper_source(grid: str) -> str:
    names = published(grid)
    text = " and ".join(PAPER_NAME.get(n, n) for n in names)
    return f"{text} ({', '.join(f'`results/paper/{n}`' for n in names)})"

PAPER_DATASETS = ("ciFAIR-10", "STL-10", "ciFAIR-100")  # the datasets of the published tables


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
    """The published tables of a named grid with our row labels in `row`; None if it has none."""
    frames = []
    for name in published(grid):
        if not (Path(paper_dir) / name).is_file():
            continue
        paper = pd.read_csv(Path(paper_dir) / name)
        if "autoaugment" in paper.columns:  # Table 2: the policy columns are our augment policy
            def label(r: Any) -> str:
                policy = "autoaugment" if r.autoaugment else "trivialaugment" if r.trivialaugment else "none"
                alone = r.method in AUGMENT_POLICIES.values()  # the rows of the policy alone
                return r.method if alone or policy == "none" else f"{r.method} + {AUGMENT_POLICIES[policy]}"
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


def reproduction_section(table: Table, grid: str, paper_dir: Path = PAPER_DIR) -> list[Block]:
    """Our cells against the published ones of a named grid (the report's own, or the one a grid file
    is compared with), and the rank agreement per column."""
    blocks: list[Block] = [Heading("Reproduction")]
    paper = paper_frame(grid, paper_dir)
    if paper is None:
        ours = [d for d in table.datasets if d not in PAPER_DATASETS]
        theirs = [d for d in table.datasets if d in PAPER_DATASETS]
        blocks += [Text(f"No published numbers for {d}.") for d in ours]
        if theirs and grid in GRIDS:
            blocks.append(Text(f"No published numbers for `{grid}` ({', '.join(theirs)}): results/paper/ has no table "
                               "of it (the HydraMix paper's tables and figures could not be read)."))
        elif theirs:
            blocks.append(Text(f"Not compared with published numbers ({', '.join(theirs)}): a grid file compares with "
                               "the tables of a named grid with `compare_with = \"table1\"` (or table2, table3, ...)."))
        return blocks
    source = " and ".join(PAPER_NAME.get(n, n) for n in published(grid))
    cmp = compare(table, paper)
    blocks += [Text(f"No published numbers for {d}.") for d in cmp.unpublished_datasets]
    if cmp.only_ours and len(cmp.unpublished_datasets) < len(table.datasets):
        blocks.append(Text(f"No published numbers in {source} for: {', '.join(cmp.only_ours)}."))
    if cmp.rows.empty:
        if len(cmp.unpublished_datasets) < len(table.datasets):
            blocks.append(Text(f"None of our finished cells has a published counterpart in {source} yet."))
        return blocks
    within = int(cmp.rows["within"].sum())
    rows = [[r.dataset, str(r.shots), r.method,
             cell_text(Cell(r.n, r.ours, r.ours_std), table.expected[(r.method, r.dataset, r.shots)], False, False),
             f"{r.paper:.2f} ± {r.paper_std:.2f}", f"{r.diff:+.2f}", "yes" if r.within else "no"]
            for r in cmp.rows.itertuples()]
    return blocks + [
        Text(f"Ours vs {paper_source(grid)}: difference = ours − published mean; \"within 2σ\" = the difference is "
             "at most two published standard deviations."),
        Text(f"{within} of {len(cmp.rows)} compared cells are within 2σ; {len(cmp.rows)} of the {cmp.paper_cells} "
             "published cells of these datasets have results of ours."),
        Rows(["Dataset", "Shots", "Method", "Ours", "Published", "Difference", "Within 2σ"], rows, "lrlrrrc"),
        Text("Rank agreement per column: Kendall's tau-b between our ordering of the methods (by mean) and the "
             "published one, over the methods both have (1 = same order, −1 = reversed; n/a with fewer than two "
             "methods or a constant ranking)."),
        Rows(["Dataset", "Shots", "Methods", "Kendall tau"],
             [[r.dataset, str(r.shots), str(r.methods), fmt(r.tau)] for r in cmp.taus.itertuples()], "lrrr")]
