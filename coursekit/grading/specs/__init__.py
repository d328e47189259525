"""What each graded function is checked on: its reference and its random test cases.

A graded function in an assignment has the name and signature of a coursekit function; its
spec names that reference, builds random float64 cases (with the edge cases the design asks
for: length 1, batch 1, no bias, every option) from a seeded generator, and lists the names
whose use in an answer means the student called an implementation instead of writing one.

One module per assignment (``rnn.py`` for chapter 2); adding an assignment = adding its module
to ``_ASSIGNMENT_MODULES`` below (see CONTRIBUTING.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["Case", "FunctionSpec", "SpecBuilder", "SPECS", "lit", "spec_for"]


@dataclass
class Case:
    """One call: ``args``/``kwargs`` are argument structures (see ``evaluate.py``) over ``arrays``."""

    label: str
    args: list[Any]
    kwargs: dict[str, Any]
    arrays: dict[str, np.ndarray]


@dataclass
class FunctionSpec:
    name: str
    reference: str  # "module:function"
    make_cases: Callable[[torch.Generator], list[Case]]
    forbidden_attributes: tuple[str, ...] = ()
    rtol: float = 1e-7
    atol: float = 1e-9
    gradients: bool = True  # compare the gradient with respect to every float input
    # compare(case, got, expected) -> a problem or None, replacing the element-wise comparison
    # of outputs and gradients (sampling is judged by its distribution, not by equal draws)
    compare: Callable[[Case, dict, dict], str | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def reference_function(self) -> Callable:
        module, _, attr = self.reference.partition(":")
        return getattr(importlib.import_module(module), attr)


class SpecBuilder:
    """Collects named random arrays while a case's argument structure is written."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator
        self.arrays: dict[str, np.ndarray] = {}

    def tensor(self, *shape: int, scale: float = 1.0) -> dict:
        name = f"a{len(self.arrays)}"
        values = torch.rand(shape, generator=self.generator, dtype=torch.float64) * 2 - 1
        self.arrays[name] = (values * scale).numpy()
        return {"t": name}

    def given(self, values, dtype: str = "float64") -> dict:
        """An array of the given values (not drawn) as a tensor argument; a dtype other than
        float64 (``"int64"`` ids, ``"bool"`` masks) gets no gradient."""
        name = f"a{len(self.arrays)}"
        self.arrays[name] = np.array(values, dtype=dtype)
        return {"t": name} if dtype == "float64" else {"t": name, "dtype": dtype}

    def ids(self, high: int, *shape: int) -> dict:
        """Random token ids in ``[0, high)`` of ``shape``, an int64 tensor argument."""
        values = torch.randint(0, high, shape, generator=self.generator)
        return self.given(values.numpy(), "int64")

    def generator_argument(self) -> dict:
        """A ``{"gen": seed}`` argument: a fresh generator, its seed drawn from this one."""
        return {"gen": int(torch.randint(0, 2**31 - 1, (), generator=self.generator))}

    def weights(self, hidden: int, inputs: int, bias: bool = True) -> dict:
        """(weight_ih, weight_hh, bias_ih, bias_hh) as one tuple argument."""
        return {"seq": self.rnn_params(hidden, inputs, bias)}

    def rnn_params(self, hidden: int, inputs: int, bias: bool = True, gates: int = 1) -> list[dict]:
        """weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,) or None, at torch's
        init scale 1/sqrt(H); G = 1 for an RNN, 4 for an LSTM, 3 for a GRU."""
        scale = 1.0 / hidden**0.5
        rows = gates * hidden
        return [
            self.tensor(rows, inputs, scale=scale),
            self.tensor(rows, hidden, scale=scale),
            self.tensor(rows, scale=scale) if bias else {"lit": None},
            self.tensor(rows, scale=scale) if bias else {"lit": None},
        ]

    def case(self, label: str, args: list, **kwargs) -> Case:
        return Case(label, args, kwargs, self.arrays)


def lit(value: Any) -> dict:
    return {"lit": value}


_ASSIGNMENT_MODULES = (
    "coursekit.grading.specs.language_models",
    "coursekit.grading.specs.rnn",
    "coursekit.grading.specs.bptt",
    "coursekit.grading.specs.clipping",
    "coursekit.grading.specs.lstm",
    "coursekit.grading.specs.dropout",
    "coursekit.grading.specs.layernorm",
    "coursekit.grading.specs.scheduled_sampling",
    "coursekit.grading.specs.seq2seq",
    "coursekit.grading.specs.ssm",
    "coursekit.grading.specs.esn",
)

SPECS: dict[str, FunctionSpec] = {
    spec.name: spec
    for module in _ASSIGNMENT_MODULES
    for spec in importlib.import_module(module).FUNCTION_SPECS
}


def spec_for(name: str) -> FunctionSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"no grading spec for {name!r}; known: {sorted(SPECS)}") from None
