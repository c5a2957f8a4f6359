"""The dataset layer on tiny files written in the real on-disk formats (no network)."""

import hashlib
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.data import (
    DATASETS,
    cached_dataset,
    check_dataset_name,
    dataset_label,
    dataset_names,
    default_data_dir,
    load_dataset,
    subsample,
)
from benchmark.data import files
from benchmark.data.files import Archive, DataFile
from benchmark.data import FOLDER_IMAGE_SIZE
from benchmark.errors import UserError

PER_BATCH = 20


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def pin(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    """Point the checksum table at the tiny files under data_dir."""
    for name, entry in files.FILES.items():
        if (data_dir / name).is_file():
            monkeypatch.setitem(files.FILES, name, DataFile(md5(data_dir / name), entry.archive))


def write_pickle(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(content))


def batch(rng: np.random.Generator, n: int, num_classes: int, labels_key: bytes) -> dict:
    return {
        b"batch_label": b"tiny batch",
        labels_key: [i % num_classes for i in range(n)],
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"filenames": [b"x.png"] * n,
    }


def write_cifar(data_dir: Path) -> None:
    rng = np.random.default_rng(1)
    c10 = data_dir / "cifar-10-batches-py"
    for i in range(1, 6):
        write_pickle(c10 / f"data_batch_{i}", batch(rng, PER_BATCH, 10, b"labels"))
    write_pickle(c10 / "test_batch", batch(rng, PER_BATCH, 10, b"labels"))
    write_pickle(c10 / "batches.meta", {b"label_names": [f"c10-{i}".encode() for i in range(10)]})
    write_pickle(data_dir / "ciFAIR-10" / "test_batch", batch(rng, 10, 10, b"labels"))
    c100 = data_dir / "cifar-100-python"
    write_pickle(c100 / "train", batch(rng, 200, 100, b"fine_labels"))
    write_pickle(c100 / "test", batch(rng, 100, 100, b"fine_labels"))
    write_pickle(c100 / "meta", {b"fine_label_names": [f"c100-{i}".encode() for i in range(100)]})
    write_pickle(data_dir / "ciFAIR-100" / "test", batch(rng, 100, 100, b"fine_labels"))


def read_pickle(path: Path) -> dict:
    return pickle.loads(path.read_bytes(), encoding="bytes")


@pytest.fixture
def cifar_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_cifar(tmp_path)
    pin(monkeypatch, tmp_path)
    return tmp_path


def test_cifar10_reads_batches_in_order(cifar_dir: Path) -> None:
    ds = load_dataset("cifar10", cifar_dir)
    assert ds.name == "CIFAR-10"
    assert ds.train_x.shape == (5 * PER_BATCH, 3, 32, 32) and ds.train_x.dtype == torch.uint8
    assert ds.test_x.shape == (PER_BATCH, 3, 32, 32)
    assert ds.train_y.dtype == torch.int64 and ds.test_y.dtype == torch.int64
    assert ds.classes == tuple(f"c10-{i}" for i in range(10))
    assert ds.num_classes == 10 and ds.image_size == 32
    batch2 = read_pickle(cifar_dir / "cifar-10-batches-py" / "data_batch_2")
    row = torch.from_numpy(batch2[b"data"][3])
    # A CIFAR row is 1024 red, then 1024 green, then 1024 blue values, each row-major.
    assert torch.equal(ds.train_x[PER_BATCH + 3, 1, 2, 5], row[1024 + 2 * 32 + 5])
    assert torch.equal(ds.train_x[PER_BATCH + 3].flatten(), row)
    assert ds.train_y[PER_BATCH:2 * PER_BATCH].tolist() == batch2[b"labels"]


def test_cifair_uses_cifar_train_and_cifair_test(cifar_dir: Path) -> None:
    cifar, cifair = load_dataset("cifar10", cifar_dir), load_dataset("cifair10", cifar_dir)
    assert cifair.name == "ciFAIR-10"
    assert torch.equal(cifair.train_x, cifar.train_x)
    cifair_test = read_pickle(cifar_dir / "ciFAIR-10" / "test_batch")
    assert torch.equal(cifair.test_x.reshape(10, -1), torch.from_numpy(cifair_test[b"data"]))
    assert cifair.test_y.tolist() == cifair_test[b"labels"]


def test_cifar100_and_cifair100_use_fine_labels(cifar_dir: Path) -> None:
    for name, label, test_file in [
        ("cifar100", "CIFAR-100", "cifar-100-python/test"),
        ("cifair100", "ciFAIR-100", "ciFAIR-100/test"),
    ]:
        ds = load_dataset(name, cifar_dir)
        assert ds.name == label and ds.num_classes == 100 and ds.classes[99] == "c100-99"
        assert ds.train_x.shape == (200, 3, 32, 32) and ds.test_x.shape == (100, 3, 32, 32)
        assert ds.train_y.tolist() == [i % 100 for i in range(200)]
        expected = torch.from_numpy(read_pickle(cifar_dir / test_file)[b"data"])
        assert torch.equal(ds.test_x.reshape(100, -1), expected)


def test_corrupt_file_is_named(cifar_dir: Path) -> None:
    path = cifar_dir / "cifar-10-batches-py" / "data_batch_3"
    content = bytearray(path.read_bytes())
    content[100] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(UserError, match="corrupt") as info:
        load_dataset("cifar10", cifar_dir)
    message = str(info.value)
    assert str(path) in message and "md5" in message and "--download" in message
    assert "\n" not in message


def test_bad_content_with_matching_checksum_is_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cifar(tmp_path)
    path = tmp_path / "ciFAIR-10" / "test_batch"
    write_pickle(path, {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 10]})
    pin(monkeypatch, tmp_path)
    with pytest.raises(UserError, match=f"{path} is corrupt .*labels in 0..9"):
        load_dataset("cifair10", tmp_path)


