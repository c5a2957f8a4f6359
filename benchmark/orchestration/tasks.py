"""The task graph: every RunSpec resolved once into a RunTask (its method with resolved
hyperparameters, its label, recipe and cost, and the stage tasks it requires; stages may require
stages). Launchers, `status`, the dry run, `perf`, `report`, `figures`, `samples` and the analyses
read tasks; nothing else resolves a method's requirements.

A task trains itself on its subset (`train`) and says whether the store has its result (`done`);
the worker does the rest of a job (benchmark.orchestration.worker).
"""
from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from benchmark.data import dataset_label
from benchmark.errors import UserError
from benchmark.profiles import recipe_for
from benchmark.training.recipes import Recipe, classifier_step_key, gpu_step_seconds, recipe_params
from benchmark.spec import AUGMENT_POLICIES, RunSpec, StageSpec
from methods import PLUGINS, STAGE_KINDS, Context, Method, StageKind, StageWork, get_method

if TYPE_CHECKING:
    import torch

    from benchmark.data import ImageSet
    from benchmark.orchestration.store import Store
    from benchmark.training.recipes import Schedule
    from benchmark.training.stream import Images

CLASSIFIER_SECTION = "classifier"  # the SLURM profile table of classifier runs
EpochCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Shape:
    """What the plan needs to know of a dataset."""

    num_classes: int
    image_size: int
    train_size: int  # images in the training pool (the subset of ALL_SHOTS)


@dataclass(frozen=True, eq=False)
class Node:
    """What every task has: its spec (whose hash is its id) and the stages it requires."""

    spec: RunSpec | StageSpec
    requires: tuple[StageTask, ...]
    passes = 1  # a step's cost in steps of its step key (a stage's key is its own step)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def dataset(self) -> str:
        return self.spec.dataset

    @cached_property
    def level(self) -> int:
        """0 without requirements, else one more than the highest requirement's."""
        return 1 + max((s.level for s in self.requires), default=-1)

    def describe(self) -> str:
        return self.spec.describe()

    def to_dict(self) -> dict[str, Any]:
        return self.spec.to_dict()


@dataclass(frozen=True, eq=False)
class StageTask(Node):
    spec: StageSpec
    kind: StageKind
    shape: Shape
    classifier: RunTask | None  # the run a stage that trains a classifier (a teacher) trains

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def what(self) -> str:
        return f"{self.kind.label} stage"

    @property
    def section(self) -> str:
        return self.kind.profile_section

    @cached_property
    def recipe(self) -> Schedule:
        """The kind's recipe of the stage's profile, or the recipe of the run it trains."""
        if self.classifier is not None:
            return self.classifier.recipe
        return self.kind.schedule(self.spec, self.shape.image_size)

    @cached_property
    def steps(self) -> int:
        return self.recipe.total_steps(self.spec.shots, self.shape.num_classes, self.shape.train_size)

    @property
    def step_key(self) -> str:
        return self.kind.step_key(self.spec, self.recipe, self.shape.image_size, self.shape.num_classes)

    @property
    def gpu_step_s(self) -> float:
        return self.kind.gpu_step_s(self.spec, self.recipe)

    def measure_step(self, device: torch.device) -> float:
        return self.kind.measure_step(self.spec, self.recipe, self.shape.image_size, self.shape.num_classes, device)

    def work(self, images: torch.Tensor, labels: torch.Tensor, num_classes: int, device: torch.device,
             inputs: dict[str, Path], artifact: Path, checkpoint: Path | None = None, checkpoint_every_s: float = 60.0,
             on_epoch: EpochCallback | None = None) -> StageWork:
        """What the kind trains the stage with (or stands in for it with) on a subset."""
        return StageWork(self.spec, self.recipe, images, labels, num_classes, device, inputs, artifact, checkpoint,
                         checkpoint_every_s, on_epoch, self.classifier)

    def done(self, store: Store) -> bool:
        return store.stage_done(self.id, lambda state: self.kind.artifact_problem(state, self.spec, self.recipe))

    def result(self, store: Store) -> str:
        """A finished stage in a few words."""
        summary = (store.stage_record(self.id) or {}).get("summary", {})
        return f"trained in {summary.get('train_seconds', 0):.0f} s"

    def train(self, data: ImageSet, idx: torch.Tensor, inputs: dict[str, Path], store: Store, device: torch.device,
              checkpoint_every_s: float, compile_model: bool, on_epoch: EpochCallback | None) -> None:
        from benchmark.orchestration.record import environment
        t0 = time.perf_counter()
        summary = self.kind.train(self.work(data.train_x[idx], data.train_y[idx], data.num_classes, device, inputs,
                                            store.artifact_path(self.id), store.checkpoint_path(self.id),
                                            checkpoint_every_s, on_epoch))
        store.write_stage_record(self.id, {"stage": self.to_dict(), "summary": summary,
                                           "wall_seconds_this_attempt": time.perf_counter() - t0,
                                           "environment": {**environment(), "device": str(device)}})


