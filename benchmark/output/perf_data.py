"""`perf --data-path D`: images per second of a photo set's training batches on this device, made two
ways side by side with the same loader processes and batch size:
- `array file`: the suite's path: rows of the decoded array file read by the loader processes
  (benchmark.training.stream), RandomResizedCrop + flip + normalisation batched on the device
  (benchmark.training.resized_crop);
- `JPEG per sample`: what the SynerMix code's DataLoader does: each file decoded and transformed
  per sample by torchvision (RandomResizedCrop, RandomHorizontalFlip, ToTensor, Normalize).
Each path makes one batch to warm up, then `batches` batches are timed (moved to the device, and on
CUDA synchronised). The photo set must be decoded already or is decoded first (not timed).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from benchmark.data import cached_dataset, dataset_label, folder_of
from benchmark.data.photos import PhotoSource
from benchmark.errors import UserError
from benchmark.imports import import_object
from benchmark.profiles import LARGE_FROM
from benchmark.training.pipeline import NORMALIZATIONS
from benchmark.training.resized_crop import ResizedCropData
from benchmark.training.stream import LOADER_WORKERS, StreamedImages

PHOTO_SETS = {"food101": "benchmark.data.food101:source", "oxford_pet": "benchmark.data.oxford_pet:source",
              "caltech256": "benchmark.data.caltech256:source"}


def photo_source(dataset: str, data_dir: Path) -> PhotoSource:
    folder = folder_of(dataset)
    if folder is not None and folder[1] >= LARGE_FROM:
        from benchmark.data.folder import folder_photos
        from benchmark.data.folder_index import scan_folder
        return folder_photos(scan_folder(folder[0]), dataset_label(dataset))
    if dataset in PHOTO_SETS:
        return import_object(PHOTO_SETS[dataset])(data_dir)
    raise UserError(f"--data-path needs a photo set, got '{dataset}'; valid: {', '.join(PHOTO_SETS)}, "
                    f"folder@SIZE:PATH with SIZE >= {LARGE_FROM}")


class PerSample(Dataset):
    """torchvision's per-sample training transform of each JPEG (the SynerMix code's)."""

    def __init__(self, files: tuple[Path, ...], size: int):
        from torchvision import transforms as T
        normalization = NORMALIZATIONS["imagenet"]
        self.files = files
        self.transform = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(),
                                    T.Normalize(normalization.mean, normalization.std)])

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        from PIL import Image
        with Image.open(self.files[i]) as image:
            return self.transform(image.convert("RGB"))


def timed(batches: Any, count: int, device: torch.device) -> float:
    """Seconds to take `count` batches from the iterator after the first (warm-up) one."""
    iterator = iter(batches)
    next(iterator)
    t0 = time.perf_counter()
    for _ in range(count):
        next(iterator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def measure_data_paths(dataset: str, data_dir: Path, batches: int, batch_size: int,
                       device: torch.device) -> list[dict[str, Any]]:
    source = photo_source(dataset, data_dir)
    data = cached_dataset(dataset, str(data_dir))
    workers = min(LOADER_WORKERS, torch.multiprocessing.cpu_count())
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(data.train_y)))
    index_batches = list(order.split(batch_size))[:batches + 1]
    if len(index_batches) < batches + 1:
        raise UserError(f"--batches {batches}: {data.name} has {len(order)} training images, {len(index_batches)} "
                        f"batches of {batch_size}; ask for fewer")
    crops = ResizedCropData(StreamedImages(data.train_file, np.arange(len(data.train_y)), device),
                            data.train_y.to(device), data.train_sizes.to(device), data.image_size,
                            NORMALIZATIONS["imagenet"])
    ours = timed((crops.batch(idx).x for idx in crops.loaded([b.to(device) for b in index_batches])), batches, device)
    files = tuple(source.train[i] for i in order[:(batches + 1) * batch_size].tolist())
    loader = DataLoader(PerSample(files, data.image_size), batch_size=batch_size, num_workers=workers,
                        pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(0))
    theirs = timed((x.to(device, non_blocking=True) for x in loader), batches, device)
    common = {"dataset": dataset, "device": device.type, "loaders": workers, "batches": batches, "batch": batch_size}
    return [{**common, "path": "array file, batched RandomResizedCrop on the device",
             "images_per_s": batches * batch_size / ours},
            {**common, "path": "JPEG per sample, torchvision transforms", "images_per_s": batches * batch_size / theirs}]


def format_data_paths(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'path':<52} {'loaders':>7} {'batches':>7} {'batch':>5} {'images/s':>9}"]
    lines += [f"{r['path']:<52} {r['loaders']:>7} {r['batches']:>7} {r['batch']:>5} {r['images_per_s']:>9.1f}"
              for r in rows]
    lines.append(f"dataset {rows[0]['dataset']}, device {rows[0]['device']}; each path with the same loader processes "
                 f"({rows[0]['loaders']}), after one warm-up batch")
    return "\n".join(lines)
