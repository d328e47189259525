# %% [markdown]
# # Assignment 6 · Dropout for recurrent networks (循环神经网络的丢弃法)
#
# In this assignment you write variational (locked) dropout, the dropout of chapter 6 that
# keeps the same units dropped at every time step, in three functions:
#
# | part | function | points |
# |---|---|---|
# | 1 | `locked_dropout_mask` — one inverted dropout mask per sequence, Eqs. (6.1)–(6.2) | 1 |
# | 2 | `locked_dropout` — apply it over a whole sequence, Eq. (6.2) | 2 |
# | 3 | `dropout_lstm_cell_step` — one LSTM step with given masks on $x_t$ and $h_{t-1}$, Eq. (6.3) | 2 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in
# `coursekit.dropout`. The visible tests below each part check shapes and cases small enough
# to work out by hand. When you submit, hidden tests run your functions on many random inputs
# in float64. Where the masks are given (part 3, and part 2 with a `mask`), your values and
# gradients are compared with the reference. Where your function draws the masks itself, your
# draws are judged by their *distribution*, not by equality with the reference's draws: every
# entry must be 0 or $1/(1-p)$, the fraction kept must be close to $1 - p$, neighbouring
# sequences and features must be independent, and in part 2 the mask must be the same at
# every time step. A function counts if it passes every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, using tensor operations
# (`torch.rand`, `Tensor.bernoulli_`, `*`, `torch.sigmoid`, `torch.tanh`, …). Calling an
# implementation of what you are asked to write (`coursekit`, `torch.nn.functional.dropout`,
# `torch.nn.Dropout`, `torch.nn.LSTMCell`, …) scores zero for that function. Part 2 may (and
# should) call your `locked_dropout_mask`. Do not edit the other cells; they are restored from
# the original when grading.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import torch

torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## Part 1 · The mask of locked dropout
#
# Inverted dropout multiplies a tensor by a mask whose entries are independent and
#
# $$ M = \frac{Z}{1-p}, \qquad Z_{bf} \sim \text{Bernoulli}(1-p), \tag{6.1} $$
#
# so an entry is 0 (dropped) with probability $p$ and $1/(1-p)$ (kept, and scaled up) with
# probability $1-p$. The scaling makes $\mathbb{E}[M] = 1$, so the expected value of
# $x \odot M$ is $x$ and nothing has to change at evaluation time. Locked dropout draws one such
# mask of shape `(B, F)` per batch, one row per sequence, and uses it at every time step:
#
# $$ y_t = x_t \odot M \quad \text{for every } t. \tag{6.2} $$
#
# Write `locked_dropout_mask(shape, p, generator=None, device=None, dtype=None)`: `shape` is
# `(B, F)` (a tuple or list of two ints); draw with `generator` (a `torch.Generator`, or None
# for torch's global one); return a tensor of `dtype` (default: torch's default dtype) on
# `device` (default: the CPU). Every entry is drawn independently. `p` is in $[0, 1)$; with
# $p = 0$ the mask is all ones.


