"""Specifications of coursekit.lstm.

Each test names one behaviour. The reference sits on the other side of every assertion:
torch.nn.LSTM / LSTMCell with the same weights loaded, the readable loop (for the fast path),
a formula written out here, or torch.autograd.gradcheck.
"""

from __future__ import annotations

import math

import pytest
import torch

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
from tests import torch_compare as tc
from tests.torch_compare import B, H, I, T, assert_all_close, forward_and_grads, sequence, zeros

P = 3  # proj_size, when used
F64 = torch.float64

# torch falls back from oneDNN for projections and says so; that is torch's business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")


def lstm_state(proj_size, num_layers=1, bidirectional=False, batched=True, dtype=F64):
    """A random (h_0, c_0): h_0 has proj_size features when there is a projection."""
    h0 = tc.initial_state(num_layers, bidirectional, batched, dtype, size=proj_size or H)
    return h0, tc.initial_state(num_layers, bidirectional, batched, dtype)


# --------------------------------------------------------------------------------------------
# coursekit.LSTM == torch.nn.LSTM on the fast path and on the readable loop, with and without a
# projection, and LSTMCell == torch.nn.LSTMCell: the shared specifications (tests/torch_compare.py)


class TestLSTM(tc.RecurrentLayerSpecs):
    ours, reference = LSTM, torch.nn.LSTM

    @pytest.fixture(params=[0, P], ids=["proj0", f"proj{P}"])
    def options(self, request):
        return {"proj_size": request.param}

    @pytest.fixture(params=[True, False], ids=["fast", "loop"])
    def path(self, request):
        return {"fast": request.param}

    def state(self, options, num_layers, bidirectional, batched, dtype=F64):
        return lstm_state(options["proj_size"], num_layers, bidirectional, batched, dtype)

    @tc.GRID
    def test_lstm_matches_torch(self, case, options, path):
        self.assert_matches_torch(case, options, path)


class TestLSTMCell(tc.CellSpecs):
    ours, reference = LSTMCell, torch.nn.LSTMCell

    def state(self, batched):
        shape = (B, H) if batched else (H,)
        return torch.randn(shape, dtype=F64), torch.randn(shape, dtype=F64)

    @tc.CELL_CASES
    def test_lstm_cell_matches_torch(self, options, batched, bias, given_hx):
        self.assert_matches_torch(options, batched, bias, given_hx)


def test_lstm_runs_the_fast_path_by_default_and_the_loop_when_asked(monkeypatch):
    tc.assert_runs_the_fast_path_by_default(monkeypatch, LSTM, coursekit.lstm, "lstm_forward_fast")


# --------------------------------------------------------------------------------------------
# the functional reference


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_step_matches_explicit_formula(bias):
    w_ih, w_hh, b_ih, b_hh = tc.cell_weights(4, bias=bias)
    x, h_prev, c_prev = (torch.randn(B, n, dtype=F64) for n in (I, H, H))

    def gate(k):  # rows k*H ... (k+1)*H: gate k in torch's order i, f, g, o
        rows = slice(k * H, (k + 1) * H)
        total = x @ w_ih[rows].T + h_prev @ w_hh[rows].T
        return total + b_ih[rows] + b_hh[rows] if bias else total

    i, f, g, o = tc.sigmoid(gate(0)), tc.sigmoid(gate(1)), torch.tanh(gate(2)), tc.sigmoid(gate(3))
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
    weights = tc.cell_weights(4)
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
    weights = tc.layer_weights(reference, names=names)
    output, (h_n, c_n) = lstm_forward(x, (h0, c0), *weights)
    expected_output, (expected_h_n, expected_c_n) = reference(x, (h0[None], c0[None]))
    assert_all_close([output, h_n, c_n], [expected_output, expected_h_n[0], expected_c_n[0]])


def test_lstm_forward_h_n_is_the_last_output():
    x, h0, c0 = (torch.randn(*s, dtype=F64) for s in ((T, B, I), (B, H), (B, H)))
    output, (h_n, _) = lstm_forward(x, (h0, c0), *tc.cell_weights(4))
    assert output.shape == (T, B, H)
    torch.testing.assert_close(h_n, output[-1], atol=0, rtol=0)


# --------------------------------------------------------------------------------------------
# the fast path == the readable loop


def reference_and_fast(tensors):
    """Values and gradients (w.r.t. every tensor argument) of lstm_forward and lstm_forward_fast
    on tensors = [x, h0, c0, *weights]."""
    x, h0, c0, *weights = tensors
    return [
        forward_and_grads(f, x, (h0, c0), *weights, seed=2)
        for f in (lstm_forward, lstm_forward_fast)
    ]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("proj_size", [0, P])
@pytest.mark.parametrize(("steps", "batch"), [(T, B), (1, B), (T, 1), (1, 1)])
def test_lstm_forward_fast_equals_reference_loop(bias, proj_size, steps, batch):
    recurrent = proj_size or H
    x = torch.randn(steps, batch, I, dtype=F64)
    h0, c0 = torch.randn(batch, recurrent, dtype=F64), torch.randn(batch, H, dtype=F64)
    weights = tc.cell_weights(4, bias=bias, proj_size=proj_size)
    if not proj_size:
        weights.append(None)
    reference, fast = reference_and_fast([x, h0, c0, *weights])
    assert_all_close(fast, reference)


