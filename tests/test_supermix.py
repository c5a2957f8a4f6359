"""SuperMix: the masks, the top-K rule and the stop rule of the mixing, the student's loss, the
teacher -> set -> run chain; end to end through the CLI in the quick profile."""
import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.orchestration.plan import resolve
from benchmark.orchestration.store import Store
from benchmark.output.reproduction import paper_frame
from benchmark.training.pipeline import normalize
from benchmark.spec import RunSpec
from helpers import killed_and_resumed, run_task, stand_in, train_demo_run
from methods.supermix import SUPERMIX_PAPER_32, SUPERMIX_QUICK_32
from methods.supermix_mixing import apply_masks, gaussian_taps, load_set, mix_batch, process_masks, smooth, top_k_match
from methods.teacher_model import load_teacher

CPU = torch.device("cpu")

pytestmark = pytest.mark.usefixtures("one_thread")


def test_masks_are_upsampled_and_sum_to_one_over_the_images():
    m = torch.randn(5, 3, 8, 8) * 4
    masks = process_masks(m, 32)
    assert masks.shape == (5, 3, 32, 32) and bool(((masks > 0) & (masks < 1)).all())
    torch.testing.assert_close(masks.sum(1), torch.ones(5, 32, 32))
    sources = torch.rand(5, 3, 3, 32, 32)
    mixed = apply_masks(masks, sources)
    assert mixed.shape == (5, 3, 32, 32)
    assert bool((mixed >= sources.min(1).values - 1e-6).all() and (mixed <= sources.max(1).values + 1e-6).all())


def test_gradient_smoothing_is_a_normalised_gaussian_that_keeps_the_size():
    taps = gaussian_taps(1.0)
    assert len(taps) == 5 and taps.sum().item() == pytest.approx(1.0) and taps.argmax() == 2
    assert len(gaussian_taps(2.0)) == 10
    g = torch.zeros(1, 2, 16, 16)
    g[0, 0, 8, 8] = 1.0
    for sigma in (1.0, 2.0):
        s = smooth(g, sigma)
        assert s.shape == g.shape and s[0, 1].abs().max() == 0
        assert s.sum().item() == pytest.approx(1.0, abs=1e-5)  # the impulse is far enough from the border


def logits_with_top(*order: int, classes: int = 6) -> torch.Tensor:
    """Logits whose ranking starts with `order`."""
    logits = torch.zeros(classes)
    for rank, c in enumerate(order):
        logits[c] = 10.0 - rank
    return logits


def test_a_mix_counts_when_the_teachers_top_k_are_its_labels():
    labels = torch.tensor([[1, 4], [1, 4], [1, 4], [2, 2], [2, 2], [3, 0]])
    logits = torch.stack([logits_with_top(4, 1), logits_with_top(1, 4), logits_with_top(1, 5),
                          logits_with_top(2, 5), logits_with_top(5, 2), logits_with_top(0, 3, 1)])
    assert top_k_match(logits, labels).tolist() == [True, True, False, True, False, True]


