"""Shared helpers of the tests: a resolved run, untrained stage artifacts (the kinds' stand-ins: same
format and code path as trained ones, seconds instead of minutes), a stage killed and resumed, and a
tiny FID feature extractor."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmark.data import cached_dataset, subsample
from benchmark.orchestration.plan import resolve
from benchmark.orchestration.store import Store
from benchmark.spec import RunSpec
from methods import StageWork


def run_task(method: str, dataset: str = "digits", shots: int = 5, seed: int = 0, profile: str = "quick",
             augment: str = "none", **overrides):
    """The RunTask of one run, as the plan resolves it."""
    spec = RunSpec(method, dataset, shots, seed, augment=augment, profile=profile, overrides=tuple(overrides.items()))
    return resolve([spec]).runs[0]


def grid_tasks(grid: str):
    """The resolved runs of a grid."""
    from benchmark.orchestration.grids import grid_specs
    return resolve(grid_specs(grid)).runs


def fake_record(task, accuracy: float):
    """A record of a run with this accuracy (nothing trained)."""
    from benchmark.data import dataset_label
    from benchmark.orchestration.record import RunRecord
    return RunRecord(task.id, task.spec, dataset_label(task.dataset), task.method.label, {"accuracy": accuracy},
                     hparams=task.hparams)


def add_untrained_stages(store: Store, method: str, dataset: str = "digits", shots: int = 5, seed: int = 0,
                         profile: str = "quick") -> None:
    """The stand-ins of every stage the method's run needs, as if `run` had trained them."""
    plan = resolve([RunSpec(method, dataset, shots, seed, profile=profile)])
    data = cached_dataset(dataset, str(store.root / "no-data"))  # digits: no files
    idx = subsample(data.train_y, shots, seed)
    for stage in plan.stages:
        inputs = {s.kind.name: store.artifact_path(s.id) for s in stage.requires}
        stand_in(stage, data.train_x[idx], data.train_y[idx], store.artifact_path(stage.id), inputs)
        store.write_stage_record(stage.id, {"stage": stage.to_dict(), "summary": {"untrained": True}})


def stand_in(stage, images, labels, artifact: Path, inputs: dict | None = None, num_classes: int = 10) -> None:
    """The kind's untrained artifact of a stage (a StageTask) on a subset."""
    stage.kind.stand_in(stage.work(images, labels, num_classes, torch.device("cpu"), inputs or {}, artifact))


def killed_and_resumed(kind, stage, images, labels, num_classes: int, tmp_path: Path, recipe, kill_after: int,
                       inputs: dict | None = None) -> tuple[dict, dict]:
    """The summaries of a stage trained whole (artifact a.pt) and of the same stage killed at the end of
    epoch `kill_after` and resumed (b.pt), on the CPU with a checkpoint at every epoch."""
    def train(name: str, on_epoch=None) -> dict:
        return kind.train(StageWork(stage, recipe, images, labels, num_classes, torch.device("cpu"), inputs or {},
                                    tmp_path / f"{name}.pt", tmp_path / f"{name}.ckpt", 0.0, on_epoch))

    def killed(epoch: int, epochs: int) -> None:
        if epoch == kill_after:
            raise KeyboardInterrupt

    whole = train("a")
    with pytest.raises(KeyboardInterrupt):
        train("b", killed)
    assert (tmp_path / "b.ckpt").exists() and not (tmp_path / "b.pt").exists()
    return whole, train("b")


def train_demo_run(method: str, results: Path):
    """Train the demo's run of `method` at 5 shots, seed 0, and the stages it needs, through the CLI in
    this process; its RunTask."""
    from benchmark.cli import main
    argv = ["run", "--grid", "demo", "--methods", method, "--shots", "5", "--seeds", "0", "--executor", "debug",
            "--quiet", "--results-dir", str(results)]
    assert main(argv) == 0
    return run_task(method)


TINY_EXTRACTOR = "tiny-test-features"


def register_tiny_extractor() -> str:
    """A 16-d random-conv feature extractor registered with torch-fidelity (fast FID in tests)."""
    import torch_fidelity
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    if TINY_EXTRACTOR in FEATURE_EXTRACTORS_REGISTRY:
        return TINY_EXTRACTOR

    class TinyFeatures(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            gen = torch.Generator().manual_seed(0)
            self.conv = torch.nn.Conv2d(3, 16, 5, stride=2)
            with torch.no_grad():
                self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=gen) * 0.1)
                self.conv.bias.zero_()

        @staticmethod
        def get_provided_features_list():
            return ("16",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "16"

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)

        def forward(self, x):
            f = torch.relu(self.conv(x.float() / 127.5 - 1)).mean((2, 3))
            return (f,)

    torch_fidelity.register_feature_extractor(TINY_EXTRACTOR, TinyFeatures)
    return TINY_EXTRACTOR