def test_missing_file_names_file_directory_and_download(cifar_dir: Path) -> None:
    (cifar_dir / "ciFAIR-10" / "test_batch").unlink()
    with pytest.raises(UserError) as info:
        load_dataset("cifair10", cifar_dir)
    message = str(info.value)
    assert "ciFAIR-10/test_batch" in message and str(cifar_dir) in message
    assert "--download" in message and files.ARCHIVES["cifair10"].url in message


def test_empty_data_dir_reports_missing(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"stl10_binary/train_X.bin \(and 3 more\) not found in"):
        load_dataset("stl10", tmp_path / "nothing-here")


def test_every_load_hashes_the_bytes_it_parses(cifar_dir: Path) -> None:
    """No sidecar stands in for the hash: a file changed after a load that found it intact (its size
    and mtime kept) is found corrupt by the next load."""
    load_dataset("cifar10", cifar_dir)
    assert not list(cifar_dir.rglob("*.md5ok"))
    path = cifar_dir / "cifar-10-batches-py" / "data_batch_1"
    st = path.stat()
    content = bytearray(path.read_bytes())
    content[-10] ^= 0xFF
    path.write_bytes(bytes(content))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(UserError, match=f"{path} is corrupt .md5"):
        load_dataset("cifar10", cifar_dir)


def make_archive(path: Path, source: Path, names: list[str]) -> None:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as zf:
            for name in names:
                zf.write(source / name, name)
    else:
        with tarfile.open(path, "w:gz") as tf:
            for name in names:
                tf.add(source / name, name)


def serve_archives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Tiny CIFAR-10 and ciFAIR-10 archives behind file:// URLs; returns an empty data directory."""
    source = tmp_path / "source"
    write_cifar(source)
    pin(monkeypatch, source)
    server = tmp_path / "server"
    server.mkdir()
    for key, archive_name in [("cifar10", "cifar-10-python.tar.gz"), ("cifair10", "ciFAIR-10.zip")]:
        names = [name for name, entry in files.FILES.items() if entry.archive == key]
        make_archive(server / archive_name, source, names)
        url = (server / archive_name).as_uri()
        monkeypatch.setitem(files.ARCHIVES, key, Archive(url, md5(server / archive_name)))
    return tmp_path / "data"


