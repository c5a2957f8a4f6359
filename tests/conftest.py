import os

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own results and data directories; nothing touches ./results."""
    monkeypatch.setenv("BENCHMARK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("BENCHMARK_DATA_DIR", str(tmp_path / "data"))
    yield


def pytest_configure(config):
    os.environ.setdefault("OMP_NUM_THREADS", "2")
