"""The generator (mixing, reconstruction, losses), its stage (resume), the composing methods, and
an end-to-end quick run where one generator stage serves two classifier runs."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from benchmark.cli import main
from benchmark.data import load_dataset, subsample
from benchmark.orchestration.store import Store
from benchmark.orchestration.worker import run_batch
from benchmark.training.pipeline import TrainData, normalize
from benchmark.training.recipes import Recipe
from benchmark.spec import StageSpec
from helpers import killed_and_resumed, run_task, stand_in
from methods import STAGE_KINDS, Context, get_method
from methods.generator import GeneratorKind, GeneratorRecipe
from methods.generator_net import Discriminator, Generator, laplacian_loss, load_generator
from methods.masks import mix

CPU = torch.device("cpu")
TINY_GENERATOR = GeneratorRecipe(image_size=32, features=4, batch_size=4, epochs=3, milestones=(2,), repeats_base=2, lr=2e-3)
TINY_CLASSIFIER = Recipe(model="cnn", batch_size=10, lr=0.02, weight_decay=5e-4, epochs=1, repeats_base=10, pad=4)


pytestmark = pytest.mark.usefixtures("one_thread")


def digits_subset(shots: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset("digits", Path("."))
    idx = subsample(data.train_y, shots, seed)
    return data.train_x[idx], data.train_y[idx]


def one_hot(batch: int, n_images: int, selected: int, size: int) -> torch.Tensor:
    masks = torch.zeros(batch, n_images, size, size)
    masks[:, selected] = 1
    return masks


def test_a_mask_selecting_one_image_decodes_exactly_that_image():
    torch.manual_seed(0)
    g = Generator(4, 32).eval()
    x = torch.rand(3, 3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        features = g.encode(x.flatten(0, 1)).unflatten(0, (3, 3))
        assert features.shape == (3, 3, 16, 8, 8)
        for n in range(3):
            mixed = mix(features, one_hot(3, 3, n, 8))
            assert torch.equal(mixed, features[:, n])
            assert torch.equal(g.decode(mixed), g.decode(features[:, n]))
            torch.testing.assert_close(g.compose(x, one_hot(3, 3, n, 8)), g.decode(g.encode(x[:, n])))


def test_discriminator_scores_patches_in_0_1():
    scores = Discriminator(4)(torch.randn(2, 3, 32, 32))
    assert scores.shape == (2, 1, 2, 2) and bool(((scores > 0) & (scores < 1)).all())


def test_laplacian_loss_is_band_pass():
    torch.manual_seed(1)
    a = torch.randn(2, 3, 32, 32)
    assert laplacian_loss(a, a).item() == 0
    assert laplacian_loss(a + 0.5, a).item() < 1e-6  # a constant offset has no band-pass content
    assert laplacian_loss(a, torch.randn(2, 3, 32, 32)).item() > 0.1


def test_overfitting_two_images_reconstructs_them():
    images, _ = digits_subset(1)
    x = normalize(images[:2])
    torch.manual_seed(0)
    g = Generator(8, 32)
    optimizer = torch.optim.Adam(g.parameters(), lr=3e-3, betas=(0.5, 0.999))
    for _ in range(100):
        reconstructed = g.decode(g.encode(x))
        loss = 1000 * F.mse_loss(reconstructed, x) + laplacian_loss(reconstructed, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert F.mse_loss(g.decode(g.encode(x)), x).item() < 0.01


def test_generator_stage_kind_is_registered():
    assert isinstance(STAGE_KINDS["generator"], GeneratorKind)


def test_stage_resume_equals_uninterrupted(tmp_path: Path):
    images, labels = digits_subset(3)
    images, labels = images[labels < 2], labels[labels < 2]
    stage = StageSpec("generator", "digits", 3, 0, "quick", (("mask", "seg_assign"), ("n_images", 3)))
    whole, resumed = killed_and_resumed(STAGE_KINDS["generator"], stage, images, labels, 2, tmp_path, TINY_GENERATOR, 2)

    assert resumed["resumed_from_epoch"] == 2 and whole["resumed_from_epoch"] == 0
    assert resumed["curve"] == whole["curve"]
    a, b = (torch.load(tmp_path / name, weights_only=True) for name in ("a.pt", "b.pt"))
    assert a["stage"] == stage.to_dict() and a["image_size"] == 32
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])
    assert not list(tmp_path.glob("*.tmp"))


def test_stages_are_shared_by_runs_that_need_the_same_generator():
    def stage(method: str, dataset: str = "cifair10", seed: int = 0, **kwargs) -> StageSpec:
        (required,) = run_task(method, dataset, 5, seed, "paper", **kwargs).requires
        return required.spec

    base = stage("chimeramix_grid")
    assert base == stage("chimeramix_grid", augment="trivialaugment", p_gen=0.2)
    assert base != stage("chimeramix_grid", seed=1)
    assert base != stage("chimeramix_seg")
    assert dict(stage("hydramix", "stl10").params) == {"mask": "seg_assign", "n_images": 4}
    assert dict(stage("hydramix", "stl10", n_images=3).params)["n_images"] == 3
    for name in ("gridmix", "segmix", "hydramix_direct"):
        assert run_task(name, "cifair10").requires == ()


def composing(name: str, overrides: dict, images: torch.Tensor, labels: torch.Tensor, artifacts: dict | None = None):
    method = get_method(name)(Context("digits", 10, 32, 5, 0, "quick", overrides=overrides))
    data = TrainData(images, labels, pad=4)
    method.setup(data, artifacts or {})
    return method, data


def test_pixel_hydramix_composes_whole_pixels_of_same_class_images():
    images, labels = digits_subset(5)
    method, data = composing("hydramix_direct", {"p_gen": 1.0, "n_images": 3}, images, labels)
    torch.manual_seed(2)
    batch = data.batch(torch.arange(0, 50, 5))
    sources = method.composer.sources(batch)
    assert all(torch.equal(s.y, batch.y) for s in sources)
    masks = method.composer.masks(sources)
    assert masks.shape == (10, 3, 32, 32) and torch.equal(masks.sum(1), torch.ones(10, 32, 32))
    stacked = torch.stack([s.x for s in sources], 1)
    out = method.render(stacked, masks)
    assert bool(((out[:, None] == stacked).all(2) | (masks == 0)).all())


def test_p_gen_zero_keeps_the_batch_and_one_replaces_it():
    images, labels = digits_subset(5)
    keep, data = composing("gridmix", {"p_gen": 0.0}, images, labels)
    batch = data.batch(torch.arange(10))
    assert keep.augment(batch) is batch
    replace, _ = composing("gridmix", {"p_gen": 1.0}, images, labels)
    out = replace.augment(batch)
    assert out is not batch and torch.equal(out.y, batch.y) and not torch.equal(out.x, batch.x)


@pytest.mark.parametrize("name", ["chimeramix_grid", "chimeramix_seg", "hydramix"])
def test_generated_batches_are_reproducible_and_trainable(name: str, tmp_path: Path):
    images, labels = digits_subset(5)
    task = run_task(name, p_gen=1.0)
    (stage,) = task.requires
    artifact = tmp_path / "g.pt"
    stand_in(stage, images, labels, artifact)
    assert load_generator(artifact, CPU).image_size == 32
    losses = []
    for _ in range(2):
        trainer = task.trainer(images, labels, CPU, {"generator": artifact}, recipe=TINY_CLASSIFIER)
        torch.manual_seed(3)
        batch = trainer.method.augment(trainer.data.batch(torch.arange(0, 50, 5)))
        assert batch.x.shape == (10, 3, 32, 32) and not batch.x.is_inference() and not batch.x.requires_grad
        losses.append(trainer.step(torch.arange(0, 50, 5)))
    assert torch.equal(losses[0], losses[1])


def test_samples_without_a_trained_generator_says_how_to_train_it(tmp_path: Path, capsys: pytest.CaptureFixture):
    code = main(["samples", "--method", "chimeramix_grid", "--dataset", "digits", "--shots", "5", "--seed", "0",
                 "--profile", "quick", "--results-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no trained generator" in err and "python -m benchmark run --grid demo --methods chimeramix_grid" in err


def test_samples_of_a_pixel_space_method_need_no_stage(tmp_path: Path):
    out = tmp_path / "gridmix.png"
    assert main(["samples", "--method", "segmix", "--dataset", "digits", "--shots", "5", "--seed", "0",
                 "--results-dir", str(tmp_path), "--out", str(out), "--rows", "2"]) == 0
    assert out.stat().st_size > 1000
    assert main(["samples", "--method", "baseline", "--dataset", "digits", "--shots", "5", "--seed", "0"]) == 2


@pytest.mark.slow
def test_one_generator_stage_serves_two_classifier_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(GeneratorKind, "recipes", {"quick": {32: TINY_GENERATOR}})
    monkeypatch.setattr("benchmark.orchestration.tasks.recipe_for", lambda profile, image_size: TINY_CLASSIFIER)
    first = run_task("chimeramix_grid")
    second = run_task("chimeramix_grid", augment="trivialaugment")
    (stage,) = first.requires
    assert second.requires[0].id == stage.id
    store = Store(tmp_path)

    assert run_batch([stage, first], str(tmp_path), ".") == {"done": [stage.id, first.id], "failed": [], "skipped": []}
    artifact = store.artifact_path(stage.id)
    written = artifact.stat().st_mtime_ns
    summary = store.stage_record(stage.id)["summary"]
    assert summary["epochs"] == TINY_GENERATOR.epochs and summary["resumed_from_epoch"] == 0

    assert run_batch([stage, second], str(tmp_path), ".") == {"done": [second.id], "failed": [], "skipped": [stage.id]}
    assert artifact.stat().st_mtime_ns == written
    records = [json.loads(store.record_path(r.id).read_text()) for r in (first, second)]
    assert [r["stages"][0]["stage_id"] for r in records] == [stage.id, stage.id]
    assert records[0]["method_label"] == "ChimeraMix+Grid"
    assert not store.checkpoint_path(stage.id).exists()

    out = tmp_path / "samples.png"
    assert main(["samples", "--method", "chimeramix_grid", "--dataset", "digits", "--shots", "5", "--seed", "0",
                 "--profile", "quick", "--results-dir", str(tmp_path), "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
