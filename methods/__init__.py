"""The methods and stage kinds: the registries (methods/registry.py), the contracts (methods/base.py,
methods/stage.py), one module per built-in family, and the installed plug-ins (methods/plugins.py).
Importing the package registers them all."""
from __future__ import annotations

# The built-in families, in the order they register: `list`'s order, `--methods all`'s, and each
# method's colour in the figures.
from methods import (standard, erasing, cosine, mixup, generator, generative, teacher, glico, supermix,  # noqa: F401,I001
                     scattering, synermix)
from methods.base import Context, HParam, Method
from methods.plugins import load_plugins
from methods.registry import METHODS, PLUGINS, STAGE_KINDS, get_method, register, register_stage_kind
from methods.stage import StageKind, StageWork

load_plugins()

__all__ = ["METHODS", "PLUGINS", "STAGE_KINDS", "Context", "HParam", "Method", "StageKind", "StageWork", "get_method",
           "register", "register_stage_kind"]