@pytest.mark.parametrize("proj_size", [0, P])
def test_lstm_forward_fast_float32_equals_reference_loop(products, proj_size):
    recurrent = proj_size or H
    tensors = [
        torch.randn(T, B, I),
        torch.randn(B, recurrent),
        torch.randn(B, H),
        *(w.float() for w in tc.cell_weights(4, proj_size=proj_size)),
    ]
    if not proj_size:
        tensors.append(None)
    reference, fast = reference_and_fast(tensors)
    assert_all_close(fast, reference, torch.float32)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("proj_size", [0, P])
def test_lstm_float32_matches_torch_with_either_product(products, bidirectional, proj_size):
    options = {"num_layers": 2, "bidirectional": bidirectional, "proj_size": proj_size}
    ours, reference = tc.make_pair(LSTM, torch.nn.LSTM, I, H, dtype=torch.float32, **options)
    x = sequence(dtype=torch.float32)
    hx = lstm_state(proj_size, 2, bidirectional, dtype=torch.float32)
    expected = forward_and_grads(reference, x, hx)
    assert_all_close(forward_and_grads(ours, x, hx), expected, torch.float32)


def test_lstm_forward_fast_over_a_longer_sequence_equals_reference_loop():
    weights = tc.cell_weights(4, hidden_size=16)
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
            *tc.cell_weights(4, proj_size=proj_size),
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

    input_gate = tc.sigmoid(pre("i") + w_ci * c_prev)  # looks at the old cell
    forget_gate = tc.sigmoid(pre("f") + w_cf * c_prev)  # looks at the old cell
    c = forget_gate * c_prev + input_gate * torch.tanh(pre("g"))
    output_gate = tc.sigmoid(pre("o") + w_co * c)  # looks at the new cell
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


ERROR_CASES = {
    "lstm-hx-not-a-pair": (
        lambda: LSTM(I, H)(zeros(T, B, I), zeros(1, B, H)),
        r"hx must be a tuple \(h_0, c_0\)",
    ),
    "lstm-h0-shape": (
        lambda: LSTM(I, H, bidirectional=True)(zeros(T, B, I), (zeros(1, B, H), zeros(2, B, H))),
        r"h_0 must be \(D\*num_layers, B, H\) = \(2, 3, 6\); got \(1, 3, 6\)",
    ),
    "lstm-h0-proj": (
        lambda: LSTM(I, H, proj_size=P)(zeros(T, B, I), (zeros(1, B, H), zeros(1, B, H))),
        r"h_0 must be \(D\*num_layers, B, P\) = \(1, 3, 3\); got \(1, 3, 6\)",
    ),
    "lstm-c0-shape": (
        lambda: LSTM(I, H, proj_size=P)(zeros(T, B, I), (zeros(1, B, P), zeros(1, B, P))),
        r"c_0 must be \(D\*num_layers, B, H\) = \(1, 3, 6\); got \(1, 3, 3\)",
    ),
    "lstm-hx-batched-for-unbatched": (
        lambda: LSTM(I, H, 2)(zeros(T, I), (zeros(2, 1, H), zeros(2, 1, H))),
        r"h_0 must be \(D\*num_layers, H\) for unbatched input = \(2, 6\); got \(2, 1, 6\)",
    ),
    "lstm-proj-negative": (
        lambda: LSTM(I, H, proj_size=-1),
        r"proj_size must be an integer >= 0; got -1",
    ),
    "lstm-proj-too-large": (
        lambda: LSTM(I, H, proj_size=H),
        r"proj_size must be smaller than hidden_size = 6; got 6",
    ),
    "cell-hx": (
        lambda: LSTMCell(I, H)(zeros(B, I), (zeros(B, H), zeros(B, H + 1))),
        r"hx must be \(h, c\), each \(B, H\) or \(H,\) unbatched = \(3, 6\); got \(\(3, 6\), \(3, 7\)\)",
    ),
    "forward-empty": (
        lambda: lstm_forward(zeros(0, B, I), (zeros(B, H), zeros(B, H)), *tc.cell_weights(4)),
        r"x must be \(T, B, I\) with T >= 1; got \(0, 3, 4\)",
    ),
    "fast-x-rank": (
        lambda: lstm_forward_fast(zeros(T, I), (zeros(B, H), zeros(B, H)), *tc.cell_weights(4)),
        r"x must be \(T, B, I\) with T >= 1 and I = 4; got \(5, 4\)",
    ),
    "fast-state": (
        lambda: lstm_forward_fast(
            zeros(T, B, I).double(), (zeros(B, H), zeros(2, H)), *tc.cell_weights(4)
        ),
        r"state must be \(h0 \(B, P\), c0 \(B, H\)\) = \(\(3, 6\), \(3, 6\)\); got \(\(3, 6\), \(2, 6\)\)",
    ),
    "peephole-x": (
        lambda: PeepholeLSTM(I, H)(zeros(T, B, 7)),
        r"x must be \(T, B, I\) or \(T, I\) unbatched, with I = 4 \(batch_first=False\); got \(5, 3, 7\)",
    ),
    "peephole-state": (
        lambda: PeepholeLSTM(I, H)(zeros(T, B, I), (zeros(B, H), zeros(B, 2))),
        r"state must be \(h0, c0\), each \(B, H\) or \(H,\) unbatched = \(3, 6\); got \(\(3, 6\), \(3, 2\)\)",
    ),
    "peephole-empty": (
        lambda: PeepholeLSTM(I, H)(zeros(0, B, I)),
        r"x must have T >= 1 steps; got \(0, 3, 4\)",
    ),
}


test_bad_input_raises_value_error_naming_the_expected_shape = tc.raises_table(ERROR_CASES)
