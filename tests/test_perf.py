from benchmark.perf import format_table, run_perf


def test_perf_measures_every_requested_method():
    rows = run_perf("baseline,mixup,autoaugment", "digits", "quick", steps=2)
    assert [r["method"] for r in rows] == ["baseline", "mixup", "autoaugment"]
    for r in rows:
        assert r["step_ms"] > 0 and r["bare_ms"] > 0 and r["images_per_s"] > 0
        assert r["loop_efficiency"] > 0  # a ratio of two noisy timings: no upper bound on a loaded machine
    table = format_table(rows)
    assert "loop eff." in table and "baseline" in table
