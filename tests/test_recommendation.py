"""The recommendation for a dataset without published numbers: paired differences to the baseline,
their raw 95 % intervals, the Holm-corrected verdicts, the tuned Baseline as the reference, the
seeds needed at the corrected level, and the section of the report."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from benchmark.output.document import Heading, Rows, Text
from benchmark.output.recommendation import (comparisons, holm, paired_interval, paired_p, recommendation_section,
                                             seeds_needed)


def test_the_paired_interval_is_the_paired_t_tests() -> None:
    method, base = [71.0, 64.5, 70.2, 66.0, 69.9], [68.0, 63.0, 66.1, 65.5, 66.0]
    diffs = [m - b for m, b in zip(method, base)]
    mean, low, high, sd = paired_interval(diffs)
    expected = stats.ttest_rel(method, base).confidence_interval(0.95)
    assert mean == pytest.approx(sum(diffs) / 5)
    assert (low, high) == (pytest.approx(expected.low), pytest.approx(expected.high))
    assert sd == pytest.approx(stats.tstd(diffs))
    assert math.isnan(paired_interval([1.5])[1]) and math.isnan(paired_interval([])[0])


def test_seeds_needed_is_the_smallest_n_whose_interval_excludes_zero() -> None:
    n = seeds_needed(1.0, 2.0)
    half = lambda k: stats.t.ppf(0.975, k - 1) * 2.0 / math.sqrt(k)  # noqa: E731
    assert half(n) <= 1.0 < half(n - 1)
    assert seeds_needed(0.0, 2.0) is None and seeds_needed(math.nan, 1.0) is None


def frame(accuracies: dict[str, list[float]], dataset: str = "folder:pets", tuned: list[float] | None = None,
          once: bool = True) -> pd.DataFrame:
    """A results frame (benchmark.output.report.results_frame) of one dataset, 5 shots, these accuracies per
    seed; `tuned`: a tuned Baseline's accuracies too."""
    rows = []
    for method, values in accuracies.items():
        for seed, acc in enumerate(values):
            rows.append({"dataset": dataset, "dataset_name": dataset, "method": method.capitalize(),
                         "method_name": method, "augment": "none", "overrides": {}, "recipe": {}, "shots": 5,
                         "seed": seed, "profile": "medium", "accuracy": acc, "balanced_accuracy": acc - 1, "tune": None})
    for seed, acc in enumerate(tuned or []):
        values = {"lr": 0.05 if once else 0.05 + seed / 100, "weight_decay": 0.001}
        choice = {"values": values, "defaults": {"lr": 0.02, "weight_decay": 0.0005}, "trials": 16, "folds": 5,
                  "mode": "first seed" if once else "per seed"}
        rows.append({"dataset": dataset, "dataset_name": dataset, "method": "Baseline (tuned)", "method_name": "baseline",
                     "augment": "none", "overrides": {}, "recipe": values, "shots": 5, "seed": seed, "profile": "medium",
                     "accuracy": acc, "balanced_accuracy": acc - 1, "tune": choice})
    return pd.DataFrame(rows)


SEEDS = {"baseline": [50.0, 55.0, 60.0, 52.0, 58.0],
         "mixup": [53.0, 58.5, 62.5, 55.5, 61.0],  # +3.1 on average: +3, +3.5, +2.5, +3.5, +3
         "cutout": [47.0, 51.5, 57.5, 48.5, 55.0],  # -3 each seed
         "cosine": [52.0, 53.0, 63.0, 50.0, 59.0]}  # +0.4, spread 2.6


def test_verdicts_ranking_and_section(tmp_path) -> None:
    found = {c.method: c for c in comparisons(frame(SEEDS)).comparisons}
    assert [c.method for c in comparisons(frame(SEEDS)).comparisons] == ["mixup", "cosine", "baseline", "cutout"]
    assert (found["mixup"].verdict, found["cutout"].verdict) == ("helps", "hurts")
    assert found["cosine"].verdict == "no evidence either way" and found["baseline"].reference
    assert found["mixup"].n == 5 and found["mixup"].diff == pytest.approx(3.1)
    assert found["mixup"].balanced == pytest.approx(sum(SEEDS["mixup"]) / 5 - 1)
    blocks = recommendation_section(frame(SEEDS), tmp_path)
    text = "\n".join(b.text for b in blocks if isinstance(b, (Text, Heading)))
    assert "Recommendation: folder:pets, 5 shots, medium profile" in text and "Helps: Mixup." in text
    assert "Hurts: Cutout." in text and "Every interval contains 0" not in text  # an interval excludes 0
    table = next(b for b in blocks if isinstance(b, Rows))
    assert [row[1] for row in table.rows] == ["Mixup", "Cosine", "Baseline", "Cutout"]
    assert table.rows[0][4] == "+3.10 [+2.58, +3.62]" and table.rows[0][7] == "helps"
    assert table.rows[0][5] == "< 0.001 / < 0.001" and table.rows[2][5] == ""  # raw / Holm p; none for the reference
    assert (tmp_path / "recommendation_folder-pets--5-shots--medium-profile.png").is_file()


def test_too_few_seeds_say_how_many_would_be_needed() -> None:
    two = {method: values[:2] for method, values in SEEDS.items() if method in ("baseline", "cosine")}
    text = " ".join(b.text for b in recommendation_section(frame(two), None) if isinstance(b, Text))
    n = seeds_needed(2.0 - 2.0, 1.0)  # cosine: +2 then -2: no difference observed
    assert n is None and "No corrected test tells a method from the Baseline: 2 seeds cannot tell" in text
    assert "Cosine none would (its mean difference is 0)" in text