@dataclass(frozen=True, eq=False)
class RunTask(Node):
    spec: RunSpec  # canonical: its overrides are the hyperparameters that differ from the defaults
    method: Method  # with its context and every hyperparameter resolved; the engine trains a copy
    recipe: Recipe
    shape: Shape

    section = CLASSIFIER_SECTION
    what = "run"

    @property
    def context(self) -> Context:
        return self.method.ctx

    @property
    def hparams(self) -> dict[str, Any]:
        return self.method.hp

    @property
    def label(self) -> str:
        """The row label of the papers' tables: "HydraMix (p_gen=0.25)", "ChimeraMix+Seg + TrivialAugment"."""
        return run_label(self.method.label, self.spec)

    @cached_property
    def steps(self) -> int:
        return self.recipe.total_steps(self.spec.shots, self.context.num_classes, self.shape.train_size)

    @property
    def passes(self) -> int:
        return self.method.passes

    @property
    def step_key(self) -> str:
        return classifier_step_key(self.recipe, self.context.image_size, self.context.num_classes)

    @property
    def gpu_step_s(self) -> float:
        return gpu_step_seconds(self.recipe, self.context.image_size)

    def measure_step(self, device: torch.device) -> float:
        from benchmark.training.timing import measure_classifier_step
        return measure_classifier_step(self.recipe, self.context.image_size, self.context.num_classes, device)

    def done(self, store: Store) -> bool:
        return store.is_done(self.id)

    def result(self, store: Store) -> str:
        """A finished run in a few words."""
        record = store.load_record(self.id)
        return f"accuracy {record.accuracy:.2f} % ({record.timing.get('train_seconds', 0):.0f} s of training)"

    def trainer(self, images: Images, labels: torch.Tensor, device: torch.device, inputs: dict[str, Path],
                compile_model: bool = False, recipe: Recipe | None = None, sizes: torch.Tensor | None = None):
        """The engine's Trainer of this run on a subset (`recipe` replaces the run's, e.g. for `perf`): it
        trains a copy of the run's method, which its `setup` fills for this training alone."""
        from benchmark.training.engine import Trainer
        return Trainer(copy.copy(self.method), recipe or self.recipe, images, labels, device, inputs, compile_model,
                       sizes)

    def train(self, data: ImageSet, idx: torch.Tensor, inputs: dict[str, Path], store: Store, device: torch.device,
              checkpoint_every_s: float, compile_model: bool, on_epoch: EpochCallback | None) -> None:
        import torch

        from benchmark.data.subsets import subset_hash
        from benchmark.orchestration.record import RunRecord, environment
        from benchmark.training.engine import train
        from benchmark.training.stream import test_images, training_images
        sizes = None if data.train_sizes is None else data.train_sizes[idx]
        trainer = self.trainer(training_images(data, idx, device), data.train_y[idx], device, inputs, compile_model,
                               sizes=sizes)
        t0 = time.perf_counter()
        metrics, progress, resumed_from = train(trainer, self.to_dict(), store.checkpoint_path(self.id),
                                                checkpoint_every_s, on_epoch,
                                                test=(test_images(data, device), data.test_y.to(device)))
        record = RunRecord(
            run_id=self.id, spec=self.spec, dataset_label=data.name, method_label=self.method.label, metrics=metrics,
            curve={"train_loss": progress.curve_loss, "test_accuracy": progress.curve_acc},
            recipe=self.recipe.to_dict(), hparams=self.hparams,
            stages=[{"stage_id": s.id, **(store.stage_record(s.id) or {})} for s in self.requires],
            timing={"train_seconds": progress.train_seconds, "wall_seconds_this_attempt": time.perf_counter() - t0,
                    "steps": trainer.total_steps, "resumed_from_epoch": resumed_from},
            environment={**environment(), "device": str(device), "threads": torch.get_num_threads(),
                         "compiled": compile_model, **self.plugin()},
            subset=subset_hash(data, idx), dataset_fingerprint=data.fingerprint)
        store.write_record(record)

    def plugin(self) -> dict[str, Any]:
        """A plug-in method's distribution and version, for its records ({} for a built-in)."""
        plugin = PLUGINS.get(self.spec.method)
        return {} if plugin is None else {"plugin": {"distribution": plugin.distribution, "version": plugin.version}}


