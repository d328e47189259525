# %% [markdown]
# # Assignment 7 · Layer normalisation (层归一化)
#
# In this assignment you write layer normalisation, its backward pass by hand, and one step
# of the layer-normalised LSTM of chapter 7:
#
# | part | function | points |
# |---|---|---|
# | 1 | `layer_norm` — normalise over the features of each example, Eqs. (7.1)–(7.4) | 2 |
# | 2 | `layer_norm_backward` — its gradients by hand, Eqs. (7.5)–(7.7) | 3 |
# | 3 | `layer_norm_lstm_step` — one step of the LN-LSTM, Eqs. (7.8)–(7.10) | 2 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in
# `coursekit.layernorm` or `coursekit.layernorm_rnn` (`layer_norm` gives the numbers of
# `torch.nn.functional.layer_norm`). The visible tests below each part check shapes and cases
# small enough to work out by hand; when you submit, hidden tests compare your function with
# the reference on many random inputs in float64, values and (parts 1 and 3) gradients: one
# and two normalised dimensions, with and without $\gamma$ and $\beta$, a batch of one, a
# single feature, badly scaled inputs and weights, and a large `eps`. A function counts if it
# passes every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, with tensor operations
# (`mean`, `sum`, `torch.sqrt`, `@`, `torch.sigmoid`, `torch.tanh`, `chunk` …). Calling an
# implementation of what you are asked to write scores zero for that function: `coursekit`,
# `torch.nn.functional.layer_norm`, `torch.nn.LayerNorm`, `torch.native_layer_norm`,
# `group_norm` and the other normalisation layers, `torch.nn.LSTM`/`LSTMCell`. In part 2
# autograd is forbidden too: no `.backward()`, `torch.autograd` (`grad`, `vjp`,
# `jacobian`) or `torch.func`. Part 3 may (and should) call your `layer_norm`. Do not edit
# the other cells; they are restored from the original when grading.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import torch

torch.set_default_dtype(torch.float64)
_ = torch.manual_seed(0)  # the random cases of the visible tests

# %% [markdown]
# ## Part 1 · Layer norm, forward
#
# Layer norm normalises each example over its own features: for `x` of shape
# `(..., *normalized_shape)`, the mean and the variance are taken over the last
# `len(normalized_shape)` dimensions, separately for every leading index, with $N$ the number
# of elements normalised together:
#
# $$ \mu = \frac{1}{N} \sum_j x_j , \tag{7.1} $$
#
# $$ \sigma^2 = \frac{1}{N} \sum_j (x_j - \mu)^2 \quad \text{(biased: divide by } N
# \text{, not } N - 1\text{)}, \tag{7.2} $$
#
# $$ \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \quad (\epsilon \text{ inside the
# square root}), \tag{7.3} $$
#
# $$ \mathrm{LN}(x; \gamma, \beta) = \gamma \odot \hat x + \beta . \tag{7.4} $$
#
# `normalized_shape` is an int (one dimension) or a list/tuple of ints; `weight` ($\gamma$)
# and `bias` ($\beta$) have shape `normalized_shape`, and either may be `None` (no scale, no
# shift). Return a tensor shaped like `x`. The statistics never mix the examples of a batch:
# a row gives the same answer alone as in any batch.


