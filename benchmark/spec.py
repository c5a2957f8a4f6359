"""RunSpec: one classifier training run, and StageSpec: a stage that runs need trained first; each
identified by a stable hash of its JSON. A RunSpec's overrides (of its method's hyperparameters)
and recipe (values of its recipe: lr, weight decay, epochs, batch size) are canonical once the plan
has resolved it (orchestration.tasks): only the values that differ from the defaults, as the
defaults' types, so that the same run always has the same id. A run without recipe values has no
`recipe` key in its JSON: the ids of runs from before it existed stay the same."""
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
    """A frozen dataclass whose fields named in PAIRS hold (name, value) pairs, kept sorted; its
    JSON form holds them as dicts (a field of OMITTED_EMPTY not at all when it is empty), and its id
    is the hash of that JSON."""

    PAIRS: ClassVar[tuple[str, ...]]
    OMITTED_EMPTY: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for name in self.PAIRS:
            d[name] = dict(getattr(self, name))
            if name in self.OMITTED_EMPTY and not d[name]:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        d = dict(d)
        for name in cls.PAIRS:
            d[name] = tuple(sorted(d.get(name, {}).items()))
        return cls(**d)

    @property
    def id(self) -> str:
        return stable_id(self.to_dict())


@dataclass(frozen=True)
class RunSpec(Spec):
    PAIRS = ("overrides", "recipe")
    OMITTED_EMPTY = ("recipe",)  # added after the first records: a run without recipe values keeps its id

    method: str
    dataset: str
    shots: Shots
    seed: int
    augment: str = "none"
    profile: str = "paper"
    overrides: tuple[tuple[str, Any], ...] = field(default=())
    recipe: tuple[tuple[str, Any], ...] = field(default=())  # recipe values other than the profile's (lr, ...)

    def describe(self) -> str:
        extra = "" if self.augment == "none" else f"+{self.augment}"
        over = "".join(f" {k}={v}" for k, v in (*self.overrides, *self.recipe))
        return f"{self.method}{extra} {self.dataset} shots={self.shots} seed={self.seed} [{self.profile}]{over}"


@dataclass(frozen=True)
class StageSpec(Spec):
    """A stage that classifier runs depend on (e.g. a generator), trained once and cached.
    Every RunSpec that names the same StageSpec reuses its artifact."""

    PAIRS = ("params",)

    kind: str
    dataset: str
    shots: Shots
    seed: int
    profile: str = "paper"
    params: tuple[tuple[str, Any], ...] = field(default=())

    def describe(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.kind} {self.dataset} shots={self.shots} seed={self.seed} [{self.profile}] {params}".strip()


@dataclass(frozen=True)
class TrialSpec(Spec):
    """Trial number `trial` of the hyperparameter search (`tune`) of a run's method and recipe on
    its training subset (method, dataset, shots, seed, augment, profile, and the method overrides
    and recipe values it keeps fixed), validated by `folds`-fold cross-validation inside the subset. The trials of one search
    share every field but `trial`: their study."""

    PAIRS = ("overrides", "recipe")

    method: str
    dataset: str
    shots: int
    seed: int
    folds: int
    trial: int
    augment: str = "none"
    profile: str = "paper"
    overrides: tuple[tuple[str, Any], ...] = field(default=())
    recipe: tuple[tuple[str, Any], ...] = field(default=())

    @classmethod
    def of(cls, run: RunSpec, folds: int, trial: int) -> TrialSpec:
        return cls(run.method, run.dataset, run.shots, run.seed, folds, trial, run.augment, run.profile, run.overrides,
                   run.recipe)

    @property
    def run(self) -> RunSpec:
        """The run whose values the trial searches (its seed's run with the recipe's values)."""
        return RunSpec(self.method, self.dataset, self.shots, self.seed, self.augment, self.profile, self.overrides,
                       self.recipe)

    @property
    def study_id(self) -> str:
        d = self.to_dict()
        del d["trial"]
        return stable_id(d)

    def describe(self) -> str:
        return f"trial {self.trial} of {self.run.describe()}"
