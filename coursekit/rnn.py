"""Recurrent neural networks (循环神经网络): Elman, Jordan, bidirectional, stacked (chapter 2).

Read first: :func:`rnn_cell_step` (one step, Eq. (2.1)) and :func:`rnn_forward` (the loop over
time). Everything else is built from those two: :func:`bidirectional_rnn_forward` runs the loop
twice, :class:`RNN` stacks it in layers with exactly ``torch.nn.RNN``'s contract (the layer,
direction and layout bookkeeping is ``coursekit._recurrent.StackedRecurrent``'s, which the LSTM
and GRU of chapter 4 share), and the small models at the end (:class:`ManyToOne`,
:class:`OneToMany`, :class:`ManyToMany`) are the architecture shapes of the chapter (多对一,
一对多, 多对多). The language models and the sentence classifier built on these layers are in
:mod:`coursekit.rnn_models`.

Equations (row-vector convention, as torch writes them; f is tanh or relu):

    (2.1)  h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)          Elman cell
    (2.2)  y_t = h_t V^T + c                                           Elman output
    (2.3)  h_t = f(x_t W_ih^T + y_{t-1} W_yh^T + b_h)                  Jordan hidden state
    (2.4)  y_t = h_t W_hy^T + b_y                                      Jordan output
    (2.5)  out_t = [h→_t ; h←_t], h← reads x_{T-1}, ..., x_0            bidirectional
    (2.6)  h^l_t = f(h^{l-1}_t W_ih^{l T} + ... ),  h^0_t = x_t        stacked (deep) RNN

Dimension glossary:

    T  time steps (sequence length)        B  batch size
    I  input features per step             H  hidden size (state h_t)
    O  output features (y_t)               D  directions: 1, or 2 if bidirectional
    L  layers (num_layers)

Tests: tests/test_rnn.py compares everything here with torch.nn.RNN / RNNCell (values and
gradients) or with an independent formula written in the test.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_positive_int
from coursekit._recurrent import RecurrentCell, StackedRecurrent, init_uniform

__all__ = [
    "RNN",
    "ElmanRNN",
    "JordanRNN",
    "ManyToMany",
    "ManyToOne",
    "OneToMany",
    "RNNCell",
    "bidirectional_rnn_forward",
    "jordan_step",
    "rnn_cell_step",
    "rnn_forward",
]

_NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


def _activation(nonlinearity: str):
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
    return _NONLINEARITIES[nonlinearity]


# ---------------------------------------------------------------------------------------------
# The functional reference: the text of the chapter.


def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One Elman step, Eq. (2.1): ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    x (B, I), h_prev (B, H), weight_ih (H, I), weight_hh (H, H), biases (H,) or None
    -> h (B, H). Unbatched x (I,), h_prev (H,) -> (H,).
    Equal to ``torch.nn.RNNCell`` (test_rnn_cell_step_matches_torch_rnn_cell).
    """
    f = _activation(nonlinearity)
    return f(F.linear(x, weight_ih, bias_ih) + F.linear(h_prev, weight_hh, bias_hh))  # (B, H)


