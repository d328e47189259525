"""Specifications of coursekit.rnn.

Each test names one behaviour. The reference sits on the other side of every assertion:
torch.nn.RNN / RNNCell with the same weights loaded, or a formula written out here.
"""

from __future__ import annotations

import itertools
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
from tests.torch_compare import assert_all_close

T, B, I, H = 5, 3, 4, 6  # noqa: E741 (the glossary's names)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def rnn_pair(dtype=torch.float64, **kwargs):
    """torch.nn.RNN and coursekit.RNN with torch's weights loaded (strict)."""
    reference = torch.nn.RNN(I, H, dtype=dtype, **kwargs)
    ours = RNN(I, H, dtype=dtype, **kwargs)
    ours.load_state_dict(reference.state_dict())
    return ours, reference


def forward_and_grads(module, x, hx):
    """Outputs, and gradients of a random upstream gradient w.r.t. x, hx and every parameter."""
    x = x.detach().clone().requires_grad_()
    inputs = [x]
    if hx is not None:
        hx = hx.detach().clone().requires_grad_()
        inputs.append(hx)
    output, h_n = module(x, hx)
    generator = torch.Generator().manual_seed(1)
    upstream = [
        torch.randn(t.shape, generator=generator, dtype=t.dtype).to(t.device) for t in (output, h_n)
    ]
    grads = torch.autograd.grad((output, h_n), [*inputs, *module.parameters()], upstream)
    return [output, h_n, *grads]


def sequence(batched, batch_first=False, dtype=torch.float64, size=I):
    if not batched:
        return torch.randn(T, size, dtype=dtype)
    return (
        torch.randn(B, T, size, dtype=dtype)
        if batch_first
        else torch.randn(T, B, size, dtype=dtype)
    )


# --------------------------------------------------------------------------------------------
# coursekit.RNN == torch.nn.RNN

GRID = list(
    itertools.product(
        [1, 2, 3], [False, True], [False, True], ["tanh", "relu"], [True, False], [True, False]
    )
)
GRID_IDS = [
    f"L{L}-{'bi' if bi else 'uni'}-{'bf' if bf else 'tf'}-{nl}-{'bias' if b else 'nobias'}-{'batched' if bt else 'unbatched'}"
    for L, bi, bf, nl, b, bt in GRID
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("num_layers", "bidirectional", "batch_first", "nonlinearity", "bias", "batched"),
    GRID,
    ids=GRID_IDS,
)
def test_rnn_matches_torch_values_and_gradients(
    dtype, num_layers, bidirectional, batch_first, nonlinearity, bias, batched
):
    ours, reference = rnn_pair(
        dtype,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        nonlinearity=nonlinearity,
        bias=bias,
    )
    x = sequence(batched, batch_first, dtype)
    D = 2 if bidirectional else 1
    hx = torch.randn((D * num_layers, B, H) if batched else (D * num_layers, H), dtype=dtype)
    assert_all_close(forward_and_grads(ours, x, hx), forward_and_grads(reference, x, hx), dtype)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_rnn_without_hx_matches_torch_zero_initial_state(
    num_layers, bidirectional, batch_first, batched
):
    ours, reference = rnn_pair(
        num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    )
    x = sequence(batched, batch_first)
    assert_all_close(forward_and_grads(ours, x, None), forward_and_grads(reference, x, None))


def test_rnn_without_hx_equals_explicit_zero_hx():
    ours, _ = rnn_pair(num_layers=2, bidirectional=True)
    x = sequence(batched=True)
    assert_all_close(ours(x), ours(x, torch.zeros(4, B, H, dtype=torch.float64)))


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_parameter_names_order_and_shapes_match_torch(num_layers, bidirectional, bias):
    ours = RNN(I, H, num_layers, bias=bias, bidirectional=bidirectional)
    reference = torch.nn.RNN(I, H, num_layers, bias=bias, bidirectional=bidirectional)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]


def test_torch_rnn_loads_our_state_dict():
    ours = RNN(I, H, num_layers=2, bidirectional=True)
    reference = torch.nn.RNN(I, H, num_layers=2, bidirectional=True)
    reference.load_state_dict(ours.state_dict())  # strict
    x = torch.randn(T, B, I)
    assert_all_close(ours(x), reference(x), torch.float32)


