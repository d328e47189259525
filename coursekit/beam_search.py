"""Beam search (束搜索, 集束搜索) and greedy search for an autoregressive decoder (chapter 9).

Read first: :func:`greedy_search` (take the most probable token at every step), then
:func:`beam_search`, which keeps the K best hypotheses instead of one. A translation model
gives p(y | x) = Π_t p(y_t | y_<t, x), Eq. (9.1); the sequence that maximises it cannot be
found by trying all V^T of them. Greedy search commits to one token per step and can walk into
a prefix whose continuations are all poor. Beam search keeps a beam (束) of K hypotheses: at
every step it extends each of them by every token (K·V candidates; for K = 3, the "9" of the
notes, which in practice take each beam's 3 best tokens first) and keeps the K best, Eq.
(9.15). It is still a greedy strategy (贪心策略), as note 001 says: a hypothesis that falls out
of the beam never comes back, so the result is the best sequence only when the beam is wide
enough to hold every prefix (test_wide_beam_finds_the_exhaustive_best); K = 1 is greedy search
(test_beam_of_one_equals_greedy_search).

Equations (Y = y_1..y_n a hypothesis, y_n = <eos> for a finished one; α >= 0):

    (9.14)  log P(Y) = Σ_{t=1..n} log p(y_t | y_<t, x)               raw score, never > 0
    (9.15)  s(Y) = log P(Y) / lp(Y),  lp(Y) = ((5 + |Y|) / 6)^α        normalised score (GNMT)

Length normalisation. log P(Y) only falls as Y grows, so ranking by it favours short
translations; (9.15) is the length penalty of Wu et al. (2016), "Google's neural machine
translation system", §7 (we take it without their coverage penalty). α = 0 (the default) ranks
by log P(Y) itself; Wu et al. tuned α in [0.6, 0.7]. |Y| counts the generated tokens, <eos>
included, <bos> not. Every hypothesis in the beam, finished or not, is ranked by its own
s(Y), and ties go to the lower (beam, token) index (a stable sort).

Finished hypotheses. A hypothesis that has produced <eos> stays in the beam as one candidate of
unchanged score and is never extended (test_finished_hypotheses_are_never_extended); the search
stops when every hypothesis of every source has finished, or after ``max_length`` tokens
(hypotheses still open then end there, without <eos>). Step 1 extends only the first beam (the
others start at log P = -inf), so the beam does not fill with K copies of one token; where
fewer than K hypotheses exist (K > V at step 1), the rest have score -inf, length 0 and only
padding (a hypothesis of probability 0 reads the same).

The model. ``step(tokens (B*K,), state) -> (log_probs (B*K, V), new_state)`` gives the
next-token log-probabilities (log_softmax of the logits) of every row. ``state`` is a tensor,
None, or a tuple, list or dict (nested freely) of tensors whose first dim is the batch: pass it
with first dim B, one row per source; the search repeats each row K times (row b*K + k is
source b's k-th hypothesis, ``repeat_interleave``, the layout of
:func:`expand_for_beams`) and, after each step, reorders the rows of
``new_state`` so that each row follows the hypothesis it extends. Finished rows are fed <eos>;
what the model returns for them is ignored.

Dimension glossary:

    B  sources (batch)    K  beam size    V  vocabulary size    T  longest returned length

Tests: tests/test_beam_search.py (exhaustive enumeration on V = 4, a hand-written one-source
beam search, log-probabilities recomputed by a loop, note 001's B = 3 by hand).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from coursekit._checks import check_nonnegative, check_positive_int, describe

__all__ = [
    "SearchResult",
    "beam_search",
    "expand_for_beams",
    "greedy_search",
    "length_penalty_factor",
]

Step = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]


class SearchResult(NamedTuple):
    """What :func:`beam_search` and :func:`greedy_search` return. Sequences exclude <bos>,
    include <eos> when one was produced, and are padded with ``pad`` after their length."""

    tokens: torch.Tensor  # (B, T): the best hypothesis of each source
    lengths: torch.Tensor  # (B,): |Y|, <eos> included
    scores: torch.Tensor  # (B,): log P(Y), Eq. (9.14)
    normalised_scores: torch.Tensor  # (B,): s(Y), Eq. (9.15); the ranking
    all_tokens: torch.Tensor | None = None  # (B, K, T), best first (return_all=True)
    all_lengths: torch.Tensor | None = None  # (B, K)
    all_scores: torch.Tensor | None = None  # (B, K)
    all_normalised_scores: torch.Tensor | None = None  # (B, K)


def length_penalty_factor(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """lp(Y) = ((5 + |Y|) / 6)^α of Eq. (9.15) (Wu et al. 2016), for a tensor of lengths (in
    their dtype when floating, else torch's default dtype: pass ``lengths.to(scores.dtype)``)."""
    return ((5.0 + lengths) / 6.0) ** alpha


def _map_state(function, state):
    """``function`` applied to every tensor of a (nested) state, the structure kept."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return function(state)
    if isinstance(state, dict):
        return {key: _map_state(function, value) for key, value in state.items()}
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # a NamedTuple
        return type(state)(*(_map_state(function, part) for part in state))
    if isinstance(state, (tuple, list)):
        return type(state)(_map_state(function, part) for part in state)
    raise ValueError(
        f"state must be a tensor or a tuple, list or dict of them; got {describe(state)}"
    )


def expand_for_beams(state, beam_size: int):
    """A state (a tensor, or a tuple, list or dict of them, each with first dim B) -> the same
    with first dim B * beam_size: row b * beam_size + k is source b's k-th beam (each row
    repeated, ``repeat_interleave``), the layout :func:`beam_search` and
    :meth:`coursekit.seq2seq.Seq2Seq.step` use."""
    check_positive_int(beam_size=beam_size)
    return _map_state(lambda s: s.repeat_interleave(beam_size, dim=0), state)


def _first_tensor(state):
    found = []
    _map_state(found.append, state)
    return found[0] if found else None


def _check_search(state, bos, eos, max_length, length_penalty):
    """B and the device, from ``bos`` (an int, or ids (B,)) or the state's first tensor."""
    check_positive_int(max_length=max_length)
    check_nonnegative(length_penalty=length_penalty)
    if not isinstance(eos, int) or isinstance(eos, bool):
        raise ValueError(f"eos must be a token id (int); got {eos!r}")
    first = _first_tensor(state)
    if isinstance(bos, torch.Tensor):
        if bos.dim() != 1 or bos.dtype != torch.long:
            raise ValueError(f"bos must be an int or a (B,) LongTensor; got {describe(bos)}")
        if first is not None and first.dim() >= 1 and first.shape[0] != bos.shape[0]:
            raise ValueError(
                f"state's first dim must be B = {bos.shape[0]} (one row per source, as bos); "
                f"got {describe(first)}"
            )
        return bos.shape[0], bos.device
    if first is None or first.dim() == 0:
        raise ValueError("with an int bos the state must hold a tensor (B, ...) to give B")
    return first.shape[0], first.device