def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Run Eq. (2.1) over a sequence: a Python loop over t calling :func:`rnn_cell_step`.

    x (T, B, I), h0 (B, H) -> output (T, B, H) (every h_t), h_n (B, H) (= output[-1]).
    Equal to a one-layer ``torch.nn.RNN`` (test_rnn_forward_matches_torch_one_layer).
    """
    _activation(nonlinearity)
    if x.shape[0] == 0:
        raise ValueError(f"x must be (T, B, I) with T >= 1; got {tuple(x.shape)}")
    h = h0
    outputs = []
    for x_t in x:  # x_t (B, I)
        h = rnn_cell_step(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        outputs.append(h)
    return torch.stack(outputs), h  # (T, B, H), (B, H)


def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    """Bidirectional RNN (双向 RNN), Eq. (2.5): one loop reads x forwards, another backwards.

    x (T, B, I); h0 (2, B, H), [0] forward and [1] reverse; ``*_weights`` are 4-tuples
    ``(weight_ih, weight_hh, bias_ih, bias_hh)``, biases may be None.
    -> output (T, B, 2H): ``output[t] = cat(forward h_t, reverse h_t)`` aligned in time, so
    ``output[t, :, H:]`` is the reverse state after reading x[T-1], ..., x[t];
    h_n (2, B, H): the forward state after t = T-1 and the reverse state after t = 0.
    Equal to ``torch.nn.RNN(bidirectional=True)`` (test_bidirectional_rnn_forward_matches_torch).
    """
    if len(forward_weights) != 4 or len(reverse_weights) != 4:
        raise ValueError(
            "forward_weights and reverse_weights must be 4-tuples "
            "(weight_ih, weight_hh, bias_ih, bias_hh)"
        )
    forward_out, forward_h = rnn_forward(x, h0[0], *forward_weights, nonlinearity)  # (T, B, H)
    reverse_out, reverse_h = rnn_forward(x.flip(0), h0[1], *reverse_weights, nonlinearity)
    output = torch.cat([forward_out, reverse_out.flip(0)], dim=-1)  # (T, B, 2H), aligned in t
    return output, torch.stack([forward_h, reverse_h])  # (T, B, 2H), (2, B, H)


def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    """One step of a Jordan network (Jordan 1986): the previous OUTPUT is fed back, not h.

    Eq. (2.3) ``h_t = f(x_t W_ih^T + y_{t-1} W_yh^T + b_h)``; Eq. (2.4) ``y_t = h_t W_hy^T + b_y``
    (a linear output). x (B, I), y_prev (B, O), weight_ih (H, I), weight_yh (H, O),
    bias_h (H,), weight_hy (O, H), bias_y (O,) -> h (B, H), y (B, O). Biases may be None.
    torch has no Jordan layer; tests check it against a formula written in the test and with
    gradcheck (test_jordan_step_matches_formula, test_jordan_step_gradcheck).
    """
    f = _activation(nonlinearity)
    h = f(F.linear(x, weight_ih, bias_h) + F.linear(y_prev, weight_yh))  # (B, H)
    return h, F.linear(h, weight_hy, bias_y)  # (B, H), (B, O)


# ---------------------------------------------------------------------------------------------
# Layers with torch's contract.


class RNNCell(RecurrentCell):
    """Eq. (2.1) as a module; the same names, shapes and init as ``torch.nn.RNNCell``.

    forward(input (B, I) or (I,), hx (B, H) or (H,), zeros by default) -> h' (B, H) or (H,).
    Proved equal by test_rnn_cell_matches_torch.
    """

    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None
    ):
        _activation(nonlinearity)
        super().__init__(
            gates=1,
            input_size=input_size,
            hidden_size=hidden_size,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        hx = self._initial_state(hx, input)  # (B, H) or (H,)
        return rnn_cell_step(
            input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"


class RNN(StackedRecurrent):
    """A stacked (Eq. (2.6)), optionally bidirectional (Eq. (2.5)) Elman RNN.

    ``torch.nn.RNN``'s full contract: the same constructor, parameter names
    (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``..._reverse``)
    in torch's order, shapes and init, so ``load_state_dict(torch_rnn.state_dict())`` works.
    forward(input (T, B, I), or (B, T, I) with batch_first, or unbatched (T, I);
    hx (D*L, B, H) or unbatched (D*L, H), zeros by default)
    -> output (T, B, D*H) (batch_first respected; unbatched (T, D*H)), h_n (D*L, B, H).
    Dropout acts on each layer's output except the last, in training mode only.
    Runs the readable loop (:func:`rnn_forward`); no fused fast path. NOTE: no PackedSequence.
    Proved equal, values and gradients, by test_rnn_matches_torch.
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        device=None,
        dtype=None,
    ):
        _activation(nonlinearity)
        super().__init__(
            gates=1,
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
        )
        self.nonlinearity = nonlinearity

    def _run_layer(self, x, states, weights):
        output, h_last = rnn_forward(x, states[0], *weights, self.nonlinearity)  # (T, B, H)
        return output, (h_last,)

    def forward(self, input, hx=None):
        input, batched = self._time_major(input)  # (T, B, I)
        hx = self._check_state("hx", hx, "H", self.hidden_size, input, batched)  # (D*L, B, H)
        output, (h_n,) = self._run_layers(input, (hx,), self._run_layer)
        if not batched:
            h_n = h_n.squeeze(1)  # (D*L, H)
        return self._output_layout(output, batched), h_n

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"nonlinearity={self.nonlinearity!r}, bias={self.bias}, batch_first={self.batch_first}, "
            f"dropout={self.dropout}, bidirectional={self.bidirectional}"
        )


# ---------------------------------------------------------------------------------------------
# The chapter's models.


