"""Specifications of coursekit.gru.

Each test names one behaviour. The reference sits on the other side of every assertion:
torch.nn.GRU / GRUCell with the same weights loaded, the readable loop (for the fast path),
a formula written out here, or torch.autograd.gradcheck.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import coursekit._fused
import coursekit.gru
from coursekit import GRU, GRUCell, gru_cell_step, gru_forward, gru_forward_fast
from tests.torch_compare import assert_all_close

T, B, I, H = 5, 3, 4, 6  # noqa: E741 (the glossary's names)
F64 = torch.float64


def gru_pair(dtype=F64, fast=True, **kwargs):
    """torch.nn.GRU and coursekit.GRU with torch's weights loaded (strict)."""
    reference = torch.nn.GRU(I, H, dtype=dtype, **kwargs)
    ours = GRU(I, H, dtype=dtype, fast=fast, **kwargs)
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


def sequence(batched, batch_first=False, dtype=F64):
    if not batched:
        return torch.randn(T, I, dtype=dtype)
    return torch.randn((B, T, I) if batch_first else (T, B, I), dtype=dtype)


# --------------------------------------------------------------------------------------------
# coursekit.GRU == torch.nn.GRU, on the fast path and on the readable loop

GRID = list(
    itertools.product([1, 2, 3], [False, True], [False, True], [True, False], [True, False])
)
GRID_IDS = [
    f"L{L}-{'bi' if bi else 'uni'}-{'bf' if bf else 'tf'}-{'bias' if b else 'nobias'}-"
    f"{'batched' if bt else 'unbatched'}"
    for L, bi, bf, b, bt in GRID
]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("num_layers", "bidirectional", "batch_first", "bias", "batched"), GRID, ids=GRID_IDS
)
def test_gru_matches_torch_values_and_gradients(
    fast, dtype, num_layers, bidirectional, batch_first, bias, batched
):
    ours, reference = gru_pair(
        dtype,
        fast,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        bias=bias,
    )
    x = sequence(batched, batch_first, dtype)
    D = 2 if bidirectional else 1
    hx = torch.randn((D * num_layers, B, H) if batched else (D * num_layers, H), dtype=dtype)
    assert_all_close(forward_and_grads(ours, x, hx), forward_and_grads(reference, x, hx), dtype)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_gru_without_hx_matches_torch_zero_initial_state(fast, bidirectional, batch_first, batched):
    ours, reference = gru_pair(
        fast=fast, num_layers=2, bidirectional=bidirectional, batch_first=batch_first
    )
    x = sequence(batched, batch_first)
    assert_all_close(forward_and_grads(ours, x, None), forward_and_grads(reference, x, None))


def test_gru_runs_the_fast_path_by_default_and_the_loop_when_asked(monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append("fast")
        return gru_forward_fast(*args, **kwargs)

    monkeypatch.setattr(coursekit.gru, "gru_forward_fast", counting)
    ours = GRU(I, H, num_layers=2, bidirectional=True)
    ours(sequence(batched=True, dtype=torch.float32))
    assert calls == ["fast"] * 4  # two layers, two directions
    ours.fast = False
    ours(sequence(batched=True, dtype=torch.float32))
    assert calls == ["fast"] * 4


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_parameter_names_order_and_shapes_match_torch(num_layers, bidirectional, bias):
    ours = GRU(I, H, num_layers, bias=bias, bidirectional=bidirectional)
    reference = torch.nn.GRU(I, H, num_layers, bias=bias, bidirectional=bidirectional)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]


def test_torch_gru_loads_our_state_dict():
    ours = GRU(I, H, num_layers=2, bidirectional=True)
    reference = torch.nn.GRU(I, H, num_layers=2, bidirectional=True)
    reference.load_state_dict(ours.state_dict())  # strict
    x = torch.randn(T, B, I)
    assert_all_close(ours(x), reference(x), torch.float32)


