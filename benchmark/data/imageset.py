"""The in-memory form every dataset loader returns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from benchmark.data.arrays import ArrayFile


@dataclass(frozen=True)
class ImageSet:
    """A labelled image dataset held as uint8 tensors.

    `train_x` is the full training pool; runs draw their few-shot subsets from it with `subsample`.
    The sets decoded into array files in the cache directory (benchmark.data.arrays) hold tensors
    mapped from those files (`train_file`, `test_file`), which a run too large to hold streams from;
    the photo sets' training images are stored resized, with their original sizes (`train_sizes`).
    """

    name: str  # display label, e.g. "ciFAIR-10", "folder:mydata"
    train_x: torch.Tensor  # uint8 [N, 3, H, W]
    train_y: torch.Tensor  # int64 [N]
    test_x: torch.Tensor  # uint8 [M, 3, H, W]
    test_y: torch.Tensor  # int64 [M]
    classes: tuple[str, ...]
    train_ids: tuple[str, ...] = ()  # how others find each training image: a folder's relative paths (else its index)
    fingerprint: str = ""  # of a folder's contents (benchmark.data.folder_index); "" for the registered datasets
    train_sizes: torch.Tensor | None = None  # int64 [N, 2]: (height, width) of the originals (benchmark.data.photos)
    train_file: ArrayFile | None = None  # where train_x lies on disk
    test_file: ArrayFile | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> int:
        """Height (= width) of the images a model sees (the test images: training images may be stored larger)."""
        return int(self.test_x.shape[-1])
