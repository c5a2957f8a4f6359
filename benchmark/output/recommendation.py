"""The recommendation for a dataset without published numbers: which method helps on it?

Every method of a (dataset, shots, profile) trains on the same subset per seed, so each method is
compared with the reference Baseline seed by seed: the paired difference d_k = accuracy(method, seed
k) - accuracy(Baseline, seed k), over the seeds both finished. Its 95 % confidence interval is the
paired t interval, mean(d) ± t(0.975, n - 1) · sd(d) / sqrt(n) (Student's t; needs n >= 2), and its
p-value the paired t-test's (two-sided). The reference is the tuned Baseline where `tune` chose
values for the group's Baseline and its tuned runs finished (the default Baseline is then compared
with it on its own, outside the family below), else the Baseline with the recipe's values.

The methods of a group are m tests at once: each at 5 % would give a false "helps" or "hurts" with
probability up to 1 - 0.95^m. The p-values are therefore Holm-adjusted across the group's methods
(statsmodels' multipletests; family-wise error rate 5 %), and the verdict is read from the adjusted
p-value: "helps" when it is below 5 % and the mean difference is positive, "hurts" when below 5 %
and negative, else "no evidence either way". The intervals shown are the raw (unadjusted) 95 %
intervals. When no method gets a verdict, a note gives, per method, the seeds that would be
needed: the smallest n with t(1 - 0.05 / (2m), n - 1) · sd(d) / sqrt(n) <= |mean(d)|, the
Bonferroni level at which Holm rejects whatever the other methods show, with the difference and
spread seen so far.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from benchmark.output.document import Block, Figure, Heading, Rows, Text
from benchmark.output.reproduction import PAPER_DATASETS
from benchmark.spec import shots_order

BASELINE = "baseline"
ALPHA = 0.05  # the family-wise error rate of a group's verdicts
CONFIDENCE = 1 - ALPHA  # of the raw intervals
MAX_SEEDS = 1000  # "more than" this many seeds: no practical number
REFERENCE, DEFAULT, METHOD = "reference", "default", "method"  # a comparison's role


@dataclass(frozen=True)
class Comparison:
    """One method against the reference Baseline in one (dataset, shots, profile) group."""

    label: str
    method: str  # registry name (its colour)
    accuracy: float  # mean over its seeds
    accuracy_std: float
    balanced: float  # mean balanced accuracy
    n: int  # seeds paired with the reference
    diff: float  # mean paired difference of accuracy (percentage points); nan without pairs
    low: float  # the raw 95 % interval; nan with fewer than 2 pairs
    high: float
    diff_std: float  # sd of the paired differences (ddof 1)
    p: float  # the paired t-test's two-sided p-value; nan with fewer than 2 pairs
    role: str = METHOD  # REFERENCE; DEFAULT: the default Baseline against the tuned one; METHOD: in the family
    p_holm: float = math.nan  # Holm-adjusted across the group's family; nan outside it

    @property
    def reference(self) -> bool:
        return self.role == REFERENCE

    @property
    def in_family(self) -> bool:
        """Tested against the reference with the group's other methods (Holm-adjusted together)."""
        return self.role == METHOD and not math.isnan(self.p)

    @property
    def verdict(self) -> str:
        if self.reference:
            return ""
        p = self.p if self.role == DEFAULT else self.p_holm
        if p < ALPHA and self.diff > 0:
            return "helps"
        if p < ALPHA and self.diff < 0:
            return "hurts"
        return "no evidence either way"


@dataclass(frozen=True)
class Group:
    """A group's comparisons, best mean accuracy first, and its reference."""

    comparisons: list[Comparison]
    tuned: list[dict[str, Any]]  # the choices of the tuned reference's runs (`tune`); [] for the default Baseline

    @property
    def family(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.in_family]


def t_quantile(n: int, tests: int = 1) -> float:
    """The two-sided quantile of Student's t with n - 1 degrees of freedom at the level ALPHA / tests."""
    from scipy.stats import t
    return float(t.ppf(1 - ALPHA / (2 * tests), n - 1))


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


