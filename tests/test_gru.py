"""Specifications of coursekit.gru.

Each test names one behaviour. The reference sits on the other side of every assertion:
torch.nn.GRU / GRUCell with the same weights loaded, the readable loop (for the fast path),
a formula written out here, or torch.autograd.gradcheck.
"""

from __future__ import annotations

import math

import pytest
import torch

import coursekit.gru
from coursekit import GRU, GRUCell, gru_cell_step, gru_forward, gru_forward_fast
from tests import torch_compare as tc
from tests.torch_compare import B, H, I, T, assert_all_close, forward_and_grads, sequence, zeros

F64 = torch.float64

# --------------------------------------------------------------------------------------------
# coursekit.GRU == torch.nn.GRU on the fast path and on the readable loop, and GRUCell ==
# torch.nn.GRUCell: the shared specifications (tests/torch_compare.py)


class TestGRU(tc.RecurrentLayerSpecs):
    ours, reference = GRU, torch.nn.GRU

    @tc.GRID
    def test_gru_matches_torch(self, case, options, path):
        self.assert_matches_torch(case, options, path)

    @pytest.fixture(params=[True, False], ids=["fast", "loop"])
    def path(self, request):
        return {"fast": request.param}


def test_gru_runs_the_fast_path_by_default_and_the_loop_when_asked(monkeypatch):
    tc.assert_runs_the_fast_path_by_default(monkeypatch, GRU, coursekit.gru, "gru_forward_fast")


class TestGRUCell(tc.CellSpecs):
    ours, reference = GRUCell, torch.nn.GRUCell

    @tc.CELL_CASES
    def test_gru_cell_matches_torch(self, options, batched, bias, given_hx):
        self.assert_matches_torch(options, batched, bias, given_hx)


# --------------------------------------------------------------------------------------------
# the functional reference


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_step_matches_explicit_formula(bias):
    w_ih, w_hh, b_ih, b_hh = tc.cell_weights(3, bias=bias)
    x, h_prev = torch.randn(B, I, dtype=F64), torch.randn(B, H, dtype=F64)
    W = dict(zip("rzn", w_ih.split(H), strict=True))
    U = dict(zip("rzn", w_hh.split(H), strict=True))
    zero = torch.zeros(H, dtype=F64)
    b_i = dict(zip("rzn", b_ih.split(H) if bias else [zero] * 3, strict=True))
    b_h = dict(zip("rzn", b_hh.split(H) if bias else [zero] * 3, strict=True))
    r = tc.sigmoid(x @ W["r"].T + b_i["r"] + h_prev @ U["r"].T + b_h["r"])
    z = tc.sigmoid(x @ W["z"].T + b_i["z"] + h_prev @ U["z"].T + b_h["z"])
    n = torch.tanh(x @ W["n"].T + b_i["n"] + r * (h_prev @ U["n"].T + b_h["n"]))
    expected = (1 - z) * n + z * h_prev
    assert_all_close([gru_cell_step(x, h_prev, w_ih, w_hh, b_ih, b_hh)], [expected])


def test_gru_cell_step_matches_torch_gru_cell():
    reference = torch.nn.GRUCell(I, H, dtype=F64)
    x, h_prev = torch.randn(B, I, dtype=F64), torch.randn(B, H, dtype=F64)
    weights = (reference.weight_ih, reference.weight_hh, reference.bias_ih, reference.bias_hh)
    assert_all_close([gru_cell_step(x, h_prev, *weights)], [reference(x, h_prev)])


def test_gru_cell_step_unbatched_equals_one_row_of_a_batch():
    weights = tc.cell_weights(3)
    x, h_prev = torch.randn(B, I, dtype=F64), torch.randn(B, H, dtype=F64)
    row = gru_cell_step(x[1], h_prev[1], *weights)
    assert row.shape == (H,)
    assert_all_close([row], [gru_cell_step(x, h_prev, *weights)[1]])


