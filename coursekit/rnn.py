"""Recurrent neural networks (循环神经网络): Elman, Jordan, bidirectional, stacked (chapter 2).

Read first: :func:`rnn_cell_step` (one step, Eq. (2.1)) and :func:`rnn_forward` (the loop over
time). Everything else is built from those two: :func:`bidirectional_rnn_forward` runs the loop
twice, :class:`RNN` stacks it in layers with exactly ``torch.nn.RNN``'s contract (the layer,
direction and layout bookkeeping is :class:`_StackedRecurrent`'s, which the LSTM and GRU of
chapter 4 share), and the small
models at the end (:class:`ManyToOne`, :class:`OneToMany`, :class:`ManyToMany`,
:class:`CharRNN`) are the architecture shapes of the chapter (多对一, 一对多, 多对多);
:class:`CharLM` is a char-level language model over any recurrent layer (chapter 4's
char-LSTM and char-GRU) and :class:`RNNClassifier` the sentence classifier of note 003.

Equations (row-vector convention, as torch writes them; f is tanh or relu):

    (2.1)  h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)          Elman cell
    (2.2)  y_t = h_t V^T + c                                           Elman output
    (2.3)  h_t = f(x_t W_ih^T + y_{t-1} W_yh^T + b_h)                  Jordan hidden state
    (2.4)  y_t = h_t W_hy^T + b_y                                      Jordan output
    (2.5)  out_t = [h→_t ; h←_t], h← reads x_{T-1}, ..., x_0            bidirectional
    (2.6)  h^l_t = f(h^{l-1}_t W_ih^{l T} + ... ),  h^0_t = x_t        stacked (deep) RNN
    (2.9)  z = h_L W^T + b,  or  z = ((1/L) Σ_t h_t) W^T + b           RNNClassifier pooling

Dimension glossary:

    T  time steps (sequence length)        B  batch size
    I  input features per step             H  hidden size (state h_t)
    O  output features (y_t)               D  directions: 1, or 2 if bidirectional
    L  layers (num_layers)                 V  vocabulary size (CharRNN)

Tests: tests/test_rnn.py compares everything here with torch.nn.RNN / RNNCell (values and
gradients) or with an independent formula written in the test.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "RNN",
    "CharLM",
    "CharRNN",
    "ElmanRNN",
    "JordanRNN",
    "ManyToMany",
    "ManyToOne",
    "OneToMany",
    "RNNCell",
    "RNNClassifier",
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


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    """torch's init for every RNN parameter (and for Linear(H, O)): uniform(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


def _check_positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")


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


class RNNCell(nn.Module):
    """Eq. (2.1) as a module; the same names, shapes and init as ``torch.nn.RNNCell``.

    forward(input (B, I) or (I,), hx (B, H) or (H,), zeros by default) -> h' (B, H) or (H,).
    Proved equal by test_rnn_cell_matches_torch.
    """

    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None
    ):
        super().__init__()
        _check_positive(input_size=input_size, hidden_size=hidden_size)
        _activation(nonlinearity)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.bias, self.nonlinearity = bias, nonlinearity
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_uniform(self, self.hidden_size)

    def forward(self, input, hx=None):
        if input.dim() not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"input must be (B, I) or (I,) unbatched, with I = {self.input_size}; got {tuple(input.shape)}"
            )
        expected = (*input.shape[:-1], self.hidden_size)  # (B, H) or (H,)
        if hx is None:
            hx = input.new_zeros(expected)
        elif tuple(hx.shape) != expected:
            raise ValueError(
                f"hx must be (B, H) or (H,) unbatched = {expected}; got {tuple(hx.shape)}"
            )
        return rnn_cell_step(
            input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity
        )

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, nonlinearity={self.nonlinearity!r}"


def _check_dropout(dropout, num_layers) -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
        raise ValueError(f"dropout must be a number in [0, 1]; got {dropout!r}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(  # torch's warning, word for word
            "dropout option adds dropout after all but last recurrent layer, so non-zero "
            f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}",
            stacklevel=3,
        )


