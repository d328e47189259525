# %% [markdown]
# # Assignment 2 · Recurrent networks (循环神经网络)
#
# In this assignment you write the recurrent network of chapter 2 yourself, one piece at a
# time, in plain PyTorch tensor operations:
#
# | part | function | points |
# |---|---|---|
# | 1 | `rnn_cell_step` — one step of an Elman cell, Eq. (2.1) | 2 |
# | 2 | `rnn_forward` — the cell unrolled over a whole sequence | 3 |
# | 3 | `bidirectional_rnn_forward` — a forward and a reverse pass combined | 3 |
# | 4 | `jordan_step` — one step of a Jordan network, which feeds back its output | 2 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in
# `coursekit.rnn`. The visible tests below each part check shapes and a case small enough to
# work out by hand; when you submit, hidden tests compare your function with the reference on
# random float64 inputs — the values *and* the gradients of every input — including the edge
# cases (a sequence of length 1, a batch of 1, no bias, `relu`). A function counts if it passes
# every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, using tensor operations
# (`@`, `torch.tanh`, `torch.relu`, `torch.cat`, `torch.stack`, indexing …). Calling an
# implementation of what you are asked to write — `coursekit`, `torch.nn.RNN`,
# `torch.nn.RNNCell` or torch's internal RNN kernels — scores zero for that function. Later parts
# may (and should) call your earlier functions, so get part 1 right first: its visible tests
# tell you. Do not edit the other cells; they are restored from the original when grading.
#
# Shapes follow torch's conventions: `T` time steps, `B` batch, `I` input features, `H` hidden
# units, `O` outputs; sequences are `(T, B, I)`.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math

import torch

torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## Part 1 · One step of the cell
#
# An Elman cell reads the input $x_t$ and its previous state $h_{t-1}$ and returns the new
# state (Eq. 2.1 of the chapter, in torch's row-vector layout):
#
# $$ h_t = f\left(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}\right), \qquad f \in \{\tanh, \operatorname{relu}\}. $$
#
# `weight_ih` is `(H, I)`, `weight_hh` is `(H, H)`, the biases are `(H,)` or `None` (no bias).


