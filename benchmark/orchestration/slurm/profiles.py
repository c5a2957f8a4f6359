"""Cluster profiles (slurm/<name>.toml): what each job asks SLURM for, per dataset and per
section (`classifier` for the runs, and each stage kind's own section), with command-line values
winning over the profile."""
from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from benchmark.errors import UserError
from benchmark.paths import REPOSITORY

PROFILE_DIR = REPOSITORY / "slurm"
DEFAULT_PROFILE = "default"


@dataclass(frozen=True)
class Resources:
    """What one job asks for, and how tasks are packed into jobs. Hashable: tasks with equal
    resources go into one array."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gres: str | None = None
    gpus: int | None = None  # --gpus-per-node; use either gres or gpus
    cpus: int = 1  # --cpus-per-task (a job trains with one torch thread: benchmark.orchestration.worker)
    mem: str | None = None  # --mem, e.g. "12G"
    time: int = 60  # --time in minutes
    constraint: str | None = None
    exclude: str | None = None
    array_parallelism: int = 256  # jobs of one array running at once
    runs_per_job: int = 1  # tasks run one after another in one job
    max_timeouts: int = 3  # requeues after hitting the time limit before the job counts as failed
    signal_delay_s: int = 90  # USR2 this long before the time limit: submitit checkpoints and requeues
    setup: tuple[str, ...] = ()  # shell lines run in the job before the worker (module load ...)
    sbatch: tuple[tuple[str, str], ...] = ()  # any other sbatch option, name -> value

    def executor_parameters(self) -> dict[str, Any]:
        """Parameters of submitit.SlurmExecutor.update_parameters."""
        params: dict[str, Any] = {
            "time": self.time, "cpus_per_task": self.cpus, "array_parallelism": self.array_parallelism,
            "signal_delay_s": self.signal_delay_s,
        }
        optional = {"partition": self.partition, "account": self.account, "qos": self.qos, "gres": self.gres,
                    "gpus_per_node": self.gpus, "mem": self.mem, "constraint": self.constraint,
                    "exclude": self.exclude}
        params.update({k: v for k, v in optional.items() if v is not None})
        if self.setup:
            params["setup"] = list(self.setup)
        if self.sbatch:
            params["additional_parameters"] = dict(self.sbatch)
        return params

    def describe(self) -> str:
        parts = [f"partition={self.partition}" if self.partition else "",
                 f"gres={self.gres}" if self.gres else "", f"gpus={self.gpus}" if self.gpus is not None else "",
                 f"cpus={self.cpus}", f"mem={self.mem}" if self.mem else "", f"time={format_minutes(self.time)}",
                 f"account={self.account}" if self.account else "", f"qos={self.qos}" if self.qos else ""]
        return " ".join(p for p in parts if p)


def parse_minutes(value: Any, where: str) -> int:
    """A SLURM time limit (minutes as a number, or "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM",
    "D-HH:MM:SS") in whole minutes, rounded up."""
    if isinstance(value, bool):
        raise UserError(f"{where}: time {value!r} is not a time limit")
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        minutes = int(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", value.strip())
        if m is None:
            raise UserError(f"{where}: time '{value}' is not a SLURM time limit; use minutes or "
                            "HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS")
        days, a, b, c = m.groups()
        if days is not None:  # D-HH[:MM[:SS]]
            seconds = int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
        elif c is not None:  # HH:MM:SS
            seconds = int(a) * 3600 + int(b) * 60 + int(c)
        else:  # MM:SS
            seconds = int(a) * 60 + int(b)
        minutes = math.ceil(seconds / 60)
    else:
        raise UserError(f"{where}: time {value!r} is not a time limit; use minutes or 'HH:MM:SS'")
    if minutes < 1:
        raise UserError(f"{where}: time limit {value!r} is shorter than a minute")
    return minutes


def format_minutes(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    text = f"{rest // 60:02d}:{rest % 60:02d}:00"
    return f"{days}-{text}" if days else text


def parse_mem(value: Any, where: str) -> str:
    """Memory per node: an integer number of GB, or SLURM's "<int>[K|M|G|T]" ("12G", "500M")."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return f"{value}G"
    if isinstance(value, str):
        m = re.fullmatch(r"(\d+)\s*([KMGT])?B?", value.strip(), re.IGNORECASE)
        if m and int(m.group(1)) > 0:
            return f"{m.group(1)}{(m.group(2) or 'M').upper()}"
    raise UserError(f"{where}: mem {value!r} is not a memory size; use e.g. 12G or 500M (integers)")


def _int(minimum: int):
    def check(value: Any, where: str, key: str) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise UserError(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")
        return value
    return check


def _text(value: Any, where: str, key: str) -> str | None:
    if not isinstance(value, str):
        raise UserError(f"{where}: {key} must be a string, got {value!r}")
    return value.strip() or None  # "" unsets a value of an earlier table


def _lines(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where}: {key} must be a list of shell lines, got {value!r}")
    return tuple(value)


def _table(value: Any, where: str, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise UserError(f"{where}: {key} must be a table of sbatch options, e.g. {{ mail-type = \"FAIL\" }}")
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))


