"""Caltech-256 with the SynerMix code's split: 256_ObjectCategories/<nnn.name>/<nnn>_<xxxx>.jpg (or
under caltech256/, torchvision's root), 257 categories with the clutter class; per category, in
torchvision's order (<nnn>_0001.jpg, <nnn>_0002.jpg, ...), the first 60 images train and the next 20
test (15,420 / 5,140). Decoded once for the 224-px recipes (benchmark.data.photos)."""
from __future__ import annotations

from pathlib import Path

from benchmark.data.files import check_downloaded, not_found
from benchmark.data.imageset import ImageSet
from benchmark.data.photos import PhotoSource, files_fingerprint, load_photos
from benchmark.errors import UserError

CALTECH_DIRS = ("256_ObjectCategories", "caltech256/256_ObjectCategories")
CALTECH_SIZE = 224
TRAIN_PER_CLASS, TEST_PER_CLASS = 60, 20
GET = ("download https://data.caltech.edu/records/nyy15-4j048/files/256_ObjectCategories.tar "
       "(MD5 67b4f42ca05d46448c6bb8ecd2220f6d) and unpack it into the data directory")


def load_caltech256(data_dir: Path, download: bool) -> ImageSet:
    check_downloaded(download, "Caltech-256", GET)
    return load_photos(source(data_dir), CALTECH_SIZE)


def source(data_dir: Path) -> PhotoSource:
    root = next((data_dir / d for d in CALTECH_DIRS if (data_dir / d).is_dir()), None)
    if root is None:
        raise not_found(data_dir, f"{CALTECH_DIRS[0]}/ (or {CALTECH_DIRS[1]}/)", GET)
    categories = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not categories:
        raise not_found(data_dir, f"{root.relative_to(data_dir)}/<nnn.name>/", GET)
    train, test = [], []
    for category in categories:
        files = [root / category / f"{category[:3]}_{i:04d}.jpg" for i in range(1, TRAIN_PER_CLASS + TEST_PER_CLASS + 1)]
        missing = next((f for f in files if not f.is_file()), None)
        if missing is not None:
            raise UserError(f"Caltech-256 category {root / category} has no {missing.name}: the split takes its images "
                            f"{category[:3]}_0001.jpg to _{TRAIN_PER_CLASS + TEST_PER_CLASS:04d}.jpg; {GET}")
        train.append(files[:TRAIN_PER_CLASS])
        test.append(files[TRAIN_PER_CLASS:])
    classes = tuple(c.split(".", 1)[-1] for c in categories)
    every = [f for files in (*train, *test) for f in files]
    return PhotoSource("Caltech-256", "caltech256", classes, tuple(f for files in train for f in files),
                       tuple(c for c, files in enumerate(train) for _ in files), tuple(f for files in test for f in files),
                       tuple(c for c, files in enumerate(test) for _ in files), files_fingerprint(data_dir, every))