def paired_p(mean: float, sd: float, n: int) -> float:
    """The two-sided p-value of the paired t-test of n differences (nan below 2; a difference of no
    spread: 0, or 1 when it is 0)."""
    from scipy.stats import t
    if n < 2 or math.isnan(mean):
        return math.nan
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    return float(2 * t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (statsmodels)."""
    from statsmodels.stats.multitest import multipletests
    if not p_values:
        return []
    return [float(p) for p in multipletests(p_values, alpha=ALPHA, method="holm")[1]]


def seeds_needed(mean: float, sd: float, tests: int = 1) -> int | None:
    """The smallest n >= 2 whose interval half-width t(1 - ALPHA / (2 tests), n - 1) · sd / sqrt(n)
    is at most |mean|; None if no n up to MAX_SEEDS is enough."""
    if math.isnan(mean) or math.isnan(sd):
        return None
    for n in range(2, MAX_SEEDS + 1):
        if t_quantile(n, tests) * sd / math.sqrt(n) <= abs(mean):
            return n
    return None


def comparisons(group: pd.DataFrame) -> Group | None:
    """Every method of a group (rows of the results frame with accuracy) against its reference,
    best mean accuracy first, the family Holm-adjusted; None when the group has no Baseline runs."""
    baseline = (group["method_name"] == BASELINE) & (group["augment"] == "none") & (group["overrides"].map(len) == 0)
    tuned = group["tune"].map(lambda c: c is not None)
    untuned = group[baseline & ~tuned]
    # the Baseline with the recipe's values; where every run sets recipe values (a grid file's [recipe]), the first
    plain = untuned[untuned["method"] == untuned.sort_values("recipe", key=lambda r: r.map(len), kind="stable")
                    ["method"].iloc[0]] if not untuned.empty else untuned
    is_tuned = bool((baseline & tuned).any())
    reference_rows = group[baseline & tuned] if is_tuned else plain
    if reference_rows.empty:
        return None
    base = reference_rows.set_index("seed")["accuracy"]
    reference = reference_rows["method"].iloc[0]
    default = plain["method"].iloc[0] if is_tuned and not plain.empty else None
    found = []
    for label, runs in group.groupby("method", sort=False):
        acc = runs.set_index("seed")["accuracy"]
        paired = [float(acc[k] - base[k]) for k in acc.index if k in base.index]
        diff, low, high, sd = paired_interval(paired)
        role = REFERENCE if label == reference else DEFAULT if label == default else METHOD
        found.append(Comparison(str(label), str(runs["method_name"].iloc[0]), float(acc.mean()),
                                float(acc.std(ddof=1)) if len(acc) > 1 else math.nan,
                                float(runs["balanced_accuracy"].mean()), len(paired), diff, low, high, sd,
                                paired_p(diff, sd, len(paired)), role))
    family = [c for c in found if c.in_family]
    adjusted = dict(zip((c.label for c in family), holm([c.p for c in family])))
    found = [Comparison(**{**c.__dict__, "p_holm": adjusted.get(c.label, math.nan)}) for c in found]
    return Group(sorted(found, key=lambda c: -c.accuracy), list(reference_rows["tune"]) if is_tuned else [])


def recommendation_section(frame: pd.DataFrame, figures: Path | None,
                           log: Callable[[str], None] = print) -> list[Block]:
    """For each dataset without published numbers: per (shots, profile), the ranking, the paired
    differences to the reference Baseline and the Holm-corrected verdicts, with a figure of the
    differences (into `figures`)."""
    done = frame.dropna(subset=["accuracy"])
    done = done[~done["dataset"].isin(PAPER_DATASETS)]
    blocks: list[Block] = []
    groups = sorted(done.groupby(["dataset", "shots", "profile"], sort=False),
                    key=lambda item: (item[0][0], shots_order(item[0][1]), item[0][2]))
    for (dataset, shots, profile), rows in groups:
        group = comparisons(rows)
        if group is None or len(group.comparisons) < 2:
            continue
        where = f"{dataset}, {shots} shots, {profile} profile"
        blocks += [Heading(f"Recommendation: {where}", 3), *tuned_note(group), Text(summary(group)),
                   comparison_rows(group), *seeds_note(group)]
        if figures is not None:
            try:
                blocks += difference_figure(group, where, figures)
            except Exception as exc:  # noqa: BLE001  a figure problem must not lose the tables
                log(f"recommendation figure failed: {type(exc).__name__}: {exc}")
    if not blocks:
        return []
    return [Heading("Recommendation"), Text(
        "Which method helps on a dataset without published numbers. Every method trains on the same training "
        "subset per seed, so each is compared with the Baseline seed by seed: Δ = its accuracy minus the Baseline's, "
        "averaged over the seeds both finished, with the raw 95 % confidence interval and the p-value of the paired "
        "t-test (Student's t, n − 1 degrees of freedom). The Baseline is the tuned one where `tune` chose its values "
        "for the group (the default Baseline is then compared with it on its own), else the recipe's. Testing m "
        "methods at 5 % each would give a false verdict with probability up to 1 − 0.95^m, so the p-values of a "
        "group's methods are Holm-adjusted (family-wise error rate 5 %): a method **helps** when its adjusted p is "
        "below 0.05 and Δ is positive, **hurts** when below 0.05 and Δ negative, else there is no evidence either "
        "way. A raw interval may exclude 0 where the adjusted p does not reach 5 %. A verdict is about this dataset, "
        "these shots and this profile's recipe, over these subsets: not about another dataset, not about a method's "
        "tuned values (only the Baseline is tuned unless `tune` was run on the method), and \"no evidence\" is not "
        "evidence of no difference. Accuracy: top-1 test accuracy (%), mean ± std over seeds; balanced accuracy: the "
        "mean of the per-class recalls (%), mean over seeds."), *blocks]


def tuned_note(group: Group) -> list[Block]:
    """What the tuned reference is: its values against the recipe's, how they were searched, and
    its difference to the default Baseline."""
    if not group.tuned:
        return []
    first = group.tuned[0]
    values = sorted({tuple(sorted(c["values"].items())) for c in group.tuned})
    shown = "; ".join(", ".join(f"{k} = {v:.3g}" for k, v in each) for each in values)
    defaults = ", ".join(f"{k} = {v:.3g}" for k, v in first["defaults"].items())
    how = ("searched once, on the first seed's subset, and used for every seed" if first["mode"] == "first seed"
           else "searched on each seed's own subset (one set of values per seed)")
    text = (f"Reference: the tuned Baseline ({shown}; the recipe's: {defaults}), {how}: {first['trials']} trials of "
            f"{first['folds']}-fold cross-validation inside the training subset, no test image seen.")
    default = next((c for c in group.comparisons if c.role == DEFAULT), None)
    if default is not None and not math.isnan(default.diff):
        interval = "" if math.isnan(default.low) else f" [{default.low:+.2f}, {default.high:+.2f}], p = {p_text(default.p)}"
        outcome = {"helps": "the default Baseline is better", "hurts": "the tuned Baseline is better"}.get(
            default.verdict, "no evidence either way at 5 %")
        text += f" The default Baseline against it: Δ = {default.diff:+.2f}{interval} over {default.n} seeds ({outcome})."
    return [Text(text)]


def p_text(p: float) -> str:
    if math.isnan(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def summary(group: Group) -> str:
    found = group.comparisons
    family = group.family
    helps = [c.label for c in family if c.verdict == "helps"]
    hurts = [c.label for c in family if c.verdict == "hurts"]
    seeds = max((c.n for c in found if not c.reference), default=0)
    parts = [f"Best mean accuracy: {found[0].label} ({found[0].accuracy:.2f} %).",
             f"Helps: {', '.join(helps)}." if helps else "No method helps beyond doubt."]
    if hurts:
        parts.append(f"Hurts: {', '.join(hurts)}.")
    parts.append(f"({seeds} seed{'s' if seeds != 1 else ''} paired with the Baseline; Holm-adjusted across "
                 f"{len(family)} method{'s' if len(family) != 1 else ''}.)")
    return " ".join(parts)


def comparison_rows(group: Group) -> Rows:
    rows = []
    for rank, c in enumerate(group.comparisons, 1):
        accuracy = f"{c.accuracy:.2f}" + ("" if math.isnan(c.accuracy_std) else f" ± {c.accuracy_std:.2f}")
        p = "" if c.reference else f"{p_text(c.p)} / {p_text(c.p_holm)}" if c.role == METHOD else f"{p_text(c.p)} / –"
        if c.reference:
            delta, verdict = "(reference)", ""
        elif math.isnan(c.low):
            delta, verdict = ("–" if math.isnan(c.diff) else f"{c.diff:+.2f} (no interval: 1 seed)"), "no evidence either way"
        else:
            delta, verdict = f"{c.diff:+.2f} [{c.low:+.2f}, {c.high:+.2f}]", c.verdict
        if c.role == DEFAULT:
            verdict = "(untuned; not in the family)"
        rows.append([str(rank), c.label, accuracy, f"{c.balanced:.2f}", delta, p, str(c.n), verdict])
    return Rows(["Rank", "Method", "Accuracy", "Balanced acc.", "Δ vs Baseline [95 % CI]", "p / Holm p", "Seeds",
                 "Verdict"], rows, "rlrrrrrl")


def seeds_note(group: Group) -> list[Block]:
    """The seeds needed at the corrected level, when no method of the family gets a verdict."""
    family = group.family
    others = [c for c in group.comparisons if c.role == METHOD]
    if any(c.verdict != "no evidence either way" for c in family):
        return []
    m = max(len(family), 1)
    needed = []
    for c in others:
        n = seeds_needed(c.diff, c.diff_std, m)
        if c.n < 2:
            needed.append(f"{c.label} unknown (one seed shows no spread: run at least 2)")
        elif c.diff == 0:
            needed.append(f"{c.label} none would (its mean difference is 0)")
        else:
            needed.append(f"{c.label} {n}" if n else f"{c.label} more than {MAX_SEEDS}")
    seeds = max((c.n for c in others), default=0)
    level = ("t(0.975, n − 1) · sd / √n ≤ |Δ|" if m == 1 else
             f"t(1 − 0.05/(2·{m}), n − 1) · sd / √n ≤ |Δ|: the Bonferroni level 0.05/{m}, at which Holm rejects "
             "whatever the other methods show")
    return [Text(f"No corrected test tells a method from the Baseline: {seeds} seed{'s' if seeds != 1 else ''} "
                 f"cannot tell these methods from the Baseline. Seeds that would be needed to tell each observed "
                 f"difference from 0 if its spread stays as observed (the smallest n with {level}): "
                 + "; ".join(needed) + ".")]


def difference_figure(group: Group, where: str, folder: Path) -> list[Figure]:
    """The paired differences with their raw intervals, one row per method."""
    import matplotlib.pyplot as plt

    from benchmark.output.figures import colour, save, slug
    rows = [c for c in group.comparisons if not c.reference and not math.isnan(c.diff)]
    if not rows:
        return []
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.38 * len(rows)))
    for y, c in enumerate(rows):
        if not math.isnan(c.low):
            ax.plot([c.low, c.high], [y, y], color=colour(c.method), linewidth=2.2, solid_capstyle="butt")
        ax.plot([c.diff], [y], "o", color=colour(c.method), ms=6)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{c.label} ({c.verdict if c.role == METHOD else 'untuned'})" for c in rows], fontsize=8)
    ax.invert_yaxis()
    reference = "tuned Baseline" if group.tuned else "Baseline"
    ax.set_xlabel(f"accuracy − {reference} accuracy (percentage points), paired by seed")
    ax.set_title(f"{where}: mean paired difference and raw 95 % CI (paired t)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return save(fig, folder, f"recommendation_{slug(where)}", f"Paired difference to the {reference} of each method "
                f"on {where}: mean over seeds (dot) and raw 95 % confidence interval of the paired t-test (line); "
                "right of 0: better than the Baseline. The verdicts in brackets are Holm-corrected across the methods.")