KEYS = {
    "partition": _text, "account": _text, "qos": _text, "gres": _text, "constraint": _text, "exclude": _text,
    "gpus": _int(0), "cpus": _int(1), "mem": lambda v, w, k: parse_mem(v, w), "time": lambda v, w, k: parse_minutes(v, w),
    "array_parallelism": _int(1), "runs_per_job": _int(1), "max_timeouts": _int(0), "signal_delay_s": _int(0),
    "setup": _lines, "sbatch": _table,
}
assert set(KEYS) == {f.name for f in fields(Resources)}


def check_values(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(KEYS)}")
    return {k: KEYS[k](v, where, k) for k, v in table.items()}


@dataclass(frozen=True)
class Profile:
    """A cluster profile. Later tables win: top level < [SECTION] < [datasets.NAME] <
    [datasets.NAME.SECTION] < command line, where SECTION is `classifier` or a stage kind's section."""

    name: str
    path: Path | None
    base: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    dataset_sections: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)

    def resources(self, dataset: str, section: str) -> Resources:
        key = "folder" if dataset.startswith("folder:") else dataset
        values: dict[str, Any] = {}
        for layer in (self.base, self.sections.get(section, {}), self.datasets.get(key, {}),
                      self.dataset_sections.get((key, section), {}), self.overrides):
            values.update(layer)
        resources = Resources(**values)
        if resources.signal_delay_s >= 60 * resources.time:
            raise UserError(f"slurm profile {self.path or self.name} ({key} {section}): signal_delay_s "
                            f"{resources.signal_delay_s} is not shorter than the time limit "
                            f"{format_minutes(resources.time)}: the job would checkpoint before it trains")
        return resources

    def with_overrides(self, overrides: dict[str, Any]) -> "Profile":
        return replace(self, overrides=check_values({k: v for k, v in overrides.items() if v is not None},
                                                    "command line"))


def profile_names() -> list[str]:
    dirs = [Path("slurm"), PROFILE_DIR]
    return sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.toml")})


def find_profile(name_or_path: str) -> Path:
    candidate = Path(name_or_path).expanduser()
    if name_or_path.endswith(".toml") or os.sep in name_or_path:
        if candidate.is_file():
            return candidate
        raise UserError(f"slurm profile file '{name_or_path}' does not exist")
    for folder in (Path("slurm"), PROFILE_DIR):
        if (folder / f"{name_or_path}.toml").is_file():
            return folder / f"{name_or_path}.toml"
    raise UserError(f"unknown slurm profile '{name_or_path}'; valid: {', '.join(profile_names()) or '(none)'} "
                    f"(slurm/NAME.toml), or the path of a .toml file")


def profile_sections() -> list[str]:
    """The tables a profile may have per kind of task: the classifier runs', and each stage kind's."""
    from benchmark.orchestration.tasks import CLASSIFIER_SECTION
    from methods import STAGE_KINDS
    return list(dict.fromkeys([CLASSIFIER_SECTION, *(kind.profile_section for kind in STAGE_KINDS.values())]))


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> Profile:
    from benchmark.data import DATASETS

    sections = profile_sections()
    path = find_profile(name_or_path)
    try:
        doc = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UserError(f"slurm profile {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 TOML") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"slurm profile {path}: {exc}") from None
    doc.pop("description", None)
    sections_doc = {k: doc.pop(k) for k in sections if k in doc}
    datasets_doc = doc.pop("datasets", {})
    valid_tables = ", ".join([*sections, "datasets"])
    for key, value in doc.items():
        if isinstance(value, dict) and key not in KEYS:
            raise UserError(f"slurm profile {path}: unknown table [{key}]; valid: {valid_tables}")
    base = check_values(doc, f"slurm profile {path}")
    by_section = {s: check_values(table, f"slurm profile {path} [{s}]") for s, table in sections_doc.items()}
    if not isinstance(datasets_doc, dict):
        raise UserError(f"slurm profile {path}: 'datasets' must be a table [datasets.NAME]")
    datasets, dataset_sections = {}, {}
    valid_datasets = [*DATASETS, "folder"]
    for name, table in datasets_doc.items():
        if name not in valid_datasets:
            raise UserError(f"slurm profile {path}: unknown dataset [datasets.{name}]; valid: {', '.join(valid_datasets)}")
        if not isinstance(table, dict):
            raise UserError(f"slurm profile {path}: 'datasets.{name}' must be a table")
        table = dict(table)
        for section in sections:
            if section in table:
                dataset_sections[(name, section)] = check_values(table.pop(section),
                                                                 f"slurm profile {path} [datasets.{name}.{section}]")
        datasets[name] = check_values(table, f"slurm profile {path} [datasets.{name}]")
    return Profile(path.stem, path, base, by_section, datasets, dataset_sections)

