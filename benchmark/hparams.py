"""A parameter's declaration, shared by the methods' hyperparameters (methods/base.py) and the
recipe values a run may override (benchmark/training/recipes.py): its default, the values it may
take, and the range `tune` may search."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmark.errors import UserError


@dataclass(frozen=True)
class HParam:
    """A hyperparameter: its default, the values it may take (numbers: low <= value <= high, or
    low < value with `above`; a bool takes either), and the range `tune` may search (log-uniformly
    with `log`; None: not searched)."""

    default: bool | int | float
    low: float | None = None
    high: float | None = None
    above: bool = False
    search: tuple[float, float] | None = None
    log: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.default, bool) and (self.low is None or self.high is None):
            raise TypeError(f"a numeric hyperparameter declares its valid range (low, high); default {self.default!r}")

    def valid(self, name: str) -> str:
        """The valid values, e.g. "0 < alpha <= 100"."""
        if isinstance(self.default, bool):
            return f"{name} true or false"
        return f"{self.low:g} {'<' if self.above else '<='} {name} <= {self.high:g}"

    def check(self, name: str, value: Any) -> bool | int | float:
        """`value` coerced to the default's type and checked against the range; a UserError otherwise."""
        value = coerce(name, self.default, value)
        if isinstance(value, bool):
            return value
        if not (self.low < value if self.above else self.low <= value) or not value <= self.high:
            raise UserError(f"parameter {name}: {value!r} is not allowed; valid: {self.valid(name)}")
        return value


def coerce(name: str, default: Any, value: Any) -> Any:
    """`value` as the type of the parameter's default: bools from true/false/1/0, integers only
    from whole numbers, floats from any number."""
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
                return value.strip().lower() in ("true", "1")
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise ValueError
        if kind is int:
            number = float(value)
            if isinstance(value, bool) or not number.is_integer():
                raise ValueError
            return int(number)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        return kind(value)
    except (TypeError, ValueError):
        wanted = {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, f"a {kind.__name__}")
        raise UserError(f"parameter {name}: {value!r} is not {wanted} (default {default!r})") from None