def test_rnn_init_is_uniform_within_one_over_sqrt_hidden_like_torch():
    ours = RNN(I, 100, num_layers=2, bidirectional=True)
    bound = 1 / math.sqrt(100)
    for name, p in ours.named_parameters():
        assert p.abs().max() <= bound, name
        assert p.abs().max() > 0.9 * bound, name  # spread over the whole interval, not zeros


def test_rnn_constructor_dtype_sets_parameter_dtype():
    ours = RNN(I, H, num_layers=2, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in ours.parameters())


def test_rnn_output_follows_input_dtype():
    ours = RNN(I, H).double()
    output, h_n = ours(torch.randn(T, B, I, dtype=torch.float64))
    assert output.dtype == h_n.dtype == torch.float64


# --------------------------------------------------------------------------------------------
# dropout


def test_rnn_eval_mode_with_dropout_matches_torch_eval_mode():
    ours, reference = rnn_pair(num_layers=3, dropout=0.5, bidirectional=True)
    ours.eval()
    reference.eval()
    x = sequence(batched=True)
    assert_all_close(ours(x), reference(x))


def test_rnn_train_mode_dropout_between_layers_changes_output():
    ours, _ = rnn_pair(num_layers=2, dropout=0.5)
    x = sequence(batched=True)
    train_output, _ = ours.train()(x)
    eval_output, _ = ours.eval()(x)
    assert not torch.allclose(train_output, eval_output)


def test_rnn_dropout_one_in_training_zeroes_next_layer_input_like_torch():
    # p = 1 is deterministic: every layer but the first sees zeros, in torch as in ours.
    ours, reference = rnn_pair(num_layers=3, dropout=1.0, bidirectional=True)
    x = sequence(batched=True)
    assert_all_close(ours.train()(x), reference.train()(x))


def test_rnn_dropout_with_one_layer_warns_and_changes_nothing():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        reference = torch.nn.RNN(I, H, dropout=0.5, dtype=torch.float64)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        ours = RNN(I, H, dropout=0.5, dtype=torch.float64)
    ours.load_state_dict(reference.state_dict())
    x = sequence(batched=True)
    assert_all_close(ours.train()(x), reference.eval()(x))


# --------------------------------------------------------------------------------------------
# RNNCell == torch.nn.RNNCell


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_hx", [True, False])
def test_rnn_cell_matches_torch(batched, nonlinearity, bias, given_hx):
    reference = torch.nn.RNNCell(I, H, bias=bias, nonlinearity=nonlinearity, dtype=torch.float64)
    ours = RNNCell(I, H, bias=bias, nonlinearity=nonlinearity, dtype=torch.float64)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn((B, I) if batched else (I,), dtype=torch.float64)
    hx = torch.randn((B, H) if batched else (H,), dtype=torch.float64) if given_hx else None

    def run(cell):
        inputs = [x.clone().requires_grad_()] + ([hx.clone().requires_grad_()] if given_hx else [])
        h = cell(*inputs)
        upstream = torch.linspace(-1, 1, h.numel(), dtype=h.dtype).reshape(h.shape)
        return [h, *torch.autograd.grad(h, [*inputs, *cell.parameters()], upstream)]

    assert_all_close(run(ours), run(reference))


def test_rnn_cell_parameter_names_and_shapes_match_torch():
    assert [(n, p.shape) for n, p in RNNCell(I, H).named_parameters()] == [
        (n, p.shape) for n, p in torch.nn.RNNCell(I, H).named_parameters()
    ]


# --------------------------------------------------------------------------------------------
# the functional reference


