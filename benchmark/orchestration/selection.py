"""What `run`, `status`, `report` and `export` work on: a named grid or a grid file (`--grid`),
narrowed by the filters, or, without `--grid`, the cartesian product of `--datasets` x `--methods`
x `--shots` x `--seeds` under one profile (`--profile`; by default the published recipe, except
for folder datasets on a machine without a GPU: `medium`). Runs of a method that does not apply to
a dataset or shots value (`Method.unsuitable`) are left out of a product, each with a note. `run
--tune` (or a grid file's [tune] table) also tunes some of its methods (benchmark.orchestration.tuning)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from benchmark.arguments import parse_list, parse_methods, parse_seeds, parse_shots
from benchmark.data import dataset_label
from benchmark.errors import UserError
from benchmark.orchestration.grid_file import read_grid_file
from benchmark.orchestration.grids import GRIDS, grid_specs, product, select
from benchmark.orchestration.tuning import TuneOptions
from benchmark.spec import RunSpec
from methods import METHODS


@dataclass(frozen=True)
class Selection:
    name: str  # the report's folder: the grid's name, the grid file's stem, else from the datasets
    summary: str
    specs: list[RunSpec]
    notes: list[str] = field(default_factory=list)  # the profile chosen, the runs left out and why
    compare: str = ""  # a grid file's `compare_with`: the named grid whose published numbers the report shows
    tune: TuneOptions | None = None  # what `run` tunes first


def from_args(args) -> Selection:
    """The selection of a command line, with what `run --tune` (or the grid file) tunes."""
    selection = selection_of(args)
    if not hasattr(args, "tune"):  # a command without --tune (`tune` itself tunes its whole selection)
        return selection
    if args.tune:
        from benchmark.parser import DEFAULT_TRIALS
        return replace(selection, tune=TuneOptions(("baseline",), args.trials or DEFAULT_TRIALS, args.once))
    if args.trials is not None or args.once:
        raise UserError("--trials and --once apply with --tune")
    return selection


def selection_of(args) -> Selection:
    """The selection of a command line (options --grid, --datasets, --methods, --shots, --seeds, --profile)."""
    if args.grid:
        tune = None
        if args.grid.endswith(".toml"):
            grid = read_grid_file(Path(args.grid))
            name, summary, specs, notes = grid.name, f"grid file {args.grid}", grid.specs, grid.notes
            compare, tune = grid.compare, grid.tune
        else:
            specs, notes, compare = grid_specs(args.grid), [], ""
            name, summary = args.grid, GRIDS[args.grid].summary
        return Selection(name, summary, select(specs, args.grid, args.methods, args.datasets, args.shots, args.seeds,
                                               args.profile), notes, compare, tune)
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
