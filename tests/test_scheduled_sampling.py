"""Specifications of coursekit.scheduled_sampling (chapter 8).

The other side of each assertion is independent: the schedules' closed forms evaluated by hand,
the binomial standard error, and teacher-forced, free-running and coin-flipping loops written
here around a tiny GRU decoder (``torch.nn.GRUCell`` behind an ``Embedding``, a ``Linear``
readout) or around a decoder whose arg-max is known by hand.
"""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coursekit.scheduled_sampling import (
    choose_inputs,
    coin_flips,
    decode,
    exponential_schedule,
    exposure_bias,
    inverse_sigmoid_schedule,
    linear_schedule,
    per_position_error,
)

V, B, T = 7, 16, 9


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


class TinyGRUDecoder(nn.Module):
    """Embedding -> GRUCell -> Linear: ``step(ids (B,), h) -> (logits (B, V), h)``."""

    def __init__(self, vocab_size=V, embedding_size=5, hidden_size=8, dtype=torch.float64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, dtype=dtype)
        self.cell = nn.GRUCell(embedding_size, hidden_size, dtype=dtype)
        self.readout = nn.Linear(hidden_size, vocab_size, dtype=dtype)
        with torch.no_grad():  # larger weights: the arg-max varies across tokens and steps
            for p in self.parameters():
                p.mul_(3)

    def step(self, ids, h):
        h = self.cell(self.embedding(ids), h)
        return self.readout(h), h


def batch(seed=1, batch_size=B, length=T, device="cpu"):
    g = gen(seed)
    first = torch.randint(V, (batch_size,), generator=g)
    targets = torch.randint(V, (batch_size, length), generator=g)
    return first.to(device), targets.to(device)


def teacher_forced_loop(step, first, targets):
    x, h, logits = first, None, []
    for t in range(targets.shape[1]):
        z, h = step(x, h)
        logits.append(z)
        x = targets[:, t]
    return torch.stack(logits, 1)


def fed_sequence_loop(step, fed):
    """Teacher forcing on a given sequence of inputs: ``fed (B, T)`` are fed as constants."""
    h, logits = None, []
    for t in range(fed.shape[1]):
        z, h = step(fed[:, t], h)
        logits.append(z)
    return torch.stack(logits, 1)


# ---------------------------------------------------------------------------------------------
# Schedules, Eqs. (8.2)-(8.4).


def test_linear_schedule_matches_its_closed_form():
    values = [linear_schedule(i, slope=0.1, minimum=0.25) for i in (0, 3, 7, 8, 100)]
    assert values == pytest.approx([1.0, 0.7, 0.3, 0.25, 0.25], abs=1e-12)
    assert linear_schedule(4, start=0.9, slope=0.05, minimum=0.0) == pytest.approx(0.7)
    assert linear_schedule(50, start=0.9, slope=0.05, minimum=0.0) == 0.0


def test_exponential_schedule_matches_k_to_the_i():
    values = [exponential_schedule(i, k=0.5) for i in (0, 1, 3, 10)]
    assert values == pytest.approx([1.0, 0.5, 0.125, 1 / 1024], rel=1e-12)
    assert exponential_schedule(2, k=0.9) == pytest.approx(0.81, rel=1e-12)


def test_inverse_sigmoid_schedule_matches_its_closed_form():
    assert inverse_sigmoid_schedule(0, k=1) == pytest.approx(0.5, rel=1e-12)  # 1 / (1 + e^0)
    assert inverse_sigmoid_schedule(0, k=10) == pytest.approx(10 / 11, rel=1e-12)
    assert inverse_sigmoid_schedule(20, k=10) == pytest.approx(10 / (10 + math.e**2), rel=1e-12)
    assert inverse_sigmoid_schedule(30, k=5) == pytest.approx(5 / (5 + math.e**6), rel=1e-12)


def test_inverse_sigmoid_schedule_does_not_overflow_late_in_training():
    value = inverse_sigmoid_schedule(10**6, k=2)  # exp(5e5) overflows a double
    assert 0 <= value < 1e-300