Task = RunTask | StageTask


def run_label(label: str, spec: RunSpec) -> str:
    if spec.overrides or spec.recipe:
        label += " (" + ", ".join(f"{k}={v}" for k, v in (*spec.overrides, *spec.recipe)) + ")"
    if spec.augment != "none":
        label += f" + {AUGMENT_POLICIES[spec.augment]}"
    return label


class NotApplicable(UserError):
    """The method does not apply where the run is (`where`: its dataset and shots, or its augment
    policy), for `reason`."""

    def __init__(self, method: str, where: str, reason: str):
        super().__init__(f"{method} {where}: {reason}")
        self.where, self.reason = where, reason


def resolve_recipe(recipe: Recipe, values: dict[str, Any]) -> tuple[Recipe, tuple[tuple[str, Any], ...]]:
    """The recipe with a run's recipe values, each checked against its range; and those values in
    canonical form: only the ones that differ from the recipe's, as its types, sorted."""
    declared = recipe_params(recipe)
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise UserError(f"unknown recipe parameter '{unknown[0]}'; valid: {', '.join(declared)}")
    checked = {name: declared[name].check(name, value) for name, value in values.items()}
    canonical = tuple(sorted((k, v) for k, v in checked.items() if v != declared[k].default))
    return dataclasses.replace(recipe, **dict(canonical)), canonical


class Resolver:
    """Resolves specs into tasks, each distinct stage once (the same StageTask for every run that
    requires it): the one place where a method is looked up, its hyperparameters checked and its
    recipe chosen. `shape` gives a dataset's classes and image size."""

    def __init__(self, shape: Callable[[str], Shape]):
        self.shape = shape
        self.stages: dict[str, StageTask] = {}

    def run(self, spec: RunSpec) -> RunTask:
        method = get_method(spec.method)
        if spec.augment not in AUGMENT_POLICIES:
            raise UserError(f"unknown augment policy '{spec.augment}'; valid: {', '.join(AUGMENT_POLICIES)}")
        try:
            method.policy_for(spec.augment)
        except UserError as exc:
            raise NotApplicable(spec.method, f"with augment {spec.augment}", str(exc)) from None
        shape = self.shape(spec.dataset)
        ctx = Context(spec.dataset, shape.num_classes, shape.image_size, spec.shots, spec.seed, spec.profile,
                      spec.augment, dict(spec.overrides))
        reason = method.unsuitable(ctx)
        if reason:
            raise NotApplicable(spec.method, f"on {dataset_label(spec.dataset)} at {spec.shots} shots", reason)
        recipe, recipe_values = resolve_recipe(method.adapt_recipe(recipe_for(spec.profile, shape.image_size), ctx),
                                               dict(spec.recipe))
        hp = method.resolve(ctx)
        defaults = method.defaults(ctx)
        overrides = tuple(sorted((k, v) for k, v in hp.items() if v != defaults[k]))
        spec = dataclasses.replace(spec, overrides=overrides, recipe=recipe_values)
        instance = method(dataclasses.replace(ctx, overrides=dict(overrides)))
        requires = tuple(self.stage(s) for s in instance.requires())
        return RunTask(spec, requires, instance, recipe, shape)

    def stage(self, spec: StageSpec) -> StageTask:
        if spec.id not in self.stages:
            kind = STAGE_KINDS[spec.kind]
            requires = tuple(self.stage(s) for s in kind.requires(spec))
            classifier = kind.classifier(spec)
            self.stages[spec.id] = StageTask(spec, requires, kind, self.shape(spec.dataset),
                                             None if classifier is None else self.run(classifier))
        return self.stages[spec.id]
