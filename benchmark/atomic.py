"""Files written whole or not at all: to a temporary file beside the target, then renamed, so a
killed process never leaves half a file; a failed write (a full disk) removes its temporary file."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Callable


def temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def replace_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """`write` a temporary file beside `path`, then rename it to `path`; on failure remove it."""
    tmp = temporary(path)
    try:
        write(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save, atomically. Serialised in memory first: torch's own file writer turns a full disk
    into an opaque RuntimeError, Python's write says ENOSPC."""
    import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    replace_atomic(path, lambda tmp: tmp.write_bytes(buffer.getbuffer()))


def write_text_atomic(path: Path, text: str) -> None:
    replace_atomic(path, lambda tmp: tmp.write_text(text))


def write_json_atomic(path: Path, payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=1, sort_keys=True))
