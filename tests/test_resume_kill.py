"""A run killed with SIGKILL mid-training resumes from its checkpoint and ends with the record an
uninterrupted run gives."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from benchmark.training.spec import RunSpec

SPEC = RunSpec("baseline", "digits", 5, 0, profile="quick")
ARGS = ["run", "--grid", "demo", "--methods", "baseline", "--shots", "5", "--seeds", "0", "--executor", "debug",
        "--checkpoint-every", "0", "--quiet"]


def cli(results, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "benchmark", *ARGS, "--results-dir", str(results)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.slow
def test_sigkill_mid_training_then_rerun_gives_the_uninterrupted_record(tmp_path):
    clean = cli(tmp_path / "clean")
    assert clean.wait(timeout=300) == 0
    killed = tmp_path / "killed"
    proc = cli(killed)
    checkpoint = killed / "checkpoints" / f"{SPEC.id}.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert checkpoint.exists() and not (killed / "runs" / f"{SPEC.id}.json").exists()
    again = cli(killed)
    assert again.wait(timeout=300) == 0
    a = json.loads((tmp_path / "clean" / "runs" / f"{SPEC.id}.json").read_text())
    b = json.loads((killed / "runs" / f"{SPEC.id}.json").read_text())
    assert b["timing"]["resumed_from_epoch"] > 0
    assert b["metrics"] == a["metrics"] and b["curve"] == a["curve"]
    assert not checkpoint.exists()