# %% nbgrader={"grade": false, "grade_id": "layer_norm", "locked": false, "schema_version": 3, "solution": true}
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """x (..., *normalized_shape), weight and bias normalized_shape or None -> like x."""
    ### BEGIN SOLUTION
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    dims = tuple(range(-len(normalized_shape), 0))  # the normalised (feature) dims
    mu = x.mean(dim=dims, keepdim=True)  # Eq. (7.1)
    var = ((x - mu) ** 2).mean(dim=dims, keepdim=True)  # Eq. (7.2)
    x_hat = (x - mu) / torch.sqrt(var + eps)  # Eq. (7.3)
    y = x_hat if weight is None else x_hat * weight  # Eq. (7.4)
    return y if bias is None else y + bias
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "layer_norm_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) Shape, and x = (1, 2, 3) by hand: mean 2, variance 2/3, so with eps = 0
# x_hat = (-1, 0, 1) * sqrt(3/2); with γ = 2 and β = 1 the output is 2 x_hat + 1.
x = torch.tensor([[1.0, 2.0, 3.0]])
y = layer_norm(x, 3, eps=0.0)
assert isinstance(y, torch.Tensor) and y.shape == (1, 3), (
    f"expected a tensor of shape (1, 3); got {type(y).__name__} {getattr(y, 'shape', '')}"
)
expected = torch.tensor([[-1.0, 0.0, 1.0]]) * 1.5**0.5
assert torch.allclose(y, expected, atol=1e-12), f"expected {expected}; got {y}"
y = layer_norm(x, (3,), torch.full((3,), 2.0), torch.ones(3), eps=0.0)
assert torch.allclose(y, 2 * expected + 1, atol=1e-12), (
    f"with γ = 2, β = 1: expected {2 * expected + 1}; got {y}"
)
# 2) eps goes inside the square root: x = (0, 2) has variance 1, so x_hat = ±1/sqrt(1 + eps)
y = layer_norm(torch.tensor([[0.0, 2.0]]), 2, eps=0.5)
expected = torch.tensor([[-1.0, 1.0]]) / 1.5**0.5
assert torch.allclose(y, expected, atol=1e-12), f"eps = 0.5: expected {expected}; got {y}"
# 3) Each row on its own: a row alone gives what it gives in a batch, whatever the others.
batch = torch.tensor([[1.0, 2.0, 4.0], [10.0, -3.0, 0.5], [100.0, 0.0, 7.0]])
for row in range(3):
    alone = layer_norm(batch[row : row + 1], 3)
    assert torch.allclose(alone, layer_norm(batch, 3)[row : row + 1], atol=1e-12), (
        f"row {row} changes with the other rows of the batch: normalise over the features"
    )
