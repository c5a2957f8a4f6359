"""A run's numbers do not depend on the machine's parallelism: killed at several points and resumed
with different worker counts (so, before, with different torch thread counts), a grid slice with a
generator stage ends with the records of an uninterrupted run, to the last digit."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from benchmark.orchestration.grids import grid_specs, select
from benchmark.orchestration.plan import resolve

SLICE = ["--grid", "demo", "--methods", "baseline,chimeramix_grid", "--shots", "5", "--seeds", "0"]
WAIT_S = 1800


def start(results, workers: int) -> subprocess.Popen:
    """`run` in a session of its own: killing its group kills the launcher and its workers at once."""
    return subprocess.Popen([sys.executable, "-m", "benchmark", "run", *SLICE, "--workers", str(workers),
                             "--checkpoint-every", "0", "--quiet", "--results-dir", str(results)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def kill_when(proc: subprocess.Popen, ready, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def finish(proc: subprocess.Popen) -> None:
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, (out, err)


@pytest.mark.slow
def test_killed_and_resumed_with_other_worker_counts_gives_the_uninterrupted_records(tmp_path):
    plan = resolve(select(grid_specs("demo"), "demo", "baseline,chimeramix_grid", None, "5", "0"))
    (stage,) = plan.stages
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    finish(start(clean, workers=2))

    checkpoints = killed / "checkpoints"
    kill_when(start(killed, workers=1), lambda: (checkpoints / f"{stage.id}.pt").exists(), "the generator's checkpoint")
    kill_when(start(killed, workers=2), lambda: any((checkpoints / f"{r.id}.pt").exists() for r in plan.runs),
              "a run's checkpoint")
    finish(start(killed, workers=1))

    def records(results):
        return {r.spec.method: json.loads((results / "runs" / f"{r.id}.json").read_text()) for r in plan.runs}

    want, got = records(clean), records(killed)
    for method in want:
        assert got[method]["metrics"] == want[method]["metrics"], method
        assert got[method]["curve"] == want[method]["curve"], method
    stage_summary = json.loads((killed / "artifacts" / f"{stage.id}.json").read_text())["summary"]
    assert stage_summary["resumed_from_epoch"] > 0
    assert any(r["timing"]["resumed_from_epoch"] > 0 for r in got.values())
    generators = [torch.load(results / "artifacts" / f"{stage.id}.pt", weights_only=True)["generator"]
                  for results in (clean, killed)]
    assert all(torch.equal(generators[0][k], generators[1][k]) for k in generators[0])
