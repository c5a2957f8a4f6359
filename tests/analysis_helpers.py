"""Shared helpers of the analysis and figure tests: untrained generator artifacts (same format and
code path as trained ones, seconds instead of minutes) and a tiny FID feature extractor."""
from __future__ import annotations

import torch

from benchmark.training.spec import RunSpec
from benchmark.orchestration.store import Store
from methods import get_method
from methods.generator import write_untrained_artifact


def add_untrained_generator(store: Store, method: str, dataset: str = "digits", shots: int = 5, seed: int = 0,
                            profile: str = "quick") -> None:
    stage = get_method(method).stage(RunSpec(method, dataset, shots, seed, profile=profile))
    write_untrained_artifact(stage, store.artifact_path(stage.stage_id))
    store.write_stage_record(stage.stage_id, {"stage": stage.to_dict(), "summary": {"untrained": True}})


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
