"""miniImageNet as the SynerMix code uses it: all 100 classes x 600 images at 84x84, split at random
80/20 as MLclf's `miniimagenet_clf_dataset(ratio_train=0.8, ratio_val=0.0, seed_value=100,
shuffle=True)` splits them (48,000 / 12,000), not the few-shot split of the classes.

Under the data directory, in miniimagenet/ (MLclf's folder), either
- the pickles MLclf unpacks and reads, mini-imagenet-cache-train.pkl, -val.pkl and -test.pkl (each
  {"image_data": uint8 [N, 84, 84, 3], "class_dict": {wnid: [indices]}}), read with a restricted
  unpickler that admits only arrays and plain containers (benchmark.safe_pickle), whatever their
  checksum; or
- an image folder: images/<file> with train.csv, val.csv and test.csv ("filename,label" rows), the
  few-shot split's files, each image resized to 84x84 where it is larger.

MLclf's split, re-implemented: the three parts concatenated (train, val, test), each class labelled in
the order of the class dicts (of the CSV files' first rows), Python's `random.seed(100)` and one
`random.shuffle` of the 60,000 images, the first floor(0.8 N) to train, the rest to test. MLclf labels
image i by i // 600, which equals the class dicts' labels in the files as published; we label from
the class dicts. The decoded images, labels and classes are cached in array files
(benchmark.data.arrays), keyed by a fingerprint of the source files.
"""
from __future__ import annotations

import csv
import hashlib
import math
import random
from pathlib import Path

import numpy as np
import torch

from benchmark import safe_pickle
from benchmark.data.arrays import ArrayFile, open_array, write_array
from benchmark.data.files import check_downloaded, corrupt, not_found
from benchmark.data.imageset import ImageSet
from benchmark.data.photos import files_fingerprint, locked
from benchmark.errors import UserError
from benchmark.paths import cache_dir

MINI_DIR = "miniimagenet"
MINI_SIZE = 84
PARTS = ("train", "val", "test")
PICKLES = tuple(f"{MINI_DIR}/mini-imagenet-cache-{part}.pkl" for part in PARTS)
CSVS = tuple(f"{MINI_DIR}/{part}.csv" for part in PARTS)
SPLIT_SEED, TRAIN_FRACTION = 100, 0.8
MAX_PICKLE_BYTES = 4 << 30  # the training part's pickle is about 0.8 GB
CLASS_NAME = "<U64"
GET = ("get mini-imagenet-cache-train.pkl, -val.pkl and -test.pkl (MLclf downloads them in "
       "https://data.deepai.org/miniimagenet.zip), or the images/ folder with train.csv, val.csv and test.csv, into "
       f"<data directory>/{MINI_DIR}")


def load_miniimagenet(data_dir: Path, download: bool) -> ImageSet:
    check_downloaded(download, "miniImageNet", GET)
    if all((data_dir / name).is_file() for name in PICKLES):
        sources = [data_dir / name for name in PICKLES]
        read = read_pickles
    elif all((data_dir / name).is_file() for name in CSVS):
        rows = [read_csv(data_dir / name) for name in CSVS]
        sources = [*(data_dir / name for name in CSVS),
                   *(data_dir / MINI_DIR / "images" / f for part in rows for f, _ in part)]
        read = read_images
    else:
        missing = next(name for name in PICKLES if not (data_dir / name).is_file())
        raise not_found(data_dir, missing, GET)
    for path in sources:
        if not path.is_file():
            raise not_found(data_dir, path.relative_to(data_dir).as_posix(), GET)
    key = f"{data_dir.resolve()}\n{files_fingerprint(data_dir, sources)}"
    directory = cache_dir() / "miniimagenet" / hashlib.sha1(key.encode()).hexdigest()[:20]
    arrays = cached(directory)
    if arrays is None:
        with locked(directory):
            arrays = cached(directory) or split_and_store(read(data_dir), directory)
    classes = tuple(str(name) for name in arrays["classes"].read(range(len(arrays["classes"]))))
    return ImageSet("miniImageNet", arrays["train"].tensor(), labels(arrays["train_labels"]), arrays["test"].tensor(),
                    labels(arrays["test_labels"]), classes, train_file=arrays["train"], test_file=arrays["test"])


def labels(array: ArrayFile) -> torch.Tensor:
    return torch.from_numpy(array.read(range(len(array))))


def cached(directory: Path) -> dict[str, ArrayFile] | None:
    """The cached split, if every file is there and their shapes agree."""
    shape = open_array(directory / "shape.npy", "int64", (3,))
    if shape is None:
        return None
    n_train, n_test, n_classes = shape.read(range(3)).tolist()
    arrays = {"train": open_array(directory / "train.npy", "uint8", (n_train, 3, MINI_SIZE, MINI_SIZE)),
              "test": open_array(directory / "test.npy", "uint8", (n_test, 3, MINI_SIZE, MINI_SIZE)),
              "train_labels": open_array(directory / "train_labels.npy", "int64", (n_train,)),
              "test_labels": open_array(directory / "test_labels.npy", "int64", (n_test,)),
              "classes": open_array(directory / "classes.npy", CLASS_NAME, (n_classes,))}
    return None if None in arrays.values() else arrays


