"""Specifications of coursekit.bptt.

Each test names one behaviour. On the other side of every assertion: autograd (the gradients,
torch.autograd.functional.jacobian for the Jacobians), torch.nn.RNN, or a formula written out
here (σ^(t-s) for a scaled orthogonal matrix, a truncated loss built by hand with one detach,
the mean of a geometric distribution).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from coursekit import (
    DERIVATIVE_BOUND,
    ElmanRNN,
    elman_backward,
    elman_forward,
    expected_truncation_length,
    gradient_norm_vs_distance,
    jacobian_norms,
    random_truncation_lengths,
    rnn_cell_step,
    rnn_forward,
    spectral_bound,
    step_jacobians,
    stream_train,
    truncated_bptt_gradients,
    truncated_bptt_step,
)
from tests.torch_compare import TOLERANCE, raises_table, zeros

I, H = 4, 5  # noqa: E741 (the glossary's names)
EXACT = TOLERANCE[torch.float64]
GRAD_KEYS = ["x", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def elman_inputs(T, B, bias, generator, scale=1.0):
    """x (T, B, I), h0 (B, H) and weights in float64, drawn like torch's init (uniform ±1/√H)."""
    bound = scale / math.sqrt(H)

    def uniform(*shape):
        return (2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1) * bound

    weights = [uniform(H, I), uniform(H, H)]
    weights += [uniform(H), uniform(H)] if bias else [None, None]
    x = torch.randn(T, B, I, generator=generator, dtype=torch.float64)
    h0 = torch.randn(B, H, generator=generator, dtype=torch.float64)
    return x, h0, weights


# --------------------------------------------------------------------------------------------
# the forward pass and the manual backward pass


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_elman_forward_matches_torch_rnn_and_caches_its_inputs(nonlinearity):
    x, h0, weights = elman_inputs(6, 3, True, torch.Generator().manual_seed(0))
    reference = torch.nn.RNN(I, H, nonlinearity=nonlinearity, dtype=torch.float64)
    with torch.no_grad():
        names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
        for name, w in zip(names, weights, strict=True):
            getattr(reference, name).copy_(w)
    output, cache = elman_forward(x, h0, *weights, nonlinearity)
    expected, _ = reference(x, h0.unsqueeze(0))
    torch.testing.assert_close(output, expected, **EXACT)
    assert cache["output"] is output and cache["x"] is x and cache["h0"] is h0
    assert cache["nonlinearity"] == nonlinearity


GRID = list(itertools.product([1, 2, 7], [1, 3], ["tanh", "relu"], [True, False], [True, False]))
GRID_IDS = [
    f"T{T}-B{B}-{nl}-{'bias' if bias else 'nobias'}-{'grad_h_n' if given else 'no_grad_h_n'}"
    for T, B, nl, bias, given in GRID
]


@pytest.mark.parametrize(("T", "B", "nonlinearity", "bias", "grad_h_n_given"), GRID, ids=GRID_IDS)
def test_elman_backward_matches_autograd(T, B, nonlinearity, bias, grad_h_n_given):
    generator = torch.Generator().manual_seed(T * 100 + B)
    x, h0, weights = elman_inputs(T, B, bias, generator)
    leaves = [t.clone().requires_grad_() for t in (x, h0, *weights) if t is not None]
    output, _ = rnn_forward(*leaves[:4], *leaves[4:], nonlinearity=nonlinearity)
    grad_output = torch.randn(T, B, H, generator=generator, dtype=torch.float64)
    grad_h_n = torch.randn(B, H, generator=generator, dtype=torch.float64)
    if grad_h_n_given:
        expected = torch.autograd.grad((output, output[-1]), leaves, (grad_output, grad_h_n))
    else:
        expected = torch.autograd.grad(output, leaves, grad_output)

    _, cache = elman_forward(x, h0, *weights, nonlinearity)
    grads = elman_backward(grad_output, grad_h_n if grad_h_n_given else None, cache)
    assert sorted(grads) == sorted(GRAD_KEYS)
    present = [key for key in GRAD_KEYS if grads[key] is not None]
    assert present == GRAD_KEYS[: len(leaves)]  # the bias entries are None without bias
    for key, e in zip(present, expected, strict=True):
        torch.testing.assert_close(grads[key], e, **EXACT, msg=f"gradient of {key}")


