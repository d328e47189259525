"""Attention (注意力机制) as soft alignment (软对齐) (chapter 9).

Read first: :func:`masked_softmax` (the alignment weights of Eq. (9.11), padding excluded),
then :func:`attend` (the context vector, Eq. (9.12)); the three score functions,
:func:`additive_score` (Bahdanau et al. 2015, Eq. (9.7)), :func:`dot_score` and
:func:`general_score` (Luong et al. 2015, Eqs. (9.8)-(9.9)), and the modules built from them,
:class:`AdditiveAttention`, :class:`DotAttention`, :class:`GeneralAttention`. Last,
:func:`scaled_dot_product_attention`, the q·k of the Transformer (Vaswani et al. 2017),
Eqs. (9.10) and (9.13), with ``torch.nn.functional.scaled_dot_product_attention``'s arguments.

A decoder at step i does not read one fixed summary of the source; it scores every encoder
state h_j against its own state, turns the scores into a distribution over the source
positions (the soft alignment α_i: which source words it is looking at) and reads the
α-weighted average of the values. Everything is differentiable, so the alignment is learnt
from the translation loss alone. The context vector c_i is Eq. (9.4) of
:mod:`coursekit.seq2seq` (there v_j = h_j, the keys are the values).

Equations (i a query, e.g. the decoder state s_{i-1}; j a source position; h_j its key, v_j its
value; column-vector convention, as the papers write it):

    (9.7)   e_ij = w^T tanh(W s_{i-1} + U h_j)      additive (Bahdanau); W (H, Q), U (H, K), w (H,)
    (9.8)   e_ij = s_i^T h_j                        dot (Luong); needs Q = K
    (9.9)   e_ij = s_i^T W_a h_j                    general (Luong); W_a (Q, K)
    (9.10)  e_ij = q_i^T k_j / sqrt(d)              scaled dot product (Transformer), d = E
    (9.11)  α_ij = exp(e_ij) / Σ_{j' kept} exp(e_ij')  for a kept j,  α_ij = 0  for a masked j
    (9.12)  c_i = Σ_j α_ij v_j                      context vector (上下文向量)
    (9.13)  Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + M) V,  M_ij in {0, -inf} or any float

(Bahdanau's paper names the output vector of (9.7) v_a; it is w here, so that v stays the
values.) Where every position of a row is masked, (9.11) has nothing to normalise: we return
α_i = 0 (so c_i = 0) with zero gradients, never nan (test_fully_masked_row_gives_zeros_and_zero_gradient).

Masks. A key padding mask (B, Tk) is True where the key is a real token (keep) and False at
padding, as ``mask`` below everywhere. torch's bool ``attn_mask`` of
``scaled_dot_product_attention`` has the same sense (True = take part in attention); note that
``torch.nn.MultiheadAttention``'s ``key_padding_mask`` has the opposite one (True = ignore).
A padded key gets weight exactly 0, and its value is never read: the output does not change
whatever the padded values are (test_outputs_do_not_depend_on_padded_values).

Where we differ from torch's scaled_dot_product_attention: a fully masked row. The reference
code in torch's documentation takes softmax over a row of -inf and gives nan; torch 2.5+'s CPU
kernels return zeros, some fused GPU kernels differ again. Ours gives zeros on every device.
``dropout_p`` and ``enable_gqa`` are not offered (the course applies no dropout to attention
weights and has no grouped query heads).

Dimension glossary (batch first):

    B   batch size        Tq  queries (decoder steps)    Tk  keys = values (source positions)
    Q   query size        K   key size                   Dv  value size
    H   hidden size of the additive score
    ... any leading (batch, head) dims of scaled_dot_product_attention; L queries, S keys,
        E query/key size, Ev value size (torch's names)

Tests: tests/test_attention.py (torch's scaled_dot_product_attention in values and gradients,
a loop over i, j of Eq. (9.7), hand-computed softmax, gradcheck in float64).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from coursekit._checks import check_positive_int, describe

__all__ = [
    "AdditiveAttention",
    "DotAttention",
    "GeneralAttention",
    "additive_score",
    "attend",
    "dot_score",
    "general_score",
    "masked_softmax",
    "scaled_dot_product_attention",
]


# ---------------------------------------------------------------------------------------------
# Alignment and context: Eqs. (9.11) and (9.12).


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1):
    """Eq. (9.11): softmax of ``scores`` along ``dim`` over the positions where ``mask`` is
    True (``mask`` bool, broadcastable to ``scores``; None keeps every position). A score of
    -inf counts as masked too. Masked positions get weight exactly 0; a row with no position
    left gets all zeros and passes back a zero gradient (no nan).
    """
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor (True = keep); got {describe(mask)}")
        scores = scores.masked_fill(~mask, -math.inf)
    empty = (scores == -math.inf).all(dim=dim, keepdim=True)  # rows with nothing to weigh
    # Softmax of a row of -inf is 0/0; give such rows finite scores, then zero their weights.
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=dim)
    return weights.masked_fill(empty, 0.0)


def _check_attention_inputs(query, keys, values, mask):
    for name, value, rank in (("keys", keys, "(B, Tk, K)"), ("values", values, "(B, Tk, Dv)")):
        if not isinstance(value, torch.Tensor) or value.dim() != 3:
            raise ValueError(f"{name} must be {rank}; got {describe(value)}")
    B, Tk = keys.shape[:2]
    if values.shape[:2] != (B, Tk):
        raise ValueError(
            f"values must be (B, Tk, Dv) with B, Tk = {B}, {Tk} as keys; got {describe(values)}"
        )
    if not isinstance(query, torch.Tensor) or query.dim() not in (2, 3) or query.shape[0] != B:
        raise ValueError(f"query must be (B, Q) or (B, Tq, Q) with B = {B}; got {describe(query)}")
    if mask is not None and (
        not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != (B, Tk)
    ):
        raise ValueError(
            f"mask must be a ({B}, {Tk}) bool tensor (B, Tk), True = keep; got {describe(mask)}"
        )


def attend(scores: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None = None):
    """Eqs. (9.11)-(9.12): scores (B, Tk) or (B, Tq, Tk), values (B, Tk, Dv) and a key padding
    mask (B, Tk) (True = keep, or None) -> (context (B, Dv) or (B, Tq, Dv), weights α the shape
    of ``scores``). Values at masked positions are never read (they are zeroed before the sum)."""
    if not isinstance(scores, torch.Tensor) or scores.dim() not in (2, 3):
        raise ValueError(f"scores must be (B, Tk) or (B, Tq, Tk); got {describe(scores)}")
    _check_attention_inputs(scores, values, values, mask)  # B, Tk of scores and mask vs values
    if scores.shape[-1] != values.shape[1]:
        raise ValueError(
            f"scores must end in Tk = {values.shape[1]} (the values' length); "
            f"got {describe(scores)}"
        )
    one_query = scores.dim() == 2
    if one_query:
        scores = scores[:, None, :]  # (B, 1, Tk)
    if mask is not None:
        values = values.masked_fill(~mask[:, :, None], 0.0)  # padding never read (B, Tk, Dv)
        mask = mask[:, None, :]  # (B, 1, Tk), the same keys for every query
    weights = masked_softmax(scores, mask, dim=-1)  # (B, Tq, Tk), Eq. (9.11)
    context = weights @ values  # (B, Tq, Dv), Eq. (9.12)
    if one_query:
        return context[:, 0], weights[:, 0]  # (B, Dv), (B, Tk)
    return context, weights


# ---------------------------------------------------------------------------------------------
# Scores: Eqs. (9.7)-(9.9). query (B, Q) or (B, Tq, Q), keys (B, Tk, K) -> (B, Tk) or (B, Tq, Tk).


def additive_score(query, keys, W, U, w):
    """Eq. (9.7), Bahdanau's score: ``w^T tanh(W s + U h_j)`` for every query s and key h_j.

    W (H, Q), U (H, K), w (H,). U h_j is computed once per key, not once per (i, j) pair."""
    return _additive_from_projected(query, keys @ U.T, W, w)  # U h_j: (B, Tk, H)


def _additive_from_projected(query, projected_keys, W, w):
    """Eq. (9.7) from the keys already multiplied by U: projected_keys (B, Tk, H)."""
    projected_query = query @ W.T  # (B, H) or (B, Tq, H)
    if query.dim() == 2:
        hidden = torch.tanh(projected_query[:, None, :] + projected_keys)  # (B, Tk, H)
    else:
        hidden = torch.tanh(projected_query[:, :, None, :] + projected_keys[:, None])  # (B,Tq,Tk,H)
    return hidden @ w  # (B, Tk) or (B, Tq, Tk)


def dot_score(query, keys):
    """Eq. (9.8), Luong's dot score ``s^T h_j``; the query and key sizes must agree."""
    if query.shape[-1] != keys.shape[-1]:
        raise ValueError(
            f"dot attention needs query size Q = key size K; got query {describe(query)}, "
            f"keys {describe(keys)} (use GeneralAttention when they differ)"
        )
    if query.dim() == 2:
        return (keys @ query[:, :, None])[:, :, 0]  # (B, Tk)
    return query @ keys.transpose(1, 2)  # (B, Tq, Tk)


