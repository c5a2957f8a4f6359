"""Objects named by "module:name" strings (a dataset's loader, a method's sample figure): declared
without importing anything, imported when used."""
from __future__ import annotations

import importlib
from typing import Any


def import_object(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)