def test_download_fetches_checks_and_unpacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = serve_archives(monkeypatch, tmp_path)
    with pytest.raises(UserError, match="--download"):
        load_dataset("cifair10", data_dir)
    ds = load_dataset("cifair10", data_dir, download=True)
    assert ds.train_x.shape == (5 * PER_BATCH, 3, 32, 32) and ds.test_x.shape == (10, 3, 32, 32)
    expected = torch.from_numpy(read_pickle(tmp_path / "source" / "ciFAIR-10" / "test_batch")[b"data"])
    assert torch.equal(ds.test_x.reshape(10, -1), expected)
    assert (data_dir / "ciFAIR-10" / "test_batch").is_file()
    assert not list(data_dir.glob("*.part")) and not list(data_dir.glob("*.zip"))
    assert not list(data_dir.glob("*.tar.gz"))


def test_download_rejects_corrupt_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = serve_archives(monkeypatch, tmp_path)
    url = files.ARCHIVES["cifar10"].url
    monkeypatch.setitem(files.ARCHIVES, "cifar10", Archive(url, "0" * 32))
    with pytest.raises(UserError, match=f"downloaded {url} is corrupt .*expected 0{{32}}"):
        load_dataset("cifar10", data_dir, download=True)
    assert not (data_dir / "cifar-10-batches-py").exists()


def test_download_failure_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = (tmp_path / "absent" / "cifar-10-python.tar.gz").as_uri()
    monkeypatch.setitem(files.ARCHIVES, "cifar10", Archive(url, "0" * 32))
    with pytest.raises(UserError, match=f"cannot download {url}"):
        load_dataset("cifar10", tmp_path / "data", download=True)


def stl_bytes(images: np.ndarray) -> bytes:
    """STL-10 layout: every channel of every image stored column-major."""
    return np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes()


def test_stl10_reads_column_major_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stl = tmp_path / "stl10_binary"
    stl.mkdir()
    train = np.zeros((3, 3, 96, 96), np.uint8)
    train[1, 2, 3, 70] = 255  # image 1, blue channel, row 3, column 70
    train[2, 0, 90, 10] = 7
    raw = stl_bytes(train)
    assert raw[96 * 96 * 3 + 2 * 96 * 96 + 70 * 96 + 3] == 255  # the byte the format puts there
    (stl / "train_X.bin").write_bytes(raw)
    (stl / "train_y.bin").write_bytes(bytes([1, 10, 4]))
    rng = np.random.default_rng(0)
    test = rng.integers(0, 256, size=(2, 3, 96, 96), dtype=np.uint8)
    (stl / "test_X.bin").write_bytes(stl_bytes(test))
    (stl / "test_y.bin").write_bytes(bytes([2, 3]))
    (stl / "class_names.txt").write_text("airplane\n")
    pin(monkeypatch, tmp_path)

    ds = load_dataset("stl10", tmp_path)
    assert ds.name == "STL-10" and ds.image_size == 96 and ds.classes[0] == "airplane"
    assert ds.train_x.shape == (3, 3, 96, 96) and ds.train_x.is_contiguous()
    assert ds.train_x[1, 2, 3, 70] == 255 and ds.train_x[1, 2, 70, 3] == 0
    assert ds.train_x[2, 0, 90, 10] == 7 and int(ds.train_x.sum()) == 255 + 7
    assert ds.train_y.tolist() == [0, 9, 3] and ds.test_y.tolist() == [1, 2]
    assert torch.equal(ds.test_x, torch.from_numpy(test))


