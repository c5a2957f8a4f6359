"""Toys of the tests (registered by the tests that use them, never by the suite): a stage kind that
needs a stage (the labels a teacher gives the training subset) and a method that trains on it, so
that a run needs a chain teacher -> label set -> run of three levels."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from benchmark.atomic import save_atomic
from benchmark.spec import StageSpec
from benchmark.training.pipeline import Batch, TrainData, normalize
from benchmark.training.recipes import Schedule
from methods.base import Method
from methods.stage import StageKind, StageWork
from methods.teacher import TeacherKind
from methods.teacher_model import load_teacher

TOY_SCHEDULE = Schedule(batch_size=1000, epochs=1, repeats_base=1)

TOY_GRID = "toyteacher"  # the grid of the `toy` fixture (tests/conftest.py)


class TeacherLabelSet(StageKind):
    """The labels the teacher of the subset predicts for each of its images."""

    name = "toy_teacher_labels"
    label = "teacher-label set"
    profile_section = "teacher"
    recipes = {"quick": {32: TOY_SCHEDULE}, "paper": {32: TOY_SCHEDULE}}
    implementation = "toy_stages"  # this module's train, stand_in, measure_step

    def requires(self, stage: StageSpec) -> tuple[StageSpec, ...]:
        return (TeacherKind.spec(stage, method="baseline"),)

    def gpu_step_s(self, stage: StageSpec, recipe: Schedule) -> float:
        return 0.001

    def step_key(self, stage: StageSpec, recipe: Schedule, image_size: int, num_classes: int) -> str:
        return f"toy-label-set:{image_size}px"


def train(work: StageWork) -> dict:
    teacher = load_teacher(work.inputs[TeacherKind.name], work.device)
    with torch.inference_mode():
        predicted = teacher(normalize(work.images.to(work.device))).argmax(1).cpu()
    save_atomic({"labels": predicted}, work.artifact)
    return {"agreement": float((predicted == work.labels).float().mean())}


def stand_in(work: StageWork) -> None:
    save_atomic({"labels": work.labels.clone()}, work.artifact)


def measure_step(stage, recipe, image_size, num_classes, device) -> float:
    return 0.001


class TeacherLabels(Method):
    label = "Teacher labels (toy)"
    summary = "trains on the labels the subset's teacher predicts (a test toy)"

    def requires(self) -> tuple[StageSpec, ...]:
        return (TeacherLabelSet.spec(self.ctx),)

    def setup(self, data: TrainData, artifacts: dict[str, Path]) -> None:
        super().setup(data, artifacts)
        labels = torch.load(artifacts[TeacherLabelSet.name], map_location="cpu", weights_only=True)["labels"]
        self.teacher_labels = labels.to(data.labels.device)

    def augment(self, batch: Batch) -> Batch:
        return dataclasses.replace(batch, targets=((1.0, self.teacher_labels[batch.idx]),))


def artifact_problem(state, stage, recipe) -> str:
    return "" if isinstance(state, dict) and isinstance(state.get("labels"), torch.Tensor) else "no labels"
