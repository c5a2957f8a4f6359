"""One cost model for dealing work to jobs (`deal`), the dry run and the GPU-hours estimate: the
seconds of a task = its training steps (exact, from its recipe) x the time of one step on a device x
the classifier passes of its method's step (2 for SuperMix and SynerMix; 1 for a stage).

Step times come from the table shipped with the project (results/perf/step_times.json: per kind of
device, measured by `python -m benchmark perf --step-times`, which a user reruns to measure their
own machine), or, for a GPU the table does not know, from the assumed figures that the models
(benchmark.training.recipes.GPU_STEP_S) and the stage kinds declare. Nothing is measured here.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.atomic import write_json_atomic
from benchmark.paths import REPOSITORY

if TYPE_CHECKING:
    from benchmark.orchestration.tasks import Task

STEP_TIMES = REPOSITORY / "results" / "perf" / "step_times.json"
GPU, CPU, CUDA = "gpu", "cpu", "cuda"  # the assumed data-centre GPU; device kinds measured by perf


def local_device_kind() -> str:
    """The device the local executors train on: cuda where an NVIDIA driver is loaded (a check
    without torch, so the dry run stays quick), else cpu."""
    return CUDA if Path("/proc/driver/nvidia/version").exists() else CPU


def read_step_times(path: Path | None = None) -> dict[str, Any]:
    """{device kind: {"device": description, "steps": {step key: seconds}}} (default: the shipped
    table); {} if unreadable."""
    try:
        table = json.loads((path or STEP_TIMES).read_text())
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def write_step_times(kind: str, description: str, steps: dict[str, float], path: Path | None = None) -> None:
    """Merge measured step times of a device kind into the table (default: the shipped one), atomically."""
    table = read_step_times(path)
    entry = table.get(kind) if isinstance(table.get(kind), dict) else {}
    table[kind] = {"device": description, "steps": {**entry.get("steps", {}), **steps}}
    write_json_atomic(path or STEP_TIMES, table)


def step_times(payload: object) -> dict[str, float] | None:
    """A device's step times in the table: step key -> seconds (positive, finite); None otherwise."""
    if not isinstance(payload, dict):
        return None
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf for v in payload.values())
    return {str(k): float(v) for k, v in payload.items()} if ok else None


class CostModel:
    """Seconds of training of tasks on one kind of device."""

    def __init__(self, device: str = GPU, steps: dict[str, float] | None = None, measured_on: str = ""):
        self.device = device
        self.steps = steps or {}
        self.measured_on = measured_on

    @classmethod
    def for_device(cls, kind: str, path: Path | None = None) -> CostModel:
        """The measured table of a device kind; for a GPU without one, the assumed figures."""
        entry = read_step_times(path).get(kind)
        steps = step_times(entry.get("steps")) if isinstance(entry, dict) else None
        if steps is not None:
            return cls(kind, steps, str(entry.get("device", kind)))
        return cls(GPU if kind in (GPU, CUDA) else kind)

    @property
    def assumed(self) -> bool:
        return self.device == GPU

    def step_seconds(self, task: Task) -> float | None:
        """Seconds per step: the table's (a key measured for another number of classes stands in,
        the head being a negligible part of a step), the assumed GPU figure, or None if unknown."""
        if self.assumed:
            return task.gpu_step_s
        key = task.step_key
        if key in self.steps:
            return self.steps[key]
        same = [s for k, s in self.steps.items() if re.sub(r":\d+c$", "", k) == re.sub(r":\d+c$", "", key)]
        return same[0] if same else None

    def seconds(self, task: Task) -> float | None:
        step = self.step_seconds(task)
        return None if step is None else task.steps * task.passes * step

    def describe(self) -> str:
        if self.assumed:
            return ("on a GPU (one per job; assumed step times of the models and stage kinds, not measurements: "
                    "`python -m benchmark perf --step-times` on a GPU node measures them)")
        if not self.steps:
            return f"on {self.device} (no step times measured for {self.device} yet: `python -m benchmark perf --step-times`)"
        return (f"on {self.device} (step times measured by `perf --step-times` on {self.measured_on}; "
                "one process)")


def deal(tasks: list[Task], jobs: int) -> list[list[Task]]:
    """Longest task first onto the least loaded job (cost: the assumed GPU seconds; only their
    ratios matter here, and they need no measuring)."""
    cost = CostModel()
    bins: list[list[Task]] = [[] for _ in range(jobs)]
    load = [0.0] * jobs
    for task in sorted(tasks, key=cost.seconds, reverse=True):
        j = load.index(min(load))
        bins[j].append(task)
        load[j] += cost.seconds(task)
    return [b for b in bins if b]


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.1f} h"


def two_figures(x: float) -> str:
    """An estimate shown with the precision it has: two significant figures."""
    if x <= 0:
        return "0"
    digits = 1 - math.floor(math.log10(x))
    if round(x, digits) >= 10 ** (2 - digits):  # 9.96 -> 10, not 10.0
        digits -= 1
    return f"{round(x, digits):,.{max(digits, 0)}f}"
