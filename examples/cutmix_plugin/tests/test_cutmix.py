"""The plug-in's own tests: the method's images and targets, its registration through the entry
point, and a run of it on the bundled digits (quick profile) through the suite's command line."""
from __future__ import annotations

import json

import torch

from benchmark.cli import main
from benchmark.orchestration.plan import resolve
from benchmark.spec import RunSpec
from benchmark.training.pipeline import TrainData
from cutmix_plugin import CutMix, cut_box
from methods import METHODS, PLUGINS
from methods.base import Context


def test_the_box_covers_one_minus_lambda_away_from_the_borders():
    assert cut_box(0.75, 32, [0.5, 0.5]) == (8, 8, 16, 16)  # side 32 * sqrt(0.25) = 16
    assert cut_box(0.75, 32, [0.0, 0.99]) == (0, 23, 8, 9)  # clipped at the top and the right
    assert cut_box(1.0, 32, [0.3, 0.3])[2:] == (0, 0)


def test_a_pasted_box_and_targets_weighted_by_its_area():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(10).repeat(2)
    method = CutMix(Context("digits", 10, 32, 2, 0, "quick", overrides={"p": 1.0}))
    method.setup(TrainData(images, labels, pad=0), {})
    batch = method.data.batch(torch.arange(20))
    out = method.augment(batch)
    changed = (out.x != batch.x).any(1)  # [B, H, W]: the pasted pixels (where the partner differs)
    (w_own, own), (w_partner, partner) = out.targets
    assert torch.equal(own, batch.y) and abs(w_own + w_partner - 1) < 1e-9
    area = changed.any(0).float().mean().item()  # one box for the whole batch
    assert 0 < area < 1 and abs(w_partner - area) < 0.05
    assert torch.equal(out.x[~changed.unsqueeze(1).expand_as(out.x)], batch.x[~changed.unsqueeze(1).expand_as(out.x)])


def test_the_suite_finds_it_through_the_entry_point():
    assert METHODS["cutmix"] is CutMix and PLUGINS["cutmix"].distribution == "smalldata-cutmix"
    (task,) = resolve([RunSpec("cutmix", "digits", 5, 0, profile="quick", overrides=(("alpha", 1.0),))]).runs
    assert task.spec.overrides == ()  # alpha 1 is the default: the same run as none


def test_a_quick_run_on_digits_records_the_plugin(tmp_path):
    results = tmp_path / "results"
    assert main(["run", "--datasets", "digits", "--methods", "cutmix", "--shots", "5", "--seeds", "0", "--profile",
                 "quick", "--executor", "debug", "--quiet", "--results-dir", str(results)]) == 0
    (record,) = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    assert record["method_label"] == "CutMix" and record["metrics"]["accuracy"] > 20
    assert record["environment"]["plugin"] == {"distribution": "smalldata-cutmix", "version": "0.1.0"}
