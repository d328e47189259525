"""Layer-normalised LSTM and GRU cells and layers (Ba, Kiros & Hinton 2016) (chapter 7).

Read first: :func:`layer_norm_lstm_step` (Eq. (7.8)-(7.10)) and :func:`layer_norm_gru_step`
(Eq. (7.11)-(7.13)), one step each, built on :func:`coursekit.layernorm.layer_norm`; then
their cells (:class:`LayerNormLSTMCell`, :class:`LayerNormGRUCell`, with torch's cell
parameters plus the γ, β of each norm) and stacked layers (:class:`LayerNormLSTM`,
:class:`LayerNormGRU`, on the shared ``coursekit._recurrent.StackedRecurrent``).

Equations (row-vector convention, as torch writes them; LN as Eq. (7.1)-(7.4), over the last
dim):

    LN-LSTM (Ba et al. 2016, eq. (20)-(22)); z (B, 4H) in torch's gate order i, f, g, o:
    (7.8)  z_t = LN(x_t W_ih^T; γ_ih, β_ih) + LN(h_{t-1} W_hh^T; γ_hh, β_hh) + b_ih + b_hh
           i, f, g, o, c_t as Eq. (4.1)-(4.5) on z_t
    (7.9)  c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                    the carried cell: not normalised
    (7.10) h_t = o_t ⊙ tanh(LN(c_t; γ_c, β_c))

    LN-GRU: (a_r, a_z, a_n) = LN(x_t W_ih^T; γ_ih, β_ih) + b_ih,
            (u_r, u_z, u_n) = LN(h_{t-1} W_hh^T; γ_hh, β_hh) + b_hh   (3H each, order r, z, n)
    (7.11) r_t = sigma(a_r + u_r),  z_t = sigma(a_z + u_z)
    (7.12) n_t = tanh(a_n + r_t ⊙ u_n)                           b_hn inside, as torch's GRU
    (7.13) h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

NOTE: each normalisation is over all 4H (3H) pre-activations of a product together, as Ba et
al. write it. Ba et al. have one bias b; b_ih + b_hh is the same thing in torch's layout, so an
``LSTMCell``'s state_dict loads into :class:`LayerNormLSTMCell` (``strict=False``: the γ, β are
new). Ba et al. carry the unnormalised c_t; pytorch's benchmark ``custom_lstms.py`` carries
LN(c_t) instead. LN removes any positive rescaling of W_ih or W_hh (with eps = 0 exactly):
"invariance to weight re-scaling", sec. 5 of the paper.

Dimension glossary:

    T  time steps        B  batch size      I  input features     H  hidden size
    D  directions        L  layers

Tests: tests/test_layernorm.py compares the LN-LSTM and LN-GRU with per-gate formulas written
in the test (separate matrices per gate, torch.nn.functional.layer_norm) and gradcheck.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_nonnegative
from coursekit._recurrent import RecurrentCell, StackedRecurrent, init_uniform
from coursekit.layernorm import layer_norm

__all__ = [
    "LayerNormGRU",
    "LayerNormGRUCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "layer_norm_gru_step",
    "layer_norm_lstm_step",
]


# ---------------------------------------------------------------------------------------------
# Layer-normalised recurrent steps (Ba et al. 2016): the text of the chapter.


def _norm_last(v, weight, bias, eps):
    """LN over the last dim, Eq. (7.1)-(7.4): a product's gate pre-activations, or c_t."""
    return layer_norm(v, (v.shape[-1],), weight, bias, eps)


def _step_arguments(weights):
    """The parameters as registered (weights, biases, then γ, β, γ, β ...) -> as the step
    functions take them (weights, biases, then one (γ, β) pair per norm)."""
    return (*weights[:4], *zip(weights[4::2], weights[5::2], strict=True))


def layer_norm_lstm_step(
    x, state, weight_ih, weight_hh, bias_ih, bias_hh, norm_ih, norm_hh, norm_cell, eps=1e-5
):
    """One LN-LSTM step, Eq. (7.8)-(7.10).

    x (B, I), state = (h_prev (B, H), c_prev (B, H)), weight_ih (4H, I), weight_hh (4H, H),
    bias_ih, bias_hh (4H,) or None; each norm_* a pair (γ, β), (4H,) each for norm_ih and
    norm_hh, (H,) for norm_cell (None for none) -> (h, c), each (B, H); c is the unnormalised
    cell. torch has no LN-LSTM: tests compare it with a per-gate formula and gradcheck
    (test_layer_norm_lstm_cell_matches_per_gate_formula, test_layer_norm_lstm_step_passes_gradcheck).
    """
    h_prev, c_prev = state
    z = _norm_last(F.linear(x, weight_ih), *norm_ih, eps)  # (B, 4H)
    z = z + _norm_last(F.linear(h_prev, weight_hh), *norm_hh, eps)  # Eq. (7.8)
    for b in (bias_ih, bias_hh):
        z = z if b is None else z + b
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)  # (B, H) each, torch's gate order
    i, f, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.sigmoid(z_o)
    c = f * c_prev + i * torch.tanh(z_g)  # Eq. (7.9)
    h = o * torch.tanh(_norm_last(c, *norm_cell, eps))  # Eq. (7.10)
    return h, c