def general_score(query, keys, W):
    """Eq. (9.9), Luong's general score ``s^T W_a h_j``, W (Q, K)."""
    return dot_score(query @ W, keys)  # s^T W_a: (B, K) or (B, Tq, K)


# ---------------------------------------------------------------------------------------------
# The modules: forward(query, keys, values, mask=None) -> (context, weights).


class _Attention(nn.Module):
    """forward(query (B, Q) or (B, Tq, Q), keys (B, Tk, K), values (B, Tk, Dv), mask (B, Tk)
    bool True = keep, or None) -> (context (B, Dv) or (B, Tq, Dv), weights (B, Tk) or
    (B, Tq, Tk)), Eqs. (9.11)-(9.12) around the subclass's score.

    A decoder queries the same keys at every step. The part of the score that depends on the
    keys alone (U h_j of the additive score, W_a h_j of the general one) is
    :meth:`project_keys`; compute it once per source and pass it to every step's call as
    ``projected_keys`` (test_projected_keys_give_the_same_attention)."""

    query_size: int | None = None
    key_size: int | None = None

    def project_keys(self, keys):
        """keys (B, Tk, K) -> what :meth:`score_projected` takes for them."""
        return keys

    def score_projected(self, query, projected_keys):  # pragma: no cover - every subclass
        raise NotImplementedError

    def score(self, query, keys):
        return self.score_projected(query, self.project_keys(keys))

    def forward(self, query, keys, values, mask=None, projected_keys=None):
        _check_attention_inputs(query, keys, values, mask)
        for name, size, got in (("query", self.query_size, query), ("key", self.key_size, keys)):
            if size is not None and got.shape[-1] != size:
                raise ValueError(f"{name} size must be {size}; got {describe(got)}")
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        return attend(self.score_projected(query, projected_keys), values, mask)


