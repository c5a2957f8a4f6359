"""Grids: plain functions returning the RunSpecs of a paper table (or the demo), the filters of a
grid, and the cartesian product of a selection without a named grid (`product`: the command line's
--datasets x --methods x --shots x --seeds, or a grid file). The plan resolves them (a parameter
equal to its method's default is the same run as none)."""
from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

from benchmark.arguments import parse_list, parse_methods, parse_seeds, parse_shots
from benchmark.data import check_dataset_name, dataset_label, folder_of
from benchmark.errors import UserError
from benchmark.profiles import check_profile
from benchmark.spec import ALL_SHOTS, AUGMENT_POLICIES, RunSpec, Shots
from methods import METHODS, get_method

SHOTS = (5, 10, 20, 30, 50, 100)
SEEDS = (0, 1, 2, 3, 4)
TABLE1_DATASETS = ("cifair10", "stl10", "cifair100")

# ChimeraMix Table 1: each row (our method name) and the datasets the paper reports it on.
TABLE1_ROWS: dict[str, tuple[str, ...]] = {
    "baseline": TABLE1_DATASETS,
    "cutout": TABLE1_DATASETS,
    "random_erasing": TABLE1_DATASETS,
    "cosine": TABLE1_DATASETS,
    "mixup": TABLE1_DATASETS,
    "glico": TABLE1_DATASETS,
    "scattering": ("cifair10", "cifair100"),
    "supermix": ("cifair100",),
    "chimeramix_grid": TABLE1_DATASETS,
    "chimeramix_seg": TABLE1_DATASETS,
}


