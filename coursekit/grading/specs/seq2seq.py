"""Grading specs for assignment 9, sequence to sequence and attention: four functions, graded
against coursekit.attention, coursekit.seq2seq and coursekit.beam_search.

The references are coursekit's own functions called through a thin adapter each (the
student's signature, the library's computation):

* ``additive_attention`` (Eqs. (9.7), (9.11)-(9.12)) is
  ``attend(additive_score(query, keys, W, U, w), values, mask)``, and ``dot_attention``
  (Eqs. (9.8), (9.10)) ``DotAttention(scaled)(query, keys, values, mask)``. Values and
  gradients (query, keys, values and the score's weights), on key padding masks that cut
  each sequence at its own length, an arbitrary (not prefix) mask, no mask (None), a row with
  every key masked (weights and context exactly 0, zero gradients, no nan), one key, a batch
  of one, Q = K (so W and U of the additive score have the same shape and swapping them is a
  wrong number, not an error) and key sizes whose square root differs from the key count and
  the value size (so a scale by the wrong size shows).
* ``attention_decoder_step`` (Eqs. (9.4)-(9.6), one GRU layer, additive attention) is
  :meth:`coursekit.seq2seq.Decoder.step` itself: a ``Decoder`` of the case's sizes whose
  parameters are the case's tensors (``torch.func.functional_call``, so the gradients reach
  them), with no padding index on its embedding (every id, 0 included, gets its gradient).
  Values and gradients with respect to the state, the memory and every weight; sources of
  several lengths whose padded memory is random (not zeros, so attending to padding shows),
  H = K in one case, a batch of one with a one-word source.
* ``beam_search`` (Eqs. (9.14)-(9.15)) is :func:`coursekit.beam_search.beam_search`, its
  tokens padded with <eos> to ``max_length`` columns (the student returns a fixed width).
  The model is an ``{"elman_log_step": ...}`` argument (:mod:`coursekit.grading.evaluate`):
  an Elman decoder whose output is log_softmax of its logits, with one more embedding row
  than tokens (<bos> = V, never produced), and whose state weighs on the next token as much
  as the token fed does. Sources differ by a given initial state (or, without one, by their
  <bos> ids); in a batch, the best hypotheses end at different steps, from 1 to
  ``max_length``. Compared in value only (a search runs without gradients): the tokens and
  lengths exactly, log P and s(Y) within the default tolerance; length_penalty 0 and from
  0.6 to 2, beam sizes 1 (greedy search) to V, max_length 1, <eos> not 0, batches of 12 and
  16 sources.

Tolerances: the default (rtol 1e-7, atol 1e-9). Measured over 50 seeds, the solution (the
same formulas in another order: a sum of products for the context, its own GRU cell and
readout, top-k for the sort) differs from the reference by at most 3e-7 of the tolerance in
values and gradients, and returns its tokens exactly; a one-source beam search over Python
lists, each hypothesis with its own state, passes on 100 seeds. The ranking compares
continuous scores, which two honest answers could only order differently if two were within
a few ulps. Every wrong variant of tests/grading/variants/seq2seq_and_attention.py fails its
check on each of 100 seeds (beam search: 500), the seeds of tests/grading/test_checks.py
included. The hardest to catch are the state not reordered and the ranking not
length-normalised: no one case catches them on every seed, the batch of 16 on 469 and 488 of
500.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from coursekit.attention import AdditiveAttention, DotAttention, additive_score, attend
from coursekit.beam_search import beam_search
from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit
from coursekit.grading.specs.lstm import LSTM_FORBIDDEN
from coursekit.seq2seq import Decoder

# -- chapter 9: sequence to sequence and attention ----------------------------------------------

ATTENTION_FORBIDDEN = (
    "additive_score",
    "dot_score",
    "general_score",
    "masked_softmax",
    "attend",
    "AdditiveAttention",
    "DotAttention",
    "GeneralAttention",
    "scaled_dot_product_attention",
    "_scaled_dot_product_attention_math",
    "multi_head_attention_forward",
    "MultiheadAttention",
)
DECODER_FORBIDDEN = (*ATTENTION_FORBIDDEN, *LSTM_FORBIDDEN, "Decoder", "Seq2Seq")
SEARCH_FORBIDDEN = ("beam_search", "greedy_search", "length_penalty_factor", "Seq2Seq")


# -- the references: the student's signatures, coursekit's computations --------------------------


def reference_additive_attention(query, keys, values, mask, W, U, w):
    return attend(additive_score(query, keys, W, U, w), values, mask)


def reference_dot_attention(query, keys, values, mask, scaled=False):
    return DotAttention(scaled=scaled)(query, keys, values, mask)


class _DecoderStep(nn.Module):
    """A module whose forward is ``decoder.step``, for ``torch.func.functional_call``."""

    def __init__(self, decoder: Decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, *args):
        return self.decoder.step(*args)


def reference_decoder_step(y_prev, s_prev, memory, mask, *, embedding, gru, attention, readout):
    (V, E), H, K = embedding.shape, s_prev.shape[1], memory.shape[2]
    decoder = Decoder(
        V,
        E,
        H,
        K,
        attention=AdditiveAttention(H, K, attention[0].shape[0]),
        output_size=readout[0].shape[0],
        pad_index=None,
    ).eval()
    names = [
        "embedding.weight",
        *(f"rnn.{name}_l0" for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
        "attention.W",
        "attention.U",
        "attention.w",
        "hidden_out.weight",
        "hidden_out.bias",
        "vocab_out.weight",
        "vocab_out.bias",
    ]
    tensors = (embedding, *gru, *attention, *readout)
    parameters = {f"decoder.{n}": t for n, t in zip(names, tensors, strict=True)}
    step = _DecoderStep(decoder)
    args = (y_prev, (s_prev[None],), memory, mask, None)  # (L = 1, B, H); no fixed context
    logits, (h,), weights = torch.func.functional_call(step, parameters, args, strict=True)
    return logits, h[0], weights


def reference_beam_search(step, state, bos, eos, beam_size, max_length, length_penalty=0.0):
    found = beam_search(step, state, bos, eos, beam_size, max_length, length_penalty)
    tokens = F.pad(found.tokens, (0, max_length - found.tokens.shape[1]), value=eos)
    return tokens, found.lengths, found.scores, found.normalised_scores


# -- the cases -------------------------------------------------------------------------------


def _mask(b: SpecBuilder, length: int, lengths) -> dict:
    """A key padding mask (B, Tk), True on each sequence's first ``lengths[i]`` positions; a
    list of lists is taken as the mask itself; None is no mask."""
    if lengths is None:
        return lit(None)
    if isinstance(lengths[0], list):
        return b.given(np.array(lengths, dtype=bool), "bool")
    return b.given(np.arange(length)[None, :] < np.array(lengths)[:, None], "bool")


NOT_A_PREFIX = [[True, False, True, False], [False, True, True, True], [False, False, False, True]]
ADDITIVE_SHAPES = [
    # label, B, Tk, Q, K, Dv, H, lengths (or a mask, or None)
    ("B=3, Tk=5, Q=4, K=6, Dv=3, H=5, lengths 5, 3, 1", 3, 5, 4, 6, 3, 5, [5, 3, 1]),
    ("B=4, Tk=6, Q=K=5, Dv=2, H=3, lengths 6, 2, 4, 1", 4, 6, 5, 5, 2, 3, [6, 2, 4, 1]),
    ("B=2, Tk=4, Q=3, K=2, Dv=4, H=4, one row fully masked", 2, 4, 3, 2, 4, 4, [3, 0]),
    ("B=3, Tk=4, Q=2, K=3, Dv=2, H=3, a mask that is not a prefix", 3, 4, 2, 3, 2, 3, NOT_A_PREFIX),
    ("B=2, Tk=3, Q=3, K=4, Dv=2, H=2, no mask (None)", 2, 3, 3, 4, 2, 2, None),
    ("B=1, Tk=1, Q=2, K=3, Dv=2, H=2, one key", 1, 1, 2, 3, 2, 2, [1]),
]


def _additive_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, length, q, k, dv, hidden, lengths in ADDITIVE_SHAPES:
        b = SpecBuilder(g)
        query, keys = b.tensor(batch, q, scale=1.5), b.tensor(batch, length, k, scale=1.5)
        values, mask = b.tensor(batch, length, dv, scale=2.0), _mask(b, length, lengths)
        W, U, w = b.tensor(hidden, q), b.tensor(hidden, k), b.tensor(hidden, scale=2.0)
        cases.append(b.case(label, [query, keys, values, mask, W, U, w]))
    return cases


DOT_SHAPES = [
    # label, B, Tk, K, Dv, lengths (or None), scaled (None: left to its default)
    ("B=3, Tk=5, K=4, Dv=3, lengths 5, 2, 3, unscaled", 3, 5, 4, 3, [5, 2, 3], False),
    ("B=3, Tk=6, K=9, Dv=2, lengths 6, 4, 1, scaled", 3, 6, 9, 2, [6, 4, 1], True),
    ("B=2, Tk=4, K=16, Dv=5, one row fully masked, scaled", 2, 4, 16, 5, [0, 4], True),
    ("B=2, Tk=3, K=2, Dv=2, no mask, scaled left to its default", 2, 3, 2, 2, None, None),
    ("B=4, Tk=5, K=7, Dv=4, no mask, scaled", 4, 5, 7, 4, None, True),
    ("B=1, Tk=1, K=3, Dv=1, one key, scaled", 1, 1, 3, 1, [1], True),
]


def _dot_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, length, k, dv, lengths, scaled in DOT_SHAPES:
        b = SpecBuilder(g)
        query, keys = b.tensor(batch, k, scale=1.5), b.tensor(batch, length, k, scale=1.5)
        values, mask = b.tensor(batch, length, dv, scale=2.0), _mask(b, length, lengths)
        kwargs = {} if scaled is None else {"scaled": lit(scaled)}
        cases.append(b.case(label, [query, keys, values, mask], **kwargs))
    return cases


DECODER_SHAPES = [
    # label, B, S, E, H, K, A (attention size), O (readout size), V, source lengths
    ("B=3, S=5, E=4, H=5, K=6, A=3, O=4, V=7, lengths 5, 3, 1", 3, 5, 4, 5, 6, 3, 4, 7, [5, 3, 1]),
    ("B=2, S=4, E=3, H=K=6, A=4, O=5, V=5, lengths 2, 4", 2, 4, 3, 6, 6, 4, 5, 5, [2, 4]),
    (
        "B=4, S=6, E=2, H=3, K=4, A=2, O=3, V=9, lengths 6, 1, 3, 5",
        4,
        6,
        2,
        3,
        4,
        2,
        3,
        9,
        [6, 1, 3, 5],
    ),
    ("B=5, S=3, E=3, H=4, K=2, A=3, O=6, V=4, no padding", 5, 3, 3, 4, 2, 3, 6, 4, [3] * 5),
    ("B=1, S=1, E=2, H=2, K=4, A=2, O=2, V=3, a one-word source", 1, 1, 2, 2, 4, 2, 2, 3, [1]),
]


def _decoder_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, length, e, hidden, k, a, o, vocab, lengths in DECODER_SHAPES:
        b = SpecBuilder(g)
        args = [
            b.ids(vocab, batch),
            b.tensor(batch, hidden, scale=1.5),  # s_{t-1}
            b.tensor(batch, length, k, scale=1.5),  # h_j, random at padded places too
            _mask(b, length, lengths),
        ]
        kwargs = {
            "embedding": b.tensor(vocab, e, scale=1.5),
            "gru": {"seq": b.rnn_params(hidden, e + k, gates=3)},
            "attention": {"seq": [b.tensor(a, hidden), b.tensor(a, k), b.tensor(a, scale=2.0)]},
            "readout": {
                "seq": [
                    b.tensor(o, hidden + k + e, scale=1.0 / math.sqrt(hidden + k + e)),
                    b.tensor(o, scale=0.5),
                    b.tensor(vocab, o, scale=1.5),
                    b.tensor(vocab, scale=0.5),
                ]
            },
        }
        cases.append(b.case(label, args, **kwargs))
    return cases


SEARCH_SHAPES = [
    # label, B, V, H, K, max_length, α, eos, a given state (else distinct <bos> ids)
    ("B=3, V=6, H=5, K=3, max_length 8, α=0", 3, 6, 5, 3, 8, 0.0, 0, True),
    ("B=4, V=5, H=4, K=2, max_length 7, α=0.6", 4, 5, 4, 2, 7, 0.6, 0, True),
    ("B=3, V=7, H=5, K=4, max_length 6, α=1.5, <eos> = 6", 3, 7, 5, 4, 6, 1.5, 6, True),
    ("B=5, V=6, H=5, K=3, max_length 10, α=0.8", 5, 6, 5, 3, 10, 0.8, 0, True),
    ("B=2, V=6, H=4, K=1 (greedy search), max_length 8, α=0.6", 2, 6, 4, 1, 8, 0.6, 0, True),
    ("B=2, V=4, H=3, K=4 (K = V), max_length 5, α=1", 2, 4, 3, 4, 5, 1.0, 0, True),
    ("B=3, V=5, H=4, K=2, max_length 1 (one token), α=0.6", 3, 5, 4, 2, 1, 0.6, 0, True),
    ("B=3, V=6, H=4, K=3, max_length 6, α=0, no state, a <bos> each", 3, 6, 4, 3, 6, 0.0, 0, False),
    ("B=16, V=5, H=4, K=3, max_length 8, α=2", 16, 5, 4, 3, 8, 2.0, 0, True),
    ("B=12, V=6, H=5, K=4, max_length 9, α=1", 12, 6, 5, 4, 9, 1.0, 0, True),
]


def _elman_log_step(b: SpecBuilder, vocab: int, hidden: int) -> dict:
    """An Elman model giving log-probabilities over V tokens, fed ids 0..V (<bos> = V), whose
    state weighs on its next token as much as the token fed does (a state not reordered with
    its hypothesis shows)."""
    return {
        "elman_log_step": [
            b.tensor(vocab + 1, hidden, scale=1.0),
            b.tensor(hidden, hidden, scale=2.5 / math.sqrt(hidden)),
            b.tensor(vocab, hidden, scale=2.0),
            b.tensor(vocab, scale=0.5),
        ]
    }


def _search_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, vocab, hidden, k, max_length, alpha, eos, with_state in SEARCH_SHAPES:
        b = SpecBuilder(g)
        step = _elman_log_step(b, vocab, hidden)
        if with_state:
            state, bos = b.tensor(batch, hidden, scale=1.5), [vocab] * batch
        else:  # every source from h = 0: they differ by their first input
            state, bos = lit(None), torch.randperm(vocab + 1, generator=g)[:batch].tolist()
        args = [step, state, b.given(bos, "int64"), lit(eos), lit(k), lit(max_length), lit(alpha)]
        cases.append(b.case(label, args))
    return cases


FUNCTION_SPECS = [
    FunctionSpec(
        "additive_attention",
        "coursekit.grading.specs.seq2seq:reference_additive_attention",
        _additive_cases,
        ATTENTION_FORBIDDEN,
    ),
    FunctionSpec(
        "dot_attention",
        "coursekit.grading.specs.seq2seq:reference_dot_attention",
        _dot_cases,
        ATTENTION_FORBIDDEN,
    ),
    FunctionSpec(
        "attention_decoder_step",
        "coursekit.grading.specs.seq2seq:reference_decoder_step",
        _decoder_cases,
        DECODER_FORBIDDEN,
    ),
    FunctionSpec(
        "beam_search",
        "coursekit.grading.specs.seq2seq:reference_beam_search",
        _search_cases,
        SEARCH_FORBIDDEN,
        gradients=False,
    ),
]
