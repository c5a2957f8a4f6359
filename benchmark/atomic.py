"""Files written whole or not at all: to a temporary file beside the target, then renamed, so a
killed process never leaves half a file; a failed write (a full disk) removes its temporary file.

The directories written into may be shared and are not trusted, so a temporary file is created
under a random name with O_CREAT | O_EXCL | O_NOFOLLOW (a name planted beforehand, as a symbolic
link or anything else, is never opened) and written through the descriptor that created it; the
rename replaces a planted link at the target itself, never the file it points to."""
from __future__ import annotations

import io
import json
import os
import secrets
from pathlib import Path
from typing import IO, Any, Callable

CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def create_temporary(path: Path) -> tuple[IO[bytes], Path]:
    """A new, empty file beside `path` under an unpredictable name, open for writing, and its path.
    Mode 0o666 less the umask, as a plain open() gives (tempfile.mkstemp's 0o600 would hide the
    records of a results directory shared with a group)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            return os.fdopen(os.open(tmp, CREATE_FLAGS, 0o666), "wb"), tmp
        except FileExistsError:  # 64 random bits taken: draw again
            continue


def replace_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """`write` into a new temporary file beside `path`, then rename it to `path`; on failure remove it."""
    f, tmp = create_temporary(path)
    try:
        with f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes | memoryview) -> None:
    replace_atomic(path, lambda f: f.write(data))


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save, atomically. Serialised in memory first: torch's own file writer turns a full disk
    into an opaque RuntimeError, Python's write says ENOSPC."""
    import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes_atomic(path, buffer.getbuffer())


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=1, sort_keys=True))