class Sign(nn.Module):
    """A fixed 'teacher' of three classes, logits (m, -m, 0) for an image of mean m: class 0 for the
    +1 images, class 1 for the -1 images, and class 2 always among the top 2 of an image that is not
    all of one sign, so that no mix of a +1 and a -1 image ever matches its labels {0, 1}."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean((1, 2, 3))
        return torch.stack([m, -m, torch.zeros_like(m)], 1)


def sign_images(pattern: str) -> torch.Tensor:
    """+1 images for '+', -1 images for '-'."""
    return torch.stack([torch.full((3, 16, 16), 1.0 if c == "+" else -1.0) for c in pattern])


RECIPE = dataclasses.replace(SUPERMIX_QUICK_32, mask_size=4)


def test_mixes_of_one_class_succeed_at_once_and_the_batch_stops_at_the_tolerance():
    # 19 images of class 0 and 1 of class 1: 18 tuples of class 0 match at once, the 2 others never;
    # 2 unfinished of 20 is the 10 % tolerance: one iteration, the 18 kept
    mixes = mix_batch(Sign(), sign_images("+" * 19 + "-"), 3, RECIPE)
    assert mixes.iterations == 1 and len(mixes.images) == 18
    assert bool((mixes.images > 0).all())  # the kept mixes are those of the two + images
    torch.testing.assert_close(mixes.masks.sum(1), torch.ones(18, 16, 16))


def test_mixes_that_never_match_are_dropped_after_max_iter():
    mixes = mix_batch(Sign(), sign_images("+-" * 10), 3, RECIPE)
    assert mixes.iterations == RECIPE.max_iter == 50 and len(mixes.images) == 0
    fewer = mix_batch(Sign(), sign_images("+-" * 10), 3, dataclasses.replace(RECIPE, max_iter=7))
    assert fewer.iterations == 7
    # 4 of 20 unfinished is over the 10 % tolerance: the batch keeps iterating
    assert mix_batch(Sign(), sign_images("+" * 17 + "-+-"), 3, dataclasses.replace(RECIPE, max_iter=3)).iterations == 3


def test_a_set_stage_resumes_to_the_uninterrupted_set(tmp_path: Path):
    from benchmark.data import load_dataset, subsample
    data = load_dataset("digits", Path("."))
    idx = subsample(data.train_y, 2, 0)
    images, labels = data.train_x[idx], data.train_y[idx]
    (mixed_set,) = run_task("supermix", shots=2).requires
    (teacher,) = mixed_set.requires
    stand_in(teacher, images, labels, tmp_path / "teacher.pt")  # an untrained CNN
    recipe = dataclasses.replace(SUPERMIX_QUICK_32, epochs=2, batch_size=8, max_iter=3)
    whole, resumed = killed_and_resumed(mixed_set.kind, mixed_set.spec, images, labels, 10, tmp_path, recipe, 1,
                                        {"teacher": tmp_path / "teacher.pt"})
    assert resumed["resumed_from_epoch"] == 1 and resumed["curve"] == whole["curve"] and len(whole["curve"]) == 2
    (a_images, a_labels), (b_images, b_labels) = load_set(tmp_path / "a.pt", CPU), load_set(tmp_path / "b.pt", CPU)
    assert torch.equal(a_images, b_images) and torch.equal(a_labels, b_labels) and len(a_labels) == whole["images"]


def test_the_paper_recipe_is_the_reference_cifar_command():
    r = SUPERMIX_PAPER_32
    assert (r.k, r.alpha, r.mask_size, r.sigma, r.lambda_s, r.max_iter, r.tol, r.batch_size) == (2, 3.0, 8, 1.0, 25.0, 50,
                                                                                                0.1, 128)


def test_a_supermix_run_needs_its_set_which_needs_the_teacher():
    plan = resolve([RunSpec("supermix", "cifair100", 5, 0), RunSpec("baseline", "cifair100", 5, 0)])
    supermix, baseline = plan.runs
    (mixed_set,) = supermix.requires
    (teacher,) = mixed_set.requires
    assert [s.label for s in plan.stages] == ["teacher", "supermix set"]
    assert (teacher.level, mixed_set.level, supermix.level) == (0, 1, 2)
    assert dict(teacher.spec.params) == {"method": "baseline"} and teacher.steps == baseline.steps
    # one pass over the subset repeated 500 // 5 = 100 times, batches of 128
    assert mixed_set.steps == -(-500 * 100 // 128)


def test_the_student_adds_the_cross_entropy_of_a_mixed_batch_against_the_teachers_labels(tmp_path: Path):
    from benchmark.data import load_dataset, subsample
    data = load_dataset("digits", Path("."))
    idx = subsample(data.train_y, 5, 0)
    images, labels = data.train_x[idx], data.train_y[idx]
    task = run_task("supermix")
    (mixed_set,) = task.requires
    artifact = tmp_path / "set.pt"
    set_labels = (labels + 3) % 10  # a set whose labels differ from the subset's
    stand_in(mixed_set, images, set_labels, artifact)
    trainer = task.trainer(images, labels, CPU, {"supermix_set": artifact})
    batch = trainer.data.batch(torch.arange(0, 50, 5))
    torch.manual_seed(0)
    out = trainer.method.augment(batch)
    assert out.x.shape == (20, 3, 32, 32) and torch.equal(out.x[:10], batch.x) and torch.equal(out.y[:10], batch.y)
    set_images, stored = load_set(artifact, CPU)
    torch.manual_seed(0)
    pick = torch.randint(len(stored), (10,))
    assert torch.equal(out.y[10:], stored[pick])
    model = trainer.model
    model.eval()  # batch norm in eval mode: the two passes and the reference computation agree exactly
    expected = F.cross_entropy(model(out.x[:10]), out.y[:10]) + F.cross_entropy(model(out.x[10:]), out.y[10:])
    torch.testing.assert_close(trainer.method.loss(model, out), expected)


def test_supermix_labels_are_the_published_table1_rows():
    rows = set(paper_frame("table1")["row"])
    assert {run_task(m, "cifair100", profile="paper").label for m in ("glico", "supermix")} <= rows


@pytest.mark.slow
def test_supermix_trains_end_to_end_in_the_quick_profile(tmp_path: Path, capsys: pytest.CaptureFixture):
    task = train_demo_run("supermix", tmp_path)
    assert "2 stages trained, 1 runs finished" in capsys.readouterr().out
    store = Store(tmp_path)
    (mixed_set,) = task.requires
    (teacher_stage,) = mixed_set.requires
    record = store.load_record(task.id)
    assert record.method_label == "SuperMix" and record.accuracy > 40  # chance: 10 %
    summary = store.stage_record(mixed_set.id)["summary"]
    (made,) = summary["curve"]
    assert made["tried"] == 50 and 0 < made["kept"] == summary["images"] and 1 <= made["mean_iterations"] <= 50
    images, stored = load_set(store.artifact_path(mixed_set.id), CPU)
    teacher = load_teacher(store.artifact_path(teacher_stage.id), CPU)
    with torch.no_grad():
        assert torch.equal(teacher(normalize(images)).argmax(1), stored)



def test_a_teacher_written_before_it_named_its_classifier_is_done_and_loads(tmp_path: Path, capsys):
    """Teacher artifacts of earlier versions have no model_name, method or hparams: they are the
    stage's method at its defaults on the profile's model, so the stage stays done (not trained
    again) and the teacher loads with the same weights."""
    from benchmark.atomic import save_atomic
    from helpers import add_untrained_stages
    store = Store(tmp_path / "results")
    add_untrained_stages(store, "supermix")
    (mixed_set,) = run_task("supermix").requires
    (teacher,) = mixed_set.requires
    artifact = store.artifact_path(teacher.id)
    state = torch.load(artifact, weights_only=True)
    save_atomic({k: v for k, v in state.items() if k not in ("model_name", "method", "hparams")}, artifact)
    assert teacher.done(store) and "warning" not in capsys.readouterr().err
    images = torch.rand(4, 3, 32, 32)
    loaded = load_teacher(artifact, CPU)
    save_atomic(state, artifact)
    assert torch.equal(loaded(images), load_teacher(artifact, CPU)(images))
