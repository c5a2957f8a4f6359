"""The image sets the analyses compare, all of the same size K and as uint8 [K, 3, H, W]:

- `original`: the training subset itself (dataset, shots, seed), in a seeded random order,
  cycled when K is larger than the subset (then it has fewer than K distinct images);
- `mixup`: MixUp images of the subset, lambda ~ Beta(alpha, alpha) drawn per image (the method's
  alpha), partners drawn uniformly from the whole subset (any class), as MixUp does;
- any composing method (`chimeramix_grid`, `chimeramix_seg`, `hydramix`, and the pixel-space
  `gridmix`, `segmix`, `hydramix_direct`): the compositions the method trains on, i.e. the
  method's own `augment` with p_gen = 1 on batches of the subset, with the generator that `run`
  trained for (dataset, shots, seed, profile) (results/artifacts/).

Every set is drawn without the random crop (the classifier's translation): what is compared is
the images a method makes, not the crop. Horizontal flips, which the methods apply to their
sources, are kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zlib

import torch

from benchmark.errors import UserError
from benchmark.training.spec import PROFILES, RunSpec, StageSpec
from benchmark.orchestration.store import Store

if TYPE_CHECKING:
    from benchmark.training.pipeline import TrainData
    from methods.generative import Composition

BASE_SETS = {"original": "Original", "mixup": "MixUp"}


def composing_methods() -> list[str]:
    from methods import METHODS
    from methods.generative import Composition
    return [name for name, cls in METHODS.items() if issubclass(cls, Composition)]


def valid_sets() -> list[str]:
    return [*BASE_SETS, *composing_methods()]


def set_label(name: str) -> str:
    if name in BASE_SETS:
        return BASE_SETS[name]
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


def trained_profiles(method: str, dataset: str, shots: int, seed: int, store: Store) -> list[str]:
    """The profiles for which `run` trained this method's stage (all profiles if it needs none)."""
    from methods import get_method
    cls = get_method(method)
    out = []
    for profile in PROFILES:
        stage = cls.stage(RunSpec(method, dataset, shots, seed, profile=profile))
        if stage is None or store.stage_done(stage.stage_id):
            out.append(profile)
    return out


def needs_generator(method: str) -> bool:
    from methods import get_method
    return get_method(method).stage(RunSpec(method, "digits", 1, 0)) is not None


def resolve_profile(names: list[str], dataset: str, shots: int, seed: int, store: Store, profile: str | None) -> str:
    """The profile whose generators to use: the given one, else the only one with every needed
    artifact ("paper" when no set needs a generator: the profile then changes nothing but the
    result's name). Raises UserError naming what is missing and how to train it."""
    if profile is not None and profile not in PROFILES:
        raise UserError(f"unknown profile '{profile}'; valid: {', '.join(PROFILES)}")
    needing = [n for n in names if n not in BASE_SETS and needs_generator(n)]
    candidates = [profile] if profile else list(PROFILES)
    usable = [p for p in candidates if all(p in trained_profiles(n, dataset, shots, seed, store) for n in needing)]
    if not needing:
        return profile or "paper"
    if len(usable) == 1 or (usable and profile):
        return usable[0]
    if len(usable) > 1:
        raise UserError(f"generators of both profiles exist for {dataset} shots={shots} seed={seed}; "
                        f"choose one with --profile ({', '.join(usable)})")
    missing = [n for n in needing if not trained_profiles(n, dataset, shots, seed, store)
               or (profile and profile not in trained_profiles(n, dataset, shots, seed, store))]
    missing = missing or needing
    where = f"profile '{profile}'" if profile else "any profile"
    raise UserError(f"no trained generator for {', '.join(missing)} on {dataset} shots={shots} seed={seed} ({where}) "
                    f"in {store.root}; train it first, e.g. `python -m benchmark run --grid demo` for digits, "
                    f"or a grid with that method (`python -m benchmark list grids`)")


def missing_generator(stage: StageSpec, spec: RunSpec, results_dir: Path) -> str:
    """The error for an untrained generator, with the `run` command of a grid that trains it."""
    from benchmark.orchestration.grids import GRIDS
    from methods import get_method
    missing = f"no trained generator for {spec.describe()} in {results_dir}"
    for name, grid in GRIDS.items():
        if any(s.method == spec.method and get_method(s.method).stage(s) == stage for s in grid.build()):
            return (f"{missing}; train it with: python -m benchmark run --grid {name} --methods {spec.method} "
                    f"--datasets {spec.dataset} --shots {spec.shots} --seeds {spec.seed} --results-dir {results_dir}")
    return f"{missing}, and no grid trains it; see the grids of profile '{spec.profile}' with `python -m benchmark list grids`"


def composer_of(method: str, dataset: str, shots: int, seed: int, profile: str, store: Store, data: "TrainData",
                num_classes: int, image_size: int, hparams: dict[str, Any]) -> "Composition":
    """The composing method set up on `data` with its trained generator, if it needs one; a
    UserError naming the `run` that trains a missing one."""
    from methods import Context, get_method
    cls = get_method(method)
    spec = RunSpec(method, dataset, shots, seed, profile=profile)
    stage = cls.stage(spec)
    artifact = None
    if stage is not None:
        if not store.stage_done(stage.stage_id):
            raise UserError(missing_generator(stage, spec, store.root))
        artifact = store.artifact_path(stage.stage_id)
    mixer = cls(Context(dataset, num_classes, image_size, hparams, profile))
    mixer.setup(data, artifact)
    return mixer


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


def mixup_set(subset: Subset, k: int, gen: torch.Generator, alpha: float = 1.0) -> torch.Tensor:
    n = len(subset.images)
    a = torch.randint(0, n, (k,), generator=gen)
    b = torch.randint(0, n, (k,), generator=gen)
    lam = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha)).sample((k,))
    x = lam[:, None, None, None] * subset.images[a].float() + (1 - lam[:, None, None, None]) * subset.images[b].float()
    return x.round().clamp(0, 255).to(torch.uint8)


def composed_set(method: str, subset: Subset, dataset: str, shots: int, seed: int, profile: str, store: Store,
                 k: int, gen: torch.Generator, batch_size: int = 64) -> torch.Tensor:
    """K compositions of a composing method: its own `augment` with p_gen = 1."""
    from benchmark.training.pipeline import TrainData, denormalize
    data = TrainData(subset.images, subset.labels, pad=0)
    mixer = composer_of(method, dataset, shots, seed, profile, store, data, subset.num_classes, subset.image_size,
                        {"p_gen": 1.0})
    n = len(data)
    order = torch.cat([torch.randperm(n, generator=gen) for _ in range(-(-k // n))])[:k]
    out = []
    with torch.inference_mode():
        for i in range(0, k, batch_size):
            out.append(denormalize(mixer.augment(data.batch(order[i:i + batch_size])).x))
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
        if name == "original":
            sets[name] = original_set(subset, k, gen)
        elif name == "mixup":
            sets[name] = mixup_set(subset, k, gen)
        else:
            sets[name] = composed_set(name, subset, dataset, shots, seed, profile, store, k, gen)
    return sets
