"""Specifications of coursekit.lstm.

Each test names one behaviour. The reference sits on the other side of every assertion:
torch.nn.LSTM / LSTMCell with the same weights loaded, the readable loop (for the fast path),
a formula written out here, or torch.autograd.gradcheck.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import coursekit._fused
import coursekit.lstm
from coursekit import (
    LSTM,
    LSTMCell,
    PeepholeLSTM,
    lstm_cell_step,
    lstm_forward,
    lstm_forward_fast,
    peephole_lstm_step,
)
from tests.torch_compare import assert_all_close

T, B, I, H, P = 5, 3, 4, 6, 3  # noqa: E741 (the glossary's names; P = proj_size when used)
F64 = torch.float64

# torch falls back from oneDNN for projections and says so; that is torch's business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")


def lstm_pair(dtype=F64, fast=True, **kwargs):
    """torch.nn.LSTM and coursekit.LSTM with torch's weights loaded (strict)."""
    reference = torch.nn.LSTM(I, H, dtype=dtype, **kwargs)
    ours = LSTM(I, H, dtype=dtype, fast=fast, **kwargs)
    ours.load_state_dict(reference.state_dict())
    return ours, reference


def forward_and_grads(module, x, hx):
    """Outputs, and gradients of a random upstream gradient w.r.t. x, hx and every parameter."""
    x = x.detach().clone().requires_grad_()
    inputs = [x]
    if hx is not None:
        hx = tuple(s.detach().clone().requires_grad_() for s in hx)
        inputs.extend(hx)
    output, (h_n, c_n) = module(x, hx)
    generator = torch.Generator().manual_seed(1)
    upstream = [
        torch.randn(t.shape, generator=generator, dtype=t.dtype).to(t.device)
        for t in (output, h_n, c_n)
    ]
    grads = torch.autograd.grad((output, h_n, c_n), [*inputs, *module.parameters()], upstream)
    return [output, h_n, c_n, *grads]


def sequence(batched, batch_first=False, dtype=F64):
    if not batched:
        return torch.randn(T, I, dtype=dtype)
    return torch.randn((B, T, I) if batch_first else (T, B, I), dtype=dtype)


def initial_state(num_layers, bidirectional, proj_size, batched, dtype=F64):
    DL = (2 if bidirectional else 1) * num_layers
    batch = (B,) if batched else ()
    h0 = torch.randn(DL, *batch, proj_size or H, dtype=dtype)
    c0 = torch.randn(DL, *batch, H, dtype=dtype)
    return h0, c0


# --------------------------------------------------------------------------------------------
# coursekit.LSTM == torch.nn.LSTM, on the fast path and on the readable loop

GRID = list(
    itertools.product([1, 2, 3], [False, True], [False, True], [True, False], [True, False], [0, P])
)
GRID_IDS = [
    f"L{L}-{'bi' if bi else 'uni'}-{'bf' if bf else 'tf'}-{'bias' if b else 'nobias'}-"
    f"{'batched' if bt else 'unbatched'}-proj{p}"
    for L, bi, bf, b, bt, p in GRID
]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("num_layers", "bidirectional", "batch_first", "bias", "batched", "proj_size"),
    GRID,
    ids=GRID_IDS,
)
def test_lstm_matches_torch_values_and_gradients(
    fast, dtype, num_layers, bidirectional, batch_first, bias, batched, proj_size
):
    options = {
        "num_layers": num_layers,
        "bidirectional": bidirectional,
        "batch_first": batch_first,
        "bias": bias,
        "proj_size": proj_size,
    }
    ours, reference = lstm_pair(dtype, fast, **options)
    x = sequence(batched, batch_first, dtype)
    hx = initial_state(num_layers, bidirectional, proj_size, batched, dtype)
    assert_all_close(forward_and_grads(ours, x, hx), forward_and_grads(reference, x, hx), dtype)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("proj_size", [0, P])
def test_lstm_without_hx_matches_torch_zero_initial_state(
    fast, bidirectional, batch_first, batched, proj_size
):
    ours, reference = lstm_pair(
        fast=fast,
        num_layers=2,
        bidirectional=bidirectional,
        batch_first=batch_first,
        proj_size=proj_size,
    )
    x = sequence(batched, batch_first)
    assert_all_close(forward_and_grads(ours, x, None), forward_and_grads(reference, x, None))


