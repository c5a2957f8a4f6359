"""Claims: a run or stage is trained by one process at a time; a second launch on the same results
directory leaves claimed work alone and says so; a stale claim is taken over."""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time

import pytest

from benchmark.orchestration import claims
from benchmark.orchestration.claims import claim_path, claimed, holder
from benchmark.orchestration.store import Store
from helpers import grid_tasks

TASK = "0123456789abcdef"


def write_claim(root, host: str, pid: int, age_s: float = 0.0, job: str | None = None):
    path = claim_path(root, TASK)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": host, "pid": pid, "job": job, "token": "theirs"}))
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


@pytest.fixture
def live_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_claim_is_held_for_the_block_and_released(tmp_path):
    with claimed(tmp_path, TASK) as busy:
        assert busy is None
        mine = json.loads(claim_path(tmp_path, TASK).read_text())
        assert (mine["host"], mine["pid"]) == (platform.node(), os.getpid())
    assert not claim_path(tmp_path, TASK).exists() and list(claim_path(tmp_path, TASK).parent.iterdir()) == []


def test_a_live_process_keeps_its_claim_until_it_dies(tmp_path, live_process):
    path = write_claim(tmp_path, platform.node(), live_process.pid)
    with claimed(tmp_path, TASK) as busy:
        assert busy is not None and busy.pid == live_process.pid
    assert json.loads(path.read_text())["token"] == "theirs"  # left alone
    live_process.kill()
    live_process.wait()
    with claimed(tmp_path, TASK) as busy:
        assert busy is None and json.loads(path.read_text())["pid"] == os.getpid()


def test_another_hosts_claim_is_stale_once_its_heartbeat_is_old(tmp_path):
    write_claim(tmp_path, "node-elsewhere", 1, age_s=claims.STALE_S / 2)
    assert holder(tmp_path, TASK).host == "node-elsewhere"
    write_claim(tmp_path, "node-elsewhere", 1, age_s=claims.STALE_S + 5)
    assert holder(tmp_path, TASK) is None
    with claimed(tmp_path, TASK) as busy:
        assert busy is None


def test_the_heartbeat_keeps_a_long_claim_fresh(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "HEARTBEAT_S", 0.05)
    with claimed(tmp_path, TASK):
        path = claim_path(tmp_path, TASK)
        os.utime(path, (0, 0))
        deadline = time.monotonic() + 1800
        while path.stat().st_mtime == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert time.time() - path.stat().st_mtime < claims.STALE_S


def test_a_requeued_job_takes_over_its_own_claim(tmp_path, monkeypatch, live_process):
    write_claim(tmp_path, "node-elsewhere", live_process.pid, job="77_3")
    assert holder(tmp_path, TASK) is not None
    monkeypatch.setattr(claims, "current_job", lambda: "77_3")
    assert holder(tmp_path, TASK) is None


def test_an_invalid_claim_is_set_aside(tmp_path, capsys):
    path = claim_path(tmp_path, TASK)
    path.parent.mkdir(parents=True)
    path.write_text("[1, 2]")
    with claimed(tmp_path, TASK) as busy:
        assert busy is None
    assert path.with_name(path.name + ".invalid").exists()
    assert capsys.readouterr().err.count("warning:") == 1


def run_command(results, seeds: str) -> list[str]:
    return [sys.executable, "-m", "benchmark", "run", "--grid", "demo", "--methods", "baseline", "--shots", "5",
            "--seeds", seeds, "--executor", "debug", "--quiet", "--results-dir", str(results)]


@pytest.mark.slow
def test_two_identical_runs_train_each_run_once(tmp_path):
    results = tmp_path / "results"
    procs = [subprocess.Popen(run_command(results, "0,1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=1800) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    finished = [int(out.split(" runs finished")[0].split()[-1]) for out, _ in outs]
    assert sum(finished) == 2, outs  # each of the 2 runs trained by one of the two commands
    assert any("another process" in out + err for out, err in outs), outs
    store = Store(results)
    assert all(store.is_done(t.id) for t in grid_tasks("demo") if t.spec.method == "baseline" and t.spec.shots == 5)
    assert not list((results / "claims").glob("*.json"))


@pytest.mark.slow
def test_a_claim_left_by_a_killed_run_is_taken_over(tmp_path, live_process):
    """A claim of a live process keeps `run` off the task (and it says so); once that process is
    dead, the next `run` takes the claim over and trains it."""
    results = tmp_path / "results"
    (task,) = [t for t in grid_tasks("demo") if (t.spec.method, t.spec.shots, t.spec.seed) == ("baseline", 5, 0)]
    path = claim_path(results, task.id)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"host": platform.node(), "pid": live_process.pid, "job": None, "token": "x"}))
    argv = run_command(results, "0")
    first = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    assert first.returncode == 0 and "0 runs finished, 0 already done, 0 failed, 1 left to another process" in first.stdout
    assert f"skipping 1 run(s) that another process is training (pid {live_process.pid} on" in first.stderr
    live_process.kill()
    live_process.wait()
    second = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    assert second.returncode == 0 and "1 runs finished" in second.stdout
    assert Store(results).is_done(task.id) and not path.exists()


@pytest.mark.slow
def test_two_identical_runs_each_announce_only_what_they_trained(tmp_path):
    """Each command's line per task says `finished run` for the runs it trained, and that it left the
    others to another process (it used to say `finished run` for the other's runs too)."""
    results = tmp_path / "results"
    argv = [*run_command(results, "0,1"), "--executor", "local", "--workers", "1"]
    argv.remove("--quiet")
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=1800) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    for out, err in outs:
        summary = re.search(r"(\d+) runs finished, .*?(?:, (\d+) left to another process)?; records", out)
        finished, left = int(summary[1]), int(summary[2] or 0)
        assert err.count("] finished run: ") == finished, (out, err)
        assert err.count("] run left to another process: ") <= left, (out, err)


def test_a_record_of_another_process_is_not_announced_before_a_job_passes_it(tmp_path):
    """Another process's record can appear before the job that leaves the task to it gets there (the
    race a concurrent launch hit): it is announced only once a job of this launch has passed the task,
    and then as left to the other process."""
    import io
    from benchmark.orchestration.local import Feedback
    from helpers import fake_record, run_task
    store = Store(tmp_path / "results")
    ours, theirs = run_task("baseline", seed=0), run_task("baseline", seed=1)
    out = io.StringIO()
    feedback = Feedback(store, [ours, theirs], True, out)
    store.write_record(fake_record(theirs, 70.0))
    feedback.poll()
    assert "finished" not in out.getvalue()
    store.write_record(fake_record(ours, 71.0))
    feedback.passed.add(ours.id)
    feedback.left.add(theirs.id)
    feedback.poll()
    lines = out.getvalue().splitlines()
    assert lines == [f"[1/2] finished run: {ours.describe()}: {ours.result(store)}",
                     f"[2/2] run left to another process: {theirs.describe()}, which finished it: {theirs.result(store)}"]
