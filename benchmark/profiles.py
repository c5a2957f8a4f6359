"""The training profiles, declared once: each profile's name, what it is for, and its classifier
recipes (benchmark.training.recipes). A stage kind keeps its own recipes beside it (methods/*.py),
in a table keyed by these names; the command line, the selection and the analyses read the names
from here.

A dataset takes the recipe of its recipe size (`recipe_size`): images from 160 px take 224 (Food-101,
Oxford-IIIT Pet, Caltech-256, folder@SIZE:PATH with SIZE >= 160); smaller ones the nearer of 32 (ciFAIR,
CIFAR, digits, folder:PATH) and 96 (STL-10, miniImageNet's 84 px, folder@96:PATH), a tie going to the
smaller, cheaper one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from benchmark.errors import UserError
from benchmark.training.recipes import (MEDIUM_32, MEDIUM_96, MEDIUM_224, PAPER_32, PAPER_96, PAPER_224, QUICK_32,
                                        QUICK_96, QUICK_224, SYNERMIX_32, SYNERMIX_96, SYNERMIX_224, Recipe)

RECIPE_SIZES = (32, 96, 224)
LARGE_FROM = 160  # images from this size take the 224-px recipes


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    classifier: dict[int, Recipe]  # recipe size -> the classifier's recipe


PROFILES: dict[str, Profile] = {p.name: p for p in [
    Profile("paper", "the published ChimeraMix recipe (WRN-16-8 / ResNet-50, 200 epochs; at 224 px SynerMix's "
                     "ResNet-18): a GPU's job", {32: PAPER_32, 96: PAPER_96, 224: PAPER_224}),
    Profile("quick", "a smoke test: a 24k-parameter CNN for 12 epochs, minutes on a CPU (its numbers compare nothing)",
            {32: QUICK_32, 96: QUICK_96, 224: QUICK_224}),
    Profile("medium", "the quick networks trained 4x as long: comparisons on a CPU",
            {32: MEDIUM_32, 96: MEDIUM_96, 224: MEDIUM_224}),
    Profile("synermix", "the SynerMix code's recipe (ResNet-18, batch 128, 120 epochs; CIFAR-100, miniImageNet, "
                        "224-px sets)", {32: SYNERMIX_32, 96: SYNERMIX_96, 224: SYNERMIX_224}),
]}

S = TypeVar("S")


def check_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise UserError(f"unknown profile '{name}'; valid: {', '.join(PROFILES)}")
    return PROFILES[name]


def recipe_size(image_size: int) -> int:
    """224 from LARGE_FROM px, else the nearer of 32 and 96 (a tie: 32)."""
    if image_size >= LARGE_FROM:
        return 224
    return min((32, 96), key=lambda size: (abs(image_size - size), size))


def by_profile(table: dict[str, dict[int, S]], profile: str, image_size: int, what: str) -> S:
    """The recipe of a table (profile -> recipe size -> recipe) for images of `image_size`."""
    check_profile(profile)
    size = recipe_size(image_size)
    if size not in table.get(profile, {}):
        valid = ", ".join(p for p in PROFILES if size in table.get(p, {}))
        raise UserError(f"profile '{profile}' has no {what} recipe for {image_size}-px images; valid: {valid}")
    return table[profile][size]


def recipe_for(profile: str, image_size: int) -> Recipe:
    """The classifier's recipe of a profile for images of `image_size`."""
    return by_profile({name: p.classifier for name, p in PROFILES.items()}, profile, image_size, "classifier")
