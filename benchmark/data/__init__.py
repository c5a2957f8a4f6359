"""Datasets: the registry, loading, and the class-balanced few-shot subsets.

Every dataset loads to an ImageSet of uint8 tensors [N, 3, H, W]. The downloadable datasets
(CIFAR, ciFAIR, STL-10) are read from a data directory, `default_data_dir()` unless one is given;
their files are checked against the MD5 table in `benchmark.data.files`. `digits` ships with
scikit-learn and `folder:PATH` reads the user's own images (see `benchmark.data.folder`). The
SynerMix sets (Food-101, Oxford-IIIT Pet, Caltech-256, miniImageNet) are read from the data directory
too and decoded once into array files in the cache directory, which their tensors map
(benchmark.data.photos, benchmark.data.miniimagenet).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.data.imageset import ImageSet
from benchmark.errors import UserError
from benchmark.imports import import_object
from benchmark.paths import home_cache_dir
from benchmark.spec import ALL_SHOTS, Shots

if TYPE_CHECKING:
    import torch

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "ImageSet",
    "cached_dataset",
    "check_dataset_name",
    "dataset_label",
    "dataset_names",
    "default_data_dir",
    "load_dataset",
    "subsample",
]

FOLDER_PREFIX = "folder:"
MAX_SEED = 2**64 - 1  # torch's generators take seeds of 64 bits
FOLDER_IMAGE_SIZE = 32  # folder:PATH; folder@SIZE:PATH another size
MIN_FOLDER_SIZE, MAX_FOLDER_SIZE = 8, 512


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # CLI name
    label: str  # label in the papers' tables
    image_size: int
    num_classes: int
    train_size: int  # images in the training pool
    loader: str  # "module:function" taking (data_dir, download); imported when the data are loaded
    description: str

    def load(self, data_dir: Path, download: bool) -> ImageSet:
        return import_object(self.loader)(data_dir, download)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo(
            "cifair10", "ciFAIR-10", 32, 10, 50000, "benchmark.data.cifar:load_cifair10",
            "CIFAR-10 train (50,000) + ciFAIR-10 test (10,000, near-duplicates of train replaced)",
        ),
        DatasetInfo(
            "cifair100", "ciFAIR-100", 32, 100, 50000, "benchmark.data.cifar:load_cifair100",
            "CIFAR-100 train (50,000) + ciFAIR-100 test (10,000, near-duplicates of train replaced)",
        ),
        DatasetInfo("cifar10", "CIFAR-10", 32, 10, 50000, "benchmark.data.cifar:load_cifar10",
                    "CIFAR-10: 50,000 train, 10,000 test"),
        DatasetInfo("cifar100", "CIFAR-100", 32, 100, 50000, "benchmark.data.cifar:load_cifar100",
                    "CIFAR-100: 50,000 train, 10,000 test"),
        DatasetInfo("stl10", "STL-10", 96, 10, 5000, "benchmark.data.stl10:load_stl10", "STL-10 labelled: 5,000 train, 8,000 test"),
        DatasetInfo(
            "digits", "digits", 32, 10, 1297, "benchmark.data.digits:load_digits",
            "scikit-learn 8x8 digits upsampled to 32x32: 1,297 train, 500 test, no download",
        ),
        DatasetInfo("food101", "Food-101", 224, 101, 75750, "benchmark.data.food101:load_food101",
                    "Food-101: 75,750 train, 25,250 test photos, at 224 px"),
        DatasetInfo("oxford_pet", "Oxford-IIIT Pet", 224, 37, 3680, "benchmark.data.oxford_pet:load_oxford_pet",
                    "Oxford-IIIT Pet, 37 breeds: 3,680 trainval, 3,669 test photos, at 224 px"),
        DatasetInfo("caltech256", "Caltech-256", 224, 257, 15420, "benchmark.data.caltech256:load_caltech256",
                    "Caltech-256, 257 categories with clutter, SynerMix's split: 60 train / 20 test each, at 224 px"),
        DatasetInfo("miniimagenet", "miniImageNet", 84, 100, 48000, "benchmark.data.miniimagenet:load_miniimagenet",
                    "miniImageNet, 100 classes x 600 at 84 px, MLclf's random 80/20 split: 48,000 train, 12,000 test"),
    ]
}


def dataset_names() -> list[str]:
    return [*DATASETS, FOLDER_PREFIX + "PATH"]


def folder_of(name: str) -> tuple[Path, int] | None:
    """(PATH, SIZE) of `folder:PATH` (SIZE 32) or `folder@SIZE:PATH`; None for a registered
    dataset. The size is part of the name, so records of different sizes never mix."""
    check_dataset_name(name)
    if name.startswith(FOLDER_PREFIX):
        return Path(name[len(FOLDER_PREFIX):]).expanduser(), FOLDER_IMAGE_SIZE
    if name.startswith("folder@") and ":" in name:
        size, path = name[len("folder@"):].split(":", 1)
        return Path(path).expanduser(), int(size)
    return None


def check_dataset_name(name: str) -> None:
    if name in DATASETS:
        return
    if name.startswith("folder@") and ":" in name:
        size, path = name[len("folder@"):].split(":", 1)
        if not size.isdigit() or not MIN_FOLDER_SIZE <= int(size) <= MAX_FOLDER_SIZE:
            raise UserError(f"folder image size '{size}' in '{name}' is not a whole number of pixels from "
                            f"{MIN_FOLDER_SIZE} to {MAX_FOLDER_SIZE}; use folder@SIZE:PATH, e.g. folder@96:{path}")
        if int(size) == FOLDER_IMAGE_SIZE:
            raise UserError(f"'{name}' is folder:{path} ({FOLDER_IMAGE_SIZE} px is the default); write folder:{path}")
        name = FOLDER_PREFIX + path
    if name.startswith(FOLDER_PREFIX) and len(name) > len(FOLDER_PREFIX):
        return
    if name == FOLDER_PREFIX:
        raise UserError("dataset 'folder:' has no path; use folder:PATH with a directory of class folders")
    raise UserError(f"unknown dataset '{name}'; valid: {', '.join(dataset_names())}")


def dataset_label(name: str) -> str:
    """The display label: the paper's label, or "folder:<last path component>" ("folder@96:..." at 96 px)."""
    folder = folder_of(name)
    if folder:
        path, size = folder
        prefix = FOLDER_PREFIX if size == FOLDER_IMAGE_SIZE else f"folder@{size}:"
        return prefix + (path.name or str(path))
    return DATASETS[name].label


