"""Sampling from a language model (采样), and perplexity from logits (chapter 1).

Read first: :func:`temperature_probs` (Eq. (1.12)), then :func:`sample_next`, which every
generator of the book calls once per step: greedy when ``temperature == 0``, otherwise a draw
from the tempered distribution, optionally restricted to the ``top_k`` largest logits
(Eq. (1.13)). Randomness comes only from an explicit ``torch.Generator``, so a seeded
generator gives the same text every time. :func:`perplexity_from_logits` and
:func:`bits_per_token` score a model on held-out text, Eqs. (1.6) and (1.7).
:func:`generate` is the one generation loop: every language model of the course
(``NGramModel``, ``MLPLanguageModel``, ``CharRNN``, ``CharLM``) has a ``generate(prefix, length,
*, temperature, top_k, generator) -> list[int]`` method that gives it a step function.
:func:`fill_template` samples text of a fixed form (a five-character quatrain,
``WUJUE_TEMPLATE``) from any model that gives next-token logits.

Equations (z are the logits, τ the temperature):

    (1.6)   PPL = exp( -(1/N) Σ_i log p(y_i | context_i) )          perplexity (困惑度)
    (1.7)   bits per token = -(1/N) Σ_i log_2 p(y_i | context_i) = log_2 PPL
    (1.12)  p_τ(v) = exp(z_v / τ) / Σ_u exp(z_u / τ)               temperature (温度) softmax
    (1.13)  top-k: z_v -> -inf unless z_v is among the k largest logits

τ -> 0 approaches greedy decoding (argmax); τ = 1 is the model's own distribution; τ > 1
flattens it towards uniform.

Dimension glossary:

    V  vocabulary size         B  batch size (independent distributions)
    T  time steps              N  scored tokens (N = T·B when logits are (T, B, V))

Tests: tests/test_sampling.py (exact enumeration on tiny vocabularies, torch's cross_entropy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from coursekit._checks import check_nonnegative_int, check_positive_int

__all__ = [
    "SLOT",
    "WUJUE_TEMPLATE",
    "bits_per_token",
    "check_prefix",
    "fill_template",
    "generate",
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
    """Eq. (1.12): ``softmax(logits / temperature)`` over the last axis.

    logits (..., V) -> probabilities (..., V), each row summing to 1. ``temperature`` must be
    positive (use :func:`greedy` for τ = 0). Equal to ``torch.softmax(logits / τ, -1)``
    (test_temperature_probs_is_softmax_of_scaled_logits).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy for 0); got {temperature!r}")
    return torch.softmax(logits / temperature, dim=-1)  # (..., V)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Eq. (1.13): keep the ``k`` largest logits of each row, set the others to ``-inf``.

    logits (..., V) -> (..., V). Ties at the k-th value are all kept (so a row may keep more
    than k entries when logits are equal). ``k >= V`` keeps everything.
    """
    check_positive_int(top_k=k)
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


def check_prefix(prefix, vocab_size: int, min_length: int = 1) -> list[int]:
    """A generation prefix (ids, a sequence or 1-D tensor) -> list[int], each in [0, V).

    ``min_length`` is how many ids the model needs to start (1 for a recurrent model, its
    context size for a window model, 0 for an n-gram model, which pads with ``<s>``).
    """
    try:
        ids = torch.as_tensor(prefix)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"prefix must be a sequence of ids; got {type(prefix).__name__}") from None
    if ids.dim() == 1 and ids.numel() == 0:
        ids = ids.long()  # [] reads as float
    if ids.dim() != 1 or len(ids) < min_length:
        raise ValueError(
            f"prefix must be a 1-D sequence of at least {min_length} ids (P,); "
            f"got shape {tuple(ids.shape)}"
        )
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"prefix must hold integer ids; got {ids.dtype}")
    if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"prefix ids must lie in [0, {vocab_size}); got {ids.tolist()}")
    return ids.tolist()


Step = Callable[[list[int], object], tuple[torch.Tensor, object]]


def generate(
    step: Step,
    prefix_ids: Sequence[int],
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    stop_id: int | None = None,
) -> list[int]:
    """A generation loop for any next-id model: ``length`` new ids after ``prefix_ids``.

    ``step(new_ids, state) -> (logits (V,), state)`` is the model: it is called once with the
    whole prefix and ``state=None``, then once per drawn id with ``[id]`` and the state it
    returned (a recurrent model keeps its hidden state there; a window model keeps the window).
    Each id is :func:`sample_next` of the logits (``temperature``, ``top_k``, ``generator`` as
    there). When ``stop_id`` is drawn, generation ends and ``stop_id`` is not returned. The
    prefix is not part of the result.
    """
    check_nonnegative_int(length=length)
    out: list[int] = []
    if length == 0:
        return out
    logits, state = step(list(prefix_ids), None)
    for _ in range(length):
        if generator is not None:
            logits = logits.to(generator.device)
        next_id = int(sample_next(logits, temperature, top_k, generator))
        if stop_id is not None and next_id == stop_id:
            break
        out.append(next_id)
        if len(out) == length:
            break
        logits, state = step([next_id], state)
    return out


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


SLOT = "○"  # a place in a template that the model fills
WUJUE_TEMPLATE = "○○○○○，○○○○○。○○○○○，○○○○○。"  # 五言绝句: four lines of five characters


def _is_character(token: str) -> bool:
    return len(token) == 1 and token.isalpha()


def fill_template(
    next_logits: Callable[[list[str]], torch.Tensor],
    vocab: Sequence[str],
    template: str,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    history: Sequence[str] = (),
    allowed: Callable[[str], bool] = _is_character,
) -> str:
    """Sample text of a fixed form: each ``SLOT`` of ``template`` is drawn, the rest is copied.

    ``next_logits(tokens) -> (V,)`` gives the model's logits over ``vocab`` for the token after
    ``tokens`` (the ``history`` followed by what is written so far). At a slot the tokens for
    which ``allowed`` is False get logit ``-inf`` (by default everything but a single letter:
    punctuation, new lines, ``<unk>``, ``</s>``), and the next token is :func:`sample_next` of
    the rest (``temperature``, ``top_k`` as there): a draw from the model's distribution
    conditioned on the form. Any other character of the template (a ``，`` or ``。``) is
    written as it is and becomes part of the history the model conditions on. So the result
    has the template's form by construction: ``fill_template(..., WUJUE_TEMPLATE, ...)`` is
    four lines of five characters with the punctuation in place.
    """
    allowed_mask = torch.tensor([bool(allowed(token)) for token in vocab])  # (V,)
    if not allowed_mask.any():
        raise ValueError("no token of the vocabulary is allowed in a slot")
    tokens = list(history)
    out = []
    for place in template:
        if place != SLOT:
            token = place
        else:
            logits = next_logits(tokens)
            if logits.shape != (len(vocab),):
                raise ValueError(
                    f"next_logits must return ({len(vocab)},) logits; got {tuple(logits.shape)}"
                )
            logits = logits.masked_fill(~allowed_mask.to(logits.device), float("-inf"))
            index = sample_next(logits, temperature, top_k, generator)
            token = vocab[int(index)]
        tokens.append(token)
        out.append(token)
    return "".join(out)
