"""Files written whole or not at all: to a temporary file beside the target, then renamed, so a
killed process never leaves half a file."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save, atomically."""
    import torch
    tmp = temporary(path)
    torch.save(obj, tmp)
    tmp.replace(path)


def write_json_atomic(path: Path, payload: Any) -> None:
    tmp = temporary(path)
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True))
    tmp.replace(path)
