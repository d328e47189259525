"""N-gram language models (N 元语法模型): counts, add-k smoothing, interpolation (chapter 1).

Read first: :func:`count_ngrams` and :func:`add_k_probability`; then their tensor twins
:func:`ngram_counts` and :func:`add_k_smoothing`, which students write in assignment 1 (a
table of counts over a small vocabulary of ids); then :class:`NGramModel`, which counts every order ``1..n`` of a padded text and turns
the counts into probabilities, Eqs. (1.3)–(1.5); then :func:`tune_k` and :func:`tune_lambdas`,
which choose k and the λ of Eq. (1.5) on held-out text.

Equations (w_i the i-th token, c(·) a count in the training text, V the vocabulary size):

    (1.1)  p(w_1, ..., w_L) = Π_i p(w_i | w_1, ..., w_{i-1})               chain rule
    (1.2)  p(w_i | w_1, ..., w_{i-1}) ≈ p(w_i | w_{i-n+1}, ..., w_{i-1})     Markov assumption (马尔可夫假设)
    (1.3)  p_ML(w | u) = c(u, w) / c(u)                                     maximum likelihood
    (1.4)  p_k(w | u) = (c(u, w) + k) / (c(u) + k V)                         add-k smoothing (平滑)
    (1.5)  p_interp(w | u) = Σ_{m=1..n} λ_m p_k(w | last m-1 tokens of u),  Σ λ_m = 1
    (1.6)  PPL = exp(-(1/N) Σ_i ln p(w_i | context_i))                       perplexity (困惑度)
    (1.7)  bits per token = log_2 PPL                                         (bits per character)

``c(u)`` in (1.3)–(1.4) is the number of times the context u is followed by a token, i.e.
``Σ_w c(u, w)``. When ``c(u) = 0``, (1.4) gives ``k / (k V) = 1/V``; we use that value, its
limit, for ``k = 0`` too, so the maximum-likelihood model (``k = 0``) falls back to uniform on
an unseen context instead of dividing by zero.

Padding: a sequence ``w_1 .. w_L`` is scored as ``<s>^(n-1) w_1 .. w_L </s>``: the ``n - 1``
begin symbols ``<s>`` give the first tokens a full context and are never predicted; the end
symbol ``</s>`` is predicted once, so a sequence of L tokens has N = L + 1 predictions.
A long text (Tiny Shakespeare) is one sequence. The vocabulary is every training token,
plus ``</s>`` and ``<unk>``; a token never seen in training is read as ``<unk>`` (it has
count 0, so smoothing gives it a small probability, and nothing crashes).

Dimension glossary:

    n  order of the model (n - 1 tokens of context)     V  vocabulary size (predictable tokens)
    L  tokens in a sequence                              N  predictions, L + 1

Tests: tests/test_ngram.py (hand counts on tiny texts, sums over the vocabulary, perplexity by
hand).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence

import torch

from coursekit._checks import check_nonnegative, check_positive_int
from coursekit.data import UNK, UNK_REPLACEMENT
from coursekit.sampling import check_prefix, generate

__all__ = [
    "BOS",
    "EOS",
    "NGramModel",
    "add_k_probability",
    "add_k_smoothing",
    "count_ngrams",
    "ngram_counts",
    "lambda_grid",
    "tune_k",
    "tune_lambdas",
]

BOS = "<s>"
EOS = "</s>"
LEVELS = ("char", "word")
SMOOTHINGS = ("add_k", "interpolation")


def count_ngrams(tokens: Sequence, n: int) -> Counter:
    """Counts of every run of ``n`` consecutive tokens: ``Counter({(w_1, ..., w_n): count})``.

    ``count_ngrams("abab", 2) == Counter({("a", "b"): 2, ("b", "a"): 1})``. No padding is
    added; a sequence shorter than ``n`` has no n-grams.
    """
    check_positive_int(n=n)
    tokens = list(tokens)
    return Counter(zip(*(tokens[i:] for i in range(n)), strict=False))  # stops at the shortest


def add_k_probability(count_ngram: float, count_context: float, vocab_size: int, k: float) -> float:
    """Eq. (1.4): ``(c(u, w) + k) / (c(u) + k V)``; ``1 / V`` when both counts and k are 0.

    ``k = 1`` is Laplace (add-one) smoothing, ``k = 0`` the maximum-likelihood estimate (1.3).
    """
    if k < 0:
        raise ValueError(f"k must be >= 0; got {k!r}")
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be >= 1; got {vocab_size!r}")
    denominator = count_context + k * vocab_size
    if denominator == 0:  # an unseen context with k = 0: the k -> 0 limit of (1.4)
        return 1.0 / vocab_size
    return (count_ngram + k) / denominator


def ngram_counts(ids: torch.Tensor, n: int, vocab_size: int) -> torch.Tensor:
    """The n-gram counts of a sequence of ids as a table: ``counts[u_1, ..., u_{n-1}, w]``.

    ids (L,) long with values in ``[0, vocab_size)`` -> a float64 tensor of shape
    ``(vocab_size,) * n`` holding ``c(u, w)``, the number of positions i with
    ``ids[i : i + n] == (u_1, ..., u_{n-1}, w)``: the L - n + 1 windows of :func:`count_ngrams`,
    with no padding. Summing over the last axis gives the context counts ``c(u)`` of Eq. (1.4).
    """
    check_positive_int(n=n)
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.dtype != torch.long:
        got = f"{tuple(ids.shape)} {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids)
        raise ValueError(f"ids must be a 1-D LongTensor (L,); got {got}")
    if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in [0, {vocab_size}); got {ids.min()}..{ids.max()}")
    counts = torch.zeros((vocab_size,) * n, dtype=torch.float64)
    windows = ids.unfold(0, n, 1) if len(ids) >= n else ids.new_zeros((0, n))  # (L-n+1, n)
    counts.index_put_(
        tuple(windows.T), torch.ones(len(windows), dtype=torch.float64), accumulate=True
    )
    return counts


def add_k_smoothing(counts: torch.Tensor, k: float) -> torch.Tensor:
    """Eq. (1.4) on a whole table: ``p[u, w] = (c(u, w) + k) / (c(u) + k V)``.

    counts (V,) * n (float) -> conditional probabilities of the same shape; each row over the
    last axis (the next token w) sums to 1. ``c(u)`` is the sum of the row. A row with
    ``c(u) + kV = 0`` (an unseen context and k = 0) is uniform, ``1 / V``, as in
    :func:`add_k_probability`. Differentiable in ``counts``.
    """
    if not k >= 0:
        raise ValueError(f"k must be >= 0; got {k!r}")
    vocab_size = counts.shape[-1]
    numerator = counts + k  # (..., V)
    denominator = counts.sum(dim=-1, keepdim=True) + k * vocab_size  # (..., 1)
    uniform = torch.full_like(numerator, 1.0 / vocab_size)
    empty = denominator == 0
    return torch.where(empty, uniform, numerator / torch.where(empty, 1.0, denominator))


class NGramModel:
    """An n-gram model of characters or words with add-k smoothing or interpolation.

    ``NGramModel(n, level="char"|"word", smoothing="add_k"|"interpolation", k=1.0,
    lambdas=None)``. ``smoothing="add_k"`` is Eq. (1.4) on order n; ``"interpolation"`` is
    Eq. (1.5), mixing the add-k estimates of orders 1..n with weights ``lambdas``
    (``lambdas[m - 1]`` for order m; default uniform; tune them on held-out text with
    :func:`tune_lambdas`). So ``lambdas=(0, ..., 0, 1)`` is the plain add-k n-gram model.

    Tokens: a ``str`` is split into characters (``level="char"``) or on whitespace
    (``level="word"``); any other sequence of strings is used as it is.
    """

    def __init__(
        self,
        n: int,
        level: str = "char",
        smoothing: str = "add_k",
        k: float = 1.0,
        lambdas: Sequence[float] | None = None,
    ):
        check_positive_int(n=n)
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}; got {level!r}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}; got {smoothing!r}")
        check_nonnegative(k=k)
        self.n, self.level, self.smoothing, self.k = n, level, smoothing, float(k)
        self.lambdas = _check_lambdas(lambdas, n) if lambdas is not None else (1.0 / n,) * n
        self.vocab: list[str] = []
        self.counts: list[Counter] = []  # counts[m - 1][(u_1, ..., u_{m-1}, w)], orders 1..n
        self.context_counts: list[Counter] = []  # context_counts[m - 1][u] = Σ_w c(u, w)
        self._vocab_set: set[str] = set()
        self._index: dict[str, int] = {}

    # -- tokens ----------------------------------------------------------------------------

    def tokenize(self, tokens: str | Iterable[str]) -> list[str]:
        """A ``str`` -> characters or whitespace-separated words (by ``level``); else a list."""
        if isinstance(tokens, str):
            return list(tokens) if self.level == "char" else tokens.split()
        return list(tokens)

    def _known(self, tokens: Iterable[str]) -> list[str]:
        return [t if t in self._vocab_set or t == BOS else UNK for t in tokens]

    def _padded(self, tokens: list[str]) -> list[str]:
        return [BOS] * (self.n - 1) + tokens + [EOS]  # L + n tokens, N = L + 1 predictions

    def encode(self, tokens: str | Iterable[str]) -> list[int]:
        """Tokens (as :meth:`tokenize` reads them) -> ids into ``self.vocab``; unknown ones
        are ``<unk>``'s id."""
        self._check_fitted()
        return [self._index[t] for t in self._known(self.tokenize(tokens)) if t != BOS]

    def decode(self, ids: Iterable[int]) -> str | list[str]:
        """Ids -> a ``str`` (``<unk>`` shows as "\ufffd", as in :meth:`coursekit.data.Vocab.decode`)
        at ``level="char"``, a list of words at ``level="word"``."""
        self._check_fitted()
        tokens = [self.vocab[int(i)] for i in ids]
        if self.level == "char":
            return "".join(UNK_REPLACEMENT if t == UNK else t for t in tokens)
        return tokens

    # -- fitting -----------------------------------------------------------------------------

    def fit(self, tokens: str | Iterable[str]) -> NGramModel:
        """Count the orders 1..n of the padded training text; return ``self``."""
        tokens = self.tokenize(tokens)
        self.vocab = sorted(set(tokens) - {BOS, EOS, UNK}) + [EOS, UNK]
        self._vocab_set = set(self.vocab)
        self._index = {t: i for i, t in enumerate(self.vocab)}
        padded = self._padded(tokens)
        self.counts, self.context_counts = [], []
        for m in range(1, self.n + 1):
            # start at n - m, so each prediction (w_1 .. w_L, </s>) ends exactly one m-gram
            counts = count_ngrams(padded[self.n - m :], m)
            contexts: Counter = Counter()
            for gram, c in counts.items():
                contexts[gram[:-1]] += c
            self.counts.append(counts)
            self.context_counts.append(contexts)
        return self

    def _check_fitted(self) -> None:
        if not self.counts:
            raise ValueError("the model is not fitted yet; call fit(tokens) first")

    # -- probabilities -----------------------------------------------------------------------

    def _order_prob(self, m: int, context: tuple, token: str) -> float:
        """Eq. (1.4) for order m; ``context`` holds at least the last m - 1 tokens."""
        u = context[len(context) - (m - 1) :] if m > 1 else ()
        return add_k_probability(
            self.counts[m - 1].get(u + (token,), 0),
            self.context_counts[m - 1].get(u, 0),
            len(self.vocab),
            self.k,
        )

    def _component_probs(self, context: tuple, token: str) -> list[float]:
        """[p_k(token | context) for orders 1..n] (used by interpolation and tune_lambdas)."""
        return [self._order_prob(m, context, token) for m in range(1, self.n + 1)]

    def _prob(self, context: tuple, token: str) -> float:
        if self.smoothing == "add_k":
            return self._order_prob(self.n, context, token)
        return sum(
            lam * p
            for lam, p in zip(self.lambdas, self._component_probs(context, token), strict=True)
        )

    def _context(self, context: str | Iterable[str]) -> tuple:
        """The last n - 1 tokens of ``context``, left-padded with <s>, unknowns as <unk>."""
        known = self._known(self.tokenize(context))
        padded = [BOS] * (self.n - 1) + known
        return tuple(padded[len(padded) - (self.n - 1) :]) if self.n > 1 else ()

    def prob(self, token: str, context: str | Iterable[str] = ()) -> float:
        """``p(token | context)``; only the last n - 1 tokens of ``context`` matter.

        A context shorter than n - 1 tokens is left-padded with <s> (the start of a sequence);
        an unknown token or context token is read as <unk>. ``token`` may be ``"</s>"``.
        """
        self._check_fitted()
        if token == BOS:
            raise ValueError(f"{BOS!r} is only a context symbol; it is never predicted")
        (token,) = self._known([token])
        return self._prob(self._context(context), token)

    def distribution(self, context: str | Iterable[str] = ()) -> torch.Tensor:
        """``p(w | context)`` for every w in ``self.vocab``, a float64 tensor (V,) summing to 1."""
        self._check_fitted()
        u = self._context(context)
        return torch.tensor([self._prob(u, w) for w in self.vocab], dtype=torch.float64)

    def _predictions(self, tokens: str | Iterable[str]):
        """(context, token) for each of the N = L + 1 predictions of a padded sequence."""
        padded = self._padded(self._known(self.tokenize(tokens)))
        for i in range(self.n - 1, len(padded)):
            yield tuple(padded[i - self.n + 1 : i]), padded[i]

    def log_prob_sequence(self, tokens: str | Iterable[str]) -> float:
        """Eq. (1.1) under (1.2): ``Σ_i ln p(w_i | context_i)`` over w_1 .. w_L and </s>."""
        self._check_fitted()
        return sum(_log(self._prob(u, w)) for u, w in self._predictions(tokens))

    def num_predictions(self, tokens: str | Iterable[str]) -> int:
        """N = L + 1: the tokens of the sequence and its </s>."""
        return len(self.tokenize(tokens)) + 1

    def perplexity(self, tokens: str | Iterable[str]) -> float:
        """Eq. (1.6): ``exp(-log_prob_sequence / N)``."""
        return math.exp(-self.log_prob_sequence(tokens) / self.num_predictions(tokens))

    def bits_per_token(self, tokens: str | Iterable[str]) -> float:
        """Eq. (1.7): ``-log_prob_sequence / (N ln 2)``; bits per character at ``level="char"``."""
        return -self.log_prob_sequence(tokens) / (self.num_predictions(tokens) * math.log(2))

    # -- generation --------------------------------------------------------------------------

    def generate(self, prefix, length, *, temperature=1.0, top_k=None, generator=None):
        """Up to ``length`` new ids after ``prefix`` (ids into ``self.vocab``) -> list[int].

        Each next id is :func:`coursekit.sampling.sample_next` of the log of
        :meth:`distribution` given the tokens so far (``temperature = 0`` is greedy); the loop
        is :func:`coursekit.sampling.generate`. An empty prefix starts a sequence (the context
        is padded with <s>). Generation stops early when ``</s>`` is drawn (it is not
        returned). ``decode(generate(encode(text), ...))`` is text. The prefix is not part of
        the result. Proved by test_ngram_generate_matches_distribution_loop.
        """
        self._check_fitted()
        prefix = check_prefix(prefix, len(self.vocab), min_length=0)

        def step(new_ids, history):
            history = ([] if history is None else history) + [self.vocab[i] for i in new_ids]
            return torch.log(self.distribution(history)), history  # (V,) log-probabilities

        return generate(
            step,
            prefix,
            length,
            temperature=temperature,
            top_k=top_k,
            generator=generator,
            stop_id=self._index[EOS],
        )


