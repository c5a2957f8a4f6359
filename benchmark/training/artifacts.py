"""What the stage kinds' artifact checks share (`artifact_problem` of methods/stage.py): an artifact
loaded from a results directory, which is not trusted, is compared with what training writes,
the fields and their types, the stage it names, and each module's weights by name and shape
(the module built on the meta device: no memory, no initialisation)."""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from benchmark.spec import StageSpec


def fields_problem(state: Any, stage: StageSpec, types: dict[str, type | tuple[type, ...]]) -> str:
    """"" if `state` is a dict of the stage with these fields of these types, else what is not."""
    if not isinstance(state, dict):
        return f"a {type(state).__name__}, not a dict"
    missing = [key for key in ("stage", *types) if key not in state]
    if missing:
        return f"no {', '.join(missing)}"
    if state["stage"] != stage.to_dict():
        return "made for another stage"
    wrong = [key for key, kind in types.items() if not isinstance(state[key], kind) or isinstance(state[key], bool)]
    return f"{', '.join(wrong)} of the wrong type" if wrong else ""


def weights_problem(weights: Any, build: Callable[[], nn.Module]) -> str:
    """"" if `weights` is the state dict of the module `build` makes (names and shapes), else what differs."""
    if not isinstance(weights, dict) or not all(isinstance(w, torch.Tensor) for w in weights.values()):
        return "weights that are not a dict of tensors"
    with torch.device("meta"):
        expected = build().state_dict()
    if set(weights) != set(expected):
        return f"weights named otherwise than the model's ({len(set(weights) ^ set(expected))} names differ)"
    wrong = [name for name, w in expected.items() if weights[name].shape != w.shape]
    return f"weights of other shapes ({wrong[0]}: {tuple(weights[wrong[0]].shape)})" if wrong else ""


def tensor_problem(name: str, value: Any, dtype: torch.dtype, shape: tuple[int | None, ...]) -> str:
    """"" if `value` is a tensor of this dtype and shape (None: any size there), else what it is."""
    if not isinstance(value, torch.Tensor):
        return f"{name} is not a tensor"
    if value.dtype != dtype or value.dim() != len(shape) or any(s is not None and s != v
                                                                 for s, v in zip(shape, value.shape)):
        return f"{name} is {value.dtype} {tuple(value.shape)}, not {dtype} {shape}"
    return ""
