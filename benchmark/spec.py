"""RunSpec: one classifier training run, and StageSpec: a stage that runs need trained first; each
identified by a stable hash of its JSON. A RunSpec's overrides are canonical once the plan has
resolved it (orchestration.tasks): only the hyperparameters that differ from the method's
defaults, as the defaults' types, so that the same run always has the same id."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

AUGMENT_POLICIES = {"none": "", "autoaugment": "AutoAugment", "trivialaugment": "TrivialAugment"}  # -> label
ALL_SHOTS = "all"  # a spec's shots: the whole training pool (its classes may then be imbalanced)
Shots = int | str  # samples per class, or ALL_SHOTS


def per_class(shots: Shots, n_images: int, num_classes: int) -> int:
    """The images per class a schedule counts for a subset of n_images: `shots`, or for the whole
    pool its mean per class (rounded down, at least 1)."""
    return max(n_images // num_classes, 1) if shots == ALL_SHOTS else int(shots)


def shots_order(shots: Shots) -> float:
    """A sort key: numbers ascending, the whole pool last."""
    return math.inf if shots == ALL_SHOTS else float(shots)


def stable_id(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class Spec:
    """A frozen dataclass whose last field holds (name, value) pairs, kept sorted; its JSON form
    holds them as a dict, and its id is the hash of that JSON."""

    PAIRS: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d[self.PAIRS] = dict(getattr(self, self.PAIRS))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        d = dict(d)
        d[cls.PAIRS] = tuple(sorted(d.get(cls.PAIRS, {}).items()))
        return cls(**d)

    @property
    def id(self) -> str:
        return stable_id(self.to_dict())


@dataclass(frozen=True)
class RunSpec(Spec):
    PAIRS = "overrides"

    method: str
    dataset: str
    shots: Shots
    seed: int
    augment: str = "none"
    profile: str = "paper"
    overrides: tuple[tuple[str, Any], ...] = field(default=())

    def describe(self) -> str:
        extra = "" if self.augment == "none" else f"+{self.augment}"
        over = "".join(f" {k}={v}" for k, v in self.overrides)
        return f"{self.method}{extra} {self.dataset} shots={self.shots} seed={self.seed} [{self.profile}]{over}"


@dataclass(frozen=True)
class StageSpec(Spec):
    """A stage that classifier runs depend on (e.g. a generator), trained once and cached.
    Every RunSpec that names the same StageSpec reuses its artifact."""

    PAIRS = "params"

    kind: str
    dataset: str
    shots: Shots
    seed: int
    profile: str = "paper"
    params: tuple[tuple[str, Any], ...] = field(default=())

    def describe(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.kind} {self.dataset} shots={self.shots} seed={self.seed} [{self.profile}] {params}".strip()