def _step(step, tokens, state, rows):
    log_probs, state = step(tokens, state)
    if not isinstance(log_probs, torch.Tensor) or log_probs.dim() != 2 or len(log_probs) != rows:
        raise ValueError(f"step must return log_probs ({rows}, V); got {describe(log_probs)}")
    return log_probs, state


def beam_search(
    step: Step,
    state,
    bos,
    eos: int,
    beam_size: int,
    max_length: int,
    length_penalty: float = 0.0,
    *,
    pad: int | None = None,
    return_all: bool = False,
) -> SearchResult:
    """Beam search over B sources at once: the K best hypotheses by Eq. (9.15), for at most
    ``max_length`` tokens each (module docstring). ``bos`` is an int or ids (B,); ``pad``
    (default ``eos``) fills the sequences after their ends; ``return_all`` also returns all K
    hypotheses, best first. Returns :class:`SearchResult`."""
    B, device = _check_search(state, bos, eos, max_length, length_penalty)
    check_positive_int(beam_size=beam_size)
    K, pad = beam_size, eos if pad is None else pad
    state = expand_for_beams(state, K)  # rows b*K + k
    tokens = torch.as_tensor(bos, device=device).expand(B).repeat_interleave(K)  # (B*K,)
    sequences = torch.zeros(B, K, 0, dtype=torch.long, device=device)  # (B, K, t)
    lengths = torch.zeros(B, K, dtype=torch.long, device=device)  # (B, K)
    finished = torch.zeros(B, K, dtype=torch.bool, device=device)  # (B, K)
    scores = None  # (B, K), log P; made at step 1 in the model's dtype
    for t in range(max_length):
        log_probs, state = _step(step, tokens, state, B * K)  # (B*K, V)
        V = log_probs.shape[1]
        if scores is None:  # only the first beam is real at step 1
            scores = torch.full((B, K), -math.inf, dtype=log_probs.dtype, device=device)
            scores[:, 0] = 0.0
            finished = scores == -math.inf  # the empty ones are never extended
        candidates = scores[:, :, None] + log_probs.view(B, K, V)  # (B, K, V), Eq. (9.14)
        # a finished hypothesis is one candidate (slot 0), itself, of unchanged score
        candidates = candidates.masked_fill(finished[:, :, None], -math.inf)
        candidates[:, :, 0] = torch.where(finished, scores, candidates[:, :, 0])
        candidate_lengths = torch.where(finished, lengths, t + 1)  # (B, K)
        ranked = (
            candidates
            / length_penalty_factor(candidate_lengths.to(scores.dtype), length_penalty)[..., None]
        )
        order = ranked.view(B, K * V).sort(dim=1, descending=True, stable=True).indices
        best = order[:, :K]  # (B, K) indices into K*V
        parent, token = best // V, best % V  # (B, K) each
        was_finished = finished.gather(1, parent)
        token = torch.where(was_finished, pad, token)
        scores = candidates.view(B, K * V).gather(1, best)  # (B, K)
        lengths = torch.where(was_finished, lengths.gather(1, parent), t + 1)
        finished = was_finished | (token == eos) | (scores == -math.inf)  # -inf: no hypothesis
        rows = (parent + torch.arange(B, device=device)[:, None] * K).view(-1)  # (B*K,)
        parent_sequences = sequences.gather(1, parent[:, :, None].expand(-1, -1, t))
        sequences = torch.cat([parent_sequences, token[:, :, None]], dim=2)  # (B, K, t+1)
        state = _map_state(lambda s, rows=rows: s.index_select(0, rows), state)
        tokens = torch.where(finished, eos, token).view(-1)  # (B*K,)
        if bool(finished.all()):
            break
    empty = scores == -math.inf  # fewer than K hypotheses: length 0, only padding
    lengths = lengths.masked_fill(empty, 0)
    normalised = scores / length_penalty_factor(
        lengths.to(scores.dtype), length_penalty
    )  # (B, K), sorted
    width = max(int(lengths.max()), 1)
    sequences = sequences[:, :, :width].masked_fill(empty[:, :, None], pad)  # (B, K, T)
    best = SearchResult(sequences[:, 0], lengths[:, 0], scores[:, 0], normalised[:, 0])
    if not return_all:
        return best
    return best._replace(
        all_tokens=sequences,
        all_lengths=lengths,
        all_scores=scores,
        all_normalised_scores=normalised,
    )


