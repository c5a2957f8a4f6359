import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.errors import UserError
from benchmark.training.pipeline import Batch, TrainData
from methods import METHODS, Context, get_method
from benchmark.training.models import CosineCEModel
from methods.cosine import cosine_loss


def make_batch(b=8, size=32, seed=0):
    torch.manual_seed(seed)
    x = torch.rand(b, 3, size, size) * 2 - 1
    return Batch(x=x, y=torch.arange(b) % 4, idx=torch.arange(b), top=torch.zeros(b, dtype=torch.long),
                 left=torch.zeros(b, dtype=torch.long), flip=torch.zeros(b, dtype=torch.bool))


def method(name, num_classes=10, size=32, **overrides):
    return get_method(name)(Context("cifair10", num_classes, size, 5, 0, overrides=overrides))


def set_up(m, size=32):
    """The method after its `setup` with a subset of one image."""
    m.setup(TrainData(torch.zeros(1, 3, size, size, dtype=torch.uint8), torch.zeros(1, dtype=torch.long), pad=4), {})
    return m


def test_registry_has_the_foundation_methods():
    for name in ("baseline", "cutout", "random_erasing", "cosine", "cosine_ce", "mixup", "autoaugment", "trivialaugment"):
        assert name in METHODS and METHODS[name].label and METHODS[name].summary


def test_unknown_method_and_parameter_are_user_errors():
    with pytest.raises(UserError, match="unknown method 'nomethod'; valid: baseline"):
        get_method("nomethod")
    with pytest.raises(UserError, match="unknown parameter .bogus.*valid: length"):
        method("cutout", bogus=3)


@pytest.mark.parametrize("classes,size,length", [(10, 32, 16), (100, 32, 8), (10, 96, 24)])
def test_cutout_length_follows_the_dataset(classes, size, length):
    assert method("cutout", classes, size).hp["length"] == length


def test_cutout_zeroes_one_square_clipped_at_the_border():
    m = method("cutout")
    batch = make_batch(64)
    out = m.augment(batch).x
    zeros = (out == 0).all(1)
    for z in zeros:
        rows, cols = z.any(1).nonzero()[:, 0], z.any(0).nonzero()[:, 0]
        assert 8 <= len(rows) <= 16 and 8 <= len(cols) <= 16  # a 16-px square, clipped to at least half
        assert z.sum() == len(rows) * len(cols)
    assert (zeros.sum((1, 2)) == 256).any()


def test_random_erasing_boxes_respect_area_and_probability():
    torch.manual_seed(0)
    m = set_up(method("random_erasing"))
    batch = make_batch(400)
    out = m.augment(batch).x
    erased = (out != batch.x).any(1)
    areas = erased.sum((1, 2)).float() / (32 * 32)
    hit = areas > 0
    assert 0.4 < hit.float().mean() < 0.6
    assert areas[hit].min() >= 0.01 and areas[hit].max() <= 0.45
    for box in erased[hit]:  # one whole rectangle, all channels
        assert box.sum() == box.any(1).sum() * box.any(0).sum()
    assert torch.equal((out != batch.x).all(1), erased)
    assert out.min() >= -1 and out.max() <= 1
    untouched = set_up(method("random_erasing", p=0.0)).augment(batch).x
    assert torch.equal(untouched, batch.x)


def test_mixup_loss_is_the_lambda_weighted_cross_entropy():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))
    batch = make_batch()
    m = method("mixup")
    m.setup(TrainData(torch.zeros(8, 3, 32, 32, dtype=torch.uint8), batch.y, pad=4), {})
    torch.manual_seed(5)
    mixed = m.augment(batch)
    loss = m.loss(model, mixed)
    torch.manual_seed(5)
    lam = float(torch.distributions.Beta(torch.tensor(1.0), torch.tensor(1.0)).sample())
    perm = torch.randperm(len(batch.x))
    out = model(lam * batch.x + (1 - lam) * batch.x[perm])
    want = lam * F.cross_entropy(out, batch.y) + (1 - lam) * F.cross_entropy(out, batch.y[perm])
    assert torch.equal(loss, want)  # bit for bit: the soft targets' loss is the same expression
    assert [w for w, _ in mixed.targets] == [lam, 1 - lam] and torch.equal(mixed.targets[1][1], batch.y[perm])


