"""The recommendation for a dataset without published numbers: paired differences to the baseline,
their 95 % intervals, the verdicts, the seeds needed, and the section of the report."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from benchmark.output.document import Heading, Rows, Text
from benchmark.output.recommendation import comparisons, paired_interval, recommendation_section, seeds_needed


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


def frame(accuracies: dict[str, list[float]], dataset: str = "folder:pets") -> pd.DataFrame:
    """A results frame (benchmark.output.report.results_frame) of one dataset, 5 shots, these accuracies per seed."""
    rows = []
    for method, values in accuracies.items():
        for seed, acc in enumerate(values):
            rows.append({"dataset": dataset, "dataset_name": dataset, "method": method.capitalize(),
                         "method_name": method, "augment": "none", "overrides": {}, "shots": 5, "seed": seed,
                         "profile": "medium", "accuracy": acc, "balanced_accuracy": acc - 1})
    return pd.DataFrame(rows)


SEEDS = {"baseline": [50.0, 55.0, 60.0, 52.0, 58.0],
         "mixup": [53.0, 58.5, 62.5, 55.5, 61.0],  # +3.1 on average: +3, +3.5, +2.5, +3.5, +3
         "cutout": [47.0, 51.5, 57.5, 48.5, 55.0],  # -3 each seed
         "cosine": [52.0, 53.0, 63.0, 50.0, 59.0]}  # +0.4, spread 2.6


def test_verdicts_ranking_and_section(tmp_path) -> None:
    found = {c.method: c for c in comparisons(frame(SEEDS))}
    assert [c.method for c in comparisons(frame(SEEDS))] == ["mixup", "cosine", "baseline", "cutout"]
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
    assert table.rows[0][4] == "+3.10 [+2.58, +3.62]" and table.rows[0][6] == "helps"
    assert (tmp_path / "recommendation_folder-pets--5-shots--medium-profile.png").is_file()


def test_too_few_seeds_say_how_many_would_be_needed() -> None:
    two = {method: values[:2] for method, values in SEEDS.items() if method in ("baseline", "cosine")}
    text = " ".join(b.text for b in recommendation_section(frame(two), None) if isinstance(b, Text))
    n = seeds_needed(2.0 - 2.0, 1.0)  # cosine: +2 then -2: no difference observed
    assert n is None and "Every interval contains 0: 2 seeds cannot tell these methods from the Baseline" in text
    assert "Cosine none would (its mean difference is 0)" in text


def test_no_recommendation_for_published_datasets_or_without_a_baseline() -> None:
    assert recommendation_section(frame(SEEDS, dataset="ciFAIR-10"), None) == []
    assert recommendation_section(frame({m: v for m, v in SEEDS.items() if m != "baseline"}), None) == []