def test_gru_init_is_uniform_within_one_over_sqrt_hidden_like_torch():
    bound = 1 / math.sqrt(100)
    for name, p in GRU(I, 100, num_layers=2, bidirectional=True).named_parameters():
        assert 0.9 * bound < p.abs().max() <= bound, name


def test_gru_constructor_dtype_sets_parameter_dtype():
    assert all(p.dtype == F64 for p in GRU(I, H, num_layers=2, dtype=F64).parameters())


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
def test_gru_without_grad_matches_torch(fast):
    ours, reference = gru_pair(fast=fast, num_layers=2, bidirectional=True)
    x = sequence(batched=True)
    with torch.no_grad():
        assert_all_close(ours(x), reference(x))


# --------------------------------------------------------------------------------------------
# dropout


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
def test_gru_eval_mode_with_dropout_matches_torch_eval_mode(fast):
    ours, reference = gru_pair(fast=fast, num_layers=3, dropout=0.5, bidirectional=True)
    x = sequence(batched=True)
    assert_all_close(ours.eval()(x), reference.eval()(x))


def test_gru_train_mode_dropout_between_layers_changes_output():
    ours, _ = gru_pair(num_layers=2, dropout=0.5)
    x = sequence(batched=True)
    assert not torch.allclose(ours.train()(x)[0], ours.eval()(x)[0])


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
def test_gru_dropout_one_in_training_zeroes_next_layer_input_like_torch(fast):
    ours, reference = gru_pair(fast=fast, num_layers=3, dropout=1.0, bidirectional=True)
    x = sequence(batched=True)
    assert_all_close(ours.train()(x), reference.train()(x))


def test_gru_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        torch.nn.GRU(I, H, dropout=0.5)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        GRU(I, H, dropout=0.5)


# --------------------------------------------------------------------------------------------
# GRUCell == torch.nn.GRUCell


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_hx", [True, False])
def test_gru_cell_matches_torch(batched, bias, given_hx):
    reference = torch.nn.GRUCell(I, H, bias=bias, dtype=F64)
    ours = GRUCell(I, H, bias=bias, dtype=F64)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn((B, I) if batched else (I,), dtype=F64)
    hx = torch.randn((B, H) if batched else (H,), dtype=F64) if given_hx else None

    def run(cell):
        inputs = [x.clone().requires_grad_()] + ([hx.clone().requires_grad_()] if given_hx else [])
        h = cell(*inputs)
        upstream = torch.linspace(-1, 1, h.numel(), dtype=h.dtype).reshape(h.shape)
        return [h, *torch.autograd.grad(h, [*inputs, *cell.parameters()], upstream)]

    assert_all_close(run(ours), run(reference))


def test_gru_cell_parameter_names_and_shapes_match_torch():
    assert [(n, p.shape) for n, p in GRUCell(I, H).named_parameters()] == [
        (n, p.shape) for n, p in torch.nn.GRUCell(I, H).named_parameters()
    ]


# --------------------------------------------------------------------------------------------
# the functional reference


def random_weights(bias=True):
    return [
        torch.randn(3 * H, I, dtype=F64),
        torch.randn(3 * H, H, dtype=F64) / H,
        torch.randn(3 * H, dtype=F64) if bias else None,
        torch.randn(3 * H, dtype=F64) if bias else None,
    ]


