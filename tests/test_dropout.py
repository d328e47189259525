"""Specifications of coursekit.dropout.

Each test names one behaviour. On the other side of every assertion: the Bernoulli formulas
(a keep fraction of 1 - p, an agreement rate of (1 - p)^2 + p^2, a mean of 1, each within four
standard errors computed here), torch.nn.RNN / LSTM / GRU with the same weights, or a loop
written here over torch.nn.RNNCell / LSTMCell and a GRU formula with the masks applied by hand.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from coursekit.dropout import (
    DropoutGRU,
    DropoutLSTM,
    DropoutMasks,
    DropoutRNN,
    LockedDropout,
    dropout_lstm_cell_step,
    dropout_mask,
    embedding_dropout,
    locked_dropout,
    locked_dropout_mask,
)
from tests import torch_compare as tc
from tests.torch_compare import B, H, I, T, assert_all_close, forward_and_grads, sequence

F64, F32 = torch.float64, torch.float32
LAYERS = {"RNN": (DropoutRNN, torch.nn.RNN), "LSTM": (DropoutLSTM, torch.nn.LSTM)}
LAYERS["GRU"] = (DropoutGRU, torch.nn.GRU)
KINDS = pytest.mark.parametrize("kind", list(LAYERS))
ALL_RATES = {"input_dropout": 0.3, "state_dropout": 0.4, "output_dropout": 0.2}
ALL_RATES["weight_dropout"] = 0.5


def seeded(seed):
    return torch.Generator().manual_seed(seed)


def within_standard_errors(estimate, expected, standard_error, k=4):
    return abs(float(estimate) - expected) < k * standard_error


# --------------------------------------------------------------------------------------------
# masks: Eq. (6.1), (6.2)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_mask_keeps_a_fraction_one_minus_p_within_four_standard_errors(p):
    mask = dropout_mask((200, 500), p, seeded(1), dtype=F64)
    n = mask.numel()
    assert within_standard_errors((mask != 0).double().mean(), 1 - p, math.sqrt(p * (1 - p) / n))


@pytest.mark.parametrize("p", [0.0, 0.25, 0.6])
def test_mask_entries_are_zero_or_one_over_keep_probability(p):
    mask = dropout_mask((50, 40), p, seeded(2), dtype=F64)
    kept = mask != 0
    torch.testing.assert_close(mask[kept], torch.full_like(mask[kept], 1 / (1 - p)))


@pytest.mark.parametrize("p", [0.3, 0.7])
def test_inverted_scaling_preserves_the_expectation(p):
    x, draws = torch.tensor([-2.0, -0.5, 1.0, 3.0], dtype=F64), 20_000
    masked = x * locked_dropout_mask((draws, 4), p, seeded(3), dtype=F64)  # (draws, 4)
    # Var(m) = E[m^2] - 1 = 1 / (1 - p) - 1 = p / (1 - p) for m in {0, 1/(1-p)}
    standard_errors = x.abs() * math.sqrt(p / (1 - p) / draws)
    for mean, expected, se in zip(masked.mean(0), x, standard_errors, strict=True):
        assert within_standard_errors(mean, float(expected), float(se))


@pytest.mark.parametrize("batch_first", [False, True])
def test_locked_dropout_uses_one_mask_at_every_time_step(batch_first):
    ones = torch.ones((B, T, 40) if batch_first else (T, B, 40), dtype=F64)
    out = LockedDropout(0.5, batch_first=batch_first, generator=seeded(4))(ones)
    per_step = out.transpose(0, 1) if batch_first else out  # (T, B, F)
    for t in range(T):
        torch.testing.assert_close(per_step[t], per_step[0], rtol=0, atol=0)
    assert (per_step[0] == 0).any() and (per_step[0] == 2).any()


def test_locked_dropout_multiplies_every_step_by_the_given_mask():
    x, mask = sequence(), dropout_mask((B, I), 0.5, seeded(5), dtype=F64)
    expected = torch.stack([x_t * mask for x_t in x])
    torch.testing.assert_close(LockedDropout(0.5)(x, mask), expected, rtol=0, atol=0)


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_two_rows_masks_agree_as_often_as_independence_predicts(p):
    F = 20_000
    first, second = locked_dropout_mask((2, F), p, seeded(6)) != 0
    agree = (1 - p) ** 2 + p**2
    assert within_standard_errors(
        (first == second).double().mean(), agree, math.sqrt(agree * (1 - agree) / F)
    )


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_two_sequences_masks_agree_as_often_as_independence_predicts(p):
    F, generator, agree = 20_000, seeded(7), (1 - p) ** 2 + p**2
    first = locked_dropout_mask((1, F), p, generator) != 0  # one call per sequence
    second = locked_dropout_mask((1, F), p, generator) != 0
    assert within_standard_errors(
        (first == second).double().mean(), agree, math.sqrt(agree * (1 - agree) / F)
    )


def test_the_same_seed_reproduces_the_mask_and_another_does_not():
    torch.testing.assert_close(
        dropout_mask((B, 50), 0.5, seeded(8)), dropout_mask((B, 50), 0.5, seeded(8)), rtol=0, atol=0
    )
    assert not torch.equal(
        dropout_mask((B, 50), 0.5, seeded(8)), dropout_mask((B, 50), 0.5, seeded(9))
    )


def test_locked_dropout_is_the_identity_in_eval_and_at_p_zero():
    x = sequence()
    assert torch.equal(LockedDropout(0.5).eval()(x), x)
    assert torch.equal(LockedDropout(0.0)(x), x)


def test_locked_dropout_function_equals_x_times_the_mask_and_is_off_in_eval():
    x, mask = sequence(), dropout_mask((B, I), 0.5, seeded(5), dtype=F64)
    expected = torch.stack([x_t * mask for x_t in x])
    torch.testing.assert_close(locked_dropout(x, 0.5, mask), expected, rtol=0, atol=0)
    batch_major = locked_dropout(x.transpose(0, 1), 0.5, mask, batch_first=True)
    torch.testing.assert_close(batch_major, expected.transpose(0, 1), rtol=0, atol=0)
    assert torch.equal(locked_dropout(x, 0.5, mask, training=False), x)
    drawn = locked_dropout(x, 0.5, generator=seeded(4))
    torch.testing.assert_close(drawn, LockedDropout(0.5, generator=seeded(4))(x), rtol=0, atol=0)


@pytest.mark.parametrize("masked", ["input", "state", "both", "neither"])
def test_dropout_lstm_cell_step_equals_torch_lstm_cell_on_masked_x_and_h(masked):
    cell = torch.nn.LSTMCell(I, H, dtype=F64)
    x, h, c = (torch.randn(B, n, dtype=F64, generator=seeded(10 + n)) for n in (I, H, H))
    m_x = dropout_mask((B, I), 0.4, seeded(20), dtype=F64) if masked in ("input", "both") else None
    m_h = dropout_mask((B, H), 0.3, seeded(21), dtype=F64) if masked in ("state", "both") else None
    weights = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    h_new, c_new = dropout_lstm_cell_step(x, (h, c), *weights, input_mask=m_x, state_mask=m_h)
    x_in = x if m_x is None else x * m_x
    h_in = h if m_h is None else h * m_h
    expected_h, expected_c = cell(x_in, (h_in, c))  # the cell c_{t-1} unmasked
    torch.testing.assert_close(h_new, expected_h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c_new, expected_c, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------------
# embedding dropout: Eq. (6.6)


def test_embedding_dropout_drops_whole_words_and_scales_the_kept_ones():
    V, p = 30, 0.5
    weight = torch.randn(V, 4, dtype=F64, requires_grad=True)
    ids = torch.arange(V).repeat(4, 1)[:, torch.randperm(V)]  # (4, V): each word four times
    out = embedding_dropout(weight, ids, p, seeded(10))
    # a word is kept where its first occurrence is nonzero; then every occurrence must be
    # that word's row scaled by 1 / (1 - p), and every occurrence of a dropped word zero
    first_position = ids[0].argsort()  # first_position[v]: the column of word v in row 0
    kept = out[0, first_position].ne(0).any(dim=-1)  # (V,)
    expected = weight[ids] * (kept[ids].to(F64) / (1 - p)).unsqueeze(-1)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-15)
    assert kept.any() and (~kept).any()
    out.sum().backward()
    assert torch.all(weight.grad[~kept] == 0)


def test_embedding_dropout_at_p_zero_is_the_embedding_lookup():
    weight, ids = torch.randn(10, 3, dtype=F64), torch.randint(0, 10, (T, B))
    torch.testing.assert_close(
        embedding_dropout(weight, ids, 0.0), torch.nn.functional.embedding(ids, weight)
    )


# --------------------------------------------------------------------------------------------
# layers: no dropout, or eval(), is torch's layer


def state_for(kind, num_layers, bidirectional, dtype):
    h0 = tc.initial_state(num_layers, bidirectional, True, dtype)
    return (h0, tc.initial_state(num_layers, bidirectional, True, dtype)) if kind == "LSTM" else h0


@KINDS
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@tc.DTYPES
def test_without_dropout_equals_torch_values_and_gradients(
    kind, num_layers, bidirectional, batch_first, dtype
):
    ours_cls, torch_cls = LAYERS[kind]
    kwargs = {"num_layers": num_layers, "bidirectional": bidirectional, "batch_first": batch_first}
    ours, reference = tc.make_pair(ours_cls, torch_cls, I, H, dtype=dtype, **kwargs)
    x, hx = sequence(True, batch_first, dtype), state_for(kind, num_layers, bidirectional, dtype)
    assert_all_close(forward_and_grads(ours, x, hx), forward_and_grads(reference, x, hx), dtype)


@KINDS
def test_in_eval_every_dropout_is_off_and_it_equals_torch(kind):
    ours_cls, torch_cls = LAYERS[kind]
    ours, reference = tc.make_pair(
        ours_cls, torch_cls, I, H, 2, bidirectional=True, ours_only=ALL_RATES
    )
    x = sequence()
    assert_all_close(forward_and_grads(ours.eval(), x, None), forward_and_grads(reference, x, None))
    assert not torch.allclose(ours.train()(x)[0], reference(x)[0])  # in training they differ


class WithMasks(torch.nn.Module):
    """``layer(x, masks=masks)[0]`` as a module whose parameters are the layer's, in order
    (for forward_and_grads: values, input gradient and every parameter gradient)."""

    def __init__(self, layer, forward):
        super().__init__()
        self.layer, self.run = layer, forward

    def forward(self, x):
        return self.run(x)


@pytest.mark.parametrize(("kind", "proj_size"), [("RNN", 0), ("LSTM", 0), ("LSTM", 3), ("GRU", 0)])
def test_masks_of_ones_run_the_masked_loop_and_equal_torch(kind, proj_size):
    """With every mask all ones the in-recurrence loop (and the reverse direction's mask
    alignment) must give torch's layer exactly, values and gradients."""
    ours_cls, torch_cls = LAYERS[kind]
    extra = {"proj_size": proj_size} if proj_size else {}
    ours, reference = tc.make_pair(
        ours_cls, torch_cls, I, H, 2, bidirectional=True, ours_only=ALL_RATES, **extra
    )
    drawn = ours.draw_masks(T, B)
    ones = DropoutMasks(
        *([torch.ones_like(m) for m in ms] for ms in (drawn.input, drawn.state, drawn.weight)),
        torch.ones_like(drawn.output),
    )
    x = sequence()
    actual = forward_and_grads(WithMasks(ours, lambda x: ours(x, masks=ones)), x)
    assert_all_close(actual, forward_and_grads(reference, x))


