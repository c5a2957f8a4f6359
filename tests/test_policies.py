"""BatchPolicy against torchvision's AutoAugment and TrivialAugmentWide: every op at every magnitude
the policies draw, the sampling distributions, and whole policies applied per sample.

The reference for one op on one image is torchvision's own dispatch
(`_apply_image_or_video_transform`, the code both transforms run per image), so the arguments
(shear as an angle about the top-left corner, translations truncated to whole pixels, rotations
about the centre, NEAREST, fill None) are torchvision's and not restated here."""
import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from benchmark.training.policies import OP, OPS, SIGNED, BatchPolicy, OpTable, apply_stage, magnitude_bins

REFERENCE = v2.TrivialAugmentWide(interpolation=v2.InterpolationMode.NEAREST)
SPACES = ((v2.TrivialAugmentWide._AUGMENTATION_SPACE, 31, True), (v2.AutoAugment._AUGMENTATION_SPACE, 10, False))


pytestmark = pytest.mark.usefixtures("one_thread")


def torchvision_op(image: torch.Tensor, name: str, magnitude: float) -> torch.Tensor:
    return REFERENCE._apply_image_or_video_transform(image, name, magnitude, interpolation=REFERENCE.interpolation,
                                                     fill=REFERENCE._fill)


def sample_images(size: int) -> torch.Tensor:
    """Noise; a smooth image; a narrow-range image with a flat channel; a grey image (R = G = B)."""
    g = torch.Generator().manual_seed(size)
    noise = torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8)
    coarse = torch.randint(0, 256, (1, 3, 4, 4), generator=g).float()
    smooth = F.interpolate(coarse, size=size, mode="bilinear").round().to(torch.uint8)[0]
    narrow = noise // 8 + 100
    narrow[2] = 7
    return torch.stack([noise, smooth, narrow, noise[:1].expand(3, -1, -1)])


def drawn_magnitudes(name: str, size: int) -> list[float]:
    """Every signed magnitude torchvision's TrivialAugmentWide or AutoAugment can pass to op `name`."""
    values = set()
    for space, bins, _ in SPACES:
        if name in space:
            make, signed = space[name]
            bin_values = make(bins, size, size)
            values |= {0.0} if bin_values is None else set(bin_values.tolist())
            values |= set((-bin_values).tolist()) if signed else set()
    return sorted(values)


def nearest_is_unambiguous(name: str, magnitude: float) -> bool:
    """False for rotations by angles other than multiples of 90 degrees, where sampling points can
    fall (up to float rounding) between two pixels."""
    return name != "Rotate" or magnitude % 90 == 0


@pytest.mark.parametrize("size", [32, 96])
@pytest.mark.parametrize("name", OPS[1:])
def test_op_matches_torchvision_at_every_drawn_magnitude(name, size):
    images = sample_images(size)
    magnitudes = drawn_magnitudes(name, size)
    if size == 96:
        magnitudes = magnitudes[::3]  # a third of them keeps the test fast; all at 32 px
    table = OpTable.build(torch.full((len(magnitudes),), OP[name]), torch.tensor(magnitudes), size, size)
    rows = torch.arange(len(magnitudes)).repeat_interleave(len(images))
    out = apply_stage(images.repeat(len(magnitudes), 1, 1, 1), table, rows)
    out = out.view(len(magnitudes), *images.shape)
    for m, got in zip(magnitudes, out):
        want = torch.stack([torchvision_op(image, name, m) for image in images])
        if nearest_is_unambiguous(name, m):
            assert torch.equal(got, want), (name, m)
        else:  # nearest sampling at other angles: exact on torch 2.14, but a tie may round either way
            assert (got == want).all(1).float().mean() >= 0.99, (name, m)


def test_a_stage_applies_each_samples_own_op():
    torch.manual_seed(0)
    table = BatchPolicy("trivialaugment", 32).sampler.table
    rows = torch.randint(len(table.op), (60,))
    images = torch.randint(0, 256, (60, 3, 32, 32), dtype=torch.uint8)
    out = apply_stage(images, table, rows)
    for image, got, r in zip(images, out, rows.tolist()):
        assert torch.equal(got, torchvision_op(image, OPS[table.op[r]], float(table.magnitude[r])))


@pytest.mark.parametrize("name,size", [("autoaugment", 32), ("autoaugment", 96), ("autoaugment", 8),
                                       ("trivialaugment", 32), ("trivialaugment", 96)])
def test_policy_applies_torchvisions_ops_per_sample(name, size):
    policy = BatchPolicy(name, size)
    images = torch.cat([sample_images(size), torch.randint(0, 256, (12, 3, size, size), dtype=torch.uint8)])
    torch.manual_seed(7)
    stages = policy.sampler.draw(len(images))
    torch.manual_seed(7)
    out = policy(images)
    table = policy.sampler.table
    for i, image in enumerate(images):
        for rows in stages:
            image = torchvision_op(image, OPS[table.op[rows[i]]], float(table.magnitude[rows[i]]))
        assert torch.equal(out[i], image)


