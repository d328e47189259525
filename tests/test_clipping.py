"""Specifications of coursekit.clipping.

Each test names one behaviour. On the other side of every assertion: torch.nn.utils'
clip_grad_norm_ / clip_grad_value_ run on copies of the same parameters, or a formula written
out here (Python floats and ``math`` for the one-unit RNN).
"""

from __future__ import annotations

import math

import pytest
import torch

from coursekit import (
    clip_coefficient,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_by_norm,
    gradient_descent_path,
    loss_surface,
    one_unit_rnn_loss,
    total_grad_norm,
)

NORM_TYPES = [2.0, 1.0, math.inf]
NORM_IDS = ["l2", "l1", "inf"]


def random_parameters(generator, dtype=torch.float64, with_missing_grads=True):
    """3 to 6 parameters of random shapes (a scalar among them), some without a gradient."""
    shapes = [(), (5,), (3, 4), (2, 3, 2), (7, 1), (1,)]
    count = int(torch.randint(3, len(shapes) + 1, (), generator=generator))
    parameters = []
    for k, shape in enumerate(shapes[:count]):
        p = torch.nn.Parameter(torch.randn(shape, generator=generator, dtype=dtype))
        if not (with_missing_grads and k == 1):
            scale = 10.0 ** float(torch.randint(-3, 4, (), generator=generator))
            p.grad = scale * torch.randn(shape, generator=generator, dtype=dtype)
        parameters.append(p)
    return parameters


def copies(parameters):
    """Parameters with the same values and gradients, sharing no storage."""
    result = []
    for p in parameters:
        q = torch.nn.Parameter(p.detach().clone())
        q.grad = None if p.grad is None else p.grad.clone()
        result.append(q)
    return result


def grads(parameters):
    return [p.grad for p in parameters]


def assert_same_grads(actual, expected):
    for a, e in zip(grads(actual), grads(expected), strict=True):
        if e is None:
            assert a is None
        else:
            torch.testing.assert_close(a, e, rtol=1e-12, atol=0, equal_nan=True)


def concatenated_norm(parameters, norm_type):
    """Eq. (5.2) the long way: flatten every gradient into one vector and take its norm."""
    flat = torch.cat([p.grad.reshape(-1) for p in parameters if p.grad is not None])
    if norm_type == math.inf:
        return flat.abs().max()
    return flat.abs().pow(norm_type).sum().pow(1 / norm_type)


# --------------------------------------------------------------------------------------------
# clip_grad_norm_ == torch.nn.utils.clip_grad_norm_


@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=NORM_IDS)
@pytest.mark.parametrize("max_norm_factor", [0.3, 3.0], ids=["clips", "leaves-alone"])
def test_clip_grad_norm_matches_torch(norm_type, max_norm_factor):
    generator = torch.Generator().manual_seed(NORM_TYPES.index(norm_type))
    for _ in range(20):
        ours = random_parameters(generator)
        reference = copies(ours)
        max_norm = max_norm_factor * float(concatenated_norm(ours, norm_type))
        expected_total = torch.nn.utils.clip_grad_norm_(reference, max_norm, norm_type)
        total = clip_grad_norm_(ours, max_norm, norm_type)
        torch.testing.assert_close(total, expected_total, rtol=1e-12, atol=0)
        assert_same_grads(ours, reference)


@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=NORM_IDS)
def test_total_norm_is_the_norm_of_all_gradients_concatenated(norm_type):
    parameters = random_parameters(torch.Generator().manual_seed(1))
    expected = concatenated_norm(parameters, norm_type)
    torch.testing.assert_close(
        total_grad_norm([p.grad for p in parameters if p.grad is not None], norm_type),
        expected,
        rtol=1e-12,
        atol=0,
    )


@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=NORM_IDS)
def test_after_clipping_the_total_norm_is_at_most_max_norm(norm_type):
    parameters = random_parameters(torch.Generator().manual_seed(2))
    before = concatenated_norm(parameters, norm_type)
    max_norm = float(before) / 4
    clip_grad_norm_(parameters, max_norm, norm_type)
    after = concatenated_norm(parameters, norm_type)
    assert after <= max_norm
    torch.testing.assert_close(after, max_norm * before / (before + 1e-6), rtol=1e-12, atol=0)


