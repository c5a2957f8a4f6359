"""Methods and stage kinds from other installed packages (plug-ins): each declares an entry point
in the group `smalldata_benchmark.methods` whose value is `module:object`, the object a Method
subclass (registered under the entry point's name) or a StageKind subclass (registered under its
`name`). The plug-ins load when the `methods` package is imported, after the built-ins; a plug-in
that fails to import, is neither, or whose name is taken gives one warning line naming it and is
left out: the rest of the suite works. A plug-in's module, like a built-in family's, imports
torch only inside the hooks that compute (`list`, `status` and the dry run stay free of torch).
See docs/methods.md and examples/cutmix_plugin/."""
from __future__ import annotations

import re
from importlib.metadata import EntryPoint, entry_points

from benchmark.stored import warn
from methods.base import Method
from methods.registry import KIND_PLUGINS, METHODS, PLUGINS, STAGE_KINDS, Plugin
from methods.stage import StageKind

GROUP = "smalldata_benchmark.methods"
NAME = re.compile(r"[a-z][a-z0-9_]*")  # a method's name on the command line, in grid files and run ids


def load_plugins() -> None:
    for entry in entry_points(group=GROUP):
        load_plugin(entry)


def load_plugin(entry: EntryPoint) -> None:
    plugin = Plugin(entry.dist.name, entry.dist.version) if entry.dist else Plugin("unknown", "unknown")
    where = f"plug-in '{entry.name}' ({entry.value}, {plugin})"
    try:
        obj = entry.load()
    except Exception as exc:  # noqa: BLE001  a broken plug-in must not stop the suite
        warn(f"{where} failed to import ({type(exc).__name__}: {exc}); left out")
        return
    if isinstance(obj, type) and issubclass(obj, Method):
        if not NAME.fullmatch(entry.name):
            warn(f"{where}: '{entry.name}' is not a method name (lower-case letters, digits, _); left out")
        elif entry.name in METHODS:
            warn(f"{where}: method '{entry.name}' is already registered{taken_by(PLUGINS, entry.name)}; left out")
        else:
            METHODS[entry.name] = obj
            PLUGINS[entry.name] = plugin
    elif isinstance(obj, type) and issubclass(obj, StageKind):
        if obj.name in STAGE_KINDS:
            warn(f"{where}: stage kind '{obj.name}' is already registered{taken_by(KIND_PLUGINS, obj.name)}; left out")
            return
        try:
            STAGE_KINDS[obj.name] = obj()
        except TypeError as exc:  # an abstract hook left undeclared
            warn(f"{where}: {exc}; left out")
            return
        KIND_PLUGINS[obj.name] = plugin
    else:
        warn(f"{where} is neither a Method nor a StageKind subclass; left out")


def taken_by(plugins: dict[str, Plugin], name: str) -> str:
    return f" by {plugins[name]}" if name in plugins else " (built in)"