# %% nbgrader={"grade": false, "grade_id": "rnn_cell_step", "locked": false, "schema_version": 3, "solution": true}
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One Elman step: x (B, I), h_prev (B, H) -> h (B, H)."""
    ### BEGIN SOLUTION
    pre = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih
    if bias_hh is not None:
        pre = pre + bias_hh
    if nonlinearity == "tanh":
        return torch.tanh(pre)
    if nonlinearity == "relu":
        return torch.relu(pre)
    raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "rnn_cell_step_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests: shapes, then a one-unit case you can check by hand.
h = rnn_cell_step(torch.zeros(3, 4), torch.zeros(3, 5), torch.zeros(5, 4), torch.zeros(5, 5))
assert h.shape == (3, 5), f"expected h of shape (3, 5) for B=3, H=5; got {tuple(h.shape)}"

# x = 0.5, h_prev = -1, W_ih = 2, W_hh = 0.5, b_ih = 0.1, b_hh = -0.2:
# pre-activation 2·0.5 + 0.5·(-1) + 0.1 - 0.2 = 0.4, so h = tanh(0.4) (or relu(0.4) = 0.4).
one = lambda v: torch.tensor([[v]])  # noqa: E731  a (1, 1) tensor
args = (one(0.5), one(-1.0), one(2.0), one(0.5), torch.tensor([0.1]), torch.tensor([-0.2]))
got = rnn_cell_step(*args).item()
assert abs(got - math.tanh(0.4)) < 1e-12, (
    f"tanh case: expected tanh(0.4) = {math.tanh(0.4):.6f}; got {got:.6f}"
)
got = rnn_cell_step(*args, nonlinearity="relu").item()
assert abs(got - 0.4) < 1e-12, f"relu case: expected 0.4; got {got:.6f}"
got = rnn_cell_step(one(0.5), one(-1.0), one(2.0), one(0.5)).item()
assert abs(got - math.tanh(0.5)) < 1e-12, (
    f"without biases: expected tanh(0.5) = {math.tanh(0.5):.6f}; got {got:.6f}"
)
print("rnn_cell_step: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "rnn_cell_step_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for rnn_cell_step run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("rnn_cell_step", rnn_cell_step)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · The whole sequence
#
# Unrolled in time, the same cell (the same weights) is applied at every step, starting from
# the initial state $h_0$. Return every state, stacked, and the last one:
#
# - `output` of shape `(T, B, H)`, where `output[t]` is the state after reading `x[t]`;
# - `h_n` of shape `(B, H)`, the state after the last step.


# %% nbgrader={"grade": false, "grade_id": "rnn_forward", "locked": false, "schema_version": 3, "solution": true}
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """x (T, B, I), h0 (B, H) -> output (T, B, H), h_n (B, H)."""
    ### BEGIN SOLUTION
    h = h0
    states = []
    for x_t in x:  # x_t: (B, I)
        h = rnn_cell_step(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        states.append(h)
    return torch.stack(states), h
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "rnn_forward_visible", "locked": true, "schema_version": 3, "solution": false}
output, h_n = rnn_forward(
    torch.zeros(7, 2, 3), torch.zeros(2, 4), torch.zeros(4, 3), torch.zeros(4, 4)
)
assert output.shape == (7, 2, 4), (
    f"expected output (T, B, H) = (7, 2, 4); got {tuple(output.shape)}"
)
assert h_n.shape == (2, 4), f"expected h_n (B, H) = (2, 4); got {tuple(h_n.shape)}"

# One unit that just adds its input to its state (W_ih = W_hh = 1, relu keeps positives):
# inputs 1, 2, 3 from h0 = 0 give the running sums 1, 3, 6.
x = torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1, 1)
output, h_n = rnn_forward(
    x, torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1, 1), nonlinearity="relu"
)
assert output.flatten().tolist() == [1.0, 3.0, 6.0], (
    f"expected states [1, 3, 6]; got {output.flatten().tolist()}"
)
assert h_n.item() == 6.0, f"h_n must be the last state, 6; got {h_n.item()}"
print("rnn_forward: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "rnn_forward_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for rnn_forward run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("rnn_forward", rnn_forward)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · Bidirectional
#
# A bidirectional RNN (双向循环神经网络) runs one cell forward in time and a second cell, with
# its own weights, backward from the last step to the first. At each step $t$ the two states
# are concatenated, so position $t$ sees the past through the forward state and the future
# through the reverse state:
#
# - `h0` is `(2, B, H)`: `h0[0]` starts the forward pass, `h0[1]` the reverse pass;
# - `forward_weights` and `reverse_weights` are tuples `(weight_ih, weight_hh, bias_ih, bias_hh)`;
# - `output` is `(T, B, 2H)`: `output[t] = cat(forward state after x[t], reverse state after x[t])`,
#   where the reverse pass has read `x[T-1], …, x[t]`;
# - `h_n` is `(2, B, H)`: the forward state after `x[T-1]` and the reverse state after `x[0]`
#   (each direction's *last* step), the layout `torch.nn.RNN(bidirectional=True)` uses.


# %% nbgrader={"grade": false, "grade_id": "bidirectional_rnn_forward", "locked": false, "schema_version": 3, "solution": true}
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    """x (T, B, I), h0 (2, B, H) -> output (T, B, 2H), h_n (2, B, H)."""
    ### BEGIN SOLUTION
    out_f, h_f = rnn_forward(x, h0[0], *forward_weights, nonlinearity=nonlinearity)
    out_r, h_r = rnn_forward(x.flip(0), h0[1], *reverse_weights, nonlinearity=nonlinearity)
    output = torch.cat([out_f, out_r.flip(0)], dim=-1)  # (T, B, 2H), aligned in time
    return output, torch.stack([h_f, h_r])
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "bidirectional_rnn_forward_visible", "locked": true, "schema_version": 3, "solution": false}
weights = (torch.zeros(4, 3), torch.zeros(4, 4), None, None)
output, h_n = bidirectional_rnn_forward(
    torch.zeros(5, 2, 3), torch.zeros(2, 2, 4), weights, weights
)
assert output.shape == (5, 2, 8), (
    f"expected output (T, B, 2H) = (5, 2, 8); got {tuple(output.shape)}"
)
assert h_n.shape == (2, 2, 4), f"expected h_n (2, B, H) = (2, 2, 4); got {tuple(h_n.shape)}"

# Running sums again, one unit per direction: inputs 1, 2, 3.
# Forward states 1, 3, 6; the reverse pass reads 3, 2, 1 and, put back in time order, is 6, 5, 3.
x = torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1, 1)
ones = (torch.ones(1, 1), torch.ones(1, 1), None, None)
output, h_n = bidirectional_rnn_forward(x, torch.zeros(2, 1, 1), ones, ones, nonlinearity="relu")
assert output[:, 0, 0].tolist() == [1.0, 3.0, 6.0], (
    f"forward half: expected [1, 3, 6]; got {output[:, 0, 0].tolist()}"
)
assert output[:, 0, 1].tolist() == [6.0, 5.0, 3.0], (
    f"reverse half, in time order: expected [6, 5, 3]; got {output[:, 0, 1].tolist()}"
)
assert h_n.flatten().tolist() == [6.0, 6.0], (
    f"h_n: expected [6, 6] (each direction's last state); got {h_n.flatten().tolist()}"
)
print("bidirectional_rnn_forward: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "bidirectional_rnn_forward_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for bidirectional_rnn_forward run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("bidirectional_rnn_forward", bidirectional_rnn_forward)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4 · A Jordan step
#
# A Jordan network (Jordan, 1986) feeds back its previous **output** $y_{t-1}$, not its hidden
# state: it remembers what it decided, not what it saw. With a linear output layer,
#
# $$ h_t = f\left(x_t W_{ih}^\top + y_{t-1} W_{yh}^\top + b_h\right), \qquad y_t = h_t W_{hy}^\top + b_y. $$
#
# `weight_ih` is `(H, I)`, `weight_yh` is `(H, O)`, `bias_h` is `(H,)`, `weight_hy` is `(O, H)`,
# `bias_y` is `(O,)`. Return `(h, y)`.


# %% nbgrader={"grade": false, "grade_id": "jordan_step", "locked": false, "schema_version": 3, "solution": true}
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    """One Jordan step: x (B, I), y_prev (B, O) -> h (B, H), y (B, O)."""
    ### BEGIN SOLUTION
    pre = x @ weight_ih.T + y_prev @ weight_yh.T + bias_h
    h = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
    y = h @ weight_hy.T + bias_y
    return h, y
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "jordan_step_visible", "locked": true, "schema_version": 3, "solution": false}
h, y = jordan_step(
    torch.zeros(2, 3),
    torch.zeros(2, 1),
    torch.zeros(4, 3),
    torch.zeros(4, 1),
    torch.zeros(4),
    torch.zeros(1, 4),
    torch.zeros(1),
)
assert h.shape == (2, 4) and y.shape == (2, 1), (
    f"expected h (2, 4) and y (2, 1); got {tuple(h.shape)} and {tuple(y.shape)}"
)

# One unit: x = 0, y_prev = 1, W_yh = 0.5 -> h = tanh(0.5); then y = 2·h + 0.25.
h, y = jordan_step(
    one(0.0), one(1.0), one(1.0), one(0.5), torch.zeros(1), one(2.0), torch.tensor([0.25])
)
assert abs(h.item() - math.tanh(0.5)) < 1e-12, (
    f"h: expected tanh(0.5) = {math.tanh(0.5):.6f}; got {h.item():.6f}"
)
assert abs(y.item() - (2 * math.tanh(0.5) + 0.25)) < 1e-12, (
    f"y: expected 2·tanh(0.5) + 0.25; got {y.item():.6f}"
)
print("jordan_step: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "jordan_step_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for jordan_step run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("jordan_step", jordan_step)
### END HIDDEN TESTS
