"""Gated recurrent units (门控循环单元, GRU) (chapter 4).

Read first: :func:`gru_cell_step` (one step, Eq. (4.7)-(4.10)) and :func:`gru_forward` (the
loop over time). :func:`gru_forward_fast` computes the same with the input projection hoisted
out of the loop and a hand-written backward, and it is what :class:`GRU` runs by default
(``fast=False`` runs the readable loop). :class:`GRU` and :class:`GRUCell` have
``torch.nn.GRU`` / ``torch.nn.GRUCell``'s contract exactly; the constructor, layouts and the
layer loop are shared with :class:`coursekit.lstm.LSTM`.

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
from torch import nn
from torch.autograd.function import once_differentiable

from coursekit.lstm import (
    _check_cell_input,
    _multiply_by,
    _register_cell_parameters,
    _sigmoid_grad,
    _tanh_grad,
)
from coursekit.rnn import _check_positive, _init_uniform, _StackedRecurrent

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
# The fast path: coursekit.lstm's recipe (hoisted input projection, one autograd node, local
# derivatives for all t at once, weight gradients as one product each) applied to Eq. (4.7)-(4.10).


class _GRULayer(torch.autograd.Function):
    """One GRU layer over a whole sequence as one autograd node; outputs output, h_n."""

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih, bias_hh):
        T, B, I = x.shape  # noqa: E741 (the glossary's names)
        H = weight_hh.shape[1]
        # The input terms of Eq. (4.7)-(4.9) for all t at once: (T, B, 3H), blocks r, z, n.
        x_terms = _multiply_by(weight_ih.t(), T * B)(x.reshape(T * B, I), bias_ih)
        x_terms = x_terms.view(T, B, 3 * H)
        recurrent = _multiply_by(weight_hh.t(), B)  # h (B, H) -> (B, 3H)
        gates = x.new_empty(T, B, 3 * H)  # r, z, n after their nonlinearities
        h_n_terms = x.new_empty(T, B, H)  # h_{t-1} W_hn^T + b_hn, the reset product's factor
        output = x.new_empty(T, B, H)
        h = h0
        for t in range(T):
            h_terms = recurrent(h, bias_hh)  # (B, 3H)
            a = gates[t]  # (B, 3H)
            torch.add(x_terms[t, :, : 2 * H], h_terms[:, : 2 * H], out=a[:, : 2 * H]).sigmoid_()
            r, z, n = a.chunk(3, dim=1)  # Eq. (4.7), (4.8); n is filled next
            h_n_terms[t] = h_terms[:, 2 * H :]
            torch.addcmul(x_terms[t, :, 2 * H :], r, h_n_terms[t], out=n).tanh_()  # Eq. (4.9)
            h = torch.lerp(n, h, z, out=output[t])  # n + z ⊙ (h - n), Eq. (4.10)
        ctx.save_for_backward(x, h0, weight_ih, weight_hh, gates, h_n_terms, output)
        ctx.has_bias = (bias_ih is not None, bias_hh is not None)
        return output, output[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_output, d_h_n):
        x, h0, weight_ih, weight_hh, gates, h_n_terms, output = ctx.saved_tensors
        T, B, I = x.shape  # noqa: E741 (the glossary's names)
        H = weight_hh.shape[1]
        r, z, n = gates.chunk(3, dim=2)  # (T, B, H) each
        h_prev = torch.cat([h0.unsqueeze(0), output[:-1]])  # h_{t-1} for every t (T, B, H)
        # Every pre-activation gradient is dh_t ⊙ (a local factor); the factors for all t at once:
        # dz-pre = dh (h_{t-1} - n) z (1 - z); dn-pre = dh (1 - z)(1 - n^2);
        # dr-pre = dn-pre (h W_hn^T + b_hn) r (1 - r); d(h W_hn^T + b_hn) = dn-pre r.
        # The loop multiplies them by dh_t in place, which leaves the gradients there.
        d_x_terms = x.new_empty(T, B, 3, H)  # -> dL/d(x W_ih^T + b_ih), blocks r, z, n
        _tanh_grad(1 - z, n, grad_input=d_x_terms[:, :, 2])
        _sigmoid_grad(d_x_terms[:, :, 2] * h_n_terms, r, grad_input=d_x_terms[:, :, 0])
        _sigmoid_grad(h_prev - n, z, grad_input=d_x_terms[:, :, 1])
        d_h_terms = d_x_terms.clone()  # -> dL/d(h W_hh^T + b_hh): the same but for n's block
        d_h_terms[:, :, 2] *= r
        recurrent_back = _multiply_by(weight_hh, B)  # (B, 3H) -> (B, H)
        dh = d_h_n
        for t in reversed(range(T)):
            dh = d_output[t] + dh  # all of dL/dh_t
            d_x_terms[t].mul_(dh.unsqueeze(1))
            d_h_terms[t].mul_(dh.unsqueeze(1))
            # dL/dh_{t-1}: through the gates, and directly through z ⊙ h_{t-1} in Eq. (4.10)
            dh = torch.addcmul(recurrent_back(d_h_terms[t].view(B, 3 * H)), dh, z[t])

        d_x_all = d_x_terms.view(T * B, 3 * H)
        d_h_all = d_h_terms.view(T * B, 3 * H)
        d_x = None
        if ctx.needs_input_grad[0]:
            d_x = _multiply_by(weight_ih, T * B)(d_x_all).view(T, B, I)
        d_weight_ih = _multiply_by(x.reshape(T * B, I), 3 * H)(d_x_all.t())  # (3H, I)
        d_weight_hh = _multiply_by(h_prev.view(T * B, H), 3 * H)(d_h_all.t())  # (3H, H)
        has_bias_ih, has_bias_hh = ctx.has_bias
        d_bias_ih = d_x_all.sum(0) if has_bias_ih else None
        d_bias_hh = d_h_all.sum(0) if has_bias_hh else None
        return d_x, dh, d_weight_ih, d_weight_hh, d_bias_ih, d_bias_hh


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
    return _GRULayer.apply(x, h0, weight_ih, weight_hh, bias_ih, bias_hh)


# ---------------------------------------------------------------------------------------------
# Layers with torch's contract.


class GRUCell(nn.Module):
    """Eq. (4.7)-(4.10) as a module; the same names, shapes and init as ``torch.nn.GRUCell``.

    forward(input (B, I) or (I,), hx (B, H) or (H,), zeros by default) -> h' (B, H) or (H,).
    Proved equal by test_gru_cell_matches_torch.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        _check_positive(input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory = {"device": device, "dtype": dtype}
        _register_cell_parameters(self, 3, input_size, hidden_size, bias, factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_uniform(self, self.hidden_size)

    def forward(self, input, hx=None):
        _check_cell_input(input, self.input_size)
        expected = (*input.shape[:-1], self.hidden_size)  # (B, H) or (H,)
        if hx is None:
            hx = input.new_zeros(expected)
        elif tuple(hx.shape) != expected:
            raise ValueError(
                f"hx must be (B, H) or (H,) unbatched = {expected}; got {tuple(hx.shape)}"
            )
        return gru_cell_step(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class GRU(_StackedRecurrent):
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

    gates = 3

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
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
            fast=fast,
        )

    def _run_layer(self, x, state, weights):
        forward = gru_forward_fast if self.fast else gru_forward
        output, h_n = forward(x, state[0], *weights)
        return output, (h_n,)  # (T, B, H), ((B, H),)

    def forward(self, input, hx=None):
        input, batched = self._time_major(input)  # (T, B, I)
        hx = self._check_state("hx", hx, "H", self.hidden_size, input, batched)  # (D*L, B, H)
        output, (h_n,) = self._run_layers(input, (hx,), self._run_layer)
        return self._output_layout(output, batched), h_n if batched else h_n.squeeze(1)
