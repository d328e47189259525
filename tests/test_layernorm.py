"""Specifications of coursekit.layernorm and coursekit.layernorm_rnn.

Each test names one behaviour. On the other side of every assertion: torch.nn.functional.
layer_norm / torch.nn.LayerNorm, autograd (for the hand-written backward), per-gate formulas of
Ba et al.'s LN-LSTM and an LN-GRU written here with separate W_ii, W_if ... matrices and
F.layer_norm, or torch.autograd.gradcheck.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from coursekit.layernorm import LayerNorm, layer_norm, layer_norm_backward, layer_norm_forward
from coursekit.layernorm_rnn import (
    LayerNormGRU,
    LayerNormGRUCell,
    LayerNormLSTM,
    LayerNormLSTMCell,
    layer_norm_gru_step,
    layer_norm_lstm_step,
)
from tests import torch_compare as tc
from tests.torch_compare import B, H, I, T, assert_all_close, forward_and_grads, sequence

F64, F32 = torch.float64, torch.float32
SHAPES = pytest.mark.parametrize("normalized_shape", [(5,), (4, 5), (3, 4, 5)], ids=str)
AFFINE = pytest.mark.parametrize("affine", ["none", "weight", "weight+bias"])


def affine_parameters(affine, shape, dtype):
    weight = torch.randn(shape, dtype=dtype) if affine != "none" else None
    bias = torch.randn(shape, dtype=dtype) if affine == "weight+bias" else None
    return weight, bias


# --------------------------------------------------------------------------------------------
# layer_norm == F.layer_norm, and the manual backward == autograd: Eq. (7.1)-(7.7)


@SHAPES
@AFFINE
@tc.DTYPES
def test_layer_norm_matches_torch_functional(normalized_shape, affine, dtype):
    x = 3 * torch.randn(2, 3, 4, 5, dtype=dtype) + 1
    weight, bias = affine_parameters(affine, normalized_shape, dtype)

    def ours(x, w, b):
        return layer_norm(x, normalized_shape, w, b, eps=1e-5)

    def reference(x, w, b):
        return F.layer_norm(x, normalized_shape, w, b, eps=1e-5)

    actual = forward_and_grads(ours, x, weight, bias)
    assert_all_close(actual, forward_and_grads(reference, x, weight, bias), dtype)


@SHAPES
@AFFINE
@tc.DTYPES
def test_manual_backward_equals_autograd(normalized_shape, affine, dtype):
    x = (2 * torch.randn(2, 3, 4, 5, dtype=dtype)).requires_grad_()
    weight, bias = affine_parameters(affine, normalized_shape, dtype)
    leaves = [x, *(p.requires_grad_() for p in (weight, bias) if p is not None)]
    expected_y = F.layer_norm(x, normalized_shape, weight, bias)
    grad_output = torch.randn_like(expected_y)
    expected = torch.autograd.grad(expected_y, leaves, grad_output)
    with torch.no_grad():
        y, cache = layer_norm_forward(x, normalized_shape, weight, bias)
        dx, dweight, dbias = layer_norm_backward(grad_output, cache)
    actual = [dx, *(g for g in (dweight, dbias) if g is not None)]
    assert dweight is None if weight is None else dweight.shape == weight.shape
    assert dbias is None if bias is None else dbias.shape == bias.shape
    assert_all_close([y, *actual], [expected_y, *expected], dtype)


def test_manual_backward_over_every_dim_and_with_leading_ones():
    for x in (torch.randn(4, 5, dtype=F64), torch.randn(1, 1, 5, dtype=F64)):
        shape = x.shape if x.dim() == 2 else (5,)
        weight, bias = torch.randn(shape, dtype=F64), torch.randn(shape, dtype=F64)
        leaves = [t.requires_grad_() for t in (x, weight, bias)]
        y = F.layer_norm(x, shape, weight, bias)
        grad_output = torch.randn_like(y)
        expected = torch.autograd.grad(y, leaves, grad_output)
        _, cache = layer_norm_forward(x.detach(), shape, weight.detach(), bias.detach())
        assert_all_close(layer_norm_backward(grad_output, cache), expected)


def test_each_example_is_normalised_alone_unlike_batch_norm():
    """Row b's output depends on row b only: a batch of one gives the same row."""
    x = torch.randn(B, 7, dtype=F64)
    alone = torch.cat([layer_norm(x[b : b + 1], (7,)) for b in range(B)])
    torch.testing.assert_close(layer_norm(x, (7,)), alone, rtol=0, atol=1e-15)


