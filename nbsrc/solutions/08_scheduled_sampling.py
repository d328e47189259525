# %% [markdown]
# # Assignment 8 · Scheduled sampling (计划采样)
#
# In this assignment you write the pieces of chapter 8: the three decays of the probability
# of feeding the true token, the decoding loop that flips a coin for every token, and the
# measurement of exposure bias (暴露偏差):
#
# | part | function | points |
# |---|---|---|
# | 1 | `linear_schedule`, `exponential_schedule`, `inverse_sigmoid_schedule` — Eqs. (8.2)–(8.4) | 1 + 1 + 1 |
# | 2 | `decode` — teacher forcing, free running and scheduled sampling in one loop, Eq. (8.1) | 3 |
# | 3 | `per_position_error`, `exposure_bias` — Eq. (8.5), teacher-forced and free-running | 1 + 1 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in
# `coursekit.scheduled_sampling`. The visible tests below each part check cases small enough
# to work out by hand; when you submit, hidden tests compare your function with the reference
# on many random cases: the schedules' values, and for `decode` its logits, fed inputs,
# predictions, coins and final state, with the gradient of the logits and the state with
# respect to the decoder's weights. A function counts if it passes every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, with Python and tensor
# operations. Calling an implementation of what you are asked to write (`coursekit`) scores
# zero for that function. Do not edit the other cells; they are restored from the original
# when grading.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math
from typing import NamedTuple

import torch

torch.set_default_dtype(torch.float64)
_ = torch.manual_seed(0)  # the random decoders of the visible tests


class Decoded(NamedTuple):
    """What decode returns (batch first)."""

    logits: torch.Tensor  # (B, T, V): z_t, the scores of position t's token
    inputs: torch.Tensor  # (B, T): x_t, the ids fed at each step (x_0 = first_input)
    predictions: torch.Tensor  # (B, T): ŷ_t, the arg-max of z_t
    use_true: torch.Tensor  # (B, T) bool: the coins c_t; column 0 (x_0 is given) is True
    state: object  # the decoder's state after the last step


class ExposureBias(NamedTuple):
    """Per-position error rates (T,) of one model on one set of sequences."""

    teacher_forced: torch.Tensor  # (T,): fed the true history, as in training
    free_running: torch.Tensor  # (T,): fed its own arg-max predictions, as at test time


def coin_flips(shape, p_true, generator=None):
    """The coins of Eq. (8.1): a bool tensor of ``shape``, each entry True with probability
    ``p_true``, drawn as ``torch.rand(shape, generator=generator) < p_true``. ``p_true`` of
    exactly 1 or 0 draws nothing (all True, or all False). Use this to draw your coins."""
    if p_true == 1 or p_true == 0:
        return torch.full(shape, p_true == 1, dtype=torch.bool)
    return torch.rand(shape, generator=generator) < p_true


def elman_decoder(vocab_size, hidden_size, scale=1.5):
    """A small random decoder step for the tests: ``step(ids (B,), h) -> (logits (B, V), h)``,
    h = tanh(E[ids] + h Wᵀ), logits = h Uᵀ + c, starting from h = 0 when ``h`` is None."""
    E = scale * torch.randn(vocab_size, hidden_size)
    W = torch.randn(hidden_size, hidden_size) / hidden_size**0.5
    U, c = scale * torch.randn(vocab_size, hidden_size), torch.randn(vocab_size)

    def step(ids, h):
        if h is None:
            h = torch.zeros(ids.shape[0], hidden_size)
        h = torch.tanh(E[ids] + h @ W.T)
        return h @ U.T + c, h

    return step


# %% [markdown]
# ## Part 1 · The schedules
#
# Scheduled sampling feeds the decoder, at each step after the first, the true previous token
# with probability $\varepsilon_i$ and its own prediction otherwise; $\varepsilon_i$ falls with
# the training step $i$ (not the position in the sequence), from teacher forcing
# ($\varepsilon = 1$) towards free running ($\varepsilon = 0$). Bengio et al. (2015) propose
# three decays (chapter 8, §8.2):
#
# $$ \varepsilon_i = \max(\varepsilon_{\min},\; k - c\,i) \quad \text{(linear: offset } k =
# \texttt{start}, \text{ slope } c, \text{ floor } \varepsilon_{\min} = \texttt{minimum}),
# \tag{8.2} $$
#
# $$ \varepsilon_i = k^i \quad (0 < k < 1), \tag{8.3} $$
#
# $$ \varepsilon_i = \frac{k}{k + \exp(i / k)} \quad (k \ge 1). \tag{8.4} $$
#
# Each function takes the step $i$ (an int $\ge 0$) and returns $\varepsilon_i$ as a Python
# float. The inverse sigmoid starts at $k/(k+1)$, not at 1, and crosses $1/2$ at
# $i = k \ln k$.


