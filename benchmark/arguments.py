"""Checked command-line values and directories: a bad one is one line naming it (exit status 2)."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from benchmark.atomic import create_temporary
from benchmark.errors import UserError


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, at least 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds (finite, at least 0)")
    return value


def writable_dir(path: Path, what: str) -> Path:
    """`path`, a directory this process can write into (created if missing); a UserError otherwise."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe, name = create_temporary(path / ".write-test")
        probe.close()
        name.unlink()
    except OSError as exc:
        raise UserError(f"{what} {path} is not writable ({exc.strerror}); fix it or give another") from None
    return path


def results_dir(given: Path | None, must_exist: bool) -> Path:
    """--results-dir, else $BENCHMARK_RESULTS_DIR, else ./results; a UserError if it is a file, or
    if it is missing and `must_exist` (the commands that only read it)."""
    from benchmark.orchestration.store import default_results_dir
    path = given if given is not None else default_results_dir()
    if path.exists() and not path.is_dir():
        raise UserError(f"results directory {path} is a file, not a directory")
    if must_exist and not path.exists():
        source = "" if given is not None or "BENCHMARK_RESULTS_DIR" not in os.environ else " ($BENCHMARK_RESULTS_DIR)"
        raise UserError(f"no results directory {path}{source}: nothing has run there (`run` creates it); "
                        "give another with --results-dir")
    return path