# --------------------------------------------------------------------------------------------
# LayerNorm == torch.nn.LayerNorm


@pytest.mark.parametrize(
    "options",
    [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}],
    ids=["affine", "no-affine", "no-bias", "eps"],
)
@pytest.mark.parametrize("normalized_shape", [5, (4, 5)], ids=str)
@tc.DTYPES
def test_layer_norm_module_matches_torch(options, normalized_shape, dtype):
    ours, reference = tc.make_pair(
        LayerNorm, torch.nn.LayerNorm, normalized_shape, dtype=dtype, **options
    )
    with torch.no_grad():  # not ones and zeros, so a swapped weight and bias would show
        for p in reference.parameters():
            p.normal_()
    ours.load_state_dict(reference.state_dict())
    tc.assert_same_parameters(ours, reference)
    assert repr(ours) == repr(reference)
    x = torch.randn(3, 4, 5, dtype=dtype)
    assert_all_close(forward_and_grads(ours, x), forward_and_grads(reference, x), dtype)


def test_torch_loads_our_layer_norm_state_dict_and_our_init_is_torch_init():
    ours, reference = LayerNorm((4, 5)), torch.nn.LayerNorm((4, 5))
    assert_all_close(list(ours.state_dict().values()), list(reference.state_dict().values()), F32)
    with torch.no_grad():
        ours.weight.normal_()
    reference.load_state_dict(ours.state_dict())  # strict
    x = torch.randn(3, 4, 5)
    assert_all_close([ours(x)], [reference(x)], F32)


# --------------------------------------------------------------------------------------------
# LN-LSTM and LN-GRU steps == per-gate formulas: Eq. (7.8)-(7.13)


def per_gate_lstm_step(x, h, c, p, eps=1e-5):
    """Ba et al. (2016), eq. (20)-(22), with one matrix per gate and F.layer_norm over the four
    gates' input (and, separately, recurrent) pre-activations."""
    W_ii, W_if, W_ig, W_io = p["weight_ih"].chunk(4)
    W_hi, W_hf, W_hg, W_ho = p["weight_hh"].chunk(4)
    x_terms = torch.cat([x @ W_ii.T, x @ W_if.T, x @ W_ig.T, x @ W_io.T], dim=-1)
    h_terms = torch.cat([h @ W_hi.T, h @ W_hf.T, h @ W_hg.T, h @ W_ho.T], dim=-1)
    n = 4 * c.shape[-1]
    z = F.layer_norm(x_terms, (n,), p["ln_ih_weight"], p["ln_ih_bias"], eps)
    z = z + F.layer_norm(h_terms, (n,), p["ln_hh_weight"], p["ln_hh_bias"], eps)
    if p.get("bias_ih") is not None:
        z = z + p["bias_ih"] + p["bias_hh"]
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i, f, g, o = tc.sigmoid(z_i), tc.sigmoid(z_f), torch.tanh(z_g), tc.sigmoid(z_o)
    c = f * c + i * g
    normed = F.layer_norm(c, (c.shape[-1],), p["ln_cell_weight"], p["ln_cell_bias"], eps)
    return o * torch.tanh(normed), c


def per_gate_gru_step(x, h, p, eps=1e-5):
    """The LN-GRU: F.layer_norm over the three gates' input and recurrent pre-activations,
    then torch's GRU (b_hn inside the reset product)."""
    W_ir, W_iz, W_in = p["weight_ih"].chunk(3)
    W_hr, W_hz, W_hn = p["weight_hh"].chunk(3)
    n3 = 3 * h.shape[-1]
    a = F.layer_norm(
        torch.cat([x @ W_ir.T, x @ W_iz.T, x @ W_in.T], -1),
        (n3,),
        p["ln_ih_weight"],
        p["ln_ih_bias"],
        eps,
    )
    u = F.layer_norm(
        torch.cat([h @ W_hr.T, h @ W_hz.T, h @ W_hn.T], -1),
        (n3,),
        p["ln_hh_weight"],
        p["ln_hh_bias"],
        eps,
    )
    if p.get("bias_ih") is not None:
        a, u = a + p["bias_ih"], u + p["bias_hh"]
    (a_r, a_z, a_n), (u_r, u_z, u_n) = a.chunk(3, -1), u.chunk(3, -1)
    r, z = tc.sigmoid(a_r + u_r), tc.sigmoid(a_z + u_z)
    return (1 - z) * torch.tanh(a_n + r * u_n) + z * h


