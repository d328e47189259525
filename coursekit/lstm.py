"""Long short-term memory (长短期记忆网络, LSTM) and the peephole LSTM (chapter 4).

Read first: :func:`lstm_cell_step` (one step, Eq. (4.1)-(4.6)) and :func:`lstm_forward` (the
loop over time). :func:`peephole_lstm_step` adds Gers & Schmidhuber's peepholes, Eq. (4.11)-(4.13).
:func:`lstm_forward_fast` computes exactly what :func:`lstm_forward` computes, with one fused
product per step for the four gates and a hand-written backward (BPTT, chapter 3), and it is what
:class:`LSTM` runs by default (``fast=False`` runs the readable loop). :class:`LSTM` and
:class:`LSTMCell` have ``torch.nn.LSTM`` / ``torch.nn.LSTMCell``'s contract exactly.

Equations (row-vector convention, as torch writes them; sigma is the logistic sigmoid, ⊙ the
elementwise product; the four gates are computed by one product with W_ih (4H, I) and
W_hh (4H, H), whose row blocks are in torch's order i, f, g, o):

    (4.1)  i_t = sigma(x_t W_ii^T + b_ii + h_{t-1} W_hi^T + b_hi)     input gate (输入门)
    (4.2)  f_t = sigma(x_t W_if^T + b_if + h_{t-1} W_hf^T + b_hf)     forget gate (遗忘门)
    (4.3)  g_t = tanh(x_t W_ig^T + b_ig + h_{t-1} W_hg^T + b_hg)      candidate (候选值)
    (4.4)  o_t = sigma(x_t W_io^T + b_io + h_{t-1} W_ho^T + b_ho)     output gate (输出门)
    (4.5)  c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                           cell state (单元状态)
    (4.6)  h_t = o_t ⊙ tanh(c_t)                                     hidden state
    with proj_size P > 0 (torch's LSTM with projections, Sak et al. 2014):
           h_t = (o_t ⊙ tanh(c_t)) W_hr^T,  W_hr (P, H), and h_{t-1} in (4.1)-(4.4) is (B, P)

Peephole LSTM (Gers & Schmidhuber 2000): the gates also look at the cell, through diagonal
weights w_ci, w_cf, w_co (H,) each; (4.3), (4.5), (4.6) are unchanged, b is a single bias (4H,):

    (4.11)  i_t = sigma(x_t W_ii^T + h_{t-1} W_hi^T + w_ci ⊙ c_{t-1} + b_i)
    (4.12)  f_t = sigma(x_t W_if^T + h_{t-1} W_hf^T + w_cf ⊙ c_{t-1} + b_f)
    (4.13)  o_t = sigma(x_t W_io^T + h_{t-1} W_ho^T + w_co ⊙ c_t + b_o)   (c_t: after (4.5))

Dimension glossary:

    T  time steps (sequence length)        B  batch size
    I  input features per step             H  hidden size (cell c_t, gates)
    P  proj_size if > 0, else H (h_t)      D  directions: 1, or 2 if bidirectional
    L  layers (num_layers)                 z  gate pre-activations (B, 4H), order i, f, g, o

Tests: tests/test_lstm.py compares everything here with torch.nn.LSTM / LSTMCell (values and
gradients, both paths) or with an independent formula and ``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_nonnegative_int, check_positive_int
from coursekit._fused import LSTMLayer
from coursekit._recurrent import RecurrentCell, StackedRecurrent, init_uniform

__all__ = [
    "LSTM",
    "LSTMCell",
    "PeepholeLSTM",
    "lstm_cell_step",
    "lstm_forward",
    "lstm_forward_fast",
    "peephole_lstm_step",
]


# ---------------------------------------------------------------------------------------------
# The functional reference: the text of the chapter.


def lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM step, Eq. (4.1)-(4.6).

    x (B, I), state = (h_prev (B, H), c_prev (B, H)), weight_ih (4H, I), weight_hh (4H, H),
    biases (4H,) or None -> (h (B, H), c (B, H)). Unbatched x (I,), states (H,) -> (H,), (H,).
    Equal to ``torch.nn.LSTMCell`` (test_lstm_cell_step_matches_torch_lstm_cell).
    """
    h_prev, c_prev = state
    z = F.linear(x, weight_ih, bias_ih) + F.linear(h_prev, weight_hh, bias_hh)  # (B, 4H)
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)  # (B, H) each, torch's gate order
    i = torch.sigmoid(z_i)  # Eq. (4.1)
    f = torch.sigmoid(z_f)  # Eq. (4.2)
    g = torch.tanh(z_g)  # Eq. (4.3)
    o = torch.sigmoid(z_o)  # Eq. (4.4)
    c = f * c_prev + i * g  # Eq. (4.5)
    h = o * torch.tanh(c)  # Eq. (4.6)
    return h, c


