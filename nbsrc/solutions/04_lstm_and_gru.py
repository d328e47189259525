# %% [markdown]
# # Assignment 4 · LSTM and GRU (长短期记忆网络与门控循环单元)
#
# In this assignment you write the gated cells of chapter 4 yourself, in plain PyTorch tensor
# operations:
#
# | part | function | points |
# |---|---|---|
# | 1 | `lstm_cell_step` — one step of an LSTM cell, Eq. (4.1)–(4.6) | 3 |
# | 2 | `gru_cell_step` — one step of a GRU cell, Eq. (4.7)–(4.10) | 3 |
# | 3 | `lstm_forward` — the LSTM cell unrolled over a whole sequence | 2 |
# | 4 | `peephole_lstm_step` — one step of a peephole LSTM, Eq. (4.11)–(4.13) | 2 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in
# `coursekit.lstm` or `coursekit.gru`. The visible tests below each part check shapes and a
# one-unit case you can work out with a calculator; when you submit, hidden tests compare your
# function with the reference on random float64 inputs, with weights drawn the way
# `torch.nn.LSTM` and `torch.nn.GRU` draw theirs — the values *and* the gradients of every
# input — including the edge cases (a sequence of length 1, a batch of 1, no bias). A function
# counts if it passes every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, using tensor operations
# (`@`, `.T`, `torch.sigmoid`, `torch.tanh`, `.chunk`, `torch.stack`, indexing …). Calling an
# implementation of what you are asked to write — `coursekit`, `torch.nn.LSTM`,
# `torch.nn.LSTMCell`, `torch.nn.GRU`, `torch.nn.GRUCell` or torch's internal LSTM/GRU kernels
# (`torch.lstm_cell`, `torch._VF` …) — scores zero for that function. Part 3 may (and should)
# call your `lstm_cell_step`, so get part 1 right first: its visible tests tell you. Do not
# edit the other cells; they are restored from the original when grading.
#
# Shapes follow torch's conventions: `T` time steps, `B` batch, `I` input features, `H` hidden
# units; sequences are `(T, B, I)`. The gate weights are stacked: the LSTM's `weight_ih` is
# `(4H, I)` with row blocks in torch's order **i, f, g, o**; the GRU's is `(3H, I)` with row
# blocks **r, z, n**. `tensor.chunk(4, dim=-1)` splits a `(B, 4H)` pre-activation into four
# `(B, H)` blocks.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math

import torch

torch.set_default_dtype(torch.float64)


def sigma(v):
    """The logistic sigmoid of a Python number, for the hand-checked cases below."""
    return 1 / (1 + math.exp(-v))


def column(*values):
    """A (len(values), 1) tensor: stacked gate weights of a one-unit cell with one input."""
    return torch.tensor([float(v) for v in values]).reshape(-1, 1)


# %% [markdown]
# ## Part 1 · One LSTM step
#
# An LSTM cell carries two states, the hidden state $h$ and the cell state $c$. From the input
# $x_t$ and the previous state $(h_{t-1}, c_{t-1})$ it computes four gates and the new state
# (chapter 4, row-vector layout; $\sigma$ is the logistic sigmoid, $\odot$ the elementwise
# product):
#
# $$
# \begin{aligned}
# z_t &= x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh} = [\,z^i_t, z^f_t, z^g_t, z^o_t\,] \\
# i_t &= \sigma(z^i_t), \quad f_t = \sigma(z^f_t), \quad g_t = \tanh(z^g_t), \quad o_t = \sigma(z^o_t) \\
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
# h_t &= o_t \odot \tanh(c_t)
# \end{aligned}
# $$
#
# `state` is the pair `(h_prev, c_prev)`, each `(B, H)`; `weight_ih` is `(4H, I)`, `weight_hh`
# is `(4H, H)`, the biases are `(4H,)` or `None` (no bias). Return the pair `(h, c)`.


