"""Oxford-IIIT Pet in torchvision's layout: oxford-iiit-pet/images/<id>.jpg, with the split in
oxford-iiit-pet/annotations/trainval.txt and test.txt (lines "<id> <class 1-37> <species> <breed>"):
37 breeds, 3,680 trainval and 3,669 test images. Class names as torchvision's (from the ids:
"american_bulldog" -> "American Bulldog"); images keep the order of the files. Decoded once for the
224-px recipes (benchmark.data.photos)."""
from __future__ import annotations

import re
from pathlib import Path

from benchmark.data.files import check_downloaded, corrupt, not_found
from benchmark.data.imageset import ImageSet
from benchmark.data.photos import PhotoSource, files_fingerprint, load_photos

PET_DIR = "oxford-iiit-pet"
PET_SIZE = 224
GET = ("download https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz (MD5 5c4f3ee8e5d25df40f4fd59a7f44e54c) "
       "and annotations.tar.gz (MD5 95a8c909bbe2e81eed6a22bccdf3f68f) beside it and unpack both into "
       f"<data directory>/{PET_DIR}")
LINE = re.compile(r"([A-Za-z0-9_-]+)_\d+ ([1-9]\d*) [12] \d+")


def load_oxford_pet(data_dir: Path, download: bool) -> ImageSet:
    check_downloaded(download, "Oxford-IIIT Pet", GET)
    return load_photos(source(data_dir), PET_SIZE)


def source(data_dir: Path) -> PhotoSource:
    root = data_dir / PET_DIR
    splits = {split: read_split(data_dir, f"{PET_DIR}/annotations/{split}.txt") for split in ("trainval", "test")}
    names: dict[int, str] = {}
    for image_id, label in (*splits["trainval"], *splits["test"]):
        breed = " ".join(part.title() for part in image_id.rsplit("_", 1)[0].split("_"))
        if names.setdefault(label, breed) != breed:
            raise corrupt(root / "annotations", f"class {label + 1} names both {names[label]} and {breed}")
    if sorted(names) != list(range(len(names))):
        raise corrupt(root / "annotations", f"class numbers are not 1 to {len(names)}")
    files = {split: [root / "images" / f"{image_id}.jpg" for image_id, _ in rows] for split, rows in splits.items()}
    for f in (*files["trainval"], *files["test"]):
        if not f.is_file():
            raise not_found(data_dir, f.relative_to(data_dir).as_posix(), GET)
    every = [root / "annotations" / "trainval.txt", root / "annotations" / "test.txt", *files["trainval"],
             *files["test"]]
    return PhotoSource("Oxford-IIIT Pet", "oxford_pet", tuple(names[i] for i in range(len(names))),
                       tuple(files["trainval"]), tuple(label for _, label in splits["trainval"]),
                       tuple(files["test"]), tuple(label for _, label in splits["test"]), files_fingerprint(data_dir, every))


def read_split(data_dir: Path, name: str) -> list[tuple[str, int]]:
    """(image id, label from 0) of each line of an annotation file."""
    path = data_dir / name
    if not path.is_file():
        raise not_found(data_dir, name, GET)
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = LINE.fullmatch(line.strip())
        if match is None:
            raise corrupt(path, f"line {number} is not '<id> <class> <species> <breed>'")
        image_id = line.split()[0]
        rows.append((image_id, int(match.group(2)) - 1))
    if not rows:
        raise corrupt(path, "no images listed")
    return rows