def test_relu_derivative_at_exactly_zero_is_zero_like_autograd():
    # weights and input zero, so every pre-activation is exactly 0
    x, h0 = torch.zeros(3, 2, I, dtype=torch.float64), torch.zeros(2, H, dtype=torch.float64)
    w_ih = torch.zeros(H, I, dtype=torch.float64, requires_grad=True)
    w_hh = torch.eye(H, dtype=torch.float64, requires_grad=True)
    output, cache = elman_forward(x, h0, w_ih, w_hh, nonlinearity="relu")
    expected = torch.autograd.grad(output.sum(), [w_ih, w_hh])
    grads = elman_backward(torch.ones_like(output), None, cache)
    torch.testing.assert_close(grads["weight_ih"], expected[0], **EXACT)
    torch.testing.assert_close(grads["weight_hh"], expected[1], **EXACT)


# --------------------------------------------------------------------------------------------
# Jacobians and the bound


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_step_jacobians_match_autograd(nonlinearity, bias):
    T, B = 4, 3
    x, h0, weights = elman_inputs(T, B, bias, torch.Generator().manual_seed(1), scale=2.0)
    output, cache = elman_forward(x, h0, *weights, nonlinearity)
    jacobians = step_jacobians(output, cache)
    assert jacobians.shape == (T, B, H, H)
    previous = torch.cat([h0.unsqueeze(0), output[:-1]])
    for t in range(T):
        full = torch.autograd.functional.jacobian(
            lambda h, t=t: rnn_cell_step(x[t], h, *weights, nonlinearity), previous[t]
        )  # (B, H, B, H): [b, i, b', j] = ∂h_t[b, i] / ∂h_{t-1}[b', j]
        for b in range(B):
            torch.testing.assert_close(jacobians[t, b], full[b, :, b, :], **EXACT)


def test_jacobian_norms_match_the_norm_of_autograds_jacobian_of_h_T_wrt_earlier_states():
    T, B = 6, 2
    x, h0, weights = elman_inputs(T, B, True, torch.Generator().manual_seed(2), scale=3.0)
    output, cache = elman_forward(x, h0, *weights)
    norms = jacobian_norms(step_jacobians(output, cache))
    assert norms.shape == (T, B)
    states = torch.cat([h0.unsqueeze(0), output])  # h_0 .. h_T, (T + 1, B, H)
    for d in range(1, T + 1):
        for b in range(B):
            jacobian = torch.autograd.functional.jacobian(
                lambda h, d=d, b=b: rnn_forward(x[T - d :, b : b + 1], h, *weights)[1],
                states[T - d, b : b + 1],
            ).reshape(H, H)  # ∂h_T / ∂h_{T-d}
            torch.testing.assert_close(norms[d - 1, b], torch.linalg.matrix_norm(jacobian, 2))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_the_norm_never_exceeds_the_spectral_bound(nonlinearity, scale):
    T, B = 12, 4
    x, h0, weights = elman_inputs(T, B, True, torch.Generator().manual_seed(3), scale=scale)
    weights[1] = weights[1] * math.sqrt(H)  # σ_max of order `scale`
    output, cache = elman_forward(x, h0, *weights, nonlinearity)
    norms = jacobian_norms(step_jacobians(output, cache))  # (T, B)
    bound = spectral_bound(weights[1], DERIVATIVE_BOUND[nonlinearity], T)  # (T,)
    assert bool((norms <= bound[:, None] * (1 + 1e-12)).all())


