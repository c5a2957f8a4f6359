"""Every file the dataset loaders read: its MD5, the archive it comes from, and getting it.

`require` runs before a loader opens anything:
- A missing file is a UserError naming the file, the directory it was looked for in, and how to
  get it: re-run with `--download`, or fetch the archive URL and unpack it into the data directory.
- With `download=True` the archives of the missing files are fetched with urllib, their MD5 is
  checked, and only the listed files are unpacked (the STL-10 archive also holds 2.7 GB of
  unlabelled images that are never read). The archive is deleted afterwards.

The loaders read each file with `read_verified`: its bytes, read once (a regular file, at most
DATASET_FILE_BYTES), hashed, and handed over only if their MD5 is the pinned one; a mismatch is a
UserError saying it is corrupt and to delete it and re-run with `--download`. The check is made on
the very bytes that are parsed, at every load: no file beside it (which anyone who can write into
the data directory could forge) stands in for it; hashing CIFAR-10's 180 MB takes about 0.3 s.
The pickled CIFAR batches are unpickled from those bytes by a restricted unpickler
(benchmark.safe_pickle) besides.

The CIFAR and STL-10 checksums are torchvision's. The ciFAIR checksums are those of the official
ciFAIR v1.0 loaders (https://cvjena.github.io/cifair/).
"""

import hashlib
import http.client
import posixpath
import shutil
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from benchmark.atomic import create_temporary, replace_atomic
from benchmark.errors import UserError
from benchmark.stored import NotRegular, read_regular


@dataclass(frozen=True)
class Archive:
    url: str
    md5: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


ARCHIVES: dict[str, Archive] = {
    "cifar10": Archive(
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"
    ),
    "cifar100": Archive(
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"
    ),
    "cifair10": Archive(
        "https://github.com/cvjena/cifair/releases/download/v1.0/ciFAIR-10.zip",
        "ca08fd390f0839693d3fc45c4e49585f",
    ),
    "cifair100": Archive(
        "https://github.com/cvjena/cifair/releases/download/v1.0/ciFAIR-100.zip",
        "ddc236ab4b12eeb8b20b952614861a33",
    ),
    "stl10": Archive(
        "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz", "91f7769df0f17e558f3565bffb0c7dfb"
    ),
}


@dataclass(frozen=True)
class DataFile:
    md5: str
    archive: str  # key in ARCHIVES


# Paths relative to the data directory, as they are inside the archives.
FILES: dict[str, DataFile] = {
    "cifar-10-batches-py/data_batch_1": DataFile("c99cafc152244af753f735de768cd75f", "cifar10"),
    "cifar-10-batches-py/data_batch_2": DataFile("d4bba439e000b95fd0a9bffe97cbabec", "cifar10"),
    "cifar-10-batches-py/data_batch_3": DataFile("54ebc095f3ab1f0389bbae665268c751", "cifar10"),
    "cifar-10-batches-py/data_batch_4": DataFile("634d18415352ddfa80567beed471001a", "cifar10"),
    "cifar-10-batches-py/data_batch_5": DataFile("482c414d41f54cd18b22e5b47cb7c3cb", "cifar10"),
    "cifar-10-batches-py/test_batch": DataFile("40351d587109b95175f43aff81a1287e", "cifar10"),
    "cifar-10-batches-py/batches.meta": DataFile("5ff9c542aee3614f3951f8cda6e48888", "cifar10"),
    "cifar-100-python/train": DataFile("16019d7e3df5f24257cddd4c7b86d5cf", "cifar100"),
    "cifar-100-python/test": DataFile("f0ef6b0ae62326f3e7ffdfab6717acfc", "cifar100"),
    "cifar-100-python/meta": DataFile("7973b15100ade9c7d40fb424638fde48", "cifar100"),
    "ciFAIR-10/test_batch": DataFile("01290e6b622a1977a000eff13650aca2", "cifair10"),
    "ciFAIR-100/test": DataFile("8130dae8d6fc6a436437f0ebdb801df1", "cifair100"),
    "stl10_binary/train_X.bin": DataFile("918c2871b30a85fa023e0c44e0bee87f", "stl10"),
    "stl10_binary/train_y.bin": DataFile("5a34089d4802c674881badbb80307741", "stl10"),
    "stl10_binary/test_X.bin": DataFile("7f263ba9f9e0b06b93213547f721ac82", "stl10"),
    "stl10_binary/test_y.bin": DataFile("36f9794fa4beb8a2c72628de14fa638e", "stl10"),
}


