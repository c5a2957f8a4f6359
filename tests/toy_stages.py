"""Toys of the tests (registered by the tests that use them, never by the suite): a stage kind that
needs a stage (the labels a teacher gives the training subset) and a method that trains on it, so
that a run needs a chain teacher -> label set -> run of three levels."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from benchmark.atomic import save_atomic
from benchmark.training.pipeline import Batch, TrainData, normalize
from benchmark.training.recipes import Schedule
from benchmark.spec import StageSpec
from methods.base import Method
from methods.stage import StageKind
from methods.teacher import TeacherKind, load_teacher

TOY_GRID = "toyteacher"  # the grid of the `toy` fixture (tests/conftest.py)


class TeacherLabelSet(StageKind):
    """The labels the teacher of the subset predicts for each of its images."""

    name = "toy_teacher_labels"
    label = "teacher-label set"
    profile_section = "teacher"

    def requires(self, stage: StageSpec) -> tuple[StageSpec, ...]:
        return (TeacherKind.spec(stage.dataset, stage.shots, stage.seed, stage.profile),)

    def schedule(self, stage: StageSpec) -> Schedule:
        return Schedule(batch_size=1000, epochs=1, repeats_base=1)

    def gpu_step_s(self, stage: StageSpec) -> float:
        return 0.001

    def step_key(self, stage: StageSpec, image_size: int, num_classes: int) -> str:
        return f"toy-label-set:{image_size}px"

    def measure_step(self, stage, image_size, num_classes, device) -> float:
        return 0.001

    def train(self, stage, images, labels, num_classes, device, inputs, artifact, checkpoint, checkpoint_every_s,
              on_epoch) -> dict:
        teacher = load_teacher(inputs[TeacherKind.name], device)
        with torch.inference_mode():
            predicted = teacher(normalize(images.to(device))).argmax(1).cpu()
        save_atomic({"labels": predicted}, artifact)
        return {"agreement": float((predicted == labels).float().mean())}

    def stand_in(self, stage, images, labels, num_classes, inputs, artifact) -> None:
        save_atomic({"labels": labels.clone()}, artifact)


class TeacherLabels(Method):
    label = "Teacher labels (toy)"
    summary = "trains on the labels the subset's teacher predicts (a test toy)"

    def requires(self) -> tuple[StageSpec, ...]:
        ctx = self.ctx
        return (StageSpec(TeacherLabelSet.name, ctx.dataset, ctx.shots, ctx.seed, ctx.profile),)

    def setup(self, data: TrainData, artifacts: dict[str, Path]) -> None:
        super().setup(data, artifacts)
        labels = torch.load(artifacts[TeacherLabelSet.name], map_location="cpu", weights_only=True)["labels"]
        self.teacher_labels = labels.to(data.labels.device)

    def augment(self, batch: Batch) -> Batch:
        return dataclasses.replace(batch, targets=((1.0, self.teacher_labels[batch.idx]),))
