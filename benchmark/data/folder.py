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
file instead of decoding every image again, and a changed folder is decoded afresh. The cache
directory is not trusted: a cache is loaded with torch's weights-only loader and used only if it
holds what the folder's index says (uint8 images of the size, as many as the split's files, and
their labels); any other is moved aside and the images are decoded again.
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
from benchmark.stored import NotRegular, open_regular, set_aside


def load_folder(root: Path, label: str, size: int) -> ImageSet:
    index = scan_folder(root)
    train_files, test_files = index.split
    if size >= LARGE_FROM:
        return load_photos(folder_photos(index, label), size)
    cache = decoded_cache_path(index, size)
    tensors = read_cache(cache, index, size)
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


def read_cache(path: Path, index: FolderIndex, size: int) -> dict | None:
    """The cached tensors of the folder; None if there are none, or (the file set aside) if it is
    damaged or holds anything but the folder's images at `size` and their labels."""
    try:
        with open_regular(path) as f:
            tensors = torch.load(f, weights_only=True)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except NotRegular as exc:
        set_aside(path, "decoded folder cache", f"{exc.strerror}; decoding the images again")
        return None
    except Exception as exc:  # noqa: BLE001  a damaged file fails anywhere in the loader
        set_aside(path, "decoded folder cache", f"{type(exc).__name__}; decoding the images again")
        return None
    problem = cache_problem(tensors, index, size)
    if problem:
        set_aside(path, "decoded folder cache", f"{problem}; decoding the images again")
        return None
    return tensors


def cache_problem(tensors: object, index: FolderIndex, size: int) -> str:
    """What does not fit the folder's index in a decoded cache ("" if nothing)."""
    if not isinstance(tensors, dict) or set(tensors) != {"train", "test"}:
        return "not a dict of the train and test tensors"
    for part, files in zip(("train", "test"), index.split):
        pair = tensors[part]
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(t, torch.Tensor) for t in pair)):
            return f"its {part} entry is not (images, labels)"
        images, labels = pair
        expected = torch.tensor([label for label, group in enumerate(files) for _ in group], dtype=torch.int64)
        if images.dtype != torch.uint8 or tuple(images.shape) != (len(expected), 3, size, size):
            return (f"{part} images are {images.dtype} {tuple(images.shape)}, not torch.uint8 "
                    f"{(len(expected), 3, size, size)}")
        if labels.dtype != torch.int64 or not torch.equal(labels, expected):
            return f"{part} labels are not the folder's"
    return ""


def read_images(files_per_class: tuple[tuple[Path, ...], ...], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    images = [read_image(path, size) for files in files_per_class for path in files]
    labels = [label for label, files in enumerate(files_per_class) for _ in files]
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)


def read_image(path: Path, size: int) -> np.ndarray:
    rgb = open_rgb(path).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb).transpose(2, 0, 1)  # [3, H, W]
