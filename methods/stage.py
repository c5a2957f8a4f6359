"""The stage-kind contract: work that runs need trained first, once per subset and shared (a
ChimeraMix generator, a SuperMix teacher, ...). A kind is a registered plug-in; orchestration
treats every kind alike and names none.

A stage is a StageSpec (kind, dataset, shots, seed, profile, params), identified by the hash of its
canonical JSON; a stage may require other stages (`requires`), which are trained before it and
whose artifacts it receives by kind.

A kind is mostly data: its name, label, SLURM profile section, the names of its params, its
recipes per profile (and recipe size) and the module that does its work; the base class turns
these into the hooks orchestration calls. The conventions a new kind follows:

- The kind's module is torch-free: it declares, it does not compute (`list`, `status` and the dry
  run read it without torch). Its work lives in `implementation`, a module imported only when a
  stage trains, is stood in for or is timed, with three functions:
    train(work: StageWork) -> dict           train, write work.artifact atomically, return a summary
    stand_in(work: StageWork) -> None        write an untrained artifact that costs what a trained one
                                             costs to use (for `perf` and the tests)
    measure_step(stage, recipe, image_size, num_classes, device) -> float   one step's seconds
    artifact_problem(state, stage, recipe) -> str   what in a loaded artifact (a results directory is
                                             not trusted) is not what `train` writes for this stage:
                                             keys, tensor shapes, the stage it names; "" if nothing
- Training is resumable by epochs: benchmark.training.resumable's `train_epochs` (or `train_curve`)
  checkpoints to work.checkpoint and restores the RNG, so a killed stage ends as an uninterrupted one.
- Artifacts are keyed by kind: a run (or a stage) receives the artifacts of the stages it requires
  as {kind name: path}, and loads them with torch's weights-only loader.
- A stage that trains a classifier (a teacher) says so with `classifier(stage)`: the plan resolves
  that run like any other, and its recipe, cost and trainer are the stage's (`work.classifier`).
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol

from benchmark.profiles import by_profile
from benchmark.spec import RunSpec, Shots, StageSpec

if TYPE_CHECKING:  # a kind's declarations are read without torch; its training imports it
    import torch

    from benchmark.training.recipes import Schedule

EpochCallback = Callable[[int, int], None]


class Subset(Protocol):
    """What a stage's spec is made from: a run's Context, or another StageSpec."""

    dataset: str
    shots: Shots
    seed: int
    profile: str


@dataclass(frozen=True)
class StageWork:
    """Everything one training (or stand-in) of a stage works with."""

    stage: StageSpec
    recipe: Schedule
    images: torch.Tensor  # the subset, uint8 [N, 3, H, W]
    labels: torch.Tensor  # int64 [N]
    num_classes: int
    device: torch.device
    inputs: dict[str, Path]  # the required stages' artifacts, by kind
    artifact: Path
    checkpoint: Path | None = None
    checkpoint_every_s: float = 60.0
    on_epoch: EpochCallback | None = None
    classifier: Any = None  # the resolved run (orchestration's RunTask) of a kind with `classifier`


class StageKind(ABC):
    name: ClassVar[str]  # StageSpec.kind
    label: ClassVar[str]  # how `status` and the dry run name its stages, e.g. "generator"
    profile_section: ClassVar[str]  # its table in a SLURM profile ([generator], [datasets.NAME.generator])
    params: ClassVar[tuple[str, ...]] = ()  # the names of its StageSpec's params
    recipes: ClassVar[dict[str, dict[int, Schedule]]] = {}  # profile -> recipe size -> recipe
    implementation: ClassVar[str]  # the module with train, stand_in and measure_step

    @classmethod
    def spec(cls, subset: Subset, **params: Any) -> StageSpec:
        """The stage of this kind for a subset (a run's context, or another stage), with its params."""
        return StageSpec(cls.name, subset.dataset, subset.shots, subset.seed, subset.profile,
                         tuple((name, params[name]) for name in cls.params))

    def requires(self, stage: StageSpec) -> tuple[StageSpec, ...]:
        """Stages this stage needs trained first."""
        return ()

    def classifier(self, stage: StageSpec) -> RunSpec | None:
        """The classifier run this stage trains (a teacher), or None."""
        return None

    def schedule(self, stage: StageSpec, image_size: int) -> Schedule:
        """Batch size, epochs and repeats of the stage's training (its steps): the profile's recipe
        (a stage with a classifier trains with the classifier's recipe instead)."""
        return by_profile(self.recipes, stage.profile, image_size, self.label)

    @abstractmethod
    def gpu_step_s(self, stage: StageSpec, recipe: Schedule) -> float:
        """Assumed seconds of one training step on a data-centre GPU (cost estimates)."""

    @abstractmethod
    def step_key(self, stage: StageSpec, recipe: Schedule, image_size: int, num_classes: int) -> str:
        """What decides the cost of one step (the step-time tables' key, without the device)."""

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.implementation)

    def train(self, work: StageWork) -> dict:
        return self.module.train(work)

    def stand_in(self, work: StageWork) -> None:
        self.module.stand_in(work)

    def measure_step(self, stage: StageSpec, recipe: Schedule, image_size: int, num_classes: int,
                     device: torch.device) -> float:
        return self.module.measure_step(stage, recipe, image_size, num_classes, device)

    def artifact_problem(self, state: Any, stage: StageSpec, recipe: Schedule) -> str:
        return self.module.artifact_problem(state, stage, recipe)
