"""Cost estimates for a plan: training steps per run times the step time measured on this device."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from benchmark.training.models import build_model
from benchmark.training.recipes import Recipe


def interleaved_medians(fns: dict[str, Callable[[], Any]], rounds: int, device: torch.device,
                        warmup: int = 2) -> dict[str, float]:
    """Median seconds of each function, timed in turn within every round."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(warmup + rounds):
        for name, fn in fns.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: sorted(t)[len(t) // 2] for name, t in times.items()}


def measure_step_seconds(recipe: Recipe, image_size: int, num_classes: int, device: torch.device, steps: int = 3) -> float:
    """Median time of a full SGD step of the recipe's model at its batch size."""
    torch.manual_seed(0)
    model = build_model(recipe.model, num_classes).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=0.9, nesterov=True)
    x = torch.randn(recipe.batch_size, 3, image_size, image_size, device=device)
    y = torch.randint(0, num_classes, (recipe.batch_size,), device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return interleaved_medians({"step": step}, steps, device, warmup=1)["step"]


class StepTimes:
    """Measured step times, cached in a JSON file so that a dry run measures each model once."""

    def __init__(self, cache: Path, device: torch.device):
        self.cache = cache
        self.device = device
        self.times: dict[str, float] = json.loads(cache.read_text()) if cache.exists() else {}

    def seconds(self, recipe: Recipe, image_size: int, num_classes: int) -> float:
        key = f"{self.device.type}:{recipe.model}:b{recipe.batch_size}:{image_size}px:{num_classes}c"
        return self.cached(key, lambda: measure_step_seconds(recipe, image_size, num_classes, self.device))

    def cached(self, key: str, measure: Callable[[], float]) -> float:
        """The time stored under `key`, measured (once, then cached) when there is none."""
        if key not in self.times:
            print(f"measuring the step time of {key} (once; cached in {self.cache})", file=sys.stderr, flush=True)
            self.times[key] = measure()
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            self.cache.write_text(json.dumps(self.times, indent=1, sort_keys=True))
        return self.times[key]


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.1f} h"
