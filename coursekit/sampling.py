"""Sampling from a language model (采样), and perplexity from logits (chapter 1).

Read first: :func:`temperature_probs` (Eq. (1.15)), then :func:`sample_next`, which every
generator of the book calls once per step: greedy when ``temperature == 0``, otherwise a draw
from the tempered distribution, optionally restricted to the ``top_k`` largest logits
(Eq. (1.16)). Randomness comes only from an explicit ``torch.Generator``, so a seeded
generator gives the same text every time. :func:`perplexity_from_logits` and
:func:`bits_per_token` score a model on held-out text, Eqs. (1.6) and (1.7).

Equations (z are the logits, τ the temperature):

    (1.6)   PPL = exp( -(1/N) Σ_i log p(y_i | context_i) )          perplexity (困惑度)
    (1.7)   bits per token = -(1/N) Σ_i log_2 p(y_i | context_i) = log_2 PPL
    (1.15)  p_τ(v) = exp(z_v / τ) / Σ_u exp(z_u / τ)               temperature (温度) softmax
    (1.16)  top-k: z_v -> -inf unless z_v is among the k largest logits

τ -> 0 approaches greedy decoding (argmax); τ = 1 is the model's own distribution; τ > 1
flattens it towards uniform.

Dimension glossary:

    V  vocabulary size         B  batch size (independent distributions)
    T  time steps              N  scored tokens (N = T·B when logits are (T, B, V))

Tests: tests/test_sampling.py (exact enumeration on tiny vocabularies, torch's cross_entropy).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "bits_per_token",
    "greedy",
    "perplexity_from_logits",
    "sample_next",
    "temperature_probs",
    "top_k_filter",
]


def _check_logits(logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or logits.dim() not in (1, 2):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be (V,) or (B, V); got {got}")
    if logits.shape[-1] == 0:
        raise ValueError(f"logits must have V >= 1 entries; got shape {tuple(logits.shape)}")


def temperature_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. (1.15): ``softmax(logits / temperature)`` over the last axis.

    logits (..., V) -> probabilities (..., V), each row summing to 1. ``temperature`` must be
    positive (use :func:`greedy` for τ = 0). Equal to ``torch.softmax(logits / τ, -1)``
    (test_temperature_probs_is_softmax_of_scaled_logits).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy for 0); got {temperature!r}")
    return torch.softmax(logits / temperature, dim=-1)  # (..., V)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Eq. (1.16): keep the ``k`` largest logits of each row, set the others to ``-inf``.

    logits (..., V) -> (..., V). Ties at the k-th value are all kept (so a row may keep more
    than k entries when logits are equal). ``k >= V`` keeps everything.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be an integer >= 1; got {k!r}")
    if k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1), the k-th largest
    return logits.masked_fill(logits < kth, float("-inf"))


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """Greedy decoding (贪心): the most likely token. logits (V,) -> () or (B, V) -> (B,)."""
    _check_logits(logits)
    return logits.argmax(dim=-1)


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw the next token id from ``logits (V,)`` -> LongTensor ``()``, or ``(B, V)`` -> ``(B,)``.

    ``temperature == 0`` is greedy (:func:`greedy`); ``temperature > 0`` samples from
    :func:`temperature_probs` of the (optionally :func:`top_k_filter`-ed) logits with
    ``torch.multinomial`` and ``generator``. The result lives on the logits' device.
    """
    _check_logits(logits)
    if temperature == 0:
        return greedy(logits)
    if not temperature > 0:
        raise ValueError(f"temperature must be >= 0 (0 means greedy); got {temperature!r}")
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    probs = temperature_probs(logits.float(), temperature)  # (B, V) or (V,)
    rows = probs.reshape(-1, probs.shape[-1])  # (B, V)
    ids = torch.multinomial(rows, 1, generator=generator).squeeze(-1)  # (B,)
    return ids.reshape(probs.shape[:-1])


def _flatten_scores(logits: torch.Tensor, targets: torch.Tensor):
    if logits.dim() < 2 or logits.shape[:-1] != targets.shape:
        raise ValueError(
            "logits must be (N, V) or (T, B, V) with targets (N,) or (T, B); "
            f"got logits {tuple(logits.shape)} and targets {tuple(targets.shape)}"
        )
    return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)  # (N, V), (N,)


def perplexity_from_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Eq. (1.6): ``exp(mean cross-entropy)`` of ``targets`` under ``softmax(logits)``.

    logits (N, V) or (T, B, V), targets (N,) or (T, B) of ids -> a 0-d float tensor.
    Equal to ``exp(F.cross_entropy(...))`` (test_perplexity_equals_exp_of_torch_cross_entropy).
    """
    flat_logits, flat_targets = _flatten_scores(logits, targets)
    return torch.exp(F.cross_entropy(flat_logits, flat_targets))


def bits_per_token(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Eq. (1.7): mean cross-entropy in bits (``log2`` of :func:`perplexity_from_logits`).

    For a character model this is bits per character (BPC), the unit of the book's tables.
    """
    flat_logits, flat_targets = _flatten_scores(logits, targets)
    return F.cross_entropy(flat_logits, flat_targets) / math.log(2)