def lstm_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None):
    """Run Eq. (4.1)-(4.6) over a sequence: a Python loop over t calling :func:`lstm_cell_step`.

    x (T, B, I), state = (h0 (B, P), c0 (B, H)) -> output (T, B, P) (every h_t),
    (h_n (B, P), c_n (B, H)). ``weight_hr`` (P, H), torch's projection, is optional
    (None: P = H). Equal to a one-layer ``torch.nn.LSTM`` (test_lstm_forward_matches_torch_one_layer).
    """
    if x.shape[0] == 0:
        raise ValueError(f"x must be (T, B, I) with T >= 1; got {tuple(x.shape)}")
    h, c = state
    outputs = []
    for x_t in x:  # x_t (B, I)
        h, c = lstm_cell_step(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)
        if weight_hr is not None:
            h = F.linear(h, weight_hr)  # (B, H) -> (B, P)
        outputs.append(h)
    return torch.stack(outputs), (h, c)  # (T, B, P), ((B, P), (B, H))


def peephole_lstm_step(x, state, weight_ih, weight_hh, weight_peephole, bias=None):
    """One peephole LSTM step (Gers & Schmidhuber 2000), Eq. (4.11)-(4.13) with (4.3), (4.5), (4.6).

    x (B, I), state = (h_prev (B, H), c_prev (B, H)), weight_ih (4H, I), weight_hh (4H, H)
    (gate order i, f, g, o), weight_peephole (3, H) with rows (w_ci, w_cf, w_co), bias (4H,) or
    None -> (h (B, H), c (B, H)). The input and forget gates see c_{t-1}; the output gate sees
    the new c_t. torch has no peephole LSTM: tests check it against an independent
    implementation and gradcheck (test_peephole_lstm_step_matches_independent_formula).
    """
    h_prev, c_prev = state
    w_ci, w_cf, w_co = weight_peephole  # (H,) each
    z = F.linear(x, weight_ih, bias) + F.linear(h_prev, weight_hh)  # (B, 4H)
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)  # (B, H) each
    i = torch.sigmoid(z_i + w_ci * c_prev)  # Eq. (4.11)
    f = torch.sigmoid(z_f + w_cf * c_prev)  # Eq. (4.12)
    g = torch.tanh(z_g)  # Eq. (4.3)
    c = f * c_prev + i * g  # Eq. (4.5)
    o = torch.sigmoid(z_o + w_co * c)  # Eq. (4.13)
    h = o * torch.tanh(c)  # Eq. (4.6)
    return h, c


def lstm_forward_fast(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_hr=None):
    """:func:`lstm_forward`'s arguments and results, computed by one custom autograd node.

    x (T, B, I), state = (h0 (B, P), c0 (B, H)) -> output (T, B, P), (h_n (B, P), c_n (B, H)).
    Equal to :func:`lstm_forward` in values and gradients
    (test_lstm_forward_fast_equals_reference_loop). NOTE: first derivatives only (its backward
    is not itself differentiable, so no double backward); float32 CPU matmuls go through oneDNN.
    """
    h0, c0 = state
    H, P = weight_hh.shape[0] // 4, weight_hh.shape[1]
    if x.dim() != 3 or x.shape[0] == 0 or x.shape[2] != weight_ih.shape[1]:
        raise ValueError(
            f"x must be (T, B, I) with T >= 1 and I = {weight_ih.shape[1]}; got {tuple(x.shape)}"
        )
    B = x.shape[1]
    if tuple(h0.shape) != (B, P) or tuple(c0.shape) != (B, H):
        raise ValueError(
            f"state must be (h0 (B, P), c0 (B, H)) = ({(B, P)}, {(B, H)}); "
            f"got ({tuple(h0.shape)}, {tuple(c0.shape)})"
        )
    output, h_n, c_n = LSTMLayer.apply(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)
    return output, (h_n, c_n)


# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
# Layers with torch's contract.


