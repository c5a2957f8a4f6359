"""Manifold MixUp, SynerMix (intra-class mixing, its losses, balanced batches) and the recipe parts
the SynerMix grid brings (StepLR, Cutout in the training transform)."""
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from benchmark.orchestration.store import Store
from benchmark.orchestration.worker import execute
from benchmark.training.models import build_model
from benchmark.training.pipeline import TrainData, normalize
from benchmark.profiles import recipe_for
from benchmark.training.recipes import SYNERMIX_32
from benchmark.training.samplers import balanced_batches, shuffle_batches
from helpers import run_task
from methods import Context, get_method
from methods.synermix import intra_class_mix


def method(name, num_classes=4, **overrides):
    return get_method(name)(Context("digits", num_classes, 32, 5, 0, "quick", overrides=overrides))


def subset(num_classes=4, shots=3, seed=0):
    torch.manual_seed(seed)
    images = torch.randint(0, 256, (num_classes * shots, 3, 32, 32), dtype=torch.uint8)
    return TrainData(images, torch.arange(num_classes).repeat_interleave(shots), pad=4)


def test_intra_mix_weights_sum_to_one_per_class_and_give_one_feature_per_class_present():
    torch.manual_seed(0)
    labels = torch.tensor([3, 0, 3, 3, 5, 0, 5, 3])  # classes 1, 2, 4 absent
    features = torch.randn(len(labels), 6)
    mixed, w, present = intra_class_mix(features, labels, num_classes=7)
    assert mixed.shape == (7, 6) and present.tolist() == [c in (0, 3, 5) for c in range(7)]
    assert (w > 0).all() and (w <= 1).all()
    for c in range(7):
        members = labels == c
        if members.any():
            assert float(w[members].sum()) == pytest.approx(1.0, abs=1e-6)
            torch.testing.assert_close(mixed[c], (w[members, None] * features[members]).sum(0))
        else:
            assert (mixed[c] == 0).all()


def test_intra_weights_are_normalised_uniforms_not_dirichlet():
    """With two images of a class, w_1 = u_1 / (u_1 + u_2) for uniform u: P(0.4 < w_1 < 0.6) = 1/3
    (Dirichlet(1, 1) would make w_1 uniform: 0.2)."""
    torch.manual_seed(1)
    labels = torch.tensor([0, 0])
    w1 = torch.stack([intra_class_mix(torch.zeros(2, 1), labels, 1)[1][0] for _ in range(4000)])
    near_half = ((w1 - 0.5).abs() < 0.1).float().mean()
    assert 0.3 < near_half < 0.37


def test_synermix_loss_is_beta_intra_plus_one_minus_beta_inter():
    data = subset()
    model = build_model("tiny", 4)  # no BatchNorm, no dropout: the two forward passes are reproducible
    m = method("synermix_intra")
    m.setup(data, {})
    torch.manual_seed(2)
    batch = data.batch(torch.tensor([0, 1, 3, 4, 9, 10]))
    torch.manual_seed(3)
    loss = m.loss(model, batch)
    torch.manual_seed(3)
    mixed, _, present = intra_class_mix(model.features(normalize(data.images[batch.idx])), batch.y, 4)
    intra = F.cross_entropy(model.head(mixed[present]), torch.arange(4)[present])  # the mean over present classes
    inter = F.cross_entropy(model(batch.x), batch.y)
    torch.testing.assert_close(loss, 0.5 * intra + 0.5 * inter)
    assert m.hp == {"beta": 0.5}
    assert method("synermix_mixup").hp == {"beta": 0.1, "alpha": 1.0}
    assert method("synermix_manifold").hp == {"beta": 0.1, "alpha": 1.0}


def test_the_intra_term_trains_the_backbone_through_the_unaugmented_images():
    data = subset()
    model = build_model("tiny", 4)
    m = method("synermix_intra", beta=1.0)  # the intra term alone
    m.setup(data, {})
    batch = data.batch(torch.tensor([0, 1, 3, 4]))
    batch.x = torch.zeros_like(batch.x)  # the augmented images carry nothing: every gradient is the intra term's
    m.loss(model, batch).backward()
    assert model.blocks[0][0].weight.grad.abs().sum() > 0 and model.head.weight.grad.abs().sum() > 0


def test_synermix_brings_balanced_batches_to_any_recipe():
    assert run_task("synermix_intra").recipe == dataclasses.replace(recipe_for("quick", 32), sampler="balanced")
    assert run_task("synermix_manifold", "cifair100", profile="paper").recipe.sampler == "balanced"
    assert run_task("baseline").recipe.sampler == "shuffle" and run_task("mixup").recipe.sampler == "shuffle"
    assert run_task("baseline", "cifar100", 500, profile="synermix").recipe == SYNERMIX_32


