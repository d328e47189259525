"""Grading specs for assignment 1, language models: seven functions of chapter 1.

``ngram_counts`` and ``add_k_smoothing`` (coursekit.ngram), ``perplexity_from_logits``,
``temperature_probs`` and ``sample_next`` (coursekit.sampling), ``mlp_lm_forward``
(coursekit.mlp_lm) and ``cbow_forward`` (coursekit.embeddings). Token ids travel as int64
tensors and masks as bool tensors (no gradient); every float input is float64 and its gradient
is compared, except for the counts and the sampler, whose outputs are integers.

``sample_next`` draws at random, so it is judged by its distribution, not by equal draws (a
correct answer may use ``torch.multinomial``, an inverse CDF, Gumbel-max …). Each sampling case
repeats three distinct rows of logits 6,000 times each; :func:`compare_samples` requires that
no token of probability 0 is drawn and that every token's frequency over a row's copies lies
within ``6 sqrt(p (1 - p) / n) + 0.001`` of its exact probability p, computed here with the
reference's ``temperature_probs`` and ``top_k_filter``. For a correct sampler each such test
fails with probability at most 9.2e-10 (the exact binomial tail for n = 6000, maximised over
p; largest near p = 0.016), so a check of its 96 (row, token) pairs fails a correct answer
with probability below 1e-7. A row drawn fewer times (a single (V,) draw) is checked for its
support only. Temperature 0 must give exactly the argmax. The wrong samplers of the test
suite move some probability far beyond the allowance.
"""

from __future__ import annotations

import numpy as np
import torch

from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit
from coursekit.sampling import temperature_probs, top_k_filter

# -- chapter 1: language models ------------------------------------------------------------

NGRAM_FORBIDDEN = (
    "ngram_counts",
    "count_ngrams",
    "add_k_smoothing",
    "add_k_probability",
    "NGramModel",
)
# torch's losses compute the perplexity's cross-entropy in one call
PERPLEXITY_FORBIDDEN = (
    "perplexity_from_logits",
    "bits_per_token",
    "cross_entropy",
    "cross_entropy_loss",
    "CrossEntropyLoss",
    "nll_loss",
    "nll_loss_nd",
    "nll_loss2d",
    "NLLLoss",
)
SAMPLING_FORBIDDEN = ("sample_next", "temperature_probs", "top_k_filter")
MLP_LM_FORBIDDEN = ("mlp_lm_forward", "MLPLanguageModel")
# embedding_bag is CBOW's pooling in one call
CBOW_FORBIDDEN = (
    "cbow_forward",
    "CBOW",
    "embedding_bag",
    "EmbeddingBag",
    "_embedding_bag",
    "_embedding_bag_forward_only",
)

SAMPLE_DRAWS = 6000  # draws per distinct row of logits; a row drawn fewer times: support only


# -- n-gram counts and add-k smoothing, Eqs. (1.3)-(1.4) ---------------------------------------


def _ngram_counts_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, length, n, vocab in [
        ("unigrams, L=12, V=4", 12, 1, 4),
        ("bigrams, L=20, V=3", 20, 2, 3),
        ("trigrams, L=30, V=4", 30, 3, 4),
        ("4-grams, L=40, V=2", 40, 4, 2),
        ("bigrams, L=9, V=6", 9, 2, 6),
        ("trigrams, L=3 = n (one n-gram), V=5", 3, 3, 5),
        ("4-grams, L=2 < n (no n-gram: all zeros), V=3", 2, 4, 3),
        ("bigrams, L=1 < n (all zeros), V=2", 1, 2, 2),
        ("unigrams of an empty sequence, V=3", 0, 1, 3),
    ]:
        b = SpecBuilder(g)
        cases.append(b.case(label, [b.ids(vocab, length), lit(n), lit(vocab)]))
    for label, ids, n, vocab in [
        ("repeated token, bigrams", [1] * 7, 2, 3),
        ("repeated token, trigrams", [0] * 6 + [2] * 5, 3, 3),
        ("alternating tokens, bigrams", [0, 1] * 6, 2, 2),
    ]:
        b = SpecBuilder(g)
        cases.append(b.case(label, [b.given(ids, "int64"), lit(n), lit(vocab)]))
    return cases