# --------------------------------------------------------------------------------------------
# layers with given masks == an independent loop over torch's cells


def mask_at(mask, t):
    """A locked (B, F) mask at any step, a per-step (T, B, F) one at step t, 1 for None."""
    if mask is None:
        return 1.0
    return mask if mask.dim() == 2 else mask[t]


def reference_step(kind, weights, x_t, h_masked, h, c):
    """One step of torch's cell on x_t with the masked h_{t-1} in the recurrent product."""
    w_ih, w_hh, b_ih, b_hh = weights
    params = {"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih, "bias_hh": b_hh}
    if kind == "RNN":
        return functional_call(torch.nn.RNNCell(I, H, dtype=F64), params, (x_t, h_masked)), None
    if kind == "LSTM":  # c_{t-1} is carried unmasked
        return functional_call(torch.nn.LSTMCell(I, H, dtype=F64), params, (x_t, (h_masked, c)))
    # GRU written per gate: the masked h in the products, the unmasked h in the carried term
    x_r, x_z, x_n = (x_t @ w_ih.T + b_ih).chunk(3, -1)
    h_r, h_z, h_n = (h_masked @ w_hh.T + b_hh).chunk(3, -1)
    r, z = tc.sigmoid(x_r + h_r), tc.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h, None


def reference_forward(kind, reference, x, masks):
    """Layers bottom-up, each direction its own loop over t (the reverse one from T-1 down),
    every mask multiplied in by hand. x (T, B, I) -> (T, B, D*H)."""
    D = 2 if reference.bidirectional else 1
    layer_input = x
    for layer in range(reference.num_layers):
        outputs = []
        for direction in range(D):
            index = layer * D + direction
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            weights = tc.layer_weights(reference, suffix)
            if masks.weight[index] is not None:
                weights[1] = weights[1] * masks.weight[index]
            h = c = x.new_zeros(x.shape[1], H)
            steps = [None] * T
            for t in reversed(range(T)) if direction else range(T):
                x_t = layer_input[t] * mask_at(masks.input[index], t)
                h_masked = h * mask_at(masks.state[index], t)
                h, c = reference_step(kind, weights, x_t, h_masked, h, c)
                steps[t] = h
            outputs.append(torch.stack(steps))
        layer_input = torch.cat(outputs, dim=-1)
    return torch.stack([layer_input[t] * mask_at(masks.output, t) for t in range(T)])


@KINDS
@pytest.mark.parametrize("io_mode", ["locked", "per_step"])
@pytest.mark.parametrize("state_mode", ["locked", "per_step"])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (2, True)])
def test_with_given_masks_equals_independent_loop(
    kind, io_mode, state_mode, num_layers, bidirectional
):
    ours_cls, torch_cls = LAYERS[kind]
    options = {**ALL_RATES, "input_output_dropout_mode": io_mode, "state_dropout_mode": state_mode}
    ours, reference = tc.make_pair(
        ours_cls, torch_cls, I, H, num_layers, bidirectional=bidirectional, ours_only=options
    )
    masks = ours.draw_masks(T, B)
    x = sequence()
    actual = forward_and_grads(WithMasks(ours, lambda x: ours(x, masks=masks)[0]), x)
    expected = forward_and_grads(
        WithMasks(reference, lambda x: reference_forward(kind, reference, x, masks)), x
    )
    assert_all_close(actual, expected)