def sigmoid(v):
    return 1 / (1 + torch.exp(-v))


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_step_matches_explicit_formula(bias):
    w_ih, w_hh, b_ih, b_hh = random_weights(bias)
    x, h_prev = torch.randn(B, I, dtype=F64), torch.randn(B, H, dtype=F64)
    W = dict(zip("rzn", w_ih.split(H), strict=True))
    U = dict(zip("rzn", w_hh.split(H), strict=True))
    zero = torch.zeros(H, dtype=F64)
    b_i = dict(zip("rzn", b_ih.split(H) if bias else [zero] * 3, strict=True))
    b_h = dict(zip("rzn", b_hh.split(H) if bias else [zero] * 3, strict=True))
    r = sigmoid(x @ W["r"].T + b_i["r"] + h_prev @ U["r"].T + b_h["r"])
    z = sigmoid(x @ W["z"].T + b_i["z"] + h_prev @ U["z"].T + b_h["z"])
    n = torch.tanh(x @ W["n"].T + b_i["n"] + r * (h_prev @ U["n"].T + b_h["n"]))
    expected = (1 - z) * n + z * h_prev
    assert_all_close([gru_cell_step(x, h_prev, w_ih, w_hh, b_ih, b_hh)], [expected])


def test_gru_cell_step_matches_torch_gru_cell():
    reference = torch.nn.GRUCell(I, H, dtype=F64)
    x, h_prev = torch.randn(B, I, dtype=F64), torch.randn(B, H, dtype=F64)
    weights = (reference.weight_ih, reference.weight_hh, reference.bias_ih, reference.bias_hh)
    assert_all_close([gru_cell_step(x, h_prev, *weights)], [reference(x, h_prev)])


def test_gru_cell_step_unbatched_equals_one_row_of_a_batch():
    weights = random_weights()
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
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    weights = [getattr(reference, f"{n}_l0", None) for n in names]
    output, h_n = gru_forward(x, h0, *weights)
    expected_output, expected_h_n = reference(x, h0[None])
    assert_all_close([output, h_n], [expected_output, expected_h_n[0]])


# --------------------------------------------------------------------------------------------
# the fast path == the readable loop


def reference_and_fast(tensors, upstream_seed=2):
    """Values and gradients (w.r.t. every tensor argument) of gru_forward and gru_forward_fast."""

    def run(forward):
        args = [a.detach().clone().requires_grad_() if a is not None else None for a in tensors]
        output, h_n = forward(*args)
        generator = torch.Generator().manual_seed(upstream_seed)
        upstream = [torch.randn(t.shape, generator=generator, dtype=t.dtype) for t in (output, h_n)]
        inputs = [a for a in args if a is not None]
        return [output, h_n, *torch.autograd.grad((output, h_n), inputs, upstream)]

    return run(gru_forward), run(gru_forward_fast)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("steps", "batch"), [(T, B), (1, B), (T, 1), (1, 1), (60, 2)])
def test_gru_forward_fast_equals_reference_loop(bias, steps, batch):
    tensors = [
        torch.randn(steps, batch, I, dtype=F64),
        torch.randn(batch, H, dtype=F64),
        *random_weights(bias),
    ]
    reference, fast = reference_and_fast(tensors)
    assert_all_close(fast, reference)


@pytest.fixture(
    params=[
        pytest.param(
            "onednn",
            marks=pytest.mark.skipif(
                not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN"
            ),
        ),
        "torch.mm",
    ]
)
def products(request, monkeypatch):
    """Run float32 CPU products through oneDNN at any size, or never (the two branches)."""
    threshold = 0 if request.param == "onednn" else math.inf
    monkeypatch.setattr(coursekit._fused, "_ONEDNN_MIN_MACS", threshold)
    return request.param


def test_gru_forward_fast_float32_equals_reference_loop(products):
    tensors = [torch.randn(T, B, I), torch.randn(B, H), *(w.float() for w in random_weights())]
    reference, fast = reference_and_fast(tensors)
    assert_all_close(fast, reference, torch.float32)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_float32_matches_torch_with_either_product(products, bidirectional):
    ours, reference = gru_pair(torch.float32, num_layers=2, bidirectional=bidirectional)
    x = sequence(batched=True, dtype=torch.float32)
    hx = torch.randn(2 * (2 if bidirectional else 1), B, H)
    assert_all_close(
        forward_and_grads(ours, x, hx), forward_and_grads(reference, x, hx), torch.float32
    )


