"""The exact training subset of a run (dataset, shots, seed), as a file others can train on: one
line per image, `class<TAB>id`, in the order of the training pool, where the id is a folder's file
path relative to the folder and the index in the training pool for the registered datasets. A
field holding a tab, a newline or a double quote is quoted as CSV quotes (in double quotes, a double
quote doubled): Python's `csv.reader(f, delimiter="\t")` reads the file back. A record names its
subset by the first 16 hex digits of the SHA-1 of that file (`sha1sum FILE`)."""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.atomic import write_text_atomic
from benchmark.spec import Shots

if TYPE_CHECKING:
    import torch

    from benchmark.data import ImageSet


def subset_text(data: ImageSet, idx: torch.Tensor) -> str:
    labels = data.train_y[idx].tolist()
    ids = [data.train_ids[i] if data.train_ids else str(i) for i in idx.tolist()]
    text = io.StringIO()
    csv.writer(text, delimiter="\t", lineterminator="\n").writerows((data.classes[label], image)
                                                                    for label, image in zip(labels, ids))
    return text.getvalue()


def subset_hash(data: ImageSet, idx: torch.Tensor) -> str:
    return text_hash(subset_text(data, idx))


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def subset_file(out: Path, label: str, shots: Shots, seed: int) -> Path:
    name = "".join(ch if ch.isalnum() or ch in "@-" else "_" for ch in label)
    return out / f"{name}_shots-{shots}_seed-{seed}.tsv"


def write_subsets(dataset: str, shots: list[Shots], seeds: list[int], data_dir: Path, out: Path) -> list[tuple[Path, str]]:
    """One file per (shots, seed) of the dataset; (its path, its hash) each."""
    from benchmark.data import cached_dataset, subsample
    data = cached_dataset(dataset, str(data_dir))
    written = []
    for s in shots:
        for seed in seeds:
            text = subset_text(data, subsample(data.train_y, s, seed, data.classes))
            path = subset_file(out, data.name, s, seed)
            write_text_atomic(path, text)
            written.append((path, text_hash(text)))
    return written