def image_size(name: str) -> int:
    """The side of the dataset's images, from its name alone."""
    folder = folder_of(name)
    return folder[1] if folder else DATASETS[name].image_size


def load_dataset(name: str, data_dir: Path, download: bool = False) -> ImageSet:
    """Load a dataset by CLI name; `download` fetches missing CIFAR/ciFAIR/STL-10 files into `data_dir`."""
    folder = folder_of(name)
    if folder:
        from benchmark.data.folder import load_folder
        return load_folder(folder[0], dataset_label(name), folder[1])
    return DATASETS[name].load(data_dir, download)


@functools.lru_cache(maxsize=4)
def cached_dataset(name: str, data_dir: str) -> ImageSet:
    """`load_dataset` once per process: the tensors are shared, never modify them in place."""
    return load_dataset(name, Path(data_dir))


def default_data_dir() -> Path:
    """$BENCHMARK_DATA_DIR if set (and not empty), else ~/.cache/smalldata-benchmark/data."""
    configured = os.environ.get("BENCHMARK_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    return home_cache_dir() / "data"


def subsample(labels: torch.Tensor, shots: Shots, seed: int, names: tuple[str, ...] = ()) -> torch.Tensor:
    """Indices of `shots` training images per class, the same for every method (`names`: the
    classes' names, for the error of a class with fewer images).

    One `np.random.default_rng(seed)` shuffles the indices of each class in turn (classes in
    ascending order, indices in dataset order) and the first `shots` of each are kept. Returns
    them sorted ascending as int64. `ALL_SHOTS` is the whole pool (every seed the same images).
    """
    import numpy as np
    import torch
    if seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed}")
    if seed > MAX_SEED:
        raise UserError(f"seed {seed} does not fit in 64 bits; use 0 to {MAX_SEED}")
    if shots == ALL_SHOTS:
        return torch.arange(len(labels), dtype=torch.int64)
    if shots <= 0:
        raise UserError(f"shots must be a positive integer, got {shots}")
    labels_np = labels.cpu().numpy()
    classes, counts = np.unique(labels_np, return_counts=True)
    smallest = int(np.argmin(counts))
    if shots > counts[smallest]:
        label = int(classes[smallest])
        name = f"'{names[label]}' (label {label})" if label < len(names) else str(label)
        raise UserError(
            f"shots {shots} is more than class {name} has ({counts[smallest]} training images); "
            f"use shots <= {counts[smallest]}"
        )
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels_np == c))[:shots] for c in classes]
    return torch.from_numpy(np.sort(np.concatenate(chosen)).astype(np.int64))
