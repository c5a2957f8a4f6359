"""Checks and summaries of a list of RunSpecs before anything is launched."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from benchmark.cost import StepTimes, format_duration
from benchmark.data import DATASETS, load_dataset, subsample
from benchmark.engine import default_device, resolve_policy
from benchmark.recipes import recipe_for
from benchmark.spec import RunSpec
from benchmark.store import Store
from methods import Context, get_method


def dataset_shape(name: str, data_dir: Path) -> tuple[int, int]:
    """(num_classes, image_size), without reading the data of registered datasets."""
    if name in DATASETS:
        return DATASETS[name].num_classes, DATASETS[name].image_size
    data = load_dataset(name, data_dir)
    return data.num_classes, data.image_size


def validate_data(specs: list[RunSpec], data_dir: Path, download: bool) -> None:
    """Fail before launching: missing or corrupt files, too many shots, bad method parameters."""
    for name in dict.fromkeys(s.dataset for s in specs):
        data = load_dataset(name, data_dir, download=download)
        for shots in sorted({s.shots for s in specs if s.dataset == name}):
            subsample(data.train_y, shots, 0)
        for spec in {(s.method, s.overrides, s.augment): s for s in specs if s.dataset == name}.values():
            resolve_policy(spec)
            get_method(spec.method)(Context(name, data.num_classes, data.image_size, spec.hparams, spec.profile))


def describe_plan(specs: list[RunSpec], store: Store, data_dir: Path) -> str:
    device = default_device()
    times = StepTimes(store.root / "step_times.json", device)
    groups: dict[tuple[str, str], list[RunSpec]] = defaultdict(list)
    for spec in specs:
        groups[(spec.method, spec.dataset)].append(spec)
    lines = [f"{'method':<18} {'dataset':<12} {'runs':>5} {'to do':>6} {'steps/run':>10} {'est. time':>10}"]
    total_runs = total_todo = 0
    total_seconds = 0.0
    for (method, dataset), group in groups.items():
        classes, size = dataset_shape(dataset, data_dir)
        todo = [s for s in group if not store.is_done(s)]
        steps = [recipe_for(s.dataset, s.profile).total_steps(s.shots, classes) for s in todo]
        seconds = sum(n * times.seconds(recipe_for(s.dataset, s.profile), size, classes) for n, s in zip(steps, todo))
        shots = sorted({s.shots for s in group})
        step_range = f"{min(steps):,}-{max(steps):,}" if steps else "-"
        lines.append(f"{method:<18} {dataset:<12} {len(group):>5} {len(todo):>6} {step_range:>10} {format_duration(seconds):>10}"
                     f"   shots {','.join(map(str, shots))}")
        total_runs += len(group)
        total_todo += len(todo)
        total_seconds += seconds
    lines.append(f"total: {total_runs} runs, {total_todo} to do, estimated {format_duration(total_seconds)} of training "
                 f"on {device.type} (steps x measured step time of each model, one process; see {times.cache})")
    return "\n".join(lines)
