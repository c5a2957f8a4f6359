"""The registries: methods (name -> Method class) and stage kinds (name -> StageKind), and where a
plug-in's came from. The built-in families (methods/*.py) and the installed plug-ins
(methods/plugins.py) register themselves here when the `methods` package is imported."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from benchmark.errors import UserError
from methods.base import Method
from methods.stage import StageKind

METHODS: dict[str, type[Method]] = {}
STAGE_KINDS: dict[str, StageKind] = {}


@dataclass(frozen=True)
class Plugin:
    """The distribution a plug-in method or stage kind was installed with."""

    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"


PLUGINS: dict[str, Plugin] = {}  # method name -> its plug-in; built-in methods are absent
KIND_PLUGINS: dict[str, Plugin] = {}  # stage kind name -> its plug-in


def register(name: str) -> Callable[[type[Method]], type[Method]]:
    def add(cls: type[Method]) -> type[Method]:
        if name in METHODS:
            raise ValueError(f"method '{name}' is already registered")
        METHODS[name] = cls
        return cls

    return add


def register_stage_kind(kind: type[StageKind]) -> type[StageKind]:
    if kind.name in STAGE_KINDS:
        raise ValueError(f"stage kind '{kind.name}' is already registered")
    STAGE_KINDS[kind.name] = kind()
    return kind


def get_method(name: str) -> type[Method]:
    if name not in METHODS:
        raise UserError(f"unknown method '{name}'; valid: {', '.join(METHODS)}")
    return METHODS[name]