class _StackedRecurrent(nn.Module):
    """Constructor, parameters, layouts and the layer/direction loop of torch's RNNBase.

    Subclasses set ``gates`` (1 for RNN, 4 for LSTM, 3 for GRU) and implement ``forward`` with
    :meth:`_time_major`, :meth:`_check_state`, :meth:`_run_layers` and :meth:`_output_layout`.
    """

    gates = 4

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        device=None,
        dtype=None,
        fast=True,
    ):
        super().__init__()
        _check_positive(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"proj_size must be an integer >= 0; got {proj_size!r}")
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size must be smaller than hidden_size = {hidden_size}; got {proj_size}"
            )
        _check_dropout(dropout, num_layers)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size, self.fast = bidirectional, proj_size, fast
        self.num_directions = 2 if bidirectional else 1
        G, H, P = self.gates, hidden_size, proj_size or hidden_size
        factory = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else self.num_directions * P
            for suffix in self._suffixes():
                shapes = {"weight_ih": (G * H, layer_input), "weight_hh": (G * H, P)}
                if bias:
                    shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
                if proj_size:
                    shapes["weight_hr"] = (P, H)
                for name, shape in shapes.items():
                    self.register_parameter(
                        f"{name}_l{layer}{suffix}", nn.Parameter(torch.empty(shape, **factory))
                    )
        self.reset_parameters()

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        _init_uniform(self, self.hidden_size)

    def layer_weights(self, layer: int, suffix: str = ""):
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer and direction, plus weight_hr
        for an LSTM with projections; missing ones are None."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        if self.proj_size:
            names += ("weight_hr",)
        return tuple(getattr(self, f"{name}_l{layer}{suffix}", None) for name in names)

    def _time_major(self, input):
        """input as documented -> (T, B, I), and whether it was batched."""
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"input must be {layout} or (T, I) unbatched, with I = {self.input_size} "
                f"(batch_first={self.batch_first}); got {tuple(input.shape)}"
            )
        batched = input.dim() == 3
        if not batched:
            input = input.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            input = input.transpose(0, 1)  # (B, T, I) -> (T, B, I)
        if input.shape[0] == 0:
            raise ValueError(
                f"input must be {layout} or (T, I) with T >= 1; got {tuple(input.shape)}"
            )
        return input, batched

    def _check_state(self, name, state, symbol, size, input, batched):
        """An initial state as (D*L, B, size), zeros when None; ``symbol`` names size.

        input: the (T, B, I) input; an unbatched input's state is (D*L, size) and gets B = 1.
        """
        DL, B = self.num_directions * self.num_layers, input.shape[1]
        if state is None:
            return input.new_zeros(DL, B, size)
        expected = (DL, B, size) if batched else (DL, size)
        if tuple(state.shape) != expected:
            which = (
                f"(D*num_layers, B, {symbol})"
                if batched
                else f"(D*num_layers, {symbol}) for unbatched input"
            )
            raise ValueError(f"{name} must be {which} = {expected}; got {tuple(state.shape)}")
        return state if batched else state.unsqueeze(1)  # (D*L, B, size)

    def _run_layers(self, input, states, run_layer):
        """Layers bottom-up (each reads the one below), directions side by side.

        input (T, B, I); states: a tuple of (D*L, B, ·) initial states; run_layer(x, states of
        one layer and direction, weights) -> (output (T, B, ·), final states tuple).
        -> output (T, B, D*·), final states, each (D*L, B, ·). Dropout on every layer's output
        but the last, in training mode only.
        """
        D = self.num_directions
        layer_input, finals = input, []
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes()):
                index = layer * D + direction
                x = layer_input.flip(0) if suffix else layer_input  # reverse reads x[T-1] first
                output, last = run_layer(
                    x, tuple(s[index] for s in states), self.layer_weights(layer, suffix)
                )
                outputs.append(output.flip(0) if suffix else output)  # aligned in time
                finals.append(last)
            output = torch.cat(outputs, dim=-1) if D == 2 else outputs[0]  # (T, B, D*·)
            if layer < self.num_layers - 1 and self.dropout > 0 and self.training:
                output = F.dropout(output, p=self.dropout, training=True)
            layer_input = output
        return layer_input, tuple(torch.stack(f) for f in zip(*finals, strict=True))

    def _output_layout(self, output, batched):
        if not batched:
            return output.squeeze(1)  # (T, D*·)
        return output.transpose(0, 1) if self.batch_first else output

    def extra_repr(self) -> str:
        text = (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bias={self.bias}, batch_first={self.batch_first}, dropout={self.dropout}, "
            f"bidirectional={self.bidirectional}"
        )
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        return text + ("" if self.fast else ", fast=False")


