import json

import pytest

from benchmark.cli import main
from benchmark.output.perf import check_regressions, confirmed_regressions, format_table, load_baseline, run_perf


def test_perf_measures_every_requested_method():
    rows = run_perf("baseline,mixup,autoaugment,gridmix", "digits", "quick", steps=2, progress=False)
    assert [r["method"] for r in rows] == ["baseline", "mixup", "autoaugment", "gridmix"]
    for r in rows:
        assert r["step_ms"] > 0 and r["bare_ms"] > 0 and r["images_per_s"] > 0
        assert r["tiny_step_ms"] > 0 and r["tiny_bare_ms"] > 0
        assert r["overhead_ms"] == pytest.approx(r["tiny_step_ms"] - r["tiny_bare_ms"])
        assert r["loop_efficiency"] > 0  # a ratio of two noisy timings: no upper bound on a loaded machine
    gridmix = rows[-1]
    assert gridmix["generated_step_ms"] > 0 and gridmix["generated_overhead_ms"] is not None
    assert rows[0]["generated_step_ms"] is None  # baseline has no generated batches
    table = format_table(rows)
    assert "loop eff." in table and "overhead" in table and "baseline" in table


def test_overhead_only_skips_the_recipe_model():
    (row,) = run_perf("cutout", "digits", "paper", steps=1, overhead_only=True, progress=False)
    assert row["step_ms"] is None and row["loop_efficiency"] is None and row["overhead_ms"] is not None
    assert "-" in format_table([row])


def perf_row(method, overhead, generated=None, bf16=False):
    return {"method": method, "dataset": "cifair10", "profile": "paper", "overhead_ms": overhead,
            "generated_overhead_ms": generated, "generator_bf16": bf16}


def test_check_flags_only_figures_above_twice_the_baseline(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps([perf_row("baseline", 1.0), perf_row("cutout", 1.0), perf_row("hydramix", 1.0, 200.0)]))
    rows = [perf_row("baseline", 1.9), perf_row("cutout", 2.5), perf_row("hydramix", 1.0, 450.0), perf_row("new", 9.0)]
    found = check_regressions(rows, load_baseline(baseline))
    assert list(found) == ["cutout", "hydramix"]
    assert found["cutout"] == ["cutout: overhead_ms 2.50 ms, baseline 1.00 ms (2.5x)"]
    assert found["hydramix"][0].startswith("hydramix: generated_overhead_ms 450.00 ms")
    bf16_baseline = tmp_path / "bf16.json"  # measured where the generator decoded in bf16: not comparable
    bf16_baseline.write_text(json.dumps([perf_row("hydramix", 1.0, 200.0, bf16=True)]))
    assert check_regressions([perf_row("hydramix", 1.0, 450.0)], load_baseline(bf16_baseline)) == {}


def test_a_regression_counts_only_when_a_second_measurement_confirms_it(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps([perf_row("baseline", 1.0), perf_row("cutout", 1.0)]))
    rows = [perf_row("baseline", 2.5), perf_row("cutout", 2.5)]
    asked = []

    def remeasure(names):
        asked.extend(names)
        return [perf_row("baseline", 1.2), perf_row("cutout", 3.0)]  # baseline was slow by chance

    assert confirmed_regressions(rows, load_baseline(baseline), remeasure) == ["cutout: overhead_ms 2.50 ms, baseline 1.00 ms (2.5x)"]
    assert asked == ["baseline", "cutout"]


def test_check_exits_1_on_a_regression_and_2_without_a_baseline(tmp_path, capsys, monkeypatch):
    measured = {**perf_row("baseline", 5.0), "dataset": "digits", "profile": "quick", "model": "cnn", "batch": 10,
                "step_ms": None, "images_per_s": None, "bare_ms": None, "loop_efficiency": None,
                "generated_step_ms": None, "generated_ratio": None, "device": "cpu", "threads": 2, "compiled": False}
    monkeypatch.setattr("benchmark.output.perf.run_perf", lambda *a, **k: [measured])  # timings: test_perf_measures_...
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps([{**perf_row("baseline", 1.0), "dataset": "digits", "profile": "quick"}]))
    args = ["perf", "--methods", "baseline", "--dataset", "digits", "--profile", "quick", "--steps", "1", "--overhead-only"]
    assert main([*args, "--check", str(baseline)]) == 1
    assert "PERF REGRESSION" in capsys.readouterr().err
    assert main([*args, "--check", str(tmp_path / "missing.json")]) == 2
    assert "--check: no file" in capsys.readouterr().err


def test_a_check_file_that_is_not_perf_json_fails_before_measuring(tmp_path, capsys, monkeypatch):
    def measured(*args, **kwargs):
        raise AssertionError("measured before the --check file was read")

    monkeypatch.setattr("benchmark.output.perf.run_perf", measured)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    assert main(["perf", "--overhead-only", "--check", str(garbage)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --check: {garbage} is not the output of `perf --json`"]


def test_a_binary_check_file_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("benchmark.output.perf.run_perf", lambda *a, **k: pytest.fail("measured"))
    binary = tmp_path / "baseline.json"
    binary.write_bytes(bytes(range(256)))
    assert main(["perf", "--overhead-only", "--check", str(binary)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: --check: {binary} is not the output of `perf --json`"]


def test_a_negative_overhead_is_a_measurement_error_not_a_figure_or_a_regression(tmp_path):
    from benchmark.output.perf import measurement_errors
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps([perf_row("cutout", 0.1)]))
    rows = [{**perf_row("cutout", -0.3), "model": "wrn-16-8", "batch": 10, "step_ms": None, "images_per_s": None,
             "bare_ms": None, "loop_efficiency": None, "generated_step_ms": None, "generated_ratio": None,
             "device": "cpu", "threads": 2, "compiled": False}]
    assert check_regressions(rows, load_baseline(baseline)) == {}
    assert measurement_errors(rows) == ["cutout: overhead_ms measured -0.30 ms, a measurement error (timing noise), "
                                        "not a figure"]
    line = format_table(rows).splitlines()[1]
    assert "noise" in line and "-0.30" not in line


@pytest.mark.parametrize("saved", [{}, {"overhead_ms": None}, {"dataset": "stl10"}])
def test_a_check_that_compares_nothing_exits_2(tmp_path, capsys, monkeypatch, saved):
    """A baseline whose rows lack the figures (or are of another dataset) compares nothing: said in
    one line, exit 2 (it used to say "no overhead above 2x" and exit 0)."""
    measured = {**perf_row("baseline", 5.0), "dataset": "digits", "profile": "quick", "model": "cnn", "batch": 10,
                "step_ms": None, "images_per_s": None, "bare_ms": None, "loop_efficiency": None,
                "generated_step_ms": None, "generated_ratio": None, "device": "cpu", "threads": 2, "compiled": False}
    monkeypatch.setattr("benchmark.output.perf.run_perf", lambda *a, **k: [measured])
    row = {"method": "baseline", "dataset": "digits", "profile": "quick", **saved}
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps([row]))
    assert main(["perf", "--methods", "baseline", "--dataset", "digits", "--profile", "quick", "--overhead-only",
                 "--check", str(baseline)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --check: compared nothing: {baseline} has no overhead_ms")


def test_a_check_file_with_a_figure_that_is_no_number_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("benchmark.output.perf.run_perf", lambda *a, **k: pytest.fail("measured"))
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps([perf_row("baseline", "fast")]))
    assert main(["perf", "--overhead-only", "--check", str(baseline)]) == 2
    assert "a figure that is not a number" in capsys.readouterr().err