SCHEDULES = {
    "linear": (lambda i: linear_schedule(i, slope=1e-3, minimum=0.1), 0.1),
    "exponential": (lambda i: exponential_schedule(i, k=0.995), 0.0),
    "inverse sigmoid": (lambda i: inverse_sigmoid_schedule(i, k=100), 0.0),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_are_non_increasing_probabilities(name):
    schedule, minimum = SCHEDULES[name]
    values = [schedule(i) for i in range(0, 3000, 7)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert all(minimum <= v <= 1 for v in values)
    if minimum == 0:
        assert all(v > 0 for v in values)


@pytest.mark.parametrize(
    ("schedule", "kwargs"),
    [
        (exponential_schedule, {"step": 1, "k": 1.0}),
        (exponential_schedule, {"step": 1, "k": 0.0}),
        (exponential_schedule, {"step": 1, "k": 1.5}),
        (exponential_schedule, {"step": -1, "k": 0.5}),
        (inverse_sigmoid_schedule, {"step": 1, "k": 0.5}),
        (inverse_sigmoid_schedule, {"step": 1.5, "k": 2}),
        (linear_schedule, {"step": 1, "slope": -0.1, "minimum": 0.0}),
        (linear_schedule, {"step": 1, "slope": 0.1, "minimum": 0.5, "start": 0.4}),
        (linear_schedule, {"step": 1, "slope": 0.1, "minimum": 0.0, "start": 1.5}),
    ],
)
def test_schedules_reject_bad_arguments(schedule, kwargs):
    step = kwargs.pop("step")
    with pytest.raises(ValueError, match="must"):
        schedule(step, **kwargs)


# ---------------------------------------------------------------------------------------------
# Coins and the choice, Eq. (8.1).


@pytest.mark.parametrize("p_true", [0.1, 0.5, 0.85])
def test_coin_flips_are_true_with_probability_p_true(p_true):
    n = 200_000
    fraction = coin_flips((n,), p_true, gen()).double().mean().item()
    assert abs(fraction - p_true) < 4 * math.sqrt(p_true * (1 - p_true) / n)


def test_coin_flips_from_a_given_generator_reproduce():
    first, second = coin_flips((50, 3), 0.4, gen(7)), coin_flips((50, 3), 0.4, gen(7))
    assert first.dtype == torch.bool and first.shape == (50, 3)
    assert torch.equal(first, second)
    assert not torch.equal(first, coin_flips((50, 3), 0.4, gen(8)))


def test_coin_flips_of_zero_and_one_are_constant_and_draw_nothing():
    g = gen(3)
    before = g.get_state()
    assert coin_flips((20,), 1.0, g).all() and not coin_flips((20,), 0.0, g).any()
    assert torch.equal(g.get_state(), before)


def test_choose_inputs_takes_the_true_token_where_the_coin_says_so():
    true, predicted = torch.tensor([1, 2, 3, 4]), torch.tensor([5, 6, 7, 8])
    use_true = torch.tensor([True, False, False, True])
    assert choose_inputs(true, predicted, use_true).tolist() == [1, 6, 7, 4]


def test_choose_inputs_rejects_mismatched_shapes_and_non_bool_coins():
    ids = torch.tensor([1, 2])
    with pytest.raises(ValueError, match="one shape"):
        choose_inputs(ids, ids, torch.tensor([True]))
    with pytest.raises(ValueError, match="bool"):
        choose_inputs(ids, ids, torch.tensor([1, 0]))


# ---------------------------------------------------------------------------------------------
# Decoding: teacher forcing, free running, scheduled sampling.


def test_decode_with_p_true_one_is_teacher_forcing():
    model, (first, targets) = TinyGRUDecoder(), batch()
    decoded = decode(model.step, first, targets, p_true=1.0)
    torch.testing.assert_close(
        decoded.logits, teacher_forced_loop(model.step, first, targets), rtol=0, atol=1e-12
    )
    assert torch.equal(decoded.inputs[:, 0], first)
    assert torch.equal(decoded.inputs[:, 1:], targets[:, :-1])
    assert decoded.use_true.all()


def test_decode_with_p_true_zero_is_free_running():
    model, (first, targets) = TinyGRUDecoder(), batch()
    x, h, expected_logits, expected_inputs = first, None, [], []
    for _ in range(T):
        expected_inputs.append(x)
        z, h = model.step(x, h)
        expected_logits.append(z)
        x = z.argmax(-1)  # fed at the next step
    decoded = decode(model.step, first, targets, p_true=0.0)
    assert torch.equal(decoded.inputs, torch.stack(expected_inputs, 1))
    torch.testing.assert_close(decoded.logits, torch.stack(expected_logits, 1), rtol=0, atol=1e-12)
    assert torch.equal(decoded.predictions, decoded.logits.argmax(-1))
    assert not decoded.use_true[:, 1:].any()


def test_decode_with_a_generator_equals_a_loop_drawing_the_same_flips():
    model, (first, targets), p = TinyGRUDecoder(), batch(), 0.6
    g = gen(11)
    x, h, prediction, expected_logits, expected_inputs = first, None, None, [], []
    for t in range(T):
        if t > 0:
            coins = torch.rand(B, generator=g) < p
            x = torch.where(coins, targets[:, t - 1], prediction)
        expected_inputs.append(x)
        z, h = model.step(x, h)
        prediction = z.argmax(-1)
        expected_logits.append(z)
    decoded = decode(model.step, first, targets, p_true=p, generator=gen(11))
    assert torch.equal(decoded.inputs, torch.stack(expected_inputs, 1))
    torch.testing.assert_close(decoded.logits, torch.stack(expected_logits, 1), rtol=0, atol=1e-12)


def test_decode_with_sample_feeds_draws_from_the_previous_softmax():
    model, (first, targets), p = TinyGRUDecoder(), batch(), 0.3
    g = gen(5)
    x, h, draw, expected_inputs = first, None, None, []
    for t in range(T):
        if t > 0:
            coins = torch.rand(B, generator=g) < p
            x = torch.where(coins, targets[:, t - 1], draw)
        expected_inputs.append(x)
        z, h = model.step(x, h)
        draw = torch.multinomial(torch.softmax(z.float(), -1), 1, generator=g).squeeze(-1)
    decoded = decode(model.step, first, targets, p_true=p, generator=gen(5), sample=True)
    assert torch.equal(decoded.inputs, torch.stack(expected_inputs, 1))


class CountingDecoder:
    """The arg-max of step t is (2·x_t + t + 1) mod 7, with t counted in the state: feeding
    anything but step t-1's arg-max at step t changes the sequence."""

    def step(self, ids, t):
        t = 0 if t is None else t
        logits = 10.0 * F.one_hot((2 * ids + t + 1) % V, V).double()  # (B, V)
        return logits, t + 1


def test_prediction_fed_at_step_t_is_the_arg_max_of_step_t_minus_1():
    first, targets = torch.tensor([0]), torch.full((1, 5), 6)
    decoded = decode(CountingDecoder().step, first, targets, p_true=0.0)
    # by hand: x_0 = 0 -> 1; x_1 = 1 -> 2+1+1 = 4; x_2 = 4 -> 8+2+1 = 11 = 4 (mod 7);
    # x_3 = 4 -> 8+3+1 = 12 = 5; x_4 = 5 -> 10+4+1 = 15 = 1
    assert decoded.inputs.tolist() == [[0, 1, 4, 4, 5]]
    assert decoded.predictions.tolist() == [[1, 4, 4, 5, 1]]


def test_coins_are_drawn_per_token_and_per_step():
    model, (first, targets) = TinyGRUDecoder(), batch(batch_size=64, length=40)
    coins = decode(model.step, first, targets, p_true=0.5, generator=gen(2)).use_true
    assert coins[:, 0].all()  # x_0 is given
    later = coins[:, 1:]
    assert later.any(1).all() and (~later).any(1).all()  # both values within each sequence
    assert later.any(0).all() and (~later).any(0).all()  # and across the batch at each step


def test_gradient_does_not_flow_through_the_fed_prediction():
    model, (first, targets) = TinyGRUDecoder(), batch()
    decoded = decode(model.step, first, targets, p_true=0.5, generator=gen(4))
    loss = F.cross_entropy(decoded.logits.reshape(-1, V), targets.reshape(-1))
    grads = torch.autograd.grad(loss, list(model.parameters()))
    # the same loss with the fed ids given as constants: teacher forcing on what was fed
    replay = fed_sequence_loop(model.step, decoded.inputs)
    replay_loss = F.cross_entropy(replay.reshape(-1, V), targets.reshape(-1))
    replay_grads = torch.autograd.grad(replay_loss, list(model.parameters()))
    torch.testing.assert_close(loss, replay_loss, rtol=0, atol=1e-12)
    for ours, expected in zip(grads, replay_grads, strict=True):
        torch.testing.assert_close(ours, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_decode_keeps_the_decoders_dtype(dtype):
    model, (first, targets) = TinyGRUDecoder(dtype=dtype), batch()
    assert decode(model.step, first, targets, p_true=0.5, generator=gen()).logits.dtype == dtype


def test_decode_rejects_bad_shapes():
    model, (first, targets) = TinyGRUDecoder(), batch()
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        decode(model.step, first, targets[0], p_true=1.0)
    with pytest.raises(ValueError, match=r"first_input must be"):
        decode(model.step, first[:3], targets, p_true=1.0)
    with pytest.raises(ValueError, match=r"p_true must be"):
        decode(model.step, first, targets, p_true=1.5)


# ---------------------------------------------------------------------------------------------
# Exposure bias as a number, Eq. (8.5).


def test_per_position_error_is_the_wrong_fraction_at_each_position():
    predictions = torch.tensor([[1, 2, 3], [1, 0, 3], [1, 0, 0], [1, 2, 0]])
    targets = torch.tensor([[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]])
    assert per_position_error(predictions, targets).tolist() == [0.0, 0.5, 0.5]
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        per_position_error(predictions, targets[:, :2])


def test_exposure_bias_compares_free_running_with_teacher_forced_error():
    model, (first, targets) = TinyGRUDecoder(), batch()
    with torch.no_grad():
        forced = teacher_forced_loop(model.step, first, targets).argmax(-1)  # (B, T)
        x, h, free = first, None, []
        for _ in range(T):
            z, h = model.step(x, h)
            x = z.argmax(-1)
            free.append(x)
        free = torch.stack(free, 1)
    bias = exposure_bias(model.step, first, targets)
    assert bias.teacher_forced.tolist() == (forced != targets).double().mean(0).tolist()
    assert bias.free_running.tolist() == (free != targets).double().mean(0).tolist()
    assert bias.free_running[0] == bias.teacher_forced[0]  # the same first input


@pytest.mark.gpu
def test_decode_on_the_gpu_matches_the_cpu():
    cpu_model = TinyGRUDecoder()
    gpu_model = TinyGRUDecoder().cuda()
    gpu_model.load_state_dict(cpu_model.state_dict())
    first, targets = batch()
    cpu = decode(cpu_model.step, first, targets, p_true=0.5, generator=gen(9))
    gpu = decode(
        gpu_model.step, first.cuda(), targets.cuda(), p_true=0.5, generator=gen(9)
    )  # coins drawn on the CPU generator, moved to the GPU
    assert gpu.logits.device.type == "cuda" and gpu.use_true.device.type == "cuda"
    assert torch.equal(gpu.use_true.cpu(), cpu.use_true)
    assert torch.equal(gpu.inputs.cpu(), cpu.inputs)
    torch.testing.assert_close(gpu.logits.cpu(), cpu.logits, rtol=1e-9, atol=1e-10)
