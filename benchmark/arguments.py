"""Checked command-line values and directories: a bad one is one line naming it (exit status 2).
The value parsers serve the command line and grid files alike."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from benchmark.atomic import create_temporary
from benchmark.data import MAX_SEED
from benchmark.errors import UserError
from benchmark.spec import ALL_SHOTS, Shots


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


def parse_list(text: str | None, option: str) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UserError(f"{option} is empty; give a comma-separated list")
    return items


MAX_RANGE = 10_000  # values of one FIRST-LAST range: a larger one is a typo, and would fill the memory


def parse_ints(text: str | None, option: str, positive: bool, largest: int | None = None) -> list[int] | None:
    """Comma-separated integers and inclusive ranges: "0,2" or "0-4"."""
    items = parse_list(text, option)
    if items is None:
        return None
    return list(dict.fromkeys(v for item in items for v in parse_range(item, option, positive, largest)))


def parse_seeds(text: str | None, option: str = "--seeds") -> list[int] | None:
    """parse_ints of seeds: from 0 to MAX_SEED (torch's generators take 64 bits)."""
    return parse_ints(text, option, positive=False, largest=MAX_SEED)


def parse_range(item: str, option: str, positive: bool, largest: int | None = None) -> list[int]:
    first, sep, last = item.partition("-") if not item.startswith("-") else (item, "", "")
    try:
        bounds = (int(first), int(last) if sep else int(first))
    except ValueError:
        raise UserError(f"{option}: '{item}' is not an integer or a range FIRST-LAST") from None
    if bounds[1] < bounds[0]:
        raise UserError(f"{option}: '{item}' is an empty range; give FIRST-LAST with FIRST <= LAST")
    if bounds[1] - bounds[0] >= MAX_RANGE:
        raise UserError(f"{option}: '{item}' is a range of {bounds[1] - bounds[0] + 1} values; give at most "
                        f"{MAX_RANGE} per range")
    smallest = 1 if positive else 0
    for value in bounds:
        if value < smallest:
            raise UserError(f"{option}: {value} is not allowed; give {'positive' if positive else 'non-negative'} "
                            "integers")
        if largest is not None and value > largest:
            raise UserError(f"{option}: {value} is too large; give integers from {smallest} to {largest}")
    return list(range(bounds[0], bounds[1] + 1))


def parse_methods(text: str | None) -> list[str] | None:
    """Method names, or `all`: every registered method (None: no filter)."""
    return None if text == "all" else parse_list(text, "--methods")


def parse_shots(text: str | None, option: str = "--shots") -> list[Shots] | None:
    """Like parse_ints (positive), and `all`: the whole training pool."""
    items = parse_list(text, option)
    if items is None:
        return None
    return list(dict.fromkeys(v for item in items
                              for v in ([ALL_SHOTS] if item == ALL_SHOTS else parse_range(item, option, True))))