def test_cosine_loss_by_hand():
    out = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    y = torch.tensor([1, 1])
    # 1 - 4/5 and 1 - 0/1
    assert math.isclose(float(cosine_loss(out, y)), ((1 - 0.8) + 1.0) / 2, rel_tol=1e-6)


def test_cosine_ce_adds_a_head_and_weights_its_cross_entropy():
    torch.manual_seed(0)
    m = method("cosine_ce", num_classes=4)
    model = m.wrap_model(nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4)))
    assert isinstance(model, CosineCEModel)
    batch = make_batch()
    emb, logits = model.both(batch.x)
    want = cosine_loss(emb, batch.y) + 0.1 * F.cross_entropy(logits, batch.y)
    assert torch.allclose(m.loss(model, batch), want)
    assert model(batch.x).shape == (8, 4)


@pytest.mark.parametrize("value, want", [("true", True), ("0", False), (1, True), (False, False)])
def test_bool_parameters_are_parsed_not_cast(value, want):
    from methods.base import coerce
    assert coerce("flag", False, value) is want


@pytest.mark.parametrize("default, value, wanted", [(False, "maybe", "true or false"), (False, 2, "true or false"),
                                                    (4, 2.5, "a whole number"), (4, "x", "a whole number"),
                                                    (0.5, True, "a number")])
def test_a_parameter_of_the_wrong_type_is_a_user_error(default, value, wanted):
    from methods.base import coerce
    with pytest.raises(UserError, match=f"parameter p: .* is not {wanted} \\(default"):
        coerce("p", default, value)


@pytest.mark.parametrize("size,classes", [(32, 10), (32, 100), (96, 10)])
def test_every_hyperparameter_declares_a_range_holding_its_default_and_its_search(size, classes):
    ctx = Context("cifair10", classes, size, 5, 0)
    for name, cls in METHODS.items():
        for param, hp in cls.hparams(ctx).items():
            if isinstance(hp.default, bool):
                continue
            assert hp.check(param, hp.default) == hp.default, (name, param)
            for end in hp.search or ():
                assert hp.check(param, end) == end, (name, param, end)


@pytest.mark.parametrize("name,param,value,valid", [
    ("mixup", "alpha", math.inf, "0 < alpha <= 100"), ("mixup", "alpha", -1.0, "0 < alpha <= 100"),
    ("mixup", "alpha", 0.0, "0 < alpha <= 100"), ("mixup", "alpha", 1e308, "0 < alpha <= 100"),
    ("manifold_mixup", "alpha", math.nan, "0 < alpha <= 100"), ("hydramix", "p_gen", 1.5, "0 <= p_gen <= 1"),
    ("hydramix", "n_images", 1, "2 <= n_images <= 8"), ("cutout", "length", 33, "1 <= length <= 32"),
    ("synermix_intra", "beta", -0.1, "0 <= beta <= 1"), ("random_erasing", "area_min", 0.0, "0 < area_min <= 1"),
])
def test_a_value_outside_its_range_is_one_line_naming_it(name, param, value, valid):
    with pytest.raises(UserError) as error:
        method(name, **{param: value})
    assert str(error.value) == f"parameter {param}: {value!r} is not allowed; valid: {valid}"


def test_random_erasing_needs_area_min_at_most_area_max():
    with pytest.raises(UserError, match="area_min: 0.5 is more than area_max 0.4"):
        method("random_erasing", area_min=0.5)


def test_a_grid_file_sweeping_bad_values_stops_at_plan_time_with_a_line_each(tmp_path, capsys):
    from benchmark.cli import main
    grid = tmp_path / "sweep.toml"
    grid.write_text('datasets = ["digits"]\nmethods = ["mixup"]\nshots = [5]\nseeds = "0"\nprofile = "quick"\n'
                    "[overrides.mixup]\nalpha = [inf, -1.0, 0.0, 1e308, 1.0]\n")
    assert main(["run", "--grid", str(grid), "--results-dir", str(tmp_path / "results")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: {grid}: overrides.mixup.alpha: parameter alpha: {v} is not allowed; valid: 0 < alpha <= 100"
                     for v in ("inf", "-1.0", "0.0", "1e+308")]
    assert not (tmp_path / "results" / "runs").exists()