def test_lstm_runs_the_fast_path_by_default_and_the_loop_when_asked(monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append("fast")
        return lstm_forward_fast(*args, **kwargs)

    monkeypatch.setattr(coursekit.lstm, "lstm_forward_fast", counting)
    ours = LSTM(I, H, num_layers=2, bidirectional=True)
    ours(sequence(batched=True, dtype=torch.float32))
    assert calls == ["fast"] * 4  # two layers, two directions
    ours.fast = False
    ours(sequence(batched=True, dtype=torch.float32))
    assert calls == ["fast"] * 4


def test_lstm_without_hx_equals_explicit_zero_hx():
    ours, _ = lstm_pair(num_layers=2, bidirectional=True, proj_size=P)
    x = sequence(batched=True)
    zeros = (torch.zeros(4, B, P, dtype=F64), torch.zeros(4, B, H, dtype=F64))
    output, (h_n, c_n) = ours(x)
    assert_all_close([output, h_n, c_n], [ours(x, zeros)[0], *ours(x, zeros)[1]])


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("proj_size", [0, P])
def test_lstm_parameter_names_order_and_shapes_match_torch(
    num_layers, bidirectional, bias, proj_size
):
    options = {"bias": bias, "bidirectional": bidirectional, "proj_size": proj_size}
    ours = LSTM(I, H, num_layers, **options)
    reference = torch.nn.LSTM(I, H, num_layers, **options)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]


@pytest.mark.parametrize("proj_size", [0, P])
def test_torch_lstm_loads_our_state_dict(proj_size):
    ours = LSTM(I, H, num_layers=2, bidirectional=True, proj_size=proj_size)
    reference = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=proj_size)
    reference.load_state_dict(ours.state_dict())  # strict
    x = torch.randn(T, B, I)
    assert_all_close(ours(x), reference(x), torch.float32)


def test_lstm_init_is_uniform_within_one_over_sqrt_hidden_like_torch():
    ours = LSTM(I, 100, num_layers=2, bidirectional=True, proj_size=50)
    bound = 1 / math.sqrt(100)
    for name, p in ours.named_parameters():
        assert p.abs().max() <= bound, name
        assert p.abs().max() > 0.9 * bound, name  # spread over the whole interval, not zeros


def test_lstm_constructor_dtype_sets_parameter_dtype():
    assert all(p.dtype == F64 for p in LSTM(I, H, num_layers=2, dtype=F64).parameters())


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
def test_lstm_outputs_follow_input_dtype(fast):
    output, (h_n, c_n) = LSTM(I, H, fast=fast).double()(torch.randn(T, B, I, dtype=F64))
    assert output.dtype == h_n.dtype == c_n.dtype == F64


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
def test_lstm_without_grad_matches_torch(fast):
    ours, reference = lstm_pair(fast=fast, num_layers=2, bidirectional=True)
    x = sequence(batched=True)
    with torch.no_grad():
        assert_all_close(ours(x), reference(x))


# --------------------------------------------------------------------------------------------
# dropout


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
def test_lstm_eval_mode_with_dropout_matches_torch_eval_mode(fast):
    ours, reference = lstm_pair(fast=fast, num_layers=3, dropout=0.5, bidirectional=True)
    x = sequence(batched=True)
    assert_all_close(ours.eval()(x), reference.eval()(x))


def test_lstm_train_mode_dropout_between_layers_changes_output():
    ours, _ = lstm_pair(num_layers=2, dropout=0.5)
    x = sequence(batched=True)
    train_output, _ = ours.train()(x)
    eval_output, _ = ours.eval()(x)
    assert not torch.allclose(train_output, eval_output)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
def test_lstm_dropout_one_in_training_zeroes_next_layer_input_like_torch(fast):
    # p = 1 is deterministic: every layer but the first sees zeros, in torch as in ours.
    ours, reference = lstm_pair(fast=fast, num_layers=3, dropout=1.0, bidirectional=True)
    x = sequence(batched=True)
    assert_all_close(ours.train()(x), reference.train()(x))


def test_lstm_dropout_with_one_layer_warns_like_torch_and_changes_nothing():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        reference = torch.nn.LSTM(I, H, dropout=0.5, dtype=F64)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        ours = LSTM(I, H, dropout=0.5, dtype=F64)
    ours.load_state_dict(reference.state_dict())
    x = sequence(batched=True)
    assert_all_close(ours.train()(x), reference.eval()(x))


