"""Grids: plain functions returning the RunSpecs of a paper table (or the demo), and filters. The
plan resolves them (a parameter equal to its method's default is the same run as none)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from benchmark.errors import UserError
from benchmark.training.spec import ALL_SHOTS, AUGMENT_POLICIES, RunSpec, Shots
from benchmark.data import MAX_SEED, check_dataset_name
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
SYNERMIX_SMALL_DATASETS = ("cifair10", "cifair100")
DEMO_EXTRA = ("hydramix", "manifold_mixup", "synermix_intra", "synermix_mixup", "synermix_manifold")


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


GRIDS: dict[str, Grid] = {
    "table1": Grid(table1, "ChimeraMix Table 1: every registered row x ciFAIR-10, STL-10, ciFAIR-100 x 5-100 shots x 5 seeds"),
    "table2": Grid(table2, "ChimeraMix Table 2: AutoAugment, TrivialAugment, ChimeraMix+Grid/+Seg with none/AA/TA on ciFAIR-100"),
    "table3": Grid(table3, "ChimeraMix Table 3: GridMix, SegMix (no generator) vs ChimeraMix+Grid/+Seg on the three datasets"),
    "hydramix": Grid(hydramix, "HydraMix accuracy table: the Table 1 rows plus HydraMix (N = 4) on the three datasets"),
    "fig4": Grid(fig4, "HydraMix Fig. 4: ChimeraMix+Grid, GridMix, HydraMix, HydraMix without generator at 5 shots"),
    "pgen": Grid(pgen, "HydraMix Fig. 5: HydraMix at 5 shots with p_gen 0, 0.1, 0.25, 0.5, 0.75, 0.9"),
    "synermix": Grid(synermix, "SynerMix README's six settings (plain, intra, MixUp, Manifold MixUp, intra + MixUp, "
                               "intra + Manifold MixUp) on all of CIFAR-100 with its ResNet-18 recipe, 5 seeds"),
    "synermix_small": Grid(synermix_small, "the six SynerMix settings on ciFAIR-10 and ciFAIR-100 at 5-100 shots under "
                                           "the ChimeraMix recipe, 5 seeds"),
    "demo": Grid(demo, "Table 1 methods, HydraMix, Manifold MixUp and SynerMix on the bundled digits set, quick profile, "
                       "shots 5 and 20, seeds 0 and 1"),
}


def grid_specs(name: str) -> list[RunSpec]:
    if name not in GRIDS:
        raise UserError(f"unknown grid '{name}'; valid: {', '.join(GRIDS)}")
    return GRIDS[name].build()


def parse_list(text: str | None, option: str) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UserError(f"{option} is empty; give a comma-separated list")
    return items


MAX_RANGE = 10_000  # values of one FIRST-LAST range: a larger one is a typo, and would fill the memory


def parse_ints(text: str | None, option: str, positive: bool, largest: int | None = None) -> list[int] | None:
    """Comma-separated integers and inclusive ranges: "0,2" or "0-4"."""
    items = parse_list(text, option)
    if items is None:
        return None
    return list(dict.fromkeys(v for item in items for v in parse_range(item, option, positive, largest)))


def parse_seeds(text: str | None, option: str = "--seeds") -> list[int] | None:
    """parse_ints of seeds: from 0 to MAX_SEED (torch's generators take 64 bits)."""
    return parse_ints(text, option, positive=False, largest=MAX_SEED)


def parse_range(item: str, option: str, positive: bool, largest: int | None = None) -> list[int]:
    first, sep, last = item.partition("-") if not item.startswith("-") else (item, "", "")
    try:
        bounds = (int(first), int(last) if sep else int(first))
    except ValueError:
        raise UserError(f"{option}: '{item}' is not an integer or a range FIRST-LAST") from None
    if bounds[1] < bounds[0]:
        raise UserError(f"{option}: '{item}' is an empty range; give FIRST-LAST with FIRST <= LAST")
    if bounds[1] - bounds[0] >= MAX_RANGE:
        raise UserError(f"{option}: '{item}' is a range of {bounds[1] - bounds[0] + 1} values; give at most "
                        f"{MAX_RANGE} per range")
    smallest = 1 if positive else 0
    for value in bounds:
        if value < smallest:
            raise UserError(f"{option}: {value} is not allowed; give {'positive' if positive else 'non-negative'} "
                            "integers")
        if largest is not None and value > largest:
            raise UserError(f"{option}: {value} is too large; give integers from {smallest} to {largest}")
    return list(range(bounds[0], bounds[1] + 1))


def parse_methods(text: str | None) -> list[str] | None:
    """Method names, or `all`: every registered method (None: no filter)."""
    return None if text == "all" else parse_list(text, "--methods")


def parse_shots(text: str | None, option: str = "--shots") -> list[Shots] | None:
    """Like parse_ints (positive), and `all`: the whole training pool."""
    items = parse_list(text, option)
    if items is None:
        return None
    return list(dict.fromkeys(v for item in items
                              for v in ([ALL_SHOTS] if item == ALL_SHOTS else parse_range(item, option, True))))


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
