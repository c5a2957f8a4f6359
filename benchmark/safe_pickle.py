"""Pickled dataset files (CIFAR's batches, miniImageNet's caches) read without running their code: an
unpickler that builds numpy arrays and plain containers and nothing else.

A pickle names the callables that rebuild its objects; `find_class` admits only numpy's array
reconstruction (an ndarray and its dtype) and the latin1 encoding Python 3 pickles bytes with at
protocol 2, so a crafted file that names anything else (os.system,
pathlib.Path.touch, ...) fails to load before anything is called. Plain values and containers (dict,
list, tuple, str, bytes, numbers, bool, None) need no callable. The result is checked as well: an
array may hold numbers, not Python objects.
"""
from __future__ import annotations

import pickle
from typing import IO, Any

import numpy as np

ALLOWED = {  # numpy < 2 writes the numpy.core names; numpy 2 maps them to numpy._core
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),  # numpy numbers
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # pickle protocol 5
    # containers that pickle protocols below 4 name as globals (Python 2's module name too)
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"),
    ("__builtin__", "set"), ("__builtin__", "frozenset"),
}
PLAIN = (dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float, bool, type(None), np.number, np.bool_)


class UnsafePickle(pickle.UnpicklingError):
    """The pickle names a callable outside ALLOWED, or holds an array of Python objects."""


def _latin1(text: Any, encoding: Any) -> bytes:
    """`_codecs.encode` as Python 3 pickles bytes at protocol 2 and lower: (text, "latin1") only."""
    if not isinstance(text, str) or encoding != "latin1":
        raise UnsafePickle(f"refused _codecs.encode with encoding {encoding!r}: only latin1 bytes")
    return text.encode("latin1")


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        if (module, name) not in ALLOWED:
            raise UnsafePickle(f"refused to load {module}.{name}: only numpy arrays and plain containers")
        return super().find_class(module, name)


def load(file: IO[bytes], encoding: str = "ASCII") -> Any:
    """The object pickled in `file` (`encoding`: how Python 2 strings decode, as pickle.load's;
    "bytes" keeps them bytes). UnsafePickle if it is anything but numpy arrays of numbers in
    plain containers; what pickle.load raises on damaged bytes otherwise."""
    content = _Unpickler(file, encoding=encoding).load()
    _check(content)
    return content


def _check(value: Any) -> None:
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:  # a container that holds itself
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            if item.dtype.hasobject:
                raise UnsafePickle("an array of Python objects")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif not isinstance(item, PLAIN):
            raise UnsafePickle(f"a {type(item).__name__}, not a numpy array or a plain container")