def _counts(b: SpecBuilder, shape: tuple[int, ...], high: int) -> np.ndarray:
    """Integer counts in ``[0, high)`` as float64 (not yet an argument)."""
    return torch.randint(0, high, shape, generator=b.generator).double().numpy()


def _add_k_smoothing_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, shape, k, high in [
        ("unigram counts (5,), k=1", (5,), 1.0, 6),
        ("bigram counts (4, 4), k=0.5", (4, 4), 0.5, 5),
        ("bigram counts (3, 3), k=0 (maximum likelihood)", (3, 3), 0.0, 4),
        ("trigram counts (3, 3, 3), k=2", (3, 3, 3), 2.0, 4),
        ("trigram counts (2, 2, 2), k=0", (2, 2, 2), 0.0, 3),
    ]:
        b = SpecBuilder(g)
        counts = _counts(b, shape, high) + 1  # no empty row here: that is the next cases
        cases.append(b.case(label, [b.given(counts), lit(k)]))
    for label, shape, k in [
        ("bigram counts with an empty row, k=0 (that row is uniform)", (4, 4), 0.0),
        ("bigram counts with an empty row, k=1", (4, 4), 1.0),
        ("trigram counts with an empty row, k=0", (3, 3, 3), 0.0),
        ("trigram counts with an empty row, k=0.5", (3, 3, 3), 0.5),
    ]:
        b = SpecBuilder(g)
        counts = _counts(b, shape, 5)
        counts[(1,) * (len(shape) - 1)] = 0.0  # the context (1, ..., 1) was never seen
        counts[(0,) * (len(shape) - 1)] += 1.0  # and the context (0, ..., 0) was
        cases.append(b.case(label, [b.given(counts), lit(k)]))
    b = SpecBuilder(g)
    counts = torch.rand((3, 4), generator=g, dtype=torch.float64).numpy() * 3  # fractional
    cases.append(b.case("fractional counts (3, 4), k=1", [b.given(counts), lit(1.0)]))
    b = SpecBuilder(g)
    cases.append(b.case("all counts zero (5,), k=0", [b.given(np.zeros(5)), lit(0.0)]))
    return cases


# -- perplexity, Eq. (1.6) ------------------------------------------------------------------------


def _perplexity_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, shape, vocab, scale, shift in [
        ("(N, V) = (10, 6)", (10,), 6, 2.0, 0.0),
        ("(N, V) = (1, 4), one token (edge case)", (1,), 4, 2.0, 0.0),
        ("(T, B, V) = (5, 3, 7)", (5, 3), 7, 2.0, 0.0),
        ("(T, B, V) = (1, 1, 5)", (1, 1), 5, 1.0, 0.0),
        ("(N, V) = (12, 8), confident logits (scale 8)", (12,), 8, 8.0, 0.0),
        ("(T, B, V) = (4, 2, 6), logits near +800 (use the log-sum-exp form)", (4, 2), 6, 3.0, 800),
        ("(N, V) = (6, 5), logits near -800 (use the log-sum-exp form)", (6,), 5, 3.0, -800),
    ]:
        b = SpecBuilder(g)
        logits = b.tensor(*shape, vocab, scale=scale)
        b.arrays[logits["t"]] += shift
        cases.append(b.case(label, [logits, b.ids(vocab, *shape)]))
    return cases


# -- the MLP language model, Eqs. (1.9)-(1.11) -----------------------------------------------------


