"""The plan: a list of RunSpecs resolved once into the task graph (benchmark.orchestration.tasks),
its checks before anything is launched, and the dry run's summary of it."""
from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from benchmark.orchestration.cost import CostModel, format_duration, two_figures
from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import Resolver, RunTask, Shape, StageTask, Task
from benchmark.spec import RunSpec, shots_order


@dataclass(frozen=True)
class Plan:
    runs: tuple[RunTask, ...]  # or the trials of `tune` (benchmark.orchestration.trials), with `what` "trial"
    what: str = "run"

    @cached_property
    def stages(self) -> tuple[StageTask, ...]:
        """Every stage the runs require, directly or through other stages, once each, by level."""
        found: dict[str, StageTask] = {}

        def visit(stage: StageTask) -> None:
            if stage.id not in found:
                for required in stage.requires:
                    visit(required)
                found[stage.id] = stage

        for run in self.runs:
            for stage in run.requires:
                visit(stage)
        return tuple(sorted(found.values(), key=lambda s: s.level))

    def unfinished(self, store: Store) -> Plan:
        """The runs without a record (and so the stages they need)."""
        return Plan(tuple(r for r in self.runs if not r.done(store)), self.what)

    def waves(self, store: Store) -> list[list[Task]]:
        """What is left to train, in the order it can be trained: the untrained stages of the
        unfinished runs level by level (a stage's requirements in an earlier wave), then the runs."""
        todo = self.unfinished(store)
        levels: dict[int, list[Task]] = defaultdict(list)
        for stage in todo.stages:
            if not stage.done(store):
                levels[stage.level].append(stage)
        waves = [levels[level] for level in sorted(levels)]
        return [*waves, list(todo.runs)] if todo.runs else waves


def dataset_shape(name: str) -> Shape:
    """Classes, image size and training pool, without reading an image (a folder's from its files)."""
    from benchmark.data import DATASETS, folder_of
    from benchmark.data.folder_index import scan_folder
    folder = folder_of(name)
    if folder is None:
        info = DATASETS[name]
        return Shape(info.num_classes, info.image_size, info.train_size)
    index = scan_folder(folder[0])
    return Shape(index.num_classes, folder[1], index.train_size)


def resolve(specs: list[RunSpec]) -> Plan:
    """Resolve every spec once: a user error (unknown method, bad parameter, ...) fails here."""
    resolver = Resolver(functools.cache(dataset_shape))
    return Plan(tuple(resolver.run(spec) for spec in specs))


def validate_data(plan: Plan, data_dir: Path, download: bool) -> None:
    """Fail before launching: missing or corrupt files, more shots than a class has."""
    from benchmark.data import load_dataset, subsample
    for name in dict.fromkeys(r.dataset for r in plan.runs):
        data = load_dataset(name, data_dir, download=download)
        for shots in sorted({r.spec.shots for r in plan.runs if r.dataset == name}, key=shots_order):
            subsample(data.train_y, shots, 0, data.classes)


def describe_plan(plan: Plan, store: Store, cost: CostModel) -> str:
    """The dry run: runs per method and dataset and the stages they need, with what is left to do,
    the steps, and the estimated training time on the cost model's device."""
    width = max([12, *(len(task.dataset) for task in (*plan.runs, *plan.stages))])  # a folder dataset's path may be long
    runs: dict[str, list[Task]] = defaultdict(list)
    for run in plan.runs:
        runs[f"{run.spec.method:<18} {run.dataset:<{width}}"].append(run)
    lines = [f"{'method':<18} {'dataset':<{width}} {'runs':>6} {'to do':>6} {'steps/run':>17} {'est. time':>10}"]
    rows, run_todo = summary_rows(runs, store, cost)
    lines += [f"{row}   shots {','.join(str(s) for s in sorted({r.spec.shots for r in group}, key=shots_order))}"
              for row, group in zip(rows, runs.values())]
    stages: dict[str, list[Task]] = defaultdict(list)
    needed = plan.unfinished(store).stages
    for stage in needed:
        name = " ".join([stage.label, *(f"{k}={v}" for k, v in stage.spec.params)])
        stages[f"{name:<37} {stage.dataset:<{width}}"].append(stage)
    stage_todo: list[Task] = []
    if stages:
        rows, stage_todo = summary_rows(stages, store, cost)
        lines += ["", f"{'stage':<37} {'dataset':<{width}} {'stages':>6} {'to do':>6} {'steps/stage':>17} {'est. time':>10}",
                  *rows]
    todo = [*run_todo, *stage_todo]
    known = [s for s in map(cost.seconds, todo) if s is not None]
    total = f"{two_figures(sum(known) / 3600)} GPU-hours" if cost.assumed else format_duration(sum(known))
    estimate = (f"estimated {total} of training" + (" for those with a step time" if len(known) < len(todo) else "")
                if known else "no estimate")
    lines += ["", f"total: {len(plan.runs)} runs ({len(run_todo)} to do) and the {len(needed)} stages they need "
                  f"({len(stage_todo)} to do); {estimate} {cost.describe()}"]
    if len(known) < len(todo):
        lines.append(f"{len(todo) - len(known)} task(s) have no step time for {cost.device} (shown as ?): "
                     "`python -m benchmark perf --step-times --grid G` (the grid, or a grid file of the selection) "
                     "measures them on this machine")
    return "\n".join(lines)


def summary_rows(groups: dict[str, list[Task]], store: Store, cost: CostModel) -> tuple[list[str], list[Task]]:
    """A row per group (its name, tasks, tasks to do, steps, estimated time), and the tasks to do."""
    rows, todo_all = [], []
    for name, group in groups.items():
        todo = [t for t in group if not t.done(store)]
        seconds = [cost.seconds(t) for t in todo]
        time = "?" if None in seconds else format_duration(sum(seconds))
        rows.append(f"{name} {len(group):>6} {len(todo):>6} {step_range(todo):>17} {time:>10}")
        todo_all += todo
    return rows, todo_all


def step_range(tasks: list[Task]) -> str:
    steps = [t.steps for t in tasks]
    if not steps:
        return "-"
    return f"{min(steps):,}" if min(steps) == max(steps) else f"{min(steps):,}-{max(steps):,}"
