"""Scattering (Oyallon et al.'s deep hybrid networks; ChimeraMix Table 1 cites Gauthier et al.
2021): a fixed scattering transform (J = 2, L = 8: 3 x 81 channels at 8x8 for 32x32 images, kymatio's
filters) replaces the first layers of the recipe's network, which then learns on the scattering
coefficients (benchmark.training.scattering, the hybrids in benchmark.training.models)."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from benchmark.errors import UserError
from methods.registry import register
from methods.base import Context, Method

if TYPE_CHECKING:
    from benchmark.training.recipes import Recipe

SCATTERING_SIZE = 32  # J = 2 on 32x32 images, as in Table 1
SCATTERING_HYBRIDS = {"wrn-16-8": "scattering-wrn-16-8", "cnn": "scattering-cnn"}  # a model -> its hybrid (models.py)


@register("scattering")
class Scattering(Method):
    label = "Scattering"
    summary = "hybrid network: a fixed scattering transform (J = 2, L = 8) replaces the first conv and group"

    @classmethod
    def unsuitable(cls, ctx: Context) -> str | None:
        if ctx.image_size != SCATTERING_SIZE:
            return f"needs {SCATTERING_SIZE}x{SCATTERING_SIZE} images (J = 2 on 32x32, as in Table 1)"
        return None

    @classmethod
    def adapt_recipe(cls, recipe: Recipe, ctx: Context) -> Recipe:
        if recipe.model not in SCATTERING_HYBRIDS:
            raise UserError(f"method scattering has no hybrid of model {recipe.model}; "
                            f"valid: {', '.join(SCATTERING_HYBRIDS)}")
        return dataclasses.replace(recipe, model=SCATTERING_HYBRIDS[recipe.model])
