"""RunSpec: one classifier training run, identified by a stable hash of its canonical JSON."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

AUGMENT_POLICIES = ("none", "autoaugment", "trivialaugment")
PROFILES = ("paper", "quick")


def stable_id(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunSpec:
    method: str
    dataset: str
    shots: int
    seed: int
    augment: str = "none"
    profile: str = "paper"
    overrides: tuple[tuple[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["overrides"] = dict(self.overrides)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunSpec":
        d = dict(d)
        d["overrides"] = tuple(sorted(d.get("overrides", {}).items()))
        return cls(**d)

    @property
    def run_id(self) -> str:
        return stable_id(self.to_dict())

    @property
    def hparams(self) -> dict[str, Any]:
        return dict(self.overrides)

    def describe(self) -> str:
        extra = "" if self.augment == "none" else f"+{self.augment}"
        over = "".join(f" {k}={v}" for k, v in self.overrides)
        return f"{self.method}{extra} {self.dataset} shots={self.shots} seed={self.seed} [{self.profile}]{over}"


@dataclass(frozen=True)
class StageSpec:
    """A stage that classifier runs depend on (e.g. a generator), trained once and cached.
    Every RunSpec that names the same StageSpec reuses its artifact."""

    kind: str
    dataset: str
    shots: int
    seed: int
    profile: str = "paper"
    params: tuple[tuple[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["params"] = dict(self.params)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StageSpec":
        d = dict(d)
        d["params"] = tuple(sorted(d.get("params", {}).items()))
        return cls(**d)

    @property
    def stage_id(self) -> str:
        return stable_id(self.to_dict())

    def describe(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.kind} {self.dataset} shots={self.shots} seed={self.seed} [{self.profile}] {params}".strip()
