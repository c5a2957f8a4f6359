"""CIFAR-10/100 and ciFAIR-10/100 from the official python pickle batches.

ciFAIR (Barz & Denzler, "Do we train on test data?", https://cvjena.github.io/cifair/) keeps the
CIFAR training set and replaces the test images that have near-duplicates in it. ciFAIR-N here is
the CIFAR-N training set plus the ciFAIR-N v1.0 test set. Layout under the data directory:
    cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta   (cifar-10-python.tar.gz)
    cifar-100-python/train, test, meta                              (cifar-100-python.tar.gz)
    ciFAIR-10/test_batch                                            (ciFAIR-10.zip)
    ciFAIR-100/test                                                 (ciFAIR-100.zip)
"""

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark import safe_pickle
from benchmark.data.files import corrupt, read_verified, require
from benchmark.data.imageset import ImageSet

CIFAR10_DIR = "cifar-10-batches-py"
CIFAR100_DIR = "cifar-100-python"
CIFAR10_TRAIN = tuple(f"{CIFAR10_DIR}/data_batch_{i}" for i in range(1, 6))


def load_cifar10(data_dir: Path, download: bool) -> ImageSet:
    return _load("CIFAR-10", data_dir, download, CIFAR10_TRAIN, f"{CIFAR10_DIR}/test_batch", 10)


def load_cifair10(data_dir: Path, download: bool) -> ImageSet:
    return _load("ciFAIR-10", data_dir, download, CIFAR10_TRAIN, "ciFAIR-10/test_batch", 10)


def load_cifar100(data_dir: Path, download: bool) -> ImageSet:
    return _load("CIFAR-100", data_dir, download, (f"{CIFAR100_DIR}/train",), f"{CIFAR100_DIR}/test", 100)


def load_cifair100(data_dir: Path, download: bool) -> ImageSet:
    return _load("ciFAIR-100", data_dir, download, (f"{CIFAR100_DIR}/train",), "ciFAIR-100/test", 100)


def _load(
    label: str, data_dir: Path, download: bool, train: tuple[str, ...], test: str, num_classes: int
) -> ImageSet:
    if num_classes == 10:
        meta, names_key, labels_key = f"{CIFAR10_DIR}/batches.meta", b"label_names", b"labels"
    else:
        meta, names_key, labels_key = f"{CIFAR100_DIR}/meta", b"fine_label_names", b"fine_labels"
    require(data_dir, [*train, test, meta], download)
    train_x, train_y = _read_batches(data_dir, train, labels_key, num_classes)
    test_x, test_y = _read_batches(data_dir, (test,), labels_key, num_classes)
    classes = _read_names(data_dir, meta, names_key, num_classes)
    return ImageSet(label, train_x, train_y, test_x, test_y, classes)


def _unpickle(data_dir: Path, name: str, keys: tuple[bytes, ...]) -> dict[bytes, Any]:
    """The dict of an official pickle: its bytes once their MD5 matched, unpickled to numpy arrays
    and plain containers only (a crafted file that matched would still run no code)."""
    path = data_dir / name
    data = read_verified(data_dir, name)
    try:
        content = safe_pickle.load(io.BytesIO(data), encoding="bytes")
    except safe_pickle.UnsafePickle as e:
        raise corrupt(path, f"cannot unpickle: {e}") from None
    except Exception as e:  # unpickling damaged bytes can raise almost any exception
        raise corrupt(path, f"cannot unpickle: {type(e).__name__}") from None
    if not isinstance(content, dict) or not all(key in content for key in keys):
        raise corrupt(path, f"expected a dict with keys {', '.join(map(repr, keys))}")
    return content


def _read_batches(
    data_dir: Path, names: tuple[str, ...], labels_key: bytes, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for name in names:
        path = data_dir / name
        batch = _unpickle(data_dir, name, (b"data", labels_key))
        x, y = np.asarray(batch[b"data"]), np.asarray(batch[labels_key])
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
            raise corrupt(path, f"data is {x.dtype} {list(x.shape)}, expected uint8 [N, 3072]")
        valid = y.shape == (len(x),) and y.dtype.kind in "iu" and len(y) > 0
        if not valid or y.min() < 0 or y.max() >= num_classes:
            raise corrupt(path, f"expected {len(x)} labels in 0..{num_classes - 1}")
        xs.append(x)
        ys.append(y.astype(np.int64))
    images = np.concatenate(xs).reshape(-1, 3, 32, 32)  # rows are CHW
    return torch.from_numpy(images), torch.from_numpy(np.concatenate(ys))


def _read_names(data_dir: Path, name: str, key: bytes, num_classes: int) -> tuple[str, ...]:
    names = _unpickle(data_dir, name, (key,))[key]
    if not isinstance(names, list) or len(names) != num_classes:
        raise corrupt(data_dir / name, f"expected {num_classes} class names")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
