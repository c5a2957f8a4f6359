"""Checks and summaries of a list of RunSpecs before anything is launched."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from benchmark.orchestration.cost import StepTimes, format_duration
from benchmark.data import DATASETS, load_dataset, subsample
from benchmark.training.engine import default_device, resolve_policy
from benchmark.orchestration.launch import needed_stages
from benchmark.training.recipes import generator_recipe_for, recipe_for
from benchmark.training.spec import RunSpec, StageSpec
from benchmark.orchestration.store import Store
from methods import Context, get_method
from methods.generator import measure_step_seconds as measure_generator_step_seconds


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
    stages = needed_stages(specs)
    if stages:
        lines += ["", *describe_stages(stages, store, data_dir, times)]
    return "\n".join(lines)


def generator_step_seconds(times: StepTimes, stage: StageSpec, image_size: int, num_classes: int) -> float:
    """The measured time of one generator step of the stage's recipe, cached with the classifier's."""
    recipe = generator_recipe_for(stage.dataset, stage.profile)
    params = dict(stage.params)
    key = (f"{times.device.type}:generator:{recipe.features}f:b{recipe.batch_size}:{recipe.image_size}px:"
           f"{params['mask']}:n{params['n_images']}")
    return times.cached(key, lambda: measure_generator_step_seconds(stage, image_size, num_classes, times.device))


def describe_stages(stages: list[StageSpec], store: Store, data_dir: Path, times: StepTimes) -> list[str]:
    """The stages (generators) the runs need, trained once each before the runs: counts and cost."""
    groups: dict[tuple[str, str, tuple], list[StageSpec]] = defaultdict(list)
    for stage in stages:
        groups[(stage.kind, stage.dataset, stage.params)].append(stage)
    lines = [f"{'stage':<36} {'dataset':<12} {'stages':>6} {'to do':>6} {'steps/stage':>12} {'est. time':>10}"]
    total_todo = 0
    total_seconds = 0.0
    for (kind, dataset, params), group in groups.items():
        classes, size = dataset_shape(dataset, data_dir)
        todo = [st for st in group if not store.stage_done(st.stage_id)]
        name = " ".join([kind, *(f"{k}={v}" for k, v in params)])
        if kind != "generator":
            lines.append(f"{name:<36} {dataset:<12} {len(group):>6} {len(todo):>6} {'-':>12} {'-':>10}")
            total_todo += len(todo)
            continue
        steps = [generator_recipe_for(st.dataset, st.profile).total_steps(st.shots, classes) for st in todo]
        seconds = sum(n * generator_step_seconds(times, st, size, classes) for n, st in zip(steps, todo))
        step_range = f"{min(steps):,}-{max(steps):,}" if steps else "-"
        lines.append(f"{name:<36} {dataset:<12} {len(group):>6} {len(todo):>6} {step_range:>12} {format_duration(seconds):>10}")
        total_todo += len(todo)
        total_seconds += seconds
    lines.append(f"total: {len(stages)} stages, {total_todo} to do, estimated {format_duration(total_seconds)} of generator "
                 f"training (trained once each, before the runs; time measured like the runs')")
    return lines