class ElmanRNN(nn.Module):
    """Elman network (Elman 1990): an :class:`RNN` plus an output layer applied at every step.

    Eq. (2.1) then Eq. (2.2) ``y_t = h_t V^T + c``. forward(x (T, B, I), h0=None)
    -> y (T, B, O), h_n (L, B, H). Equal to ``torch.nn.RNN`` + ``torch.nn.Linear``
    (test_elman_rnn_equals_torch_rnn_plus_linear).
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        output_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
    ):
        super().__init__()
        check_positive_int(output_size=output_size)
        self.rnn = RNN(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first)
        self.output_layer = nn.Linear(hidden_size, output_size, bias=bias)  # V (O, H), c (O,)

    def forward(self, x, h0=None):
        hidden, h_n = self.rnn(x, h0)  # (T, B, H), (L, B, H)
        return self.output_layer(hidden), h_n  # (T, B, O), (L, B, H)


class JordanRNN(nn.Module):
    """Jordan network (Jordan 1986): loops :func:`jordan_step`, feeding back y_{t-1}.

    Parameters ``weight_ih`` (H, I), ``weight_yh`` (H, O), ``bias_h`` (H,), ``weight_hy`` (O, H),
    ``bias_y`` (O,), all uniform(-1/sqrt(H), 1/sqrt(H)) like torch's RNN and Linear(H, O).
    forward(x (T, B, I) or (T, I), y0 (B, O) or (O,), zeros by default)
    -> y (T, B, O), y_T (B, O). Proved by test_jordan_rnn_matches_independent_loop.
    """

    def __init__(self, input_size, hidden_size, output_size, nonlinearity="tanh", bias=True):
        super().__init__()
        check_positive_int(input_size=input_size, hidden_size=hidden_size, output_size=output_size)
        _activation(nonlinearity)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.nonlinearity = nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_yh = nn.Parameter(torch.empty(hidden_size, output_size))
        self.bias_h = nn.Parameter(torch.empty(hidden_size)) if bias else None
        self.weight_hy = nn.Parameter(torch.empty(output_size, hidden_size))
        self.bias_y = nn.Parameter(torch.empty(output_size)) if bias else None  # None: no parameter
        init_uniform(self, hidden_size)

    def forward(self, x, y0=None):
        if x.dim() not in (2, 3) or x.shape[-1] != self.input_size or x.shape[0] == 0:
            raise ValueError(
                f"x must be (T, B, I) or (T, I) unbatched, with I = {self.input_size} and T >= 1; got {tuple(x.shape)}"
            )
        expected = (*x.shape[1:-1], self.output_size)  # (B, O) or (O,)
        if y0 is None:
            y0 = x.new_zeros(expected)
        elif tuple(y0.shape) != expected:
            raise ValueError(
                f"y0 must be (B, O) or (O,) unbatched = {expected}; got {tuple(y0.shape)}"
            )
        params = (self.weight_ih, self.weight_yh, self.bias_h, self.weight_hy, self.bias_y)
        y, ys = y0, []
        for x_t in x:  # x_t (B, I)
            _, y = jordan_step(x_t, y, *params, self.nonlinearity)  # y_t (B, O) is fed back
            ys.append(y)
        return torch.stack(ys), y  # (T, B, O), (B, O)


def _final_states(h_n, num_directions):
    """The last layer's final state(s), directions concatenated: (D*L, B, H) -> (B, D*H)."""
    return torch.cat(list(h_n[-num_directions:]), dim=-1)


class ManyToOne(nn.Module):
    """多对一: read a sequence, classify from the final state (sentiment, sequence labels).

    forward(x (T, B, I)) -> logits (B, C), from the last layer's final hidden state; when
    bidirectional, cat(forward state after x[T-1], reverse state after x[0]).
    Proved by test_many_to_one_classifies_from_final_states.
    """

    def __init__(self, input_size, hidden_size, num_classes, num_layers=1, bidirectional=False):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, num_layers, bidirectional=bidirectional)
        self.classifier = nn.Linear(self.rnn.num_directions * hidden_size, num_classes)

    def forward(self, x):
        _, h_n = self.rnn(x)  # (D*L, B, H)
        return self.classifier(_final_states(h_n, self.rnn.num_directions))  # (B, D*H) -> (B, C)


class OneToMany(nn.Module):
    """一对多: one vector in, a sequence out (image captioning's shape).

    x (B, I) sets the initial state ``h_0 = tanh(x W^T + b)``; then an :class:`RNNCell` runs
    ``steps`` steps, each fed its previous output (zeros at the first step), Eq. (2.1)-(2.2).
    forward(x (B, I)) -> y (steps, B, O). Proved by test_one_to_many_matches_manual_loop.
    """

    def __init__(self, input_size, hidden_size, output_size, steps):
        super().__init__()
        check_positive_int(steps=steps)
        self.steps = steps
        self.init_state = nn.Linear(input_size, hidden_size)
        self.cell = RNNCell(output_size, hidden_size)
        self.output_layer = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        if x.dim() != 2 or x.shape[-1] != self.init_state.in_features:
            raise ValueError(
                f"x must be (B, I) with I = {self.init_state.in_features}; got {tuple(x.shape)}"
            )
        h = torch.tanh(self.init_state(x))  # (B, H)
        y = x.new_zeros(x.shape[0], self.output_layer.out_features)  # (B, O)
        ys = []
        for _ in range(self.steps):
            h = self.cell(y, h)  # (B, H)
            y = self.output_layer(h)  # (B, O)
            ys.append(y)
        return torch.stack(ys)  # (steps, B, O)


class ManyToMany(nn.Module):
    """多对多 (aligned): one output per input step (tagging, speech frames).

    forward(x (T, B, I)) -> y (T, B, O) = Linear(D*H, O) applied to every step's RNN output.
    Proved by test_many_to_many_matches_manual_composition.
    """

    def __init__(self, input_size, hidden_size, output_size, num_layers=1, bidirectional=False):
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, num_layers, bidirectional=bidirectional)
        self.output_layer = nn.Linear(self.rnn.num_directions * hidden_size, output_size)

    def forward(self, x):
        hidden, _ = self.rnn(x)  # (T, B, D*H)
        return self.output_layer(hidden)  # (T, B, O)
