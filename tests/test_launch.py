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


def test_feedback_is_a_line_per_finished_task_off_a_terminal(capsys, tmp_path):
    results = str(tmp_path / "results")
    argv = ["run", "--grid", "demo", "--methods", "baseline,chimeramix_grid", "--shots", "5", "--seeds", "0",
            "--executor", "debug", "--results-dir", results]
    assert main([*argv, "--methods", "baseline"]) == 0
    err = capsys.readouterr().err
    assert "1 runs: 0 already done, 1 to train" in err
    assert "[1/1] finished run: baseline digits shots=5 seed=0 [quick]: accuracy " in err and "\r" not in err
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "2 runs: 1 already done, 1 to train; 1 stages needed: 0 already trained, 1 to train"
    assert err[1].startswith("[1/2] finished generator stage: generator digits shots=5 seed=0 [quick] mask=grid")
    assert err[2].startswith("[2/2] finished run: chimeramix_grid digits shots=5 seed=0 [quick]: accuracy ")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_local_run_stops_every_worker_with_one_line(how, tmp_path):
    """Ctrl-C reaches the whole process group (as a terminal sends it), SIGTERM only `run`: either
    way every worker stops, one line is printed, no traceback, and a rerun resumes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    results = tmp_path / "results"
    argv = [sys.executable, "-m", "benchmark", "run", "--grid", "demo", "--methods", "baseline,cutout", "--shots", "20",
            "--seeds", "0", "--workers", "2", "--checkpoint-every", "0", "--quiet", "--results-dir", str(results)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    progress = results / "progress"
    while not (progress.is_dir() and any(p.read_text().split()[0] != "0" for p in progress.iterdir())):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)  # waits on progress (an epoch ended), not on the clock
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=1800)
    assert proc.returncode == (130 if how == "ctrl-c" else 143)
    assert "Traceback" not in out + err and err.strip().splitlines()[-1].endswith(
        "finished runs are kept; run the same command again to resume")
    workers = subprocess.run(["pgrep", "-f", str(results)], capture_output=True, text=True).stdout.split()
    assert workers == [], "a worker outlived `run`"
    assert subprocess.run(argv, capture_output=True, text=True).returncode == 0
    assert len(list((results / "runs").glob("*.json"))) == 2
