"""Specifications of coursekit.beam_search (chapter 9).

On the other side of every assertion: exhaustive enumeration of every hypothesis on a tiny
vocabulary (V = 4, at most 4 tokens: 121 hypotheses), a one-source beam search written here
with Python lists that recomputes every prefix from scratch, a greedy loop, log-probabilities
recomputed by running the model over each returned sequence, the GNMT length penalty written
out, and note 001's B = 3 example worked by hand. The toy models' next-token distributions
depend on the whole prefix: a tiny GRU with random weights (``torch.nn.GRUCell``), and a table
keyed by the prefix that it reads from its state (so a state reordered wrongly shows).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coursekit.beam_search import SearchResult, beam_search, greedy_search
from tests.torch_compare import F64, assert_raises, raises_table

V, EOS, BOS, MAX_LENGTH, B = 4, 0, 4, 4, 3  # BOS is fed, never produced: ids 0..3 are outputs
ALPHAS = pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])


class TinyGRU(nn.Module):
    """Embedding (V + 1 ids, BOS = V) -> GRUCell -> Linear -> log_softmax; a source is an
    initial hidden state (B, H). ``step(tokens (N,), h (N, H)) -> (log_probs (N, V), h)``."""

    def __init__(self, hidden_size=6, seed=0, scale=2.0):
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(V + 1, 5, dtype=F64)
        self.cell = nn.GRUCell(5, hidden_size, dtype=F64)
        self.readout = nn.Linear(hidden_size, V, dtype=F64)
        with torch.no_grad():  # peakier distributions: greedy and beam search disagree often
            for p in self.parameters():
                p.mul_(scale)
        self.hidden_size = hidden_size

    def sources(self, n=B, seed=1):
        return torch.randn(
            n, self.hidden_size, generator=torch.Generator().manual_seed(seed), dtype=F64
        )

    def step(self, tokens, h):
        h = self.cell(self.embedding(tokens), h)
        return F.log_softmax(self.readout(h), dim=-1), h


class PrefixTable:
    """log p(· | prefix) drawn from a generator seeded by (source, prefix): a table keyed by
    the whole prefix. The state is a nest, {"prefix": (N, t) ids so far, "source": ((N,),)};
    the model reads the prefix from it, so a wrongly reordered state gives wrong log-probs."""

    def sources(self, n=B):
        return {"prefix": torch.zeros(n, 0, dtype=torch.long), "source": (torch.arange(n) + 10,)}

    def log_probs(self, source, prefix):
        seed = hash((int(source), tuple(int(t) for t in prefix))) % (2**31)
        logits = 2 * torch.randn(V, generator=torch.Generator().manual_seed(seed), dtype=F64)
        return F.log_softmax(logits, dim=-1)

    def step(self, tokens, state):
        prefix = torch.cat([state["prefix"], tokens[:, None]], dim=1)  # BOS first, as fed
        rows = [self.log_probs(s, p[1:]) for s, p in zip(state["source"][0], prefix, strict=True)]
        return torch.stack(rows), {"prefix": prefix, "source": state["source"]}


MODELS = {"gru": TinyGRU, "prefix-table": PrefixTable}


def source(model, state, b):
    """Source b's own state (first dim 1)."""
    if isinstance(state, torch.Tensor):
        return state[b : b + 1]
    return {"prefix": state["prefix"][b : b + 1], "source": (state["source"][0][b : b + 1],)}


def log_prob_of(model, state, sequence):
    """log P(Y) of Eq. (9.14), recomputed: the model run over BOS + Y, one step per token."""
    tokens, total = torch.tensor([BOS]), 0.0
    for token in sequence:
        log_probs, state = model.step(tokens, state)
        total += float(log_probs[0, token])
        tokens = torch.tensor([token])
    return total


def lp(length, alpha):
    return ((5 + length) / 6) ** alpha  # Wu et al. (2016)


def every_hypothesis(max_length=MAX_LENGTH):
    """Every sequence the search can return: ended by EOS at any length, or open at max_length."""
    found, open_ = [], [()]
    for _ in range(max_length):
        extended = [p + (v,) for p in open_ for v in range(V)]
        found += [y for y in extended if y[-1] == EOS]
        open_ = [y for y in extended if y[-1] != EOS]
    return found + open_


