"""Specifications of coursekit.sampling.

Distributions are checked by exact enumeration on tiny vocabularies: the empirical frequency of
each token over many seeded draws must lie within 5 binomial standard errors
(sqrt(p(1 - p) / n)) of the probability written out here; perplexity is checked against
torch.nn.functional.cross_entropy.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from coursekit.sampling import (
    SLOT,
    WUJUE_TEMPLATE,
    bits_per_token,
    fill_template,
    greedy,
    perplexity_from_logits,
    sample_next,
    temperature_probs,
    top_k_filter,
)

DRAWS = 20_000
LOGITS = torch.tensor([2.0, 1.0, 0.0, -1.0])  # V = 4


def empirical_frequencies(logits, draws=DRAWS, **kwargs):
    """Draw ``draws`` tokens from one (V,) row, as one (draws, V) batch, with a seeded generator."""
    generator = torch.Generator().manual_seed(1234)
    ids = sample_next(logits.expand(draws, -1), generator=generator, **kwargs)  # (draws,)
    return torch.bincount(ids, minlength=logits.shape[-1]).double() / draws


def assert_matches_distribution(frequencies, probs, draws=DRAWS):
    probs = probs.double()
    standard_error = torch.sqrt(probs * (1 - probs) / draws)
    assert torch.all((frequencies - probs).abs() <= 5 * standard_error + 1e-12), (
        frequencies,
        probs,
    )


def test_temperature_probs_is_softmax_of_scaled_logits():
    logits = torch.randn(3, 7, dtype=torch.float64)
    for tau in (0.5, 1.0, 2.0):
        exp = torch.exp(logits / tau)
        torch.testing.assert_close(temperature_probs(logits, tau), exp / exp.sum(-1, keepdim=True))


def test_temperature_probs_rejects_non_positive_temperature():
    for tau in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature must be > 0"):
            temperature_probs(LOGITS, tau)


def test_high_temperature_approaches_uniform_and_low_approaches_one_hot():
    torch.testing.assert_close(temperature_probs(LOGITS, 1e6), torch.full((4,), 0.25))
    torch.testing.assert_close(temperature_probs(LOGITS, 1e-3), torch.tensor([1.0, 0, 0, 0]))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_samples_follow_the_tempered_distribution(temperature):
    exp = [math.exp(z / temperature) for z in LOGITS.tolist()]
    expected = torch.tensor([e / sum(exp) for e in exp], dtype=torch.float64)
    frequencies = empirical_frequencies(LOGITS, temperature=temperature)
    assert_matches_distribution(frequencies, expected)


def test_top_k_samples_follow_the_renormalised_top_k_distribution():
    # top-2 of [2, 1, 0, -1]: e^2 / (e^2 + e), e / (e^2 + e), then zeros.
    e2, e1 = math.exp(2.0), math.exp(1.0)
    expected = torch.tensor([e2 / (e2 + e1), e1 / (e2 + e1), 0.0, 0.0], dtype=torch.float64)
    frequencies = empirical_frequencies(LOGITS, top_k=2)
    assert_matches_distribution(frequencies, expected)


def test_top_k_never_samples_outside_the_top_k():
    logits = torch.randn(50, 10)
    generator = torch.Generator().manual_seed(0)
    allowed = torch.topk(logits, 3, dim=-1).indices  # (50, 3)
    for _ in range(20):
        ids = sample_next(logits, temperature=5.0, top_k=3, generator=generator)  # (50,)
        assert (allowed == ids[:, None]).any(dim=-1).all()


def test_top_k_filter_keeps_the_k_largest_and_masks_the_rest():
    filtered = top_k_filter(torch.tensor([0.3, -2.0, 5.0, 1.0]), 2)
    assert filtered.tolist() == [float("-inf"), float("-inf"), 5.0, 1.0]


def test_top_k_at_least_vocabulary_size_changes_nothing():
    assert torch.equal(top_k_filter(LOGITS, 4), LOGITS)
    assert torch.equal(top_k_filter(LOGITS, 10), LOGITS)


def test_top_k_must_be_a_positive_integer():
    for k in (0, -1, 1.5):
        with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
            top_k_filter(LOGITS, k)


def test_greedy_is_argmax():
    logits = torch.randn(8, 11)
    assert torch.equal(greedy(logits), torch.argmax(logits, dim=-1))
    assert greedy(LOGITS).item() == 0


def test_temperature_zero_is_greedy():
    logits = torch.randn(8, 11)
    assert torch.equal(sample_next(logits, temperature=0), torch.argmax(logits, dim=-1))


def test_negative_temperature_raises():
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample_next(LOGITS, temperature=-0.5)


def test_sample_next_shapes_and_dtype():
    generator = torch.Generator().manual_seed(0)
    one = sample_next(LOGITS, generator=generator)
    many = sample_next(torch.randn(5, 4), generator=generator)
    assert one.shape == () and one.dtype == torch.long
    assert many.shape == (5,) and many.dtype == torch.long


def test_sample_next_rejects_other_shapes():
    with pytest.raises(ValueError, match=r"logits must be \(V,\) or \(B, V\); got \(2, 3, 4\)"):
        sample_next(torch.zeros(2, 3, 4))


def test_seeded_generator_gives_the_same_draws():
    logits = torch.randn(16, 9)
    first = sample_next(logits, generator=torch.Generator().manual_seed(7), top_k=5)
    second = sample_next(logits, generator=torch.Generator().manual_seed(7), top_k=5)
    assert torch.equal(first, second)


def test_perplexity_equals_exp_of_torch_cross_entropy():
    logits = torch.randn(20, 6, dtype=torch.float64)
    targets = torch.randint(6, (20,))
    expected = torch.exp(F.cross_entropy(logits, targets))
    torch.testing.assert_close(perplexity_from_logits(logits, targets), expected)


def test_perplexity_accepts_time_batch_layout():
    logits = torch.randn(5, 3, 6, dtype=torch.float64)
    targets = torch.randint(6, (5, 3))
    expected = torch.exp(F.cross_entropy(logits.reshape(15, 6), targets.reshape(15)))
    torch.testing.assert_close(perplexity_from_logits(logits, targets), expected)


def test_uniform_logits_have_perplexity_equal_to_vocabulary_size():
    ppl = perplexity_from_logits(torch.zeros(10, 7, dtype=torch.float64), torch.zeros(10).long())
    torch.testing.assert_close(ppl, torch.tensor(7.0, dtype=torch.float64))


def test_bits_per_token_is_mean_negative_log2_probability():
    logits = torch.randn(12, 5, dtype=torch.float64)
    targets = torch.randint(5, (12,))
    log2_probs = torch.log2(torch.softmax(logits, -1))[torch.arange(12), targets]
    torch.testing.assert_close(bits_per_token(logits, targets), -log2_probs.mean())


def test_perplexity_rejects_mismatched_targets():
    with pytest.raises(ValueError, match="targets"):
        perplexity_from_logits(torch.zeros(4, 3), torch.zeros(5).long())


# -- fill_template ----------------------------------------------------------------------------

TEMPLATE_VOCAB = ["春", "风", "，", "。", "</s>", "<unk>"]


def bigram_logits(tokens):
    """A fixed model: after "春" prefers "。" (not allowed in a slot), otherwise uniform."""
    if tokens and tokens[-1] == "春":
        return torch.tensor([0.0, math.log(3.0), 5.0, 5.0, 5.0, 5.0])
    return torch.zeros(len(TEMPLATE_VOCAB))


def test_wujue_template_is_four_lines_of_five_characters():
    assert WUJUE_TEMPLATE.split("。")[:2] == [SLOT * 5 + "，" + SLOT * 5] * 2
    assert len(WUJUE_TEMPLATE) == 24


def test_fill_template_keeps_the_form_and_only_draws_characters():
    poem = fill_template(
        bigram_logits, TEMPLATE_VOCAB, WUJUE_TEMPLATE, torch.Generator().manual_seed(0)
    )
    assert len(poem) == len(WUJUE_TEMPLATE)
    for place, got in zip(WUJUE_TEMPLATE, poem, strict=True):
        assert got in "春风" if place == SLOT else got == place


def test_fill_template_draws_from_the_distribution_restricted_to_allowed_tokens():
    # after 春 the allowed tokens are 春 (logit 0) and 风 (logit log 3): p(风 | 春) = 3/4
    generator = torch.Generator().manual_seed(5)
    draws = 4000
    second = [
        fill_template(bigram_logits, TEMPLATE_VOCAB, SLOT, generator, history=["春"])
        for _ in range(draws)
    ]
    frequency = second.count("风") / draws
    assert abs(frequency - 0.75) <= 5 * math.sqrt(0.75 * 0.25 / draws)


def test_fill_template_copies_fixed_characters_into_the_history():
    seen = []

    def spy(tokens):
        seen.append("".join(tokens))
        return torch.zeros(len(TEMPLATE_VOCAB))

    poem = fill_template(spy, TEMPLATE_VOCAB, SLOT + "，" + SLOT, torch.Generator(), history=["春"])
    assert seen == ["春", "春" + poem[:2]]


def test_fill_template_at_temperature_zero_is_greedy_among_allowed_tokens():
    poem = fill_template(
        bigram_logits, TEMPLATE_VOCAB, SLOT * 3, torch.Generator(), 0.0, history=["春"]
    )
    assert poem == "风春风"  # after 春: 风 (。 is not allowed); after 风: a tie, argmax takes 春


def test_fill_template_rejects_a_vocabulary_with_nothing_allowed_and_bad_logits():
    with pytest.raises(ValueError, match="no token of the vocabulary is allowed"):
        fill_template(bigram_logits, ["，", "。"], SLOT, torch.Generator())
    with pytest.raises(ValueError, match=r"must return \(6,\) logits"):
        fill_template(lambda t: torch.zeros(3), TEMPLATE_VOCAB, SLOT, torch.Generator())


def test_generate_draws_each_id_like_multinomial_on_tempered_softmax_of_step_logits():
    """sampling.generate = step the model, draw with multinomial(softmax(z / T)), feed the id.

    The reference reproduces the draws with torch.multinomial and the same seeded generator,
    on logits that depend on the last id (so feeding the wrong id changes the result)."""
    from coursekit.sampling import generate

    table = torch.randn(5, 5, generator=torch.Generator().manual_seed(1))  # logits after id v

    def step(new_ids, state):
        history = (state or []) + list(new_ids)
        return table[history[-1]], history

    out = generate(step, [3], 12, temperature=0.7, generator=torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)
    expected, last = [], 3
    for _ in range(12):
        last = int(torch.multinomial(torch.softmax(table[last] / 0.7, -1), 1, generator=g))
        expected.append(last)
    assert out == expected


def test_generate_stops_at_stop_id_and_greedy_at_zero_temperature():
    from coursekit.sampling import generate

    table = torch.full((4, 4), -5.0)
    table[0, 1] = table[1, 2] = table[2, 3] = 5.0  # greedy chain 0 -> 1 -> 2 -> 3

    def step(new_ids, state):
        return table[new_ids[-1]], None

    assert generate(step, [0], 10, temperature=0) == [1, 2, 3, 0, 1, 2, 3, 0, 1, 2]
    assert generate(step, [0], 10, temperature=0, stop_id=3) == [1, 2]
    assert generate(step, [0], 0) == []
