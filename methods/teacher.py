"""The teacher stage kind: a classifier trained with the run's recipe on the same subset, its
weights kept, for methods that learn from a teacher's predictions (SuperMix). The teacher's method
is a stage parameter, the baseline by default: its training is then exactly the baseline run's."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.atomic import save_atomic
from benchmark.training.recipes import GPU_STEP_S, Recipe, classifier_step_key, recipe_for
from benchmark.spec import StageSpec
from methods.base import Context, Method
from methods.stage import EpochCallback, StageKind, register_stage_kind

if TYPE_CHECKING:
    import torch
    from torch import nn


@register_stage_kind
class TeacherKind(StageKind):
    name = "teacher"
    label = "teacher"
    profile_section = "teacher"

    @classmethod
    def spec(cls, dataset: str, shots: int, seed: int, profile: str, method: str = "baseline") -> StageSpec:
        return StageSpec(cls.name, dataset, shots, seed, profile, (("method", method),))

    def schedule(self, stage: StageSpec) -> Recipe:
        return recipe_for(stage.dataset, stage.profile)

    def gpu_step_s(self, stage: StageSpec) -> float:
        return GPU_STEP_S[self.schedule(stage).model]

    def step_key(self, stage: StageSpec, image_size: int, num_classes: int) -> str:
        return classifier_step_key(self.schedule(stage), image_size, num_classes)

    def measure_step(self, stage: StageSpec, image_size: int, num_classes: int, device: torch.device) -> float:
        from benchmark.training.timing import measure_classifier_step
        return measure_classifier_step(self.schedule(stage), image_size, num_classes, device)

    def train(self, stage: StageSpec, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
              device: torch.device, inputs: dict[str, Path], artifact: Path, checkpoint: Path,
              checkpoint_every_s: float, on_epoch: EpochCallback | None) -> dict:
        from benchmark.training.engine import Trainer, train
        method, ctx = teacher_method(stage, num_classes, images.shape[-1])
        trainer = Trainer(method, ctx, self.schedule(stage), images, labels, device, inputs)
        _, progress, resumed_from = train(trainer, stage.to_dict(), checkpoint, checkpoint_every_s, on_epoch)
        write_teacher(trainer.model, stage, num_classes, images.shape[-1], artifact)
        return {"recipe": asdict(trainer.recipe), "steps": trainer.total_steps, "train_seconds": progress.train_seconds,
                "resumed_from_epoch": resumed_from, "curve": progress.curve_loss}

    def stand_in(self, stage: StageSpec, images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                 inputs: dict[str, Path], artifact: Path) -> None:
        from benchmark.training.models import build_model
        method, ctx = teacher_method(stage, num_classes, images.shape[-1])
        model = method(ctx).wrap_model(build_model(self.schedule(stage).model, num_classes))
        write_teacher(model, stage, num_classes, images.shape[-1], artifact)


def teacher_method(stage: StageSpec, num_classes: int, image_size: int) -> tuple[type[Method], Context]:
    from methods import get_method
    ctx = Context(stage.dataset, num_classes, image_size, stage.shots, stage.seed, stage.profile)
    return get_method(dict(stage.params)["method"]), ctx


def write_teacher(model: nn.Module, stage: StageSpec, num_classes: int, image_size: int, path: Path) -> None:
    save_atomic({"stage": stage.to_dict(), "num_classes": num_classes, "image_size": image_size,
                 "model": model.state_dict()}, path)


def load_teacher(path: Path, device: torch.device) -> nn.Module:
    """The trained teacher of an artifact, in eval mode and without gradients."""
    import torch

    from benchmark.training.models import build_model
    state = torch.load(path, map_location="cpu", weights_only=True)
    stage = StageSpec.from_dict(state["stage"])
    method, ctx = teacher_method(stage, state["num_classes"], state["image_size"])
    model = method(ctx).wrap_model(build_model(recipe_for(stage.dataset, stage.profile).model, state["num_classes"]))
    model.load_state_dict(state["model"])
    return model.to(device).eval().requires_grad_(False)