def exhaustive(model, state, alpha, max_length=MAX_LENGTH):
    """[(normalised score, log P, sequence)] of every hypothesis of one source, best first."""
    scored = []
    for y in every_hypothesis(max_length):
        log_p = log_prob_of(model, state, y)
        scored.append((log_p / lp(len(y), alpha), log_p, y))
    return sorted(scored, key=lambda entry: -entry[0])


def reference_beam_search(model, state, beam_size, alpha, max_length=MAX_LENGTH):
    """One source, lists of (sequence, log P, finished): each step, every finished hypothesis
    is one candidate as it is, every open one is extended by every token (its prefix rerun
    from scratch); keep the beam_size best by log P / lp (Python's sort is stable)."""
    beam = [((), 0.0, False)]
    for _ in range(max_length):
        candidates = []
        for y, log_p, done in beam:
            if done:
                candidates.append((y, log_p, True))
                continue
            tokens, s = torch.tensor([BOS, *y]), state
            for token in tokens:
                log_probs, s = model.step(token[None], s)
            for v in range(V):
                candidates.append((y + (v,), log_p + float(log_probs[0, v]), v == EOS))
        candidates.sort(key=lambda c: -c[1] / lp(len(c[0]), alpha))
        beam = candidates[:beam_size]
        if all(done for _, _, done in beam):
            break
    return beam


def rows(result, b, pad=EOS):
    """[(sequence, log P, normalised)] of source b's hypotheses in a result with all K."""
    out = []
    for k in range(result.all_tokens.shape[1]):
        n = int(result.all_lengths[b, k])
        assert torch.all(result.all_tokens[b, k, n:] == pad)
        sequence = tuple(int(t) for t in result.all_tokens[b, k, :n])
        out.append(
            (sequence, float(result.all_scores[b, k]), float(result.all_normalised_scores[b, k]))
        )
    return out


def make(name):
    model = MODELS[name]()
    return model, model.sources()


# --------------------------------------------------------------------------------------------
# a wide enough beam is exhaustive search


@pytest.mark.parametrize("name", MODELS)
@ALPHAS
def test_wide_beam_finds_the_exhaustive_best(name, alpha):
    model, state = make(name)
    with torch.no_grad():
        result = beam_search(model.step, state, BOS, EOS, 121, MAX_LENGTH, alpha, return_all=True)
        for b in range(B):
            expected = exhaustive(model, source(model, state, b), alpha)
            n = int(result.lengths[b])
            assert tuple(int(t) for t in result.tokens[b, :n]) == expected[0][2]
            assert float(result.scores[b]) == pytest.approx(expected[0][1], abs=1e-10)
            assert float(result.normalised_scores[b]) == pytest.approx(expected[0][0], abs=1e-10)
            # 121 = every hypothesis: the whole ranking is the exhaustive one
            assert [r[0] for r in rows(result, b)] == [e[2] for e in expected]
            assert [r[1] for r in rows(result, b)] == pytest.approx(
                [e[1] for e in expected], abs=1e-10
            )


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("beam_size", [2, 3, 5, 20])
@ALPHAS
def test_beam_search_equals_a_one_source_loop_over_lists(name, beam_size, alpha):
    model, state = make(name)
    with torch.no_grad():
        result = beam_search(
            model.step, state, BOS, EOS, beam_size, MAX_LENGTH, alpha, return_all=True
        )
        for b in range(B):
            expected = reference_beam_search(model, source(model, state, b), beam_size, alpha)
            actual = rows(result, b)
            assert [a[0] for a in actual] == [e[0] for e in expected]
            assert [a[1] for a in actual] == pytest.approx([e[1] for e in expected], abs=1e-10)


@pytest.mark.parametrize("name", MODELS)
@ALPHAS
def test_a_narrow_beam_is_never_better_than_exhaustive_search(name, alpha):
    model, state = make(name)
    with torch.no_grad():
        result = beam_search(model.step, state, BOS, EOS, 2, MAX_LENGTH, alpha)
        for b in range(B):
            best = exhaustive(model, source(model, state, b), alpha)[0][0]
            assert float(result.normalised_scores[b]) <= best + 1e-12


# --------------------------------------------------------------------------------------------
# scores are the model's log-probabilities