def _mlp_lm_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, n, vocab, dim, hidden, bias_h, bias_out in [
        ("B=4, n=3, V=7, E=2, H=5", 4, 3, 7, 2, 5, True, True),
        ("B=1, n=2, V=5, E=3, H=4 (batch of one)", 1, 2, 5, 3, 4, True, True),
        ("B=3, n=1, V=6, E=4, H=3 (one token of context)", 3, 1, 6, 4, 3, True, True),
        ("B=5, n=4, V=4, E=2, H=6, no biases", 5, 4, 4, 2, 6, False, False),
        ("B=2, n=2, V=6, E=3, H=4, no hidden bias", 2, 2, 6, 3, 4, False, True),
        ("B=3, n=3, V=5, E=2, H=3, no output bias", 3, 3, 5, 2, 3, True, False),
    ]:
        b = SpecBuilder(g)
        scale_h, scale_out = 1.0 / (n * dim) ** 0.5, 1.0 / hidden**0.5
        args = [
            b.ids(vocab, batch, n),  # context_ids
            b.tensor(vocab, dim, scale=1.5),  # embedding
            b.tensor(hidden, n * dim, scale=2 * scale_h),  # weight_h
            b.tensor(hidden, scale=scale_h) if bias_h else lit(None),  # bias_h
            b.tensor(vocab, hidden, scale=2 * scale_out),  # weight_out
            b.tensor(vocab, scale=scale_out) if bias_out else lit(None),  # bias_out
        ]
        cases.append(b.case(label, args))
    return cases


# -- temperature and sampling, Eqs. (1.12)-(1.13) -------------------------------------------------


def _temperature_probs_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, shape, temperature, scale, shift in [
        ("(V,) = (6,), temperature 1", (6,), 1.0, 2.0, 0.0),
        ("(B, V) = (3, 5), temperature 0.5", (3, 5), 0.5, 2.0, 0.0),
        ("(B, V) = (4, 7), temperature 2", (4, 7), 2.0, 2.0, 0.0),
        ("(B, V) = (2, 6), temperature 0.1 (nearly greedy)", (2, 6), 0.1, 1.0, 0.0),
        ("(V,) = (5,), temperature 10 (nearly uniform)", (5,), 10.0, 3.0, 0.0),
        ("(B, V) = (1, 4), temperature 0.5 (batch of one)", (1, 4), 0.5, 2.0, 0.0),
        (
            "(B, V) = (3, 6), logits near 100, temperature 0.1 (subtract the max)",
            (3, 6),
            0.1,
            3.0,
            100,
        ),
    ]:
        b = SpecBuilder(g)
        logits = b.tensor(*shape, scale=scale)
        b.arrays[logits["t"]] += shift
        cases.append(b.case(label, [logits, lit(temperature)]))
    return cases


def _tiled_rows(b: SpecBuilder, vocab: int) -> dict:
    """(3·SAMPLE_DRAWS, V) logits: three distinct rows, row i a copy of row i % 3.

    Two rows are fixed spreads (permuted and shifted at random: softmax does not see a shift)
    chosen so that every probability of the wrong samplers is far from the right one; the third
    is drawn at random.
    """
    rows = []
    for spread in (3.0, 1.2):
        row = torch.linspace(spread, -spread, vocab, dtype=torch.float64)
        order = torch.randperm(vocab, generator=b.generator)
        shift = float(torch.rand((), generator=b.generator, dtype=torch.float64)) * 4 - 2
        rows.append(row[order] + shift)
    rows.append((torch.rand(vocab, generator=b.generator, dtype=torch.float64) * 2 - 1) * 2)
    return b.given(torch.stack(rows).repeat(SAMPLE_DRAWS, 1).numpy())