def scaled_orthogonal(sigma, seed=0):
    q, _ = torch.linalg.qr(
        torch.randn(H, H, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    )
    return sigma * q


@pytest.mark.parametrize("sigma", [0.5, 0.9, 1.0, 1.1, 2.0])
def test_linear_rnn_with_scaled_orthogonal_weights_attains_the_bound(sigma):
    T = 30
    w = scaled_orthogonal(sigma)
    linear_jacobians = w.expand(T, 1, H, H)  # f' = 1: every ∂h_t/∂h_{t-1} is W_hh
    expected = sigma ** torch.arange(1, T + 1, dtype=torch.float64)  # σ^(t-s)
    torch.testing.assert_close(jacobian_norms(linear_jacobians)[:, 0], expected)
    torch.testing.assert_close(spectral_bound(w, 1.0, T), expected)


def test_vanishing_below_one_and_exploding_above_one():
    T = 40
    below = gradient_norm_vs_distance(scaled_orthogonal(0.7), T)[:, 0]  # tanh, from h_0 = 0
    above = gradient_norm_vs_distance(scaled_orthogonal(1.3), T)[:, 0]
    torch.testing.assert_close(below, 0.7 ** torch.arange(1, T + 1, dtype=torch.float64))
    torch.testing.assert_close(above, 1.3 ** torch.arange(1, T + 1, dtype=torch.float64))
    assert below[-1] < 1e-6 < 1e4 < above[-1]  # 0.7^40 ≈ 6e-7, 1.3^40 ≈ 4e4


def test_saturation_pulls_a_tanh_net_below_its_bound():
    w = scaled_orthogonal(1.5)
    h0 = torch.randn(3, H, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    norms = gradient_norm_vs_distance(w, 20, h0)  # (20, 3)
    assert norms.shape == (20, 3)
    assert bool((norms[-1] < 1.5**20).all())


def test_the_bound_needs_the_largest_singular_value_not_the_largest_eigenvalue():
    w = torch.tensor([[0.0, 10.0], [0.0, 0.0]], dtype=torch.float64)  # eigenvalues 0, 0
    assert float(torch.linalg.eigvals(w).abs().max()) == 0.0
    one_step = jacobian_norms(w.expand(1, 1, 2, 2))[0, 0]  # linear: ∂h_1/∂h_0 = W
    assert float(one_step) == pytest.approx(10.0)
    assert float(spectral_bound(w, 1.0, [1])[0]) == pytest.approx(10.0)


def test_spectral_bound_takes_gamma_and_explicit_distances():
    w = scaled_orthogonal(2.0)
    torch.testing.assert_close(
        spectral_bound(w, 0.25, [0, 1, 3]), torch.tensor([1.0, 0.5, 0.125], dtype=torch.float64)
    )
    with pytest.raises(TypeError, match="distances"):
        spectral_bound(w, 1.0)


# --------------------------------------------------------------------------------------------
# truncated BPTT


class RecordingOptimizer:
    """Duck-typed optimizer that records each step's gradients and never changes a weight."""

    def __init__(self, parameters):
        self.parameters = list(parameters)
        self.steps = []

    def zero_grad(self):
        for p in self.parameters:
            p.grad = None

    def step(self):
        self.steps.append([p.grad.clone() for p in self.parameters])


def model_and_stream(N=10, B=2, seed=5):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = ElmanRNN(I, H, 3).double()
    x = torch.randn(N, B, I, generator=generator, dtype=torch.float64)
    y = torch.randn(N, B, 3, generator=generator, dtype=torch.float64)
    return model, x, y


def mse(output, target):
    return F.mse_loss(output, target, reduction="sum")


def hand_built_truncated_gradients(model, x, y, k1, k2):
    """BPTT(k1, k2) by its definition: for the losses of steps [j·k1, (j+1)·k1) run ONE forward
    pass from the start of the stream, cutting the graph (detach) at step (j+1)·k1 - k2."""
    result = []
    for done in range(0, len(x), k1):
        end, cut = min(done + k1, len(x)), max(0, done + k1 - k2)
        h = None
        if cut > 0:
            _, h = model(x[:cut])
            h = h.detach()
        output, _ = model(x[cut:end], h)
        loss = mse(output[done - cut :], y[done:end])
        result.append((loss.item(), torch.autograd.grad(loss, list(model.parameters()))))
    return result


@pytest.mark.parametrize(
    ("N", "k1", "k2"),
    [(10, 2, 5), (10, 3, 4), (10, 5, 5), (10, 1, 3), (7, 4, 6), (6, 2, 20)],
    ids=["2-5", "3-4-short-last", "5-5-disjoint", "1-3-every-step", "4-6-short-last", "k2>N"],
)
def test_stream_train_matches_hand_built_truncation(N, k1, k2):
    model, x, y = model_and_stream(N)
    optimizer = RecordingOptimizer(model.parameters())
    losses, h = stream_train(model, optimizer, x, y, k1, k2, mse)
    expected = hand_built_truncated_gradients(model, x, y, k1, k2)
    assert len(losses) == len(expected) == math.ceil(N / k1)
    for loss, grads, (expected_loss, expected_grads) in zip(
        losses, optimizer.steps, expected, strict=True
    ):
        assert loss == pytest.approx(expected_loss, rel=1e-12)
        for g, e in zip(grads, expected_grads, strict=True):
            torch.testing.assert_close(g, e, **EXACT)
    assert not h.requires_grad


def test_one_window_of_the_whole_stream_is_full_bptt():
    model, x, y = model_and_stream(N=8)
    optimizer = RecordingOptimizer(model.parameters())
    stream_train(model, optimizer, x, y, 8, 8, mse)
    expected = torch.autograd.grad(mse(model(x)[0], y), list(model.parameters()))
    for g, e in zip(optimizer.steps[0], expected, strict=True):
        torch.testing.assert_close(g, e, **EXACT)


def test_detaching_stops_the_gradient_of_window_2_at_its_start():
    model, x, y = model_and_stream(N=8)
    x = x.clone().requires_grad_()
    h0 = torch.randn(1, 2, H, dtype=torch.float64, requires_grad=True)
    grads_wrt_stream = []

    def recording_loss(output, target):
        loss = mse(output, target)
        # the graph is still alive here, before the trainer's backward frees it
        grads_wrt_stream.append(
            torch.autograd.grad(loss, [x, h0], retain_graph=True, allow_unused=True)
        )
        return loss

    stream_train(model, RecordingOptimizer(model.parameters()), x, y, 4, 4, recording_loss, h0)
    (x_grad_1, h0_grad_1), (x_grad_2, h0_grad_2) = grads_wrt_stream
    assert h0_grad_1 is None and h0_grad_2 is None  # h0 is detached too
    assert bool((x_grad_2[:4] == 0).all())  # window 2's loss never reaches window 1's inputs
    assert bool((x_grad_2[4:] != 0).any()) and bool((x_grad_1[:4] != 0).any())
    assert bool((x_grad_1[4:] == 0).all())


def test_the_carried_state_is_the_true_state_of_the_stream():
    model, x, y = model_and_stream(N=9)
    _, h = stream_train(model, RecordingOptimizer(model.parameters()), x, y, 3, 3, mse)
    _, expected = model(x)
    torch.testing.assert_close(h, expected.detach(), **EXACT)


def test_truncated_bptt_step_returns_the_state_where_the_next_window_starts():
    model, x, y = model_and_stream(N=5)
    loss, next_h = truncated_bptt_step(
        model, RecordingOptimizer(model.parameters()), x, y, None, 2, 5, mse
    )
    _, expected = model(x[:2])  # the next window (steps 2..6) starts after 2 steps
    torch.testing.assert_close(next_h, expected.detach(), **EXACT)
    assert loss == pytest.approx(mse(model(x)[0][3:], y[3:]).item(), rel=1e-12)


def test_truncated_bptt_step_clips_the_gradient_before_the_step():
    model, x, y = model_and_stream(N=4)
    optimizer = RecordingOptimizer(model.parameters())
    truncated_bptt_step(model, optimizer, x, 100 * y, None, 4, 4, mse, clip=0.5)
    total = torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in optimizer.steps[0]]))
    assert float(total) == pytest.approx(0.5, rel=1e-5)


