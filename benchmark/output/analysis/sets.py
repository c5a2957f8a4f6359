"""The image sets the analyses compare, all of the same size K and as uint8 [K, 3, H, W]:

- `original`: the training subset itself (dataset, shots, seed), in a seeded random order,
  cycled when K is larger than the subset (then it has fewer than K distinct images);
- any method that makes images (`mixup`, the composing methods `chimeramix_grid`,
  `chimeramix_seg`, `hydramix`, and the pixel-space `gridmix`, `segmix`, `hydramix_direct`, ...:
  `Method.mixes_images`): the images the method makes of batches of 64 of the subset, its `made`
  (a method that replaces batches with probability p_gen always replaces them), with the stages
  that `run` trained for (dataset, shots, seed, profile) (results/artifacts/).

Every set is drawn without the random crop (the classifier's translation): what is compared is
the images a method makes, not the crop. Horizontal flips, which the methods apply to their
sources, are kept.
"""
from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from benchmark.errors import UserError
from benchmark.orchestration.plan import resolve
from benchmark.orchestration.store import Store
from benchmark.orchestration.tasks import RunTask
from benchmark.profiles import PROFILES, check_profile
from benchmark.spec import RunSpec

if TYPE_CHECKING:
    from benchmark.training.pipeline import TrainData
    from methods import Method

ORIGINAL = "original"
MAX_K = 50_000  # images per set: FID's customary sample size (each set is held in memory as uint8)


def image_methods() -> list[str]:
    """The methods whose `augment` makes new images."""
    from methods import METHODS
    return [name for name, cls in METHODS.items() if cls.mixes_images]


def valid_sets() -> list[str]:
    return [ORIGINAL, *image_methods()]


def set_label(name: str) -> str:
    if name == ORIGINAL:
        return "Original"
    from methods import get_method
    return get_method(name).label