def registered(rows: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Only methods in the registry: a paper row appears once its method works."""
    return {m: d for m, d in rows.items() if m in METHODS}


# ChimeraMix Table 2 (ciFAIR-100): (method, augment policy) rows.
TABLE2_ROWS: tuple[tuple[str, str], ...] = (
    ("autoaugment", "none"), ("trivialaugment", "none"),
    *((m, a) for m in ("chimeramix_grid", "chimeramix_seg") for a in AUGMENT_POLICIES),
)
TABLE3_METHODS = ("gridmix", "segmix", "chimeramix_grid", "chimeramix_seg")  # ChimeraMix Table 3
FIG4_METHODS = ("chimeramix_grid", "gridmix", "hydramix", "hydramix_direct")  # HydraMix Fig. 4, 5 shots
PGEN_VALUES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9)  # HydraMix Fig. 5, 5 shots; 0.5, the default, is the hydramix grid's run
# The six settings of the SynerMix README: plain, intra, MixUp, Manifold MixUp (alpha 1 there), intra + MixUp,
# intra + Manifold MixUp; as (method, overrides).
SYNERMIX_SETTINGS: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = (
    ("baseline", ()), ("synermix_intra", ()), ("mixup", ()), ("manifold_mixup", (("alpha", 1.0),)),
    ("synermix_mixup", ()), ("synermix_manifold", ()))
SYNERMIX_POOL = 500  # shots = every training image of CIFAR-100 (500 per class): the whole pool
# The SynerMix code's datasets besides CIFAR-100, each trained on its whole training pool
SYNERMIX_DATASETS = ("miniimagenet", "food101", "oxford_pet", "caltech256")
# The few-shot question on fine-grained photos: the six settings and the Table 1 rows that apply at 224 px
SYNERMIX_FEWSHOT_EXTRA = (("cutout", ()), ("random_erasing", ()))
SYNERMIX_FEWSHOT_DATASETS = ("oxford_pet", "caltech256")
SYNERMIX_FEWSHOT_SHOTS = (5, 10, 20, 50)
SYNERMIX_SMALL_DATASETS = ("cifair10", "cifair100")
DEMO_EXTRA = ("hydramix", "manifold_mixup", "synermix_intra", "synermix_mixup", "synermix_manifold")
FOLDER_CPU_PROFILE = "medium"  # folder datasets without --profile on a machine without a GPU
MAX_RUNS = 100_000  # in one product: 50 times the largest paper grid


def table1() -> list[RunSpec]:
    return [RunSpec(m, d, s, k) for m, ds in registered(TABLE1_ROWS).items() for d in ds for s in SHOTS for k in SEEDS]


def table2() -> list[RunSpec]:
    return [RunSpec(m, "cifair100", s, k, augment=a) for m, a in TABLE2_ROWS if m in METHODS for s in SHOTS for k in SEEDS]


def table3() -> list[RunSpec]:
    return [RunSpec(m, d, s, k) for m in TABLE3_METHODS if m in METHODS for d in TABLE1_DATASETS for s in SHOTS for k in SEEDS]


def hydramix() -> list[RunSpec]:
    return [*table1(), *(RunSpec("hydramix", d, s, k) for d in TABLE1_DATASETS for s in SHOTS for k in SEEDS)]


def fig4() -> list[RunSpec]:
    return [RunSpec(m, d, 5, k) for m in FIG4_METHODS if m in METHODS for d in TABLE1_DATASETS for k in SEEDS]


def pgen() -> list[RunSpec]:
    return [RunSpec("hydramix", d, 5, k, overrides=(("p_gen", p),)) for p in PGEN_VALUES for d in TABLE1_DATASETS
            for k in SEEDS]


def synermix() -> list[RunSpec]:
    return [RunSpec(m, "cifar100", SYNERMIX_POOL, k, profile="synermix", overrides=o) for m, o in SYNERMIX_SETTINGS
            for k in SEEDS]


def synermix_datasets() -> list[RunSpec]:
    return [*synermix(), *(RunSpec(m, d, ALL_SHOTS, k, profile="synermix", overrides=o) for m, o in SYNERMIX_SETTINGS
                           for d in SYNERMIX_DATASETS for k in SEEDS)]


def synermix_fewshot() -> list[RunSpec]:
    return [RunSpec(m, d, s, k, profile="synermix", overrides=o) for m, o in (*SYNERMIX_SETTINGS, *SYNERMIX_FEWSHOT_EXTRA)
            for d in SYNERMIX_FEWSHOT_DATASETS for s in SYNERMIX_FEWSHOT_SHOTS for k in SEEDS]


def synermix_small() -> list[RunSpec]:
    return [RunSpec(m, d, s, k, overrides=o) for m, o in SYNERMIX_SETTINGS for d in SYNERMIX_SMALL_DATASETS
            for s in SHOTS for k in SEEDS]


def demo() -> list[RunSpec]:
    methods = [*registered(TABLE1_ROWS), *DEMO_EXTRA]
    return [RunSpec(m, "digits", s, k, profile="quick") for m in methods for s in (5, 20) for k in (0, 1)]


@dataclass(frozen=True)
class Grid:
    build: Callable[[], list[RunSpec]]
    summary: str
    published: tuple[str, ...] = ()  # the tables of results/paper/ its rows are compared with


TABLE1_CSV, TABLE2_CSV, TABLE3_CSV = "chimeramix_table1.csv", "chimeramix_table2.csv", "chimeramix_table3.csv"


GRIDS: dict[str, Grid] = {
    "table1": Grid(table1, "ChimeraMix Table 1: every registered row x ciFAIR-10, STL-10, ciFAIR-100 x 5-100 shots x 5 seeds",
                   (TABLE1_CSV,)),
    "table2": Grid(table2, "ChimeraMix Table 2: AutoAugment, TrivialAugment, ChimeraMix+Grid/+Seg with none/AA/TA on ciFAIR-100",
                   (TABLE2_CSV,)),
    "table3": Grid(table3, "ChimeraMix Table 3: GridMix, SegMix (no generator) vs ChimeraMix+Grid/+Seg on the three datasets",
                   (TABLE3_CSV,)),
    # HydraMix's own tables could not be read: its ChimeraMix and baseline rows are Table 1's
    "hydramix": Grid(hydramix, "HydraMix accuracy table: the Table 1 rows plus HydraMix (N = 4) on the three datasets",
                     (TABLE1_CSV,)),
    # fig4's GridMix row is in Table 3, its ChimeraMix+Grid row in Table 1 (and 3: the same numbers)
    "fig4": Grid(fig4, "HydraMix Fig. 4: ChimeraMix+Grid, GridMix, HydraMix, HydraMix without generator at 5 shots",
                 (TABLE1_CSV, TABLE3_CSV)),
    "pgen": Grid(pgen, "HydraMix Fig. 5: HydraMix at 5 shots with p_gen 0, 0.1, 0.25, 0.5, 0.75, 0.9"),
    "synermix": Grid(synermix, "SynerMix README's six settings (plain, intra, MixUp, Manifold MixUp, intra + MixUp, "
                               "intra + Manifold MixUp) on all of CIFAR-100 with its ResNet-18 recipe, 5 seeds"),
    "synermix_datasets": Grid(synermix_datasets, "the six SynerMix settings on its five datasets (CIFAR-100, miniImageNet, "
                                                 "Food-101, Oxford-IIIT Pet, Caltech-256), whole training sets, its "
                                                 "recipes, 5 seeds"),
    "synermix_fewshot": Grid(synermix_fewshot, "the six SynerMix settings, Cutout and Random Erasing on Oxford-IIIT Pet "
                                               "and Caltech-256 at 5-50 shots, SynerMix's 224-px recipe, 5 seeds"),
    "synermix_small": Grid(synermix_small, "the six SynerMix settings on ciFAIR-10 and ciFAIR-100 at 5-100 shots under "
                                           "the ChimeraMix recipe, 5 seeds", (TABLE1_CSV,)),  # its Baseline and MixUp rows
    "demo": Grid(demo, "Table 1 methods, HydraMix, Manifold MixUp and SynerMix on the bundled digits set, quick profile, "
                       "shots 5 and 20, seeds 0 and 1"),
}


def grid_specs(name: str) -> list[RunSpec]:
    if name not in GRIDS:
        raise UserError(f"unknown grid '{name}'; valid: {', '.join(GRIDS)}")
    return GRIDS[name].build()


def select(specs: list[RunSpec], grid: str, methods: str | None = None, datasets: str | None = None,
           shots: str | None = None, seeds: str | None = None, profile: str | None = None) -> list[RunSpec]:
    """Filter a grid's specs; every filter value must occur in the grid (`--methods all`: every one)."""
    wanted = {
        "method": (parse_methods(methods), "--methods"),
        "dataset": (parse_list(datasets, "--datasets"), "--datasets"),
        "shots": (parse_shots(shots), "--shots"),
        "seed": (parse_seeds(seeds), "--seeds"),
        "profile": (parse_list(profile, "--profile"), "--profile"),
    }
    for name in wanted["method"][0] or []:
        get_method(name)
    for name in wanted["dataset"][0] or []:
        check_dataset_name(name)
    for field_name, (values, option) in wanted.items():
        if values is None:
            continue
        present = list(dict.fromkeys(getattr(s, field_name) for s in specs))
        for v in values:
            if v not in present:
                raise UserError(f"{option}: '{v}' is not in grid '{grid}'; valid: {', '.join(map(str, present))}")
        specs = [s for s in specs if getattr(s, field_name) in values]
    return specs


def default_profile(dataset: str) -> str:
    """`paper`, except for a folder on a machine without a GPU (a check without torch)."""
    from benchmark.orchestration.cost import CUDA, local_device_kind
    return FOLDER_CPU_PROFILE if folder_of(dataset) and local_device_kind() != CUDA else "paper"


def product(datasets: list[str], methods: list[str], shots: list[Shots], seeds: list[int], profile: str | None,
            augments: list[str] = ("none",), overrides: dict[str, dict[str, list[Any]]] | None = None,
            recipe: dict[str, list[Any]] | None = None) -> tuple[list[RunSpec], list[str]]:
    """Every combination, with one RunSpec per value of each swept parameter (`overrides`: method ->
    parameter -> values; `recipe`: recipe value -> values, for every method); (the specs, the notes:
    the profile chosen, the runs left out because their method does not apply there, and why)."""
    from benchmark.orchestration.plan import dataset_shape
    from benchmark.orchestration.tasks import NotApplicable, Resolver
    if profile is not None:
        check_profile(profile)
    swept = [len(values) for parameters in (overrides or {}).values() for values in parameters.values()]
    swept += [len(values) for values in (recipe or {}).values()]
    runs = math.prod([len(datasets), len(methods), len(shots), len(seeds), len(augments), *swept])
    if runs > MAX_RUNS:
        raise UserError(f"the selection is {runs} runs ({len(datasets)} datasets x {len(methods)} methods x "
                        f"{len(shots)} shots x {len(seeds)} seeds{' x the swept values' if swept else ''}); at most "
                        f"{MAX_RUNS}: give fewer --methods, --shots or --seeds")
    resolver = Resolver(dataset_shape)
    specs, notes, left_out = [], [], defaultdict(list)
    for dataset in datasets:
        chosen = profile or default_profile(dataset)
        if profile is None and chosen == FOLDER_CPU_PROFILE:
            notes.append(f"profile {chosen} for {dataset_label(dataset)}: the default of folder datasets on a "
                         "machine without a GPU (--profile paper for the published recipe)")
        for name, s, augment in itertools.product(methods, shots, augments):
            swept = (overrides or {}).get(name, {})
            recipe_swept = recipe or {}
            for values, recipe_values in itertools.product(itertools.product(*swept.values()),
                                                           itertools.product(*recipe_swept.values())):
                runs = [RunSpec(name, dataset, s, k, augment, chosen, tuple(zip(swept, values)),
                                tuple(zip(recipe_swept, recipe_values))) for k in seeds]
                try:
                    resolver.run(runs[0])
                except NotApplicable as exc:
                    left_out[f"{exc.where} ({exc.reason})"].append(name)
                    continue
                specs += runs
    notes += [f"left out {where}: {', '.join(dict.fromkeys(names))}" for where, names in left_out.items()]
    return list(dict.fromkeys(specs)), notes  # a value given twice (--methods baseline,baseline) is one run