def test_stream_train_with_sgd_lowers_the_loss():
    model, x, y = model_and_stream(N=40)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    first, _ = stream_train(model, optimizer, x, y, 5, 10, mse)
    for _ in range(20):
        last, _ = stream_train(model, optimizer, x, y, 5, 10, mse)
    assert sum(last) < sum(first)


# --------------------------------------------------------------------------------------------
# randomised truncation


@pytest.mark.parametrize(("mean_length", "max_length"), [(5.0, None), (20, None), (20, 12)])
def test_random_truncation_lengths_have_the_expected_mean(mean_length, max_length):
    num = 20_000
    lengths = random_truncation_lengths(
        mean_length, num, torch.Generator().manual_seed(7), max_length=max_length
    )
    assert lengths.shape == (num,) and lengths.dtype == torch.int64
    assert int(lengths.min()) >= 1
    if max_length is not None:
        assert int(lengths.max()) <= max_length
    expected = expected_truncation_length(mean_length, max_length)
    # Var[L] = m (m - 1) for the geometric law; capping can only lower it (min(·, M) is
    # 1-Lipschitz). Five standard errors: a false failure has probability below 1e-6.
    standard_error = math.sqrt(mean_length * (mean_length - 1) / num)
    assert abs(float(lengths.double().mean()) - expected) < 5 * standard_error