def layer_norm_gru_step(
    x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh, norm_ih, norm_hh, eps=1e-5
):
    """One LN-GRU step, Eq. (7.11)-(7.13): both products normalised, then torch's GRU.

    x (B, I), h_prev (B, H), weight_ih (3H, I), weight_hh (3H, H), biases (3H,) or None,
    norm_ih, norm_hh pairs (γ, β) of (3H,) each -> h (B, H). Tests:
    test_layer_norm_gru_cell_matches_per_gate_formula, test_layer_norm_gru_step_passes_gradcheck.
    """
    a = _norm_last(F.linear(x, weight_ih), *norm_ih, eps)  # (B, 3H)
    u = _norm_last(F.linear(h_prev, weight_hh), *norm_hh, eps)  # (B, 3H)
    a = a if bias_ih is None else a + bias_ih
    u = u if bias_hh is None else u + bias_hh
    (a_r, a_z, a_n), (u_r, u_z, u_n) = a.chunk(3, dim=-1), u.chunk(3, dim=-1)  # (B, H) each
    r, z = torch.sigmoid(a_r + u_r), torch.sigmoid(a_z + u_z)  # Eq. (7.11)
    n = torch.tanh(a_n + r * u_n)  # Eq. (7.12)
    return (1 - z) * n + z * h_prev  # Eq. (7.13)


# ---------------------------------------------------------------------------------------------
# Cells and layers: torch's cell and RNNBase layouts, plus the γ, β of each normalisation.


def _norm_shapes(gates, hidden_size):
    """name -> shape of the γ (``..._weight``, ones) and β (``..._bias``, zeros) of each norm:
    ln_ih, ln_hh (G*H,) and, for the LSTM (G = 4), ln_cell (H,)."""
    sizes = {"ln_ih": gates * hidden_size, "ln_hh": gates * hidden_size}
    sizes.update({"ln_cell": hidden_size} if gates == 4 else {})
    return {f"{norm}_{kind}": (n,) for norm, n in sizes.items() for kind in ("weight", "bias")}


def _reset_norms(module, hidden_size):
    """torch's uniform init for the weights and biases, then γ = 1, β = 0."""
    init_uniform(module, hidden_size)
    for name, p in module.named_parameters():
        if name.startswith("ln_"):
            nn.init.ones_(p) if "_weight" in name else nn.init.zeros_(p)


class _LayerNormCell(RecurrentCell):
    """torch's cell parameters (weight_ih, weight_hh, bias_ih, bias_hh), then the norms'."""

    def __init__(self, gates, input_size, hidden_size, bias, eps, device, dtype):
        super().__init__(
            gates=gates,
            input_size=input_size,
            hidden_size=hidden_size,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        check_nonnegative(eps=eps)
        self.gates, self.eps = gates, eps
        for name, shape in _norm_shapes(gates, hidden_size).items():
            self.register_parameter(
                name, nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
            )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_norms(self, self.hidden_size)

    def _weights(self):
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", *_norm_shapes(self.gates, 1))
        return [getattr(self, name) for name in names]


class LayerNormLSTMCell(_LayerNormCell):
    """Eq. (7.8)-(7.10) as a module: ``torch.nn.LSTMCell``'s parameters, constructor and
    forward, plus ``ln_ih_weight``, ``ln_ih_bias``, ``ln_hh_weight``, ``ln_hh_bias`` (4H,) and
    ``ln_cell_weight``, ``ln_cell_bias`` (H,). forward(input (B, I) or (I,), hx = (h, c) each
    (B, H) or (H,), zeros by default) -> (h', c').
    Proved by test_layer_norm_lstm_cell_matches_per_gate_formula.
    """

    def __init__(self, input_size, hidden_size, bias=True, eps=1e-5, device=None, dtype=None):
        super().__init__(4, input_size, hidden_size, bias, eps, device, dtype)

    def forward(self, input, hx=None):
        if hx is None:
            hx = (None, None)
        elif len(hx) != 2:
            raise ValueError("hx must be a pair (h, c)")
        h, c = (self._initial_state(s, input) for s in hx)  # (B, H) or (H,) each
        return layer_norm_lstm_step(input, (h, c), *_step_arguments(self._weights()), eps=self.eps)


class LayerNormGRUCell(_LayerNormCell):
    """Eq. (7.11)-(7.13) as a module: ``torch.nn.GRUCell``'s parameters, constructor and
    forward, plus ``ln_ih_weight``, ``ln_ih_bias``, ``ln_hh_weight``, ``ln_hh_bias`` (3H,).
    forward(input (B, I) or (I,), hx (B, H) or (H,), zeros by default) -> h'.
    Proved by test_layer_norm_gru_cell_matches_per_gate_formula.
    """

    def __init__(self, input_size, hidden_size, bias=True, eps=1e-5, device=None, dtype=None):
        super().__init__(3, input_size, hidden_size, bias, eps, device, dtype)

    def forward(self, input, hx=None):
        hx = self._initial_state(hx, input)  # (B, H) or (H,)
        return layer_norm_gru_step(input, hx, *_step_arguments(self._weights()), eps=self.eps)


class _LayerNormStack(StackedRecurrent):
    """torch's RNNBase layout (``weight_ih_l{k}`` ... ``bias_hh_l{k}``, ``_reverse``) with each
    layer's γ, β after them (``ln_ih_weight_l{k}`` ...); a torch layer's state_dict loads with
    ``strict=False``. Runs the readable loop over the step function."""

    cell_gates: int  # 4 LSTM, 3 GRU

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
        eps=1e-5,
    ):
        super().__init__(
            gates=self.cell_gates,
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
        check_nonnegative(eps=eps)
        self.eps = eps

    def _parameter_shapes(self, layer_input):
        return {
            **super()._parameter_shapes(layer_input),
            **_norm_shapes(self.gates, self.hidden_size),
        }

    def _weight_names(self):
        return (*super()._weight_names(), *_norm_shapes(self.gates, 1))

    def reset_parameters(self) -> None:
        _reset_norms(self, self.hidden_size)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps}"