@pytest.mark.parametrize("batch_first", [False, True])
def test_given_masks_follow_the_batch_first_and_unbatched_layouts(batch_first):
    ours, reference = tc.make_pair(
        DropoutLSTM, torch.nn.LSTM, I, H, batch_first=batch_first, ours_only=ALL_RATES
    )
    masks = ours.draw_masks(T, B)
    x = sequence(True, batch_first)
    time_major = x.transpose(0, 1) if batch_first else x
    expected = reference_forward("LSTM", reference, time_major, masks)
    actual = ours(x, masks=masks)[0]
    assert_all_close([actual], [expected.transpose(0, 1) if batch_first else expected])
    one = ours.draw_masks(T, 1)  # an unbatched (T, I) input is a batch of one
    unbatched = time_major[:, 0]  # (T, I)
    expected = reference_forward("LSTM", reference, unbatched.unsqueeze(1), one).squeeze(1)
    assert_all_close([ours(unbatched, masks=one)[0]], [expected])


# --------------------------------------------------------------------------------------------
# weight drop (DropConnect on weight_hh): Eq. (6.7)


def test_weight_drop_uses_mask_times_weight_over_keep_probability_and_keeps_the_parameter():
    p = 0.5
    ours, reference = tc.make_pair(
        DropoutLSTM, torch.nn.LSTM, I, H, ours_only={"weight_dropout": p}
    )
    masks = ours.draw_masks(T, B)
    kept = masks.weight[0] != 0  # (4H, H)
    assert masks.weight[0].shape == ours.weight_hh_l0.shape
    assert kept.any() and (~kept).any()
    before = ours.weight_hh_l0.detach().clone()
    x = sequence()
    out, _ = ours(x, masks=masks)
    effective = (kept * reference.weight_hh_l0 / (1 - p)).detach().requires_grad_()
    params = dict(reference.named_parameters()) | {"weight_hh_l0": effective}
    expected, _ = functional_call(reference, params, (x,))
    torch.testing.assert_close(out, expected, **tc.TOLERANCE[F64])
    upstream = torch.randn_like(out)
    (grad,) = torch.autograd.grad(out, [ours.weight_hh_l0], upstream)
    (grad_effective,) = torch.autograd.grad(expected, [effective], upstream)
    assert torch.equal(ours.weight_hh_l0.detach(), before)  # the parameter is unchanged
    assert grad.shape == ours.weight_hh_l0.shape
    torch.testing.assert_close(grad, kept * grad_effective / (1 - p), **tc.TOLERANCE[F64])


