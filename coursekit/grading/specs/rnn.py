"""Grading specs for assignment 2, recurrent networks: the four functions of coursekit.rnn."""

from __future__ import annotations

import torch

from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit

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
        b = SpecBuilder(g)
        x = b.tensor(batch, inputs, scale=scale)
        h = b.tensor(batch, hidden, scale=scale)
        args = [x, h, *b.rnn_params(hidden, inputs, bias)]
        cases.append(b.case(label, args, nonlinearity=lit(nonlinearity)))
    return cases


def _rnn_forward_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, steps, batch, inputs, hidden, nonlinearity, bias in [
        ("T=6, B=3, I=4, H=5, tanh", 6, 3, 4, 5, "tanh", True),
        ("T=1, B=1 (edge case)", 1, 1, 3, 4, "tanh", True),
        ("T=5, B=2, relu, no bias", 5, 2, 3, 4, "relu", False),
        ("T=40, B=2 (long sequence)", 40, 2, 3, 3, "tanh", True),
    ]:
        b = SpecBuilder(g)
        x = b.tensor(steps, batch, inputs, scale=1.5)
        h0 = b.tensor(batch, hidden)
        args = [x, h0, *b.rnn_params(hidden, inputs, bias)]
        cases.append(b.case(label, args, nonlinearity=lit(nonlinearity)))
    return cases


def _bidirectional_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, steps, batch, inputs, hidden, nonlinearity, bias in [
        ("T=5, B=3, I=4, H=3, tanh", 5, 3, 4, 3, "tanh", True),
        ("T=1, B=1 (edge case)", 1, 1, 2, 3, "tanh", True),
        ("T=4, B=2, relu, no bias", 4, 2, 3, 5, "relu", False),
    ]:
        b = SpecBuilder(g)
        x = b.tensor(steps, batch, inputs, scale=1.5)
        h0 = b.tensor(2, batch, hidden)
        args = [x, h0, b.weights(hidden, inputs, bias), b.weights(hidden, inputs, bias)]
        cases.append(b.case(label, args, nonlinearity=lit(nonlinearity)))
    return cases


def _jordan_step_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, inputs, hidden, outputs, nonlinearity in [
        ("B=3, I=4, H=5, O=2, tanh", 3, 4, 5, 2, "tanh"),
        ("B=1, I=2, H=3, O=3, relu", 1, 2, 3, 3, "relu"),
        ("B=2, I=3, H=4, O=1, tanh", 2, 3, 4, 1, "tanh"),
    ]:
        b = SpecBuilder(g)
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
        cases.append(b.case(label, args, nonlinearity=lit(nonlinearity)))
    return cases


FUNCTION_SPECS = [
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