class Holding(torch.nn.Module):
    """``function`` as a module whose parameters are ``module``'s, in order (for
    forward_and_grads: values, input gradients and every parameter gradient)."""

    def __init__(self, module, function):
        super().__init__()
        self.module, self.function = module, function

    def forward(self, *inputs):
        return self.function(*inputs)


def random_parameters(module):
    """Every parameter of ``module`` redrawn from N(0, 1): γ and β no longer 1 and 0."""
    with torch.no_grad():
        for p in module.parameters():
            p.normal_()
    return module


def cell_parameters(cell):
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    names += [n for n, _ in cell.named_parameters() if n.startswith("ln_")]
    return {n: getattr(cell, n) for n in names}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_layer_norm_lstm_cell_matches_per_gate_formula(bias, batched):
    cell = random_parameters(LayerNormLSTMCell(I, H, bias=bias, dtype=F64))
    x = torch.randn((B, I) if batched else (I,), dtype=F64)
    h, c = (torch.randn((B, H) if batched else (H,), dtype=F64) for _ in range(2))
    reference = Holding(cell, lambda x, hc: per_gate_lstm_step(x, *hc, cell_parameters(cell)))
    assert_all_close(forward_and_grads(cell, x, (h, c)), forward_and_grads(reference, x, (h, c)))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_layer_norm_gru_cell_matches_per_gate_formula(bias, batched):
    cell = random_parameters(LayerNormGRUCell(I, H, bias=bias, dtype=F64))
    x = torch.randn((B, I) if batched else (I,), dtype=F64)
    h = torch.randn((B, H) if batched else (H,), dtype=F64)
    reference = Holding(cell, lambda x, h: per_gate_gru_step(x, h, cell_parameters(cell)))
    assert_all_close(forward_and_grads(cell, x, h), forward_and_grads(reference, x, h))


def test_layer_norm_lstm_step_passes_gradcheck():
    cell = random_parameters(LayerNormLSTMCell(3, 2, dtype=F64))
    inputs = (
        torch.randn(2, 3, dtype=F64),
        torch.randn(2, 2, dtype=F64),
        torch.randn(2, 2, dtype=F64),
    )
    params = list(cell_parameters(cell).values())
    leaves = [t.detach().requires_grad_() for t in (*inputs, *params)]

    def step(x, h, c, w_ih, w_hh, b_ih, b_hh, g_ih, be_ih, g_hh, be_hh, g_c, be_c):
        norms = ((g_ih, be_ih), (g_hh, be_hh), (g_c, be_c))
        return layer_norm_lstm_step(x, (h, c), w_ih, w_hh, b_ih, b_hh, *norms)

    assert torch.autograd.gradcheck(step, leaves)


def test_layer_norm_gru_step_passes_gradcheck():
    cell = random_parameters(LayerNormGRUCell(3, 2, dtype=F64))
    inputs = (torch.randn(2, 3, dtype=F64), torch.randn(2, 2, dtype=F64))
    params = list(cell_parameters(cell).values())
    leaves = [t.detach().requires_grad_() for t in (*inputs, *params)]

    def step(x, h, w_ih, w_hh, b_ih, b_hh, g_ih, be_ih, g_hh, be_hh):
        return layer_norm_gru_step(x, h, w_ih, w_hh, b_ih, b_hh, (g_ih, be_ih), (g_hh, be_hh))

    assert torch.autograd.gradcheck(step, leaves)