DATASET_FILE_BYTES = 1 << 30  # the largest, STL-10's test_X.bin, is 221 MB


def corrupt(path: Path, reason: str) -> UserError:
    return UserError(f"dataset file {path} is corrupt ({reason}); delete it and re-run with --download")


def require(data_dir: Path, names: list[str], download: bool) -> None:
    """Make sure the FILES `names` are under `data_dir`, downloading the missing ones if asked."""
    missing = [name for name in names if not (data_dir / name).is_file()]
    if missing and not download:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        urls = [ARCHIVES[key].url for key in dict.fromkeys(FILES[name].archive for name in missing)]
        raise UserError(
            f"dataset file {missing[0]}{more} not found in {data_dir}; re-run with --download, "
            f"or download {' and '.join(urls)} and unpack {'them' if len(urls) > 1 else 'it'} into {data_dir}"
        )
    for key in dict.fromkeys(FILES[name].archive for name in missing):
        _download(data_dir, ARCHIVES[key], [name for name in missing if FILES[name].archive == key])


def read_verified(data_dir: Path, name: str) -> bytes:
    """The bytes of the FILES entry `name` under `data_dir`, once their MD5 is the pinned one."""
    path = data_dir / name
    try:
        data = read_regular(path, DATASET_FILE_BYTES, follow_links=True)
    except NotRegular as e:
        raise corrupt(path, e.strerror) from None
    except OSError as e:
        raise UserError(f"cannot read dataset file {path} ({e.strerror}); check its permissions") from None
    actual = hashlib.md5(data).hexdigest()
    if actual != FILES[name].md5:
        raise corrupt(path, f"md5 {actual} expected {FILES[name].md5}")
    return data


def _download(data_dir: Path, archive: Archive, names: list[str]) -> None:
    print(f"downloading {archive.url} into {data_dir}", file=sys.stderr, flush=True)
    digest = hashlib.md5()
    part = None
    try:
        out, part = create_temporary(data_dir / archive.filename)
        with out, urllib.request.urlopen(archive.url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (OSError, http.client.HTTPException) as e:
        if part is not None:
            part.unlink(missing_ok=True)
        raise UserError(
            f"cannot download {archive.url} ({e}); check the internet connection, "
            f"or download it elsewhere and unpack it into {data_dir}"
        ) from None
    try:
        if digest.hexdigest() != archive.md5:
            raise UserError(
                f"downloaded {archive.url} is corrupt (md5 {digest.hexdigest()} expected {archive.md5}); "
                "re-run with --download"
            )
        _unpack(part, archive, data_dir, names)
    finally:
        part.unlink(missing_ok=True)


def _unpack(path: Path, archive: Archive, data_dir: Path, names: list[str]) -> None:
    """Copy the members `names` of the archive at `path` to the same paths under `data_dir`."""
    wanted = set(names)
    if archive.filename.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                name = posixpath.normpath(member)
                if name in wanted:
                    with zf.open(member) as src:
                        _write(src, data_dir / name)
                    wanted.remove(name)
    else:
        with tarfile.open(path) as tf:
            for info in tf:
                name = posixpath.normpath(info.name)
                if name in wanted and (src := tf.extractfile(info)) is not None:
                    _write(src, data_dir / name)
                    wanted.remove(name)
                if not wanted:
                    break
    if wanted:
        name = sorted(wanted)[0]
        raise UserError(
            f"archive {archive.url} has no {name}; get that file by hand and put it at {data_dir / name}"
        )


def _write(src: IO[bytes], dest: Path) -> None:
    replace_atomic(dest, lambda out: shutil.copyfileobj(src, out, 1 << 20))


def not_found(data_dir: Path, name: str, get: str) -> UserError:
    """A missing file of a dataset that `--download` does not fetch; `get`: how to get it."""
    return UserError(f"dataset file {name} not found in {data_dir}; {get} (--download does not fetch it)")


def check_downloaded(download: bool, label: str, get: str) -> None:
    if download:
        raise UserError(f"--download does not fetch {label}; {get}")