def test_clip_grad_norm_matches_torch_in_float32_and_mixed_dtypes():
    generator = torch.Generator().manual_seed(3)
    ours = random_parameters(generator, torch.float32) + random_parameters(generator)
    reference = copies(ours)
    expected_total = torch.nn.utils.clip_grad_norm_(reference, 0.1)
    total = clip_grad_norm_(ours, 0.1)
    torch.testing.assert_close(total, expected_total)
    for a, e in zip(grads(ours), grads(reference), strict=True):
        assert (a is None) == (e is None)
        if e is not None:
            assert a.dtype == e.dtype
            torch.testing.assert_close(a, e)


def test_zero_gradients_are_left_at_zero_and_the_norm_is_zero():
    ours = [torch.nn.Parameter(torch.ones(3, 2)) for _ in range(2)]
    for p in ours:
        p.grad = torch.zeros_like(p)
    reference = copies(ours)
    expected_total = torch.nn.utils.clip_grad_norm_(reference, 1.0)
    total = clip_grad_norm_(ours, 1.0)
    assert float(total) == 0.0 == float(expected_total)
    assert_same_grads(ours, reference)


def test_parameters_without_grad_are_skipped_and_an_all_none_list_gives_zero():
    ours = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))]
    expected_total = torch.nn.utils.clip_grad_norm_(copies(ours), 1.0)
    total = clip_grad_norm_(ours, 1.0)
    assert all(p.grad is None for p in ours)
    torch.testing.assert_close(total, expected_total)
    assert total.dtype == expected_total.dtype and total.dim() == 0


def test_a_single_tensor_and_a_generator_are_accepted_like_torch():
    single = torch.nn.Parameter(torch.zeros(4))
    single.grad = torch.tensor([3.0, 4.0, 0.0, 0.0])
    reference = copies([single])[0]
    torch.testing.assert_close(
        clip_grad_norm_(single, 1.0), torch.nn.utils.clip_grad_norm_(reference, 1.0)
    )
    torch.testing.assert_close(single.grad, reference.grad)

    module, reference_module = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    reference_module.load_state_dict(module.state_dict())
    for m in (module, reference_module):
        m(torch.ones(5, 3)).pow(2).sum().backward()
    total = clip_grad_norm_(module.parameters(), 0.01)
    expected = torch.nn.utils.clip_grad_norm_(reference_module.parameters(), 0.01)
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(module.weight.grad, reference_module.weight.grad)


def test_an_empty_generator_warns_like_torch():
    with pytest.warns(UserWarning, match="empty generator") as expected:
        torch.nn.utils.clip_grad_norm_((p for p in []), 1.0)
    with pytest.warns(UserWarning, match="empty generator") as actual:
        total = clip_grad_norm_((p for p in []), 1.0)
    assert str(actual[0].message) == str(expected[0].message)
    assert float(total) == 0.0


def nonfinite_parameters(bad_value):
    generator = torch.Generator().manual_seed(4)
    parameters = random_parameters(generator)
    parameters[2].grad[0, 1] = bad_value
    return parameters


