"""The recommendation for a dataset without published numbers: which method helps on it?

Every method of a (dataset, shots, profile) trains on the same subset per seed, so each method is
compared with the baseline seed by seed: the paired difference d_k = accuracy(method, seed k) -
accuracy(baseline, seed k), over the seeds both finished. Its 95 % confidence interval is the
paired t interval, mean(d) ± t(0.975, n - 1) · sd(d) / sqrt(n) (Student's t; needs n >= 2). The
verdict: "helps" when the whole interval lies above 0, "hurts" when below, else "no evidence either
way". When no interval excludes 0, a note gives, per method, the seeds that would be needed: the
smallest n with t(0.975, n - 1) · sd(d) / sqrt(n) <= |mean(d)|, i.e. the number of seeds at which
the difference seen so far, with the spread seen so far, would be told from 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from benchmark.output.document import Block, Figure, Heading, Rows, Text
from benchmark.output.reproduction import PAPER_DATASETS
from benchmark.spec import shots_order

BASELINE = "baseline"
CONFIDENCE = 0.95
MAX_SEEDS = 1000  # "more than" this many seeds: no practical number


@dataclass(frozen=True)
class Comparison:
    """One method against the baseline in one (dataset, shots, profile) group."""

    label: str
    method: str  # registry name (its colour)
    accuracy: float  # mean over its seeds
    accuracy_std: float
    balanced: float  # mean balanced accuracy
    n: int  # seeds paired with the baseline
    diff: float  # mean paired difference of accuracy (percentage points); nan without pairs
    low: float  # the 95 % interval; nan with fewer than 2 pairs
    high: float
    diff_std: float  # sd of the paired differences (ddof 1)
    reference: bool  # the baseline itself

    @property
    def verdict(self) -> str:
        if self.reference:
            return ""
        if self.low > 0:
            return "helps"
        if self.high < 0:
            return "hurts"
        return "no evidence either way"


def t_quantile(n: int) -> float:
    from scipy.stats import t
    return float(t.ppf(0.5 + CONFIDENCE / 2, n - 1))


def paired_interval(diffs: list[float]) -> tuple[float, float, float, float]:
    """(mean, low, high, sd) of paired differences; the interval is nan with fewer than 2."""
    n = len(diffs)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = sum(diffs) / n
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile(n) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, sd


def seeds_needed(mean: float, sd: float) -> int | None:
    """The smallest n >= 2 whose interval half-width t(0.975, n - 1) · sd / sqrt(n) is at most |mean|;
    None if no n up to MAX_SEEDS is enough."""
    if math.isnan(mean) or math.isnan(sd):
        return None
    for n in range(2, MAX_SEEDS + 1):
        if t_quantile(n) * sd / math.sqrt(n) <= abs(mean):
            return n
    return None


def comparisons(group: pd.DataFrame) -> list[Comparison] | None:
    """Every method of a group (rows of the results frame with accuracy) against its baseline,
    best mean accuracy first; None when the group has no baseline runs."""
    plain = group[(group["method_name"] == BASELINE) & (group["augment"] == "none")
                  & (group["overrides"].map(len) == 0)]
    if plain.empty:
        return None
    base = plain.set_index("seed")["accuracy"]
    reference = plain["method"].iloc[0]
    found = []
    for label, runs in group.groupby("method", sort=False):
        acc = runs.set_index("seed")["accuracy"]
        paired = [float(acc[k] - base[k]) for k in acc.index if k in base.index]
        diff, low, high, sd = paired_interval(paired)
        found.append(Comparison(str(label), str(runs["method_name"].iloc[0]), float(acc.mean()),
                                float(acc.std(ddof=1)) if len(acc) > 1 else math.nan,
                                float(runs["balanced_accuracy"].mean()), len(paired), diff, low, high, sd,
                                label == reference))
    return sorted(found, key=lambda c: -c.accuracy)


def recommendation_section(frame: pd.DataFrame, figures: Path | None,
                           log: Callable[[str], None] = print) -> list[Block]:
    """For each dataset without published numbers: per (shots, profile), the ranking, the paired
    differences to the baseline and the verdicts, with a figure of the differences (into `figures`)."""
    done = frame.dropna(subset=["accuracy"])
    done = done[~done["dataset"].isin(PAPER_DATASETS)]
    blocks: list[Block] = []
    groups = sorted(done.groupby(["dataset", "shots", "profile"], sort=False),
                    key=lambda item: (item[0][0], shots_order(item[0][1]), item[0][2]))
    for (dataset, shots, profile), group in groups:
        found = comparisons(group)
        if found is None or len(found) < 2:
            continue
        where = f"{dataset}, {shots} shots, {profile} profile"
        blocks += [Heading(f"Recommendation: {where}", 3), Text(summary(found)), comparison_rows(found),
                   *seeds_note(found)]
        if figures is not None:
            try:
                blocks += difference_figure(found, where, figures)
            except Exception as exc:  # noqa: BLE001  a figure problem must not lose the tables
                log(f"recommendation figure failed: {type(exc).__name__}: {exc}")
    if not blocks:
        return []
    return [Heading("Recommendation"), Text(
        "Which method helps on a dataset without published numbers. Every method trains on the same training "
        "subset per seed, so each is compared with the Baseline seed by seed: Δ = its accuracy minus the Baseline's, "
        "averaged over the seeds both finished, with the 95 % confidence interval of the paired t-test (Student's t, "
        "n − 1 degrees of freedom). A method **helps** when the whole interval lies above 0, **hurts** when it lies "
        "below, else there is no evidence either way. Accuracy: top-1 test accuracy (%), mean ± std over seeds; "
        "balanced accuracy: the mean of the per-class recalls (%), mean over seeds."), *blocks]


def summary(found: list[Comparison]) -> str:
    others = [c for c in found if not c.reference]
    helps = [c.label for c in others if c.verdict == "helps"]
    hurts = [c.label for c in others if c.verdict == "hurts"]
    seeds = max((c.n for c in others), default=0)
    parts = [f"Best mean accuracy: {found[0].label} ({found[0].accuracy:.2f} %).",
             f"Helps: {', '.join(helps)}." if helps else "No method helps beyond doubt."]
    if hurts:
        parts.append(f"Hurts: {', '.join(hurts)}.")
    parts.append(f"({seeds} seed{'s' if seeds != 1 else ''} paired with the Baseline.)")
    return " ".join(parts)


def comparison_rows(found: list[Comparison]) -> Rows:
    rows = []
    for rank, c in enumerate(found, 1):
        accuracy = f"{c.accuracy:.2f}" + ("" if math.isnan(c.accuracy_std) else f" ± {c.accuracy_std:.2f}")
        if c.reference:
            delta, verdict = "(reference)", ""
        elif math.isnan(c.low):
            delta, verdict = ("–" if math.isnan(c.diff) else f"{c.diff:+.2f} (no interval: 1 seed)"), "no evidence either way"
        else:
            delta, verdict = f"{c.diff:+.2f} [{c.low:+.2f}, {c.high:+.2f}]", c.verdict
        rows.append([str(rank), c.label, accuracy, f"{c.balanced:.2f}", delta, str(c.n), verdict])
    return Rows(["Rank", "Method", "Accuracy", "Balanced acc.", "Δ vs Baseline [95 % CI]", "Seeds", "Verdict"], rows,
                "rlrrrrl")


def seeds_note(found: list[Comparison]) -> list[Block]:
    """The seeds needed, when no interval excludes 0."""
    others = [c for c in found if not c.reference]
    if any(c.verdict != "no evidence either way" for c in others if not math.isnan(c.low)):
        return []
    needed = []
    for c in others:
        n = seeds_needed(c.diff, c.diff_std)
        if c.n < 2:
            needed.append(f"{c.label} unknown (one seed shows no spread: run at least 2)")
        elif c.diff == 0:
            needed.append(f"{c.label} none would (its mean difference is 0)")
        else:
            needed.append(f"{c.label} {n}" if n else f"{c.label} more than {MAX_SEEDS}")
    seeds = max((c.n for c in others), default=0)
    return [Text(f"Every interval contains 0: {seeds} seed{'s' if seeds != 1 else ''} cannot tell these methods from "
                 "the Baseline. Seeds that would be needed to tell each observed difference from 0 if its spread "
                 "stays as observed (the smallest n with t(0.975, n − 1) · sd / √n ≤ |Δ|): "
                 + "; ".join(needed) + ".")]


def difference_figure(found: list[Comparison], where: str, folder: Path) -> list[Figure]:
    """The paired differences with their intervals, one row per method."""
    import matplotlib.pyplot as plt

    from benchmark.output.figures import colour, save, slug
    rows = [c for c in found if not c.reference and not math.isnan(c.diff)]
    if not rows:
        return []
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.38 * len(rows)))
    for y, c in enumerate(rows):
        if not math.isnan(c.low):
            ax.plot([c.low, c.high], [y, y], color=colour(c.method), linewidth=2.2, solid_capstyle="butt")
        ax.plot([c.diff], [y], "o", color=colour(c.method), ms=6)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{c.label} ({c.verdict})" for c in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("accuracy − Baseline accuracy (percentage points), paired by seed")
    ax.set_title(f"{where}: mean paired difference and 95 % CI (paired t)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return save(fig, folder, f"recommendation_{slug(where)}", f"Paired difference to the Baseline of each method on "
                f"{where}: mean over seeds (dot) and 95 % confidence interval of the paired t-test (line); right of 0: "
                "better than the Baseline.")