def test_expected_truncation_length_with_a_cap_is_the_sum_of_tail_probabilities():
    m, cap = 8.0, 5
    pi = 1 / m
    tail_sum = sum((1 - pi) ** (k - 1) for k in range(1, cap + 1))  # Σ_k P(L >= k)
    assert expected_truncation_length(m, cap) == pytest.approx(tail_sum, rel=1e-12)
    assert expected_truncation_length(m) == m


@pytest.mark.parametrize(("mean_length", "max_length"), [(4.0, None), (4.0, 3)])
def test_random_truncation_lengths_follow_the_geometric_law(mean_length, max_length):
    # P(L = k) = (1-π)^(k-1) π for k = 1, 2, ...; with a cap M, P(L = M) = P(L >= M) = (1-π)^(M-1)
    num, pi = 40_000, 1 / mean_length
    lengths = random_truncation_lengths(
        mean_length, num, torch.Generator().manual_seed(11), max_length=max_length
    )
    for k in range(1, (max_length or 6) + 1):
        p = (1 - pi) ** (k - 1) * (1 if k == max_length else pi)
        frequency = float((lengths == k).double().mean())
        # five standard errors of a frequency: a false failure has probability below 1e-5
        assert abs(frequency - p) < 5 * math.sqrt(p * (1 - p) / num), k


def test_random_truncation_lengths_draw_from_the_generator_alone():
    torch.manual_seed(1)
    first = random_truncation_lengths(6, 50, torch.Generator().manual_seed(1))
    torch.manual_seed(2)  # the global generator must not matter
    again = random_truncation_lengths(6, 50, torch.Generator().manual_seed(1))
    assert torch.equal(first, again)
    assert not torch.equal(
        first, random_truncation_lengths(6, 50, torch.Generator().manual_seed(2))
    )


def test_random_truncation_lengths_with_mean_one_are_single_steps():
    ones = random_truncation_lengths(1, 50, torch.Generator().manual_seed(1))
    assert ones.tolist() == [1] * 50


# --------------------------------------------------------------------------------------------
# errors for people


def _cache():
    return elman_forward(zeros(3, 2, I), zeros(2, H), zeros(H, I), zeros(H, H))[1]


