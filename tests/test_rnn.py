"""Specifications of coursekit.rnn.

Each test names one behaviour. The reference sits on the other side of every assertion:
torch.nn.RNN / RNNCell with the same weights loaded, or a formula written out here.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from coursekit import (
    GRU,
    LSTM,
    RNN,
    CharLM,
    CharRNN,
    ElmanRNN,
    JordanRNN,
    ManyToMany,
    ManyToOne,
    OneToMany,
    RNNCell,
    RNNClassifier,
    bidirectional_rnn_forward,
    jordan_step,
    rnn_cell_step,
    rnn_forward,
)
from tests import torch_compare as tc
from tests.torch_compare import B, H, I, T, assert_all_close, sequence, zeros

# --------------------------------------------------------------------------------------------
# coursekit.RNN == torch.nn.RNN, and RNNCell == torch.nn.RNNCell: the shared specifications
# (tests/torch_compare.py) over both nonlinearities


class TestRNN(tc.RecurrentLayerSpecs):
    ours, reference = RNN, torch.nn.RNN

    @pytest.fixture(params=["tanh", "relu"])
    def options(self, request):
        return {"nonlinearity": request.param}

    @tc.GRID
    def test_rnn_matches_torch(self, case, options, path):
        self.assert_matches_torch(case, options, path)


class TestRNNCell(tc.CellSpecs):
    ours, reference = RNNCell, torch.nn.RNNCell

    @tc.CELL_CASES
    def test_rnn_cell_matches_torch(self, options, batched, bias, given_hx):
        self.assert_matches_torch(options, batched, bias, given_hx)

    @pytest.fixture(params=["tanh", "relu"])
    def options(self, request):
        return {"nonlinearity": request.param}


# --------------------------------------------------------------------------------------------
# the functional reference


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_cell_step_matches_explicit_formula(nonlinearity, bias):
    w_ih, w_hh, b_ih, b_hh = tc.cell_weights(1, bias=bias)
    x, h_prev = torch.randn(B, I, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    pre_activation = x @ w_ih.T + h_prev @ w_hh.T
    if bias:
        pre_activation = pre_activation + b_ih + b_hh
    expected = (
        torch.tanh(pre_activation) if nonlinearity == "tanh" else torch.clamp(pre_activation, min=0)
    )
    actual = rnn_cell_step(x, h_prev, w_ih, w_hh, b_ih, b_hh, nonlinearity)
    torch.testing.assert_close(actual, expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_step_matches_torch_rnn_cell(nonlinearity):
    reference = torch.nn.RNNCell(I, H, nonlinearity=nonlinearity, dtype=torch.float64)
    x, h_prev = torch.randn(B, I, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    actual = rnn_cell_step(
        x,
        h_prev,
        reference.weight_ih,
        reference.weight_hh,
        reference.bias_ih,
        reference.bias_hh,
        nonlinearity,
    )
    torch.testing.assert_close(actual, reference(x, h_prev), atol=1e-12, rtol=0)


def test_rnn_cell_step_unbatched_equals_one_row_of_a_batch():
    weights = tc.cell_weights(1)
    x, h_prev = torch.randn(B, I, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    batched = rnn_cell_step(x, h_prev, *weights)
    assert rnn_cell_step(x[1], h_prev[1], *weights).shape == (H,)
    torch.testing.assert_close(
        rnn_cell_step(x[1], h_prev[1], *weights), batched[1], atol=1e-12, rtol=0
    )


def test_rnn_cell_step_hand_computed_scalar_case():
    # I = H = 1: h = tanh(0.5 x + 0.1 - 0.8 h_prev + 0.2)
    w_ih, w_hh = torch.tensor([[0.5]]), torch.tensor([[-0.8]])
    b_ih, b_hh = torch.tensor([0.1]), torch.tensor([0.2])
    h = rnn_cell_step(torch.tensor([[2.0]]), torch.tensor([[0.5]]), w_ih, w_hh, b_ih, b_hh)
    assert h.item() == pytest.approx(math.tanh(0.5 * 2.0 + 0.1 - 0.8 * 0.5 + 0.2), abs=1e-6)


def test_rnn_forward_hand_computed_scalar_sequence():
    # I = H = 1, x = (1, -2, 3), h_0 = 0.5, no biases: h_t = tanh(0.5 x_t - 0.8 h_{t-1})
    x = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64).reshape(3, 1, 1)
    h0 = torch.tensor([[0.5]], dtype=torch.float64)
    w_ih, w_hh = (
        torch.tensor([[0.5]], dtype=torch.float64),
        torch.tensor([[-0.8]], dtype=torch.float64),
    )
    output, h_n = rnn_forward(x, h0, w_ih, w_hh)
    h1 = math.tanh(0.5 * 1.0 - 0.8 * 0.5)
    h2 = math.tanh(0.5 * -2.0 - 0.8 * h1)
    h3 = math.tanh(0.5 * 3.0 - 0.8 * h2)
    assert output.flatten().tolist() == pytest.approx([h1, h2, h3], abs=1e-12)
    assert h_n.item() == pytest.approx(h3, abs=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_forward_matches_torch_one_layer(nonlinearity, bias):
    reference = torch.nn.RNN(I, H, nonlinearity=nonlinearity, bias=bias, dtype=torch.float64)
    x, h0 = torch.randn(T, B, I, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    output, h_n = rnn_forward(x, h0, *tc.layer_weights(reference), nonlinearity=nonlinearity)
    expected_output, expected_h_n = reference(x, h0.unsqueeze(0))
    assert_all_close([output, h_n], [expected_output, expected_h_n[0]])


def test_rnn_forward_h_n_is_the_last_output():
    output, h_n = rnn_forward(
        torch.randn(T, B, I, dtype=torch.float64),
        torch.randn(B, H, dtype=torch.float64),
        *tc.cell_weights(1),
    )
    assert output.shape == (T, B, H)
    torch.testing.assert_close(h_n, output[-1], atol=0, rtol=0)


def torch_bidirectional_weights(reference):
    return tuple(tc.layer_weights(reference)), tuple(tc.layer_weights(reference, "_l0_reverse"))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_bidirectional_rnn_forward_matches_torch(bias, nonlinearity):
    reference = torch.nn.RNN(
        I, H, bias=bias, nonlinearity=nonlinearity, bidirectional=True, dtype=torch.float64
    )
    x, h0 = torch.randn(T, B, I, dtype=torch.float64), torch.randn(2, B, H, dtype=torch.float64)
    actual = bidirectional_rnn_forward(x, h0, *torch_bidirectional_weights(reference), nonlinearity)
    assert actual[0].shape == (T, B, 2 * H) and actual[1].shape == (2, B, H)
    assert_all_close(actual, reference(x, h0))


@pytest.mark.parametrize("t", range(T))
def test_bidirectional_reverse_half_at_t_has_read_x_from_the_end_down_to_t(t):
    reference = torch.nn.RNN(I, H, bidirectional=True, dtype=torch.float64)
    forward_weights, reverse_weights = torch_bidirectional_weights(reference)
    x, h0 = torch.randn(T, B, I, dtype=torch.float64), torch.randn(2, B, H, dtype=torch.float64)
    output, _ = bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights)
    # an independent one-directional torch RNN that reads x[T-1], ..., x[t]
    backwards = torch.nn.RNN(I, H, dtype=torch.float64)
    backwards.load_state_dict(
        {
            f"{n}_l0": w
            for n, w in zip(
                ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), reverse_weights, strict=True
            )
        }
    )
    _, h_after_reading_tail = backwards(x[t:].flip(0), h0[1:])
    torch.testing.assert_close(output[t, :, H:], h_after_reading_tail[0], atol=1e-12, rtol=0)


# --------------------------------------------------------------------------------------------
# Jordan network


def jordan_parameters(bias=True, output_size=2):
    weight_ih = torch.randn(H, I, dtype=torch.float64)
    weight_yh = torch.randn(H, output_size, dtype=torch.float64)
    bias_h = torch.randn(H, dtype=torch.float64) if bias else None
    weight_hy = torch.randn(output_size, H, dtype=torch.float64)
    bias_y = torch.randn(output_size, dtype=torch.float64) if bias else None
    return weight_ih, weight_yh, bias_h, weight_hy, bias_y


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_jordan_step_matches_formula(nonlinearity, bias):
    w_ih, w_yh, b_h, w_hy, b_y = jordan_parameters(bias)
    x, y_prev = torch.randn(B, I, dtype=torch.float64), torch.randn(B, 2, dtype=torch.float64)
    f = torch.tanh if nonlinearity == "tanh" else torch.relu
    expected_h = f(x @ w_ih.T + y_prev @ w_yh.T + (b_h if bias else 0))
    expected_y = expected_h @ w_hy.T + (b_y if bias else 0)
    h, y = jordan_step(x, y_prev, w_ih, w_yh, b_h, w_hy, b_y, nonlinearity)
    assert h.shape == (B, H) and y.shape == (B, 2)
    assert_all_close([h, y], [expected_h, expected_y])


def test_jordan_step_gradcheck():
    tensors = [
        t.requires_grad_()
        for t in (
            torch.randn(B, I, dtype=torch.float64),
            torch.randn(B, 2, dtype=torch.float64),
            *jordan_parameters(),
        )
    ]
    assert torch.autograd.gradcheck(jordan_step, tensors)


def independent_jordan_loop(model, x, y0):
    y, ys = y0, []
    for t in range(x.shape[0]):
        h = torch.tanh(x[t] @ model.weight_ih.T + y @ model.weight_yh.T + model.bias_h)
        y = h @ model.weight_hy.T + model.bias_y
        ys.append(y)
    return torch.stack(ys), y


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("given_y0", [True, False])
def test_jordan_rnn_matches_independent_loop(batched, given_y0):
    model = JordanRNN(I, H, 2).double()
    x = sequence(batched)
    y0 = torch.randn((B, 2) if batched else (2,), dtype=torch.float64)
    y, y_T = model(x, y0 if given_y0 else None)
    expected_y, expected_y_T = independent_jordan_loop(
        model, x, y0 if given_y0 else torch.zeros_like(y0)
    )
    assert y.shape == ((T, B, 2) if batched else (T, 2))
    assert_all_close([y, y_T], [expected_y, expected_y_T])


def test_jordan_rnn_parameter_names_and_shapes():
    model = JordanRNN(I, H, 2)
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == [
        ("weight_ih", (H, I)),
        ("weight_yh", (H, 2)),
        ("bias_h", (H,)),
        ("weight_hy", (2, H)),
        ("bias_y", (2,)),
    ]
    assert [n for n, _ in JordanRNN(I, H, 2, bias=False).named_parameters()] == [
        "weight_ih",
        "weight_yh",
        "weight_hy",
    ]


# --------------------------------------------------------------------------------------------
# the chapter's models


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
def test_elman_rnn_equals_torch_rnn_plus_linear(num_layers, batch_first):
    model = ElmanRNN(I, H, 3, num_layers=num_layers, batch_first=batch_first).double()
    reference_rnn = torch.nn.RNN(I, H, num_layers, batch_first=batch_first, dtype=torch.float64)
    reference_linear = torch.nn.Linear(H, 3, dtype=torch.float64)
    model.rnn.load_state_dict(reference_rnn.state_dict())
    model.output_layer.load_state_dict(reference_linear.state_dict())
    x, h0 = sequence(True, batch_first), torch.randn(num_layers, B, H, dtype=torch.float64)
    hidden, expected_h_n = reference_rnn(x, h0)
    assert_all_close(model(x, h0), [reference_linear(hidden), expected_h_n])


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_many_to_one_classifies_from_final_states(num_layers, bidirectional):
    model = ManyToOne(I, H, 3, num_layers=num_layers, bidirectional=bidirectional).double()
    reference = torch.nn.RNN(I, H, num_layers, bidirectional=bidirectional, dtype=torch.float64)
    reference.load_state_dict(model.rnn.state_dict())
    x = sequence(batched=True)
    output, _ = reference(x)  # (T, B, D*H)
    # forward direction: its state after the last step; reverse direction: after reading x[0]
    final = torch.cat([output[-1, :, :H], output[0, :, H:]], -1) if bidirectional else output[-1]
    logits = model(x)
    assert logits.shape == (B, 3)
    torch.testing.assert_close(logits, model.classifier(final), atol=1e-12, rtol=0)


def test_many_to_one_depends_on_the_first_step():
    model = ManyToOne(I, H, 3)
    x = torch.randn(T, B, I)
    changed = x.clone()
    changed[0] += 1.0
    assert not torch.allclose(model(x), model(changed))


def test_one_to_many_matches_manual_loop():
    model = OneToMany(I, H, 2, steps=4).double()
    reference_cell = torch.nn.RNNCell(2, H, dtype=torch.float64)
    reference_cell.load_state_dict(model.cell.state_dict())
    x = torch.randn(B, I, dtype=torch.float64)
    h = torch.tanh(x @ model.init_state.weight.T + model.init_state.bias)
    y, expected = torch.zeros(B, 2, dtype=torch.float64), []
    for _ in range(4):
        h = reference_cell(y, h)
        y = h @ model.output_layer.weight.T + model.output_layer.bias
        expected.append(y)
    actual = model(x)
    assert actual.shape == (4, B, 2)
    torch.testing.assert_close(actual, torch.stack(expected), atol=1e-12, rtol=0)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_many_to_many_matches_manual_composition(bidirectional):
    model = ManyToMany(I, H, 2, num_layers=2, bidirectional=bidirectional).double()
    reference = torch.nn.RNN(I, H, 2, bidirectional=bidirectional, dtype=torch.float64)
    reference.load_state_dict(model.rnn.state_dict())
    x = sequence(batched=True)
    actual = model(x)
    assert actual.shape == (T, B, 2)
    torch.testing.assert_close(actual, model.output_layer(reference(x)[0]), atol=1e-12, rtol=0)


def test_char_rnn_forward_matches_manual_composition():
    V = 11
    model = CharRNN(V, 5, H, num_layers=2).double()
    reference = torch.nn.RNN(5, H, 2, dtype=torch.float64)
    reference.load_state_dict(model.rnn.state_dict())
    tokens = torch.randint(0, V, (T, B))
    logits, h_n = model(tokens)
    hidden, expected_h_n = reference(F.embedding(tokens, model.embedding.weight))
    assert logits.shape == (T, B, V) and h_n.shape == (2, B, H)
    assert_all_close([logits, h_n], [model.output_layer(hidden), expected_h_n])


# --------------------------------------------------------------------------------------------
# errors for people: every ValueError names the expected shape and what it got


ERROR_CASES = {
    "rnn-hx-shape": (
        lambda: RNN(I, H, bidirectional=True)(zeros(T, B, I), zeros(1, B, H)),
        r"hx must be \(D\*num_layers, B, H\) = \(2, 3, 6\); got \(1, 3, 6\)",
    ),
    "rnn-hx-batch": (
        lambda: RNN(I, H)(zeros(T, B, I), zeros(1, 2, H)),
        r"hx must be \(D\*num_layers, B, H\) = \(1, 3, 6\); got \(1, 2, 6\)",
    ),
    "rnn-hx-batched-for-unbatched": (
        lambda: RNN(I, H, 2)(zeros(T, I), zeros(2, 1, H)),
        r"hx must be \(D\*num_layers, H\) for unbatched input = \(2, 6\); got \(2, 1, 6\)",
    ),
    "rnn-nonlinearity": (
        lambda: RNN(I, H, nonlinearity="sigmoid"),
        r"nonlinearity must be 'tanh' or 'relu'; got 'sigmoid'",
    ),
    "cell-hx": (
        lambda: RNNCell(I, H)(zeros(B, I), zeros(B, H + 1)),
        r"hx must be \(B, H\) or \(H,\) unbatched = \(3, 6\); got \(3, 7\)",
    ),
    "cell-nonlinearity": (
        lambda: RNNCell(I, H, nonlinearity="gelu"),
        r"'tanh' or 'relu'; got 'gelu'",
    ),
    "cell-step-nonlinearity": (
        lambda: rnn_cell_step(
            zeros(B, I), zeros(B, H), zeros(H, I), zeros(H, H), nonlinearity="sigmoid"
        ),
        r"'tanh' or 'relu'; got 'sigmoid'",
    ),
    "forward-nonlinearity": (
        lambda: rnn_forward(
            zeros(T, B, I), zeros(B, H), zeros(H, I), zeros(H, H), nonlinearity="Tanh"
        ),
        r"'tanh' or 'relu'; got 'Tanh'",
    ),
    "forward-empty": (
        lambda: rnn_forward(zeros(0, B, I), zeros(B, H), zeros(H, I), zeros(H, H)),
        r"x must be \(T, B, I\) with T >= 1; got \(0, 3, 4\)",
    ),
    "bidirectional-weights": (
        lambda: bidirectional_rnn_forward(
            zeros(T, B, I),
            zeros(2, B, H),
            (zeros(H, I), zeros(H, H)),
            (zeros(H, I), zeros(H, H), None, None),
        ),
        r"4-tuples \(weight_ih, weight_hh, bias_ih, bias_hh\)",
    ),
    "jordan-step-nonlinearity": (
        lambda: jordan_step(
            zeros(B, I),
            zeros(B, 2),
            zeros(H, I),
            zeros(H, 2),
            None,
            zeros(2, H),
            None,
            "sigmoid",
        ),
        r"'tanh' or 'relu'; got 'sigmoid'",
    ),
    "jordan-x": (
        lambda: JordanRNN(I, H, 2)(zeros(T, B, 7)),
        r"x must be \(T, B, I\) or \(T, I\) unbatched, with I = 4 and T >= 1; got \(5, 3, 7\)",
    ),
    "jordan-y0": (
        lambda: JordanRNN(I, H, 2)(zeros(T, B, I), zeros(B, 3)),
        r"y0 must be \(B, O\) or \(O,\) unbatched = \(3, 2\); got \(3, 3\)",
    ),
    "jordan-nonlinearity": (
        lambda: JordanRNN(I, H, 2, nonlinearity="sigmoid"),
        r"'tanh' or 'relu'; got 'sigmoid'",
    ),
    "elman-output-size": (lambda: ElmanRNN(I, H, 0), r"output_size must be an integer >= 1; got 0"),
    "one-to-many-x": (
        lambda: OneToMany(I, H, 2, steps=3)(zeros(T, B, I)),
        r"x must be \(B, I\) with I = 4; got \(5, 3, 4\)",
    ),
    "one-to-many-steps": (
        lambda: OneToMany(I, H, 2, steps=0),
        r"steps must be an integer >= 1; got 0",
    ),
    "char-rnn-nonlinearity": (
        lambda: CharRNN(11, 5, H, nonlinearity="sigmoid"),
        r"'tanh' or 'relu'; got 'sigmoid'",
    ),
}


test_bad_input_raises_value_error_naming_the_expected_shape = tc.raises_table(ERROR_CASES)


# --------------------------------------------------------------------------------------------
# the character language model


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_char_lm_matches_torch_embedding_layer_linear(kind):
    V, E = 11, 5
    ours = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}[kind](E, H, dtype=torch.float64)
    reference = getattr(torch.nn, kind)(E, H, dtype=torch.float64)
    reference.load_state_dict(ours.state_dict())
    model = CharLM(V, E, ours).double()
    tokens = torch.randint(0, V, (T, B))
    logits, state = model(tokens)
    hidden, expected_state = reference(F.embedding(tokens, model.embedding.weight))
    assert logits.shape == (T, B, V)
    expected_logits = F.linear(hidden, model.output_layer.weight, model.output_layer.bias)
    states = (state,) if kind != "LSTM" else state
    expected_states = (expected_state,) if kind != "LSTM" else expected_state
    assert_all_close([logits, *states], [expected_logits, *expected_states])
    # the state comes back in: two windows read in turn equal one long read
    first, state = model(tokens[:2])
    second, _ = model(tokens[2:], state)
    assert_all_close([torch.cat([first, second])], [logits])


def test_char_lm_over_an_rnn_computes_what_char_rnn_computes():
    reference = CharRNN(11, 5, H).double()
    model = CharLM(11, 5, RNN(5, H)).double()
    model.load_state_dict(
        {k.replace("rnn.", "layer.", 1): v for k, v in reference.state_dict().items()}
    )
    tokens = torch.randint(0, 11, (T, B))
    assert_all_close(list(model(tokens)), list(reference(tokens)))


def test_char_lm_rejects_a_batch_first_layer():
    with pytest.raises(ValueError, match="time-major"):
        CharLM(11, 5, RNN(5, H, batch_first=True))


def padded_sentences(V, lengths):
    """Random sentences of the given lengths, padded at the end with id 0, and their mask."""
    sentences = [torch.randint(1, V, (n,)) for n in lengths]
    ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for b, s in enumerate(sentences):
        ids[b, : len(s)] = s
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return sentences, ids, mask


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_rnn_classifier_matches_torch_rnn_on_each_sentence(pooling):
    V, E, C = 13, 4, 3
    model = RNNClassifier(V, E, H, C, pooling=pooling).double()
    reference = torch.nn.RNN(E, H, dtype=torch.float64)
    reference.load_state_dict(model.rnn.state_dict())
    sentences, ids, mask = padded_sentences(V, [5, 1, 3, 5])
    expected = []
    for s in sentences:  # one unpadded sentence at a time
        hidden, h_n = reference(F.embedding(s, model.embedding.weight))  # (L, H), (1, H)
        pooled = h_n[0] if pooling == "last" else hidden.mean(dim=0)
        expected.append(F.linear(pooled, model.output.weight, model.output.bias))
    logits = model(ids, mask)
    assert logits.shape == (4, C)
    assert_all_close([logits], [torch.stack(expected)])


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_rnn_classifier_ignores_the_ids_under_the_padding(pooling):
    model = RNNClassifier(13, 4, H, 2, pooling=pooling).double()
    _, ids, mask = padded_sentences(13, [2, 6])
    other = ids.masked_fill(~mask, 7)
    assert_all_close([model(ids, mask)], [model(other, mask)])


def test_rnn_classifier_scores_an_empty_sentence_from_zeros():
    model = RNNClassifier(13, 4, H, 2).double()
    ids, mask = torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.bool)
    assert_all_close([model(ids, mask)[0]], [model.output.bias])


def test_rnn_classifier_rejects_an_unknown_pooling():
    with pytest.raises(ValueError, match="pooling"):
        RNNClassifier(13, 4, H, 2, pooling="max")
