"""Every classifier's mixing points: forward_intermediates gives the input of every block, and a
FeatureMix reaches exactly the block it names."""
import pytest
import torch

from benchmark.training.models import MODELS, build_model
from benchmark.training.pipeline import FeatureMix

SIZES = {"resnet50": 64}  # small inputs keep the test quick; any size works


@pytest.mark.parametrize("name", list(MODELS))
def test_mixing_points_mix_the_input_of_the_chosen_block(name, one_thread):
    torch.manual_seed(0)
    model = build_model(name, 10).eval()
    size = SIZES.get(name, 32)
    x = torch.randn(4, 3, size, size)
    with torch.no_grad():
        features, hidden = model.forward_intermediates(x)
        assert len(hidden) == model.mixing_points >= 1 and torch.equal(hidden[0], x)
        torch.testing.assert_close(model(x), model.head(features))
        perm = torch.tensor([1, 0, 3, 2])
        for point in range(model.mixing_points):
            seen = []
            hooks = [block.register_forward_pre_hook(lambda m, args: seen.append(args[0])) for block in model.blocks]
            model(x, mix=FeatureMix(point, 0.3, perm))
            for hook in hooks:
                hook.remove()
            torch.testing.assert_close(seen[point], 0.3 * hidden[point] + 0.7 * hidden[point][perm])
            for earlier in range(point):
                assert torch.equal(seen[earlier], hidden[earlier])


def test_mixing_the_input_is_mixing_the_images():
    torch.manual_seed(0)
    model = build_model("cnn", 10).eval()
    x = torch.randn(4, 3, 32, 32)
    perm = torch.tensor([3, 2, 1, 0])
    with torch.no_grad():
        assert torch.equal(model(x, mix=FeatureMix(0, 0.4, perm)), model(0.4 * x + 0.6 * x[perm]))