ERROR_CASES = {
    "forward-x-rank": (
        lambda: elman_forward(zeros(3, I), zeros(2, H), zeros(H, I), zeros(H, H)),
        r"x must be \(T, B, I\) with T >= 1; got \(3, 4\)",
    ),
    "forward-empty": (
        lambda: elman_forward(zeros(0, 2, I), zeros(2, H), zeros(H, I), zeros(H, H)),
        r"x must be \(T, B, I\) with T >= 1; got \(0, 2, 4\)",
    ),
    "forward-h0": (
        lambda: elman_forward(zeros(3, 2, I), zeros(3, H), zeros(H, I), zeros(H, H)),
        r"h0 must be \(B, H\) = \(2, 5\) for x \(3, 2, 4\); got \(3, 5\)",
    ),
    "forward-weight-ih": (
        lambda: elman_forward(zeros(3, 2, I), zeros(2, H), zeros(I, H), zeros(H, H)),
        r"weight_ih must be \(H, I\) = \(5, 4\) for x \(3, 2, 4\); got \(4, 5\)",
    ),
    "forward-weight-hh": (
        lambda: elman_forward(zeros(3, 2, I), zeros(2, H), zeros(H, I), zeros(H, H + 1)),
        r"weight_hh must be \(H, H\); got \(5, 6\)",
    ),
    "forward-bias": (
        lambda: elman_forward(zeros(3, 2, I), zeros(2, H), zeros(H, I), zeros(H, H), zeros(H + 1)),
        r"bias_ih must be \(H,\) or None = \(5,\) for x \(3, 2, 4\); got \(6,\)",
    ),
    "forward-nonlinearity": (
        lambda: elman_forward(
            zeros(3, 2, I), zeros(2, H), zeros(H, I), zeros(H, H), nonlinearity="sigmoid"
        ),
        r"nonlinearity must be 'tanh' or 'relu'; got 'sigmoid'",
    ),
    "backward-grad-output": (
        lambda: elman_backward(zeros(2, 2, H), None, _cache()),
        r"grad_output must be \(T, B, H\) = \(3, 2, 5\); got \(2, 2, 5\)",
    ),
    "backward-grad-h-n": (
        lambda: elman_backward(zeros(3, 2, H), zeros(1, 2, H), _cache()),
        r"grad_h_n must be \(B, H\) = \(2, 5\) or None; got \(1, 2, 5\)",
    ),
    "jacobian-norms": (lambda: jacobian_norms(zeros(3, H, H)), r"\(T, B, H, H\); got \(3, 5, 5\)"),
    "distance-steps": (
        lambda: gradient_norm_vs_distance(zeros(H, H), 0),
        r"steps must be an integer >= 1; got 0",
    ),
    "bound-weight": (
        lambda: spectral_bound(zeros(H, I), 1.0, 3),
        r"weight_hh must be \(H, H\); got \(5, 4\)",
    ),
    "k1-above-k2": (
        lambda: stream_train(None, None, zeros(4, 1, I), zeros(4, 1, 3), 3, 2, mse),
        r"k1 must be <= k2 .*got 3 > 2",
    ),
    "k1-zero": (
        lambda: stream_train(None, None, zeros(4, 1, I), zeros(4, 1, 3), 0, 2, mse),
        r"k1 must be an integer >= 1; got 0",
    ),
    "stream-lengths": (
        lambda: stream_train(None, None, zeros(4, 1, I), zeros(3, 1, 3), 2, 2, mse),
        r"same length N >= 1; got 4 and 3",
    ),
    "window-too-long": (
        lambda: truncated_bptt_step(None, None, zeros(5, 1, I), zeros(5, 1, 3), None, 2, 4, mse),
        r"1 <= W <= k2 = 4; got 5 and 5",
    ),
    "mean-length": (
        lambda: random_truncation_lengths(0.5, 3, torch.Generator()),
        r"mean_length must be a number >= 1; got 0.5",
    ),
    "max-length": (
        lambda: random_truncation_lengths(3, 3, torch.Generator(), max_length=0),
        r"max_length must be None or an integer >= 1; got 0",
    ),
    "generator": (
        lambda: random_truncation_lengths(3, 3, 0),
        r"generator must be a torch.Generator; got int",
    ),
}


