"""Grading specs for assignment 4, LSTM and GRU: four functions of coursekit.lstm and coursekit.gru.

The weights are drawn the way ``torch.nn.LSTM`` / ``torch.nn.GRU`` initialise theirs,
uniform in (-1/sqrt(H), 1/sqrt(H)), stacked in torch's gate order (i, f, g, o for the LSTM,
r, z, n for the GRU); states and cells are drawn larger (up to 1.5 and 2) so that every
nonlinearity is used away from its linear part.
"""

from __future__ import annotations

import torch

from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit

# -- chapter 4: LSTM and GRU ------------------------------------------------------------------

# torch's layers, their cells, and the kernels they end in (torch.lstm_cell, torch._VF.gru ...)
LSTM_FORBIDDEN = (
    "LSTM",
    "LSTMCell",
    "GRU",
    "GRUCell",
    "lstm_cell",
    "gru_cell",
    "_VF",
    "lstm",
    "gru",
)


def _lstm_cell_step_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, inputs, hidden, bias in [
        ("B=3, I=4, H=5", 3, 4, 5, True),
        ("B=1, I=3, H=4 (batch of 1)", 1, 3, 4, True),
        ("B=2, I=6, H=3, no bias", 2, 6, 3, False),
        ("B=4, I=2, H=1 (one unit)", 4, 2, 1, True),
    ]:
        b = SpecBuilder(g)
        x = b.tensor(batch, inputs, scale=1.5)
        state = {"seq": [b.tensor(batch, hidden, scale=1.5), b.tensor(batch, hidden, scale=2.0)]}
        cases.append(b.case(label, [x, state, *b.rnn_params(hidden, inputs, bias, gates=4)]))
    return cases


def _gru_cell_step_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, inputs, hidden, bias in [
        ("B=3, I=4, H=5", 3, 4, 5, True),
        ("B=1, I=3, H=4 (batch of 1)", 1, 3, 4, True),
        ("B=2, I=6, H=3, no bias", 2, 6, 3, False),
        ("B=4, I=2, H=1 (one unit)", 4, 2, 1, True),
    ]:
        b = SpecBuilder(g)
        x, h_prev = b.tensor(batch, inputs, scale=1.5), b.tensor(batch, hidden, scale=1.5)
        cases.append(b.case(label, [x, h_prev, *b.rnn_params(hidden, inputs, bias, gates=3)]))
    return cases


def _lstm_forward_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, steps, batch, inputs, hidden, bias in [
        ("T=6, B=3, I=4, H=5", 6, 3, 4, 5, True),
        ("T=1, B=1 (edge case)", 1, 1, 3, 4, True),
        ("T=5, B=2, no bias", 5, 2, 3, 4, False),
        ("T=30, B=2 (long sequence)", 30, 2, 3, 3, True),
    ]:
        b = SpecBuilder(g)
        x = b.tensor(steps, batch, inputs, scale=1.5)
        state = {"seq": [b.tensor(batch, hidden, scale=1.5), b.tensor(batch, hidden, scale=2.0)]}
        cases.append(b.case(label, [x, state, *b.rnn_params(hidden, inputs, bias, gates=4)]))
    return cases


def _peephole_lstm_step_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, inputs, hidden, bias in [
        ("B=3, I=4, H=5", 3, 4, 5, True),
        ("B=1, I=3, H=4 (batch of 1)", 1, 3, 4, True),
        ("B=2, I=6, H=3, no bias", 2, 6, 3, False),
    ]:
        b = SpecBuilder(g)
        scale = 1.0 / hidden**0.5
        x = b.tensor(batch, inputs, scale=1.5)
        state = {"seq": [b.tensor(batch, hidden, scale=1.5), b.tensor(batch, hidden, scale=2.0)]}
        args = [
            x,
            state,
            b.tensor(4 * hidden, inputs, scale=scale),  # weight_ih
            b.tensor(4 * hidden, hidden, scale=scale),  # weight_hh
            b.tensor(3, hidden, scale=1.0),  # weight_peephole: w_ci, w_cf, w_co
            b.tensor(4 * hidden, scale=scale) if bias else lit(None),  # bias
        ]
        cases.append(b.case(label, args))
    return cases


FUNCTION_SPECS = [
    FunctionSpec(
        "lstm_cell_step", "coursekit.lstm:lstm_cell_step", _lstm_cell_step_cases, LSTM_FORBIDDEN
    ),
    FunctionSpec(
        "gru_cell_step", "coursekit.gru:gru_cell_step", _gru_cell_step_cases, LSTM_FORBIDDEN
    ),
    FunctionSpec(
        "lstm_forward", "coursekit.lstm:lstm_forward", _lstm_forward_cases, LSTM_FORBIDDEN
    ),
    FunctionSpec(
        "peephole_lstm_step",
        "coursekit.lstm:peephole_lstm_step",
        _peephole_lstm_step_cases,
        LSTM_FORBIDDEN,
    ),
]