def test_digits_fixed_balanced_split() -> None:
    ds = load_dataset("digits", Path("unused"))
    assert ds.name == "digits" and ds.classes == tuple("0123456789")
    assert ds.train_x.shape == (1297, 3, 32, 32) and ds.test_x.shape == (500, 3, 32, 32)
    assert ds.train_x.dtype == torch.uint8 and int(ds.train_x.max()) == 255
    assert ds.test_y.bincount().tolist() == [50] * 10
    assert int(ds.train_y.bincount().min()) == 124
    assert torch.equal(ds.train_x[:, 0], ds.train_x[:, 2])
    again = load_dataset("digits", Path("unused"))
    assert torch.equal(again.test_x, ds.test_x) and torch.equal(again.train_y, ds.train_y)


COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def write_pngs(directory: Path, color: tuple[int, int, int], count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (40 + i, 20), color).save(directory / f"img{i}.png")


def test_folder_splits_each_class(tmp_path: Path) -> None:
    root = tmp_path / "mydata"
    for name, color, count in zip(["cat", "dog", "fox"], COLORS, [5, 10, 2]):
        write_pngs(root / name, color, count)
    (root / "cat" / ".DS_Store").write_text("hidden files are ignored")
    ds = load_dataset(f"folder:{root}", tmp_path)
    assert ds.name == "folder:mydata" and ds.classes == ("cat", "dog", "fox")
    assert ds.image_size == FOLDER_IMAGE_SIZE and ds.train_x.dtype == torch.uint8
    assert ds.test_y.bincount().tolist() == [1, 2, 1]
    assert ds.train_y.bincount().tolist() == [4, 8, 1]
    for x, y in [(ds.train_x, ds.train_y), (ds.test_x, ds.test_y)]:
        for image, label in zip(x, y):
            assert image[:, 5, 5].tolist() == list(COLORS[label])
    again = load_dataset(f"folder:{root}", tmp_path)
    assert torch.equal(again.test_x, ds.test_x)


def test_folder_uses_train_and_test_folders(tmp_path: Path) -> None:
    for split, count in [("train", 3), ("test", 2)]:
        for name, color in zip(["a", "b"], COLORS):
            write_pngs(tmp_path / split / name, color, count)
    ds = load_dataset(f"folder:{tmp_path}", tmp_path)
    assert ds.classes == ("a", "b")
    assert ds.train_y.tolist() == [0, 0, 0, 1, 1, 1] and ds.test_y.tolist() == [0, 0, 1, 1]
    assert ds.test_x.shape == (4, 3, FOLDER_IMAGE_SIZE, FOLDER_IMAGE_SIZE)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_dataset(f"folder:{tmp_path / 'absent'}", tmp_path)
    (tmp_path / "flat").mkdir()
    with pytest.raises(UserError, match="no class folders"):
        load_dataset(f"folder:{tmp_path / 'flat'}", tmp_path)
    write_pngs(tmp_path / "empty" / "a", COLORS[0], 3)
    (tmp_path / "empty" / "b").mkdir()
    with pytest.raises(UserError, match=f"{tmp_path / 'empty' / 'b'} has no images"):
        load_dataset(f"folder:{tmp_path / 'empty'}", tmp_path)
    for split, name in [("train", "a"), ("test", "b"), ("train", "c"), ("test", "c")]:
        write_pngs(tmp_path / "split" / split / name, COLORS[0], 2)
    with pytest.raises(UserError, match="only in train: a; only in test: b"):
        load_dataset(f"folder:{tmp_path / 'split'}", tmp_path)
    write_pngs(tmp_path / "broken" / "a", COLORS[0], 3)
    write_pngs(tmp_path / "broken" / "b", COLORS[1], 3)
    (tmp_path / "broken" / "a" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match=f"cannot read image {tmp_path / 'broken' / 'a' / 'bad.png'}"):
        load_dataset(f"folder:{tmp_path / 'broken'}", tmp_path)


# Classes of 10, 12 and 7 images, interleaved.
LABELS = torch.from_numpy(np.random.default_rng(0).permutation([0] * 10 + [1] * 12 + [2] * 7))