def test_gru_cell_step_hand_computed_scalar_case():
    # I = H = 1; W_ih rows (r, z, n) = (1, -1, 2), W_hh rows all 0.5, b_hn = 0.25, other biases 0
    w_ih = torch.tensor([[1.0], [-1.0], [2.0]], dtype=F64)
    w_hh = torch.full((3, 1), 0.5, dtype=F64)
    b_hh = torch.tensor([0.0, 0.0, 0.25], dtype=F64)
    x, h_prev = 0.5, -1.0
    r = 1 / (1 + math.exp(-(1.0 * x + 0.5 * h_prev)))
    z = 1 / (1 + math.exp(-(-1.0 * x + 0.5 * h_prev)))
    n = math.tanh(2.0 * x + r * (0.5 * h_prev + 0.25))
    h = gru_cell_step(
        torch.tensor([[x]], dtype=F64), torch.tensor([[h_prev]], dtype=F64), w_ih, w_hh, None, b_hh
    )
    assert h.item() == pytest.approx((1 - z) * n + z * h_prev, abs=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_gru_forward_matches_torch_one_layer(bias):
    reference = torch.nn.GRU(I, H, bias=bias, dtype=F64)
    x, h0 = torch.randn(T, B, I, dtype=F64), torch.randn(B, H, dtype=F64)
    output, h_n = gru_forward(x, h0, *tc.layer_weights(reference))
    expected_output, expected_h_n = reference(x, h0[None])
    assert_all_close([output, h_n], [expected_output, expected_h_n[0]])


# --------------------------------------------------------------------------------------------
# the fast path == the readable loop


def reference_and_fast(tensors):
    """Values and gradients (w.r.t. every tensor argument) of gru_forward and gru_forward_fast."""
    return [forward_and_grads(f, *tensors, seed=2) for f in (gru_forward, gru_forward_fast)]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("steps", "batch"), [(T, B), (1, B), (T, 1), (1, 1), (60, 2)])
def test_gru_forward_fast_equals_reference_loop(bias, steps, batch):
    tensors = [
        torch.randn(steps, batch, I, dtype=F64),
        torch.randn(batch, H, dtype=F64),
        *tc.cell_weights(3, bias=bias),
    ]
    reference, fast = reference_and_fast(tensors)
    assert_all_close(fast, reference)


def test_gru_forward_fast_float32_equals_reference_loop(products):
    tensors = [torch.randn(T, B, I), torch.randn(B, H), *(w.float() for w in tc.cell_weights(3))]
    reference, fast = reference_and_fast(tensors)
    assert_all_close(fast, reference, torch.float32)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_float32_matches_torch_with_either_product(products, bidirectional):
    kwargs = {"num_layers": 2, "bidirectional": bidirectional}
    ours, reference = tc.make_pair(GRU, torch.nn.GRU, I, H, dtype=torch.float32, **kwargs)
    x, hx = sequence(dtype=torch.float32), tc.initial_state(2, bidirectional, dtype=torch.float32)
    expected = forward_and_grads(reference, x, hx)
    assert_all_close(forward_and_grads(ours, x, hx), expected, torch.float32)


def test_gru_forward_fast_passes_gradcheck():
    tensors = [
        t.requires_grad_()
        for t in (
            torch.randn(3, 2, I, dtype=F64),
            torch.randn(2, H, dtype=F64),
            *tc.cell_weights(3),
        )
    ]
    assert torch.autograd.gradcheck(gru_forward_fast, tensors)


# --------------------------------------------------------------------------------------------
# errors for people: every ValueError names the expected shape and what it got


ERROR_CASES = {
    "gru-hx-shape": (
        lambda: GRU(I, H, bidirectional=True)(zeros(T, B, I), zeros(1, B, H)),
        r"hx must be \(D\*num_layers, B, H\) = \(2, 3, 6\); got \(1, 3, 6\)",
    ),
    "gru-hx-batched-for-unbatched": (
        lambda: GRU(I, H, 2)(zeros(T, I), zeros(2, 1, H)),
        r"hx must be \(D\*num_layers, H\) for unbatched input = \(2, 6\); got \(2, 1, 6\)",
    ),
    "cell-hx": (
        lambda: GRUCell(I, H)(zeros(B, I), zeros(B, H + 1)),
        r"hx must be \(B, H\) or \(H,\) unbatched = \(3, 6\); got \(3, 7\)",
    ),
    "forward-empty": (
        lambda: gru_forward(zeros(0, B, I), zeros(B, H), *tc.cell_weights(3)),
        r"x must be \(T, B, I\) with T >= 1; got \(0, 3, 4\)",
    ),
    "fast-x-feature-size": (
        lambda: gru_forward_fast(zeros(T, B, 7), zeros(B, H), *tc.cell_weights(3)),
        r"x must be \(T, B, I\) with T >= 1 and I = 4; got \(5, 3, 7\)",
    ),
    "fast-h0": (
        lambda: gru_forward_fast(zeros(T, B, I), zeros(1, B, H), *tc.cell_weights(3)),
        r"h0 must be \(B, H\) = \(3, 6\); got \(1, 3, 6\)",
    ),
}


test_bad_input_raises_value_error_naming_the_expected_shape = tc.raises_table(ERROR_CASES)
