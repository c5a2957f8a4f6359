"""Mixing masks: grid structure and balance, segment rules, one-hot sums, and segmentations that
stay aligned with their images under the batch's crop and flip."""

import pytest
import torch
import torch.nn.functional as F
from skimage import data as skdata

from benchmark.training.pipeline import TrainData, normalize
from methods.masks import (
    GRID_CELLS,
    felzenszwalb_params,
    grid_masks,
    mix,
    resize_masks,
    sample_masks,
    segment,
    segment_assign_masks,
    segment_range_masks,
)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    """skimage's astronaut photo at 32x32 as uint8 [1, 3, 32, 32]."""
    image = torch.from_numpy(skdata.astronaut()).permute(2, 0, 1)[None].float()
    return F.interpolate(image, size=(32, 32), mode="area").round().to(torch.uint8)


@pytest.fixture(scope="module")
def astronaut_segments(astronaut: torch.Tensor) -> torch.Tensor:
    return segment(normalize(astronaut), *felzenszwalb_params(32))


def transitions_on_cell_borders(line: torch.Tensor, cell: int) -> bool:
    """Whether some offset puts every value change of `line` on a border of cells of `cell` px."""
    changes = torch.nonzero(line[1:] != line[:-1]).flatten() + 1
    return any(bool(((changes + offset) % cell == 0).all()) for offset in range(cell))


def test_grid_masks_are_blocks_of_a_4x4_grid():
    torch.manual_seed(0)
    size = 16
    cell = (size + size // GRID_CELLS) // GRID_CELLS
    masks = grid_masks(64, size, CPU)
    assert masks.shape == (64, 2, size, size)
    assert torch.equal(masks.sum(1), torch.ones(64, size, size))
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    for f in masks[:, 0]:
        assert all(transitions_on_cell_borders(row, cell) for row in f)
        assert all(transitions_on_cell_borders(col, cell) for col in f.T)
        assert f.unique(dim=0).shape[0] <= GRID_CELLS and f.unique(dim=1).shape[1] <= GRID_CELLS


def test_grid_masks_are_balanced():
    torch.manual_seed(1)
    share = grid_masks(2000, 16, CPU)[:, 0].mean().item()
    assert abs(share - 0.5) < 0.02


def test_grid_offsets_differ_between_samples():
    torch.manual_seed(2)
    masks = grid_masks(256, 16, CPU)[:, 0]
    first_change = [int(torch.nonzero(row[1:] != row[:-1]).flatten()[0]) for row in masks[:, 0] if (row[1:] != row[:-1]).any()]
    assert len(set(c % 5 for c in first_change)) > 1


def test_segmentation_is_cached_per_image_with_contiguous_ids(astronaut_segments: torch.Tensor):
    assert astronaut_segments.shape == (1, 32, 32) and astronaut_segments.dtype == torch.int64
    ids = astronaut_segments.unique()
    assert torch.equal(ids, torch.arange(len(ids))) and len(ids) > 2


def covers_whole_segments(mask: torch.Tensor, segmentation: torch.Tensor) -> bool:
    """Every segment lies entirely in one channel of the one-hot mask."""
    for s in segmentation.unique():
        inside = mask[:, segmentation == s]
        if not bool((inside == inside[:, :1]).all()):
            return False
    return True


def test_segment_range_masks_cover_whole_segments(astronaut_segments: torch.Tensor):
    torch.manual_seed(3)
    seg = astronaut_segments.expand(50, -1, -1)
    masks = segment_range_masks(seg)
    assert masks.shape == (50, 2, 32, 32)
    assert torch.equal(masks.sum(1), torch.ones(50, 32, 32))
    for m in masks:
        assert covers_whole_segments(m, seg[0])
        selected = seg[0][m[0] == 1].unique()
        assert len(selected) >= 1 and torch.equal(selected, torch.arange(int(selected[0]), int(selected[-1]) + 1))


def test_segment_assign_masks_are_one_hot_over_n_and_cover_whole_segments(astronaut_segments: torch.Tensor):
    torch.manual_seed(4)
    n = 4
    seg = astronaut_segments.expand(200, -1, -1)
    masks = segment_assign_masks(seg, n, int(seg.max()) + 1)
    assert masks.shape == (200, n, 32, 32)
    assert set(masks.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(masks.sum(1), torch.ones(200, 32, 32))
    assert all(covers_whole_segments(m, seg[0]) for m in masks[:20])
    share = masks.mean(dim=(0, 2, 3))
    assert torch.allclose(share, torch.full((n,), 1 / n), atol=0.06)


def test_masks_resized_to_the_feature_grid_stay_one_hot(astronaut_segments: torch.Tensor):
    torch.manual_seed(5)
    seg = astronaut_segments.expand(8, -1, -1)
    for kind, n in (("grid", 2), ("seg_range", 2), ("seg_assign", 3)):
        masks = sample_masks(kind, n, 8, 8, CPU, seg, int(seg.max()) + 1)
        assert masks.shape == (8, n, 8, 8)
        assert torch.equal(masks.sum(1), torch.ones(8, 8, 8))
    assert torch.equal(resize_masks(masks, 8), masks)


def test_mix_with_a_one_hot_mask_selects_exactly():
    torch.manual_seed(6)
    sources = torch.randn(5, 3, 7, 4, 4)
    for n in range(3):
        masks = torch.zeros(5, 3, 4, 4)
        masks[:, n] = 1
        assert torch.equal(mix(sources, masks), sources[:, n])


def test_segmentation_and_image_stay_aligned_under_crop_and_flip():
    """Images whose pixel values encode a label map: the aligned crop of the label map must equal
    the labels read back from the cropped and flipped images."""
    torch.manual_seed(7)
    labels_map = torch.randint(0, 20, (6, 1, 4, 4)).repeat_interleave(8, 2).repeat_interleave(8, 3)
    labels_map[:, :, :, :3] += 20  # asymmetric, so that a flip shows
    images = (labels_map * 6).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    data = TrainData(images, torch.arange(6), pad=4)
    padded_segments = data.pad_for_crop(labels_map.float())
    for _ in range(5):
        batch = data.batch(torch.randint(0, 6, (16,)))
        assert batch.flip.any() and (batch.top != data.pad).any()
        aligned = data.aligned(padded_segments, batch)[:, 0]
        read_back = ((batch.x[:, 0] + 1) * 127.5 / 6).round()
        assert torch.equal(aligned, read_back)