def test_subsample_is_balanced_and_deterministic() -> None:
    indices = subsample(LABELS, 5, seed=3)
    assert indices.dtype == torch.int64 and indices.tolist() == sorted(set(indices.tolist()))
    assert LABELS[indices].bincount().tolist() == [5, 5, 5]
    assert torch.equal(subsample(LABELS, 5, seed=3), indices)
    assert not torch.equal(subsample(LABELS, 5, seed=4), indices)
    assert LABELS[subsample(LABELS, 7, seed=0)].bincount().tolist() == [7, 7, 7]


def test_subsample_rejects_bad_shots() -> None:
    with pytest.raises(UserError, match="shots 8 is more than class 2 has \\(7 training images\\)"):
        subsample(LABELS, 8, seed=0)
    with pytest.raises(UserError, match="^shots must be a positive integer, got 0$"):
        subsample(LABELS, 0, seed=0)


def test_subsample_rejects_a_negative_seed() -> None:
    with pytest.raises(UserError, match="^seed must be a non-negative integer, got -1$"):
        subsample(LABELS, 5, seed=-1)


def test_cached_dataset_loads_once_per_name_and_directory(tmp_path: Path) -> None:
    first = cached_dataset("digits", str(tmp_path))
    assert cached_dataset("digits", str(tmp_path)) is first
    assert torch.equal(first.train_x, load_dataset("digits", tmp_path).train_x)


def test_names_labels_and_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    assert list(DATASETS) == ["cifair10", "cifair100", "cifar10", "cifar100", "stl10", "digits", "food101", "oxford_pet",
                             "caltech256", "miniimagenet"]
    assert dataset_names()[-1] == "folder:PATH"
    assert [dataset_label(name) for name in DATASETS] == [
        "ciFAIR-10", "ciFAIR-100", "CIFAR-10", "CIFAR-100", "STL-10", "digits", "Food-101", "Oxford-IIIT Pet",
        "Caltech-256", "miniImageNet"
    ]
    assert dataset_label("folder:/x/y") == "folder:y" and dataset_label("folder:/x/y/") == "folder:y"
    check_dataset_name("folder:/anything")
    valid = "cifair10, cifair100, cifar10, cifar100, stl10, digits, food101, oxford_pet, caltech256, miniimagenet, folder:PATH"
    with pytest.raises(UserError, match=f"^unknown dataset 'imagenet'; valid: {valid}$"):
        check_dataset_name("imagenet")
    with pytest.raises(UserError, match="folder:PATH"):
        check_dataset_name("folder:")
    monkeypatch.setenv("BENCHMARK_DATA_DIR", "/some/where")
    assert default_data_dir() == Path("/some/where")
    monkeypatch.delenv("BENCHMARK_DATA_DIR")
    assert default_data_dir() == Path.home() / ".cache" / "smalldata-benchmark" / "data"


def test_a_folder_with_one_class_is_an_error(tmp_path: Path) -> None:
    write_pngs(tmp_path / "only" / "cat", COLORS[0], 4)
    with pytest.raises(UserError, match="has one class folder \\(cat\\); a classifier needs at least 2 classes"):
        load_dataset(f"folder:{tmp_path / 'only'}", tmp_path)


def test_16_bit_greyscale_pngs_are_scaled_not_clipped(tmp_path: Path) -> None:
    for name, level in [("dark", 8192), ("mid", 32768)]:
        (tmp_path / "grey" / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((20, 20), level, dtype=np.uint16)).save(tmp_path / "grey" / name / f"{i}.png")
    assert Image.open(tmp_path / "grey" / "mid" / "0.png").mode == "I;16"
    ds = load_dataset(f"folder:{tmp_path / 'grey'}", tmp_path)
    assert ds.train_x[ds.train_y == 0].unique().tolist() == [round(8192 * 255 / 65535)]  # 32, not 255
    assert ds.train_x[ds.train_y == 1].unique().tolist() == [round(32768 * 255 / 65535)]  # 128