@pytest.mark.parametrize("bad_value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=NORM_IDS)
def test_nonfinite_norm_raises_like_torch_and_changes_nothing(bad_value, norm_type):
    ours = nonfinite_parameters(bad_value)
    reference, untouched = copies(ours), copies(ours)
    with pytest.raises(RuntimeError) as expected:
        torch.nn.utils.clip_grad_norm_(reference, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as actual:
        clip_grad_norm_(ours, 1.0, norm_type, error_if_nonfinite=True)
    assert str(actual.value) == str(expected.value)
    assert_same_grads(ours, untouched)


@pytest.mark.parametrize("bad_value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=NORM_IDS)
def test_nonfinite_norm_without_error_propagates_like_torch(bad_value, norm_type):
    ours = nonfinite_parameters(bad_value)
    reference = copies(ours)
    expected_total = torch.nn.utils.clip_grad_norm_(reference, 1.0, norm_type)
    total = clip_grad_norm_(ours, 1.0, norm_type)
    torch.testing.assert_close(total, expected_total, equal_nan=True)
    assert_same_grads(ours, reference)


# --------------------------------------------------------------------------------------------
# the pure functions students mirror


@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=NORM_IDS)
@pytest.mark.parametrize("max_norm_factor", [0.1, 10.0], ids=["clips", "leaves-alone"])
def test_clip_grads_by_norm_matches_torch(norm_type, max_norm_factor):
    parameters = random_parameters(torch.Generator().manual_seed(5), with_missing_grads=False)
    reference = copies(parameters)
    max_norm = max_norm_factor * float(concatenated_norm(parameters, norm_type))
    expected_total = torch.nn.utils.clip_grad_norm_(reference, max_norm, norm_type)
    clipped, total = clip_grads_by_norm(grads(parameters), max_norm, norm_type)
    torch.testing.assert_close(total, expected_total, rtol=1e-12, atol=0)
    for c, e in zip(clipped, grads(reference), strict=True):
        torch.testing.assert_close(c, e, rtol=1e-12, atol=0)


@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=NORM_IDS)
def test_clip_grads_by_norm_leaves_its_inputs_alone(norm_type):
    parameters = random_parameters(torch.Generator().manual_seed(5), with_missing_grads=False)
    before = [p.grad.clone() for p in parameters]
    max_norm = 0.1 * float(concatenated_norm(parameters, norm_type))
    clip_grads_by_norm(grads(parameters), max_norm, norm_type)
    for g, b in zip(grads(parameters), before, strict=True):
        assert torch.equal(g, b)


@pytest.mark.parametrize(
    ("total", "max_norm"),
    [(10.0, 1.0), (0.5, 1.0), (0.0, 2.0), (1.0, 1.0), (3.0, 2.999999)],
)
def test_clip_coefficient_is_max_norm_over_total_capped_at_one(total, max_norm):
    expected = min(1.0, max_norm / (total + 1e-6))
    assert float(clip_coefficient(torch.tensor(total, dtype=torch.float64), max_norm)) == expected


def test_clip_coefficient_of_nonfinite_norms():
    assert math.isnan(float(clip_coefficient(torch.tensor(math.nan), 1.0)))
    assert float(clip_coefficient(torch.tensor(math.inf), 1.0)) == 0.0


def test_total_grad_norm_of_nothing_is_a_zero_tensor_like_torch():
    expected = torch.nn.utils.get_total_norm([])
    total = total_grad_norm([])
    assert torch.equal(total, expected) and total.dtype == expected.dtype


# --------------------------------------------------------------------------------------------
# clip_grad_value_ == torch.nn.utils.clip_grad_value_


@pytest.mark.parametrize("clip_value", [1e-3, 0.5, 100.0])
def test_clip_grad_value_matches_torch(clip_value):
    generator = torch.Generator().manual_seed(6)
    for _ in range(10):
        ours = random_parameters(generator)
        ours[0].grad = torch.tensor(math.nan, dtype=torch.float64)  # nan stays nan
        reference = copies(ours)
        torch.nn.utils.clip_grad_value_(reference, clip_value)
        assert clip_grad_value_(ours, clip_value) is None
        assert_same_grads(ours, reference)
        assert all(g is None or bool((g.abs() <= clip_value).all()) for g in grads(ours)[1:])


def test_clip_grad_value_accepts_a_single_tensor():
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.tensor([-5.0, 0.2, 7.0])
    clip_grad_value_(p, 1.0)
    assert p.grad.tolist() == [-1.0, pytest.approx(0.2), 1.0]


@pytest.mark.gpu
def test_clip_grad_norm_on_cuda_matches_torch_on_cuda():
    ours = []
    for p in random_parameters(torch.Generator().manual_seed(9)):
        q = torch.nn.Parameter(p.detach().cuda())
        q.grad = None if p.grad is None else p.grad.cuda()
        ours.append(q)
    reference = copies(ours)
    expected_total = torch.nn.utils.clip_grad_norm_(reference, 0.01)
    total = clip_grad_norm_(ours, 0.01)
    assert total.device.type == "cuda"
    torch.testing.assert_close(total, expected_total)
    assert_same_grads(ours, reference)


# --------------------------------------------------------------------------------------------
# the cliff: Pascanu et al.'s one-unit RNN


def loss_by_hand(w, b, x0=0.5, T=50, target=0.7):
    """Eq. (5.1) with Python floats."""
    x = x0
    for _ in range(T):
        x = w / (1 + math.exp(-x)) + b
    return (x - target) ** 2


def gradient_by_hand(w, b, x0=0.5, T=50, target=0.7):
    """∂L/∂w, ∂L/∂b by forward-mode differentiation of x_t = w σ(x_{t-1}) + b."""
    x, dx_dw, dx_db = x0, 0.0, 0.0
    for _ in range(T):
        s = 1 / (1 + math.exp(-x))
        x, dx_dw, dx_db = w * s + b, s + w * s * (1 - s) * dx_dw, 1 + w * s * (1 - s) * dx_db
    return 2 * (x - target) * dx_dw, 2 * (x - target) * dx_db


def test_loss_surface_matches_a_direct_loop():
    ws = torch.linspace(-2.0, 12.0, 8, dtype=torch.float64)
    bs = torch.linspace(-8.0, 2.0, 5, dtype=torch.float64)
    surface = loss_surface(ws, bs, x0=0.3, T=20, target=0.9)
    assert surface.shape == (5, 8)
    expected = [[loss_by_hand(float(w), float(b), 0.3, 20, 0.9) for w in ws] for b in bs]
    torch.testing.assert_close(surface, torch.tensor(expected, dtype=torch.float64))


def test_one_unit_rnn_loss_broadcasts_and_accepts_numbers():
    w = torch.tensor([1.0, 5.0], dtype=torch.float64)
    loss = one_unit_rnn_loss(w[:, None, None], torch.tensor([-1.0, 0.0, 2.0]).double())
    assert loss.shape == (2, 1, 3)
    assert float(one_unit_rnn_loss(5.0, -2.5)) == pytest.approx(loss_by_hand(5.0, -2.5), rel=1e-12)


def test_gradient_descent_takes_plain_gradient_steps():
    start, lr = (3.0, -1.0), 0.05
    path = gradient_descent_path(start, lr, steps=3)
    assert path.shape == (4, 2)
    expected = [start]
    for _ in range(3):
        w, b = expected[-1]
        gw, gb = gradient_by_hand(w, b)
        expected.append((w - lr * gw, b - lr * gb))
    torch.testing.assert_close(path, torch.tensor(expected, dtype=torch.float64))


# The region searched for the cliff: w fixed, b in [B_LOW, B_HIGH].
W_ON_CLIFF, B_LOW, B_HIGH = 9.0, -6.0, -3.0


def point_on_the_cliff():
    """Bisect b at fixed w, keeping the half across which the loss changes more.

    Each half carries at least half of the change, so the loss keeps jumping by a fixed amount
    across an interval that shrinks to nothing: the limit is a wall of the loss surface."""
    low, high = B_LOW, B_HIGH
    assert abs(loss_by_hand(W_ON_CLIFF, low) - loss_by_hand(W_ON_CLIFF, high)) > 1.0
    while high - low > 1e-11:
        mid = (low + high) / 2
        left = abs(loss_by_hand(W_ON_CLIFF, mid) - loss_by_hand(W_ON_CLIFF, low))
        right = abs(loss_by_hand(W_ON_CLIFF, high) - loss_by_hand(W_ON_CLIFF, mid))
        low, high = (low, mid) if left >= right else (mid, high)
    return W_ON_CLIFF, (low + high) / 2


def test_without_clipping_a_step_on_the_cliff_leaves_the_whole_region():
    lr = 0.01
    path = gradient_descent_path(point_on_the_cliff(), lr, steps=1)
    step = float((path[1] - path[0]).norm())
    assert step > B_HIGH - B_LOW  # one step jumps further than the whole interval searched


@pytest.mark.parametrize("clip", [0.5, 1.0, 5.0])
def test_with_clipping_no_step_is_longer_than_lr_times_max_norm(clip):
    lr = 0.01
    path = gradient_descent_path(point_on_the_cliff(), lr, steps=30, clip=clip)
    steps = (path[1:] - path[:-1]).norm(dim=1)  # (N - 1,)
    assert bool((steps <= lr * clip * (1 + 1e-12)).all())  # up to rounding of the subtraction
    # and on the wall itself the clipped step is exactly that long, in the gradient's direction
    unclipped = gradient_descent_path(point_on_the_cliff(), lr, steps=1)
    direction = (unclipped[1] - unclipped[0]) / (unclipped[1] - unclipped[0]).norm()
    torch.testing.assert_close(path[1] - path[0], lr * clip * direction, rtol=1e-5, atol=0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: one_unit_rnn_loss(1.0, 0.0, T=0), r"T must be an integer >= 1; got 0"),
        (
            lambda: loss_surface(torch.zeros(2, 2), torch.zeros(3)),
            r"ws and bs must be 1-D grids \(G_w,\) and \(G_b,\); got \(2, 2\) and \(3,\)",
        ),
        (
            lambda: gradient_descent_path((1.0, 2.0, 3.0), 0.1, 2),
            r"start must be \(w, b\), shape \(2,\); got \(3,\)",
        ),
        (lambda: gradient_descent_path((1.0, 2.0), 0.1, -1), r"steps must be an integer >= 0"),
        (lambda: gradient_descent_path((1.0, 2.0), 0.1, 2, clip=0.0), r"clip must be None or"),
    ],
    ids=["T", "grid", "start", "steps", "clip"],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
