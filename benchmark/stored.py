"""Files the suite reads back from a results directory. Their contents are untrusted (a results
directory may be shared): each is parsed into the shape its reader expects, and a file that is not
valid (not JSON, or JSON of another shape) is treated as absent and moved aside with one warning
line, so that it never stops a command and the next writer starts clean."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")

INVALID_SUFFIX = ".invalid"
_warned: set[Path] = set()


def warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)


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


def read_json(path: Path, parse: Callable[[Any], T | None], what: str) -> T | None:
    """`parse` of the file's JSON; None if the file is missing, and None (the file set aside) if it
    is not JSON or `parse` returns None for it."""
    try:
        text = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        set_aside(path, what, "a directory")
        return None
    try:
        payload = json.loads(text)
    except ValueError:
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
