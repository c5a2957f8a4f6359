"""Timing of training steps: the one timing loop of `perf` and the step-time measurements."""
from __future__ import annotations

import time
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


def measure_classifier_step(recipe: Recipe, image_size: int, num_classes: int, device: torch.device,
                            steps: int = 3) -> float:
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