# %% nbgrader={"grade": false, "grade_id": "linear_schedule", "locked": false, "schema_version": 3, "solution": true}
def linear_schedule(step, *, start=1.0, slope, minimum):
    """Eq. (8.2): max(minimum, start - slope * step), a float."""
    ### BEGIN SOLUTION
    return max(float(minimum), float(start) - float(slope) * step)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "linear_schedule_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests, by hand: 1 - 0.001 i, floored at 0.2, and 0.9 - 0.002 i.
for i, expected in [(0, 1.0), (300, 0.7), (800, 0.2), (5000, 0.2)]:
    got = linear_schedule(i, slope=0.001, minimum=0.2)
    assert isinstance(got, float), f"expected a float; got {type(got).__name__}"
    assert abs(got - expected) < 1e-12, f"linear, step {i}: expected {expected}; got {got}"
got = linear_schedule(100, start=0.9, slope=0.002, minimum=0.0)
assert abs(got - 0.7) < 1e-12, f"linear from 0.9, step 100: expected 0.7; got {got}"
print("linear_schedule: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "linear_schedule_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for linear_schedule run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("linear_schedule", linear_schedule)
### END HIDDEN TESTS


# %% nbgrader={"grade": false, "grade_id": "exponential_schedule", "locked": false, "schema_version": 3, "solution": true}
def exponential_schedule(step, *, k):
    """Eq. (8.3): k ** step for 0 < k < 1, a float."""
    ### BEGIN SOLUTION
    return float(k) ** step
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "exponential_schedule_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests, by hand: 0.5^i.
for i, expected in [(0, 1.0), (1, 0.5), (3, 0.125)]:
    got = exponential_schedule(i, k=0.5)
    assert abs(got - expected) < 1e-12, f"exponential, step {i}: expected {expected}; got {got}"
print("exponential_schedule: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "exponential_schedule_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for exponential_schedule run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("exponential_schedule", exponential_schedule)
### END HIDDEN TESTS


# %% nbgrader={"grade": false, "grade_id": "inverse_sigmoid_schedule", "locked": false, "schema_version": 3, "solution": true}
def inverse_sigmoid_schedule(step, *, k):
    """Eq. (8.4): k / (k + exp(step / k)) for k >= 1, a float."""
    ### BEGIN SOLUTION
    return k / (k + math.exp(step / k))
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "inverse_sigmoid_schedule_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. By hand, with k = e: ε_0 = e / (e + 1); at i = k ln k = e, exp(i / k) = e = k: 1/2.
k = math.e
got = inverse_sigmoid_schedule(0, k=k)
assert abs(got - k / (k + 1)) < 1e-12, f"inverse sigmoid, step 0: expected k/(k+1); got {got}"
got = inverse_sigmoid_schedule(k * math.log(k), k=k)
assert abs(got - 0.5) < 1e-12, f"inverse sigmoid at i = k ln k: expected 1/2; got {got}"
# All three fall from (near) 1 as training goes on, and stay in [0, 1].
for schedule in (
    lambda i: linear_schedule(i, slope=1 / 1000, minimum=0.0),
    lambda i: exponential_schedule(i, k=0.998),
    lambda i: inverse_sigmoid_schedule(i, k=150.0),
):
    values = [schedule(i) for i in range(0, 3000, 100)]
    assert all(0 <= v <= 1 for v in values), f"a probability must be in [0, 1]; got {values}"
    assert all(a >= b for a, b in zip(values, values[1:], strict=False)), (
        f"must not increase; got {values}"
    )
    assert values[0] > 0.99 and values[-1] < 0.05, f"from ~1 towards 0; got {values}"
print("inverse_sigmoid_schedule: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "inverse_sigmoid_schedule_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for inverse_sigmoid_schedule run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("inverse_sigmoid_schedule", inverse_sigmoid_schedule)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · One loop for three regimes
#
# A decoder step `decoder_step(ids, state) -> (logits, state)` is fed one token id per
# sequence, `(B,)`, and returns the logits of the next token, `(B, V)`, and its new state.
# `decode` runs it over the $T$ positions of `targets` `(B, T)` ($y_0, \dots, y_{T-1}$):
#
# * step 0 is fed `first_input` `(B,)`, $x_0$, which is given (no coin; its coin counts as
#   True);
# * step $t \ge 1$ is fed, for each sequence $b$ separately,
#
# $$ x_{b,t} = \begin{cases} y_{b,t-1} & \text{if } c_{b,t} = 1, \\
#   \hat y_{b,t-1} & \text{if } c_{b,t} = 0, \end{cases} \qquad
#   c_{b,t} \sim \mathrm{Bernoulli}(p_{\text{true}}), \tag{8.1} $$
#
#   where $\hat y_{b,t-1}$ is the arg-max of step $t-1$'s logits: the model's prediction of
#   the token it has just produced, taken *after* that step ran.
#
# Draw the coins of step $t$ with `coin_flips((B,), p_true, generator)` (defined in the setup
# cell), once at every step $t \ge 1$ and at no other time, so that the hidden tests can
# replay your coins: a fresh coin for every token of every sequence. `p_true=1` is teacher
# forcing, `p_true=0` free running (then `coin_flips` draws nothing). The prediction is an
# integer id with no gradient: take the arg-max of detached logits. Return a `Decoded` (setup
# cell) of the stacked logits `(B, T, V)`, the fed inputs `(B, T)`, the predictions `(B, T)`,
# the coins `(B, T)` (column 0 all True) and the last state. (`coursekit.decode` can also feed
# a draw from the softmax instead of the arg-max; you need not.)


# %% nbgrader={"grade": false, "grade_id": "decode", "locked": false, "schema_version": 3, "solution": true}
def decode(decoder_step, first_input, targets, *, p_true, state=None, generator=None):
    """first_input (B,), targets (B, T) of ids -> Decoded(logits (B, T, V), inputs (B, T),
    predictions (B, T), use_true (B, T), state): Eq. (8.1) at every step t >= 1."""
    ### BEGIN SOLUTION
    B, T = targets.shape
    inputs = first_input
    coin = torch.ones(B, dtype=torch.bool)  # x_0 is given
    logits, fed, predictions, coins = [], [], [], []
    for t in range(T):
        if t > 0:
            coin = coin_flips((B,), p_true, generator)  # a fresh coin per token, (B,)
            inputs = torch.where(coin, targets[:, t - 1], predictions[-1])  # Eq. (8.1)
        step_logits, state = decoder_step(inputs, state)  # (B, V)
        predictions.append(step_logits.detach().argmax(dim=-1))  # ŷ_t, after the step
        fed.append(inputs)
        logits.append(step_logits)
        coins.append(coin)
    return Decoded(
        torch.stack(logits, dim=1),
        torch.stack(fed, dim=1),
        torch.stack(predictions, dim=1),
        torch.stack(coins, dim=1),
        state,
    )
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "decode_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: a "decoder" that ignores its state and predicts the token it was
# fed plus one (mod 10). From x_0 = 3, free running feeds 3, 4, 5, 6 and predicts 4, 5, 6, 7,
# whatever the targets; teacher forcing feeds 3, y_0, y_1, y_2.
def plus_one(ids, state):
    return 10.0 * torch.nn.functional.one_hot((ids + 1) % 10, 10).double(), state


first, targets = torch.tensor([3]), torch.tensor([[0, 8, 2, 9]])
free = decode(plus_one, first, targets, p_true=0.0)
assert isinstance(free, tuple) and len(free) == 5, "expected a Decoded of five fields"
assert free.logits.shape == (1, 4, 10), f"expected logits (1, 4, 10); got {free.logits.shape}"
assert free.inputs.tolist() == [[3, 4, 5, 6]], f"free running: fed {free.inputs.tolist()}"
assert free.predictions.tolist() == [[4, 5, 6, 7]], f"predicted {free.predictions.tolist()}"
assert free.use_true.tolist() == [[True, False, False, False]], (
    f"free running: the coins should be True at 0 (x_0 is given), else False; got "
    f"{free.use_true.tolist()}"
)
forced = decode(plus_one, first, targets, p_true=1.0)
assert forced.inputs.tolist() == [[3, 0, 8, 2]], f"teacher forcing: fed {forced.inputs.tolist()}"
assert forced.predictions.tolist() == [[4, 1, 9, 3]], f"predicted {forced.predictions.tolist()}"
# 2) A coin per token: with p_true = 1/2, the coins of 200 sequences at one step are not all
# alike, each fed input is the true token where its coin says so and the prediction elsewhere,
# and the same generator seed gives the same coins.
step = elman_decoder(vocab_size=6, hidden_size=4)
first, targets = torch.randint(6, (200,)), torch.randint(6, (200, 5))
mixed = decode(step, first, targets, p_true=0.5, generator=torch.Generator().manual_seed(1))
assert mixed.use_true[:, 0].all(), "column 0 of the coins must be True (x_0 is given)"
for t in range(1, 5):
    share = mixed.use_true[:, t].double().mean().item()
    assert 0.35 < share < 0.65, f"step {t}: {share:.2f} of the coins are True; expected ~1/2"
expected = torch.where(mixed.use_true[:, 1:], targets[:, :-1], mixed.predictions[:, :-1])
assert torch.equal(mixed.inputs[:, 1:], expected), "fed inputs do not follow Eq. (8.1)"
again = decode(step, first, targets, p_true=0.5, generator=torch.Generator().manual_seed(1))
assert torch.equal(again.use_true, mixed.use_true), "the same generator must give the same coins"
# 3) The logits are the decoder's on what was fed: rerun it on the fed inputs by hand.
state, by_hand = None, []
for t in range(5):
    logits, state = step(mixed.inputs[:, t], state)
    by_hand.append(logits)
assert torch.allclose(mixed.logits, torch.stack(by_hand, dim=1), atol=1e-12), (
    "the logits differ from the decoder's own on the fed inputs"
)
assert torch.equal(mixed.predictions, mixed.logits.argmax(-1)), "predictions: the arg-max"
assert torch.allclose(mixed.state, state, atol=1e-12), "state: the decoder's after the last step"
print("decode: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "decode_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for decode run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("decode", decode)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · Exposure bias, measured
#
# With predictions $\hat y_{b,t}$ for $B$ sequences, the error rate at position $t$ is
#
# $$ \mathrm{err}_t = \frac{1}{B} \sum_{b=1}^{B} [\hat y_{b,t} \ne y_{b,t}] . \tag{8.5} $$
#
# `per_position_error(predictions, targets)` takes two `(B, T)` id tensors and returns the
# `(T,)` float tensor of Eq. (8.5). `exposure_bias(decoder_step, first_input, targets,
# state=...)` measures a model's error at every position twice, on the same sequences and from
# the same state: teacher-forced (fed the true history) and free-running (fed its own
# arg-max predictions, as at test time), with your `decode` and without gradients
# (`torch.no_grad()`), and returns an `ExposureBias` (setup cell) of the two curves. The two
# agree at position 0; a gap that grows with $t$ is exposure bias.


# %% nbgrader={"grade": false, "grade_id": "per_position_error", "locked": false, "schema_version": 3, "solution": true}
def per_position_error(predictions, targets):
    """predictions, targets (B, T) of ids -> err (T,), Eq. (8.5)."""
    ### BEGIN SOLUTION
    return (predictions != targets).double().mean(dim=0)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "per_position_error_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. By hand: 4 sequences of 3 positions; position 0 is wrong in one, position 1
# in two, position 2 in none.
predictions = torch.tensor([[1, 2, 3], [0, 2, 3], [1, 0, 3], [1, 0, 3]])
targets = torch.tensor([[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]])
err = per_position_error(predictions, targets)
assert isinstance(err, torch.Tensor) and err.shape == (3,), f"expected err (3,); got {err}"
assert torch.allclose(err, torch.tensor([0.25, 0.5, 0.0])), f"expected (0.25, 0.5, 0); got {err}"
print("per_position_error: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "per_position_error_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for per_position_error run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("per_position_error", per_position_error)
### END HIDDEN TESTS


# %% nbgrader={"grade": false, "grade_id": "exposure_bias", "locked": false, "schema_version": 3, "solution": true}
def exposure_bias(decoder_step, first_input, targets, *, state=None):
    """-> ExposureBias(teacher_forced (T,), free_running (T,)), Eq. (8.5) both ways."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        forced = decode(decoder_step, first_input, targets, p_true=1.0, state=state)
        free = decode(decoder_step, first_input, targets, p_true=0.0, state=state)
    return ExposureBias(
        per_position_error(forced.predictions, targets),
        per_position_error(free.predictions, targets),
    )
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "exposure_bias_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: the plus-one decoder of part 2, from x_0 = 3, on targets
# 4, 5, 0, 1. Teacher forcing feeds 3, 4, 5, 0 and predicts 4, 5, 6, 1: wrong only at
# position 2. Free running feeds 3, 4, 5, 6 and predicts 4, 5, 6, 7: wrong from position 2 on
# (its error compounds).
curves = exposure_bias(plus_one, torch.tensor([3]), torch.tensor([[4, 5, 0, 1]]))
assert isinstance(curves, tuple) and len(curves) == 2, "expected an ExposureBias of two curves"
assert curves.teacher_forced.tolist() == [0.0, 0.0, 1.0, 0.0], (
    f"teacher-forced: expected (0, 0, 1, 0); got {curves.teacher_forced.tolist()}"
)
assert curves.free_running.tolist() == [0.0, 0.0, 1.0, 1.0], (
    f"free-running: expected (0, 0, 1, 1); got {curves.free_running.tolist()}"
)
# 2) A random decoder: the two curves agree at position 0 (the same input x_0 either way).
first, targets = torch.randint(6, (100,)), torch.randint(6, (100, 6))
curves = exposure_bias(step, first, targets)
assert curves.teacher_forced.shape == curves.free_running.shape == (6,), "expected (T,) curves"
assert curves.teacher_forced[0] == curves.free_running[0], "position 0 must agree"
print("exposure_bias: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "exposure_bias_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for exposure_bias run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("exposure_bias", exposure_bias)
### END HIDDEN TESTS
