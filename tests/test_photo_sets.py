"""The SynerMix datasets on small files written in their real on-disk formats (torchvision's layouts of
Food-101, Oxford-IIIT Pet and Caltech-256; MLclf's miniImageNet pickles and the CSV image folder), the
array files they are decoded into, and the restricted unpickler (no network)."""
from __future__ import annotations

import io
import json
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import functional as TF

from benchmark import safe_pickle
from benchmark.data import caltech256, load_dataset
from benchmark.data.arrays import open_array, write_array
from benchmark.data.photos import stored_size
from benchmark.errors import UserError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_CACHE_DIR", str(tmp_path / "cache"))


def jpeg(path: Path, seed: int, size: tuple[int, int] = (40, 30)) -> Path:
    """A JPEG of `size` (width, height): a colour gradient with noise, different per seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = np.stack(np.meshgrid(np.linspace(0, 255, w), np.linspace(0, 255, h)), -1).sum(-1) / 2
    pixels = (base[..., None] * rng.uniform(0.3, 1, 3) + rng.integers(0, 40, (h, w, 3))).clip(0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=90)
    return path


def write_food101(root: Path) -> None:
    split = {"train": {"ramen": ["ramen/1", "ramen/2", "ramen/3"], "apple_pie": ["apple_pie/7", "apple_pie/8"]},
             "test": {"ramen": ["ramen/4"], "apple_pie": ["apple_pie/9", "apple_pie/10"]}}
    for part in split.values():
        for cls, items in part.items():
            for item in items:
                jpeg(root / "food-101" / "images" / f"{item}.jpg", hash(item) % 1000, (40 + len(item), 30))
    (root / "food-101" / "meta").mkdir(parents=True)
    for name, part in split.items():
        (root / "food-101" / "meta" / f"{name}.json").write_text(json.dumps(part))


def test_food101_reads_torchvisions_layout_and_stores_the_test_view(tmp_path):
    write_food101(tmp_path)
    data = load_dataset("food101", tmp_path)
    assert data.classes == ("apple_pie", "ramen")
    assert data.train_y.tolist() == [1, 1, 1, 0, 0] and data.test_y.tolist() == [1, 0, 0]  # the JSON order
    assert data.train_x.shape == (5, 3, 256, 256) and data.test_x.shape == (3, 3, 224, 224)
    assert data.image_size == 224 and data.train_x.dtype == torch.uint8
    assert data.train_sizes[0].tolist() == [30, 47]  # (height, width) of ramen/1.jpg
    original = Image.open(tmp_path / "food-101/images/apple_pie/9.jpg").convert("RGB")
    view = np.asarray(TF.center_crop(TF.resize(original, 256), 224)).transpose(2, 0, 1)
    assert np.array_equal(data.test_x[1].numpy(), view)  # torchvision's Resize(256) + CenterCrop(224), exactly
    squashed = np.asarray(original.resize((256, 256), Image.Resampling.BILINEAR)).transpose(2, 0, 1)
    assert np.array_equal(load_dataset("food101", tmp_path).train_x[4].numpy(),
                          np.asarray(Image.open(tmp_path / "food-101/images/apple_pie/8.jpg").convert("RGB")
                                     .resize((256, 256), Image.Resampling.BILINEAR)).transpose(2, 0, 1))
    assert squashed.shape == (3, 256, 256)


def test_a_changed_source_is_decoded_again_and_a_damaged_cache_rebuilt(tmp_path):
    write_food101(tmp_path)
    first = load_dataset("food101", tmp_path)
    jpeg(tmp_path / "food-101/images/ramen/1.jpg", 99, (60, 50))  # the same file, new contents
    second = load_dataset("food101", tmp_path)
    assert second.train_sizes[0].tolist() == [50, 60] and first.train_file.path != second.train_file.path
    pixels = second.train_file.read(range(5))
    with open(second.train_file.path, "r+b") as f:
        f.truncate(1000)
    with pytest.raises(OSError, match="ended before row 4"):
        second.train_file.read([4])
    third = load_dataset("food101", tmp_path)
    assert np.array_equal(third.train_file.read(range(5)), pixels)
    assert third.train_file.path.stat().st_size == third.train_file.offset + 5 * 3 * 256 * 256


def test_missing_and_corrupt_files_are_one_line_naming_them(tmp_path):
    with pytest.raises(UserError, match=r"food-101/meta/train.json not found in .*food-101.tar.gz"):
        load_dataset("food101", tmp_path)
    write_food101(tmp_path)
    (tmp_path / "food-101/images/ramen/2.jpg").unlink()
    with pytest.raises(UserError, match="food-101/images/ramen/2.jpg not found"):
        load_dataset("food101", tmp_path)
    (tmp_path / "food-101/meta/train.json").write_text(json.dumps({"ramen": ["../../../etc/passwd"]}))
    with pytest.raises(UserError, match="train.json is corrupt"):
        load_dataset("food101", tmp_path)
    with pytest.raises(UserError, match="--download does not fetch Oxford-IIIT Pet"):
        load_dataset("oxford_pet", tmp_path, download=True)


def write_pets(root: Path) -> None:
    base = root / "oxford-iiit-pet"
    lines = {"trainval": ["Abyssinian_1 1 1 1", "american_bulldog_2 2 2 1", "Abyssinian_3 1 1 1"],
             "test": ["american_bulldog_4 2 2 1", "Abyssinian_5 1 1 1"]}
    (base / "annotations").mkdir(parents=True)
    for split, rows in lines.items():
        (base / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
        for i, row in enumerate(rows):
            jpeg(base / "images" / f"{row.split()[0]}.jpg", i, (50, 36))


def test_oxford_pet_reads_the_annotations_like_torchvision(tmp_path):
    write_pets(tmp_path)
    data = load_dataset("oxford_pet", tmp_path)
    assert data.classes == ("Abyssinian", "American Bulldog")
    assert data.train_y.tolist() == [0, 1, 0] and data.test_y.tolist() == [1, 0]
    assert data.train_x.shape == (3, 3, 256, 256) and data.test_x.shape == (2, 3, 224, 224)
    (tmp_path / "oxford-iiit-pet/annotations/test.txt").write_text("Abyssinian_5 one 1 1\n")
    with pytest.raises(UserError, match="test.txt is corrupt .*line 1"):
        load_dataset("oxford_pet", tmp_path)


def write_caltech(root: Path, per_class: int) -> None:
    for c, name in enumerate(["001.ak47", "002.american-flag", "257.clutter"]):
        for i in range(1, per_class + 1):
            jpeg(root / "256_ObjectCategories" / name / f"{name[:3]}_{i:04d}.jpg", 10 * c + i)
    (root / "256_ObjectCategories" / "001.ak47" / "notes.txt").write_text("not an image")


def test_caltech256_splits_each_category_in_torchvisions_order(tmp_path, monkeypatch):
    monkeypatch.setattr(caltech256, "TRAIN_PER_CLASS", 3)
    monkeypatch.setattr(caltech256, "TEST_PER_CLASS", 2)
    write_caltech(tmp_path, 6)
    data = load_dataset("caltech256", tmp_path)
    assert data.classes == ("ak47", "american-flag", "clutter")
    assert data.train_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2] and data.test_y.tolist() == [0, 0, 1, 1, 2, 2]
    first_test = Image.open(tmp_path / "256_ObjectCategories/002.american-flag/002_0004.jpg").convert("RGB")
    assert np.array_equal(data.test_x[2].numpy(),
                          np.asarray(TF.center_crop(TF.resize(first_test, 256), 224)).transpose(2, 0, 1))
    (tmp_path / "256_ObjectCategories/257.clutter/257_0005.jpg").unlink()
    with pytest.raises(UserError, match="257.clutter has no 257_0005.jpg"):
        load_dataset("caltech256", tmp_path)


def mini_parts(seed: int = 0) -> list[dict]:
    """Three cache pickles' contents: 2 + 1 + 1 classes of 5 images, class by class as published."""
    rng = np.random.default_rng(seed)
    parts, wnid = [], 0
    for classes in (2, 1, 1):
        images = rng.integers(0, 256, (5 * classes, 84, 84, 3), dtype=np.uint8)
        class_dict = {f"n{wnid + c:08d}": list(range(5 * c, 5 * c + 5)) for c in range(classes)}
        wnid += classes
        parts.append({"image_data": images, "class_dict": class_dict})
    return parts