class LSTMCell(RecurrentCell):
    """Eq. (4.1)-(4.6) as a module; the same names, shapes and init as ``torch.nn.LSTMCell``.

    forward(input (B, I) or (I,), hx = (h (B, H), c (B, H)) or unbatched (H,) each, zeros by
    default) -> (h', c'). Proved equal by test_lstm_cell_matches_torch.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(
            gates=4,
            input_size=input_size,
            hidden_size=hidden_size,
            bias=bias,
            device=device,
            dtype=dtype,
        )

    def forward(self, input, hx=None):
        expected = self._check_input(input)  # (B, H) or (H,)
        if hx is None:
            hx = (input.new_zeros(expected), input.new_zeros(expected))
        elif len(hx) != 2 or any(tuple(s.shape) != expected for s in hx):
            got = tuple(tuple(s.shape) for s in hx)
            raise ValueError(
                f"hx must be (h, c), each (B, H) or (H,) unbatched = {expected}; got {got}"
            )
        return lstm_cell_step(
            input, tuple(hx), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        )


class LSTM(StackedRecurrent):
    """A stacked, optionally bidirectional LSTM with ``torch.nn.LSTM``'s full contract.

    The same constructor, parameter names (``weight_ih_l{k}``, ``weight_hh_l{k}``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``weight_hr_l{k}`` with proj_size, ``..._reverse``) in
    torch's order, shapes and init, so ``load_state_dict(torch_lstm.state_dict())`` works.
    forward(input (T, B, I), or (B, T, I) with batch_first, or unbatched (T, I);
    hx = (h_0 (D*L, B, P), c_0 (D*L, B, H)), unbatched (D*L, P), (D*L, H); zeros by default)
    -> output (T, B, D*P) (batch_first respected; unbatched (T, D*P)),
    (h_n (D*L, B, P), c_n (D*L, B, H)). P = proj_size if > 0, else H; layer k > 0 reads D*P.
    Dropout acts on each layer's output except the last, in training mode only.
    Runs :func:`lstm_forward_fast` per layer and direction; ``fast=False`` (keyword, or set the
    attribute) runs the readable :func:`lstm_forward`. NOTE: no PackedSequence.
    Proved equal, values and gradients, both paths, by test_lstm_matches_torch.
    """

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
        *,
        fast=True,
    ):
        check_positive_int(hidden_size=hidden_size)
        check_nonnegative_int(proj_size=proj_size)
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size must be smaller than hidden_size = {hidden_size}; got {proj_size}"
            )
        super().__init__(
            gates=4,
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
            output_size=proj_size or hidden_size,
        )
        self.proj_size, self.fast = proj_size, fast

    def _parameter_shapes(self, layer_input):
        shapes = super()._parameter_shapes(layer_input)
        if self.output_size != self.hidden_size:  # projections: W_hr (P, H), Eq. (4.6)
            shapes["weight_hr"] = (self.output_size, self.hidden_size)
        return shapes

    def _weight_names(self):
        names = super()._weight_names()
        return names + ("weight_hr",) if self.output_size != self.hidden_size else names

    def _run_layer(self, x, state, weights):
        forward = lstm_forward_fast if self.fast else lstm_forward
        return forward(x, state, *weights)  # (T, B, P), ((B, P), (B, H))

    def forward(self, input, hx=None):
        input, batched = self._time_major(input)  # (T, B, I)
        H, P = self.hidden_size, self.proj_size or self.hidden_size
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError("hx must be a tuple (h_0, c_0)")
        h0, c0 = (None, None) if hx is None else hx
        h_symbol = "P" if self.proj_size else "H"
        h0 = self._check_state("h_0", h0, h_symbol, P, input, batched)  # (D*L, B, P)
        c0 = self._check_state("c_0", c0, "H", H, input, batched)  # (D*L, B, H)
        output, (h_n, c_n) = self._run_layers(input, (h0, c0), self._run_layer)
        if not batched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)  # (D*L, P), (D*L, H)
        return self._output_layout(output, batched), (h_n, c_n)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        return text + ("" if self.fast else ", fast=False")


class PeepholeLSTM(nn.Module):
    """A one-layer peephole LSTM (Gers & Schmidhuber 2000): a loop over :func:`peephole_lstm_step`.

    Parameters, in this order: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H),
    ``weight_peephole`` (3, H) (rows w_ci, w_cf, w_co), ``bias`` (4H,); all
    uniform(-1/sqrt(H), 1/sqrt(H)) like torch's LSTM. forward(x (T, B, I), or (B, T, I) with
    batch_first, or unbatched (T, I); state = (h0, c0) each (B, H), or (H,) unbatched, zeros by
    default) -> output (T, B, H) (batch_first respected), (h_n (B, H), c_n (B, H)).
    Proved by test_peephole_lstm_matches_independent_loop.
    """

    def __init__(self, input_size, hidden_size, batch_first=False):
        super().__init__()
        check_positive_int(input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.weight_peephole = nn.Parameter(torch.empty(3, hidden_size))
        self.bias = nn.Parameter(torch.empty(4 * hidden_size))
        init_uniform(self, hidden_size)

    def forward(self, x, state=None):
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if x.dim() not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must be {layout} or (T, I) unbatched, with I = {self.input_size} "
                f"(batch_first={self.batch_first}); got {tuple(x.shape)}"
            )
        if self.batch_first and x.dim() == 3:
            x = x.transpose(0, 1)  # (B, T, I) -> (T, B, I)
        if x.shape[0] == 0:
            raise ValueError(f"x must have T >= 1 steps; got {tuple(x.shape)}")
        expected = (*x.shape[1:-1], self.hidden_size)  # (B, H) or (H,)
        if state is None:
            state = (x.new_zeros(expected), x.new_zeros(expected))
        elif len(state) != 2 or any(tuple(s.shape) != expected for s in state):
            got = tuple(tuple(s.shape) for s in state)
            raise ValueError(
                f"state must be (h0, c0), each (B, H) or (H,) unbatched = {expected}; got {got}"
            )
        h, c = state
        outputs = []
        for x_t in x:  # x_t (B, I)
            h, c = peephole_lstm_step(
                x_t, (h, c), self.weight_ih, self.weight_hh, self.weight_peephole, self.bias
            )
            outputs.append(h)
        output = torch.stack(outputs)  # (T, B, H)
        if self.batch_first and output.dim() == 3:
            output = output.transpose(0, 1)  # (B, T, H)
        return output, (h, c)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, batch_first={self.batch_first}"