class AdditiveAttention(_Attention):
    """Bahdanau's additive attention, Eq. (9.7): parameters ``W`` (H, Q), ``U`` (H, K) and
    ``w`` (H,), no biases (as the paper writes it), initialised like ``nn.Linear``'s weights
    (uniform within 1/sqrt(fan_in)). Proved equal to the formula looped over i and j by
    test_additive_score_equals_a_loop_over_the_formula."""

    def __init__(self, query_size, key_size, hidden_size, *, device=None, dtype=None):
        super().__init__()
        check_positive_int(query_size=query_size, key_size=key_size, hidden_size=hidden_size)
        self.query_size, self.key_size, self.hidden_size = query_size, key_size, hidden_size
        factory = {"device": device, "dtype": dtype}
        self.W = nn.Parameter(torch.empty(hidden_size, query_size, **factory))
        self.U = nn.Parameter(torch.empty(hidden_size, key_size, **factory))
        self.w = nn.Parameter(torch.empty(hidden_size, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p, fan_in in ((self.W, self.query_size), (self.U, self.key_size)):
            nn.init.uniform_(p, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
        nn.init.uniform_(self.w, -1 / math.sqrt(self.hidden_size), 1 / math.sqrt(self.hidden_size))

    def project_keys(self, keys):
        return keys @ self.U.T  # U h_j (B, Tk, H)

    def score_projected(self, query, projected_keys):
        return _additive_from_projected(query, projected_keys, self.W, self.w)


class DotAttention(_Attention):
    """Luong's dot attention, Eq. (9.8): no parameters; queries and keys of one size.
    ``scaled=True`` divides the scores by sqrt(K), as Eq. (9.10) does."""

    def __init__(self, scaled: bool = False):
        super().__init__()
        self.scaled = bool(scaled)

    def score_projected(self, query, projected_keys):
        scores = dot_score(query, projected_keys)
        return scores / math.sqrt(projected_keys.shape[-1]) if self.scaled else scores


class GeneralAttention(_Attention):
    """Luong's general attention, Eq. (9.9): one parameter ``W`` (Q, K), no bias, initialised
    uniform within 1/sqrt(K) (``nn.Linear(K, Q, bias=False)``'s rule)."""

    def __init__(self, query_size, key_size, *, device=None, dtype=None):
        super().__init__()
        check_positive_int(query_size=query_size, key_size=key_size)
        self.query_size, self.key_size = query_size, key_size
        self.W = nn.Parameter(torch.empty(query_size, key_size, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.W, -1 / math.sqrt(self.key_size), 1 / math.sqrt(self.key_size))

    def project_keys(self, keys):
        return keys @ self.W.T  # W_a h_j (B, Tk, Q)

    def score_projected(self, query, projected_keys):
        return dot_score(query, projected_keys)  # s^T (W_a h_j), Eq. (9.9)


# ---------------------------------------------------------------------------------------------
# The Transformer's form, Eqs. (9.10) and (9.13), with torch's arguments.


def scaled_dot_product_attention(
    q, k, v, attn_mask=None, is_causal=False, scale=None, *, return_weights=False
):
    """Eq. (9.13) with ``torch.nn.functional.scaled_dot_product_attention``'s semantics:
    q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev) (leading dims broadcast).

    ``attn_mask`` broadcastable to (..., L, S): bool (True = take part) or float (added to the
    scores); ``is_causal=True`` lets query i see keys j <= i (the top-left aligned lower
    triangle, as torch) and, as in torch, cannot be combined with ``attn_mask``. ``scale``
    defaults to 1/sqrt(E), Eq. (9.10). A fully masked row gives zeros, not nan (module
    docstring). ``return_weights=True`` also returns the weights (..., L, S). Equal to torch
    in values and gradients: test_scaled_dot_product_attention_matches_torch.
    """
    for name, value in (("q", q), ("k", k), ("v", v)):
        if not isinstance(value, torch.Tensor) or value.dim() < 2:
            raise ValueError(f"{name} must be (..., length, size); got {describe(value)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            "q (..., L, E), k (..., S, E) and v (..., S, Ev) must agree in E and S; got "
            f"{describe(q)}, {describe(k)}, {describe(v)}"
        )
    if is_causal and attn_mask is not None:
        raise ValueError("attn_mask must be None when is_causal=True (as in torch)")
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., L, S), Eq. (9.10)
    keep = None
    if is_causal:
        keep = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()  # (L, S)
    elif attn_mask is not None and attn_mask.dtype == torch.bool:
        keep = attn_mask  # broadcastable to (..., L, S)
    elif attn_mask is not None:
        scores = scores + attn_mask  # M of Eq. (9.13)
    if keep is not None:
        scores = torch.where(keep, scores, -math.inf)  # broadcasts scores and mask together
    weights = masked_softmax(scores, dim=-1)  # (..., L, S), a row of -inf -> zeros
    output = weights @ v  # (..., L, Ev)
    return (output, weights) if return_weights else output
