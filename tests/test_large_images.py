"""The 84- and 224-px recipes, the batched RandomResizedCrop, and the second data path: a subset
streamed from its array file trains exactly as a held one (forced with a small threshold)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import RandomResizedCrop

from benchmark.cli import main
from benchmark.profiles import recipe_for, recipe_size
from benchmark.training.models import build_model
from benchmark.training.pipeline import NORMALIZATIONS
from benchmark.training.recipes import PAPER_32, SYNERMIX_32
from benchmark.training.resized_crop import ResizedCropData, center_boxes, random_boxes, resample
from helpers import grid_tasks, run_task
from test_photo_sets import mini_parts, write_food101, write_mini_pickles


def test_recipe_sizes_resolve_as_before_and_take_224_from_160_px():
    assert [recipe_size(s) for s in (8, 32, 63, 64, 65, 84, 96, 159, 160, 224, 512)] == \
        [32, 32, 32, 32, 96, 96, 96, 96, 224, 224, 224]
    mini, food = recipe_for("synermix", 84), recipe_for("synermix", 224)
    assert (mini.model, mini.pad, mini.cutout, mini.normalization, mini.crop) == ("resnet18-cifar", 12, 32, "half", "pad")
    assert (food.model, food.crop, food.normalization, food.batch_size, food.lr_decay.epochs) == \
        ("resnet18", "resized", "imagenet", 128, 10)
    assert recipe_for("quick", 224).model == "cnn" and recipe_for("paper", 300).sampler == "shuffle"
    assert run_task("baseline", "food101", "all", profile="synermix").steps == 120 * math.ceil(75750 / 128)
    assert run_task("baseline", "oxford_pet", 5, profile="synermix").recipe.repeats(5) == 12


def test_a_record_keeps_the_recipe_of_earlier_runs():
    assert set(SYNERMIX_32.to_dict()) == set(PAPER_32.to_dict()) and "crop" not in PAPER_32.to_dict()
    assert recipe_for("synermix", 224).to_dict()["crop"] == "resized"


def test_imagenet_stem_resnet18_has_the_mixing_points_of_the_others():
    model = build_model("resnet18", 37).eval()
    with torch.no_grad():
        features, hidden = model.forward_intermediates(torch.rand(2, 3, 224, 224))
    assert [tuple(h.shape[1:]) for h in hidden] == [(3, 224, 224), (64, 56, 56), (128, 28, 28), (256, 14, 14)]
    assert features.shape == (2, 512) and model.head.out_features == 37


def test_random_boxes_follow_torchvisions_distribution():
    torch.manual_seed(0)
    sizes = torch.tensor([[300, 400]] * 4000 + [[10, 1000]] * 10)
    boxes = random_boxes(sizes)
    top, left, h, w = boxes.T
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= sizes[:, 0]).all() and (left + w <= sizes[:, 1]).all()
    area, ratio = (h * w / (300 * 400))[:4000], (w / h)[:4000]
    ours = torch.stack([area.mean(), ratio.log().mean(), ratio.log().std()])
    params = [RandomResizedCrop.get_params(torch.zeros(3, 300, 400), (0.08, 1.0), (3 / 4, 4 / 3)) for _ in range(4000)]
    theirs_h, theirs_w = torch.tensor([p[2] for p in params], dtype=torch.float64), torch.tensor([p[3] for p in params],
                                                                                                   dtype=torch.float64)
    theirs = torch.stack([(theirs_h * theirs_w / (300 * 400)).mean(), (theirs_w / theirs_h).log().mean(),
                          (theirs_w / theirs_h).log().std()])
    assert torch.allclose(ours, theirs, atol=0.02), (ours, theirs)
    # 10 x 1000: no attempt fits (8 % of the area is 800 px, more than 10 rows at ratio <= 4/3), so
    # torchvision's fallback: the centre at ratio 4/3
    assert boxes[4000:].tolist() == [[0, 493, 10, 13]] * 10


def test_center_boxes_are_torchvisions_resize_and_center_crop():
    sizes = torch.tensor([[256, 256], [300, 500], [500, 301]])
    boxes = center_boxes(sizes, 256, 224)
    assert boxes[0].tolist() == [16, 16, 224, 224]
    # 300 x 500 -> Resize(256): 256 x 426, crop at (16, 101): in the original, scaled by 300 / 256
    assert torch.allclose(boxes[1], torch.tensor([16, 101 * 500 / 426, 224, 224 * 500 / 426], dtype=torch.float64) *
                          torch.tensor([300 / 256, 1, 300 / 256, 1], dtype=torch.float64))
    image = torch.randint(0, 256, (1, 3, 256, 256), dtype=torch.uint8)
    crop = resample(image, boxes[:1], sizes[:1], 224)  # a box on whole pixels of the stored size: the pixels
    assert torch.allclose(crop, image[:, :, 16:240, 16:240].float(), atol=1e-3)


def test_resized_crops_make_normalised_batches_and_test_view_originals():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 64, 64), dtype=torch.uint8)
    sizes = torch.tensor([[64, 64]] * 6)
    data = ResizedCropData(images, torch.arange(6), sizes, 56, NORMALIZATIONS["imagenet"])
    batch = data.batch(torch.tensor([0, 3, 5]))
    assert batch.x.shape == (3, 3, 56, 56) and batch.y.tolist() == [0, 3, 5]
    mean, std = NORMALIZATIONS["imagenet"].stats(torch.device("cpu"))
    assert torch.allclose(data.originals(torch.tensor([2]))[0], (images[2, :, 4:60, 4:60] / 255 - mean) / std,
                          atol=1e-4)


def run_cli(results: Path, dataset: str, methods: str, shots: str) -> None:
    argv = ["run", "--datasets", dataset, "--methods", methods, "--shots", shots, "--seeds", "0", "--profile", "quick",
            "--executor", "debug", "--quiet", "--results-dir", str(results)]
    assert main(argv) == 0


def records(results: Path) -> dict[str, dict]:
    out = {}
    for path in sorted((results / "runs").glob("*.json")):
        record = json.loads(path.read_text())
        out[path.name] = {k: v for k, v in record.items() if k not in ("timing", "environment")}
    return out


@pytest.mark.parametrize("dataset, methods, shots", [("food101", "synermix_manifold,random_erasing", "all"),
                                                     ("miniimagenet", "synermix_intra", "all")])
def test_a_streamed_subset_trains_exactly_as_a_held_one(tmp_path, monkeypatch, dataset, methods, shots):
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCHMARK_DATA_DIR", str(tmp_path / "data"))
    if dataset == "food101":
        write_food101(tmp_path / "data")
    else:
        write_mini_pickles(tmp_path / "data", mini_parts())
    run_cli(tmp_path / "held", dataset, methods, shots)
    monkeypatch.setenv("BENCHMARK_STREAM_BYTES", "0")
    run_cli(tmp_path / "streamed", dataset, methods, shots)
    held, streamed = records(tmp_path / "held"), records(tmp_path / "streamed")
    assert len(held) == len(methods.split(",")) and held == streamed


def test_a_folder_from_160_px_trains_with_the_224_px_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))
    for c in range(2):
        for i in range(4):
            (tmp_path / "pets" / f"c{c}").mkdir(parents=True, exist_ok=True)
            pixels = np.full((50, 70, 3), 60 + 120 * c, dtype=np.uint8) + np.uint8(i)
            Image.fromarray(pixels).save(tmp_path / "pets" / f"c{c}" / f"{i}.jpg")
    run_cli(tmp_path / "results", f"folder@160:{tmp_path / 'pets'}", "baseline", "2")
    (record,) = records(tmp_path / "results").values()
    assert record["recipe"]["crop"] == "resized" and record["recipe"]["normalization"] == "imagenet"
    assert record["dataset_label"] == "folder@160:pets" and record["dataset_fingerprint"]


def test_the_synermix_grids():
    datasets = grid_tasks("synermix_datasets")
    assert len(datasets) == 150 and {t.dataset for t in datasets} == {"cifar100", "miniimagenet", "food101", "oxford_pet",
                                                                     "caltech256"}
    assert {t.id for t in grid_tasks("synermix")} <= {t.id for t in datasets}
    assert {t.recipe.model for t in datasets if t.dataset in ("food101", "caltech256")} == {"resnet18"}
    fewshot = grid_tasks("synermix_fewshot")
    assert len(fewshot) == 320 and {t.spec.shots for t in fewshot} == {5, 10, 20, 50}
    assert {t.spec.method for t in fewshot} == {"baseline", "synermix_intra", "mixup", "manifold_mixup", "synermix_mixup",
                                                "synermix_manifold", "cutout", "random_erasing"}