def test_layer_norm_lstm_is_invariant_to_rescaling_its_weight_matrices():
    """Ba et al., sec. 5: LN(a v) = LN(v) for a > 0 (exactly with eps = 0), so scaling W_ih
    and W_hh changes nothing; without the norms it would change everything."""
    cell = random_parameters(LayerNormLSTMCell(I, H, dtype=F64))
    p = cell_parameters(cell)
    x, h, c = (
        torch.randn(B, I, dtype=F64),
        torch.randn(B, H, dtype=F64),
        torch.randn(B, H, dtype=F64),
    )
    scaled = {**p, "weight_ih": 7.0 * p["weight_ih"], "weight_hh": 0.3 * p["weight_hh"]}

    def step(q):
        norms = [(q[f"ln_{n}_weight"], q[f"ln_{n}_bias"]) for n in ("ih", "hh", "cell")]
        weights = [q[n] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        return layer_norm_lstm_step(x, (h, c), *weights, *norms, eps=0.0)

    with torch.no_grad():
        expected, actual = step(p), step(scaled)
    assert_all_close(actual, expected)


def test_the_cells_have_torch_cell_parameters_first_and_load_its_state_dict():
    for ours, reference, gates in (
        (LayerNormLSTMCell(I, H), torch.nn.LSTMCell(I, H), 4),
        (LayerNormGRUCell(I, H), torch.nn.GRUCell(I, H), 3),
    ):
        names = [n for n, _ in ours.named_parameters()]
        assert names[:4] == [n for n, _ in reference.named_parameters()]
        loaded = ours.load_state_dict(reference.state_dict(), strict=False)
        assert loaded.unexpected_keys == [] and set(loaded.missing_keys) == set(names[4:])
        for n in names[4:]:  # γ = 1, β = 0: the norms start as pure normalisations
            size = H if "cell" in n else gates * H
            expected = torch.ones(size) if "_weight" in n else torch.zeros(size)
            torch.testing.assert_close(getattr(ours, n).detach(), expected, rtol=0, atol=0)


# --------------------------------------------------------------------------------------------
# the stacked layers == loops of the per-gate formulas


def reference_stack(layer, x, kind):
    """Layers bottom-up, each direction a loop of the per-gate step from zeros (the reverse
    one from T-1 down). x (T, B, I) -> (output (T, B, D*H), final h's stacked)."""
    D = 2 if layer.bidirectional else 1
    steps, batch = x.shape[:2]
    layer_input, finals = x, []
    for k in range(layer.num_layers):
        outputs = []
        for direction in range(D):
            suffix = f"_l{k}" + ("_reverse" if direction else "")
            p = {n[: -len(suffix)]: v for n, v in layer.named_parameters() if n.endswith(suffix)}
            h = c = x.new_zeros(batch, layer.hidden_size)
            out = [None] * steps
            for t in reversed(range(steps)) if direction else range(steps):
                if kind == "LSTM":
                    h, c = per_gate_lstm_step(layer_input[t], h, c, p)
                else:
                    h = per_gate_gru_step(layer_input[t], h, p)
                out[t] = h
            outputs.append(torch.stack(out))
            finals.append(h)
        layer_input = torch.cat(outputs, dim=-1)
    return layer_input, torch.stack(finals)


@pytest.mark.parametrize(("kind", "cls"), [("LSTM", LayerNormLSTM), ("GRU", LayerNormGRU)])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (2, True)])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_layers_match_loops_of_the_per_gate_formula(
    kind, cls, num_layers, bidirectional, batch_first, bias
):
    options = {"bidirectional": bidirectional, "batch_first": batch_first, "bias": bias}
    layer = random_parameters(cls(I, H, num_layers, dtype=F64, **options))
    x = sequence(True, batch_first)

    def reference(x):
        time_major = x.transpose(0, 1) if batch_first else x
        output, h_n = reference_stack(layer, time_major, kind)
        return output.transpose(0, 1) if batch_first else output, h_n

    def ours(x):
        output, state = layer(x)
        return output, state[0] if kind == "LSTM" else state

    actual = forward_and_grads(Holding(layer, ours), x)
    assert_all_close(actual, forward_and_grads(Holding(layer, reference), x))


def test_layer_norm_lstm_takes_torch_layout_states_and_unbatched_input():
    layer = random_parameters(LayerNormLSTM(I, H, 2, dtype=F64))
    x = sequence(batched=False)  # (T, I)
    output, (h_n, c_n) = layer(x)
    batched_output, (batched_h, batched_c) = layer(x.unsqueeze(1))
    assert output.shape == (T, H) and h_n.shape == c_n.shape == (2, H)
    assert_all_close([output, h_n, c_n], [batched_output[:, 0], batched_h[:, 0], batched_c[:, 0]])
    hx = (tc.initial_state(2), tc.initial_state(2))
    output, (h_n, c_n) = layer(sequence(), hx)
    assert output.shape == (T, B, H) and h_n.shape == c_n.shape == (2, B, H)