def parse_sets(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UserError("--sets is empty; give a comma-separated list such as original,mixup,hydramix")
    valid = valid_sets()
    for name in names:
        if name not in valid:
            raise UserError(f"unknown set '{name}'; valid: {', '.join(valid)}")
    return list(dict.fromkeys(names))


def set_task(method: str, dataset: str, shots: int, seed: int, profile: str) -> RunTask:
    """The run of `method` on the subset, with the method's default hyperparameters."""
    return resolve([RunSpec(method, dataset, shots, seed, profile=profile)]).runs[0]


def set_tasks(method: str, dataset: str, shots: int, seed: int, profiles: list[str]) -> list[RunTask]:
    """The method's runs on the subset under each of `profiles` that has recipes for all it needs."""
    tasks = []
    for profile in profiles:
        try:
            tasks.append(set_task(method, dataset, shots, seed, profile))
        except UserError:  # a stage kind without a recipe of this profile
            continue
    return tasks


def trained_profiles(method: str, dataset: str, shots: int, seed: int, store: Store) -> list[str]:
    """The profiles for which `run` trained every stage this method needs."""
    return [t.spec.profile for t in set_tasks(method, dataset, shots, seed, list(PROFILES))
            if all(s.done(store) for s in t.requires)]


def resolve_profile(names: list[str], dataset: str, shots: int, seed: int, store: Store, profile: str | None) -> str:
    """The profile whose stages to use: the given one, else the only one with every needed
    artifact ("paper" when no set needs a stage: the profile then changes nothing but the result's
    name). Raises UserError naming what is missing and the `run` that trains it."""
    if profile is not None:
        check_profile(profile)
    candidates = [profile] if profile else list(PROFILES)
    needing = [n for n in names if n != ORIGINAL
               and any(t.requires for t in set_tasks(n, dataset, shots, seed, list(PROFILES)))]
    if not needing:
        return profile or "paper"
    trained = {n: trained_profiles(n, dataset, shots, seed, store) for n in needing}
    usable = [p for p in candidates if all(p in trained[n] for n in needing)]
    if len(usable) == 1:
        return usable[0]
    if usable:
        raise UserError(f"trained stages of several profiles exist for {dataset} shots={shots} seed={seed}; "
                        f"choose one with --profile ({', '.join(usable)})")
    missing = next(n for n in needing if not (set(trained[n]) & set(candidates)))
    tasks = set_tasks(missing, dataset, shots, seed, candidates)
    if not tasks:
        raise UserError(f"method {missing} has no recipe for {dataset} under profile {profile}")
    trainable = next((t for t in tasks if training_command(t, store.root)), tasks[0])
    raise UserError(missing_stages(trainable, store.root))


def training_command(task: RunTask, results_dir: Path) -> str | None:
    """The `run` command of a grid that trains the stages this run needs, if a grid does."""
    from benchmark.orchestration.grids import GRIDS
    needed = {s.id for s in task.requires}
    for name, grid in GRIDS.items():
        similar = [s for s in grid.build() if (s.method, s.dataset, s.shots, s.seed, s.profile)
                   == (task.spec.method, task.dataset, task.spec.shots, task.spec.seed, task.spec.profile)]
        if any(needed <= {st.id for st in run.requires} for run in resolve(similar).runs):
            return (f"python -m benchmark run --grid {name} --methods {task.spec.method} --datasets {task.dataset} "
                    f"--shots {task.spec.shots} --seeds {task.spec.seed} --results-dir {results_dir}")
    return None


def missing_stages(task: RunTask, results_dir: Path) -> str:
    """The error for a run whose stages are not trained, with the `run` command that trains them."""
    missing = f"no trained {task.requires[0].label} for {task.describe()} in {results_dir}"
    command = training_command(task, results_dir)
    if command:
        return f"{missing}; train it with: {command}"
    return f"{missing}, and no grid trains it; see the grids of profile '{task.spec.profile}' with `python -m benchmark list grids`"


def prepared_method(task: RunTask, store: Store, data: TrainData) -> Method:
    """A copy of the task's method set up on `data` with its trained stages. A UserError names the
    `run` that trains a missing stage."""
    if not all(s.done(store) for s in task.requires):
        raise UserError(missing_stages(task, store.root))
    method = copy.copy(task.method)
    method.setup(data, {s.kind.name: store.artifact_path(s.id) for s in task.requires})
    return method


@dataclass
class Subset:
    images: torch.Tensor  # uint8 [n, 3, H, W]
    labels: torch.Tensor
    num_classes: int
    image_size: int


def load_subset(dataset: str, shots: int, seed: int, data_dir: Path) -> Subset:
    from benchmark.data import cached_dataset, subsample
    data = cached_dataset(dataset, str(data_dir))
    idx = subsample(data.train_y, shots, seed)
    return Subset(data.train_x[idx], data.train_y[idx], data.num_classes, data.image_size)


def original_set(subset: Subset, k: int, gen: torch.Generator) -> torch.Tensor:
    n = len(subset.images)
    order = torch.cat([torch.randperm(n, generator=gen) for _ in range(-(-k // n))])[:k]
    return subset.images[order]


def method_set(task: RunTask, subset: Subset, store: Store, k: int, gen: torch.Generator,
               batch_size: int = 64) -> torch.Tensor:
    """K images the task's method makes of batches of the subset (its `made`)."""
    from benchmark.training.pipeline import TrainData, denormalize
    data = TrainData(subset.images, subset.labels, pad=0)
    method = prepared_method(task, store, data)
    n = len(data)
    order = torch.cat([torch.randperm(n, generator=gen) for _ in range(-(-k // n))])[:k]
    out = []
    with torch.inference_mode():
        for i in range(0, k, batch_size):
            out.append(denormalize(method.made(data.batch(order[i:i + batch_size])).x))
    return torch.cat(out)


def build_sets(names: list[str], dataset: str, shots: int, seed: int, profile: str, k: int, store: Store,
               data_dir: Path) -> dict[str, torch.Tensor]:
    """name -> uint8 [K, 3, H, W], on the CPU; every set is drawn with its own generator seeded by
    its name, so adding a set to the list does not change the others."""
    if k < 1:
        raise UserError(f"--k must be at least 1, got {k}")
    subset = load_subset(dataset, shots, seed, data_dir)
    sets = {}
    for name in names:
        set_seed = zlib.crc32(f"0:{name}".encode())  # "0:": the seeds of the results written so far
        gen = torch.Generator().manual_seed(set_seed)
        torch.manual_seed(set_seed)  # the methods draw masks and partners from the global RNG
        if name == ORIGINAL:
            sets[name] = original_set(subset, k, gen)
        else:
            sets[name] = method_set(set_task(name, dataset, shots, seed, profile), subset, store, k, gen)
    return sets
