"""A restricted unpickler for dataset files: it rebuilds numpy arrays and plain containers (dicts,
lists, tuples, sets, strings, bytes, numbers) and refuses every other global a pickle names, so a
pickle cannot run code, whatever its checksum. Used for miniImageNet's pickled caches."""
from __future__ import annotations

import pickle
from typing import IO, Any

ALLOWED = {
    # numpy arrays, their dtypes and numpy scalars (numpy 1 and numpy 2 module names); protocol 5
    # pickles rebuild arrays from a buffer
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    # containers that protocols 0-3 name as globals; bytes, as Python 3 writes them at protocol 2
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"), ("_codecs", "encode"),
    ("__builtin__", "set"), ("__builtin__", "frozenset"),
}


class Refused(pickle.UnpicklingError):
    """The pickle names a global outside ALLOWED."""

    def __init__(self, module: str, name: str):
        super().__init__(f"it names {module}.{name}; only numpy arrays and plain containers are admitted")
        self.module, self.name = module, name


class ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise Refused(module, name)
        return super().find_class(module, name)


def load(file: IO[bytes]) -> Any:
    """Unpickle numpy arrays and plain containers from `file`; a Refused error for anything else.
    Python 2 pickles load too (their strings as latin-1, as numpy's own loader does)."""
    return ArraysOnly(file, encoding="latin1").load()
