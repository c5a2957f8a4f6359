"""Stage kinds as plug-ins: the teacher kind, and a toy kind that requires it, used by a toy method,
run through the debug and local executors (the SLURM executor: tests/test_slurm.py)."""
from __future__ import annotations

import pytest
import torch

from benchmark.cli import main
from benchmark.data import load_dataset
from benchmark.orchestration.plan import resolve
from benchmark.orchestration.store import Store
from benchmark.training.pipeline import normalize
from methods.teacher_model import load_teacher
from toy_stages import TOY_GRID


def test_the_plan_orders_a_chain_of_stages_by_level(toy):
    plan = resolve(toy)
    toy_run, baseline = plan.runs
    (label_set,) = toy_run.requires
    (teacher,) = label_set.requires
    assert [s.label for s in plan.stages] == ["teacher", "teacher-label set"]
    assert (teacher.level, label_set.level, toy_run.level, baseline.level) == (0, 1, 2, 0)
    assert dict(teacher.spec.params) == {"method": "baseline"} and teacher.steps == baseline.steps


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["debug", "local"])
def test_a_run_needing_a_teacher_chain_trains_through_the_executors(toy, executor, tmp_path, capsys):
    results = tmp_path / "results"
    argv = ["run", "--grid", TOY_GRID, "--executor", executor, "--quiet", "--results-dir", str(results)]
    assert main(argv) == 0
    assert "2 stages trained, 2 runs finished, 0 already done, 0 failed" in capsys.readouterr().out
    store = Store(results)
    toy_run, baseline = resolve(toy).runs
    (label_set,) = toy_run.requires
    (teacher,) = label_set.requires
    record = store.load_record(toy_run.id)
    assert [s["stage_id"] for s in record.stages] == [label_set.id]
    assert store.stage_record(label_set.id)["summary"]["agreement"] > 0.5  # chance: 0.1
    assert store.load_record(baseline.id).accuracy > 40 and record.accuracy > 40
    if executor == "debug":  # one process, the same threads: the teacher is exactly the baseline run's model
        data = load_dataset("digits", tmp_path)
        model = load_teacher(store.artifact_path(teacher.id), torch.device("cpu"))
        with torch.inference_mode():
            accuracy = 100 * float((model(normalize(data.test_x)).argmax(1) == data.test_y).float().mean())
        assert accuracy == store.load_record(baseline.id).accuracy
    assert main(argv) == 0
    assert "0 runs finished, 2 already done" in capsys.readouterr().out
