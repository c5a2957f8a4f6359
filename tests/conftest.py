import os

import pytest
import torch


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
