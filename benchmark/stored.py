"""Files the suite reads back from a results directory. Their contents are untrusted (a results
directory may be shared): each is parsed into the shape its reader expects, and a file that is not
valid (not JSON, or JSON of another shape) is treated as absent and moved aside with one warning
line, so that it never stops a command and the next writer starts clean.

Every such file is opened by `open_regular`: never through a symbolic link, without blocking (a
FIFO), and only if it is a regular file (not a directory or a device); and read up to a limit per
kind of file, so a planted /dev/zero, FIFO or huge file is one more invalid file."""
from __future__ import annotations

import errno
import json
import os
import stat
import sys
from pathlib import Path
from typing import IO, Any, Callable, TypeVar

T = TypeVar("T")

INVALID_SUFFIX = ".invalid"
_warned: set[Path] = set()
said: list[str] = []  # this process's warnings, in order: a job's end note carries them to its launcher

# The most bytes a file of each kind may hold; a larger one is not such a file.
RECORD_BYTES = 16 << 20  # run and stage records (with their curves), analysis results
MANIFEST_BYTES = 256 << 20  # a folder dataset's manifest: a path and a SHA-1 per image
NOTE_BYTES = 1 << 20  # failure, submission and end notes, claims
PROGRESS_BYTES = 64  # "<epoch> <epochs>"
LOG_TAIL_BYTES = 64_000  # what is read of the end of a job's log


class NotRegular(OSError):
    """The path is a symbolic link, a FIFO, a device or a directory, or larger than its kind's limit."""


def open_regular(path: Path, follow_links: bool = False) -> IO[bytes]:
    """`path` open for reading if it is a regular file; FileNotFoundError (NotADirectoryError) if
    it is missing, NotRegular (its `strerror` says what it is) if it is something else, a symbolic
    link included unless `follow_links` (for files whose contents are verified, as datasets')."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegular(exc.errno, "a symbolic link", str(path)) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegular(errno.EINVAL, file_kind(mode), str(path))
    return os.fdopen(fd, "rb")


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, from its st_mode."""
    return ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")


def read_regular(path: Path, limit: int, follow_links: bool = False) -> bytes:
    """The bytes of the regular file `path` (`open_regular`), at most `limit` of them: NotRegular if
    it holds more."""
    with open_regular(path, follow_links) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise NotRegular(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data


def read_tail(path: Path, limit: int = LOG_TAIL_BYTES) -> bytes:
    """The last `limit` bytes of the regular file `path` (`open_regular`)."""
    with open_regular(path) as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - limit))
        return f.read(limit)


def warn(line: str) -> None:
    said.append(line)
    print(f"warning: {printable(line)}", file=sys.stderr, flush=True)


def printable(text: str) -> str:
    """`text` as one line that does nothing to a terminal: control and format characters (escape
    sequences, newlines, bidirectional overrides) written as Python escapes, e.g. \\x1b."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def set_aside(path: Path, what: str, why: str = "") -> None:
    """Move an invalid file to <name>.invalid beside it (replacing an older one), saying so once."""
    reason = f" ({why})" if why else ""
    try:
        os.replace(path, path.with_name(path.name + INVALID_SUFFIX))
    except FileNotFoundError:
        return  # another process moved it (or wrote a valid one in its place) first
    except OSError as exc:
        if path not in _warned:
            _warned.add(path)
            warn(f"{path} is not a valid {what}{reason}; treated as absent (could not move it aside: {exc.strerror})")
        return
    warn(f"{path} is not a valid {what}{reason}; moved to {path.name}{INVALID_SUFFIX} and treated as absent")


def read_json(path: Path, parse: Callable[[Any], T | None], what: str, limit: int = RECORD_BYTES) -> T | None:
    """`parse` of the file's JSON; None if the file is missing, and None (the file set aside) if it
    is no regular file of at most `limit` bytes, not JSON, or `parse` returns None for it."""
    try:
        text = read_regular(path, limit)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except NotRegular as exc:
        set_aside(path, what, exc.strerror)
        return None
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        set_aside(path, what, "not JSON")
        return None
    try:
        parsed = parse(payload)
    except (KeyError, TypeError, ValueError, AttributeError):
        parsed = None
    if parsed is None:
        set_aside(path, what, "unexpected content")
    return parsed


def fields(payload: Any, types: dict[str, type | tuple[type, ...]]) -> dict[str, Any] | None:
    """`payload` if it is a dict whose keys in `types` are present with those types (bool is no int
    here), else None."""
    if not isinstance(payload, dict):
        return None
    for key, kind in types.items():
        value = payload.get(key, _MISSING)
        if value is _MISSING or (isinstance(value, bool) and bool not in _as_tuple(kind)) or not isinstance(value, kind):
            return None
    return payload


_MISSING = object()


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