@pytest.mark.parametrize("name", MODELS)
@ALPHAS
def test_scores_equal_the_log_probabilities_recomputed_by_a_loop(name, alpha):
    model, state = make(name)
    with torch.no_grad():
        result = beam_search(model.step, state, BOS, EOS, 3, MAX_LENGTH, alpha, return_all=True)
        for b in range(B):
            for sequence, log_p, normalised in rows(result, b):
                assert log_p == pytest.approx(
                    log_prob_of(model, source(model, state, b), sequence), abs=1e-10
                )
                assert normalised == pytest.approx(log_p / lp(len(sequence), alpha), abs=1e-12)
            normalised = [r[2] for r in rows(result, b)]
            assert normalised == sorted(normalised, reverse=True)  # best first


# --------------------------------------------------------------------------------------------
# beam 1 is greedy search


@torch.no_grad()
def greedy_loop(model, state, max_length=MAX_LENGTH):
    """Argmax at every step until EOS, one source."""
    tokens, sequence, total = torch.tensor([BOS]), [], 0.0
    for _ in range(max_length):
        log_probs, state = model.step(tokens, state)
        token = int(log_probs[0].argmax())
        sequence.append(token)
        total += float(log_probs[0, token])
        if token == EOS:
            break
        tokens = torch.tensor([token])
    return tuple(sequence), total


@pytest.mark.parametrize("name", MODELS)
@ALPHAS
def test_beam_of_one_equals_greedy_search(name, alpha):
    model, state = make(name)
    with torch.no_grad():
        beam = beam_search(model.step, state, BOS, EOS, 1, 6, alpha)
        greedy = greedy_search(model.step, state, BOS, EOS, 6, alpha)
    assert torch.equal(beam.tokens, greedy.tokens) and torch.equal(beam.lengths, greedy.lengths)
    torch.testing.assert_close(beam.scores, greedy.scores, atol=1e-12, rtol=0)
    torch.testing.assert_close(beam.normalised_scores, greedy.normalised_scores, atol=1e-12, rtol=0)
    for b in range(B):
        sequence, total = greedy_loop(model, source(model, state, b), 6)
        n = int(greedy.lengths[b])
        assert tuple(int(t) for t in greedy.tokens[b, :n]) == sequence
        assert float(greedy.scores[b]) == pytest.approx(total, abs=1e-10)
        assert float(greedy.normalised_scores[b]) == pytest.approx(total / lp(n, alpha), abs=1e-12)


def test_greedy_search_return_all_holds_its_one_hypothesis():
    model, state = make("gru")
    with torch.no_grad():
        result = greedy_search(model.step, state, BOS, EOS, MAX_LENGTH, return_all=True)
    assert result.all_tokens.shape[:2] == (B, 1)
    assert torch.equal(result.all_tokens[:, 0], result.tokens)
    assert torch.equal(result.all_scores[:, 0], result.scores)


# --------------------------------------------------------------------------------------------
# note 001's B = 3, by hand


class Note001Table:
    """Two steps over the tokens A, B, C (ids 1, 2, 3; EOS has probability 0):
    p(A) = .5, p(B) = .4, p(C) = .1, then p(· | A) = (.45, .35, .20), p(· | B) = (.1, .1, .8),
    p(· | C) = (.9, .05, .05). The state counts the tokens fed so far."""

    first = (0.5, 0.4, 0.1)
    second = {1: (0.45, 0.35, 0.20), 2: (0.1, 0.1, 0.8), 3: (0.9, 0.05, 0.05)}

    def step(self, tokens, state):
        rows = []
        for token, fed in zip(tokens.tolist(), state.tolist(), strict=True):
            rows.append([0.0, *(self.first if fed == 0 else self.second[token])])
        return torch.tensor(rows, dtype=F64).log(), state + 1


