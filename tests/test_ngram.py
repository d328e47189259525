"""Specifications of coursekit.ngram.

References: counts made by hand on tiny texts, sums of probabilities over the whole vocabulary
(exact enumeration of every context), and perplexity computed by hand from Eq. (1.6).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch

from coursekit.ngram import (
    BOS,
    EOS,
    NGramModel,
    add_k_probability,
    add_k_smoothing,
    count_ngrams,
    lambda_grid,
    ngram_counts,
    tune_k,
    tune_lambdas,
)

TEXT = "abracadabra"


def all_contexts(model):
    """Every context of n - 1 tokens the model can meet: vocabulary and <s> in each place."""
    symbols = [*model.vocab, BOS]
    return list(itertools.product(symbols, repeat=model.n - 1))


def test_count_ngrams_matches_hand_counts():
    assert count_ngrams("abab", 2) == Counter({("a", "b"): 2, ("b", "a"): 1})
    assert count_ngrams("abracadabra", 1)[("a",)] == 5
    assert count_ngrams("abracadabra", 3) == Counter(
        {
            ("a", "b", "r"): 2,
            ("b", "r", "a"): 2,
            ("r", "a", "c"): 1,
            ("a", "c", "a"): 1,
            ("c", "a", "d"): 1,
            ("a", "d", "a"): 1,
            ("d", "a", "b"): 1,
        }
    )


def test_count_ngrams_of_words_and_of_a_short_sequence():
    assert count_ngrams(["the", "cat", "the", "cat"], 2)[("the", "cat")] == 2
    assert count_ngrams("ab", 3) == Counter()


def test_count_ngrams_rejects_bad_order():
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        count_ngrams("abc", 0)


def test_add_k_probability_formula():
    assert add_k_probability(3, 10, 5, 1.0) == pytest.approx(4 / 15)
    assert add_k_probability(3, 10, 5, 0.5) == pytest.approx(3.5 / 12.5)
    assert add_k_probability(3, 10, 5, 0.0) == pytest.approx(3 / 10)


def test_add_k_probability_of_unseen_context_is_uniform():
    assert add_k_probability(0, 0, 8, 1.0) == pytest.approx(1 / 8)
    assert add_k_probability(0, 0, 8, 0.0) == pytest.approx(1 / 8)


def test_ngram_counts_table_matches_hand_counts():
    ids = torch.tensor([0, 1, 2, 0, 1, 0])  # "abcaba"
    bigrams = ngram_counts(ids, 2, 3)
    expected = torch.zeros(3, 3, dtype=torch.float64)
    expected[0, 1] = 2  # ab twice
    expected[1, 2] = expected[2, 0] = expected[1, 0] = 1  # bc, ca, ba
    assert torch.equal(bigrams, expected)
    assert torch.equal(
        ngram_counts(ids, 1, 4), torch.tensor([3.0, 2.0, 1.0, 0.0], dtype=torch.float64)
    )
    assert ngram_counts(ids, 3, 3)[0, 1, 2] == 1 and ngram_counts(ids, 3, 3).sum() == 4
    assert torch.equal(ngram_counts(ids[:2], 3, 3), torch.zeros(3, 3, 3, dtype=torch.float64))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_ngram_counts_table_agrees_with_count_ngrams(n):
    g = torch.Generator().manual_seed(n)
    ids = torch.randint(0, 5, (40,), generator=g)
    table = ngram_counts(ids, n, 5)
    counter = count_ngrams(ids.tolist(), n)
    assert table.sum() == 40 - n + 1
    for index in itertools.product(range(5), repeat=n):
        assert table[index] == counter.get(index, 0)


def test_ngram_counts_rejects_bad_ids():
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\)"):
        ngram_counts(torch.tensor([0, 3]), 2, 3)
    with pytest.raises(ValueError, match="1-D LongTensor"):
        ngram_counts(torch.tensor([0.0, 1.0]), 2, 3)


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0])
def test_add_k_smoothing_table_agrees_with_add_k_probability(k):
    counts = torch.tensor([[3.0, 0.0, 1.0], [0.0, 0.0, 0.0], [2.0, 2.0, 0.0]], dtype=torch.float64)
    probs = add_k_smoothing(counts, k)
    for u in range(3):
        for w in range(3):
            assert probs[u, w].item() == pytest.approx(
                add_k_probability(counts[u, w].item(), counts[u].sum().item(), 3, k)
            )
    torch.testing.assert_close(probs.sum(-1), torch.ones(3, dtype=torch.float64))


def test_add_k_smoothing_gradient_matches_finite_differences():
    counts = torch.rand(3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: add_k_smoothing(c, 0.5), (counts,))


def test_fit_pads_with_begin_and_end_symbols():
    model = NGramModel(3, k=1.0).fit("ab")
    # padded: <s> <s> a b </s>
    assert model.counts[2] == Counter({(BOS, BOS, "a"): 1, (BOS, "a", "b"): 1, ("a", "b", EOS): 1})
    assert model.counts[0] == Counter({("a",): 1, ("b",): 1, (EOS,): 1})
    assert model.vocab == ["a", "b", EOS, "<unk>"]


def test_bigram_probability_matches_hand_counts():
    model = NGramModel(2, k=0.0).fit(TEXT)
    # "a" is followed by b, c, d, b, </s>: c(a, b) = 2, c(a) = 5
    assert model.prob("b", "a") == pytest.approx(2 / 5)
    assert model.prob(EOS, "abra") == pytest.approx(1 / 5)
    # first token: <s> is followed once, by "a"
    assert model.prob("a") == pytest.approx(1.0)


def test_add_one_bigram_probability_matches_hand_counts():
    model = NGramModel(2, k=1.0).fit(TEXT)
    vocab_size = 7  # a b r c d </s> <unk>
    assert len(model.vocab) == vocab_size
    assert model.prob("b", "a") == pytest.approx((2 + 1) / (5 + vocab_size))
    assert model.prob("c", "r") == pytest.approx((0 + 1) / (2 + vocab_size))


@pytest.mark.parametrize(
    "n, smoothing, k",
    [(1, "add_k", 1.0), (2, "add_k", 0.5), (3, "add_k", 0.0), (3, "interpolation", 0.1)],
)
def test_probabilities_sum_to_one_over_the_vocabulary_for_every_context(n, smoothing, k):
    model = NGramModel(n, smoothing=smoothing, k=k).fit(TEXT)
    for context in all_contexts(model):
        total = sum(model.prob(w, context) for w in model.vocab)
        assert total == pytest.approx(1.0, abs=1e-12), context


def test_word_level_probabilities_sum_to_one():
    model = NGramModel(2, level="word", k=0.5).fit("the cat sat on the mat")
    assert "cat" in model.vocab and "c" not in model.vocab
    for context in all_contexts(model):
        assert sum(model.prob(w, context) for w in model.vocab) == pytest.approx(1.0)


def test_distribution_lists_prob_of_every_vocabulary_token():
    model = NGramModel(2, k=0.5).fit(TEXT)
    expected = torch.tensor([model.prob(w, "ab") for w in model.vocab], dtype=torch.float64)
    torch.testing.assert_close(model.distribution("ab"), expected)


def test_log_prob_sequence_is_sum_of_hand_probabilities():
    model = NGramModel(2, k=0.0).fit(TEXT)
    # "abra": p(a|<s>) = 1, p(b|a) = 2/5, p(r|b) = 1, p(a|r) = 1, p(</s>|a) = 1/5
    probs = [1.0, 2 / 5, 1.0, 1.0, 1 / 5]
    expected = sum(math.log(p) for p in probs)
    assert model.log_prob_sequence("abra") == pytest.approx(expected)


def test_perplexity_is_exp_of_mean_negative_log_probability():
    model = NGramModel(2, k=1.0).fit(TEXT)
    vocab_size = 7
    # "ac": p(a|<s>) = (1+1)/(1+7), p(c|a) = (1+1)/(5+7), p(</s>|c) = (0+1)/(1+7)
    log_probs = [math.log(2 / 8), math.log(2 / 12), math.log(1 / 8)]
    assert len(model.vocab) == vocab_size
    assert model.perplexity("ac") == pytest.approx(math.exp(-sum(log_probs) / 3))
    assert model.bits_per_token("ac") == pytest.approx(-sum(log_probs) / 3 / math.log(2))


def test_uniform_model_has_perplexity_equal_to_vocabulary_size():
    model = NGramModel(1, k=1e12).fit(TEXT)  # huge k: every count is negligible
    assert model.perplexity("abc") == pytest.approx(len(model.vocab), rel=1e-6)


def test_unknown_tokens_map_to_unk_and_do_not_crash():
    model = NGramModel(2, k=1.0).fit(TEXT)
    assert model.prob("z", "a") == pytest.approx(model.prob("<unk>", "a"))
    assert model.prob("a", "xyz") == pytest.approx(model.prob("a", ["<unk>"]))
    assert math.isfinite(model.perplexity("zzz unseen"))


def test_unknown_words_at_word_level():
    model = NGramModel(2, level="word", k=1.0).fit("the cat sat")
    assert model.prob("dog", "the") == pytest.approx(1 / (1 + len(model.vocab)))
    assert math.isfinite(model.log_prob_sequence("the dog barked"))


def test_interpolation_with_all_weight_on_order_n_equals_plain_ngram():
    plain = NGramModel(3, k=0.5).fit(TEXT)
    interpolated = NGramModel(3, smoothing="interpolation", k=0.5, lambdas=(0, 0, 1)).fit(TEXT)
    for context in all_contexts(plain):
        for w in plain.vocab:
            assert interpolated.prob(w, context) == pytest.approx(plain.prob(w, context))


def test_interpolation_is_weighted_sum_of_orders():
    lambdas = (0.2, 0.3, 0.5)
    mixed = NGramModel(3, smoothing="interpolation", k=0.5, lambdas=lambdas).fit(TEXT)
    orders = [NGramModel(m, k=0.5).fit(TEXT) for m in (1, 2, 3)]
    expected = sum(lam * model.prob("b", "ra") for lam, model in zip(lambdas, orders, strict=True))
    assert mixed.prob("b", "ra") == pytest.approx(expected)


def test_lambdas_must_be_n_weights_summing_to_one():
    with pytest.raises(ValueError, match="lambdas must be 3 non-negative weights"):
        NGramModel(3, smoothing="interpolation", lambdas=(0.5, 0.5))
    with pytest.raises(ValueError, match="summing to 1"):
        NGramModel(2, smoothing="interpolation", lambdas=(0.5, 0.6))


def test_lambda_grid_covers_the_simplex():
    grid = lambda_grid(3, step=0.5)
    assert sorted(grid) == sorted(
        [(0, 0, 1), (0, 0.5, 0.5), (0, 1, 0), (0.5, 0, 0.5), (0.5, 0.5, 0), (1, 0, 0)]
    )


def test_tune_lambdas_picks_the_best_candidate_on_heldout_text():
    model = NGramModel(2, smoothing="interpolation", k=0.1).fit(TEXT * 3)
    heldout = "abracadabra abra"
    grid = [(1.0, 0.0), (0.5, 0.5), (0.1, 0.9)]

    def heldout_log_prob(lambdas):
        return (
            NGramModel(2, "char", "interpolation", 0.1, lambdas)
            .fit(TEXT * 3)
            .log_prob_sequence(heldout)
        )

    best = tune_lambdas(model, heldout, grid)
    assert best == max(grid, key=heldout_log_prob)
    assert model.lambdas == best


def test_tune_k_picks_the_k_with_the_fewest_heldout_bits():
    heldout = "abracadabra cadabra"
    grid = (2.0, 0.5, 0.05)
    model = NGramModel(3).fit(TEXT * 2)
    best, scores = tune_k(model, heldout, grid)
    fresh = {k: NGramModel(3, k=k).fit(TEXT * 2).bits_per_token(heldout) for k in grid}
    assert scores == pytest.approx(fresh)
    assert best == min(fresh, key=fresh.get) and model.k == best


def test_tune_k_rejects_a_negative_candidate():
    with pytest.raises(ValueError, match="every k must be >= 0"):
        tune_k(NGramModel(2).fit(TEXT), "abra", (1.0, -0.5))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="level must be one of"):
        NGramModel(2, level="byte")
    with pytest.raises(ValueError, match="smoothing must be one of"):
        NGramModel(2, smoothing="kneser_ney")
    with pytest.raises(ValueError, match="not fitted"):
        NGramModel(2).prob("a")
    with pytest.raises(ValueError, match="never predicted"):
        NGramModel(2).fit("ab").prob(BOS)
