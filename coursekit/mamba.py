"""Mamba: the selective state-space model, its block and a small language model (chapter 10).

Read first: :func:`selective_scan`, the selective SSM as a loop over time with the arguments
and semantics of ``selective_scan_ref`` in the mamba-ssm project (Gu & Dao 2023), then
:class:`MambaMixer` (the block's inside) and :class:`MambaBlock` (norm, mixer, residual).
:func:`selective_scan_fast` computes the same numbers with a parallel scan
(:func:`coursekit.scan.linear_scan`).

The selective SSM, per channel c of d and state entry i of n (A real and diagonal, one row
A_c (n,) per channel; Δ, B and C depend on the step t, which is the "selection"):

    (10.10)  Δ_t = softplus(delta_t + delta_bias)        (the bias and softplus are optional)
    (10.11)  Ā_t = exp(Δ_t A_c)                          ZOH, Eq. (10.4), elementwise
    (10.12)  B̄_t u_t ≈ Δ_t B_t u_t                       the Euler-style input term Mamba uses
    (10.13)  h_t = Ā_t ⊙ h_{t-1} + Δ_t B_t u_t           h (d, n) per batch entry, Eq. (10.20)
    (10.14)  y_t = <C_t, h_t> + D_c u_t                  (sum over the n state entries)
    (10.15)  out_t = y_t · silu(z_t)                     (when z is given)

(10.12) replaces the exact ZOH input matrix (exp(ΔA) - 1)/A · B by Δ B: the two agree to first
order in Δ, and Δ B costs no division by A. A is a learned parameter that does not depend on
the input (stored as A_log, A = -exp(A_log) < 0, so |Ā| < 1).

The Mamba block (mixer), for x (b, L, d_model), with E·d_model = d_inner channels:

    (10.16)  [x', z] = x W_in                       (b, L, 2 d_inner), split in two
    (10.17)  x' = silu(causal depthwise conv1d(x'))  kernel d_conv, left-padded
    (10.18)  [δ, B, C] = x' W_x,  delta = δ W_dt     (dt_rank, n, n); delta (b, L, d_inner)
    (10.19)  out = selective SSM(x', delta, A, B, C, D, z, delta_bias, softplus) W_out
    and MambaBlock(x) = x + mixer(RMSNorm(x)).

Dimension glossary (mamba-ssm's layout for the scan: channels before time):

    b  batch size        L  sequence length      d  channels (d_inner in a block)
    n  state size        g  groups of channels sharing B and C (d divisible by g)
    r  dt_rank           V  vocabulary size

Tests: tests/test_mamba.py checks the loop against an independent per-element formula, the
fast scan against the loop, and the block and language model against ``mambapy`` on the same
weights (outputs and gradients).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_positive, check_positive_int
from coursekit.rnn_models import _GeneratingLM
from coursekit.scan import linear_scan

__all__ = [
    "MambaBlock",
    "MambaCharLM",
    "MambaLM",
    "MambaMixer",
    "selective_scan",
    "selective_scan_fast",
]


def _prepare(u, delta, A, B, C, D, delta_bias, delta_softplus):
    """Check shapes; apply (10.10); return delta and B, C expanded to (b, d, n, L)."""
    if u.dim() != 3 or delta.shape != u.shape:
        raise ValueError(
            f"u and delta must be (b, d, L) of one shape; got {tuple(u.shape)}, {tuple(delta.shape)}"
        )
    batch, d, length = u.shape
    if A.dim() != 2 or A.shape[0] != d or A.is_complex():
        raise ValueError(f"A must be real (d, n) with d = {d}; got {tuple(A.shape)} {A.dtype}")
    n = A.shape[1]
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]  # (b, d, L)
    if delta_softplus:
        delta = F.softplus(delta)  # Eq. (10.10)

    def expand(name, M):  # -> (b, d, n, L) or (d, n) for a time-invariant B / C
        if M.dim() == 2 and tuple(M.shape) == (d, n):
            return M
        if M.dim() == 3 and tuple(M.shape) == (batch, n, length):
            return M.unsqueeze(1)  # one B_t for all channels
        if (
            M.dim() == 4
            and M.shape[0] == batch
            and M.shape[2:] == (n, length)
            and d % M.shape[1] == 0
        ):
            return M.repeat_interleave(d // M.shape[1], dim=1)  # channel c uses group c // (d/g)
        raise ValueError(
            f"{name} must be (d, n), (b, n, L) or (b, g, n, L) with g dividing d; "
            f"(b, d, n, L) = {(batch, d, n, length)}; got {tuple(M.shape)}"
        )

    if D is not None and tuple(D.shape) != (d,):
        raise ValueError(f"D must be (d,) = ({d},); got {tuple(D.shape)}")
    return delta, expand("B", B), expand("C", C)


def _initial_state(h0, u, A):
    """h0 checked, or zeros: the state before the first step, (b, d, n)."""
    shape = (u.shape[0], u.shape[1], A.shape[1])
    if h0 is None:
        return u.new_zeros(shape)
    if tuple(h0.shape) != shape:
        raise ValueError(f"initial_state must be (b, d, n) = {shape}; got {tuple(h0.shape)}")
    return h0


def _finish(y, u, D, z):
    if D is not None:
        y = y + u * D[:, None]  # Eq. (10.14), the skip
    if z is not None:
        y = y * F.silu(z)  # Eq. (10.15)
    return y


def selective_scan(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    initial_state=None,
):
    """The selective SSM, Eq. (10.10)-(10.15), as a loop over t (the reference).

    u (b, d, L) the input; delta (b, d, L) the raw step, before (10.10); A (d, n) real;
    B, C (d, n) fixed, (b, n, L) one per step shared by all channels, or (b, g, n, L) one per
    step and group of d/g channels; D (d,) or None the skip; z (b, d, L) or None the gate;
    delta_bias (d,) or None added to delta; delta_softplus whether to softplus it; ->
    out (b, d, L), and the last state h_{L-1} (b, d, n) if ``return_last_state``.
    ``initial_state`` (b, d, n) or None (zeros) is h_{-1}, the state a previous call returned
    (not in mamba-ssm's reference, whose state always starts at zero): a sequence scanned in
    pieces, each starting from the last state of the one before, gives the outputs of one scan
    over the whole (test_selective_scan_in_pieces_equals_whole). Computed in the inputs'
    dtype (mamba-ssm's reference casts to float32). Equal to mambapy's selective scan
    (test_selective_scan_matches_mambapy).
    """
    delta, B, C = _prepare(u, delta, A, B, C, D, delta_bias, delta_softplus)
    batch, d, length = u.shape
    h = _initial_state(initial_state, u, A)  # (b, d, n)
    ys = []
    for t in range(length):
        dt = delta[:, :, t, None]  # (b, d, 1)
        b_t = B if B.dim() == 2 else B[..., t]  # (d, n) or (b, d|1, n)
        c_t = C if C.dim() == 2 else C[..., t]
        h = torch.exp(dt * A) * h + dt * b_t * u[:, :, t, None]  # Eq. (10.11)-(10.13)
        ys.append((h * c_t).sum(-1))  # Eq. (10.14) without D, (b, d)
    out = _finish(torch.stack(ys, dim=-1), u, D, z)  # (b, d, L)
    return (out, h) if return_last_state else out


def selective_scan_fast(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    initial_state=None,
    strategy="auto",
):
    """:func:`selective_scan`'s arguments and results, with (10.13) for all t at once by
    :func:`coursekit.scan.linear_scan` (``strategy``). Builds the (b, L, d, n) coefficients
    Ā_t and inputs Δ_t B_t u_t in memory (test_selective_scan_fast_equals_loop)."""
    delta, B, C = _prepare(u, delta, A, B, C, D, delta_bias, delta_softplus)
    dt = delta.transpose(1, 2).unsqueeze(-1)  # (b, L, d, 1)

    def by_time(M):  # (d, n) or (b, d|1, n, L) -> broadcastable to (b, L, d, n)
        return M if M.dim() == 2 else M.permute(0, 3, 1, 2)

    a = torch.exp(dt * A)  # Eq. (10.11), (b, L, d, n)
    x = dt * by_time(B) * u.transpose(1, 2).unsqueeze(-1)  # Eq. (10.12)
    h0 = None if initial_state is None else _initial_state(initial_state, u, A)
    h = linear_scan(a, x.expand_as(a), h0, strategy=strategy)  # Eq. (10.13), (b, L, d, n)
    y = (h * by_time(C)).sum(-1).transpose(1, 2)  # Eq. (10.14), (b, d, L)
    out = _finish(y, u, D, z)
    return (out, h[:, -1]) if return_last_state else out


class MambaMixer(nn.Module):
    """The inside of a Mamba block, Eq. (10.16)-(10.19): x (b, L, d_model) -> (b, L, d_model).

    Parameter names and initialisation follow mambapy's ``MambaBlock`` (so its state_dict
    loads): in_proj, conv1d, x_proj, dt_proj, A_log (A = -exp(A_log), S4D-Real init
    A_{c,i} = -(i + 1)), D, out_proj. ``fast`` runs :func:`selective_scan_fast` (``strategy``),
    otherwise the loop. Equal to mambapy (test_mamba_block_matches_mambapy).

    The state after a call, for the next one to start from (``return_state=True``), is the
    pair (the last d_conv - 1 inputs of the convolution (b, d_inner, d_conv - 1), the SSM
    state h (b, d_inner, n)); ``state=None`` is zeros, the left padding of the convolution.
    A sequence read in pieces, each call given the state the one before returned, gives the
    outputs of one call on the whole sequence (test_mamba_lm_in_pieces_equals_whole): that is
    how a trained Mamba generates, one token per call, with a state of constant size.
    """

    def __init__(
        self,
        d_model,
        d_state=16,
        d_conv=4,
        expand=2,
        dt_rank=None,
        dt_min=1e-3,
        dt_max=1e-1,
        fast=True,
        strategy="auto",
    ):
        super().__init__()
        dt_rank = math.ceil(d_model / 16) if dt_rank is None else dt_rank
        check_positive_int(
            d_model=d_model, d_state=d_state, d_conv=d_conv, expand=expand, dt_rank=dt_rank
        )
        check_positive(dt_min=dt_min, dt_max=dt_max)
        d_inner = expand * d_model
        self.d_state, self.dt_rank, self.fast, self.strategy = d_state, dt_rank, fast, strategy
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1)
        self.d_inner, self.d_conv = d_inner, d_conv
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, d_inner)
        std = dt_rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        # Δ = softplus(bias) starts log-uniform in [dt_min, dt_max]: bias = softplus^{-1}(Δ)
        dt = torch.exp(
            torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        )
        dt = dt.clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))  # (d_inner, n)
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, x, state=None, return_state=False):
        """x (b, L, d_model), state (see the class) or None -> out (b, L, d_model), and the
        state after the last step if ``return_state``."""
        if x.dim() != 3:
            raise ValueError(f"x must be (b, L, d_model); got {tuple(x.shape)}")
        window, h0 = self._check_state(state, x)
        xs, z = self.in_proj(x).chunk(2, dim=-1)  # Eq. (10.16), (b, L, d_inner) each
        # causal: the conv sees the d_conv - 1 inputs before this call (zeros at the start)
        xs = torch.cat([window, xs.transpose(1, 2)], dim=-1)  # (b, d_inner, d_conv - 1 + L)
        window = xs[..., xs.shape[-1] - (self.d_conv - 1) :]
        # (self.conv1d keeps mambapy's padding, for code that calls it as mambapy's; the
        # window in front already pads, so the conv runs here without it)
        xs = F.conv1d(xs, self.conv1d.weight, self.conv1d.bias, groups=self.d_inner)
        xs = F.silu(xs)  # Eq. (10.17), (b, d_inner, L)
        dbc = self.x_proj(xs.transpose(1, 2))  # Eq. (10.18), (b, L, r + 2n)
        dlow, B, C = dbc.split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = (dlow @ self.dt_proj.weight.T).transpose(1, 2)  # (b, d_inner, L), no bias yet
        scan = selective_scan_fast if self.fast else selective_scan
        kwargs = {"strategy": self.strategy} if self.fast else {}
        y, h = scan(
            xs,
            delta,
            -torch.exp(self.A_log),
            B.transpose(1, 2),  # (b, n, L)
            C.transpose(1, 2),
            self.D,
            z=z.transpose(1, 2),
            delta_bias=self.dt_proj.bias,
            delta_softplus=True,
            return_last_state=True,
            initial_state=h0,
            **kwargs,
        )
        out = self.out_proj(y.transpose(1, 2))  # Eq. (10.19), (b, L, d_model)
        return (out, (window, h)) if return_state else out

    def _check_state(self, state, x):
        """(conv window, h0) of ``state``, zeros for the window when it is None."""
        if state is None:
            return x.new_zeros(x.shape[0], self.d_inner, self.d_conv - 1), None
        shapes = [
            (x.shape[0], self.d_inner, self.d_conv - 1),
            (x.shape[0], self.d_inner, self.d_state),
        ]
        if not (
            isinstance(state, tuple | list)
            and len(state) == 2
            and [tuple(s.shape) for s in state] == shapes
        ):
            raise ValueError(
                f"state must be a pair of tensors of shapes {shapes[0]} and {shapes[1]} "
                "(a state this mixer returned for a batch of this size)"
            )
        return state


class MambaBlock(nn.Module):
    """x + MambaMixer(RMSNorm(x)), a pre-norm residual block (mambapy's ``ResidualBlock``:
    parameters ``mixer.*`` and ``norm.weight``). x (b, L, d_model) -> (b, L, d_model)."""

    def __init__(self, d_model, eps=1e-5, **mixer_kwargs):
        super().__init__()
        self.mixer = MambaMixer(d_model, **mixer_kwargs)
        self.norm = nn.RMSNorm(d_model, eps=eps)

    def forward(self, x, state=None, return_state=False):
        """As :meth:`MambaMixer.forward`, with the mixer's state."""
        out, state = self.mixer(self.norm(x), state, return_state=True)
        return (x + out, state) if return_state else x + out


class MambaLM(nn.Module):
    """A small Mamba language model: embedding, ``n_layers`` :class:`MambaBlock`, a final
    RMSNorm and an untied linear head. tokens (b, L) long, state or None -> logits (b, L, V),
    and with ``return_state`` the state after the last token (a list: each block's mixer
    state, :class:`MambaMixer`) for the next call. Its state_dict is mambapy's ``LM`` with
    ``mamba.layers`` renamed ``layers`` (test_mamba_lm_matches_mambapy).
    """

    def __init__(self, vocab_size, d_model, n_layers, eps=1e-5, **mixer_kwargs):
        super().__init__()
        check_positive_int(vocab_size=vocab_size, n_layers=n_layers)
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(
            MambaBlock(d_model, eps=eps, **mixer_kwargs) for _ in range(n_layers)
        )
        self.norm_f = nn.RMSNorm(d_model, eps=eps)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, tokens, state=None, return_state=False):
        x = self.embedding(tokens)  # (b, L, d_model)
        if state is not None and len(state) != len(self.layers):
            raise ValueError(f"state must hold one entry per layer ({len(self.layers)})")
        states = []
        for k, layer in enumerate(self.layers):
            x, layer_state = layer(x, None if state is None else state[k], return_state=True)
            states.append(layer_state)
        logits = self.lm_head(self.norm_f(x))  # (b, L, V)
        return (logits, states) if return_state else logits


class MambaCharLM(_GeneratingLM):
    """A :class:`MambaLM` under the course's language-model contract (:mod:`coursekit.train`):
    forward(tokens (T, B) long, state or None) -> logits (T, B, V), state, time-major like
    :class:`coursekit.CharLM`, so that it trains and is scored as the recurrent models are
    (the state carried from window to window) and generates through
    :func:`coursekit.sampling.generate` with their arguments. Parameters: ``lm.*``.
    """

    def __init__(self, vocab_size, d_model, n_layers, **kwargs):
        super().__init__()
        self.vocab_size = vocab_size
        self.lm = MambaLM(vocab_size, d_model, n_layers, **kwargs)

    @property
    def output_layer(self):  # the readout, as generate() expects it
        return self.lm.lm_head

    def forward(self, tokens, state=None):
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (T, B); got {tuple(tokens.shape)}")
        logits, state = self.lm(tokens.T, state, return_state=True)  # (B, T, V)
        return logits.transpose(0, 1), state