def test_no_recommendation_for_published_datasets_or_without_a_baseline() -> None:
    assert recommendation_section(frame(SEEDS, dataset="ciFAIR-10"), None) == []
    assert recommendation_section(frame({m: v for m, v in SEEDS.items() if m != "baseline"}), None) == []


def test_the_p_value_is_the_paired_t_tests_and_holm_is_step_down() -> None:
    method, base = [71.0, 64.5, 70.2, 66.0, 69.9], [68.0, 63.0, 66.1, 65.5, 66.0]
    mean, _, _, sd = paired_interval([m - b for m, b in zip(method, base)])
    assert paired_p(mean, sd, 5) == pytest.approx(stats.ttest_rel(method, base).pvalue)
    assert paired_p(-3.0, 0.0, 5) == 0.0 and paired_p(0.0, 0.0, 5) == 1.0 and math.isnan(paired_p(1.0, 1.0, 1))
    # Holm by hand: sorted 0.01, 0.02, 0.04 -> 3 x 0.01, max(0.03, 2 x 0.02), max(0.04, 1 x 0.04)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])


# Ten methods: one with a clear gain, nine within noise; two of these have raw intervals above 0 that do
# not survive the correction (the situation of issue 22: "Helps: Cosine, ChimeraMix+Seg" with low ends
# at +0.70 and +0.44, ten comparisons, no correction).
BASE = [60.0, 62.0, 58.0, 61.0, 59.0]
TEN = {"baseline": BASE,
       "mixup": [b + d for b, d in zip(BASE, [4.0, 4.2, 3.9, 4.1, 4.0])],  # clear: p ~ 1e-7
       "cosine": [b + d for b, d in zip(BASE, [0.5, 2.5, 1.0, 2.0, 1.5])],  # raw interval above 0, p ~ 0.013
       "cutout": [b + d for b, d in zip(BASE, [0.2, 1.8, 0.6, 1.4, 1.0])],  # raw interval above 0, p ~ 0.03
       **{name: [b + d for b, d in zip(BASE, [1.0, -1.0, 0.5, -0.5, 0.0])]
          for name in ("random_erasing", "glico", "supermix", "scattering", "chimeramix_grid", "chimeramix_seg",
                       "manifold_mixup")}}


def test_verdicts_are_holm_corrected_across_the_groups_methods() -> None:
    group = comparisons(frame(TEN))
    found = {c.method: c for c in group.comparisons}
    assert len(group.family) == 10
    assert found["cosine"].low > 0 and found["cutout"].low > 0  # uncorrected: both would "help"
    assert found["cosine"].p < 0.05 and found["cosine"].p_holm >= 0.05
    assert (found["cosine"].verdict, found["cutout"].verdict) == ("no evidence either way",) * 2
    assert found["mixup"].verdict == "helps" and found["mixup"].p_holm < 0.05
    expected = holm([c.p for c in group.family])
    assert [c.p_holm for c in group.family] == pytest.approx(expected)
    text = " ".join(b.text for b in recommendation_section(frame(TEN), None) if isinstance(b, Text))
    assert "Helps: Mixup." in text and "Holm-adjusted across 10 methods" in text


def test_seeds_needed_use_the_corrected_level() -> None:
    n1, n10 = seeds_needed(1.0, 2.0), seeds_needed(1.0, 2.0, tests=10)
    half = lambda k: stats.t.ppf(1 - 0.05 / 20, k - 1) * 2.0 / math.sqrt(k)  # noqa: E731
    assert n10 > n1 and half(n10) <= 1.0 < half(n10 - 1)
    noisy = {"baseline": BASE, "cosine": [b + d for b, d in zip(BASE, [1.0, -1.0, 2.0, 0.5, 0.0])],
             "cutout": [b + d for b, d in zip(BASE, [0.0, 1.0, -1.0, 0.5, 0.5])]}
    text = " ".join(b.text for b in recommendation_section(frame(noisy), None) if isinstance(b, Text))
    assert "t(1 − 0.05/(2·2), n − 1) · sd / √n ≤ |Δ|: the Bonferroni level 0.05/2, at which Holm rejects" in text


@pytest.mark.parametrize("once", [True, False])
def test_a_tuned_baseline_is_the_reference(once) -> None:
    tuned = [b + 2.0 + 0.1 * k for k, b in enumerate(SEEDS["baseline"])]  # tuning gains ~2.2 points
    group = comparisons(frame(SEEDS, tuned=tuned, once=once))
    found = {c.label: c for c in group.comparisons}
    assert found["Baseline (tuned)"].reference and found["Baseline"].role == "default"
    assert found["Baseline"].diff == pytest.approx(-2.2) and found["Baseline"].verdict == "hurts"
    assert found["Mixup"].diff == pytest.approx(3.1 - 2.2) and "Baseline" not in [c.label for c in group.family]
    assert len(group.family) == 3 and len(group.tuned) == 5
    blocks = recommendation_section(frame(SEEDS, tuned=tuned, once=once), None)
    text = " ".join(b.text for b in blocks if isinstance(b, Text))
    assert "Reference: the tuned Baseline (lr = 0.05, weight_decay = 0.001" in text or not once
    assert ("searched once, on the first seed's subset" in text) == once
    assert "the recipe's: lr = 0.02, weight_decay = 0.0005" in text and "16 trials of 5-fold cross-validation" in text
    assert "The default Baseline against it: Δ = -2.20" in text and "(the tuned Baseline is better)" in text
    table = next(b for b in blocks if isinstance(b, Rows))
    assert ["Baseline", "(untuned; not in the family)"] == [next(r for r in table.rows if r[1] == "Baseline")[i]
                                                           for i in (1, 7)]