def greedy_search(
    step: Step,
    state,
    bos,
    eos: int,
    max_length: int,
    length_penalty: float = 0.0,
    *,
    pad: int | None = None,
    return_all: bool = False,
) -> SearchResult:
    """The most probable token at every step, until <eos> or ``max_length`` tokens: the
    arguments of :func:`beam_search` without ``beam_size`` (``state`` has first dim B; the
    "all" fields hold the one hypothesis, K = 1). Ties go to the lower token id."""
    B, device = _check_search(state, bos, eos, max_length, length_penalty)
    pad = eos if pad is None else pad
    tokens = torch.as_tensor(bos, device=device).expand(B).clone()  # (B,)
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    lengths = torch.zeros(B, dtype=torch.long, device=device)
    scores, out = None, []
    for t in range(max_length):
        log_probs, state = _step(step, tokens, state, B)  # (B, V)
        if scores is None:
            scores = torch.zeros(B, dtype=log_probs.dtype, device=device)
        best_log_prob, token = log_probs.max(dim=1)  # (B,) each; the first maximum
        scores = scores + torch.where(finished, 0.0, best_log_prob)
        lengths = torch.where(finished, lengths, t + 1)
        out.append(torch.where(finished, pad, token))
        finished = finished | (token == eos)
        tokens = torch.where(finished, eos, token)
        if bool(finished.all()):
            break
    width = max(int(lengths.max()), 1)
    sequences = torch.stack(out, dim=1)[:, :width]  # (B, T)
    normalised = scores / length_penalty_factor(lengths.to(scores.dtype), length_penalty)
    result = SearchResult(sequences, lengths, scores, normalised)
    if not return_all:
        return result
    return result._replace(
        all_tokens=sequences[:, None],
        all_lengths=lengths[:, None],
        all_scores=scores[:, None],
        all_normalised_scores=normalised[:, None],
    )
