"""Gated recurrent units (门控循环单元, GRU) (chapter 4).

Read first: :func:`gru_cell_step` (one step, Eq. (4.7)-(4.10)) and :func:`gru_forward` (the
loop over time). :func:`gru_forward_fast` computes the same with the input projection hoisted
out of the loop and a hand-written backward, and it is what :class:`GRU` runs by default
(``fast=False`` runs the readable loop). :class:`GRU` and :class:`GRUCell` have
``torch.nn.GRU`` / ``torch.nn.GRUCell``'s contract exactly; their constructors, layouts and
the layer loop are ``coursekit._recurrent``'s, shared with the RNN and the LSTM.

Equations (row-vector convention, as torch writes them; sigma is the logistic sigmoid, ⊙ the
elementwise product; W_ih (3H, I) and W_hh (3H, H) hold the row blocks r, z, n in torch's order):

    (4.7)  r_t = sigma(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)            reset gate (重置门)
    (4.8)  z_t = sigma(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)            update gate (更新门)
    (4.9)  n_t = tanh(x_t W_in^T + b_in + r_t ⊙ (h_{t-1} W_hn^T + b_hn))     candidate state
    (4.10)  h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

NOTE: b_hn sits inside the reset product, as in torch and cuDNN (Cho et al. 2014 apply r_t to
h_{t-1} before the product; the two differ). z_t = 1 keeps the old state, like an LSTM forget gate.

Dimension glossary:

    T  time steps (sequence length)        B  batch size
    I  input features per step             H  hidden size
    D  directions: 1, or 2 if bidirectional
    L  layers (num_layers)

Tests: tests/test_gru.py compares everything here with torch.nn.GRU / GRUCell (values and
gradients, both paths) or with an explicit formula.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from coursekit._fused import GRULayer
from coursekit._recurrent import RecurrentCell, StackedRecurrent

__all__ = ["GRU", "GRUCell", "gru_cell_step", "gru_forward", "gru_forward_fast"]


# ---------------------------------------------------------------------------------------------
# The functional reference: the text of the chapter.


def gru_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One GRU step, Eq. (4.7)-(4.10).

    x (B, I), h_prev (B, H), weight_ih (3H, I), weight_hh (3H, H), biases (3H,) or None
    -> h (B, H). Unbatched x (I,), h_prev (H,) -> (H,).
    Equal to ``torch.nn.GRUCell`` (test_gru_cell_step_matches_torch_gru_cell).
    """
    x_r, x_z, x_n = F.linear(x, weight_ih, bias_ih).chunk(3, dim=-1)  # (B, H) each
    h_r, h_z, h_n = F.linear(h_prev, weight_hh, bias_hh).chunk(3, dim=-1)  # (B, H) each
    r = torch.sigmoid(x_r + h_r)  # Eq. (4.7)
    z = torch.sigmoid(x_z + h_z)  # Eq. (4.8)
    n = torch.tanh(x_n + r * h_n)  # Eq. (4.9), b_hn inside the reset product
    return (1 - z) * n + z * h_prev  # Eq. (4.10)


def gru_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """Run Eq. (4.7)-(4.10) over a sequence: a Python loop over t calling :func:`gru_cell_step`.

    x (T, B, I), h0 (B, H) -> output (T, B, H) (every h_t), h_n (B, H) (= output[-1]).
    Equal to a one-layer ``torch.nn.GRU`` (test_gru_forward_matches_torch_one_layer).
    """
    if x.shape[0] == 0:
        raise ValueError(f"x must be (T, B, I) with T >= 1; got {tuple(x.shape)}")
    h = h0
    outputs = []
    for x_t in x:  # x_t (B, I)
        h = gru_cell_step(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh)
        outputs.append(h)
    return torch.stack(outputs), h  # (T, B, H), (B, H)


# ---------------------------------------------------------------------------------------------
# The fast path: coursekit._fused.GRULayer, the LSTM's recipe applied to Eq. (4.7)-(4.10).


def gru_forward_fast(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """:func:`gru_forward`'s arguments and results, computed by one custom autograd node.

    x (T, B, I), h0 (B, H) -> output (T, B, H), h_n (B, H). Equal to :func:`gru_forward` in
    values and gradients (test_gru_forward_fast_equals_reference_loop). NOTE: first
    derivatives only (no double backward); float32 CPU matmuls go through oneDNN.
    """
    H = weight_hh.shape[1]
    if x.dim() != 3 or x.shape[0] == 0 or x.shape[2] != weight_ih.shape[1]:
        raise ValueError(
            f"x must be (T, B, I) with T >= 1 and I = {weight_ih.shape[1]}; got {tuple(x.shape)}"
        )
    if tuple(h0.shape) != (x.shape[1], H):
        raise ValueError(f"h0 must be (B, H) = {(x.shape[1], H)}; got {tuple(h0.shape)}")
    return GRULayer.apply(x, h0, weight_ih, weight_hh, bias_ih, bias_hh)


# ---------------------------------------------------------------------------------------------
# Layers with torch's contract.


class GRUCell(RecurrentCell):
    """Eq. (4.7)-(4.10) as a module; the same names, shapes and init as ``torch.nn.GRUCell``.

    forward(input (B, I) or (I,), hx (B, H) or (H,), zeros by default) -> h' (B, H) or (H,).
    Proved equal by test_gru_cell_matches_torch.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(
            gates=3,
            input_size=input_size,
            hidden_size=hidden_size,
            bias=bias,
            device=device,
            dtype=dtype,
        )

    def forward(self, input, hx=None):
        hx = self._initial_state(hx, input)  # (B, H) or (H,)
        return gru_cell_step(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRU(StackedRecurrent):
    """A stacked, optionally bidirectional GRU with ``torch.nn.GRU``'s full contract.

    The same constructor, parameter names (``weight_ih_l{k}``, ``weight_hh_l{k}``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``..._reverse``) in torch's order, shapes and init, so
    ``load_state_dict(torch_gru.state_dict())`` works.
    forward(input (T, B, I), or (B, T, I) with batch_first, or unbatched (T, I);
    hx (D*L, B, H) or unbatched (D*L, H), zeros by default)
    -> output (T, B, D*H) (batch_first respected; unbatched (T, D*H)), h_n (D*L, B, H).
    Dropout acts on each layer's output except the last, in training mode only.
    Runs :func:`gru_forward_fast` per layer and direction; ``fast=False`` (keyword, or set the
    attribute) runs the readable :func:`gru_forward`. NOTE: no PackedSequence.
    Proved equal, values and gradients, both paths, by test_gru_matches_torch.
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
        device=None,
        dtype=None,
        *,
        fast=True,
    ):
        super().__init__(
            gates=3,
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
        self.fast = fast

    def _run_layer(self, x, state, weights):
        forward = gru_forward_fast if self.fast else gru_forward
        output, h_n = forward(x, state[0], *weights)
        return output, (h_n,)  # (T, B, H), ((B, H),)

    def forward(self, input, hx=None):
        input, batched = self._time_major(input)  # (T, B, I)
        hx = self._check_state("hx", hx, "H", self.hidden_size, input, batched)  # (D*L, B, H)
        output, (h_n,) = self._run_layers(input, (hx,), self._run_layer)
        return self._output_layout(output, batched), h_n if batched else h_n.squeeze(1)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.fast else ", fast=False")
