import torch
import torch.nn.functional as F

from benchmark.training.pipeline import TrainData, normalize


def reference_crop_flip(img: torch.Tensor, pad: int, top: int, left: int, flip: bool) -> torch.Tensor:
    padded = F.pad(img[None], (pad,) * 4, mode="reflect")[0]
    out = padded[:, top:top + img.shape[-2], left:left + img.shape[-1]]
    return out.flip(-1) if flip else out


def test_batch_applies_each_samples_crop_and_flip():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    data = TrainData(images, torch.arange(6), pad=2)
    batch = data.batch(torch.tensor([4, 1, 1, 5]))
    assert batch.x.shape == (4, 3, 8, 8) and batch.y.tolist() == [4, 1, 1, 5]
    for i, j in enumerate(batch.idx.tolist()):
        want = reference_crop_flip(normalize(images[j]), 2, int(batch.top[i]), int(batch.left[i]), bool(batch.flip[i]))
        assert torch.equal(batch.x[i], want)


def test_crops_and_flips_cover_the_whole_range():
    torch.manual_seed(1)
    data = TrainData(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.arange(4), pad=4)
    top, left, flip = data.geometry(4000)
    assert set(top.tolist()) == set(range(9)) and set(left.tolist()) == set(range(9))
    assert 0.45 < flip.float().mean() < 0.55


def test_aligned_moves_another_tensor_with_the_batch():
    torch.manual_seed(2)
    images = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    data = TrainData(images, torch.arange(5), pad=2)
    batch = data.batch(torch.tensor([0, 3, 2]))
    same = data.aligned(data.pad_for_crop(normalize(images)), batch)
    assert torch.equal(same, batch.x)


def test_normalize_maps_to_minus_one_one():
    x = torch.tensor([0, 127, 255], dtype=torch.uint8)
    assert torch.allclose(normalize(x), torch.tensor([-1.0, 127 / 127.5 - 1, 1.0]))
