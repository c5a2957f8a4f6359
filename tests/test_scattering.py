"""The scattering front end: kymatio's coefficients, their count and shape, and the hybrids it feeds."""
import pytest
import torch

from benchmark.errors import UserError
from benchmark.orchestration.store import Store
from benchmark.orchestration.worker import execute
from benchmark.training.models import build_model
from benchmark.training.scattering import Scattering2D, ScatteringStem, coefficients
from helpers import run_task


@pytest.mark.parametrize("J, L, count", [(2, 8, 81), (1, 8, 9), (3, 8, 217), (2, 4, 25)])
def test_coefficient_count_is_one_plus_lj_plus_l2_j_choose_2(J, L, count):
    assert coefficients(J, L) == 1 + L * J + L * L * J * (J - 1) // 2 == count


def test_output_shape_at_j2_l8_on_32px_is_81_coefficients_per_colour_channel_at_8x8(one_thread):
    out = Scattering2D(2, 32)(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 3, 81, 8, 8)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize("J, L, size", [(2, 8, 32), (1, 8, 16), (3, 8, 32), (2, 4, 24)])
def test_coefficients_equal_kymatios(J, L, size, one_thread):
    from kymatio import Scattering2D as KymatioScattering2D
    torch.manual_seed(0)
    x = torch.rand(3, 2, size, size) * 2 - 1
    want = KymatioScattering2D(J=J, shape=(size, size), L=L, frontend="torch")(x)
    torch.testing.assert_close(Scattering2D(J, size, L)(x), want, rtol=1e-5, atol=1e-5)


def test_the_front_end_is_fixed_and_keeps_no_state():
    stem = ScatteringStem(32)
    assert sum(p.numel() for p in stem.scattering.parameters()) == 0
    assert not any(k.startswith("scattering.") for k in stem.state_dict())  # filters are rebuilt, not stored


def test_hybrid_wrn_replaces_the_first_group_and_keeps_8x8(one_thread):
    torch.manual_seed(0)
    model = build_model("scattering-wrn-16-8", 10).eval()
    stem = model.blocks[0]
    assert isinstance(stem, ScatteringStem) and stem.conv.in_channels == 3 * 81 and stem.conv.out_channels == 128
    assert not stem.norm.affine
    with torch.no_grad():
        features, hidden = model.forward_intermediates(torch.rand(2, 3, 32, 32))
    assert [tuple(h.shape[1:]) for h in hidden] == [(3, 32, 32), (128, 8, 8), (256, 8, 8)]
    assert features.shape == (2, 512)


def test_scattering_runs_train_the_hybrid_of_their_recipes_model():
    assert run_task("scattering", "cifair10", profile="paper").recipe.model == "scattering-wrn-16-8"
    assert run_task("scattering", "digits", profile="quick").recipe.model == "scattering-cnn"
    assert run_task("baseline", "cifair10", profile="paper").recipe.model == "wrn-16-8"
    with pytest.raises(UserError, match="scattering on STL-10 at 5 shots: needs 32x32 images"):
        run_task("scattering", "stl10", profile="paper")
    with pytest.raises(UserError, match="no hybrid of model resnet18-cifar; valid: wrn-16-8, cnn"):
        run_task("scattering", "cifar100", profile="synermix")


@pytest.mark.slow
def test_quick_scattering_run_learns_digits(tmp_path):
    task = run_task("scattering")
    store = Store(tmp_path / "results")
    execute(task, store, tmp_path)
    record = store.load_record(task.id).to_json()
    assert record["recipe"]["model"] == "scattering-cnn"
    assert record["metrics"]["accuracy"] > 40  # chance is 10 %
