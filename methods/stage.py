"""The stage-kind contract: work that runs need trained first, once per subset and shared (a
ChimeraMix generator, a SuperMix teacher, ...). A kind is a registered plug-in that declares how a
stage of it trains, what it costs, which table of a SLURM profile it reads and how `perf` stands in
for it; orchestration treats every kind alike and names none.

A stage is a StageSpec (kind, dataset, shots, seed, profile, params), identified by the hash of its
canonical JSON; a stage may require other stages (`requires`), which are trained before it and
whose artifacts it receives by kind.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar

from benchmark.training.recipes import Schedule
from benchmark.spec import StageSpec

if TYPE_CHECKING:  # a kind's declarations are read without torch; its training imports it
    import torch

EpochCallback = Callable[[int, int], None]


class StageKind(ABC):
    name: ClassVar[str]  # StageSpec.kind
    label: ClassVar[str]  # how `status` and the dry run name its stages, e.g. "generator"
    profile_section: ClassVar[str]  # its table in a SLURM profile ([generator], [datasets.NAME.generator])

    def requires(self, stage: StageSpec) -> tuple[StageSpec, ...]:
        """Stages this stage needs trained first."""
        return ()

    @abstractmethod
    def schedule(self, stage: StageSpec) -> Schedule:
        """Batch size, epochs and repeats of the stage's training: its steps."""

    @abstractmethod
    def gpu_step_s(self, stage: StageSpec) -> float:
        """Assumed seconds of one training step on a data-centre GPU (cost estimates)."""

    @abstractmethod
    def step_key(self, stage: StageSpec, image_size: int, num_classes: int) -> str:
        """What decides the cost of one step (the step-time tables' key, without the device)."""

    @abstractmethod
    def measure_step(self, stage: StageSpec, image_size: int, num_classes: int, device: torch.device) -> float:
        """Seconds of one training step of the stage on random images."""

    @abstractmethod
    def train(self, stage: StageSpec, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
              device: torch.device, inputs: dict[str, Path], artifact: Path, checkpoint: Path, checkpoint_every_s: float,
              on_epoch: EpochCallback | None) -> dict:
        """Train the stage on the subset (uint8 images, labels), resuming from and periodically writing
        `checkpoint`, then write `artifact` atomically; `inputs` are the required stages' artifacts by
        kind. Returns the stage's summary for its record."""

    @abstractmethod
    def stand_in(self, stage: StageSpec, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                 inputs: dict[str, Path], artifact: Path) -> None:
        """Write an untrained artifact that costs what a trained one costs to use (for `perf`)."""


STAGE_KINDS: dict[str, StageKind] = {}


def register_stage_kind(kind: type[StageKind]) -> type[StageKind]:
    STAGE_KINDS[kind.name] = kind()
    return kind
