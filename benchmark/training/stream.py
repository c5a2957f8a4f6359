"""The second data path: images too many to hold on the device are read from their array file
(benchmark.data.arrays), batch by batch, by a few loader processes (torch's DataLoader over the index
batches of an epoch), and go to the device as uint8, where they are augmented as a held subset is
(benchmark.training.pipeline, resized_crop).

Which path a run takes is decided by size alone (`training_images`, `test_images`): a set decoded
into an array file streams when the uint8 images a run would hold are more than STREAM_BYTES
($BENCHMARK_STREAM_BYTES), 2 GiB by default: the whole of Food-101 (15 GB stored), Caltech-256
(3 GB) and a folder as large; CIFAR and every few-shot subset of the grids are held. Both paths give a
run the same images in the same order and draw the same random numbers, so the same numbers.
"""
from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Iterator, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from benchmark.errors import UserError

if TYPE_CHECKING:
    from benchmark.data import ImageSet
    from benchmark.data.arrays import ArrayFile

STREAM_BYTES = 2 << 30
LOADER_WORKERS = 4  # loader processes of a streamed run (at most one per core)
PREFETCH = 4  # batches each loader process reads ahead


def stream_bytes() -> int:
    """The size above which images stream: $BENCHMARK_STREAM_BYTES if set, else STREAM_BYTES."""
    configured = os.environ.get("BENCHMARK_STREAM_BYTES", "").strip()
    if not configured:
        return STREAM_BYTES
    if not configured.isdigit():
        raise UserError(f"BENCHMARK_STREAM_BYTES={configured!r} is not a whole number of bytes; e.g. "
                        f"{STREAM_BYTES} (2 GiB, the default)")
    return int(configured)


def ignore_stop_signals(worker: int) -> None:
    """A loader process ignores the signals that stop a run (a terminal's Ctrl-C or a SIGTERM to the
    process group, SLURM's time-limit signal): the run handles them, checkpoints and shuts its loader
    processes down; a loader killed first would turn the stop into a failed run."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)


class Rows(Dataset):
    """The images of each index batch (rows of the file), read in a loader process."""

    def __init__(self, file: ArrayFile, batches: list[np.ndarray]):
        self.file, self.batches = file, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.file.read(self.batches[i]))


class StreamedImages:
    """The images of `rows` of an array file, by position (0 .. len - 1) as a held tensor is indexed."""

    def __init__(self, file: ArrayFile, rows: np.ndarray, device: torch.device):
        self.file, self.rows, self.device = file, rows, device
        self.current: tuple[torch.Tensor, torch.Tensor] | None = None  # the loaded batch: (positions, images)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.file.shape[1:])

    def loaded(self, batches: list[torch.Tensor]) -> Iterator[torch.Tensor]:
        """Each batch of positions, once its images are on the device (`gather` gives them)."""
        sizes = [len(b) for b in batches]
        on_host = torch.cat(batches).cpu().numpy() if batches else np.zeros(0, dtype=np.int64)  # one read-back
        reads = [self.rows[p] for p in np.split(on_host, np.cumsum(sizes)[:-1])] if batches else []
        workers = min(LOADER_WORKERS, os.cpu_count() or 1)
        loader = DataLoader(Rows(self.file, reads), batch_size=None, num_workers=workers,
                            prefetch_factor=PREFETCH if workers else None, pin_memory=self.device.type == "cuda",
                            generator=torch.Generator(),  # its workers' seeds: the run's RNG is not drawn from
                            worker_init_fn=ignore_stop_signals)
        try:
            for positions, images in zip(batches, loader):
                self.current = (positions, images.to(self.device, non_blocking=True))
                yield positions
        finally:
            self.current = None

    def gather(self, positions: torch.Tensor) -> torch.Tensor:
        """uint8 images at `positions`: the loaded batch's, or read at once."""
        if self.current is not None and self.current[0] is positions:
            return self.current[1]
        return torch.from_numpy(self.file.read(self.rows[positions.cpu().numpy()])).to(self.device)

    def chunks(self, size: int) -> Iterator[torch.Tensor]:
        """All the images in order, `size` at a time, through the loader processes."""
        batches = list(torch.arange(len(self.rows)).split(size))
        for positions in self.loaded(batches):
            yield self.gather(positions)

    def held(self) -> torch.Tensor:
        raise UserError(f"this method needs the whole training subset on the device, and this one ({len(self.rows):,} "
                        f"images, {len(self.rows) * self.file.row_bytes / 2**30:.1f} GiB) streams from disk; train it "
                        "on fewer shots, or raise BENCHMARK_STREAM_BYTES")


Images = Union[torch.Tensor, StreamedImages]  # a subset's images: held on the device, or streamed


def gather(images: Images, positions: torch.Tensor) -> torch.Tensor:
    return images[positions] if isinstance(images, torch.Tensor) else images.gather(positions)


def in_chunks(images: Images, size: int) -> Iterator[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        for i in range(0, len(images), size):
            yield images[i:i + size]
    else:
        yield from images.chunks(size)


def training_images(data: ImageSet, idx: torch.Tensor, device: torch.device) -> Images:
    """The subset `idx` of the training pool: held (a CPU tensor, for the engine to move to the
    device) or streamed, by its size. An array file is read with `pread`, not through its mapping: a
    file truncated under a mapping would kill the process (SIGBUS), a short read is an error."""
    if data.train_file is None:
        return data.train_x[idx]
    rows = idx.cpu().numpy()
    if len(rows) * data.train_file.row_bytes > stream_bytes():
        return StreamedImages(data.train_file, rows, device)
    return torch.from_numpy(data.train_file.read(rows))


def test_images(data: ImageSet, device: torch.device) -> Images:
    """The test set on the device, or streamed, by its size."""
    if data.test_file is None:
        return data.test_x.to(device)
    rows = np.arange(len(data.test_file))
    if len(rows) * data.test_file.row_bytes > stream_bytes():
        return StreamedImages(data.test_file, rows, device)
    return torch.from_numpy(data.test_file.read(rows)).to(device)
