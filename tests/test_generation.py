"""One generation path: every language model's ``generate`` against a loop written here.

Each reference re-reads the model the plainest way (the whole history for a recurrent model,
the window for the MLP, ``prob`` of every token for the n-gram model) and draws with
``torch.multinomial`` on p^(1/τ) / Σ p^(1/τ) (the tempered distribution, Eq. (1.12)), top-k
masked by hand, from a generator seeded like the model's; so a model that dropped its carried
state, tempered wrongly, or fed the wrong id draws different ids.
"""

import inspect

import pytest
import torch

from coursekit import GRU, LSTM, CharLM, CharRNN, MambaCharLM, MLPLanguageModel, NGramModel

V, E, H = 11, 5, 16


def loud(model):
    """Weights large enough that the next-id distribution depends strongly on the history."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    return model


def recurrent_models():
    torch.manual_seed(0)
    return {
        "char-rnn": loud(CharRNN(V, E, H, num_layers=2)),
        "char-lstm": loud(CharLM(V, E, LSTM(E, H))),
        "char-gru": loud(CharLM(V, E, GRU(E, H))),
        "mamba": loud(MambaCharLM(V, 8, 2, d_state=4)),
    }


def draw(probs, temperature, top_k, generator):
    """One id from probabilities (V,): tempered, top-k by hand, multinomial."""
    if temperature == 0:
        return int(probs.argmax())
    probs = probs.double() ** (1.0 / temperature)
    if top_k is not None:
        keep = probs >= probs.sort(descending=True).values[top_k - 1]
        probs = probs * keep
    return int(torch.multinomial((probs / probs.sum()).float(), 1, generator=generator))


def rereading_reference(model, prefix, length, temperature, top_k, seed):
    ids, generator = list(prefix), torch.Generator().manual_seed(seed)
    model.eval()
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(torch.tensor(ids).unsqueeze(1))  # the whole history, (n, 1, V)
            ids.append(
                draw(torch.softmax(logits[-1, 0].double(), -1), temperature, top_k, generator)
            )
    return ids[len(prefix) :]


@pytest.mark.parametrize("name", ["char-rnn", "char-lstm", "char-gru", "mamba"])
@pytest.mark.parametrize(
    ("temperature", "top_k"), [(1.0, None), (0.5, None), (2.0, None), (1.0, 3), (0.0, None)]
)
def test_recurrent_lm_generate_matches_rereading_loop(name, temperature, top_k):
    model = recurrent_models()[name]
    expected = rereading_reference(model, [3, 1, 4], 15, temperature, top_k, seed=5)
    actual = model.generate(
        [3, 1, 4],
        15,
        temperature=temperature,
        top_k=top_k,
        generator=torch.Generator().manual_seed(5),
    )
    assert actual == expected


def test_recurrent_lm_generate_runs_without_dropout_and_restores_training_mode():
    model = loud(CharRNN(V, E, H, num_layers=2, dropout=0.5)).train()
    actual = model.generate([1, 2], 12, generator=torch.Generator().manual_seed(0))
    assert model.training
    assert actual == rereading_reference(model, [1, 2], 12, 1.0, None, seed=0)  # eval-mode loop


def window_reference(model, prefix, length, temperature, seed):
    ids, generator, K = list(prefix), torch.Generator().manual_seed(seed), model.context_size
    with torch.no_grad():
        for _ in range(length):
            logits = model(torch.tensor([ids[-K:]]))[0]  # (V,)
            ids.append(draw(torch.softmax(logits.double(), -1), temperature, None, generator))
    return ids[len(prefix) :]


@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_mlp_lm_generate_matches_window_loop(temperature):
    torch.manual_seed(0)
    model = loud(MLPLanguageModel(V, 3, E, H))
    prefix = torch.tensor([5, 2, 7, 1])
    expected = window_reference(model, prefix.tolist(), 20, temperature, seed=2)
    actual = model.generate(
        prefix, 20, temperature=temperature, generator=torch.Generator().manual_seed(2)
    )
    assert actual == expected


TEXT = "abracadabra, a cab! " * 3


def ngram_reference(model, prefix, length, temperature, seed):
    history, out = [model.vocab[i] for i in prefix], []
    generator = torch.Generator().manual_seed(seed)
    for _ in range(length):
        probs = torch.tensor([model.prob(w, history) for w in model.vocab])  # (V,)
        token = model.vocab[draw(probs, temperature, None, generator)]
        if token == "</s>":
            break
        out.append(model.vocab.index(token))
        history.append(token)
    return out


@pytest.mark.parametrize("smoothing", ["add_k", "interpolation"])
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_ngram_generate_matches_distribution_loop(smoothing, temperature):
    model = NGramModel(3, smoothing=smoothing, k=0.1).fit(TEXT)
    prefix = model.encode("ab")
    expected = ngram_reference(model, prefix, 40, temperature, seed=1)
    actual = model.generate(
        prefix, 40, temperature=temperature, generator=torch.Generator().manual_seed(1)
    )
    assert actual == expected


def test_ngram_generate_stops_at_the_end_symbol_and_starts_a_sequence_from_no_prefix():
    model = NGramModel(2, k=0.0).fit("abcd")  # the only continuation of each token, then </s>
    assert model.decode(model.generate([], 10, generator=torch.Generator())) == "abcd"


def test_ngram_encode_and_decode_are_inverse_on_known_tokens_and_mark_unknowns():
    chars, words = NGramModel(2).fit(TEXT), NGramModel(2, level="word").fit("the cat sat")
    assert chars.decode(chars.encode("cab, bar")) == "cab, bar"
    assert chars.decode(chars.encode("xab")) == "\ufffdab"
    assert chars.encode("a") == [chars.vocab.index("a")]
    assert words.decode(words.encode("the dog sat")) == ["the", "<unk>", "sat"]


def all_models():
    return {
        **recurrent_models(),
        "mlp": MLPLanguageModel(V, 2, E, H),
        "ngram": NGramModel(2).fit(TEXT),
    }


@pytest.mark.parametrize("name", ["char-rnn", "char-lstm", "char-gru", "mlp", "ngram"])
def test_every_language_model_generates_with_the_same_arguments_and_return_type(name):
    model = all_models()[name]
    parameters = inspect.signature(model.generate).parameters
    assert list(parameters) == ["prefix", "length", "temperature", "top_k", "generator"]
    assert [p.kind.name for p in parameters.values()][2:] == ["KEYWORD_ONLY"] * 3
    for prefix in ([1, 2], torch.tensor([1, 2])):
        ids = model.generate(prefix, 6, top_k=4, generator=torch.Generator().manual_seed(0))
        assert isinstance(ids, list) and all(type(i) is int for i in ids)
        assert len(ids) == 6 or name == "ngram"  # an n-gram model may draw </s> and stop
        assert all(0 <= i < (len(model.vocab) if name == "ngram" else V) for i in ids)
    assert model.generate([1, 2], 0) == []


ERROR_CASES = {
    "empty-prefix": (
        lambda m: m["char-rnn"].generate([], 3),
        r"at least 1 ids \(P,\); got shape \(0,\)",
    ),
    "2d-prefix": (lambda m: m["char-lstm"].generate([[1, 2]], 3), r"1-D .*got shape \(1, 2\)"),
    "float-prefix": (lambda m: m["char-gru"].generate([1.5], 3), r"integer ids; got torch.float32"),
    "range": (lambda m: m["char-rnn"].generate([1, 11], 3), r"lie in \[0, 11\); got \[1, 11\]"),
    "short-window": (
        lambda m: m["mlp"].generate([1], 3),
        r"at least 2 ids \(P,\); got shape \(1,\)",
    ),
    "ngram-range": (lambda m: m["ngram"].generate([99], 3), r"lie in \[0, \d+\); got \[99\]"),
    "length": (lambda m: m["mlp"].generate([1, 2], -1), r"length must be an integer >= 0; got -1"),
    "temperature": (
        lambda m: m["char-rnn"].generate([1], 3, temperature=-1.0),
        r"temperature must be >= 0",
    ),
    "top-k": (
        lambda m: m["ngram"].generate([1], 3, top_k=0),
        r"top_k must be an integer >= 1; got 0",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_generate_rejects_bad_arguments_by_name(case):
    call, message = ERROR_CASES[case]
    with pytest.raises(ValueError, match=message):
        call(all_models())


@pytest.mark.gpu
def test_recurrent_lm_on_cuda_generates_what_it_generates_on_cpu_from_a_cpu_generator():
    model = recurrent_models()["char-lstm"].double()
    expected = model.generate([1, 2], 10, generator=torch.Generator().manual_seed(0))
    actual = model.to("cuda").generate([1, 2], 10, generator=torch.Generator().manual_seed(0))
    assert actual == expected