# %% nbgrader={"grade": false, "grade_id": "lstm_cell_step", "locked": false, "schema_version": 3, "solution": true}
def lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM step: x (B, I), state (h_prev (B, H), c_prev (B, H)) -> (h (B, H), c (B, H))."""
    ### BEGIN SOLUTION
    h_prev, c_prev = state
    z = x @ weight_ih.T + h_prev @ weight_hh.T  # (B, 4H)
    if bias_ih is not None:
        z = z + bias_ih
    if bias_hh is not None:
        z = z + bias_hh
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)  # (B, H) each, order i, f, g, o
    i, f, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.sigmoid(z_o)
    g = torch.tanh(z_g)
    c = f * c_prev + i * g
    h = o * torch.tanh(c)
    return h, c
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "lstm_cell_step_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests: shapes, then a one-unit case you can check by hand.
zeros = (torch.zeros(3, 5), torch.zeros(3, 5))
h, c = lstm_cell_step(torch.zeros(3, 4), zeros, torch.zeros(20, 4), torch.zeros(20, 5))
assert h.shape == (3, 5) and c.shape == (3, 5), (
    f"expected h and c of shape (B, H) = (3, 5); got {tuple(h.shape)} and {tuple(c.shape)}"
)

# One unit, one input x = 1, h_prev = 0, c_prev = 2, no bias. The four rows of W_ih give the
# pre-activations z_i = ln 3, z_f = 0, z_g = 0.5, z_o = -ln 3, so (sigma(ln 3) = 3/4)
# i = 0.75, f = 0.5, g = tanh(0.5), o = 0.25:  c = 0.5·2 + 0.75·tanh(0.5),  h = 0.25·tanh(c).
LN3 = math.log(3)
c_expected = 0.5 * 2 + 0.75 * math.tanh(0.5)
h_expected = 0.25 * math.tanh(c_expected)
state = (torch.tensor([[0.0]]), torch.tensor([[2.0]]))
h, c = lstm_cell_step(torch.tensor([[1.0]]), state, column(LN3, 0, 0.5, -LN3), column(0, 0, 0, 0))
assert abs(c.item() - c_expected) < 1e-12, (
    f"c: expected 0.5·2 + 0.75·tanh(0.5) = {c_expected:.6f}; got {c.item():.6f} "
    "(are the gate blocks in the order i, f, g, o?)"
)
assert abs(h.item() - h_expected) < 1e-12, (
    f"h: expected o·tanh(c) = 0.25·tanh({c_expected:.4f}) = {h_expected:.6f}; got {h.item():.6f}"
)

# The same pre-activations, now through the recurrent path (x = 0, h_prev = 1) ...
state = (torch.tensor([[1.0]]), torch.tensor([[2.0]]))
h, c = lstm_cell_step(torch.tensor([[0.0]]), state, column(0, 0, 0, 0), column(LN3, 0, 0.5, -LN3))
assert abs(h.item() - h_expected) < 1e-12, (
    f"through W_hh: expected h = {h_expected:.6f}; got {h.item():.6f}"
)
# ... and through the two biases, which add up: (0, 0, 0.25, 0) + (ln 3, 0, 0.25, -ln 3).
h, c = lstm_cell_step(
    torch.tensor([[0.0]]),
    state,
    column(0, 0, 0, 0),
    column(0, 0, 0, 0),
    torch.tensor([0, 0, 0.25, 0]),
    torch.tensor([LN3, 0, 0.25, -LN3]),
)
assert abs(h.item() - h_expected) < 1e-12, (
    f"through the biases: expected h = {h_expected:.6f}; got {h.item():.6f}"
)
print("lstm_cell_step: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "lstm_cell_step_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for lstm_cell_step run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("lstm_cell_step", lstm_cell_step)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · One GRU step
#
# The GRU merges the cell and the hidden state and has two gates, the reset gate $r$ and the
# update gate $z$. In torch's convention (which cuDNN shares) the reset gate multiplies the
# *whole* recurrent term of the candidate, its bias $b_{hn}$ included:
#
# $$
# \begin{aligned}
# r_t &= \sigma(x_t W_{ir}^\top + b_{ir} + h_{t-1} W_{hr}^\top + b_{hr}) \\
# z_t &= \sigma(x_t W_{iz}^\top + b_{iz} + h_{t-1} W_{hz}^\top + b_{hz}) \\
# n_t &= \tanh\!\left(x_t W_{in}^\top + b_{in} + r_t \odot (h_{t-1} W_{hn}^\top + b_{hn})\right) \\
# h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
# \end{aligned}
# $$
#
# `weight_ih` is `(3H, I)` and `weight_hh` is `(3H, H)` with row blocks r, z, n; the biases are
# `(3H,)` or `None`. Return `h` of shape `(B, H)`.


# %% nbgrader={"grade": false, "grade_id": "gru_cell_step", "locked": false, "schema_version": 3, "solution": true}
def gru_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One GRU step: x (B, I), h_prev (B, H) -> h (B, H)."""
    ### BEGIN SOLUTION
    from_x = x @ weight_ih.T  # (B, 3H)
    from_h = h_prev @ weight_hh.T  # (B, 3H)
    if bias_ih is not None:
        from_x = from_x + bias_ih
    if bias_hh is not None:
        from_h = from_h + bias_hh
    x_r, x_z, x_n = from_x.chunk(3, dim=-1)  # (B, H) each
    h_r, h_z, h_n = from_h.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h_prev
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "gru_cell_step_visible", "locked": true, "schema_version": 3, "solution": false}
h = gru_cell_step(torch.zeros(3, 4), torch.zeros(3, 5), torch.zeros(15, 4), torch.zeros(15, 5))
assert h.shape == (3, 5), f"expected h of shape (B, H) = (3, 5); got {tuple(h.shape)}"

