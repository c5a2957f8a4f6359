"""Decoded images on disk: numpy `.npy` files in the cache directory, written once and read back in
rows (benchmark.data.photos, benchmark.data.miniimagenet).

A file is written through a fresh temporary file (created exclusively, so a planted link is never
followed) and renamed into place when it is complete; rows are written with plain file writes, so
writing 15 GB does not hold 15 GB of mapped pages. A file is read back only after its header says the
expected dtype and shape and the file holds exactly that many bytes, and only as a regular file (not
a link); anything else counts as absent and is rebuilt. Its rows are read with `pread`
(`ArrayFile.read`: the pages sit in the OS page cache, not in the process), or mapped copy-on-write
as a tensor (`ArrayFile.tensor`), which reads only the rows that are indexed.
"""
from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch


@dataclass(frozen=True)
class ArrayFile:
    path: Path
    offset: int  # bytes of the .npy header
    dtype: str
    shape: tuple[int, ...]
    _fds: dict[int, int] = field(default_factory=dict, compare=False, repr=False)  # pid -> open file

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def fd(self) -> int:
        """This process's descriptor of the file (loader processes open their own)."""
        pid = os.getpid()
        if pid not in self._fds:
            self._fds[pid] = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        return self._fds[pid]

    def read(self, rows: Iterable[int]) -> np.ndarray:
        """The rows, in the order given, as a new array."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        flat = out.reshape(len(rows), -1).view(np.uint8)
        fd, size = self.fd(), self.row_bytes
        for i, row in enumerate(rows.tolist()):
            if os.preadv(fd, [flat[i]], self.offset + row * size) != size:
                raise OSError(f"{self.path} ended before row {row}")
        return out

    def tensor(self) -> torch.Tensor:
        """The whole array as a tensor mapped from the file, copy-on-write (the file is never written)."""
        mapped = np.memmap(self.path, dtype=self.dtype, mode="c", offset=self.offset, shape=self.shape)
        return torch.from_numpy(mapped)


def open_array(path: Path, dtype: str, shape: tuple[int, ...]) -> ArrayFile | None:
    """The array file at `path` if it is a regular file holding exactly a `dtype` array of `shape`; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                return None
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            found_shape, fortran, found_dtype = read_header(f)
            offset = f.tell()
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    array = ArrayFile(path, offset, dtype, tuple(shape))
    if fortran or found_dtype != np.dtype(dtype) or tuple(found_shape) != tuple(shape):
        return None
    if info.st_size != offset + array.row_bytes * shape[0]:
        return None
    return array


class ArrayWriter:
    """Writes a `dtype` array of `shape` to `path`, row by row (`write`), then renames it into place
    (`close`); a writer left unclosed (an error) removes its temporary file (`discard`)."""

    def __init__(self, path: Path, dtype: str, shape: tuple[int, ...]):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.dtype, self.shape = path, np.dtype(dtype), tuple(shape)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self.fd, self.tmp = fd, Path(tmp)
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        with os.fdopen(os.dup(fd), "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            self.offset = f.tell()
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        os.ftruncate(fd, self.offset + self.row_bytes * self.shape[0])

    def write(self, row: int, values: np.ndarray) -> None:
        """Rows from `row` on: `values` holds one row, or several stacked."""
        data = np.ascontiguousarray(values, dtype=self.dtype).tobytes()
        if len(data) % self.row_bytes or row * self.row_bytes + len(data) > self.row_bytes * self.shape[0]:
            raise ValueError(f"{len(data)} bytes do not fit rows of {self.row_bytes} from row {row}")
        os.pwrite(self.fd, data, self.offset + row * self.row_bytes)

    def close(self) -> ArrayFile:
        os.fsync(self.fd)
        os.close(self.fd)
        os.replace(self.tmp, self.path)  # replaces a link at `path` itself, never its target
        return ArrayFile(self.path, self.offset, self.dtype.str, self.shape)

    def discard(self) -> None:
        os.close(self.fd)
        self.tmp.unlink(missing_ok=True)


def write_array(path: Path, values: np.ndarray) -> ArrayFile:
    """A small array written whole, as ArrayWriter writes."""
    writer = ArrayWriter(path, values.dtype.str, values.shape)
    try:
        writer.write(0, values)
        return writer.close()
    except BaseException:
        writer.discard()
        raise