class RNN(_StackedRecurrent):
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

    gates = 1

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
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
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
        _check_positive(output_size=output_size)
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
        _check_positive(input_size=input_size, hidden_size=hidden_size, output_size=output_size)
        _activation(nonlinearity)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.nonlinearity = nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_yh = nn.Parameter(torch.empty(hidden_size, output_size))
        self.bias_h = nn.Parameter(torch.empty(hidden_size)) if bias else None
        self.weight_hy = nn.Parameter(torch.empty(output_size, hidden_size))
        self.bias_y = nn.Parameter(torch.empty(output_size)) if bias else None  # None: no parameter
        _init_uniform(self, hidden_size)

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
        _check_positive(steps=steps)
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


class CharRNN(nn.Module):
    """A character-level language model: embedding -> :class:`RNN` -> linear over the vocabulary.

    forward(tokens (T, B) long, h0 (L, B, H) or None) -> logits (T, B, V), h_n (L, B, H);
    unbatched tokens (T,) give (T, V), (L, H). :meth:`sample` generates text.
    Proved by test_char_rnn_forward_matches_manual_composition.
    """

    def __init__(
        self, vocab_size, embedding_dim, hidden_size, num_layers=1, nonlinearity="tanh", dropout=0.0
    ):
        super().__init__()
        _check_positive(vocab_size=vocab_size, embedding_dim=embedding_dim)
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = RNN(embedding_dim, hidden_size, num_layers, nonlinearity, dropout=dropout)
        self.output_layer = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, h0=None):
        hidden, h_n = self.rnn(self.embedding(tokens), h0)  # (T, B, E) -> (T, B, H)
        return self.output_layer(hidden), h_n  # (T, B, V), (L, B, H)

    @torch.no_grad()
    def sample(self, prefix_ids, length, temperature=1.0, generator=None):
        """Read ``prefix_ids``, then draw ``length`` more ids; returns prefix + new ids (a list).

        Each id is drawn with ``torch.multinomial(softmax(logits / temperature), generator=...)``;
        the hidden state carries over from the prefix (warm start), so nothing is re-read.
        Deterministic given a seeded ``torch.Generator`` (on any device: the probabilities move
        to the generator's device). Runs in eval mode (no dropout) and restores the mode.
        Proved by test_char_rnn_sample_matches_rereading_loop.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0; got {temperature!r}")
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"length must be an integer >= 0; got {length!r}")
        device = self.output_layer.weight.device
        prefix = torch.as_tensor(prefix_ids, dtype=torch.long, device=device)
        if prefix.dim() != 1 or prefix.numel() == 0:
            raise ValueError(
                f"prefix_ids must be a non-empty 1-D sequence of ids (P,); got shape {tuple(prefix.shape)}"
            )
        if prefix.min() < 0 or prefix.max() >= self.vocab_size:
            raise ValueError(
                f"prefix_ids must lie in [0, {self.vocab_size}); got {prefix.tolist()}"
            )

        was_training = self.training
        self.eval()
        ids = prefix.tolist()
        logits, h = self(prefix.unsqueeze(1))  # (P, 1, V), (L, 1, H)
        for _ in range(length):
            probs = F.softmax(logits[-1, 0] / temperature, dim=-1)  # (V,)
            if generator is not None:
                probs = probs.to(generator.device)
            next_id = torch.multinomial(probs, 1, generator=generator).to(device)  # (1,)
            ids.append(int(next_id))
            logits, h = self(next_id.view(1, 1), h)  # (1, 1, V)
        self.train(was_training)
        return ids


class CharLM(nn.Module):
    """A character-level language model over a given recurrent layer: embedding -> layer -> linear.

    ``CharLM(V, E, LSTM(E, H))`` is a char-LSTM, ``CharLM(V, E, GRU(E, H))`` a char-GRU; with
    ``RNN(E, H)`` it computes what :class:`CharRNN` computes. The layer must take time-major
    input (T, B, E) and a state, return ``(output (T, B, H), state)`` and have ``hidden_size``
    (any of coursekit's or torch's RNN, LSTM and GRU). forward(tokens (T, B) long, state or
    None) -> logits (T, B, V), state (the layer's: h_n, or (h_n, c_n) for an LSTM).
    Proved by test_char_lm_matches_torch_embedding_layer_linear.
    """

    def __init__(self, vocab_size, embedding_dim, layer):
        super().__init__()
        _check_positive(vocab_size=vocab_size, embedding_dim=embedding_dim)
        if getattr(layer, "batch_first", False):
            raise ValueError("layer must be time-major (batch_first=False)")
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.layer = layer
        self.output_layer = nn.Linear(layer.hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        hidden, state = self.layer(self.embedding(tokens), state)  # (T, B, E) -> (T, B, H)
        return self.output_layer(hidden), state  # (T, B, V)


POOLINGS = ("last", "mean")


class RNNClassifier(nn.Module):
    """A sentence classifier (多对一, note 003): embed the words, run an :class:`RNN`, pool, score.

    forward(token_ids (B, L) long, mask (B, L) bool or None) -> logits (B, C), the batch and
    mask of :func:`coursekit.embeddings.pad_batch` (padding at the end, mask True on words).
    ``pooling="last"`` scores the hidden state after the last word of each sentence, h_{L_b};
    ``"mean"`` scores the mean of the states over its words, (1/L_b) Σ_t h_t. Padding after
    the last word never reaches either (the RNN runs forwards), and an empty sentence
    pools to zeros. Proved by test_rnn_classifier_matches_torch_rnn_on_each_sentence.
    """

    def __init__(self, vocab_size, embedding_dim, hidden_size, num_classes, pooling="last"):
        super().__init__()
        _check_positive(vocab_size=vocab_size, embedding_dim=embedding_dim)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}")
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = RNN(embedding_dim, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, num_classes)

    def forward(self, token_ids, mask=None):
        if token_ids.dim() != 2:
            raise ValueError(f"token_ids must be (B, L); got shape {tuple(token_ids.shape)}")
        if mask is None:
            mask = torch.ones_like(token_ids, dtype=torch.bool)
        elif mask.shape != token_ids.shape:
            raise ValueError(
                f"mask must have token_ids' shape {tuple(token_ids.shape)}; got {tuple(mask.shape)}"
            )
        hidden, _ = self.rnn(self.embedding(token_ids))  # (B, L, E) -> (B, L, H)
        weights = mask.to(hidden.dtype)  # (B, L)
        lengths = weights.sum(dim=1)  # (B,)
        if self.pooling == "mean":
            sentence = torch.einsum("blh,bl->bh", hidden, weights) / lengths.clamp(min=1)[:, None]
        else:
            last = (lengths.long() - 1).clamp(min=0)  # (B,) index of each sentence's last word
            sentence = hidden[torch.arange(len(last)), last] * (lengths > 0)[:, None]  # (B, H)
        return self.output(sentence)  # (B, C)
