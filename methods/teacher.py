"""The teacher stage kind: a classifier trained with the run's recipe on the same subset, its
weights kept, for methods that learn from a teacher's predictions (SuperMix). The teacher's method
is a stage parameter (SuperMix's is the baseline: its training is then exactly the baseline run's).
The plan resolves the teacher's classifier run like any run (`classifier`), so the teacher trains
with that run's recipe, adapted by its method; the training and the artifact: methods/teacher_model.py."""
from __future__ import annotations

from benchmark.spec import RunSpec, StageSpec
from benchmark.training.recipes import GPU_STEP_S, Recipe, classifier_step_key
from methods.registry import register_stage_kind
from methods.stage import StageKind


@register_stage_kind
class TeacherKind(StageKind):
    name = "teacher"
    label = "teacher"
    profile_section = "teacher"
    params = ("method",)
    implementation = "methods.teacher_model"

    def classifier(self, stage: StageSpec) -> RunSpec:
        return RunSpec(str(dict(stage.params)["method"]), stage.dataset, stage.shots, stage.seed, profile=stage.profile)

    def gpu_step_s(self, stage: StageSpec, recipe: Recipe) -> float:
        return GPU_STEP_S[recipe.model]

    def step_key(self, stage: StageSpec, recipe: Recipe, image_size: int, num_classes: int) -> str:
        return classifier_step_key(recipe, image_size, num_classes)