# --------------------------------------------------------------------------------------------
# LSTMCell == torch.nn.LSTMCell


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_hx", [True, False])
def test_lstm_cell_matches_torch(batched, bias, given_hx):
    reference = torch.nn.LSTMCell(I, H, bias=bias, dtype=F64)
    ours = LSTMCell(I, H, bias=bias, dtype=F64)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn((B, I) if batched else (I,), dtype=F64)
    shape = (B, H) if batched else (H,)
    hx = (torch.randn(shape, dtype=F64), torch.randn(shape, dtype=F64)) if given_hx else None

    def run(cell):
        x_ = x.clone().requires_grad_()
        hx_ = tuple(s.clone().requires_grad_() for s in hx) if given_hx else None
        h, c = cell(x_, hx_)
        upstream = [torch.linspace(-1, 1, h.numel(), dtype=F64).reshape(h.shape)] * 2
        inputs = [x_, *(hx_ or ()), *cell.parameters()]
        return [h, c, *torch.autograd.grad((h, c), inputs, upstream)]

    assert_all_close(run(ours), run(reference))


def test_lstm_cell_parameter_names_and_shapes_match_torch():
    assert [(n, p.shape) for n, p in LSTMCell(I, H).named_parameters()] == [
        (n, p.shape) for n, p in torch.nn.LSTMCell(I, H).named_parameters()
    ]


# --------------------------------------------------------------------------------------------
# the functional reference


def random_weights(input_size=I, hidden_size=H, bias=True, proj_size=0):
    """weight_ih, weight_hh, bias_ih, bias_hh[, weight_hr] as torch lays them out."""
    recurrent = proj_size or hidden_size
    weights = [
        torch.randn(4 * hidden_size, input_size, dtype=F64),
        torch.randn(4 * hidden_size, recurrent, dtype=F64) / recurrent,
        torch.randn(4 * hidden_size, dtype=F64) if bias else None,
        torch.randn(4 * hidden_size, dtype=F64) if bias else None,
    ]
    if proj_size:
        weights.append(torch.randn(proj_size, hidden_size, dtype=F64) / hidden_size)
    return weights


def sigmoid(v):
    return 1 / (1 + torch.exp(-v))


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_step_matches_explicit_formula(bias):
    w_ih, w_hh, b_ih, b_hh = random_weights(bias=bias)
    x, h_prev, c_prev = (torch.randn(B, n, dtype=F64) for n in (I, H, H))

    def gate(k):  # rows k*H ... (k+1)*H: gate k in torch's order i, f, g, o
        rows = slice(k * H, (k + 1) * H)
        total = x @ w_ih[rows].T + h_prev @ w_hh[rows].T
        return total + b_ih[rows] + b_hh[rows] if bias else total

    i, f, g, o = sigmoid(gate(0)), sigmoid(gate(1)), torch.tanh(gate(2)), sigmoid(gate(3))
    c = f * c_prev + i * g
    h = o * torch.tanh(c)
    assert_all_close(lstm_cell_step(x, (h_prev, c_prev), w_ih, w_hh, b_ih, b_hh), [h, c])


def test_lstm_cell_step_matches_torch_lstm_cell():
    reference = torch.nn.LSTMCell(I, H, dtype=F64)
    x, h_prev, c_prev = (torch.randn(B, n, dtype=F64) for n in (I, H, H))
    weights = (reference.weight_ih, reference.weight_hh, reference.bias_ih, reference.bias_hh)
    actual = lstm_cell_step(x, (h_prev, c_prev), *weights)
    assert_all_close(actual, reference(x, (h_prev, c_prev)))


def test_lstm_cell_step_unbatched_equals_one_row_of_a_batch():
    weights = random_weights()
    x, h_prev, c_prev = (torch.randn(B, n, dtype=F64) for n in (I, H, H))
    h, c = lstm_cell_step(x, (h_prev, c_prev), *weights)
    row_h, row_c = lstm_cell_step(x[1], (h_prev[1], c_prev[1]), *weights)
    assert row_h.shape == row_c.shape == (H,)
    assert_all_close([row_h, row_c], [h[1], c[1]])


