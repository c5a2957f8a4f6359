"""The method registry: name -> Method class. One module per method family."""
from __future__ import annotations

from typing import Callable

from benchmark.errors import UserError
from methods.base import Context, Method

METHODS: dict[str, type[Method]] = {}


def register(name: str) -> Callable[[type[Method]], type[Method]]:
    def add(cls: type[Method]) -> type[Method]:
        METHODS[name] = cls
        return cls

    return add


def get_method(name: str) -> type[Method]:
    if name not in METHODS:
        raise UserError(f"unknown method '{name}'; valid: {', '.join(METHODS)}")
    return METHODS[name]


from methods import standard, erasing, cosine, mixup  # noqa: E402,F401  (they register themselves)

__all__ = ["METHODS", "Context", "Method", "get_method", "register"]