# One unit: x = 1, h_prev = 0.5, W_ih rows (r, z, n) = (0, ln 3, 1), W_hh rows = (0, 0, 2),
# b_hh = (0, 0, 1). So r = sigma(0) = 0.5, z = sigma(ln 3) = 0.75,
# n = tanh(1 + 0.5·(2·0.5 + 1)) = tanh(2)  (b_hn = 1 is inside the reset product),
# h = (1 - 0.75)·tanh(2) + 0.75·0.5.
h_expected = 0.25 * math.tanh(2) + 0.75 * 0.5
h = gru_cell_step(
    torch.tensor([[1.0]]),
    torch.tensor([[0.5]]),
    column(0, LN3, 1),
    column(0, 0, 2),
    None,
    torch.tensor([0, 0, 1.0]),
)
assert abs(h.item() - h_expected) < 1e-12, (
    f"expected h = 0.25·tanh(2) + 0.75·0.5 = {h_expected:.6f}; got {h.item():.6f} "
    "(z = 1 keeps the old state; b_hn belongs inside r ⊙ (·))"
)
print("gru_cell_step: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "gru_cell_step_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for gru_cell_step run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("gru_cell_step", gru_cell_step)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · The LSTM over a sequence
#
# Apply the same cell (the same weights) at every step, starting from `state = (h0, c0)`.
# Return what `torch.nn.LSTM` returns for one layer:
#
# - `output` of shape `(T, B, H)`, where `output[t]` is the hidden state $h_t$ after reading `x[t]`;
# - the pair `(h_n, c_n)`, each `(B, H)`: the hidden state **and the cell state** after the last step.


# %% nbgrader={"grade": false, "grade_id": "lstm_forward", "locked": false, "schema_version": 3, "solution": true}
def lstm_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """x (T, B, I), state (h0 (B, H), c0 (B, H)) -> output (T, B, H), (h_n (B, H), c_n (B, H))."""
    ### BEGIN SOLUTION
    h, c = state
    outputs = []
    for x_t in x:  # x_t: (B, I)
        h, c = lstm_cell_step(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)
        outputs.append(h)
    return torch.stack(outputs), (h, c)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "lstm_forward_visible", "locked": true, "schema_version": 3, "solution": false}
output, (h_n, c_n) = lstm_forward(
    torch.zeros(7, 2, 3),
    (torch.zeros(2, 4), torch.zeros(2, 4)),
    torch.zeros(16, 3),
    torch.zeros(16, 4),
)
assert output.shape == (7, 2, 4), (
    f"expected output (T, B, H) = (7, 2, 4); got {tuple(output.shape)}"
)
assert h_n.shape == (2, 4) and c_n.shape == (2, 4), (
    f"expected h_n and c_n of shape (B, H) = (2, 4); got {tuple(h_n.shape)} and {tuple(c_n.shape)}"
)

