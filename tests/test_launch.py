import pytest

from benchmark.orchestration import worker
from benchmark.cli import main
from benchmark.orchestration.grids import grid_specs, select
from benchmark.orchestration.store import Store

SLICE = ["--grid", "demo", "--methods", "baseline,cutout", "--shots", "5", "--seeds", "0"]


def test_debug_executor_runs_then_skips_finished_runs(capsys, tmp_path):
    results = str(tmp_path / "results")
    assert main(["run", *SLICE, "--executor", "debug", "--quiet", "--results-dir", results]) == 0
    assert "2 runs finished, 0 already done, 0 failed" in capsys.readouterr().out
    store = Store(tmp_path / "results")
    specs = select(grid_specs("demo"), "demo", "baseline,cutout", None, "5", "0")
    mtimes = [store.record_path(s.id).stat().st_mtime_ns for s in specs]
    assert main(["run", *SLICE, "--executor", "debug", "--quiet", "--results-dir", results]) == 0
    assert "0 runs finished, 2 already done" in capsys.readouterr().out
    assert [store.record_path(s.id).stat().st_mtime_ns for s in specs] == mtimes


def test_a_failing_run_is_noted_and_the_others_finish(capsys, tmp_path, monkeypatch):
    real = worker.execute

    def flaky(task, *args, **kwargs):
        if task.spec.method == "cutout":
            raise RuntimeError("out of memory")
        return real(task, *args, **kwargs)

    monkeypatch.setattr(worker, "execute", flaky)
    results = str(tmp_path / "results")
    assert main(["run", *SLICE, "--executor", "debug", "--quiet", "--results-dir", results]) == 1
    out = capsys.readouterr().out
    assert "1 runs finished, 0 already done, 1 failed" in out and "RuntimeError: out of memory" in out
    main(["status", "--grid", "demo", "--methods", "cutout", "--shots", "5", "--seeds", "0", "--results-dir", results])
    assert "error: RuntimeError: out of memory" in capsys.readouterr().out


@pytest.mark.slow
def test_local_executor_runs_in_parallel_processes(capsys, tmp_path):
    results = tmp_path / "results"
    argv = ["run", "--grid", "demo", "--methods", "baseline,mixup", "--shots", "5", "--results-dir", str(results), "--quiet"]
    assert main([*argv, "--workers", "2"]) == 0
    assert "4 runs finished" in capsys.readouterr().out
    records = list(Store(results).records())
    assert len(records) == 4 and all(r.accuracy > 20 for r in records)
    assert {r.environment["threads"] for r in records} == {1}  # 2 cores shared by 2 workers
    assert len(list((results / "jobs" / "local").glob("*_log.err"))) == 2
