"""The files of a `folder:PATH` dataset, without reading an image: its classes, its train/test
split, its shape and a fingerprint of its contents. Torch-free and numpy-free until the split is
drawn, so that the planning commands (status, the dry run) know a folder's classes and pool size
at once. The images themselves are read by benchmark.data.folder.

Two layouts:
- PATH/train/<class>/* and PATH/test/<class>/*, with the same class folders in both: used as given.
- PATH/<class>/*: each class is split deterministically. Its file names are sorted, one
  `np.random.default_rng(0)` (used class after class, classes in sorted order) permutes them, and the
  first 20% of the permutation (at least 1 image) is the test set, the rest the training pool.
  Every class needs at least 2 images.
Class names are the sorted subfolder names; label i is the i-th of them. Hidden files and folders
(a leading dot) are ignored; any other file must be an image (IMAGE_SUFFIXES, any case) and a
regular file (or a link to one: not a FIFO, which would block its reader), and every name UTF-8
text (the names go into manifests, subset files and fingerprints).

The fingerprint is the SHA-1 of every file's path (relative to PATH) and contents: a file added,
removed, renamed or modified changes it.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from benchmark.errors import UserError
from benchmark.stored import file_kind

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
TEST_FRACTION = 5  # one in five images of a class to the test set (at least 1)


@dataclass(frozen=True)
class FolderIndex:
    root: Path
    classes: tuple[str, ...]
    given_split: bool  # PATH/train and PATH/test
    files: tuple[tuple[Path, ...], ...]  # per class (split layout) or per class of train/ (given split)
    test_files: tuple[tuple[Path, ...], ...] = ()  # per class of test/ (given split)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def train_size(self) -> int:
        """The training pool's images (the split's sizes are known before it is drawn)."""
        if self.given_split:
            return sum(len(f) for f in self.files)
        return sum(len(f) - test_count(len(f)) for f in self.files)

    @cached_property
    def split(self) -> tuple[tuple[tuple[Path, ...], ...], tuple[tuple[Path, ...], ...]]:
        """(training files per class, test files per class)."""
        if self.given_split:
            return self.files, self.test_files
        import numpy as np
        rng = np.random.default_rng(0)
        train, test = [], []
        for files in self.files:
            is_test = np.zeros(len(files), dtype=bool)
            is_test[rng.permutation(len(files))[:test_count(len(files))]] = True
            train.append(tuple(f for f, t in zip(files, is_test) if not t))
            test.append(tuple(f for f, t in zip(files, is_test) if t))
        return tuple(train), tuple(test)

    def train_ids(self) -> tuple[str, ...]:
        """How others find each training image (in the order of the loaded pool): its path relative to PATH."""
        return tuple(relative(f, self.root) for files in self.split[0] for f in files)

    def contents(self) -> dict[str, str]:
        """{path relative to PATH: SHA-1 of the file}, every image of the folder."""
        every = [f for group in (*self.files, *self.test_files) for f in group]
        return {relative(f, self.root): hashlib.sha1(f.read_bytes()).hexdigest() for f in sorted(every)}

    @cached_property
    def fingerprint(self) -> str:
        text = "\n".join(f"{path}\t{digest}" for path, digest in self.contents().items())
        return hashlib.sha1(text.encode()).hexdigest()[:16]


def test_count(n: int) -> int:
    return max(1, n // TEST_FRACTION)


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def scan_folder(root: Path) -> FolderIndex:
    """The folder's classes and image files; a UserError naming the folder or file at fault."""
    if not root.is_dir():
        raise UserError(f"dataset folder {root} not found; use folder:PATH with a directory of class folders")
    train_dir, test_dir = root / "train", root / "test"
    if train_dir.is_dir() != test_dir.is_dir():
        raise UserError(f"{root} has only one of train/ and test/; give it both, or put the class folders in {root}")
    if train_dir.is_dir():
        classes = class_names(train_dir)
        check_classes(train_dir, classes)
        test_classes = class_names(test_dir)
        if classes != test_classes:
            only_train = ", ".join(sorted(set(classes) - set(test_classes))) or "-"
            only_test = ", ".join(sorted(set(test_classes) - set(classes))) or "-"
            raise UserError(f"class folders of {train_dir} and {test_dir} differ (only in train: {only_train}; "
                            f"only in test: {only_test}); use the same class folders in both")
        return FolderIndex(root, tuple(classes), True, tuple(image_files(train_dir / c) for c in classes),
                           tuple(image_files(test_dir / c) for c in classes))
    classes = class_names(root)
    check_classes(root, classes)
    files = tuple(image_files(root / name) for name in classes)
    for name, group in zip(classes, files):
        if len(group) < 2:
            raise UserError(f"class folder {root / name} has 1 image; a train/test split needs at least 2")
    return FolderIndex(root, tuple(classes), False, files)


def class_names(directory: Path) -> list[str]:
    names = sorted(utf8_name(p) for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise UserError(f"{directory} has no class folders; put the images of each class in a subfolder, "
                        f"e.g. {directory / 'cat'}")
    return names


def check_classes(directory: Path, classes: list[str]) -> None:
    if len(classes) < 2:
        raise UserError(f"{directory} has one class folder ({classes[0]}); a classifier needs at least 2 classes: add "
                        "a class folder beside it")


def utf8_name(path: Path) -> str:
    """The file's name; a UserError if it is not UTF-8 text (bytes Python holds as surrogates)."""
    try:
        path.name.encode()
    except UnicodeEncodeError:
        shown = ascii(os.fsencode(path.name))[2:-1]  # caf\xe9.png
        raise UserError(f"{path.parent} holds a file or folder whose name is not UTF-8 text ({shown}); "
                        "rename it") from None
    return path.name


def image_files(directory: Path) -> tuple[Path, ...]:
    entries = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
    for p in entries:
        utf8_name(p)
        if p.is_dir():
            raise UserError(f"{p} is a folder inside class folder {directory}; put every image of a class directly "
                            "in its class folder")
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            raise UserError(f"{p} is not an image (images end in {', '.join(IMAGE_SUFFIXES)}); move it out of "
                            f"{directory}")
        if not p.is_file():
            try:
                kind = file_kind(p.stat().st_mode)
            except OSError:
                kind = "a link to nothing"
            raise UserError(f"{p} is not a regular file ({kind}); put only image files in {directory}")
    if not entries:
        raise UserError(f"class folder {directory} has no images ({', '.join(IMAGE_SUFFIXES)}); add some or remove it")
    return tuple(entries)