def test_note_001_beam_of_three_by_hand():
    # Step 1 keeps A .5, B .4, C .1. Step 2 scores the 3 x 3 = 9 extensions:
    #   AA .225  AB .175  AC .100 | BA .040  BB .040  BC .320 | CA .090  CB .005  CC .005
    # and keeps 3 of the 9: BC .320, AA .225, AB .175. Greedy takes A (.5), then A: AA .225.
    model, state = Note001Table(), torch.zeros(1, dtype=torch.long)
    beam = beam_search(model.step, state, BOS, EOS, 3, 2, return_all=True)
    assert beam.all_tokens.tolist() == [[[2, 3], [1, 1], [1, 2]]]  # BC, AA, AB
    torch.testing.assert_close(
        beam.all_scores.exp(), torch.tensor([[0.32, 0.225, 0.175]], dtype=F64)
    )
    greedy = greedy_search(model.step, state, BOS, EOS, 2)
    assert greedy.tokens.tolist() == [[1, 1]]
    torch.testing.assert_close(greedy.scores.exp(), torch.tensor([0.225], dtype=F64))
    # a beam of 2 keeps A and B after step 1 and finds BC too; a beam of 1 is greedy
    assert beam_search(model.step, state, BOS, EOS, 2, 2).tokens.tolist() == [[2, 3]]
    assert beam_search(model.step, state, BOS, EOS, 1, 2).tokens.tolist() == [[1, 1]]


# --------------------------------------------------------------------------------------------
# finished hypotheses, max_length, padding, the batch


class LovesAfterEos(TinyGRU):
    """EOS is likely at step 1, and after EOS token 1 has probability ~1: a search that went on
    extending finished hypotheses would gain from it under a length penalty (α > 0)."""

    def step(self, tokens, h):
        log_probs, h = super().step(tokens, h)
        after_eos = torch.tensor([-50.0, -1e-12, -50.0, -50.0], dtype=F64)
        log_probs = torch.where((tokens == EOS)[:, None], after_eos, log_probs)
        at_start = tokens == BOS
        first = torch.tensor(
            [math.log(0.4), math.log(0.2), math.log(0.2), math.log(0.2)], dtype=F64
        )
        return torch.where(at_start[:, None], first, log_probs), h


# (a much larger alpha, e.g. 5, ranks every finished short hypothesis out of the beam, so the
# case under test would not occur)
@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_finished_hypotheses_are_never_extended(alpha):
    model = LovesAfterEos()
    state = model.sources()
    with torch.no_grad():
        result = beam_search(model.step, state, BOS, EOS, 6, 5, alpha, pad=-1, return_all=True)
        finished_early = 0
        for b in range(B):
            for sequence, log_p, _ in rows(result, b, pad=-1):
                if EOS in sequence:  # nothing after the first EOS: it ends the hypothesis
                    assert sequence.index(EOS) == len(sequence) - 1
                    finished_early += len(sequence) < 5
                assert log_p == pytest.approx(
                    log_prob_of(model, source(model, state, b), sequence), abs=1e-9
                )
    assert finished_early > 0  # the case under test happened: (EOS,) alone has P = 0.4


def test_max_length_is_respected_and_open_hypotheses_end_there():
    class NeverEnds(TinyGRU):
        def step(self, tokens, h):
            log_probs, h = super().step(tokens, h)
            return log_probs.index_fill(1, torch.tensor([EOS]), -math.inf), h

    model = NeverEnds()
    state = model.sources()
    for max_length in (1, 3, 7):
        for search in (
            lambda n=max_length: beam_search(model.step, state, BOS, EOS, 3, n, return_all=True),
            lambda n=max_length: greedy_search(model.step, state, BOS, EOS, n, return_all=True),
        ):
            with torch.no_grad():
                result = search()
            assert result.all_tokens.shape[2] == max_length
            assert torch.all(result.all_lengths == max_length)
            assert not torch.any(result.all_tokens == EOS)


def test_search_stops_once_every_hypothesis_has_finished():
    calls = []
    model = LovesAfterEos()

    def step(tokens, h):
        calls.append(len(tokens))
        log_probs, h = model.step(tokens, h)
        return torch.full_like(log_probs, -math.inf).index_fill(1, torch.tensor([EOS]), 0.0), h

    with torch.no_grad():
        result = beam_search(step, model.sources(), BOS, EOS, 2, 10)
    assert calls == [B * 2]  # everyone said EOS at step 1
    assert result.tokens.tolist() == [[EOS]] * B and result.lengths.tolist() == [1] * B


def test_a_beam_wider_than_the_hypotheses_pads_the_rest_with_minus_inf():
    model, state = make("gru")
    with torch.no_grad():
        result = beam_search(model.step, state, BOS, EOS, 10, 1, return_all=True)
    assert torch.isfinite(result.all_scores[:, :V]).all()
    assert torch.all(result.all_scores[:, V:] == -math.inf)
    assert torch.all(result.all_lengths[:, V:] == 0)
    assert sorted(result.all_tokens[0, :V, 0].tolist()) == list(range(V))


