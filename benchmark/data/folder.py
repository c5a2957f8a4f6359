"""`folder:PATH` and `folder@SIZE:PATH`: the user's own images, one subfolder per class (the layouts
and the split: benchmark.data.folder_index). From 160 px (the 224-px recipes) the images are stored as
the photo sets are (benchmark.data.photos: resized for RandomResizedCrop, tested on their center
crop); below it:

Every image is converted to RGB and resized to SIZE x SIZE (32 for `folder:PATH`; bilinear with
antialiasing; the aspect ratio is not kept). Grey, palette, CMYK and alpha images convert as Pillow
converts them (the alpha channel is dropped); 16-bit and 32-bit integer images (modes I;16, I) are
scaled to 8 bits (value / 257) first, since Pillow would clip them; floating-point images are refused. The decoded tensors are cached under the cache
directory (benchmark.paths.cache_dir, `folders/`), keyed by the folder's absolute path, the size
and the fingerprint of its contents: every later load (each worker process of every run) reads one
file instead of decoding every image again, and a changed folder is decoded afresh.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmark.atomic import save_atomic
from benchmark.data.folder_index import FolderIndex, scan_folder
from benchmark.data.image_file import open_rgb
from benchmark.data.imageset import ImageSet
from benchmark.data.photos import PhotoSource, load_photos
from benchmark.paths import cache_dir
from benchmark.profiles import LARGE_FROM


def load_folder(root: Path, label: str, size: int) -> ImageSet:
    index = scan_folder(root)
    train_files, test_files = index.split
    if size >= LARGE_FROM:
        return load_photos(folder_photos(index, label), size)
    cache = decoded_cache_path(index, size)
    tensors = read_cache(cache)
    if tensors is None:
        tensors = {"train": read_images(train_files, size), "test": read_images(test_files, size)}
        try:
            save_atomic(tensors, cache)
        except OSError:  # a read-only cache directory: decode every time
            pass
    (train_x, train_y), (test_x, test_y) = tensors["train"], tensors["test"]
    return ImageSet(label, train_x, train_y, test_x, test_y, index.classes, train_ids=index.train_ids(),
                    fingerprint=index.fingerprint)


def folder_photos(index: FolderIndex, label: str) -> PhotoSource:
    train, test = index.split
    return PhotoSource(label, f"folder:{index.root.resolve()}", index.classes,
                       tuple(f for files in train for f in files), tuple(c for c, files in enumerate(train) for _ in files),
                       tuple(f for files in test for f in files), tuple(c for c, files in enumerate(test) for _ in files),
                       index.fingerprint, index.train_ids(), folder_fingerprint=index.fingerprint)


def decoded_cache_path(index: FolderIndex, size: int) -> Path:
    key = f"{index.root.resolve()}\n{size}\n{index.fingerprint}"
    return cache_dir() / "folders" / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.pt"


def read_cache(path: Path) -> dict | None:
    """The cached tensors; None if there are none (or the file is damaged: decode again)."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, weights_only=True)
    except Exception:  # noqa: BLE001  any unreadable cache file is rebuilt
        return None


def read_images(files_per_class: tuple[tuple[Path, ...], ...], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    images = [read_image(path, size) for files in files_per_class for path in files]
    labels = [label for label, files in enumerate(files_per_class) for _ in files]
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)


def read_image(path: Path, size: int) -> np.ndarray:
    rgb = open_rgb(path).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb).transpose(2, 0, 1)  # [3, H, W]
