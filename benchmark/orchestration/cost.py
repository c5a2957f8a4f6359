"""One cost model for dealing local work, the dry run and the GPU-hours estimate: the seconds of a
task = its training steps (exact, from its recipe) x the time of one step on a device. Step times
are either measured on this machine (`StepTimes`, cached in <results>/step_times.json) or, for
"gpu", the assumed figures that the models (benchmark.training.models.GPU_STEP_S) and the stage
kinds declare."""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from benchmark.atomic import write_json_atomic
from benchmark.stored import read_json

if TYPE_CHECKING:
    import torch

    from benchmark.orchestration.tasks import Task

GPU = "gpu"  # the assumed data-centre GPU


class StepTimes:
    """Step times measured on a device, cached in a JSON file so that each kind of step is measured once."""

    def __init__(self, cache: Path, device: torch.device):
        self.cache = cache
        self.device = device
        self.times: dict[str, float] = read_json(cache, step_times, "step-time cache") or {}

    def seconds(self, task: Task) -> float:
        return self.cached(f"{self.device.type}:{task.step_key}", lambda: task.measure_step(self.device))

    def cached(self, key: str, measure: Callable[[], float]) -> float:
        """The time stored under `key`, measured (once, then cached) when there is none."""
        if key not in self.times:
            print(f"measuring the step time of {key} (once; cached in {self.cache})", file=sys.stderr, flush=True)
            self.times[key] = measure()
            write_json_atomic(self.cache, self.times)
        return self.times[key]


def step_times(payload: object) -> dict[str, float] | None:
    """The step-time cache's content: key -> seconds (positive, finite)."""
    if not isinstance(payload, dict):
        return None
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf for v in payload.values())
    return {str(k): float(v) for k, v in payload.items()} if ok else None


class CostModel:
    """Seconds of training of tasks on one device: measured step times, or the assumed GPU's."""

    def __init__(self, step_times: StepTimes | None = None):
        self.step_times = step_times
        self.device = GPU if step_times is None else step_times.device.type

    def step_seconds(self, task: Task) -> float:
        return task.gpu_step_s if self.step_times is None else self.step_times.seconds(task)

    def seconds(self, task: Task) -> float:
        return task.steps * self.step_seconds(task)


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