def write_mini_pickles(root: Path, parts: list[dict], protocol: int = 4) -> None:
    (root / "miniimagenet").mkdir(parents=True, exist_ok=True)
    for name, part in zip(("train", "val", "test"), parts):
        (root / "miniimagenet" / f"mini-imagenet-cache-{name}.pkl").write_bytes(pickle.dumps(part, protocol=protocol))


def mlclf_split(parts: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MLclf's miniimagenet_clf_dataset(ratio_train=0.8, ratio_val=0.0, seed_value=100, shuffle=True), as coded."""
    random.seed(100)
    images = np.concatenate([p["image_data"] for p in parts])
    labels = np.repeat(np.arange(4), 5)
    pairs = list(zip(images, labels))
    random.shuffle(pairs)
    images, labels = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    cut = int(np.floor(len(labels) * 0.8))
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


@pytest.mark.parametrize("protocol", [2, 5])
def test_miniimagenet_pickles_split_as_mlclf_splits_them(tmp_path, protocol):
    parts = mini_parts()
    write_mini_pickles(tmp_path, parts, protocol)
    data = load_dataset("miniimagenet", tmp_path)
    train_x, train_y, test_x, test_y = mlclf_split(parts)
    assert data.classes == ("n00000000", "n00000001", "n00000002", "n00000003")
    assert data.train_y.tolist() == train_y.tolist() and data.test_y.tolist() == test_y.tolist()
    assert np.array_equal(data.train_x.numpy(), train_x.transpose(0, 3, 1, 2))
    assert np.array_equal(data.test_x.numpy(), test_x.transpose(0, 3, 1, 2))
    assert data.image_size == 84 and len(data.train_y) == 16


def test_miniimagenet_image_folder_gives_the_pickles_split(tmp_path):
    parts = mini_parts(1)
    root = tmp_path / "miniimagenet"
    for name, part in zip(("train", "val", "test"), parts):
        rows = ["filename,label"]
        for wnid, indices in part["class_dict"].items():
            for i in indices:
                Image.fromarray(part["image_data"][i]).save(root / "images" / f"{wnid}{i:08d}.png"
                                                            if (root / "images").is_dir() else _mkdir(root / "images")
                                                            / f"{wnid}{i:08d}.png")
                rows.append(f"{wnid}{i:08d}.png,{wnid}")
        (root / f"{name}.csv").write_text("\n".join(rows) + "\n")
    data = load_dataset("miniimagenet", tmp_path)
    train_x, train_y, _, test_y = mlclf_split(parts)
    assert data.train_y.tolist() == train_y.tolist() and data.test_y.tolist() == test_y.tolist()
    assert np.array_equal(data.train_x.numpy(), train_x.transpose(0, 3, 1, 2))


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


class Marker:
    """Unpickles into a call that creates a marker file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_crafted_miniimagenet_pickle_is_refused_with_one_line_and_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    parts = mini_parts()
    parts[1]["class_dict"] = Marker(marker)
    write_mini_pickles(tmp_path, parts)
    env = {**os.environ, "BENCHMARK_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "benchmark", "run", "--datasets", "miniimagenet", "--methods", "baseline",
                          "--shots", "5", "--seeds", "0", "--profile", "quick", "--executor", "debug",
                          "--results-dir", str(tmp_path / "results")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "mini-imagenet-cache-val.pkl cannot be unpickled safely (refused to load posix.system" in lines[0], out.stderr
    assert not marker.exists()


def test_safe_pickle_loads_arrays_and_containers_only():
    value = {"a": np.arange(6, dtype=np.int16).reshape(2, 3), "b": [1.5, "x", b"y", (np.float32(2.0),)], "c": {1, 2}}
    for protocol in range(2, 6):
        loaded = safe_pickle.load(io.BytesIO(pickle.dumps(value, protocol=protocol)))
        assert np.array_equal(loaded["a"], value["a"]) and loaded["a"].dtype == np.int16
        assert loaded["b"] == value["b"] and loaded["c"] == {1, 2}
    for evil in (Marker(Path("/nonexistent/x")), np.array([Marker(Path("/nonexistent/y"))], dtype=object),
                 torch.zeros(2)):
        with pytest.raises(safe_pickle.UnsafePickle):
            safe_pickle.load(io.BytesIO(pickle.dumps(evil)))


def test_array_files_are_read_only_when_regular_and_of_their_shape(tmp_path):
    values = np.arange(24, dtype=np.uint8).reshape(2, 3, 2, 2)
    array = write_array(tmp_path / "a.npy", values)
    assert np.array_equal(array.read([1, 0]), values[[1, 0]]) and np.array_equal(np.load(array.path), values)
    assert open_array(array.path, "uint8", (2, 3, 2, 2)) is not None
    assert open_array(array.path, "uint8", (3, 3, 2, 2)) is None and open_array(array.path, "int32", (2, 3, 2, 2)) is None
    (tmp_path / "link.npy").symlink_to(array.path)
    assert open_array(tmp_path / "link.npy", "uint8", (2, 3, 2, 2)) is None
    target = tmp_path / "elsewhere.npy"
    target.write_bytes(b"keep")
    (tmp_path / "planted.npy").symlink_to(target)
    write_array(tmp_path / "planted.npy", values)  # replaces the link, writes nothing through it
    assert target.read_bytes() == b"keep" and not (tmp_path / "planted.npy").is_symlink()


def test_the_stored_size_keeps_torchvisions_resize_to_crop_ratio():
    assert stored_size(224) == 256 and stored_size(160) == 183 and stored_size(512) == 585
