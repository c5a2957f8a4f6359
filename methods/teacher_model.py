"""A teacher stage's work: its classifier run trained on the subset (the plan's resolved run, with
its recipe and method), and the artifact that keeps the trained model; `load_teacher` rebuilds it
for the stages that use it."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from benchmark.atomic import save_atomic
from benchmark.errors import UserError
from benchmark.profiles import recipe_for
from benchmark.spec import StageSpec
from benchmark.training.artifacts import fields_problem, weights_problem
from benchmark.training.engine import train as train_classifier
from benchmark.training.models import build_model
from benchmark.training.timing import measure_classifier_step
from methods.base import Context
from methods.registry import get_method

if TYPE_CHECKING:
    from benchmark.training.recipes import Recipe
    from methods.stage import StageWork


def train(work: StageWork) -> dict:
    trainer = work.classifier.trainer(work.images, work.labels, work.device, work.inputs)
    _, progress, resumed_from = train_classifier(trainer, work.stage.to_dict(), work.checkpoint,
                                                 work.checkpoint_every_s, work.on_epoch)
    write_teacher(trainer.model, work)
    return {"recipe": trainer.recipe.to_dict(), "steps": trainer.total_steps, "train_seconds": progress.train_seconds,
            "resumed_from_epoch": resumed_from, "curve": progress.curve_loss}


def stand_in(work: StageWork) -> None:
    run = work.classifier
    write_teacher(copy.copy(run.method).wrap_model(build_model(run.recipe.model, work.num_classes)), work)


def measure_step(stage: StageSpec, recipe: Recipe, image_size: int, num_classes: int, device: torch.device) -> float:
    return measure_classifier_step(recipe, image_size, num_classes, device)


def write_teacher(model: nn.Module, work: StageWork) -> None:
    run = work.classifier
    save_atomic({"stage": work.stage.to_dict(), "num_classes": work.num_classes, "image_size": work.images.shape[-1],
                 "model_name": run.recipe.model, "method": run.spec.method, "hparams": run.hparams,
                 "model": model.state_dict()}, work.artifact)


def with_names(state: Any) -> Any:
    """A teacher artifact as written now. Those written before 2026-12-06 do not name their classifier
    (model_name, method, hparams): it was then the stage's method at its defaults on the profile's
    model, and they get those names, so that finished teachers are not trained again."""
    if not isinstance(state, dict) or {"model_name", "method", "hparams"} & state.keys():
        return state
    try:
        stage = StageSpec.from_dict(state["stage"])
        names = {"method": str(dict(stage.params)["method"]), "hparams": {},
                 "model_name": recipe_for(stage.profile, state["image_size"]).model}
    except (KeyError, TypeError, ValueError, UserError):
        return state  # no stage or image size: fields_problem names what is missing
    return {**state, **names}


def artifact_problem(state: Any, stage: StageSpec, recipe: Recipe) -> str:
    state = with_names(state)
    problem = fields_problem(state, stage, {"num_classes": int, "image_size": int, "model_name": str, "method": str,
                                            "hparams": dict, "model": dict})
    if problem:
        return problem
    if state["model_name"] != recipe.model:
        return f"a {state['model_name']}, not the recipe's {recipe.model}"
    try:
        return weights_problem(state["model"], lambda: teacher_model(state))
    except UserError as exc:  # a method or hyperparameter of the artifact that does not resolve
        return str(exc)


def teacher_model(state: dict) -> nn.Module:
    """The classifier of a teacher artifact as it trained: the recipe's model, wrapped by its method."""
    stage = StageSpec.from_dict(state["stage"])
    ctx = Context(stage.dataset, state["num_classes"], state["image_size"], stage.shots, stage.seed, stage.profile,
                  overrides=state["hparams"])
    return get_method(state["method"])(ctx).wrap_model(build_model(state["model_name"], state["num_classes"]))


def load_teacher(path: Path, device: torch.device) -> nn.Module:
    """The trained teacher of an artifact (its classifier as it trained: the recipe's model, wrapped
    by its method), in eval mode and without gradients."""
    state = with_names(torch.load(path, map_location="cpu", weights_only=True))
    model = teacher_model(state)
    model.load_state_dict(state["model"])
    return model.to(device).eval().requires_grad_(False)
