"""Food-101 in torchvision's layout: food-101/images/<class>/<id>.jpg with the split in
food-101/meta/train.json and test.json ({class: ["<class>/<id>", ...]}): 101 classes, 75,750 training
and 25,250 test images. Classes are sorted by name; images keep the order of the JSON files, as in
torchvision's Food101. Decoded once for the 224-px recipes (benchmark.data.photos)."""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from benchmark.data.files import check_downloaded, corrupt, not_found
from benchmark.data.imageset import ImageSet
from benchmark.data.photos import PhotoSource, files_fingerprint, load_photos

FOOD_DIR = "food-101"
FOOD_SIZE = 224
GET = ("download http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz (MD5 85eeb15f3717b99a5da872d97d918f87) and "
       "unpack it into the data directory")


def load_food101(data_dir: Path, download: bool) -> ImageSet:
    check_downloaded(download, "Food-101", GET)
    return load_photos(source(data_dir), FOOD_SIZE)


def source(data_dir: Path) -> PhotoSource:
    root = data_dir / FOOD_DIR
    splits = {split: read_split(data_dir, f"{FOOD_DIR}/meta/{split}.json") for split in ("train", "test")}
    classes = tuple(sorted(splits["train"]))
    if sorted(splits["test"]) != list(classes):
        raise corrupt(root / "meta" / "test.json", "its classes are not those of train.json")
    files, labels = {}, {}
    for split, listed in splits.items():
        files[split] = [root / "images" / f"{item}.jpg" for items in listed.values() for item in items]
        labels[split] = [classes.index(name) for name, items in listed.items() for _ in items]
        for f in files[split]:
            if not f.is_file():
                raise not_found(data_dir, f.relative_to(data_dir).as_posix(), GET)
    every = [root / "meta" / "train.json", root / "meta" / "test.json", *files["train"], *files["test"]]
    return PhotoSource("Food-101", "food101", classes, tuple(files["train"]), tuple(labels["train"]),
                       tuple(files["test"]), tuple(labels["test"]), files_fingerprint(data_dir, every))


def read_split(data_dir: Path, name: str) -> dict[str, list[str]]:
    """{class: ["class/id", ...]} of a meta file, checked: every entry a file name in its class's folder."""
    path = data_dir / name
    if not path.is_file():
        raise not_found(data_dir, name, GET)
    try:
        listed = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise corrupt(path, f"not JSON: {e}") from None
    if not isinstance(listed, dict) or not listed:
        raise corrupt(path, "expected a JSON object of classes")
    for cls, items in listed.items():
        if not isinstance(items, list) or not all(isinstance(i, str) and safe_entry(i, cls) for i in items):
            raise corrupt(path, f"class {cls!r}: expected a list of '{cls}/<id>' entries")
    return listed


def safe_entry(item: str, cls: str) -> bool:
    parts = PurePosixPath(item).parts
    return len(parts) == 2 and parts[0] == cls and parts[1] not in ("", ".", "..")
