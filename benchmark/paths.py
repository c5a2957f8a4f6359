"""The benchmark's default directory for downloaded and derived files."""
from __future__ import annotations

import os
from pathlib import Path


def home_cache_dir() -> Path:
    """~/.cache/smalldata-benchmark."""
    return Path.home() / ".cache" / "smalldata-benchmark"


def cache_dir() -> Path:
    """$BENCHMARK_CACHE_DIR if set (and not empty), else ~/.cache/smalldata-benchmark."""
    configured = os.environ.get("BENCHMARK_CACHE_DIR")
    return Path(configured).expanduser() if configured else home_cache_dir()


REPOSITORY = Path(__file__).resolve().parent.parent  # the checkout: slurm/ profiles, results/paper/