def test_lstm_cell_step_hand_computed_scalar_case():
    # I = H = 1, no biases; the four gate rows of W_ih are (0.5, -1, 2, 1), of W_hh all 0.3
    w_ih = torch.tensor([[0.5], [-1.0], [2.0], [1.0]], dtype=F64)
    w_hh = torch.full((4, 1), 0.3, dtype=F64)
    x, h_prev, c_prev = 1.0, 0.5, -2.0
    pre = [w * x + 0.3 * h_prev for w in (0.5, -1.0, 2.0, 1.0)]
    s = [1 / (1 + math.exp(-v)) for v in pre]
    c = s[1] * c_prev + s[0] * math.tanh(pre[2])
    h = s[3] * math.tanh(c)
    actual_h, actual_c = lstm_cell_step(
        torch.tensor([[x]], dtype=F64),
        (torch.tensor([[h_prev]], dtype=F64), torch.tensor([[c_prev]], dtype=F64)),
        w_ih,
        w_hh,
    )
    assert actual_h.item() == pytest.approx(h, abs=1e-12)
    assert actual_c.item() == pytest.approx(c, abs=1e-12)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("proj_size", [0, P])
def test_lstm_forward_matches_torch_one_layer(bias, proj_size):
    reference = torch.nn.LSTM(I, H, bias=bias, proj_size=proj_size, dtype=F64)
    x = torch.randn(T, B, I, dtype=F64)
    h0, c0 = torch.randn(B, proj_size or H, dtype=F64), torch.randn(B, H, dtype=F64)
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
    weights = [getattr(reference, f"{n}_l0", None) for n in names]
    output, (h_n, c_n) = lstm_forward(x, (h0, c0), *weights)
    expected_output, (expected_h_n, expected_c_n) = reference(x, (h0[None], c0[None]))
    assert_all_close([output, h_n, c_n], [expected_output, expected_h_n[0], expected_c_n[0]])


def test_lstm_forward_h_n_is_the_last_output():
    x, h0, c0 = (torch.randn(*s, dtype=F64) for s in ((T, B, I), (B, H), (B, H)))
    output, (h_n, _) = lstm_forward(x, (h0, c0), *random_weights())
    assert output.shape == (T, B, H)
    torch.testing.assert_close(h_n, output[-1], atol=0, rtol=0)


# --------------------------------------------------------------------------------------------
# the fast path == the readable loop


def reference_and_fast(fn_args, upstream_seed=2):
    """Values and gradients (w.r.t. every tensor argument) of lstm_forward and lstm_forward_fast."""

    def run(forward):
        args = [a.detach().clone().requires_grad_() if a is not None else None for a in fn_args]
        x, h0, c0, *weights = args
        output, (h_n, c_n) = forward(x, (h0, c0), *weights)
        generator = torch.Generator().manual_seed(upstream_seed)
        upstream = [
            torch.randn(t.shape, generator=generator, dtype=t.dtype) for t in (output, h_n, c_n)
        ]
        inputs = [a for a in args if a is not None]
        return [output, h_n, c_n, *torch.autograd.grad((output, h_n, c_n), inputs, upstream)]

    return run(lstm_forward), run(lstm_forward_fast)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("proj_size", [0, P])
@pytest.mark.parametrize(("steps", "batch"), [(T, B), (1, B), (T, 1), (1, 1)])
def test_lstm_forward_fast_equals_reference_loop(bias, proj_size, steps, batch):
    recurrent = proj_size or H
    x = torch.randn(steps, batch, I, dtype=F64)
    h0, c0 = torch.randn(batch, recurrent, dtype=F64), torch.randn(batch, H, dtype=F64)
    weights = random_weights(bias=bias, proj_size=proj_size)
    if not proj_size:
        weights.append(None)
    reference, fast = reference_and_fast([x, h0, c0, *weights])
    assert_all_close(fast, reference)


ONEDNN = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN"
)


@pytest.fixture(params=[pytest.param("onednn", marks=ONEDNN), "torch.mm"])
def products(request, monkeypatch):
    """Run float32 CPU products through oneDNN at any size, or never (the two branches)."""
    threshold = 0 if request.param == "onednn" else math.inf
    monkeypatch.setattr(coursekit._fused, "_ONEDNN_MIN_MACS", threshold)
    return request.param


@pytest.mark.parametrize("proj_size", [0, P])
def test_lstm_forward_fast_float32_equals_reference_loop(products, proj_size):
    recurrent = proj_size or H
    tensors = [
        torch.randn(T, B, I),
        torch.randn(B, recurrent),
        torch.randn(B, H),
        *(w.float() for w in random_weights(proj_size=proj_size)),
    ]
    if not proj_size:
        tensors.append(None)
    reference, fast = reference_and_fast(tensors)
    assert_all_close(fast, reference, torch.float32)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("proj_size", [0, P])