def _sample_next_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, vocab, temperature, top_k in [
        ("V=6, temperature and top_k left at their defaults", 6, None, None),
        ("V=5, temperature 0.5", 5, 0.5, None),
        ("V=6, temperature 2, top_k=3", 6, 2.0, 3),
        ("V=4, temperature 0.7, top_k=1", 4, 0.7, 1),
        ("V=5, temperature 1.5, top_k=7 >= V (keeps every token)", 5, 1.5, 7),
        ("V=6, temperature 10, top_k=2", 6, 10.0, 2),
    ]:
        b = SpecBuilder(g)
        kwargs = {"generator": b.generator_argument()}
        if temperature is not None:
            kwargs["temperature"] = lit(temperature)
        if top_k is not None:
            kwargs["top_k"] = lit(top_k)
        label = f"(N, V) = ({3 * SAMPLE_DRAWS}, {vocab}), three distinct rows, {label}"
        cases.append(b.case(label, [_tiled_rows(b, vocab)], **kwargs))
    for label, shape, temperature, top_k in [
        ("(B, V) = (50, 7), temperature 0 (greedy), top_k=2", (50, 7), 0.0, 2),
        ("(V,) = (6,), one draw, temperature 0.8, top_k=2", (6,), 0.8, 2),
        ("(V,) = (5,), temperature 0 (greedy)", (5,), 0, None),
    ]:
        b = SpecBuilder(g)
        logits = b.tensor(*shape, scale=3.0 if len(shape) == 2 else 2.0)
        kwargs = {"temperature": lit(temperature), "generator": b.generator_argument()}
        if top_k is not None:
            kwargs["top_k"] = lit(top_k)
        cases.append(b.case(label, [logits], **kwargs))
    return cases


def _literal(case: Case, name: str, position: int, default):
    if name in case.kwargs:
        return case.kwargs[name]["lit"]
    if len(case.args) > position:
        return case.args[position]["lit"]
    return default


def frequency_allowance(p: np.ndarray, draws: int) -> np.ndarray:
    """How far a frequency over ``draws`` draws may lie from its probability ``p``."""
    return 6.0 * np.sqrt(p * (1.0 - p) / draws) + 1e-3


def compare_samples(case: Case, got: dict, expected: dict) -> str | None:
    """Judge ``sample_next``'s draws by the distribution they come from (see the module doc)."""
    logits = case.arrays[case.args[0]["t"]]  # (V,) or (N, V)
    temperature = _literal(case, "temperature", 1, 1.0)
    top_k = _literal(case, "top_k", 2, None)
    if int(got.get("n", -1)) != 1 or "o0" not in got:
        return f"returned {int(got.get('n', -1))} output(s); expected one tensor of token ids"
    ids, shape, vocab = np.asarray(got["o0"]), logits.shape[:-1], logits.shape[-1]
    if ids.shape != shape:
        return (
            f"the ids have shape {tuple(ids.shape)}; expected {tuple(shape)}, one id per row "
            f"of logits {tuple(logits.shape)}"
        )
    rows, ids = logits.reshape(-1, vocab), ids.reshape(-1)  # (N, V), (N,)
    bad = ~(np.isfinite(ids) & (ids == np.round(ids)) & (ids >= 0) & (ids < vocab))
    if bad.any():
        i = int(np.argmax(bad))
        return f"row {i}: got id {ids[i]:g}; an id is an integer in [0, {vocab})"
    ids = ids.astype(np.int64)
    if temperature == 0:
        greedy = rows.argmax(axis=-1)
        if not np.array_equal(ids, greedy):
            i = int(np.argmax(ids != greedy))
            return (
                f"row {i}: temperature 0 is greedy decoding, the id of the largest logit, "
                f"{greedy[i]}; got {ids[i]}"
            )
        return None
    table = torch.from_numpy(rows)
    if top_k is not None:
        table = top_k_filter(table, top_k)
    probs = temperature_probs(table, temperature).numpy()  # (N, V)
    distinct, first, group = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    for g in np.argsort(first):  # in the order the rows first appear
        row = int(first[g])
        draws = int((group == g).sum())
        what = f"row {row}" if draws == 1 else f"row {row} and its copies ({draws} draws)"
        counts = np.bincount(ids[group == g], minlength=vocab)
        p = probs[row]
        impossible = (p == 0) & (counts > 0)
        if impossible.any():
            v = int(np.argmax(impossible))
            return (
                f"{what}: token {v} was drawn {counts[v]} time(s), but its probability is 0 "
                f"(temperature {temperature}, top_k {top_k})"
            )
        if draws < SAMPLE_DRAWS:
            continue
        freq = counts / draws
        excess = np.abs(freq - p) - frequency_allowance(p, draws)
        if (excess > 0).any():
            v = int(np.argmax(excess))
            return (
                f"{what}: token {v} was drawn with frequency {freq[v]:.4f}; its probability "
                f"is {p[v]:.4f} (temperature {temperature}, top_k {top_k}; allowed "
                f"±{frequency_allowance(p[v], draws):.4f})"
            )
    return None