def test_torch_lstm_state_dict_loads_into_the_layer_norm_lstm_without_strict():
    ours, reference = (
        LayerNormLSTM(I, H, 2, bidirectional=True),
        torch.nn.LSTM(I, H, 2, bidirectional=True),
    )
    loaded = ours.load_state_dict(reference.state_dict(), strict=False)
    assert loaded.unexpected_keys == []
    assert all(n.startswith("ln_") for n in loaded.missing_keys)
    torch_names = [n for n, _ in reference.named_parameters()]
    assert [n for n, _ in ours.named_parameters() if not n.startswith("ln_")] == torch_names


# --------------------------------------------------------------------------------------------
# errors

test_bad_arguments_raise_value_error_naming_the_expected_shape = tc.raises_table(
    {
        "x-trailing": (
            lambda: layer_norm(torch.ones(3, 4), (5,)),
            r"x must end in normalized_shape \(\.\.\., 5\); got \(3, 4\)",
        ),
        "x-rank": (
            lambda: layer_norm(torch.ones(5), (4, 5)),
            r"normalized_shape \(\.\.\., 4, 5\); got \(5,\)",
        ),
        "weight-shape": (
            lambda: layer_norm(torch.ones(3, 5), (5,), torch.ones(4)),
            r"weight must be normalized_shape \(5,\); got \(4,\)",
        ),
        "bias-shape": (
            lambda: layer_norm(torch.ones(3, 5), (5,), None, torch.ones(3, 5)),
            r"bias must be normalized_shape \(5,\); got \(3, 5\)",
        ),
        "normalized-shape": (lambda: LayerNorm(0), r"normalized_shape must be sizes >= 1; got 0"),
        "eps": (lambda: LayerNorm(5, eps=-1.0), r"eps must be >= 0; got -1.0"),
        "cell-hx": (
            lambda: LayerNormLSTMCell(I, H)(torch.ones(B, I), torch.ones(B, H)),
            r"hx must be a pair \(h, c\)",
        ),
        "cell-h-shape": (
            lambda: LayerNormLSTMCell(I, H)(
                torch.ones(B, I), (torch.ones(B, H + 1), torch.ones(B, H))
            ),
            r"hx must be \(B, H\) or \(H,\) unbatched = \(3, 6\); got \(3, 7\)",
        ),
        "layer-hx": (
            lambda: LayerNormLSTM(I, H)(torch.ones(T, B, I), torch.ones(1, B, H)),
            r"hx must be a tuple",
        ),
        "layer-c0": (
            lambda: LayerNormLSTM(I, H)(
                torch.ones(T, B, I), (torch.ones(1, B, H), torch.ones(2, B, H))
            ),
            r"c_0 must be \(D\*num_layers, B, H\) = \(1, 3, 6\); got \(2, 3, 6\)",
        ),
    }
)


@pytest.mark.parametrize("cls", [LayerNormLSTM, LayerNormGRU])
@pytest.mark.parametrize(
    ("make_error", "message"), list(tc.LAYER_ERRORS.values()), ids=list(tc.LAYER_ERRORS)
)
def test_layers_raise_the_errors_every_stacked_layer_raises(cls, make_error, message):
    tc.assert_raises(lambda: make_error(cls), message)


@pytest.mark.parametrize("cls", [LayerNormLSTMCell, LayerNormGRUCell])
@pytest.mark.parametrize(
    ("make_error", "message"), list(tc.CELL_ERRORS.values()), ids=list(tc.CELL_ERRORS)
)
def test_cells_raise_the_errors_every_cell_raises(cls, make_error, message):
    tc.assert_raises(lambda: make_error(cls), message)


# --------------------------------------------------------------------------------------------
# device


@pytest.mark.gpu
@pytest.mark.parametrize("cls", [LayerNormLSTM, LayerNormGRU])
def test_on_cuda_equals_the_layer_on_cpu(cls):
    cpu = random_parameters(cls(I, H, 2, bidirectional=True, dtype=F64))
    cuda = cls(I, H, 2, bidirectional=True, dtype=F64).to("cuda")
    cuda.load_state_dict(cpu.state_dict())
    x = sequence()

    expected = forward_and_grads(cpu, x)
    actual = forward_and_grads(cuda, x.to("cuda"))
    assert actual[0].device.type == "cuda"
    assert_all_close([t.cpu() for t in actual], expected)