class LayerNormLSTM(_LayerNormStack):
    """A stacked, optionally bidirectional LN-LSTM, Eq. (7.8)-(7.10) at every step.

    ``torch.nn.LSTM``'s constructor (no proj_size), forward and return values, plus
    ``eps``: forward(input (T, B, I), or (B, T, I) with batch_first, or (T, I);
    hx = (h_0, c_0), each (D*L, B, H), zeros by default) -> output (T, B, D*H),
    (h_n, c_n) each (D*L, B, H).
    Proved by test_layer_norm_layers_match_loops_of_the_per_gate_formula.
    """

    cell_gates = 4

    def _run_layer(self, x, state, weights):
        (h, c), outputs, weights = state, [], _step_arguments(weights)
        for x_t in x:  # x_t (B, I_l)
            h, c = layer_norm_lstm_step(x_t, (h, c), *weights, eps=self.eps)
            outputs.append(h)
        return torch.stack(outputs), (h, c)  # (T, B, H), ((B, H), (B, H))

    def forward(self, input, hx=None):
        input, batched = self._time_major(input)  # (T, B, I)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError("hx must be a tuple (h_0, c_0)")
        h0, c0 = (None, None) if hx is None else hx
        H = self.hidden_size
        h0 = self._check_state("h_0", h0, "H", H, input, batched)  # (D*L, B, H)
        c0 = self._check_state("c_0", c0, "H", H, input, batched)  # (D*L, B, H)
        output, (h_n, c_n) = self._run_layers(input, (h0, c0), self._run_layer)
        if not batched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)  # (D*L, H) each
        return self._output_layout(output, batched), (h_n, c_n)


class LayerNormGRU(_LayerNormStack):
    """A stacked, optionally bidirectional LN-GRU, Eq. (7.11)-(7.13) at every step.

    ``torch.nn.GRU``'s constructor, forward and return values, plus ``eps``:
    forward(input (T, B, I), or (B, T, I) with batch_first, or (T, I); hx (D*L, B, H), zeros
    by default) -> output (T, B, D*H), h_n (D*L, B, H).
    Proved by test_layer_norm_layers_match_loops_of_the_per_gate_formula.
    """

    cell_gates = 3

    def _run_layer(self, x, state, weights):
        h, outputs, weights = state[0], [], _step_arguments(weights)
        for x_t in x:  # x_t (B, I_l)
            h = layer_norm_gru_step(x_t, h, *weights, eps=self.eps)
            outputs.append(h)
        return torch.stack(outputs), (h,)  # (T, B, H), ((B, H),)

    def forward(self, input, hx=None):
        input, batched = self._time_major(input)  # (T, B, I)
        hx = self._check_state("hx", hx, "H", self.hidden_size, input, batched)  # (D*L, B, H)
        output, (h_n,) = self._run_layers(input, (hx,), self._run_layer)
        return self._output_layout(output, batched), h_n if batched else h_n.squeeze(1)
