"""GLICO: slerp, the latent generator, the stage (unit latents, resume) and the method's generated
batches; end to end through the CLI in the quick profile."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from benchmark.data import load_dataset, subsample
from benchmark.orchestration.plan import resolve
from benchmark.orchestration.store import Store
from benchmark.training.models import bf16_autocast
from benchmark.spec import RunSpec, StageSpec
from helpers import killed_and_resumed, run_task, stand_in, train_demo_run
from methods import STAGE_KINDS
from methods.glico import RATIOS, GlicoKind, GlicoRecipe
from methods.glico_net import (CODE_DIM, LATENT_DIM, GlicoTraining, LatentGenerator, load_glico, slerp,
                               slerped_images)

CPU = torch.device("cpu")
TINY = GlicoRecipe(image_size=32, hidden=32, channels=8, classifier_width=4, batch_size=8, epochs=3, repeats_base=2,
                   lr=1e-2, decay_epochs=2)

pytestmark = pytest.mark.usefixtures("one_thread")


def digits_subset(shots: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset("digits", Path("."))
    idx = subsample(data.train_y, shots, seed)
    return data.train_x[idx], data.train_y[idx]


def unit(n: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, LATENT_DIM, generator=torch.Generator().manual_seed(seed)), dim=1)


def angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.acos((a * b).sum(1).clamp(-1, 1))


def test_slerp_ends_at_its_endpoints_stays_on_the_sphere_and_moves_at_constant_speed():
    a, b = unit(6, 0), unit(6, 1)
    torch.testing.assert_close(slerp(a, b, 0.0), a)
    torch.testing.assert_close(slerp(a, b, 1.0), b)
    for t in RATIOS:
        z = slerp(a, b, t)
        torch.testing.assert_close(z.norm(dim=1), torch.ones(6))
        torch.testing.assert_close(angle(a, z), t * angle(a, b))
        torch.testing.assert_close(angle(z, b), (1 - t) * angle(a, b))


def test_slerp_of_a_latent_with_itself_is_the_latent():
    a = unit(3, 2)
    z = slerp(a, a.clone(), 0.3)
    assert not z.isnan().any()
    torch.testing.assert_close(z, a)


def test_the_generator_has_the_reference_shape_and_draws_images_in_0_1():
    g = LatentGenerator(32, 1024, 128)
    assert g.code.weight.shape == (CODE_DIM, CODE_DIM) and g.code.bias is None
    assert g.body[0].in_features == LATENT_DIM + CODE_DIM and g.body[2].out_features == 128 * 8 * 8
    out = g(unit(4, 3), 0.15 * torch.randn(4, CODE_DIM))
    assert out.shape == (4, 3, 32, 32) and bool(((out >= 0) & (out <= 1)).all())
    torch.testing.assert_close(g(3 * unit(4, 3), torch.zeros(4, CODE_DIM)), g(unit(4, 3), torch.zeros(4, CODE_DIM)))


def test_latents_are_unit_vectors_after_every_step():
    images, labels = digits_subset(2)
    training = GlicoTraining(StageSpec("glico", "digits", 2, 0, "quick"), images, labels, 10, CPU, TINY)
    before = training.latents.weight.detach().clone()
    for step in range(3):
        losses = training.step(torch.arange(step * 8, step * 8 + 8) % 20)
        assert losses.shape == (2,) and bool(torch.isfinite(losses).all())
        torch.testing.assert_close(training.latents.weight.norm(dim=1), torch.ones(20))
    assert not torch.equal(before, training.latents.weight)


def test_stage_resume_equals_uninterrupted(tmp_path: Path):
    images, labels = digits_subset(2)
    (stage,) = run_task("glico", shots=2).requires
    stage = stage.spec
    whole, resumed = killed_and_resumed(STAGE_KINDS["glico"], stage, images, labels, 10, tmp_path, TINY, 2)
    assert resumed["resumed_from_epoch"] == 2 and resumed["curve"] == whole["curve"]
    (ga, za, la), (gb, zb, _) = load_glico(tmp_path / "a.pt", CPU), load_glico(tmp_path / "b.pt", CPU)
    assert torch.equal(za, zb) and torch.equal(la, labels)
    torch.testing.assert_close(za.norm(dim=1), torch.ones(20))
    assert all(torch.equal(a, b) for a, b in zip(ga.state_dict().values(), gb.state_dict().values()))


def glico_trainer(tmp_path: Path, **overrides):
    images, labels = digits_subset(5)
    task = run_task("glico", **overrides)
    (stage,) = task.requires
    artifact = tmp_path / "glico.pt"
    stand_in(stage, images, labels, artifact)
    return task.trainer(images, labels, CPU, {"glico": artifact})


def test_a_generated_batch_decodes_slerped_latents_and_keeps_the_classes(tmp_path: Path):
    trainer = glico_trainer(tmp_path, p_gen=1.0)
    method = trainer.method
    batch = trainer.data.batch(torch.arange(0, 50, 5))
    torch.manual_seed(4)
    out = method.augment(batch)
    assert torch.equal(out.y, batch.y) and out.x.shape == batch.x.shape
    assert not out.x.is_inference() and not out.x.requires_grad
    assert bool(((out.x >= -1) & (out.x <= 1)).all())
    # a sample paired with itself at any ratio is its own latent's image (same noise code)
    torch.manual_seed(5)
    itself = slerped_images(method.generator, method.latents, batch.idx, batch.idx, 0.4, 32)
    torch.manual_seed(5)
    code = 0.15 * torch.randn(10, CODE_DIM)
    with torch.inference_mode(), bf16_autocast(CPU, native_cpu=True):
        expected = 2 * method.generator(method.latents[batch.idx], code).float() - 1
    torch.testing.assert_close(itself, expected)


def test_p_gen_zero_keeps_every_batch(tmp_path: Path):
    trainer = glico_trainer(tmp_path, p_gen=0.0)
    batch = trainer.data.batch(torch.arange(10))
    assert trainer.method.augment(batch) is batch


def test_an_artifact_of_another_subset_is_refused(tmp_path: Path):
    images, labels = digits_subset(5)
    task = run_task("glico")
    (stage,) = task.requires
    stand_in(stage, images, labels.roll(1), tmp_path / "glico.pt")
    with pytest.raises(RuntimeError, match="fitted on another subset"):
        task.trainer(images, labels, CPU, {"glico": tmp_path / "glico.pt"})


def test_glico_runs_need_one_glico_stage_per_subset():
    plan = resolve([RunSpec("glico", "cifair10", 5, 0), RunSpec("glico", "cifair10", 5, 0, overrides=(("p_gen", 0.25),)),
                    RunSpec("glico", "cifair10", 5, 1)])
    assert [s.label for s in plan.stages] == ["glico", "glico"]
    first, second, third = plan.runs
    assert first.requires == second.requires and first.requires != third.requires
    # the reference's defaults, the subset repeated 500 // shots times per epoch: 202 x ceil(500 x 10 / 128)
    assert first.requires[0].steps == 202 * math.ceil(5000 / 128)


@pytest.mark.slow
def test_glico_trains_end_to_end_in_the_quick_profile(tmp_path: Path, capsys: pytest.CaptureFixture):
    task = train_demo_run("glico", tmp_path)
    assert "1 stages trained, 1 runs finished" in capsys.readouterr().out
    store = Store(tmp_path)
    record = store.load_record(task.id)
    assert record.method_label == "GLICO" and record.accuracy > 40  # chance: 10 %
    summary = store.stage_record(task.requires[0].id)["summary"]
    assert summary["curve"][-1]["reconstruction"] < summary["curve"][0]["reconstruction"] / 3
    _, latents, _ = load_glico(store.artifact_path(task.requires[0].id), CPU)
    torch.testing.assert_close(latents.norm(dim=1), torch.ones(50))