def random_weights(input_size=I, hidden_size=H, bias=True):
    w_ih = torch.randn(hidden_size, input_size, dtype=torch.float64)
    w_hh = torch.randn(hidden_size, hidden_size, dtype=torch.float64) / hidden_size
    b_ih = torch.randn(hidden_size, dtype=torch.float64) if bias else None
    b_hh = torch.randn(hidden_size, dtype=torch.float64) if bias else None
    return w_ih, w_hh, b_ih, b_hh


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_cell_step_matches_explicit_formula(nonlinearity, bias):
    w_ih, w_hh, b_ih, b_hh = random_weights(bias=bias)
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
    weights = random_weights()
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
    weights = [
        getattr(reference, f"{n}_l0", None)
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    output, h_n = rnn_forward(x, h0, *weights, nonlinearity=nonlinearity)
    expected_output, expected_h_n = reference(x, h0.unsqueeze(0))
    assert_all_close([output, h_n], [expected_output, expected_h_n[0]])


def test_rnn_forward_h_n_is_the_last_output():
    output, h_n = rnn_forward(
        torch.randn(T, B, I, dtype=torch.float64),
        torch.randn(B, H, dtype=torch.float64),
        *random_weights(),
    )
    assert output.shape == (T, B, H)
    torch.testing.assert_close(h_n, output[-1], atol=0, rtol=0)


def torch_bidirectional_weights(reference):
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    forward = tuple(getattr(reference, f"{n}_l0", None) for n in names)
    reverse = tuple(getattr(reference, f"{n}_l0_reverse", None) for n in names)
    return forward, reverse


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


def test_jordan_rnn_feeds_back_previous_output_not_hidden_state():
    model = JordanRNN(I, H, 2).double()
    x = sequence(batched=True)
    y, _ = model(x)
    params = (model.weight_ih, model.weight_yh, model.bias_h, model.weight_hy, model.bias_y)
    for t in range(
        1, T
    ):  # step t sees exactly y_{t-1}: re-running it from y[t-1] alone reproduces y[t]
        _, y_t = jordan_step(x[t], y[t - 1], *params)
        torch.testing.assert_close(y_t, y[t], atol=1e-12, rtol=0)


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


def test_char_rnn_sample_is_deterministic_given_a_seeded_generator():
    model = CharRNN(11, 5, H)
    first = model.sample([1, 2, 3], 20, generator=torch.Generator().manual_seed(7))
    second = model.sample([1, 2, 3], 20, generator=torch.Generator().manual_seed(7))
    assert first == second


@pytest.mark.parametrize("prefix", [[4, 0, 9], torch.tensor([4, 0, 9])], ids=["list", "tensor"])
def test_char_rnn_sample_returns_prefix_then_length_new_ids(prefix):
    ids = CharRNN(11, 5, H).sample(prefix, 8, generator=torch.Generator().manual_seed(0))
    assert ids[:3] == [4, 0, 9]
    assert len(ids) == 3 + 8
    assert all(isinstance(i, int) and 0 <= i < 11 for i in ids)


def history_sensitive_char_rnn():
    """A CharRNN whose weights are large enough that its next-id distribution depends strongly
    on the whole history, so that dropping the carried hidden state changes the samples."""
    model = CharRNN(11, 5, 16, num_layers=2)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    return model


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_char_rnn_sample_matches_rereading_loop(temperature):
    # The reference re-reads the whole sequence each step, so it shares no hidden state with sample.
    model = history_sensitive_char_rnn()
    expected = [3, 1]
    generator = torch.Generator().manual_seed(3)
    for _ in range(10):
        logits, _ = model(torch.tensor(expected).unsqueeze(1))
        probs = torch.softmax(logits[-1, 0] / temperature, dim=-1)
        expected.append(int(torch.multinomial(probs, 1, generator=generator)))
    actual = model.sample([3, 1], 10, temperature, generator=torch.Generator().manual_seed(3))
    assert actual == expected


def test_char_rnn_sample_at_tiny_temperature_is_greedy():
    model = history_sensitive_char_rnn()
    expected = [2]
    for _ in range(10):
        logits, _ = model(torch.tensor(expected).unsqueeze(1))
        expected.append(int(logits[-1, 0].argmax()))
    assert (
        model.sample([2], 10, temperature=1e-6, generator=torch.Generator().manual_seed(0))
        == expected
    )


def test_char_rnn_sample_runs_without_dropout_and_restores_training_mode():
    model = CharRNN(11, 5, H, num_layers=2, dropout=0.5).train()
    first = model.sample([1], 10, generator=torch.Generator().manual_seed(0))
    second = model.sample([1], 10, generator=torch.Generator().manual_seed(0))
    assert first == second
    assert model.training


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_char_rnn_sample_rejects_nonpositive_temperature(temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        CharRNN(11, 5, H).sample([1], 5, temperature=temperature)


# --------------------------------------------------------------------------------------------
# errors for people: every ValueError names the expected shape and what it got


def _bad(tensor_shape):
    return torch.zeros(tensor_shape)


ERROR_CASES = {
    "rnn-rank": (
        lambda: RNN(8, H)(_bad((5,))),
        r"input must be \(T, B, I\) or \(T, I\) unbatched, with I = 8 \(batch_first=False\); got \(5,\)",
    ),
    "rnn-feature-size": (
        lambda: RNN(8, H)(_bad((3, 4, 5))),
        r"input must be \(T, B, I\) .* I = 8 .*got \(3, 4, 5\)",
    ),
    "rnn-batch-first-layout": (
        lambda: RNN(8, H, batch_first=True)(_bad((3, 4, 5))),
        r"input must be \(B, T, I\) or \(T, I\) unbatched, with I = 8 \(batch_first=True\); got \(3, 4, 5\)",
    ),
    "rnn-empty-sequence": (lambda: RNN(I, H)(_bad((0, B, I))), r"T >= 1; got \(0, 3, 4\)"),
    "rnn-hx-shape": (
        lambda: RNN(I, H, bidirectional=True)(_bad((T, B, I)), _bad((1, B, H))),
        r"hx must be \(D\*num_layers, B, H\) = \(2, 3, 6\); got \(1, 3, 6\)",
    ),
    "rnn-hx-batch": (
        lambda: RNN(I, H)(_bad((T, B, I)), _bad((1, 2, H))),
        r"hx must be \(D\*num_layers, B, H\) = \(1, 3, 6\); got \(1, 2, 6\)",
    ),
    "rnn-hx-batched-for-unbatched": (
        lambda: RNN(I, H, 2)(_bad((T, I)), _bad((2, 1, H))),
        r"hx must be \(D\*num_layers, H\) for unbatched input = \(2, 6\); got \(2, 1, 6\)",
    ),
    "rnn-nonlinearity": (
        lambda: RNN(I, H, nonlinearity="sigmoid"),
        r"nonlinearity must be 'tanh' or 'relu'; got 'sigmoid'",
    ),
    "rnn-hidden-size-zero": (lambda: RNN(I, 0), r"hidden_size must be an integer >= 1; got 0"),
    "rnn-hidden-size-negative": (
        lambda: RNN(I, -3),
        r"hidden_size must be an integer >= 1; got -3",
    ),
    "rnn-num-layers": (
        lambda: RNN(I, H, num_layers=0),
        r"num_layers must be an integer >= 1; got 0",
    ),
    "rnn-dropout-above-one": (
        lambda: RNN(I, H, 2, dropout=1.5),
        r"dropout must be a number in \[0, 1\]; got 1.5",
    ),
    "rnn-dropout-negative": (
        lambda: RNN(I, H, 2, dropout=-0.1),
        r"dropout must be a number in \[0, 1\]; got -0.1",
    ),
    "cell-rank": (
        lambda: RNNCell(I, H)(_bad((T, B, I))),
        r"input must be \(B, I\) or \(I,\) unbatched, with I = 4; got \(5, 3, 4\)",
    ),
    "cell-feature-size": (lambda: RNNCell(I, H)(_bad((B, 7))), r"with I = 4; got \(3, 7\)"),
    "cell-hx": (
        lambda: RNNCell(I, H)(_bad((B, I)), _bad((B, H + 1))),
        r"hx must be \(B, H\) or \(H,\) unbatched = \(3, 6\); got \(3, 7\)",
    ),
    "cell-nonlinearity": (
        lambda: RNNCell(I, H, nonlinearity="gelu"),
        r"'tanh' or 'relu'; got 'gelu'",
    ),
    "cell-hidden-size": (lambda: RNNCell(I, 0), r"hidden_size must be an integer >= 1; got 0"),
    "cell-step-nonlinearity": (
        lambda: rnn_cell_step(
            _bad((B, I)), _bad((B, H)), _bad((H, I)), _bad((H, H)), nonlinearity="sigmoid"
        ),
        r"'tanh' or 'relu'; got 'sigmoid'",
    ),
    "forward-nonlinearity": (
        lambda: rnn_forward(
            _bad((T, B, I)), _bad((B, H)), _bad((H, I)), _bad((H, H)), nonlinearity="Tanh"
        ),
        r"'tanh' or 'relu'; got 'Tanh'",
    ),
    "forward-empty": (
        lambda: rnn_forward(_bad((0, B, I)), _bad((B, H)), _bad((H, I)), _bad((H, H))),
        r"x must be \(T, B, I\) with T >= 1; got \(0, 3, 4\)",
    ),
    "bidirectional-weights": (
        lambda: bidirectional_rnn_forward(
            _bad((T, B, I)),
            _bad((2, B, H)),
            (_bad((H, I)), _bad((H, H))),
            (_bad((H, I)), _bad((H, H)), None, None),
        ),
        r"4-tuples \(weight_ih, weight_hh, bias_ih, bias_hh\)",
    ),
    "jordan-step-nonlinearity": (
        lambda: jordan_step(
            _bad((B, I)),
            _bad((B, 2)),
            _bad((H, I)),
            _bad((H, 2)),
            None,
            _bad((2, H)),
            None,
            "sigmoid",
        ),
        r"'tanh' or 'relu'; got 'sigmoid'",
    ),
    "jordan-x": (
        lambda: JordanRNN(I, H, 2)(_bad((T, B, 7))),
        r"x must be \(T, B, I\) or \(T, I\) unbatched, with I = 4 and T >= 1; got \(5, 3, 7\)",
    ),
    "jordan-y0": (
        lambda: JordanRNN(I, H, 2)(_bad((T, B, I)), _bad((B, 3))),
        r"y0 must be \(B, O\) or \(O,\) unbatched = \(3, 2\); got \(3, 3\)",
    ),
    "jordan-nonlinearity": (
        lambda: JordanRNN(I, H, 2, nonlinearity="sigmoid"),
        r"'tanh' or 'relu'; got 'sigmoid'",
    ),
    "elman-output-size": (lambda: ElmanRNN(I, H, 0), r"output_size must be an integer >= 1; got 0"),
    "one-to-many-x": (
        lambda: OneToMany(I, H, 2, steps=3)(_bad((T, B, I))),
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
    "char-rnn-empty-prefix": (
        lambda: CharRNN(11, 5, H).sample([], 3),
        r"prefix_ids must be a non-empty 1-D sequence of ids \(P,\); got shape \(0,\)",
    ),
    "char-rnn-2d-prefix": (
        lambda: CharRNN(11, 5, H).sample([[1, 2]], 3),
        r"prefix_ids must be a non-empty 1-D .*got shape \(1, 2\)",
    ),
    "char-rnn-prefix-range": (
        lambda: CharRNN(11, 5, H).sample([1, 11], 3),
        r"prefix_ids must lie in \[0, 11\); got \[1, 11\]",
    ),
    "char-rnn-length": (
        lambda: CharRNN(11, 5, H).sample([1], -1),
        r"length must be an integer >= 0; got -1",
    ),
}


@pytest.mark.parametrize(
    ("make_error", "message"), list(ERROR_CASES.values()), ids=list(ERROR_CASES)
)
def test_bad_input_raises_value_error_naming_the_expected_shape(make_error, message):
    with pytest.raises(ValueError, match=message):
        make_error()


# --------------------------------------------------------------------------------------------
# device


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_on_cuda_matches_torch_on_cuda(bidirectional):
    ours, reference = rnn_pair(num_layers=2, bidirectional=bidirectional, batch_first=True)
    ours, reference = ours.to("cuda"), reference.to("cuda")
    x = torch.randn(B, T, I, dtype=torch.float64, device="cuda")
    hx = torch.randn(2 * (2 if bidirectional else 1), B, H, dtype=torch.float64, device="cuda")
    actual = forward_and_grads(ours, x, hx)
    expected = forward_and_grads(reference, x, hx)
    assert actual[0].device.type == "cuda"
    assert_all_close([t.cpu() for t in actual], [t.cpu() for t in expected])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_char_rnn_sample_on_cuda_accepts_a_cpu_generator():
    model = CharRNN(11, 5, H).to("cuda")
    ids = model.sample([1, 2], 10, generator=torch.Generator().manual_seed(0))
    again = model.sample([1, 2], 10, generator=torch.Generator().manual_seed(0))
    assert ids == again and len(ids) == 12


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
