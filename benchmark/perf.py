"""`perf`: the cost of each method's training step on this device, on random images of a
dataset's shape (the subset is 10 images per class), so no data files are needed.

loop efficiency = bare model forward+backward time / whole training step time. The whole step
also holds the batch assembly, augmentation, method logic, optimizer and scheduler.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import torch
import torch.nn.functional as F

from benchmark.data import DATASETS, check_dataset_name
from benchmark.engine import Trainer, default_device
from benchmark.errors import UserError
from benchmark.grids import parse_list
from benchmark.recipes import recipe_for
from benchmark.spec import RunSpec
from methods import METHODS, get_method

PERF_SHOTS = 10


def median_seconds(fn: Callable[[], Any], steps: int, device: torch.device, warmup: int = 2) -> float:
    times = []
    for i in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def measure(method: str, dataset: str, profile: str, steps: int, device: torch.device) -> dict[str, Any]:
    info = DATASETS[dataset]
    n = PERF_SHOTS * info.num_classes
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, info.image_size, info.image_size), dtype=torch.uint8, generator=gen)
    labels = torch.arange(info.num_classes).repeat_interleave(PERF_SHOTS)
    trainer = Trainer(RunSpec(method, dataset, PERF_SHOTS, 0, profile=profile), images, labels, info.num_classes, device)
    trainer.model.train()
    batch_size = trainer.recipe.batch_size
    order = trainer.epoch_order()
    position = [0]

    def step() -> None:
        i = position[0] % (len(order) - batch_size)
        position[0] += batch_size
        trainer.step(order[i:i + batch_size])

    batch = trainer.data.batch(order[:batch_size])
    x, y = batch.x, batch.y

    def bare() -> None:
        with trainer.autocast():
            loss = F.cross_entropy(trainer.model(x), y)
        loss.backward()

    step_s = median_seconds(step, steps, device)
    bare_s = median_seconds(bare, steps, device)
    return {
        "method": method, "dataset": dataset, "model": trainer.recipe.model, "batch": batch_size, "device": device.type,
        "step_ms": 1000 * step_s, "bare_ms": 1000 * bare_s, "images_per_s": batch_size / step_s,
        "loop_efficiency": bare_s / step_s,
    }


def run_perf(methods: str | None, dataset: str, profile: str, steps: int) -> list[dict[str, Any]]:
    check_dataset_name(dataset)
    if dataset not in DATASETS:
        raise UserError(f"perf needs a registered dataset for its shape, got '{dataset}'; valid: {', '.join(DATASETS)}")
    recipe_for(dataset, profile)
    names = parse_list(methods, "--methods") or list(METHODS)
    for name in names:
        get_method(name)
    device = default_device()
    return [measure(name, dataset, profile, steps, device) for name in names]


def format_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'method':<18} {'model':<10} {'batch':>5} {'step ms':>9} {'bare ms':>9} {'images/s':>9} {'loop eff.':>9}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['method']:<18} {r['model']:<10} {r['batch']:>5} {r['step_ms']:>9.2f} {r['bare_ms']:>9.2f} "
                     f"{r['images_per_s']:>9.1f} {r['loop_efficiency']:>9.2f}")
    if rows:
        lines.append(f"device: {rows[0]['device']}, dataset shape: {rows[0]['dataset']}, {torch.get_num_threads()} threads")
    return "\n".join(lines)