# 4) Two normalised dims: every (3, 4) slice of x has mean 0 and (biased) variance ~1.
y = layer_norm(torch.randn(2, 3, 4) * 5 + 3, [3, 4])
assert y.shape == (2, 3, 4), f"expected shape (2, 3, 4); got {tuple(y.shape)}"
assert torch.allclose(y.mean(dim=(1, 2)), torch.zeros(2), atol=1e-12), (
    f"each (3, 4) slice should have mean 0; got {y.mean(dim=(1, 2))}"
)
variance = y.var(dim=(1, 2), unbiased=False)
assert torch.allclose(variance, torch.ones(2), atol=1e-5), (
    f"each (3, 4) slice should have variance 1 (up to eps); got {variance}"
)
print("layer_norm: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "layer_norm_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for layer_norm run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("layer_norm", layer_norm)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · Layer norm, backward by hand
#
# The forward pass keeps a *cache* of what the backward needs: $\hat x$, the reciprocal
# $s = 1/\sqrt{\sigma^2 + \epsilon}$ (with the normalised dims kept, size 1, so that it
# broadcasts), $\gamma$ (or `None`), whether there is a $\beta$, and
# $k$ = `len(normalized_shape)`. Given $g = \partial L / \partial y$, shaped like $x$, the
# gradients are
#
# $$ \frac{\partial L}{\partial \beta} = \sum_{\text{leading dims}} g, \qquad
# \frac{\partial L}{\partial \gamma} = \sum_{\text{leading dims}} g \odot \hat x ,
# \tag{7.5} $$
#
# $$ \hat d = g \odot \gamma \quad (\hat d = g \text{ without } \gamma), \tag{7.6} $$
#
# $$ \frac{\partial L}{\partial x} = s \left( \hat d - \operatorname{mean}(\hat d) -
# \hat x \odot \operatorname{mean}(\hat d \odot \hat x) \right), \tag{7.7} $$
#
# with both means over the $N$ normalised elements of each example (the dims the forward
# normalised). The two subtracted terms are the paths through $\mu$ and through $\sigma$:
# moving all of $x$ by a constant, or stretching it about its mean, does not change
# $\hat x$, and $\partial L / \partial x$ has no component in those directions.
#
# Return `(dx, dweight, dbias)`: `dx` like `x`, `dweight` and `dbias` shaped like
# `normalized_shape`, and `None` for a parameter that is absent (no $\gamma$, or no
# $\beta$). The inputs always have at least one leading (batch) dim. Autograd is forbidden.


# %% nbgrader={"grade": false, "grade_id": "layer_norm_backward", "locked": false, "schema_version": 3, "solution": true}
def layer_norm_backward(grad_output, cache):
    """grad_output (like x); cache = (x_hat, rstd, weight or None, has_bias, k)
    -> (dx like x, dweight or None, dbias or None)."""
    x_hat, rstd, weight, has_bias, normalized_ndim = cache
    ### BEGIN SOLUTION
    k = x_hat.dim() - normalized_ndim
    lead = tuple(range(k))  # the batch dims
    dims = tuple(range(k, x_hat.dim()))  # the normalised dims
    dbias = grad_output.sum(dim=lead) if has_bias else None  # Eq. (7.5)
    dweight = None if weight is None else (grad_output * x_hat).sum(dim=lead)
    d_hat = grad_output if weight is None else grad_output * weight  # Eq. (7.6)
    mean_d = d_hat.mean(dim=dims, keepdim=True)
    mean_dx = (d_hat * x_hat).mean(dim=dims, keepdim=True)
    dx = rstd * (d_hat - mean_d - x_hat * mean_dx)  # Eq. (7.7)
    return dx, dweight, dbias
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "layer_norm_backward_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. The cache is built here from Eqs. (7.1)-(7.3).
def make_cache(x, weight, has_bias, k=1, eps=1e-5):
    dims = tuple(range(x.dim() - k, x.dim()))
    mu = x.mean(dim=dims, keepdim=True)
    rstd = 1 / torch.sqrt(((x - mu) ** 2).mean(dim=dims, keepdim=True) + eps)
    return (x - mu) * rstd, rstd, weight, has_bias, k


# 1) By hand: without γ, a gradient that is the same on every feature is a shift of the
# output, which normalisation removes: dx = 0. dβ = the number of rows, dγ = sum of x_hat.
x = torch.tensor([[1.0, 2.0, 4.0], [3.0, -1.0, 0.0]])
dx, dweight, dbias = layer_norm_backward(torch.ones(2, 3), make_cache(x, None, True))
assert dx.shape == (2, 3), f"dx must be shaped like x, (2, 3); got {tuple(dx.shape)}"
assert dweight is None, f"no γ: dweight must be None; got {dweight}"
assert torch.allclose(dbias, torch.full((3,), 2.0)), f"expected dβ = (2, 2, 2); got {dbias}"
assert torch.allclose(dx, torch.zeros(2, 3), atol=1e-12), (
    f"a constant gradient has no effect through the mean: expected dx = 0; got {dx}"
)
# 2) Against autograd through torch's layer norm (here, in the test, autograd is fine).
x = torch.randn(4, 2, 5) * 3 + 1
gamma, beta = torch.rand(5) + 0.5, torch.randn(5)
grad_output = torch.randn(4, 2, 5)
leaves = [t.clone().requires_grad_(True) for t in (x, gamma, beta)]
torch.nn.functional.layer_norm(leaves[0], (5,), leaves[1], leaves[2]).backward(grad_output)
got = layer_norm_backward(grad_output, make_cache(x, gamma, True))
for name, mine, leaf in zip(("dx", "dweight", "dbias"), got, leaves, strict=True):
    assert mine is not None and mine.shape == leaf.shape, (
        f"{name}: expected shape {tuple(leaf.shape)}; got {getattr(mine, 'shape', None)}"
    )
    error = (mine - leaf.grad).abs().max().item()
    assert error < 1e-10, f"{name} differs from autograd by {error:.2e}"
print("layer_norm_backward: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "layer_norm_backward_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for layer_norm_backward run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("layer_norm_backward", layer_norm_backward)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · One step of the layer-normalised LSTM
#
# Ba et al.'s LN-LSTM normalises the input product and the recurrent product *separately*,
# each over all of its $4H$ pre-activations (torch's gate order $i, f, g, o$), adds the bias,
# and then runs the LSTM's gates; the cell that is carried to the next step is **not**
# normalised, only the copy that goes through the output tanh:
#
# $$
# \begin{aligned}
# z_t = {}& \mathrm{LN}(x_t W_{ih}^\top; \gamma_{ih}, \beta_{ih}) \\
#   &+ \mathrm{LN}(h_{t-1} W_{hh}^\top; \gamma_{hh}, \beta_{hh}) + b_{ih} + b_{hh},
# \end{aligned}
# \tag{7.8}
# $$
#
# $$ c_t = f_t \odot c_{t-1} + i_t \odot g_t , \tag{7.9} $$
#
# $$ h_t = o_t \odot \tanh\big(\mathrm{LN}(c_t; \gamma_c, \beta_c)\big), \tag{7.10} $$
#
# with $i, f, o = \sigma(\cdot)$ and $g = \tanh(\cdot)$ of the four $H$-wide chunks of $z_t$.
# `state = (h_prev, c_prev)`, each `(B, H)`; `weight_ih` `(4H, I)`, `weight_hh` `(4H, H)`;
# `bias_ih`, `bias_hh` `(4H,)`, both `None` for no bias; `norm_ih`, `norm_hh` pairs
# $(\gamma, \beta)$ of shape `(4H,)` each, `norm_cell` a pair of shape `(H,)`, any of whose
# entries may be `None`. Return `(h, c)`, each `(B, H)`, `c` the unnormalised cell.


# %% nbgrader={"grade": false, "grade_id": "layer_norm_lstm_step", "locked": false, "schema_version": 3, "solution": true}
def layer_norm_lstm_step(
    x,
    state,
    weight_ih,
    weight_hh,
    bias_ih,
    bias_hh,
    norm_ih,
    norm_hh,
    norm_cell,
    eps=1e-5,
):
    """x (B, I), state (h (B, H), c (B, H)) -> (h, c), each (B, H)."""
    h_prev, c_prev = state
    ### BEGIN SOLUTION
    H = h_prev.shape[-1]
    z = layer_norm(x @ weight_ih.T, 4 * H, *norm_ih, eps)
    z = z + layer_norm(h_prev @ weight_hh.T, 4 * H, *norm_hh, eps)  # Eq. (7.8)
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)  # (B, H) each
    i, f, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.sigmoid(z_o)
    c = f * c_prev + i * torch.tanh(z_g)  # Eq. (7.9)
    h = o * torch.tanh(layer_norm(c, H, *norm_cell, eps))  # Eq. (7.10)
    return h, c
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "layer_norm_lstm_step_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: zero weights and biases make every normalised product 0 (its
# β), so every gate is σ(0) = 1/2 and g = tanh(0) = 0: c = c_prev / 2 = (1, -1), whose layer
# norm is (1, -1) / sqrt(1 + eps), and h = tanh(that) / 2.
B, I, H = 1, 3, 2
zeros = [torch.zeros(4 * H, I), torch.zeros(4 * H, H), torch.zeros(4 * H), torch.zeros(4 * H)]
unit = [(torch.ones(4 * H), torch.zeros(4 * H))] * 2 + [(torch.ones(H), torch.zeros(H))]
state = (torch.zeros(B, H), torch.tensor([[2.0, -2.0]]))
h, c = layer_norm_lstm_step(torch.randn(B, I), state, *zeros, *unit)
assert h.shape == (B, H) and c.shape == (B, H), (
    f"expected h and c of shape {(B, H)}; got {tuple(h.shape)}, {tuple(c.shape)}"
)
assert torch.allclose(c, torch.tensor([[1.0, -1.0]])), (
    f"expected the unnormalised cell c = (1, -1); got {c}"
)
expected = torch.tanh(torch.tensor([[1.0, -1.0]]) / (1 + 1e-5) ** 0.5) / 2
assert torch.allclose(h, expected, atol=1e-12), f"expected h = {expected}; got {h}"
# 2) Layer norm undoes a rescaling of the weights (exactly with eps = 0): W_ih and W_hh
# times 3 give the same step.
B, I, H = 4, 3, 5
weights = [torch.randn(4 * H, I), torch.randn(4 * H, H), torch.randn(4 * H), torch.randn(4 * H)]
norms = [(torch.rand(4 * H) + 0.5, torch.randn(4 * H)) for _ in range(2)]
norms.append((torch.rand(H) + 0.5, torch.randn(H)))
state = (torch.randn(B, H), torch.randn(B, H))
x = torch.randn(B, I)
h1, c1 = layer_norm_lstm_step(x, state, *weights, *norms, eps=0.0)
scaled = [3 * weights[0], 3 * weights[1], *weights[2:]]
h3, c3 = layer_norm_lstm_step(x, state, *scaled, *norms, eps=0.0)
assert torch.allclose(h1, h3, atol=1e-10) and torch.allclose(c1, c3, atol=1e-10), (
    "scaling W_ih and W_hh by 3 should not change the step (eps = 0)"
)
print("layer_norm_lstm_step: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "layer_norm_lstm_step_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for layer_norm_lstm_step run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("layer_norm_lstm_step", layer_norm_lstm_step)
### END HIDDEN TESTS