def test_lstm_float32_matches_torch_with_either_product(products, bidirectional, proj_size):
    ours, reference = lstm_pair(
        torch.float32, num_layers=2, bidirectional=bidirectional, proj_size=proj_size
    )
    x = sequence(batched=True, dtype=torch.float32)
    hx = initial_state(2, bidirectional, proj_size, True, torch.float32)
    expected = forward_and_grads(reference, x, hx)
    assert_all_close(forward_and_grads(ours, x, hx), expected, torch.float32)


def test_lstm_forward_fast_over_a_longer_sequence_equals_reference_loop():
    weights = random_weights(hidden_size=16)
    tensors = [torch.randn(60, 2, I, dtype=F64), *torch.randn(2, 2, 16, dtype=F64), *weights, None]
    reference, fast = reference_and_fast(tensors)
    assert_all_close(fast, reference)


@pytest.mark.parametrize("proj_size", [0, P])
def test_lstm_forward_fast_passes_gradcheck(proj_size):
    recurrent = proj_size or H
    tensors = [
        t.requires_grad_()
        for t in (
            torch.randn(3, 2, I, dtype=F64),
            torch.randn(2, recurrent, dtype=F64),
            torch.randn(2, H, dtype=F64),
            *random_weights(proj_size=proj_size),
        )
    ]
    x, h0, c0, *weights = tensors

    def fast(x, h0, c0, *weights):
        output, (h_n, c_n) = lstm_forward_fast(x, (h0, c0), *weights)
        return output, h_n, c_n

    assert torch.autograd.gradcheck(fast, (x, h0, c0, *weights))


# --------------------------------------------------------------------------------------------
# peephole LSTM


def independent_peephole_step(x, h_prev, c_prev, w_ih, w_hh, w_peephole, bias):
    """Gers & Schmidhuber's peephole cell with one matrix per gate, written from the paper."""
    W = dict(zip("ifgo", w_ih.split(H), strict=True))
    U = dict(zip("ifgo", w_hh.split(H), strict=True))
    b = dict(zip("ifgo", bias.split(H), strict=True))
    w_ci, w_cf, w_co = w_peephole

    def pre(name):
        return x @ W[name].T + h_prev @ U[name].T + b[name]

    input_gate = sigmoid(pre("i") + w_ci * c_prev)  # looks at the old cell
    forget_gate = sigmoid(pre("f") + w_cf * c_prev)  # looks at the old cell
    c = forget_gate * c_prev + input_gate * torch.tanh(pre("g"))
    output_gate = sigmoid(pre("o") + w_co * c)  # looks at the new cell
    return output_gate * torch.tanh(c), c


def peephole_weights():
    return (
        torch.randn(4 * H, I, dtype=F64),
        torch.randn(4 * H, H, dtype=F64) / H,
        torch.randn(3, H, dtype=F64),
        torch.randn(4 * H, dtype=F64),
    )


def test_peephole_lstm_step_matches_independent_formula():
    x, h_prev, c_prev = (torch.randn(B, n, dtype=F64) for n in (I, H, H))
    weights = peephole_weights()
    actual = peephole_lstm_step(x, (h_prev, c_prev), *weights)
    assert_all_close(actual, independent_peephole_step(x, h_prev, c_prev, *weights))


def test_peephole_lstm_step_without_bias_equals_zero_bias():
    x, h_prev, c_prev = (torch.randn(B, n, dtype=F64) for n in (I, H, H))
    w_ih, w_hh, w_peephole, _ = peephole_weights()
    zero_bias = torch.zeros(4 * H, dtype=F64)
    assert_all_close(
        peephole_lstm_step(x, (h_prev, c_prev), w_ih, w_hh, w_peephole),
        independent_peephole_step(x, h_prev, c_prev, w_ih, w_hh, w_peephole, zero_bias),
    )


def test_peephole_lstm_step_with_zero_peepholes_is_torch_lstm_cell():
    reference = torch.nn.LSTMCell(I, H, dtype=F64)
    x, h_prev, c_prev = (torch.randn(B, n, dtype=F64) for n in (I, H, H))
    actual = peephole_lstm_step(
        x,
        (h_prev, c_prev),
        reference.weight_ih,
        reference.weight_hh,
        torch.zeros(3, H, dtype=F64),
        reference.bias_ih + reference.bias_hh,
    )
    assert_all_close(actual, reference(x, (h_prev, c_prev)))