# %% nbgrader={"grade": false, "grade_id": "locked_dropout_mask", "locked": false, "schema_version": 3, "solution": true}
def locked_dropout_mask(shape, p, generator=None, device=None, dtype=None):
    """shape (B, F), rate p -> a (B, F) mask: 0 with probability p, else 1 / (1 - p)."""
    ### BEGIN SOLUTION
    dtype = dtype or torch.get_default_dtype()
    keep = torch.rand(tuple(shape), generator=generator, dtype=dtype) >= p
    return (keep.to(dtype) / (1 - p)).to(device or "cpu")
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "locked_dropout_mask_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) Shape, and the two values an entry can take.
mask = locked_dropout_mask((4, 1000), 0.25, torch.Generator().manual_seed(0))
assert isinstance(mask, torch.Tensor) and mask.shape == (4, 1000), (
    f"expected a (4, 1000) tensor; got {type(mask).__name__} {tuple(getattr(mask, 'shape', ()))}"
)
values = set(mask.unique().tolist())
assert values <= {0.0, 1 / 0.75}, f"entries must be 0 or 1 / (1 - p) = {1 / 0.75}; got {values}"
# 2) About a fraction 1 - p = 0.75 kept (4000 entries: the standard error is 0.007).
kept = (mask != 0).double().mean().item()
assert abs(kept - 0.75) < 0.04, f"expected about 75 % of the entries kept; got {kept:.1%}"
# 3) The mask averages to about 1 (inverted scaling), and p = 0 keeps everything.
assert abs(mask.mean().item() - 1) < 0.06, f"the mask should average about 1; got {mask.mean()}"
assert torch.equal(locked_dropout_mask((2, 3), 0.0), torch.ones(2, 3)), "p = 0: all ones"
# 4) The same seed gives the same mask.
again = locked_dropout_mask((4, 1000), 0.25, torch.Generator().manual_seed(0))
assert torch.equal(mask, again), "the same generator seed must give the same mask"
print("locked_dropout_mask: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "locked_dropout_mask_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for locked_dropout_mask run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("locked_dropout_mask", locked_dropout_mask)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · Locked dropout over a sequence
#
# Write `locked_dropout(x, p, mask=None, training=True, batch_first=False, generator=None)`.
# `x` is a sequence, `(T, B, F)` (time first), or `(B, T, F)` when `batch_first` is true.
# Return $x \odot M$ with **one** mask $M$ of shape `(B, F)` for every time step, Eq. (6.2):
# the given `mask`, or, when `mask` is None, one drawn by your `locked_dropout_mask` with
# `generator` (in `x`'s dtype and on its device). Dropout is for training only: when
# `training` is false, or when `p == 0`, return `x` unchanged. (Broadcasting does the work:
# a `(B, F)` mask multiplies every step of a `(T, B, F)` tensor; for `(B, T, F)` the mask needs
# a time axis in the middle.)


# %% nbgrader={"grade": false, "grade_id": "locked_dropout", "locked": false, "schema_version": 3, "solution": true}
def locked_dropout(x, p, mask=None, training=True, batch_first=False, generator=None):
    """x (T, B, F) or (B, T, F) -> x ⊙ M, one mask M (B, F) at every step; x if not training."""
    ### BEGIN SOLUTION
    if not training or p == 0:
        return x
    B, F = (x.shape[0], x.shape[2]) if batch_first else (x.shape[1], x.shape[2])
    if mask is None:
        mask = locked_dropout_mask((B, F), p, generator, x.device, x.dtype)
    return x * (mask.unsqueeze(1) if batch_first else mask)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "locked_dropout_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) A given mask multiplies every time step.
x = torch.arange(1.0, 13.0).reshape(3, 2, 2)  # (T, B, F) = (3, 2, 2)
mask = torch.tensor([[2.0, 0.0], [0.0, 2.0]])  # p = 0.5
y = locked_dropout(x, 0.5, mask)
expected = torch.stack([x[t] * mask for t in range(3)])
assert y.shape == x.shape, f"expected shape {tuple(x.shape)}; got {tuple(y.shape)}"
assert torch.equal(y, expected), f"expected x * mask at every step:\n{expected}\ngot\n{y}"
# 2) batch_first: the same numbers in the (B, T, F) layout.
y = locked_dropout(x.transpose(0, 1), 0.5, mask, batch_first=True)
assert torch.equal(y, expected.transpose(0, 1)), f"batch_first: got\n{y}"
# 3) Off in evaluation and at p = 0.
assert torch.equal(locked_dropout(x, 0.5, mask, training=False), x), "training=False: x"
assert torch.equal(locked_dropout(x, 0.0), x), "p = 0: x unchanged"
# 4) Drawn masks: the same units are dropped at every step of a sequence.
ones = torch.ones(20, 8, 50)
y = locked_dropout(ones, 0.5, generator=torch.Generator().manual_seed(1))
assert all(torch.equal(y[t], y[0]) for t in range(20)), "the mask must not change over time"
assert set(y.unique().tolist()) <= {0.0, 2.0}, f"entries must be 0 or 2; got {y.unique()}"
print("locked_dropout: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "locked_dropout_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for locked_dropout run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("locked_dropout", locked_dropout)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · One LSTM step with variational dropout
#
# Gal and Ghahramani put the masks of a variational LSTM on the two things that enter the
# gates' products: the input $x_t$ and the previous state $h_{t-1}$,
#
# $$ h_t, c_t = \text{LSTM}\big(x_t \odot M_x,\ (h_{t-1} \odot M_h,\ c_{t-1})\big), \tag{6.3} $$
#
# with the masks $M_x$ `(B, I)` and $M_h$ `(B, H)` drawn once per sequence (the caller keeps
# them the same at every step; here they are given). The cell $c_{t-1}$ is **not** masked: it
# is the LSTM's memory, and dropping it would erase what the gates decided to keep. The LSTM
# step is chapter 4's, in torch's gate order $i, f, g, o$:
#
# $$
# \begin{aligned}
# z &= \tilde x W_{ih}^\top + b_{ih} + \tilde h W_{hh}^\top + b_{hh}, \quad
# (z_i, z_f, z_g, z_o) = \text{the four } H\text{-wide blocks of } z, \\
# c_t &= \sigma(z_f) \odot c_{t-1} + \sigma(z_i) \odot \tanh(z_g), \quad
# h_t = \sigma(z_o) \odot \tanh(c_t),
# \end{aligned}
# $$
#
# where $\tilde x = x_t \odot M_x$ and $\tilde h = h_{t-1} \odot M_h$. Write
# `dropout_lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
# input_mask=None, state_mask=None)`: `x` `(B, I)`, `state = (h_prev, c_prev)` each `(B, H)`,
# `weight_ih` `(4H, I)`, `weight_hh` `(4H, H)`, biases `(4H,)` or None (no bias); a mask that is
# None means no dropout there. Return `(h, c)`, each `(B, H)`. The masks are already scaled
# by $1/(1-p)$: multiply by them as they are.


# %% nbgrader={"grade": false, "grade_id": "dropout_lstm_cell_step", "locked": false, "schema_version": 3, "solution": true}
def dropout_lstm_cell_step(
    x,
    state,
    weight_ih,
    weight_hh,
    bias_ih=None,
    bias_hh=None,
    input_mask=None,
    state_mask=None,
):
    """x (B, I), state (h (B, H), c (B, H)), masks (B, I), (B, H) or None -> (h, c)."""
    ### BEGIN SOLUTION
    h_prev, c_prev = state
    if input_mask is not None:
        x = x * input_mask
    if state_mask is not None:
        h_prev = h_prev * state_mask
    z = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    c = torch.sigmoid(z_f) * c_prev + torch.sigmoid(z_i) * torch.tanh(z_g)
    h = torch.sigmoid(z_o) * torch.tanh(c)
    return h, c
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "dropout_lstm_cell_step_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests, with zero weights: every gate is sigmoid(0) = 0.5 and g = tanh(0) = 0, so
# c = 0.5 c_prev and h = 0.5 tanh(c), whatever the masks.
B, I, H = 2, 3, 4
zeros_ih, zeros_hh = torch.zeros(4 * H, I), torch.zeros(4 * H, H)
h_prev, c_prev = torch.ones(B, H), torch.full((B, H), 2.0)
h, c = dropout_lstm_cell_step(torch.ones(B, I), (h_prev, c_prev), zeros_ih, zeros_hh)
assert h.shape == (B, H) and c.shape == (B, H), (
    f"expected h and c of shape {(B, H)}; got {tuple(h.shape)}, {tuple(c.shape)}"
)
assert torch.allclose(c, 0.5 * c_prev), f"expected c = 0.5 c_prev = 1; got {c}"
assert torch.allclose(h, 0.5 * torch.tanh(c)), f"expected h = 0.5 tanh(c); got {h}"
# 2) The state mask acts on h_prev in the product with W_hh (here W_hh picks h_prev[:, 0]
# into the candidate g): dropping unit 0 of h_prev gives g = 0 and c = 0.5 c_prev again.
weight_hh = torch.zeros(4 * H, H)
weight_hh[2 * H : 3 * H, 0] = 1.0  # the g block reads unit 0 of h_prev
state_mask = torch.tensor([[0.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0]])  # p = 0.5
_, c = dropout_lstm_cell_step(
    torch.ones(B, I), (h_prev, c_prev), zeros_ih, weight_hh, state_mask=state_mask
)
expected = torch.stack([0.5 * c_prev[0], 0.5 * c_prev[1] + 0.5 * torch.tanh(torch.tensor(2.0))])
assert torch.allclose(c, expected), f"state_mask on h_prev: expected c =\n{expected}\ngot\n{c}"
# 3) The input mask: W_ih reads x[:, 0] into g; dropping it in row 0 leaves c = 0.5 c_prev.
weight_ih = torch.zeros(4 * H, I)
weight_ih[2 * H : 3 * H, 0] = 1.0
input_mask = torch.tensor([[0.0, 2.0, 2.0], [2.0, 2.0, 2.0]])
_, c = dropout_lstm_cell_step(
    torch.ones(B, I), (h_prev, c_prev), weight_ih, zeros_hh, input_mask=input_mask
)
assert torch.allclose(c, expected), f"input_mask on x: expected c =\n{expected}\ngot\n{c}"
print("dropout_lstm_cell_step: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "dropout_lstm_cell_step_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for dropout_lstm_cell_step run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("dropout_lstm_cell_step", dropout_lstm_cell_step)
### END HIDDEN TESTS
