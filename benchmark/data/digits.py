"""`digits`: scikit-learn's bundled 8x8 handwritten digits, a real dataset that needs no download.

1,797 grey images with values 0..16 are scaled to 0..255, upsampled to 32x32 (bilinear), rounded to
uint8 and copied to 3 channels. The split is fixed and independent of any run seed: one
`np.random.default_rng(0)` permutes each class in turn (classes 0..9) and the last 50 images of each
permuted class form the test set (500 images); the other 1,297 (124 to 133 per class) are the
training pool. Both sets keep the original order of the images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sklearn.datasets
import torch
import torch.nn.functional as F

from benchmark.data.imageset import ImageSet

DIGITS_SIZE = 32
DIGITS_TEST_PER_CLASS = 50


def load_digits(data_dir: Path | None = None, download: bool = False) -> ImageSet:
    """The digits (no files: `data_dir` and `download` are the loaders' common signature)."""
    bunch = sklearn.datasets.load_digits()
    grey = torch.from_numpy(bunch.images).float()[:, None] * (255 / 16)  # [N, 1, 8, 8]
    grey = F.interpolate(grey, size=DIGITS_SIZE, mode="bilinear", align_corners=False)
    images = grey.round().clamp(0, 255).to(torch.uint8).repeat(1, 3, 1, 1)
    labels = torch.from_numpy(bunch.target).long()

    rng = np.random.default_rng(0)
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    for c in range(10):
        is_test[rng.permutation(np.flatnonzero(bunch.target == c))[-DIGITS_TEST_PER_CLASS:]] = True
    classes = tuple(str(c) for c in range(10))
    return ImageSet("digits", images[~is_test], labels[~is_test], images[is_test], labels[is_test], classes)


def export_pngs(out: Path | str, classes: int = 10, per_class: int | None = None) -> Path:
    """The original 8x8 digits as grey PNG files (0..16 scaled to 0..255), `out/<digit>/<index>.png`
    for the first `classes` digits (at most `per_class` each): a small folder of real images, e.g. for
    trying `folder:PATH`."""
    from PIL import Image
    bunch = sklearn.datasets.load_digits()
    out = Path(out)
    for c in range(classes):
        (out / str(c)).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(bunch.target == c)[:per_class]:
            grey = np.round(bunch.images[i] * (255 / 16)).astype(np.uint8)
            Image.fromarray(grey, mode="L").save(out / str(c) / f"{i:04d}.png")
    return out
