from benchmark.orchestration.grids import GRIDS
from benchmark.orchestration.store import Store
from benchmark.output.analysis.results import save_result
from benchmark.output.report import write_report
from helpers import add_untrained_stages, fake_record, grid_tasks

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def analysis_result(kind, sets):
    base = {"analysis": kind, "dataset": "digits", "dataset_label": "digits", "shots": 5, "seed": 0, "profile": "quick",
            "k": 64, "reference_size": 100, "reference_pool": 1297, "weights": "test", "model": "tiny",
            "synsets": 190, "root": "dog.n.01"}
    return {**base, "sets": sets}


def test_demo_report_figures_are_written_and_linked(tmp_path):
    store = Store(tmp_path / "results")
    for i, task in enumerate(grid_tasks("demo")):
        if task.spec.method in ("baseline", "mixup", "chimeramix_grid") or task.spec.shots == 5:
            store.write_record(fake_record(task, 50 + task.spec.shots + i % 3))
    for method in ("chimeramix_grid", "chimeramix_seg", "hydramix"):
        add_untrained_stages(store, method, shots=5, seed=0)
    save_result(store, "fid", "demo-fid", analysis_result("fid", [
        {"name": "original", "label": "Original", "fid": 20.0, "k": 64},
        {"name": "mixup", "label": "MixUp", "fid": 80.0, "k": 64},
        {"name": "hydramix", "label": "HydraMix", "fid": 150.0, "k": 64}]))
    save_result(store, "cse", "demo-cse", analysis_result("cse", [
        {"name": "original", "label": "Original", "entropy_bits": 2.5, "distinct": 9, "k": 64, "top": []},
        {"name": "hydramix", "label": "HydraMix", "entropy_bits": 3.5, "distinct": 17, "k": 64, "top": []}]))
    [path] = write_report(store, tmp_path / "out", "demo", data_dir=tmp_path / "data")
    figures = path.parent / "figures"
    for name in ("accuracy_digits", "fid", "cse", "samples_chimeramix_grid", "samples_chimeramix_seg", "samples_hydramix"):
        for suffix in ("png", "pdf"):
            assert (figures / f"{name}.{suffix}").stat().st_size > 1000, name
    text = path.read_text()
    assert "(figures/accuracy_digits.png)" in text and "\\includegraphics" in (path.parent / "report.tex").read_text()
    assert "## FID of generated sets" in text and "Original 20, MixUp 80, HydraMix 150" in text
    assert "## CLIP Synset Entropy" in text and "HydraMix 3.50 bits / 17 synsets" in text


@pytest.mark.skipif("fig4" not in GRIDS, reason="no fig4 grid")
def test_generator_ablation_bars(tmp_path):
    store = Store(tmp_path / "results")
    for task in grid_tasks("fig4"):
        if task.dataset == "cifair10" and task.spec.seed < 3:
            store.write_record(fake_record(task, {"chimeramix_grid": 37, "gridmix": 30, "hydramix": 39,
                                                  "hydramix_direct": 32}[task.spec.method] + task.spec.seed))
    [path] = write_report(store, tmp_path / "out", "fig4")
    figures = path.parent / "figures"
    assert (figures / "generator_ablation.png").stat().st_size > 1000
    assert (figures / "generator_ablation.pdf").stat().st_size > 1000
    assert (figures / "accuracy_cifair-10.pdf").stat().st_size > 1000  # one shots value: a bar per method
