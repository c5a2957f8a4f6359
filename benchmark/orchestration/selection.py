"""What `run`, `status`, `report` and `export` work on: a named grid or a grid file (`--grid`),
narrowed by the filters, or, without `--grid`, the cartesian product of `--datasets` x `--methods`
x `--shots` x `--seeds` under one profile (`--profile`; by default the published recipe, except
for folder datasets on a machine without a GPU: `medium`). Runs of a method that does not apply to
a dataset or shots value (`Method.unsuitable`) are left out of a product, each with a note."""
from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.data import dataset_label, folder_of
from benchmark.errors import UserError
from benchmark.orchestration.grids import (grid_specs, parse_list, parse_methods, parse_seeds, parse_shots,
                                           select)
from benchmark.training.spec import PROFILES, RunSpec, Shots
from methods import METHODS, Context, get_method

FOLDER_CPU_PROFILE = "medium"  # folder datasets without --profile on a machine without a GPU
MAX_RUNS = 100_000  # in one product: 50 times the largest paper grid


@dataclass(frozen=True)
class Selection:
    name: str  # the report's folder: the grid's name, the grid file's stem, else from the datasets
    summary: str
    specs: list[RunSpec]
    notes: list[str] = field(default_factory=list)  # the profile chosen, the runs left out and why


def default_profile(dataset: str) -> str:
    """`paper`, except for a folder on a machine without a GPU (a check without torch)."""
    from benchmark.orchestration.cost import CUDA, local_device_kind
    return FOLDER_CPU_PROFILE if folder_of(dataset) and local_device_kind() != CUDA else "paper"


def product(datasets: list[str], methods: list[str], shots: list[Shots], seeds: list[int], profile: str | None,
            augments: list[str] = ("none",), overrides: dict[str, dict[str, list[Any]]] | None = None,
            ) -> tuple[list[RunSpec], list[str]]:
    """Every combination, with one RunSpec per value of each swept parameter (`overrides`: method ->
    parameter -> values); (the specs, the notes)."""
    from benchmark.orchestration.plan import dataset_shape
    if profile is not None and profile not in PROFILES:
        raise UserError(f"unknown profile '{profile}'; valid: {', '.join(PROFILES)}")
    swept = [len(values) for parameters in (overrides or {}).values() for values in parameters.values()]
    runs = math.prod([len(datasets), len(methods), len(shots), len(seeds), len(augments), *swept])
    if runs > MAX_RUNS:
        raise UserError(f"the selection is {runs} runs ({len(datasets)} datasets x {len(methods)} methods x "
                        f"{len(shots)} shots x {len(seeds)} seeds{' x the swept values' if swept else ''}); at most "
                        f"{MAX_RUNS}: give fewer --methods, --shots or --seeds")
    specs, notes, left_out = [], [], defaultdict(list)
    for dataset in datasets:
        chosen = profile or default_profile(dataset)
        if profile is None and chosen == FOLDER_CPU_PROFILE:
            notes.append(f"profile {chosen} for {dataset_label(dataset)}: the default of folder datasets on a "
                         "machine without a GPU (--profile paper for the published recipe)")
        shape = dataset_shape(dataset)
        for name, s in itertools.product(methods, shots):
            method = get_method(name)
            reason = method.unsuitable(Context(dataset, shape.num_classes, shape.image_size, s, 0, chosen))
            if reason:
                left_out[f"on {dataset_label(dataset)} at {s} shots ({reason})"].append(name)
                continue
            for augment in augments:
                try:
                    method.policy_for(augment)
                except UserError as exc:
                    left_out[f"with augment {augment} ({exc})"].append(name)
                    continue
                swept = (overrides or {}).get(name, {})
                for values in itertools.product(*swept.values()):
                    specs += [RunSpec(name, dataset, s, k, augment, chosen, tuple(zip(swept, values))) for k in seeds]
    notes += [f"left out {where}: {', '.join(dict.fromkeys(names))}" for where, names in left_out.items()]
    return list(dict.fromkeys(specs)), notes  # a value given twice (--methods baseline,baseline) is one run


def from_args(args) -> Selection:
    """The selection of a command line (options --grid, --datasets, --methods, --shots, --seeds, --profile)."""
    if args.grid:
        if args.grid.endswith(".toml"):
            from benchmark.orchestration.grid_file import read_grid_file
            grid = read_grid_file(Path(args.grid))
            name, summary, specs, notes = grid.name, f"grid file {args.grid}", grid.specs, grid.notes
        else:
            from benchmark.orchestration.grids import GRIDS
            specs, notes = grid_specs(args.grid), []
            name, summary = args.grid, GRIDS[args.grid].summary
        return Selection(name, summary, select(specs, args.grid, args.methods, args.datasets, args.shots, args.seeds,
                                               args.profile), notes)
    given = {"--datasets": args.datasets, "--methods": args.methods, "--shots": args.shots, "--seeds": args.seeds}
    missing = [option for option, value in given.items() if value is None]
    if missing:
        raise UserError(f"give --grid G, or --datasets, --methods, --shots and --seeds (missing: {', '.join(missing)}); "
                        "e.g. --datasets folder:PATH --methods all --shots 5 --seeds 0-4")
    datasets = parse_list(args.datasets, "--datasets")
    methods = parse_methods(args.methods) or list(METHODS)
    for dataset in datasets:
        dataset_label(dataset)  # an unknown dataset fails here
    specs, notes = product(datasets, methods, parse_shots(args.shots), parse_seeds(args.seeds),
                           args.profile)
    name = "+".join(slug(dataset_label(d)) for d in datasets)
    summary = (f"{', '.join(map(dataset_label, datasets))}: methods {args.methods}, shots {args.shots}, "
               f"seeds {args.seeds}{f', profile {args.profile}' if args.profile else ''}")
    return Selection(name, summary, specs, notes)


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "@-_" else "-" for ch in text).strip("-")
