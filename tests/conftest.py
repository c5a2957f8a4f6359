import os
from pathlib import Path

import pytest
import torch

from benchmark.orchestration.grids import GRIDS, Grid
from benchmark.spec import RunSpec
from methods import METHODS, STAGE_KINDS
from toy_stages import TOY_GRID, TeacherLabels, TeacherLabelSet


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own results and data directories; nothing touches ./results."""
    monkeypatch.setenv("BENCHMARK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("BENCHMARK_DATA_DIR", str(tmp_path / "data"))
    yield


@pytest.fixture
def one_thread():
    """For tests of tiny networks and single small images: threads only add overhead there, and
    stall on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_configure(config):
    os.environ.setdefault("OMP_NUM_THREADS", "2")


TESTS = Path(__file__).resolve().parent


@pytest.fixture
def toy(monkeypatch):
    """The toy kind, method and grid registered in this process; worker processes import them
    (PYTHONPATH) when they unpickle their tasks."""
    monkeypatch.setitem(STAGE_KINDS, TeacherLabelSet.name, TeacherLabelSet())
    monkeypatch.setitem(METHODS, "toy_teacher_labels", TeacherLabels)
    specs = [RunSpec(m, "digits", 5, 0, profile="quick") for m in ("toy_teacher_labels", "baseline")]
    monkeypatch.setitem(GRIDS, TOY_GRID, Grid(lambda: specs, "toy: a run that needs teacher -> label set (tests)"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return specs


@pytest.fixture
def ended_jobs(monkeypatch):
    """A scheduler that answers and no longer knows any job (ended beyond MinJobAge, no accounting),
    so `status` reads the jobs' end notes and logs."""
    from benchmark.orchestration.slurm import scheduler as slurm_scheduler
    scheduler = slurm_scheduler.Scheduler()
    scheduler._queue = {}
    monkeypatch.setattr("benchmark.orchestration.status.scheduler_for", lambda required: (scheduler, None))
    monkeypatch.setattr(scheduler, "accounting", lambda job_ids: {j: "" for j in job_ids})