def test_manifold_mixup_mixes_at_the_point_it_draws(one_thread):
    torch.manual_seed(0)
    model = build_model("cnn", 4).eval()
    m = method("manifold_mixup")
    assert m.wrap_model(model) is model and m.hp == {"alpha": 2.0}
    data = subset()
    m.setup(data, {})
    points = set()
    for seed in range(12):
        torch.manual_seed(seed)
        batch = m.augment(data.batch(torch.arange(8)))
        mix = batch.mix
        points.add(mix.point)
        seen = []
        hooks = [b.register_forward_pre_hook(lambda mod, args: seen.append(args[0])) for b in model.blocks]
        with torch.no_grad():
            out = model(batch.x, mix=mix)
            _, hidden = model.forward_intermediates(batch.x)
        for hook in hooks:
            hook.remove()
        torch.testing.assert_close(seen[mix.point], mix.lam * hidden[mix.point] + (1 - mix.lam) * hidden[mix.point][mix.perm])
        for earlier in range(mix.point):
            assert torch.equal(seen[earlier], hidden[earlier])
        assert [w for w, _ in batch.targets] == [mix.lam, 1 - mix.lam]
        assert torch.equal(batch.targets[1][1], batch.y[mix.perm])
        want = mix.lam * F.cross_entropy(out, batch.y) + (1 - mix.lam) * F.cross_entropy(out, batch.y[mix.perm])
        with torch.no_grad():
            torch.testing.assert_close(m.loss(model, batch), want)
    assert points == {0, 1, 2}  # the input, after the first block, after the second


def test_manifold_mixup_draws_only_points_the_model_has():
    m = method("manifold_mixup")
    m.wrap_model(build_model("tiny", 4))  # one block: the input is its only mixing point
    data = subset()
    m.setup(data, {})
    assert {m.augment(data.batch(torch.arange(4))).mix.point for _ in range(20)} == {0}


def test_shuffle_batches_are_the_plain_slices_of_the_order():
    order = torch.randperm(23)
    assert [b.tolist() for b in shuffle_batches(order, torch.zeros(23, dtype=torch.long), 10)] == \
        [order[:10].tolist(), order[10:20].tolist(), order[20:].tolist()]


def test_balanced_batches_give_every_class_present_a_second_image():
    torch.manual_seed(0)
    labels = torch.arange(10).repeat_interleave(5)  # 5 shots of 10 classes, batch 10 as in ChimeraMix's recipe
    order = torch.randperm(50 * 10) % 50
    batches = balanced_batches(order, labels, 10)
    assert len(batches) == 50 and all(torch.equal(b[:10], s) for b, s in zip(batches, order.split(10)))
    grown = []
    for b in batches:
        head, extra = b[:10], b[10:]
        counts = torch.bincount(labels[head], minlength=10)
        singles = (counts == 1).nonzero()[:, 0]
        assert sorted(labels[extra].tolist()) == singles.tolist()  # one partner per class seen once
        assert not set(extra.tolist()) & set(head.tolist())  # a partner is another image of the class
        assert (torch.bincount(labels[b], minlength=10)[labels[b]] >= 2).all()
        grown.append(len(extra))
    assert 2 < sum(grown) / len(grown) < 6  # 10 x 0.9^9 = 3.9 expected


def test_balanced_partners_are_drawn_uniformly_and_a_lone_image_gets_none():
    torch.manual_seed(1)
    labels = torch.tensor([0, 0, 0, 0, 1])  # class 1 has a single image in the subset
    partners = [balanced_batches(torch.tensor([0, 4]), labels, 2)[0][2:] for _ in range(600)]
    assert all(p.tolist() in ([1], [2], [3]) for p in partners)
    counts = torch.bincount(torch.cat(partners), minlength=4)[1:]
    assert (counts > 150).all()
    assert balanced_batches(torch.tensor([4, 4]), labels, 2)[0].tolist() == [4, 4]  # seen twice: nothing added


def test_step_decay_halves_the_rate_every_10_epochs():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=SYNERMIX_32.lr)
    scheduler = SYNERMIX_32.lr_scheduler(opt, steps_per_epoch=3)
    rates = []
    for _ in range(SYNERMIX_32.epochs * 3):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert rates[29] == pytest.approx(0.1) and rates[30] == pytest.approx(0.05)
    assert rates[-1] == pytest.approx(0.1 * 0.5 ** 11)  # the last epoch's rate, as the reference's


def test_cosine_schedule_is_unchanged_for_the_chimeramix_recipe():
    recipe = recipe_for("paper", 32)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=recipe.lr)
    scheduler = recipe.lr_scheduler(opt, steps_per_epoch=5)
    assert isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and scheduler.T_max == recipe.epochs * 5


def test_recipe_cutout_blacks_one_square_of_each_image_and_originals_are_untouched():
    images = torch.full((6, 3, 32, 32), 128, dtype=torch.uint8)
    data = TrainData(images, torch.arange(6), pad=4, cutout=16)
    torch.manual_seed(0)
    x = data.batch(torch.arange(6).repeat(10)).x
    black = (x == -1).all(1)
    for square in black:
        rows, cols = square.any(1).sum(), square.any(0).sum()
        assert 8 <= rows <= 16 and 8 <= cols <= 16 and square.sum() == rows * cols
    assert (black.sum((1, 2)) == 256).any()
    assert torch.equal(data.originals(torch.tensor([2, 5])), normalize(images[[2, 5]]))
    assert not (TrainData(images, torch.arange(6), pad=4).batch(torch.arange(6)).x == -1).any()


@pytest.mark.parametrize("name", ["manifold_mixup", "synermix_intra", "synermix_mixup", "synermix_manifold"])
def test_quick_run_learns_digits(name, tmp_path):
    task = run_task(name)
    store = Store(tmp_path / "results")
    execute(task, store, tmp_path)
    record = store.load_record(task.id).to_json()
    assert record["metrics"]["accuracy"] > 40  # chance is 10 %
    assert record["recipe"]["sampler"] == ("balanced" if name.startswith("synermix") else "shuffle")
    assert all(math.isfinite(x) for x in record["curve"]["train_loss"])
