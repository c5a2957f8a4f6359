"""`folder:PATH`: the user's own images, one subfolder per class.

Two layouts:
- PATH/train/<class>/* and PATH/test/<class>/*, with the same class folders in both: used as given.
- PATH/<class>/*: each class is split deterministically. Its file names are sorted, one
  `np.random.default_rng(0)` (used class after class, classes in sorted order) permutes them, and the
  first 20% of the permutation (at least 1 image) is the test set, the rest the training pool.
  Every class needs at least 2 images.
Class names are the sorted subfolder names (at least 2); label i is the i-th of them. Files ending in
.png, .jpg, .jpeg, .bmp or .webp (any case) are images; other files and hidden folders are ignored.
16-bit greyscale images are scaled to 8 bits. Every image is converted to RGB and resized to
FOLDER_IMAGE_SIZE x FOLDER_IMAGE_SIZE (bilinear with antialiasing; the aspect ratio is not kept).
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmark.data.imageset import ImageSet
from benchmark.errors import UserError

FOLDER_IMAGE_SIZE = 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def load_folder(root: Path, label: str) -> ImageSet:
    if not root.is_dir():
        raise UserError(
            f"dataset folder {root} not found; use folder:PATH with a directory of class folders"
        )
    train_dir, test_dir = root / "train", root / "test"
    if train_dir.is_dir() != test_dir.is_dir():
        raise UserError(
            f"{root} has only one of train/ and test/; give it both, or put the class folders in {root}"
        )
    if train_dir.is_dir():
        classes = _class_names(train_dir)
        test_classes = _class_names(test_dir)
        if classes != test_classes:
            only_train = ", ".join(sorted(set(classes) - set(test_classes))) or "-"
            only_test = ", ".join(sorted(set(test_classes) - set(classes))) or "-"
            raise UserError(
                f"class folders of {train_dir} and {test_dir} differ (only in train: {only_train}; "
                f"only in test: {only_test}); use the same class folders in both"
            )
        train_files = [_image_files(train_dir / name) for name in classes]
        test_files = [_image_files(test_dir / name) for name in classes]
    else:
        classes = _class_names(root)
        rng = np.random.default_rng(0)
        train_files, test_files = [], []
        for name in classes:
            files = _image_files(root / name)
            if len(files) < 2:
                raise UserError(
                    f"class folder {root / name} has 1 image; a train/test split needs at least 2"
                )
            is_test = np.zeros(len(files), dtype=bool)
            is_test[rng.permutation(len(files))[: max(1, len(files) // 5)]] = True  # 20%, at least 1
            train_files.append([f for f, t in zip(files, is_test) if not t])
            test_files.append([f for f, t in zip(files, is_test) if t])
    if len(classes) < 2:
        raise UserError(f"{root} has one class folder ({classes[0]}); a classifier needs at least 2 classes")
    train_x, train_y = _read_images(train_files)
    test_x, test_y = _read_images(test_files)
    return ImageSet(label, train_x, train_y, test_x, test_y, tuple(classes))


def _class_names(directory: Path) -> list[str]:
    names = sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise UserError(
            f"{directory} has no class folders; put the images of each class in a subfolder, "
            f"e.g. {directory / 'cat'}"
        )
    return names


def _image_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(
            f"class folder {directory} has no images ({', '.join(IMAGE_SUFFIXES)}); add some or remove it"
        )
    return files


def _read_images(files_per_class: list[list[Path]]) -> tuple[torch.Tensor, torch.Tensor]:
    images = [_read_image(path) for files in files_per_class for path in files]
    labels = [label for label, files in enumerate(files_per_class) for _ in files]
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)


def _read_image(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            size = (FOLDER_IMAGE_SIZE, FOLDER_IMAGE_SIZE)
            rgb = _eight_bit(image).convert("RGB").resize(size, Image.Resampling.BILINEAR)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise UserError(f"cannot read image {path} ({e}); fix or remove the file") from None
    return np.asarray(rgb).transpose(2, 0, 1)  # [3, H, W]


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit greyscale (PNG) scaled to 8 bits: PIL's conversion would clip it to 255. (PIL reads
    16-bit colour PNGs as 8-bit RGB itself.)"""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        scaled = np.asarray(image, dtype=np.float64) * (255 / 65535)
        return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
    return image