def test_magnitudes_and_signs_are_torchvisions():
    for space, bins, wide in SPACES:
        for size in (32, 96):
            for name, (make, signed) in space.items():
                want = make(bins, size, size)
                want = torch.zeros(bins) if want is None else want.float()
                assert torch.equal(magnitude_bins(name, bins, size, size, wide), want), name
                assert (name in SIGNED) == signed, name


@pytest.mark.parametrize("size,policy", [(32, v2.AutoAugmentPolicy.CIFAR10), (96, v2.AutoAugmentPolicy.IMAGENET),
                                         (8, v2.AutoAugmentPolicy.IMAGENET)])
def test_autoaugment_table_is_torchvisions_policy(size, policy):
    sampler = BatchPolicy("autoaugment", size).sampler
    sub_policies = v2.AutoAugment(policy)._policies
    assert sampler.sub_policies == len(sub_policies)
    for stage in range(2):
        for j, sub_policy in enumerate(sub_policies):
            name, p, b = sub_policy[stage]
            row = (stage * len(sub_policies) + j) * 2
            value = 0.0 if b is None else float(magnitude_bins(name, 10, size, size, wide=False)[b])
            assert OPS[sampler.table.op[row]] == OPS[sampler.table.op[row + 1]] == name
            assert float(sampler.table.magnitude[row]) == value
            assert float(sampler.table.magnitude[row + 1]) == (-value if name in SIGNED else value)
            assert float(sampler.probability[row]) == float(sampler.probability[row + 1]) == pytest.approx(p)
    assert OPS[sampler.table.op[-1]] == "Identity"


def assert_frequency(count: torch.Tensor, n: int, p: torch.Tensor) -> None:
    """Counts of n Bernoulli(p) draws lie within 5 standard deviations of n p."""
    assert ((count - n * p).abs() <= 5 * (n * p * (1 - p)).sqrt() + 1e-9).all(), (count, n * p)


def test_trivialaugment_draws_ops_bins_and_signs_uniformly():
    torch.manual_seed(0)
    n = 20000
    sampler = BatchPolicy("trivialaugment", 32).sampler
    (rows,) = sampler.draw(n)
    op = sampler.table.op[rows]
    assert_frequency(torch.bincount(op, minlength=len(OPS)), n, torch.tensor([1 / 14] * 14 + [0.0]))
    assert_frequency(torch.bincount(rows // 2 % 31, minlength=31), n, torch.full((31,), 1 / 31))
    signed = torch.tensor([OPS[k] in SIGNED for k in op.tolist()])
    assert_frequency((sampler.table.magnitude[rows] < 0)[signed].sum(), int(signed.sum()), torch.tensor(0.5))
    assert (sampler.table.magnitude[rows][~signed] >= 0).all()


def test_autoaugment_draws_sub_policies_uniformly_and_each_op_with_its_probability():
    torch.manual_seed(0)
    n = 20000
    sampler = BatchPolicy("autoaugment", 32).sampler
    count = sampler.sub_policies
    probability = sampler.probability[:-1:2].view(2, count)  # [stage, sub-policy]
    first, second = sampler.draw(n)
    identity = len(sampler.table.op) - 1
    applied = [first != identity, second != identity]
    for stage, rows in enumerate((first, second)):
        sub = rows[applied[stage]] // 2 - stage * count
        assert_frequency(torch.bincount(sub, minlength=count), n, probability[stage] / count)
    both = applied[0] & applied[1]
    assert torch.equal(first[both] // 2, second[both] // 2 - count)  # both ops of one sub-policy
    assert_frequency(torch.bincount(first[both] // 2, minlength=count), n, probability.prod(0) / count)
    rows = torch.cat([first[applied[0]], second[applied[1]]])
    signed = torch.tensor([OPS[k] in SIGNED for k in sampler.table.op[rows].tolist()])
    assert_frequency((rows % 2 == 1)[signed].sum(), int(signed.sum()), torch.tensor(0.5))


@pytest.mark.parametrize("name", ["autoaugment", "trivialaugment"])
@pytest.mark.parametrize("size", [32, 96])
def test_policy_output_is_uint8_of_the_same_shape_and_reproducible(name, size):
    images = torch.randint(0, 256, (16, 3, size, size), dtype=torch.uint8)
    before = images.clone()
    policy = BatchPolicy(name, size)
    torch.manual_seed(1)
    first = policy(images)
    state = torch.get_rng_state()
    second = policy(images)
    torch.set_rng_state(state)
    assert torch.equal(policy(images), second)  # resumable from a saved RNG state
    torch.manual_seed(1)
    assert torch.equal(BatchPolicy(name, size)(images), first)
    assert first.dtype == torch.uint8 and first.shape == images.shape
    assert torch.equal(images, before)
    assert sum(not torch.equal(a, b) for a, b in zip(first, images)) > 0


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="unknown policy 'randaugment'"):
        BatchPolicy("randaugment", 32)
    with pytest.raises(ValueError, match="expected 32x32 images"):
        BatchPolicy("autoaugment", 32)(torch.zeros(2, 3, 96, 96, dtype=torch.uint8))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["autoaugment", "trivialaugment"])
def test_policy_runs_on_cuda(name):
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, device="cuda")
    out = BatchPolicy(name, 32)(images)
    assert out.device == images.device and out.dtype == torch.uint8 and out.shape == images.shape
    assert not torch.equal(out, images)