def test_peephole_lstm_step_passes_gradcheck():
    x, h_prev, c_prev = (torch.randn(2, n, dtype=F64, requires_grad=True) for n in (I, H, H))
    weights = [w.requires_grad_() for w in peephole_weights()]
    assert torch.autograd.gradcheck(
        lambda *a: peephole_lstm_step(a[0], (a[1], a[2]), *a[3:]), (x, h_prev, c_prev, *weights)
    )


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_state", [True, False])
def test_peephole_lstm_matches_independent_loop(batch_first, given_state):
    model = PeepholeLSTM(I, H, batch_first=batch_first).double()
    x = sequence(batched=True, batch_first=batch_first)
    state = (torch.randn(B, H, dtype=F64), torch.randn(B, H, dtype=F64)) if given_state else None
    h, c = state if given_state else (torch.zeros(B, H, dtype=F64), torch.zeros(B, H, dtype=F64))
    weights = (model.weight_ih, model.weight_hh, model.weight_peephole, model.bias)
    outputs = []
    for x_t in x.transpose(0, 1) if batch_first else x:
        h, c = independent_peephole_step(x_t, h, c, *weights)
        outputs.append(h)
    expected = torch.stack(outputs, dim=1 if batch_first else 0)
    output, (h_n, c_n) = model(x, state)
    assert_all_close([output, h_n, c_n], [expected, h, c])


def test_peephole_lstm_unbatched_equals_a_batch_of_one():
    model = PeepholeLSTM(I, H).double()
    x = sequence(batched=False)
    output, (h_n, c_n) = model(x)
    batch_output, (batch_h_n, batch_c_n) = model(x.unsqueeze(1))
    assert output.shape == (T, H) and h_n.shape == c_n.shape == (H,)
    assert_all_close([output, h_n, c_n], [batch_output[:, 0], batch_h_n[0], batch_c_n[0]])


def test_peephole_lstm_parameters_and_init():
    model = PeepholeLSTM(I, 100)
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == [
        ("weight_ih", (400, I)),
        ("weight_hh", (400, 100)),
        ("weight_peephole", (3, 100)),
        ("bias", (400,)),
    ]
    for name, p in model.named_parameters():
        assert 0.9 * 0.1 < p.abs().max() <= 0.1, name


# --------------------------------------------------------------------------------------------
# errors for people: every ValueError names the expected shape and what it got


def _bad(shape):
    return torch.zeros(shape)


