"""The method registry (name -> Method class, one module per method family) and the stage kinds
(name -> StageKind) that methods require. The contracts: methods/base.py and methods/stage.py."""
from __future__ import annotations

from typing import Callable

from benchmark.errors import UserError
from methods.base import Context, Method
from methods.stage import STAGE_KINDS, StageKind, register_stage_kind

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


from methods import standard, erasing, cosine, mixup, generator, generative, teacher, glico, supermix, scattering, synermix  # noqa: E402,F401  (they register themselves)

__all__ = ["METHODS", "STAGE_KINDS", "Context", "Method", "StageKind", "get_method", "register", "register_stage_kind"]
