"""STL-10 from the official binary files (stl10_binary.tar.gz), labelled splits only.

Under the data directory: stl10_binary/train_X.bin, train_y.bin (5,000 images) and test_X.bin,
test_y.bin (8,000 images). Each image is 3 x 96 x 96 uint8, every channel stored column-major;
labels are uint8 1..10. The class names are fixed here (the order of class_names.txt), so no
unpinned file is read.
"""

from pathlib import Path

import numpy as np
import torch

from benchmark.data.files import corrupt, read_verified, require
from benchmark.data.imageset import ImageSet

STL10_DIR = "stl10_binary"
STL10_SIZE = 96
STL10_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")


def load_stl10(data_dir: Path, download: bool) -> ImageSet:
    names = [f"{STL10_DIR}/{split}_{part}.bin" for split in ("train", "test") for part in ("X", "y")]
    require(data_dir, names, download)
    train_x, train_y = _read_split(data_dir, names[0], names[1])
    test_x, test_y = _read_split(data_dir, names[2], names[3])
    return ImageSet("STL-10", train_x, train_y, test_x, test_y, STL10_CLASSES)


def _read_split(data_dir: Path, x_name: str, y_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    x_path, y_path = data_dir / x_name, data_dir / y_name
    raw = np.frombuffer(read_verified(data_dir, x_name), dtype=np.uint8)
    image_bytes = 3 * STL10_SIZE * STL10_SIZE
    if raw.size == 0 or raw.size % image_bytes:
        raise corrupt(x_path, f"{raw.size} bytes is not a multiple of {image_bytes}")
    # Read as [N, C, W, H] (column-major), then swap to [N, C, H, W].
    images = raw.reshape(-1, 3, STL10_SIZE, STL10_SIZE).transpose(0, 1, 3, 2)
    labels = np.frombuffer(read_verified(data_dir, y_name), dtype=np.uint8).astype(np.int64) - 1
    if len(labels) != len(images) or labels.min() < 0 or labels.max() >= len(STL10_CLASSES):
        raise corrupt(y_path, f"expected {len(images)} labels in 1..{len(STL10_CLASSES)}")
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)