ERROR_CASES = {
    "lstm-rank": (
        lambda: LSTM(8, H)(_bad((5,))),
        r"input must be \(T, B, I\) or \(T, I\) unbatched, with I = 8 \(batch_first=False\); got \(5,\)",
    ),
    "lstm-feature-size": (
        lambda: LSTM(8, H)(_bad((3, 4, 5))),
        r"input must be \(T, B, I\) .* I = 8 .*got \(3, 4, 5\)",
    ),
    "lstm-batch-first-layout": (
        lambda: LSTM(8, H, batch_first=True)(_bad((3, 4, 5))),
        r"input must be \(B, T, I\) or \(T, I\) unbatched, with I = 8 \(batch_first=True\); got \(3, 4, 5\)",
    ),
    "lstm-empty-sequence": (lambda: LSTM(I, H)(_bad((0, B, I))), r"T >= 1; got \(0, 3, 4\)"),
    "lstm-hx-not-a-pair": (
        lambda: LSTM(I, H)(_bad((T, B, I)), _bad((1, B, H))),
        r"hx must be a tuple \(h_0, c_0\)",
    ),
    "lstm-h0-shape": (
        lambda: LSTM(I, H, bidirectional=True)(_bad((T, B, I)), (_bad((1, B, H)), _bad((2, B, H)))),
        r"h_0 must be \(D\*num_layers, B, H\) = \(2, 3, 6\); got \(1, 3, 6\)",
    ),
    "lstm-h0-proj": (
        lambda: LSTM(I, H, proj_size=P)(_bad((T, B, I)), (_bad((1, B, H)), _bad((1, B, H)))),
        r"h_0 must be \(D\*num_layers, B, P\) = \(1, 3, 3\); got \(1, 3, 6\)",
    ),
    "lstm-c0-shape": (
        lambda: LSTM(I, H, proj_size=P)(_bad((T, B, I)), (_bad((1, B, P)), _bad((1, B, P)))),
        r"c_0 must be \(D\*num_layers, B, H\) = \(1, 3, 6\); got \(1, 3, 3\)",
    ),
    "lstm-hx-batched-for-unbatched": (
        lambda: LSTM(I, H, 2)(_bad((T, I)), (_bad((2, 1, H)), _bad((2, 1, H)))),
        r"h_0 must be \(D\*num_layers, H\) for unbatched input = \(2, 6\); got \(2, 1, 6\)",
    ),
    "lstm-hidden-size": (lambda: LSTM(I, 0), r"hidden_size must be an integer >= 1; got 0"),
    "lstm-num-layers": (
        lambda: LSTM(I, H, num_layers=0),
        r"num_layers must be an integer >= 1; got 0",
    ),
    "lstm-dropout": (
        lambda: LSTM(I, H, 2, dropout=1.5),
        r"dropout must be a number in \[0, 1\]; got 1.5",
    ),
    "lstm-proj-negative": (
        lambda: LSTM(I, H, proj_size=-1),
        r"proj_size must be an integer >= 0; got -1",
    ),
    "lstm-proj-too-large": (
        lambda: LSTM(I, H, proj_size=H),
        r"proj_size must be smaller than hidden_size = 6; got 6",
    ),
    "cell-rank": (
        lambda: LSTMCell(I, H)(_bad((T, B, I))),
        r"input must be \(B, I\) or \(I,\) unbatched, with I = 4; got \(5, 3, 4\)",
    ),
    "cell-hx": (
        lambda: LSTMCell(I, H)(_bad((B, I)), (_bad((B, H)), _bad((B, H + 1)))),
        r"hx must be \(h, c\), each \(B, H\) or \(H,\) unbatched = \(3, 6\); got \(\(3, 6\), \(3, 7\)\)",
    ),
    "forward-empty": (
        lambda: lstm_forward(_bad((0, B, I)), (_bad((B, H)), _bad((B, H))), *random_weights()),
        r"x must be \(T, B, I\) with T >= 1; got \(0, 3, 4\)",
    ),
    "fast-x-rank": (
        lambda: lstm_forward_fast(_bad((T, I)), (_bad((B, H)), _bad((B, H))), *random_weights()),
        r"x must be \(T, B, I\) with T >= 1 and I = 4; got \(5, 4\)",
    ),
    "fast-state": (
        lambda: lstm_forward_fast(
            _bad((T, B, I)).double(), (_bad((B, H)), _bad((2, H))), *random_weights()
        ),
        r"state must be \(h0 \(B, P\), c0 \(B, H\)\) = \(\(3, 6\), \(3, 6\)\); got \(\(3, 6\), \(2, 6\)\)",
    ),
    "peephole-x": (
        lambda: PeepholeLSTM(I, H)(_bad((T, B, 7))),
        r"x must be \(T, B, I\) or \(T, I\) unbatched, with I = 4 \(batch_first=False\); got \(5, 3, 7\)",
    ),
    "peephole-state": (
        lambda: PeepholeLSTM(I, H)(_bad((T, B, I)), (_bad((B, H)), _bad((B, 2)))),
        r"state must be \(h0, c0\), each \(B, H\) or \(H,\) unbatched = \(3, 6\); got \(\(3, 6\), \(3, 2\)\)",
    ),
    "peephole-empty": (
        lambda: PeepholeLSTM(I, H)(_bad((0, B, I))),
        r"x must have T >= 1 steps; got \(0, 3, 4\)",
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
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
@pytest.mark.parametrize("proj_size", [0, P])
@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=["float64", "float32"])
def test_lstm_on_cuda_matches_torch_on_cuda(fast, proj_size, dtype):
    ours, reference = lstm_pair(
        dtype, fast, num_layers=2, bidirectional=True, batch_first=True, proj_size=proj_size
    )
    ours, reference = ours.to("cuda"), reference.to("cuda")
    x = sequence(batched=True, batch_first=True, dtype=dtype).to("cuda")
    hx = tuple(s.to("cuda") for s in initial_state(2, True, proj_size, True, dtype))
    actual = forward_and_grads(ours, x, hx)
    expected = forward_and_grads(reference, x, hx)
    assert actual[0].device.type == "cuda"
    # cuDNN's float32 sums in another order: allow float32's rounding, as the CPU tests do
    assert_all_close([t.cpu() for t in actual], [t.cpu() for t in expected], dtype)