# -- CBOW, Eqs. (1.8) and (1.14) -----------------------------------------------------------------


def _cbow_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, lengths, vocab, dim, classes, reduction, bias in [
        ("B=4, L=5, mean", [5, 3, 1, 4], 9, 4, 3, "mean", True),
        ("B=3, L=6, sum", [2, 6, 4], 8, 3, 2, "sum", True),
        ("B=1, L=4, mean (batch of one, no padding)", [4], 6, 3, 2, "mean", True),
        ("B=3, L=4, mean, no bias", [4, 1, 2], 7, 2, 4, "mean", False),
        ("B=2, L=3, sum, no bias", [3, 2], 5, 4, 3, "sum", False),
        ("B=5, L=1, mean (one token each)", [1, 1, 1, 1, 1], 6, 3, 2, "mean", True),
    ]:
        b = SpecBuilder(g)
        width = max(lengths)
        mask = np.arange(width)[None, :] < np.array(lengths)[:, None]  # (B, L)
        args = [
            b.ids(vocab, len(lengths), width),  # padded places hold random ids too
            b.given(mask, "bool"),
            b.tensor(vocab, dim, scale=1.5),  # embedding
            b.tensor(classes, dim),  # weight
            b.tensor(classes) if bias else lit(None),  # bias
        ]
        cases.append(b.case(label, args, reduction=lit(reduction)))
    for label, reduction in [
        ("mask None (no padding), B=3, L=4, mean", "mean"),
        ("mask None, sum", "sum"),
    ]:
        b = SpecBuilder(g)
        args = [b.ids(7, 3, 4), lit(None), b.tensor(7, 3, scale=1.5), b.tensor(2, 3), b.tensor(2)]
        cases.append(b.case(label, args, reduction=lit(reduction)))
    b = SpecBuilder(g)
    lengths = [3, 5, 2]
    mask = np.arange(5)[None, :] < np.array(lengths)[:, None]
    args = [b.ids(6, 3, 5), b.given(mask, "bool"), b.tensor(6, 2), b.tensor(3, 2), b.tensor(3)]
    cases.append(b.case("reduction left at its default (mean)", args))
    return cases


FUNCTION_SPECS = [
    FunctionSpec(
        "ngram_counts",
        "coursekit.ngram:ngram_counts",
        _ngram_counts_cases,
        NGRAM_FORBIDDEN,
        gradients=False,
    ),
    FunctionSpec(
        "add_k_smoothing",
        "coursekit.ngram:add_k_smoothing",
        _add_k_smoothing_cases,
        NGRAM_FORBIDDEN,
    ),
    FunctionSpec(
        "perplexity_from_logits",
        "coursekit.sampling:perplexity_from_logits",
        _perplexity_cases,
        PERPLEXITY_FORBIDDEN,
    ),
    FunctionSpec(
        "mlp_lm_forward", "coursekit.mlp_lm:mlp_lm_forward", _mlp_lm_cases, MLP_LM_FORBIDDEN
    ),
    FunctionSpec(
        "temperature_probs",
        "coursekit.sampling:temperature_probs",
        _temperature_probs_cases,
        SAMPLING_FORBIDDEN,
    ),
    FunctionSpec(
        "sample_next",
        "coursekit.sampling:sample_next",
        _sample_next_cases,
        SAMPLING_FORBIDDEN,
        gradients=False,
        compare=compare_samples,
    ),
    FunctionSpec("cbow_forward", "coursekit.embeddings:cbow_forward", _cbow_cases, CBOW_FORBIDDEN),
]