def test_each_forward_pass_draws_a_new_weight_mask():
    ours = DropoutLSTM(I, H, weight_dropout=0.5, generator=seeded(11))
    first, second = ours.draw_masks(T, B).weight[0], ours.draw_masks(T, B).weight[0]
    assert not torch.equal(first, second)


# --------------------------------------------------------------------------------------------
# modes, generators


@pytest.mark.parametrize("mode", ["locked", "per_step"])
def test_locked_masks_are_per_sequence_and_per_step_masks_per_step(mode):
    options = {**ALL_RATES, "input_output_dropout_mode": mode, "state_dropout_mode": mode}
    masks = DropoutGRU(I, H, generator=seeded(12), **options).draw_masks(T, B)
    time = (T,) if mode == "per_step" else ()
    assert masks.input[0].shape == (*time, B, I)
    assert masks.state[0].shape == (*time, B, H)
    assert masks.output.shape == (*time, B, H)
    if mode == "per_step":  # a fresh mask at each step
        assert not torch.equal(masks.state[0][0], masks.state[0][1])


@KINDS
def test_the_same_seed_reproduces_the_training_output_and_another_does_not(kind):
    ours_cls, _ = LAYERS[kind]
    layers = [ours_cls(I, H, 2, generator=seeded(s), **ALL_RATES).double() for s in (1, 1, 2)]
    for layer in layers[1:]:
        layer.load_state_dict(layers[0].state_dict())
    x = sequence()
    outputs = [layer(x)[0] for layer in layers]
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.allclose(outputs[0], outputs[2])


