"""What each graded function is checked on: its reference and its test cases.

A graded function in an assignment has the name and signature of a coursekit function; its
spec here names that reference, builds random float64 cases (with the edge cases the design
asks for: length 1, batch 1, no bias, relu) from a seeded generator, and lists the names
whose use in an answer means the student called an implementation instead of writing one.

Adding an assignment = adding its specs here (see CONTRIBUTING.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["Case", "FunctionSpec", "SPECS", "spec_for"]


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
    extra: dict[str, Any] = field(default_factory=dict)

    def reference_function(self) -> Callable:
        module, _, attr = self.reference.partition(":")
        return getattr(importlib.import_module(module), attr)


class _Builder:
    """Collects named random arrays while a case's argument structure is written."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator
        self.arrays: dict[str, np.ndarray] = {}

    def tensor(self, *shape: int, scale: float = 1.0) -> dict:
        name = f"a{len(self.arrays)}"
        values = torch.rand(shape, generator=self.generator, dtype=torch.float64) * 2 - 1
        self.arrays[name] = (values * scale).numpy()
        return {"t": name}

    def weights(self, hidden: int, inputs: int, bias: bool = True) -> dict:
        """(weight_ih, weight_hh, bias_ih, bias_hh) as one tuple argument."""
        return {"seq": self.rnn_params(hidden, inputs, bias)}

    def rnn_params(self, hidden: int, inputs: int, bias: bool = True) -> list[dict]:
        scale = 1.0 / hidden**0.5
        return [
            self.tensor(hidden, inputs, scale=scale),
            self.tensor(hidden, hidden, scale=scale),
            self.tensor(hidden, scale=scale) if bias else {"lit": None},
            self.tensor(hidden, scale=scale) if bias else {"lit": None},
        ]

    def case(self, label: str, args: list, **kwargs) -> Case:
        return Case(label, args, kwargs, self.arrays)


def _lit(value: Any) -> dict:
    return {"lit": value}


# -- chapter 2: recurrent networks ----------------------------------------------------------

RNN_FORBIDDEN = ("RNN", "RNNCell", "rnn_tanh", "rnn_relu", "rnn_tanh_cell", "rnn_relu_cell", "_VF")


def _rnn_cell_step_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, inputs, hidden, nonlinearity, bias, scale in [
        ("B=3, I=4, H=5, tanh", 3, 4, 5, "tanh", True, 1.0),
        ("B=1, I=3, H=4, relu", 1, 3, 4, "relu", True, 2.0),
        ("B=2, I=6, H=3, tanh, no bias", 2, 6, 3, "tanh", False, 1.5),
        ("B=4, I=2, H=6, relu, no bias", 4, 2, 6, "relu", False, 2.0),
    ]:
        b = _Builder(g)
        x = b.tensor(batch, inputs, scale=scale)
        h = b.tensor(batch, hidden, scale=scale)
        args = [x, h, *b.rnn_params(hidden, inputs, bias)]
        cases.append(b.case(label, args, nonlinearity=_lit(nonlinearity)))
    return cases


def _rnn_forward_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, steps, batch, inputs, hidden, nonlinearity, bias in [
        ("T=6, B=3, I=4, H=5, tanh", 6, 3, 4, 5, "tanh", True),
        ("T=1, B=1 (edge case)", 1, 1, 3, 4, "tanh", True),
        ("T=5, B=2, relu, no bias", 5, 2, 3, 4, "relu", False),
        ("T=40, B=2 (long sequence)", 40, 2, 3, 3, "tanh", True),
    ]:
        b = _Builder(g)
        x = b.tensor(steps, batch, inputs, scale=1.5)
        h0 = b.tensor(batch, hidden)
        args = [x, h0, *b.rnn_params(hidden, inputs, bias)]
        cases.append(b.case(label, args, nonlinearity=_lit(nonlinearity)))
    return cases


def _bidirectional_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, steps, batch, inputs, hidden, nonlinearity, bias in [
        ("T=5, B=3, I=4, H=3, tanh", 5, 3, 4, 3, "tanh", True),
        ("T=1, B=1 (edge case)", 1, 1, 2, 3, "tanh", True),
        ("T=4, B=2, relu, no bias", 4, 2, 3, 5, "relu", False),
    ]:
        b = _Builder(g)
        x = b.tensor(steps, batch, inputs, scale=1.5)
        h0 = b.tensor(2, batch, hidden)
        args = [x, h0, b.weights(hidden, inputs, bias), b.weights(hidden, inputs, bias)]
        cases.append(b.case(label, args, nonlinearity=_lit(nonlinearity)))
    return cases


def _jordan_step_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, inputs, hidden, outputs, nonlinearity in [
        ("B=3, I=4, H=5, O=2, tanh", 3, 4, 5, 2, "tanh"),
        ("B=1, I=2, H=3, O=3, relu", 1, 2, 3, 3, "relu"),
        ("B=2, I=3, H=4, O=1, tanh", 2, 3, 4, 1, "tanh"),
    ]:
        b = _Builder(g)
        scale = 1.0 / hidden**0.5
        args = [
            b.tensor(batch, inputs, scale=1.5),  # x
            b.tensor(batch, outputs, scale=1.5),  # y_prev
            b.tensor(hidden, inputs, scale=scale),  # weight_ih
            b.tensor(hidden, outputs, scale=scale),  # weight_yh
            b.tensor(hidden, scale=scale),  # bias_h
            b.tensor(outputs, hidden, scale=scale),  # weight_hy
            b.tensor(outputs, scale=scale),  # bias_y
        ]
        cases.append(b.case(label, args, nonlinearity=_lit(nonlinearity)))
    return cases


SPECS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in [
        FunctionSpec(
            "rnn_cell_step", "coursekit.rnn:rnn_cell_step", _rnn_cell_step_cases, RNN_FORBIDDEN
        ),
        FunctionSpec("rnn_forward", "coursekit.rnn:rnn_forward", _rnn_forward_cases, RNN_FORBIDDEN),
        FunctionSpec(
            "bidirectional_rnn_forward",
            "coursekit.rnn:bidirectional_rnn_forward",
            _bidirectional_cases,
            RNN_FORBIDDEN,
        ),
        FunctionSpec("jordan_step", "coursekit.rnn:jordan_step", _jordan_step_cases, RNN_FORBIDDEN),
    ]
}


def spec_for(name: str) -> FunctionSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"no grading spec for {name!r}; known: {sorted(SPECS)}") from None