def test_gru_forward_fast_passes_gradcheck():
    tensors = [
        t.requires_grad_()
        for t in (torch.randn(3, 2, I, dtype=F64), torch.randn(2, H, dtype=F64), *random_weights())
    ]
    assert torch.autograd.gradcheck(gru_forward_fast, tensors)


# --------------------------------------------------------------------------------------------
# errors for people: every ValueError names the expected shape and what it got


def _bad(shape):
    return torch.zeros(shape)


ERROR_CASES = {
    "gru-rank": (
        lambda: GRU(8, H)(_bad((5,))),
        r"input must be \(T, B, I\) or \(T, I\) unbatched, with I = 8 \(batch_first=False\); got \(5,\)",
    ),
    "gru-batch-first-layout": (
        lambda: GRU(8, H, batch_first=True)(_bad((3, 4, 5))),
        r"input must be \(B, T, I\) or \(T, I\) unbatched, with I = 8 \(batch_first=True\); got \(3, 4, 5\)",
    ),
    "gru-empty-sequence": (lambda: GRU(I, H)(_bad((0, B, I))), r"T >= 1; got \(0, 3, 4\)"),
    "gru-hx-shape": (
        lambda: GRU(I, H, bidirectional=True)(_bad((T, B, I)), _bad((1, B, H))),
        r"hx must be \(D\*num_layers, B, H\) = \(2, 3, 6\); got \(1, 3, 6\)",
    ),
    "gru-hx-batched-for-unbatched": (
        lambda: GRU(I, H, 2)(_bad((T, I)), _bad((2, 1, H))),
        r"hx must be \(D\*num_layers, H\) for unbatched input = \(2, 6\); got \(2, 1, 6\)",
    ),
    "gru-hidden-size": (lambda: GRU(I, 0), r"hidden_size must be an integer >= 1; got 0"),
    "gru-dropout": (
        lambda: GRU(I, H, 2, dropout=-0.1),
        r"dropout must be a number in \[0, 1\]; got -0.1",
    ),
    "cell-rank": (
        lambda: GRUCell(I, H)(_bad((T, B, I))),
        r"input must be \(B, I\) or \(I,\) unbatched, with I = 4; got \(5, 3, 4\)",
    ),
    "cell-hx": (
        lambda: GRUCell(I, H)(_bad((B, I)), _bad((B, H + 1))),
        r"hx must be \(B, H\) or \(H,\) unbatched = \(3, 6\); got \(3, 7\)",
    ),
    "forward-empty": (
        lambda: gru_forward(_bad((0, B, I)), _bad((B, H)), *random_weights()),
        r"x must be \(T, B, I\) with T >= 1; got \(0, 3, 4\)",
    ),
    "fast-x-feature-size": (
        lambda: gru_forward_fast(_bad((T, B, 7)), _bad((B, H)), *random_weights()),
        r"x must be \(T, B, I\) with T >= 1 and I = 4; got \(5, 3, 7\)",
    ),
    "fast-h0": (
        lambda: gru_forward_fast(_bad((T, B, I)), _bad((1, B, H)), *random_weights()),
        r"h0 must be \(B, H\) = \(3, 6\); got \(1, 3, 6\)",
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
@pytest.mark.parametrize("dtype", [F64, torch.float32], ids=["float64", "float32"])
def test_gru_on_cuda_matches_torch_on_cuda(fast, dtype):
    ours, reference = gru_pair(dtype, fast, num_layers=2, bidirectional=True, batch_first=True)
    ours, reference = ours.to("cuda"), reference.to("cuda")
    x = sequence(batched=True, batch_first=True, dtype=dtype).to("cuda")
    hx = torch.randn(4, B, H, dtype=dtype, device="cuda")
    actual = forward_and_grads(ours, x, hx)
    expected = forward_and_grads(reference, x, hx)
    assert actual[0].device.type == "cuda"
    assert_all_close([t.cpu() for t in actual], [t.cpu() for t in expected], dtype)