def split_and_store(parts: tuple[np.ndarray, np.ndarray, list[str]], directory: Path) -> dict[str, ArrayFile]:
    """MLclf's split of the images [N, 84, 84, 3] and labels [N] (in the parts' order), written to `directory`."""
    images, image_labels, classes = parts
    order = list(range(len(image_labels)))
    random.Random(SPLIT_SEED).shuffle(order)  # the swaps of MLclf's random.seed(100); random.shuffle(...)
    cut = math.floor(len(order) * TRAIN_FRACTION)
    train, test = np.array(order[:cut], dtype=np.int64), np.array(order[cut:], dtype=np.int64)
    arrays = {"train": write_array(directory / "train.npy", images[train].transpose(0, 3, 1, 2)),
              "test": write_array(directory / "test.npy", images[test].transpose(0, 3, 1, 2)),
              "train_labels": write_array(directory / "train_labels.npy", image_labels[train]),
              "test_labels": write_array(directory / "test_labels.npy", image_labels[test]),
              "classes": write_array(directory / "classes.npy", np.array(classes, dtype=CLASS_NAME))}
    write_array(directory / "shape.npy", np.array([len(train), len(test), len(classes)], dtype=np.int64))
    return arrays


def read_pickles(data_dir: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The images of the three pickles in order, their labels (class dicts in order) and the classes."""
    images, image_labels, classes = [], [], []
    for name in PICKLES:
        part = unpickle(data_dir / name)
        start = len(classes)
        label = np.full(len(part["image_data"]), -1, dtype=np.int64)
        for offset, (wnid, indices) in enumerate(part["class_dict"].items()):
            label[np.asarray(indices, dtype=np.int64)] = start + offset
            classes.append(str(wnid))
        if (label < 0).any():
            raise corrupt(data_dir / name, f"image {int(np.flatnonzero(label < 0)[0])} is in no class of class_dict")
        images.append(part["image_data"])
        image_labels.append(label)
    return np.concatenate(images), np.concatenate(image_labels), classes


def unpickle(path: Path) -> dict:
    """A cache pickle, unpickled with the restricted unpickler and checked for its shape."""
    if path.stat().st_size > MAX_PICKLE_BYTES:
        raise corrupt(path, f"{path.stat().st_size} bytes, more than a miniImageNet pickle has")
    try:
        with path.open("rb") as f:
            content = safe_pickle.load(f, encoding="latin1")  # Python 2 pickles' strings, as numpy's loader
    except safe_pickle.UnsafePickle as e:
        raise UserError(f"dataset file {path} cannot be unpickled safely ({e}); replace it with the original file") from None
    except Exception as e:  # noqa: BLE001  unpickling damaged bytes can raise almost any exception
        raise corrupt(path, f"cannot unpickle: {type(e).__name__}") from None
    if not isinstance(content, dict) or not {"image_data", "class_dict"} <= set(content):
        raise corrupt(path, "expected a dict with 'image_data' and 'class_dict'")
    images, class_dict = content["image_data"], content["class_dict"]
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.shape[1:] != (MINI_SIZE, MINI_SIZE, 3):
        raise corrupt(path, f"image_data is not uint8 [N, {MINI_SIZE}, {MINI_SIZE}, 3]")
    valid = isinstance(class_dict, dict) and all(
        isinstance(indices, (list, np.ndarray)) and all(isinstance(i, (int, np.integer)) and 0 <= i < len(images)
                                                        for i in indices) for indices in class_dict.values())
    if not valid:
        raise corrupt(path, f"class_dict is not {{class: [image indices below {len(images)}]}}")
    return content


def read_csv(path: Path) -> list[tuple[str, str]]:
    """(file name, class) of each row."""
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise corrupt(path, f"not a CSV file: {e}") from None
    if rows and rows[0] == ["filename", "label"]:
        rows = rows[1:]
    if not rows or any(len(r) != 2 or "/" in r[0] or r[0] in ("", ".", "..") for r in rows):
        raise corrupt(path, "expected 'filename,label' rows of file names in images/")
    return [(r[0], r[1]) for r in rows]


def read_images(data_dir: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The images of the CSV files' rows in order, resized to 84x84, their labels and the classes."""
    from PIL import Image

    from benchmark.data.image_file import open_rgb
    rows = [row for name in CSVS for row in read_csv(data_dir / name)]
    classes = list(dict.fromkeys(label for _, label in rows))
    images = np.empty((len(rows), MINI_SIZE, MINI_SIZE, 3), dtype=np.uint8)
    for i, (name, _) in enumerate(rows):
        image = open_rgb(data_dir / MINI_DIR / "images" / name)
        if image.size != (MINI_SIZE, MINI_SIZE):
            image = image.resize((MINI_SIZE, MINI_SIZE), Image.Resampling.BILINEAR)
        images[i] = np.asarray(image)
    return images, np.array([classes.index(label) for _, label in rows], dtype=np.int64), classes