def test_state_dropout_acts_in_the_recurrence_so_later_steps_change():
    """A state mask changes h_t for t >= 1 but not h_0, which reads only the zero state."""
    ours = DropoutRNN(I, H, state_dropout=0.5, generator=seeded(13)).double()
    x = sequence()
    train, plain = ours(x)[0], ours.eval()(x)[0]
    torch.testing.assert_close(train[0], plain[0], **tc.TOLERANCE[F64])
    assert not torch.allclose(train[1:], plain[1:])


# --------------------------------------------------------------------------------------------
# errors

test_bad_arguments_raise_value_error_naming_the_argument = tc.raises_table(
    {
        "p-one": (lambda: dropout_mask((2, 3), 1.0), r"p must be a number in \[0, 1\); got 1.0"),
        "p-negative": (
            lambda: dropout_mask((2, 3), -0.1),
            r"p must be a number in \[0, 1\]; got -0.1",
        ),
        "p-above-one": (lambda: LockedDropout(1.5), r"p must be a number in \[0, 1\]; got 1.5"),
        "embedding-p": (
            lambda: embedding_dropout(torch.ones(3, 2), torch.tensor([0]), 1),
            r"p must be a number in \[0, 1\); got 1",
        ),
        "locked-shape": (
            lambda: locked_dropout_mask((2, 3, 4), 0.5),
            r"shape must be \(B, F\); got \(2, 3, 4\)",
        ),
        "locked-input-rank": (
            lambda: LockedDropout(0.5)(torch.ones(3, 4)),
            r"x must be \(T, B, F\); got \(3, 4\)",
        ),
        "locked-mask-shape": (
            lambda: LockedDropout(0.5)(torch.ones(T, B, I), torch.ones(B, I + 1)),
            r"mask must be \(B, F\) = \(3, 4\); got \(3, 5\)",
        ),
        "embedding-weight": (
            lambda: embedding_dropout(torch.ones(3), torch.tensor([0]), 0.5),
            r"embedding_weight must be \(V, E\); got \(3,\)",
        ),
        "state-dropout-one": (
            lambda: DropoutLSTM(I, H, state_dropout=1.0),
            r"state_dropout must be a number in \[0, 1\); got 1.0",
        ),
        "weight-dropout-negative": (
            lambda: DropoutGRU(I, H, weight_dropout=-0.5),
            r"weight_dropout must be a number in \[0, 1\]; got -0.5",
        ),
        "state-mode": (
            lambda: DropoutRNN(I, H, state_dropout_mode="naive"),
            r"state_dropout_mode must be 'locked' or 'per_step'; got 'naive'",
        ),
        "io-mode": (
            lambda: DropoutRNN(I, H, input_output_dropout_mode=None),
            r"input_output_dropout_mode must be 'locked' or 'per_step'; got None",
        ),
        "mask-shapes": (
            lambda: DropoutLSTM(I, H, state_dropout=0.5)(
                torch.ones(T, B, I), masks=DropoutLSTM(I, H, state_dropout=0.5).draw_masks(T, B + 1)
            ),
            r"masks.state must be \[\(3, 6\)\]; got \[\(4, 6\)\]",
        ),
        "layer-input": (
            lambda: DropoutLSTM(8, H, state_dropout=0.5)(torch.ones(5)),
            r"input must be \(T, B, I\) or \(T, I\) unbatched, with I = 8",
        ),
    }
)


# --------------------------------------------------------------------------------------------
# device


@pytest.mark.gpu
@KINDS
def test_on_cuda_equals_the_layer_on_cpu_with_the_same_masks(kind):
    ours_cls, _ = LAYERS[kind]
    cpu = ours_cls(I, H, 2, bidirectional=True, **ALL_RATES).double()
    cuda = ours_cls(I, H, 2, bidirectional=True, **ALL_RATES).double().to("cuda")
    cuda.load_state_dict(cpu.state_dict())
    masks, x = cpu.draw_masks(T, B), sequence()
    expected = forward_and_grads(WithMasks(cpu, lambda x: cpu(x, masks=masks)[0]), x)
    on_cuda = masks.to("cuda")
    actual = forward_and_grads(WithMasks(cuda, lambda x: cuda(x, masks=on_cuda)[0]), x.to("cuda"))
    assert actual[0].device.type == "cuda"
    assert_all_close([t.cpu() for t in actual], expected)