@pytest.mark.parametrize("name", MODELS)
def test_batch_elements_are_independent(name):
    model, state = make(name)
    with torch.no_grad():
        batched = beam_search(model.step, state, BOS, EOS, 3, 6, 0.6, return_all=True)
        for b in range(B):
            alone = beam_search(
                model.step, source(model, state, b), BOS, EOS, 3, 6, 0.6, return_all=True
            )
            n = alone.all_tokens.shape[2]
            assert torch.equal(batched.all_tokens[b, :, :n], alone.all_tokens[0])
            assert torch.all(batched.all_tokens[b, :, n:] == EOS)
            assert torch.equal(batched.all_lengths[b], alone.all_lengths[0])
            torch.testing.assert_close(
                batched.all_scores[b], alone.all_scores[0], atol=1e-12, rtol=0
            )


def test_bos_may_be_one_id_per_source_and_the_state_a_tuple():
    model = TinyGRU()
    h = model.sources()

    def step(tokens, state):  # state = (h, (a counter,)): a nested tuple
        h, (count,) = state
        log_probs, h = model.step(tokens, h)
        return log_probs, (h, (count + 1,))

    with torch.no_grad():
        tupled = beam_search(step, (h, (torch.zeros(B),)), torch.full((B,), BOS), EOS, 3, 5)
        plain = beam_search(model.step, h, BOS, EOS, 3, 5)
    assert torch.equal(tupled.tokens, plain.tokens)
    assert isinstance(tupled, SearchResult) and tupled.all_tokens is None


# --------------------------------------------------------------------------------------------
# errors and the device


def _gru():
    model = TinyGRU()
    return model.step, model.sources()


test_bad_arguments_raise_value_errors = raises_table(
    {
        "beam-size": (
            lambda: beam_search(*_gru(), BOS, EOS, 0, 3),
            r"beam_size must be an integer >= 1; got 0",
        ),
        "max-length": (
            lambda: beam_search(*_gru(), BOS, EOS, 2, 0),
            r"max_length must be an integer >= 1; got 0",
        ),
        "length-penalty": (
            lambda: beam_search(*_gru(), BOS, EOS, 2, 3, -0.5),
            r"length_penalty must be >= 0; got -0.5",
        ),
        "bos-shape": (
            lambda: greedy_search(*_gru(), torch.zeros(B, 1, dtype=torch.long), EOS, 3),
            r"bos must be an int or a \(B,\) LongTensor",
        ),
        "bos-batch": (
            lambda: beam_search(*_gru(), torch.zeros(2, dtype=torch.long), EOS, 2, 3),
            r"state's first dim must be B = 2",
        ),
        "no-batch": (
            lambda: beam_search(_gru()[0], None, BOS, EOS, 2, 3),
            r"with an int bos the state must hold a tensor",
        ),
        "state-type": (
            lambda: beam_search(_gru()[0], "h", torch.zeros(B, dtype=torch.long), EOS, 2, 3),
            r"state must be a tensor or a tuple, list or dict of them; got str",
        ),
        "eos": (lambda: beam_search(*_gru(), BOS, 0.5, 2, 3), r"eos must be a token id \(int\)"),
        "step-output": (
            lambda: beam_search(lambda t, s: (torch.zeros(len(t)), s), _gru()[1], BOS, EOS, 2, 3),
            r"step must return log_probs \(6, V\); got \(6,\)",
        ),
    }
)


def test_error_messages_name_greedy_search_arguments_too():
    assert_raises(
        lambda: greedy_search(*_gru(), BOS, EOS, 0), r"max_length must be an integer >= 1"
    )


@pytest.mark.gpu
def test_on_cuda_matches_the_cpu():
    model = TinyGRU()
    state = model.sources()
    with torch.no_grad():
        expected = beam_search(model.step, state, BOS, EOS, 4, 6, 0.6, return_all=True)
        model.to("cuda")
        actual = beam_search(model.step, state.to("cuda"), BOS, EOS, 4, 6, 0.6, return_all=True)
    assert actual.tokens.device.type == "cuda"
    assert torch.equal(actual.all_tokens.cpu(), expected.all_tokens)
    torch.testing.assert_close(actual.all_scores.cpu(), expected.all_scores, atol=1e-10, rtol=0)
