"""A grid written as a TOML file (`--grid my_sweep.toml`): the cartesian product of its datasets,
methods, shots, seeds and augment policies under one profile, with parameter overrides per method
(a list of values sweeps the parameter: one run per value). For example:

    datasets = ["folder:/data/pets", "folder@96:/data/pets"]
    methods = ["baseline", "mixup", "hydramix"]    # or "all"
    shots = [5, 10, "all"]                          # or "5,10" or "1-5"
    seeds = "0-4"                                   # or [0, 1, 2]
    profile = "medium"                              # optional: as --profile
    augment = ["none", "trivialaugment"]            # optional: ["none"]
    compare_with = "table1"                         # optional: the named grid whose published numbers
                                                    # the report shows beside these runs

    [overrides.hydramix]
    p_gen = [0.25, 0.5]

    [recipe]                                        # optional: recipe values of every run
    lr = 0.01                                       # (lr, weight_decay, epochs, batch_size; a list sweeps)

    [tune]                                          # optional: as `run --tune`
    trials = 20
    methods = ["baseline"]                          # optional: ["baseline"]
    once = false                                    # optional: false

The file is checked whole: every mistake is one line naming the key, the bad value and the valid
choices, and all of them are reported at once.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from benchmark.arguments import parse_seeds, parse_shots
from benchmark.errors import UserError
from benchmark.orchestration.grids import GRIDS, default_profile, product
from benchmark.orchestration.plan import dataset_shape
from benchmark.orchestration.tasks import Resolver
from benchmark.orchestration.tuning import TuneOptions
from benchmark.profiles import PROFILES
from benchmark.spec import AUGMENT_POLICIES, RunSpec
from methods import METHODS, get_method

REQUIRED = ("datasets", "methods", "shots", "seeds")
OPTIONAL = ("profile", "augment", "compare_with", "overrides", "recipe", "tune")
TUNE_KEYS = ("trials", "methods", "once")


@dataclass(frozen=True)
class GridFile:
    name: str  # the file's stem: the report's folder
    specs: list[RunSpec]
    notes: list[str]
    compare: str = ""  # compare_with
    tune: TuneOptions | None = None


def read_grid_file(path: Path) -> GridFile:
    if not path.is_file():
        raise UserError(f"grid file {path} not found; give the path of a .toml grid file (or a grid of `list grids`)")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    mistakes: list[str] = []
    for key in data:
        if key not in (*REQUIRED, *OPTIONAL):
            mistakes.append(f"unknown key '{key}'; valid: {', '.join((*REQUIRED, *OPTIONAL))}")
    for key in REQUIRED:
        if key not in data:
            mistakes.append(f"{key}: missing; every grid file gives {', '.join(REQUIRED)}")
    datasets = items_of(data, "datasets", check_dataset, mistakes)
    methods = list(METHODS) if data.get("methods") == "all" else items_of(data, "methods", check_method, mistakes)
    shots = [v for item in items_of(data, "shots", lambda x: parse_shots(str(x), "shots"), mistakes) for v in item]
    seeds = [v for item in items_of(data, "seeds", lambda x: parse_seeds(str(x), "seeds"), mistakes) for v in item]
    profile = data.get("profile")
    if profile is not None and profile not in PROFILES:
        mistakes.append(f"profile: unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    augments = items_of(data, "augment", check_augment, mistakes) if "augment" in data else ["none"]
    overrides = check_overrides(data.get("overrides", {}), methods, datasets, profile, mistakes)
    recipe = check_recipe(data.get("recipe", {}), methods, datasets, profile, mistakes)
    tune = check_tune(data["tune"], methods, mistakes) if "tune" in data else None
    compare = data.get("compare_with", "")
    with_tables = [name for name, grid in GRIDS.items() if grid.published]
    if compare and compare not in with_tables:
        mistakes.append(f"compare_with: {compare!r} is not a grid with published numbers; valid: {', '.join(with_tables)}")
    if mistakes:
        raise UserError("\n".join(f"{path}: {m}" for m in dict.fromkeys(mistakes)))
    specs, notes = product(datasets, methods, shots, seeds, profile, augments, overrides, recipe)
    if not specs:
        raise UserError(f"{path}: plans no runs ({'; '.join(notes) or 'nothing applies'}); give methods that apply "
                        "to its datasets and shots")
    return GridFile(path.stem, specs, notes, compare, tune)


def items_of(data: dict[str, Any], key: str, check: Callable[[Any], Any], mistakes: list[str]) -> list[Any]:
    """The key's values (a list, or one value; a string may hold a comma-separated list), each
    checked: a failed check is a mistake naming the key."""
    value = data.get(key, [])
    values = value if isinstance(value, list) else [value]
    if isinstance(value, str):
        values = [v.strip() for v in value.split(",") if v.strip()]
    if key in data and not values:
        mistakes.append(f"{key}: empty; give at least one value")
    checked = []
    for v in values:
        try:
            checked.append(check(v))
        except UserError as exc:  # the parsers of --shots and --seeds name the key themselves
            mistakes.append(str(exc) if str(exc).startswith(f"{key}: ") else f"{key}: {exc}")
    return checked


def check_dataset(name: Any) -> str:
    if not isinstance(name, str):
        raise UserError(f"{name!r} is not a dataset name (a string, e.g. \"folder:/data/pets\")")
    dataset_shape(name)  # an unknown dataset, a missing or malformed folder
    return name


def check_method(name: Any) -> str:
    get_method(str(name))
    return str(name)


def check_augment(policy: Any) -> str:
    if policy not in AUGMENT_POLICIES:
        raise UserError(f"unknown augment policy {policy!r}; valid: {', '.join(AUGMENT_POLICIES)}")
    return policy


def check_overrides(table: Any, methods: list[str], datasets: list[str], profile: str | None,
                    mistakes: list[str]) -> dict[str, dict[str, list[Any]]]:
    """{method: {parameter: values}}; each value checked by the plan's resolver, as a run of the
    method on each dataset with it."""
    resolver = Resolver(dataset_shape)
    if not isinstance(table, dict):
        mistakes.append(f"overrides: {table!r} is not a table; write [overrides.METHOD] with parameter = value")
        return {}
    overrides: dict[str, dict[str, list[Any]]] = {}
    for method_name, params in table.items():
        key = f"overrides.{method_name}"
        if method_name not in methods:
            mistakes.append(f"{key}: method '{method_name}' is not among the grid's methods; valid: {', '.join(methods)}")
            continue
        if not isinstance(params, dict):
            mistakes.append(f"{key}: {params!r} is not a table of parameter = value")
            continue
        swept = {p: v if isinstance(v, list) else [v] for p, v in params.items()}
        for parameter in [p for p, values in swept.items() if not values]:  # would sweep the method out
            mistakes.append(f"{key}.{parameter}: empty; give at least one value")
        for dataset in datasets:
            for parameter, values in swept.items():
                for value in values:
                    run = RunSpec(method_name, dataset, 5, 0, profile=profile or default_profile(dataset),
                                  overrides=((parameter, value),))
                    try:
                        resolver.run(run)
                    except UserError as exc:
                        mistakes.append(f"{key}.{parameter}: {exc}")
        overrides[method_name] = swept
    return overrides


def check_recipe(table: Any, methods: list[str], datasets: list[str], profile: str | None,
                 mistakes: list[str]) -> dict[str, list[Any]]:
    """{recipe value: values}; each value checked by the plan's resolver, as a run of the grid's
    first method on each dataset with it."""
    if not isinstance(table, dict):
        mistakes.append(f"recipe: {table!r} is not a table; write [recipe] with name = value (e.g. lr = 0.01)")
        return {}
    resolver = Resolver(dataset_shape)
    swept = {name: v if isinstance(v, list) else [v] for name, v in table.items()}
    for dataset in datasets if methods else []:
        for name, values in swept.items():
            for value in values:
                run = RunSpec(methods[0], dataset, 5, 0, profile=profile or default_profile(dataset),
                              recipe=((name, value),))
                try:
                    resolver.run(run)
                except UserError as exc:
                    mistakes.append(f"recipe.{name}: {exc}")
    return swept


def check_tune(table: Any, methods: list[str], mistakes: list[str]) -> TuneOptions | None:
    """The [tune] table: trials (required), methods (default ["baseline"], among the grid's), once (default false)."""
    if not isinstance(table, dict):
        mistakes.append(f"tune: {table!r} is not a table; write [tune] with trials = N")
        return None
    for key in table:
        if key not in TUNE_KEYS:
            mistakes.append(f"tune: unknown key '{key}'; valid: {', '.join(TUNE_KEYS)}")
    trials = table.get("trials")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        mistakes.append(f"tune.trials: {trials!r} is not allowed; give a positive whole number")
    tuned = table.get("methods", ["baseline"])
    tuned = tuned if isinstance(tuned, list) else [tuned]
    for name in tuned:
        if name not in methods:
            mistakes.append(f"tune.methods: method {name!r} is not among the grid's methods; valid: {', '.join(methods)}")
    once = table.get("once", False)
    if not isinstance(once, bool):
        mistakes.append(f"tune.once: {once!r} is not true or false")
    return TuneOptions(tuple(map(str, tuned)), trials, once) if isinstance(trials, int) else None
