from benchmark.grids import grid_specs
from benchmark.report import write_report
from benchmark.store import Store


def fake_record(spec, accuracy, dataset_label, method_label):
    return {"run_id": spec.run_id, "spec": spec.to_dict(), "dataset_label": dataset_label, "method_label": method_label,
            "metrics": {"accuracy": accuracy}, "curve": {}, "timing": {}, "environment": {}}


def test_report_tables_show_mean_std_counts_and_the_published_numbers(tmp_path):
    store = Store(tmp_path / "results")
    specs = [s for s in grid_specs("table1") if s.dataset == "cifair10" and s.method == "baseline"]
    for s in specs:
        if s.shots == 5:
            store.write_record(fake_record(s, 30.0 + s.seed, "ciFAIR-10", "Baseline"))
        elif s.shots == 10 and s.seed < 2:
            store.write_record(fake_record(s, 40.0 + 2 * s.seed, "ciFAIR-10", "Baseline"))
    [path] = write_report(store, tmp_path / "out", "table1")
    text = path.read_text()
    assert "| Baseline | 32.00 ± 1.58 | 41.00 ± 1.41 (n=2) |" in text
    assert "31.37 ± 3.28" in text  # ChimeraMix Table 1, ciFAIR-10 baseline at 5 shots


def test_report_of_the_demo_says_there_are_no_published_numbers(tmp_path):
    store = Store(tmp_path / "results")
    spec = grid_specs("demo")[0]
    store.write_record(fake_record(spec, 70.0, "digits", "Baseline"))
    paths = write_report(store, tmp_path / "out")
    assert [p.parent.name for p in paths] == ["demo"]
    assert "No published numbers for digits." in paths[0].read_text()