test_bad_input_raises_value_error_naming_the_expected_shape = raises_table(ERROR_CASES)


# --------------------------------------------------------------------------------------------
# device


@pytest.mark.gpu
def test_elman_backward_and_the_bound_on_cuda_match_autograd_on_cuda():
    x, h0, weights = elman_inputs(5, 3, True, torch.Generator().manual_seed(8))
    x, h0, weights = x.cuda(), h0.cuda(), [w.cuda() for w in weights]
    leaves = [t.clone().requires_grad_() for t in (x, h0, *weights)]
    output, cache = elman_forward(*leaves)
    grad_output = torch.randn_like(output)
    expected = torch.autograd.grad(output, leaves, grad_output)
    grads = elman_backward(grad_output, None, cache)
    for key, e in zip(GRAD_KEYS, expected, strict=True):
        assert grads[key].device.type == "cuda"
        torch.testing.assert_close(grads[key], e, **EXACT)
    norms = jacobian_norms(step_jacobians(output.detach(), cache))
    assert bool((norms <= spectral_bound(weights[1], 1.0, 5)[:, None] * (1 + 1e-12)).all())


# --------------------------------------------------------------------------------------------
# truncated BPTT as a pure function (assignment 3)


def elman_weights(model):
    """An ElmanRNN's weights in truncated_bptt_gradients' argument order (None: no bias)."""
    rnn, readout = model.rnn, model.output_layer
    return (
        rnn.weight_ih_l0,
        rnn.weight_hh_l0,
        getattr(rnn, "bias_ih_l0", None),
        getattr(rnn, "bias_hh_l0", None),
        readout.weight,
        readout.bias,
    )


@pytest.mark.parametrize(
    ("N", "k1", "k2", "nonlinearity", "bias"),
    [
        (10, 2, 5, "tanh", True),
        (10, 3, 4, "tanh", True),
        (10, 5, 5, "relu", True),
        (7, 4, 6, "tanh", False),
        (6, 2, 20, "relu", False),
        (1, 1, 1, "tanh", True),
    ],
    ids=["2-5", "3-4-short-last", "5-5-disjoint-relu", "4-6-no-bias", "k2>N-relu", "N1"],
)
def test_truncated_bptt_gradients_equal_stream_train_with_fixed_weights(
    N, k1, k2, nonlinearity, bias
):
    generator = torch.Generator().manual_seed(N * 10 + k1)
    torch.manual_seed(k2)
    model = ElmanRNN(I, H, 3, nonlinearity=nonlinearity, bias=bias).double()
    x = torch.randn(N, 2, I, generator=generator, dtype=torch.float64)
    y = torch.randn(N, 2, 3, generator=generator, dtype=torch.float64)
    h0 = torch.randn(2, H, generator=generator, dtype=torch.float64)
    optimizer = RecordingOptimizer(model.parameters())
    losses, _ = stream_train(model, optimizer, x, y, k1, k2, mse, h0=h0.unsqueeze(0))

    with torch.no_grad():
        result = truncated_bptt_gradients(
            x, y, h0, *elman_weights(model), k1, k2, nonlinearity=nonlinearity
        )
    keys = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_out", "bias_out"]
    present = [key for key in keys if result[key] is not None]
    assert present == (keys if bias else ["weight_ih", "weight_hh", "weight_out"])
    assert result["loss"].shape == (math.ceil(N / k1),)
    torch.testing.assert_close(result["loss"], torch.tensor(losses, dtype=torch.float64))
    for j, recorded in enumerate(optimizer.steps):  # recorded in model.parameters() order
        for key, expected in zip(present, recorded, strict=True):
            torch.testing.assert_close(result[key][j], expected, **EXACT, msg=f"{key}, update {j}")