def _log(p: float) -> float:
    return math.log(p) if p > 0 else -math.inf  # p = 0 only with k = 0 (no smoothing)


def _check_lambdas(lambdas: Sequence[float], n: int) -> tuple[float, ...]:
    lambdas = tuple(float(x) for x in lambdas)
    if len(lambdas) != n or min(lambdas) < 0 or not math.isclose(sum(lambdas), 1.0):
        raise ValueError(
            f"lambdas must be {n} non-negative weights (orders 1..{n}) summing to 1; got {lambdas}"
        )
    return lambdas


def lambda_grid(n: int, step: float = 0.1) -> list[tuple[float, ...]]:
    """Every ``(λ_1, ..., λ_n)`` on a grid of ``step`` with ``λ_m >= 0`` and ``Σ λ_m = 1``."""
    units = round(1 / step)
    if not math.isclose(units * step, 1.0):
        raise ValueError(f"step must divide 1 (0.1, 0.25, ...); got {step!r}")
    grid = []
    for head in itertools.product(range(units + 1), repeat=n - 1):
        if sum(head) <= units:
            grid.append(tuple(h / units for h in head) + ((units - sum(head)) / units,))
    return grid


K_GRID = (1.0, 0.1, 0.01, 0.001)


def tune_k(
    model: NGramModel, heldout: str | Iterable[str], grid: Iterable[float] = K_GRID
) -> tuple[float, dict[float, float]]:
    """The k of ``grid`` that gives ``heldout`` the fewest bits per token, and every score.

    Each candidate is scored with :meth:`NGramModel.bits_per_token` (counting is done once, in
    ``fit``; k only enters the probabilities). The best k is stored in ``model.k``; returns
    ``(best_k, {k: held-out bits per token})``. Ties go to the first candidate.
    """
    model._check_fitted()
    scores = {}
    for k in grid:
        if not k >= 0:
            raise ValueError(f"every k must be >= 0; got {k!r}")
        model.k = float(k)
        scores[float(k)] = model.bits_per_token(heldout)
    model.k = min(scores, key=scores.get)
    return model.k, scores


def tune_lambdas(
    model: NGramModel,
    heldout: str | Iterable[str],
    grid: Iterable[Sequence[float]] | None = None,
) -> tuple[float, ...]:
    """The λ of ``grid`` (default :func:`lambda_grid`) with the highest held-out log-probability.

    The component probabilities of orders 1..n are computed once for the held-out text
    ((N, n) tensor), so each candidate costs one matrix-vector product. The best λ is stored in
    ``model.lambdas`` (and ``model.smoothing`` set to ``"interpolation"``) and returned.
    """
    model._check_fitted()
    grid = lambda_grid(model.n) if grid is None else [_check_lambdas(g, model.n) for g in grid]
    components = torch.tensor(
        [model._component_probs(u, w) for u, w in model._predictions(heldout)],
        dtype=torch.float64,
    )  # (N, n)
    candidates = torch.tensor(grid, dtype=torch.float64)  # (G, n)
    log_likelihood = torch.cat(
        [torch.log(components @ chunk.T).sum(dim=0) for chunk in candidates.split(64)]
    )  # (G,); in chunks, as (N, G) would be large for a long held-out text
    best = tuple(grid[int(torch.argmax(log_likelihood))])
    model.lambdas, model.smoothing = best, "interpolation"
    return best