# One unit, all weights zero: every gate is sigma(0) = 0.5 and g = tanh(0) = 0, so the cell
# halves at each step. From c0 = 8: c = 4, 2, 1 and h_t = 0.5·tanh(c_t).
x = torch.zeros(3, 1, 1)
output, (h_n, c_n) = lstm_forward(
    x, (torch.zeros(1, 1), torch.tensor([[8.0]])), torch.zeros(4, 1), torch.zeros(4, 1)
)
expected = [0.5 * math.tanh(c) for c in (4.0, 2.0, 1.0)]
got = output.flatten().tolist()
assert torch.allclose(output.flatten(), torch.tensor(expected), rtol=0, atol=1e-12), (
    f"expected h = 0.5·tanh(4), 0.5·tanh(2), 0.5·tanh(1) = {[round(v, 6) for v in expected]}; "
    f"got {[round(v, 6) for v in got]}"
)
assert abs(h_n.item() - expected[-1]) < 1e-12, f"h_n must be the last h_t; got {h_n.item():.6f}"
assert abs(c_n.item() - 1.0) < 1e-12, f"c_n must be the last cell state, 1; got {c_n.item():.6f}"
print("lstm_forward: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "lstm_forward_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for lstm_forward run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("lstm_forward", lstm_forward)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4 · A peephole LSTM step
#
# In Gers & Schmidhuber's peephole LSTM the gates also look at the cell state, through
# diagonal weights $w_{ci}, w_{cf}, w_{co}$ (one number per unit). The input and forget gates
# look at the **old** cell $c_{t-1}$; the output gate is computed after the cell update and
# looks at the **new** cell $c_t$. There is a single bias `bias` of shape `(4H,)` (or `None`):
#
# $$
# \begin{aligned}
# [\,z^i_t, z^f_t, z^g_t, z^o_t\,] &= x_t W_{ih}^\top + h_{t-1} W_{hh}^\top + b \\
# i_t &= \sigma(z^i_t + w_{ci} \odot c_{t-1}), \qquad f_t = \sigma(z^f_t + w_{cf} \odot c_{t-1}),
# \qquad g_t = \tanh(z^g_t) \\
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
# o_t &= \sigma(z^o_t + w_{co} \odot c_t), \qquad h_t = o_t \odot \tanh(c_t)
# \end{aligned}
# $$
#
# `weight_peephole` is `(3, H)` with rows $(w_{ci}, w_{cf}, w_{co})$. Return `(h, c)`.


# %% nbgrader={"grade": false, "grade_id": "peephole_lstm_step", "locked": false, "schema_version": 3, "solution": true}
def peephole_lstm_step(x, state, weight_ih, weight_hh, weight_peephole, bias=None):
    """One peephole LSTM step: x (B, I), state (h_prev, c_prev) (B, H) each -> (h, c)."""
    ### BEGIN SOLUTION
    h_prev, c_prev = state
    w_ci, w_cf, w_co = weight_peephole  # (H,) each
    z = x @ weight_ih.T + h_prev @ weight_hh.T  # (B, 4H)
    if bias is not None:
        z = z + bias
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i = torch.sigmoid(z_i + w_ci * c_prev)
    f = torch.sigmoid(z_f + w_cf * c_prev)
    g = torch.tanh(z_g)
    c = f * c_prev + i * g
    o = torch.sigmoid(z_o + w_co * c)
    h = o * torch.tanh(c)
    return h, c
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "peephole_lstm_step_visible", "locked": true, "schema_version": 3, "solution": false}
zeros = (torch.zeros(3, 5), torch.zeros(3, 5))
h, c = peephole_lstm_step(
    torch.zeros(3, 4), zeros, torch.zeros(20, 4), torch.zeros(20, 5), torch.zeros(3, 5)
)
assert h.shape == (3, 5) and c.shape == (3, 5), (
    f"expected h and c of shape (B, H) = (3, 5); got {tuple(h.shape)} and {tuple(c.shape)}"
)

# One unit: x = 0, h_prev = 0, c_prev = 1, W_ih = W_hh = 0, bias (i, f, g, o) = (0, 0, 1, 0),
# peepholes (w_ci, w_cf, w_co) = (-ln 3, ln 3, 2). So i = sigma(-ln 3) = 0.25,
# f = sigma(ln 3) = 0.75, g = tanh(1): c = 0.75 + 0.25·tanh(1); then o = sigma(2·c) with the
# NEW c, and h = o·tanh(c).
c_expected = 0.75 + 0.25 * math.tanh(1)
h_expected = sigma(2 * c_expected) * math.tanh(c_expected)
h, c = peephole_lstm_step(
    torch.tensor([[0.0]]),
    (torch.tensor([[0.0]]), torch.tensor([[1.0]])),
    column(0, 0, 0, 0),
    column(0, 0, 0, 0),
    column(-LN3, LN3, 2),
    torch.tensor([0, 0, 1.0, 0]),
)
assert abs(c.item() - c_expected) < 1e-12, (
    f"c: expected 0.75·1 + 0.25·tanh(1) = {c_expected:.6f}; got {c.item():.6f}"
)
assert abs(h.item() - h_expected) < 1e-12, (
    f"h: expected sigma(2·c)·tanh(c) = {h_expected:.6f} with the new c = {c_expected:.4f}; "
    f"got {h.item():.6f}"
)
print("peephole_lstm_step: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "peephole_lstm_step_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for peephole_lstm_step run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("peephole_lstm_step", peephole_lstm_step)
### END HIDDEN TESTS
