"""Photographs for the 224-px recipes (Food-101, Oxford-IIIT Pet, Caltech-256, folder@SIZE:PATH from
160 px), decoded once into array files in the cache directory (benchmark.data.arrays) and read from
there by every run.

For a training size T (224 for the registered sets) and S = round(T x 256 / 224) (256):
- a training image is stored resized to S x S (bilinear with antialiasing, the aspect ratio not
  kept), and beside it its original (height, width): RandomResizedCrop draws its box in the
  original's pixels, as torchvision does, and reads it from the stored image
  (benchmark.training.resized_crop);
- a test image is stored as torchvision's Resize(S) + CenterCrop(T) of the original: the test view,
  exactly.
The files are keyed by the source (a dataset's name, a folder's path), T and a fingerprint of the
source files, so a changed source is decoded afresh. Decoding runs in a process per core, once, under
a lock: another process that needs the same files waits for them.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from benchmark.data.arrays import ArrayFile, ArrayWriter, open_array, write_array
from benchmark.data.image_file import open_rgb
from benchmark.data.imageset import ImageSet
from benchmark.paths import cache_dir

CACHE_FORMAT = 1  # changes when the stored form changes
IN_PROCESS = 256  # fewer images than this are decoded without a process pool


def stored_size(image_size: int) -> int:
    """The side of the stored training images: 256 for 224-px training."""
    return round(image_size * 256 / 224)


@dataclass(frozen=True)
class PhotoSource:
    """A photo set's files, as its loader found them."""

    label: str  # the display label
    key: str  # what identifies the source: a dataset's name, a folder's path
    classes: tuple[str, ...]
    train: tuple[Path, ...]
    train_labels: tuple[int, ...]
    test: tuple[Path, ...]
    test_labels: tuple[int, ...]
    fingerprint: str  # of the source files
    train_ids: tuple[str, ...] = ()  # how others find each training image ((): its index)
    folder_fingerprint: str = ""  # a folder's, for its records (ImageSet.fingerprint)


def files_fingerprint(root: Path, files: list[Path]) -> str:
    """SHA-1 of each file's path relative to `root`, size and modification time: hashing the contents
    of 100,000 photos at every load would cost more than the load."""
    digest = hashlib.sha1()
    for f in files:
        info = f.stat()
        digest.update(f"{f.relative_to(root).as_posix()}\t{info.st_size}\t{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def load_photos(source: PhotoSource, image_size: int) -> ImageSet:
    size = stored_size(image_size)
    key = f"{CACHE_FORMAT}\n{source.key}\n{image_size}\n{source.fingerprint}"
    slug = "".join(ch if ch.isalnum() else "-" for ch in source.label)[:40]
    directory = cache_dir() / "photos" / f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:20]}"
    shapes = {"train": ("uint8", (len(source.train), 3, size, size)), "sizes": ("int32", (len(source.train), 2)),
              "test": ("uint8", (len(source.test), 3, image_size, image_size))}
    arrays = cached(directory, shapes)
    if arrays is None:
        with locked(directory):
            arrays = cached(directory, shapes) or decode_all(source, directory, image_size)
    return ImageSet(source.label, arrays["train"].tensor(), torch.tensor(source.train_labels, dtype=torch.int64),
                    arrays["test"].tensor(), torch.tensor(source.test_labels, dtype=torch.int64), source.classes,
                    train_ids=source.train_ids, fingerprint=source.folder_fingerprint,
                    train_sizes=torch.from_numpy(arrays["sizes"].read(range(len(source.train))).astype(np.int64)),
                    train_file=arrays["train"], test_file=arrays["test"])


def cached(directory: Path, shapes: dict[str, tuple[str, tuple[int, ...]]]) -> dict[str, ArrayFile] | None:
    arrays = {name: open_array(directory / f"{name}.npy", dtype, shape) for name, (dtype, shape) in shapes.items()}
    return None if None in arrays.values() else arrays


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Held by one process at a time (of any user of the cache directory)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def decode_all(source: PhotoSource, directory: Path, image_size: int) -> dict[str, ArrayFile]:
    size = stored_size(image_size)
    train, sizes = decode_split(directory / "train.npy", source.train, size, image_size, test=False,
                                what=f"decoding {source.label} (training)")
    test, _ = decode_split(directory / "test.npy", source.test, size, image_size, test=True,
                           what=f"decoding {source.label} (test)")
    return {"train": train, "sizes": write_array(directory / "sizes.npy", sizes), "test": test}


def decode_split(path: Path, files: tuple[Path, ...], size: int, image_size: int, test: bool,
                 what: str) -> tuple[ArrayFile, np.ndarray]:
    side = image_size if test else size
    writer = ArrayWriter(path, "uint8", (len(files), 3, side, side))
    sizes = np.zeros((len(files), 2), dtype=np.int32)
    jobs = [(f, size, image_size, test) for f in files]
    pool = ProcessPoolExecutor(os.cpu_count(), mp_context=get_context("fork")) if len(jobs) >= IN_PROCESS else None
    try:
        decoded = pool.map(decode, jobs, chunksize=32) if pool else map(decode, jobs)
        for i, (pixels, hw) in enumerate(tqdm(decoded, total=len(jobs), desc=what, unit="image", disable=None)):
            writer.write(i, pixels)
            sizes[i] = hw
        return writer.close(), sizes
    except BaseException:
        writer.discard()
        raise
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)


def decode(job: tuple[Path, int, int, bool]) -> tuple[np.ndarray, tuple[int, int]]:
    """(the stored pixels [3, side, side], the original (height, width)) of one image."""
    from torchvision.transforms import functional as TF

    path, size, image_size, test = job
    image = open_rgb(path)
    if test:
        view = TF.center_crop(TF.resize(image, size, interpolation=TF.InterpolationMode.BILINEAR), image_size)
    else:
        view = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(view).transpose(2, 0, 1), (image.height, image.width)
