# %% [markdown]
# # Assignment 3 · Backpropagation through time (时间反向传播)
#
# In this assignment you write backpropagation through time (BPTT) for the Elman network of
# chapter 3 by hand, and then its truncated form, BPTT(k1, k2):
#
# | part | function | points |
# |---|---|---|
# | 1 | `elman_backward` — every gradient of an Elman RNN, by hand, Eqs. (3.2)–(3.4) | 4 |
# | 2 | `truncated_bptt_gradients` — the gradients of every update of BPTT(k1, k2), Eq. (3.8) | 3 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in coursekit
# (`coursekit.bptt.elman_backward`, `coursekit.truncated_bptt.truncated_bptt_gradients`).
# The visible tests below each part check shapes, a case small enough to work out by hand
# and, for part 1, agreement with autograd on one random case. When you submit,
# hidden tests compare your function with the reference on random float64 inputs, including
# the edge cases (a sequence of length 1, a batch of 1, no bias, `relu`, a long sequence, no
# gradient at the last state, and for part 2 every kind of truncation schedule). A function
# counts if it passes every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, using tensor operations
# (`@`, `*`, `torch.einsum`, `torch.stack`, indexing …). Part 1 is BPTT *by hand*: calling
# autograd in it (`.backward()`, `torch.autograd`, `torch.func`) scores zero for that part, as
# does calling `coursekit` or torch's RNN kernels anywhere. Part 2 may use autograd or, better,
# your `elman_backward`. Do not edit the other cells; they are restored from the original when
# grading.
#
# Shapes follow torch's conventions: `T` (or `N`) time steps, `B` batch, `I` input features,
# `H` hidden units, `O` outputs; sequences are time first, `(T, B, I)`. Row vectors, as in
# torch: a weight `(H, I)` acts as `x @ weight_ih.T`.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import torch

torch.set_default_dtype(torch.float64)


def elman_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Eq. (3.1) over a sequence: x (T, B, I), h0 (B, H) -> output (T, B, H), cache (a dict).

    ``output[t]`` is the state after reading ``x[t]``. The cache holds the inputs under their
    argument names, ``"nonlinearity"`` and ``"output"``: all that the backward pass needs.
    """
    f = torch.tanh if nonlinearity == "tanh" else torch.relu
    h, states = h0, []
    for x_t in x:  # x_t: (B, I)
        pre = x_t @ weight_ih.T + h @ weight_hh.T
        if bias_ih is not None:
            pre = pre + bias_ih
        if bias_hh is not None:
            pre = pre + bias_hh
        h = f(pre)
        states.append(h)
    output = torch.stack(states)  # (T, B, H)
    cache = dict(
        x=x,
        h0=h0,
        weight_ih=weight_ih,
        weight_hh=weight_hh,
        bias_ih=bias_ih,
        bias_hh=bias_hh,
        nonlinearity=nonlinearity,
        output=output,
    )
    return output, cache


# %% [markdown]
# ## Part 1 · BPTT by hand
#
# The forward pass above computes, for $t = 1, \dots, T$ (row vectors, $f$ is $\tanh$ or relu),
#
# $$ a_t = x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}, \qquad h_t = f(a_t). \tag{3.1} $$
#
# A loss $L$ is computed from the states; you are given its gradients `grad_output[t]`
# $= \partial L / \partial h_t$ *as far as the loss reads $h_t$ directly*, and `grad_h_n`
# $= \partial L / \partial h_T$ for the final state (or `None`: zero). Walking back from
# $t = T$ to $t = 1$, the full gradient at $h_t$ adds what comes back from step $t+1$:
#
# $$ g_t = \frac{\partial L}{\partial h_t} = \mathtt{grad\_output}_t + \delta_{t+1} W_{hh}
# \quad (g_T \text{ also adds } \mathtt{grad\_h\_n};\ \delta_{T+1} = 0), \tag{3.2} $$
#
# $$ \delta_t = \frac{\partial L}{\partial a_t} = g_t \odot f'(a_t), \qquad
# f'(a_t) = 1 - h_t^2 \ (\tanh) \ \text{ or } \ \mathbb{1}[h_t > 0] \ (\text{relu}), \tag{3.3} $$
#
# and since the same weights are used at every step, their gradients are sums over time
# (and over the batch):
#
# $$ \frac{\partial L}{\partial W_{hh}} = \sum_t \delta_t^\top h_{t-1}, \quad
# \frac{\partial L}{\partial W_{ih}} = \sum_t \delta_t^\top x_t, \quad
# \frac{\partial L}{\partial b_{ih}} = \frac{\partial L}{\partial b_{hh}} = \sum_t \delta_t, \quad
# \frac{\partial L}{\partial x_t} = \delta_t W_{ih}, \quad
# \frac{\partial L}{\partial h_0} = \delta_1 W_{hh}. \tag{3.4} $$
#
# Return a dict with the keys `"x"`, `"h0"`, `"weight_ih"`, `"weight_hh"`, `"bias_ih"`,
# `"bias_hh"`, each the gradient of the cache entry of that name (the same shape), and `None`
# for a bias that the forward pass did not have (`cache["bias_ih"] is None`). (A hidden-test
# message such as "output 3 differs" counts the entries in sorted key order: 0 `bias_hh`,
# 1 `bias_ih`, 2 `h0`, 3 `weight_hh`, 4 `weight_ih`, 5 `x`.)


# %% nbgrader={"grade": false, "grade_id": "elman_backward", "locked": false, "schema_version": 3, "solution": true}
def elman_backward(grad_output, grad_h_n, cache):
    """grad_output (T, B, H), grad_h_n (B, H) or None, cache from elman_forward -> dict of grads."""
    ### BEGIN SOLUTION
    x, h0, output = cache["x"], cache["h0"], cache["output"]
    weight_ih, weight_hh = cache["weight_ih"], cache["weight_hh"]
    if cache["nonlinearity"] == "tanh":
        derivative = 1 - output * output  # f'(a_t) from h_t, (T, B, H)
    else:
        derivative = (output > 0).to(output.dtype)
    deltas = []
    g = torch.zeros_like(h0) if grad_h_n is None else grad_h_n  # (B, H)
    for t in reversed(range(len(output))):
        g = g + grad_output[t]  # Eq. (3.2)
        delta = g * derivative[t]  # Eq. (3.3)
        deltas.append(delta)
        g = delta @ weight_hh  # on to h_{t-1}
    deltas = torch.stack(deltas[::-1])  # δ_1 .. δ_T, (T, B, H)
    previous = torch.cat([h0.unsqueeze(0), output[:-1]])  # h_0 .. h_{T-1}
    grad_bias = deltas.sum(dim=(0, 1))
    return {
        "x": deltas @ weight_ih,
        "h0": g,
        "weight_ih": torch.einsum("tbh,tbi->hi", deltas, x),
        "weight_hh": torch.einsum("tbh,tbk->hk", deltas, previous),
        "bias_ih": None if cache["bias_ih"] is None else grad_bias,
        "bias_hh": None if cache["bias_hh"] is None else grad_bias,
    }
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "elman_backward_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) Keys and shapes: T=4, B=2, I=3, H=5, with biases.
gen = torch.Generator().manual_seed(0)
x, h0 = torch.randn(4, 2, 3, generator=gen), torch.randn(2, 5, generator=gen)
weights = [0.5 * torch.randn(*shape, generator=gen) for shape in [(5, 3), (5, 5), (5,), (5,)]]
output, cache = elman_forward(x, h0, *weights)
grad_output = torch.randn(4, 2, 5, generator=gen)
grads = elman_backward(grad_output, torch.ones(2, 5), cache)
expected_keys = ["bias_hh", "bias_ih", "h0", "weight_hh", "weight_ih", "x"]
assert isinstance(grads, dict) and sorted(grads) == expected_keys, (
    f"expected a dict with keys {expected_keys}; got {sorted(grads) if isinstance(grads, dict) else type(grads)}"
)
for key in expected_keys:
    assert grads[key].shape == cache[key].shape, (
        f"grads[{key!r}] must have the shape of {key}, {tuple(cache[key].shape)}; got {tuple(grads[key].shape)}"
    )
_, cache_no_bias = elman_forward(x, h0, *weights[:2])
grads_no_bias = elman_backward(grad_output, None, cache_no_bias)
assert grads_no_bias["bias_ih"] is None and grads_no_bias["bias_hh"] is None, (
    "without biases, grads['bias_ih'] and grads['bias_hh'] must be None"
)

# 2) By hand: one relu unit that adds its input to its state (W_ih = W_hh = 1, no bias).
# Inputs 1, 2, 3 from h0 = 0 give the states 1, 3, 6. With L = h_1 + h_2 + h_3 (grad_output
# all ones), Eq. (3.2) gives g_3 = 1, g_2 = 1 + 1 = 2, g_1 = 1 + 2 = 3; relu' = 1 on positive
# states, so δ = (3, 2, 1). Then dL/dW_hh = 3·0 + 2·1 + 1·3 = 5, dL/dW_ih = 3·1 + 2·2 + 1·3 = 10,
# dL/dx = δ W_ih = (3, 2, 1) and dL/dh0 = δ_1 W_hh = 3.
x = torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1, 1)
one = torch.ones(1, 1)
output, cache = elman_forward(x, torch.zeros(1, 1), one, one, nonlinearity="relu")
grads = elman_backward(torch.ones(3, 1, 1), None, cache)
for key, expected in [("weight_hh", 5.0), ("weight_ih", 10.0), ("h0", 3.0)]:
    assert grads[key].item() == expected, f"{key}: expected {expected}; got {grads[key].item()}"
assert grads["x"].flatten().tolist() == [3.0, 2.0, 1.0], (
    f"x: expected [3, 2, 1]; got {grads['x'].flatten().tolist()}"
)

# 3) The same as autograd on the random case of 1) (tanh, with grad_h_n).
leaves = [t.clone().requires_grad_() for t in [cache_no_bias["x"], cache_no_bias["h0"], *weights]]
output, cache = elman_forward(*leaves)
with torch.no_grad():
    grads = elman_backward(grad_output, torch.ones(2, 5), cache)
expected = torch.autograd.grad([output, output[-1]], leaves, [grad_output, torch.ones(2, 5)])
for key, e in zip(
    ["x", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"], expected, strict=True
):
    difference = (grads[key] - e).abs().max().item()
    assert difference < 1e-10, f"grads[{key!r}] differs from autograd by up to {difference:.3g}"
print("elman_backward: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "elman_backward_hidden", "locked": true, "points": 4, "schema_version": 3, "solution": false}
# Hidden tests for elman_backward run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("elman_backward", elman_backward)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · Truncated BPTT, BPTT(k1, k2)
#
# On a long stream of $N$ steps, full BPTT would wait for the end of the stream and walk back
# through all of it. Truncated BPTT (Williams & Peng, 1990) updates the weights **every $k_1$
# steps**, each time backpropagating through the last **$k_2 \ge k_1$ steps** only:
#
# - update $j$ ($j = 0, 1, \dots, U-1$ with $U = \lceil N / k_1 \rceil$) trains on the losses of
#   the steps $[\,j k_1,\ \min((j+1) k_1, N)\,)$ (0-based, as `x[t]` counts);
# - its gradient flows back through the states of those steps and of the steps before them,
#   down to step $\max(0,\ (j+1) k_1 - k_2)$ and **no further**: the state the window starts
#   from is treated as a constant (in torch: detached). That state is the true state of the
#   stream there, computed from `h0` with the same weights;
# - the last update may be short (when $k_1$ does not divide $N$); its window starts where a
#   full one would, at $\max(0,\ (j+1)k_1 - k_2)$.
#
# ```text
# N = 10, k1 = 3, k2 = 5:   steps 0 1 2 3 4 5 6 7 8 9
#   update 0: losses 0..2      [=====]                     window from 0
#   update 1: losses 3..5      [ - - =====]                window from 1
#   update 2: losses 6..8            [ - - =====]          window from 4
#   update 3: loss 9                       [ - - - =]      window from 7
# ```
#
# The model is an Elman network with a linear readout, $\hat y_t = h_t W_{out}^\top + b_{out}$,
# and the loss of an update is the squared error summed over its steps, the batch and the
# outputs: $L_j = \sum_{t} \lVert \hat y_t - y_t \rVert^2$. The weights are **held fixed**
# (no optimizer step between updates), so the function is pure: it returns the loss and the
# gradients each update would hand the optimizer.
#
# Return a dict: `"loss"` of shape `(U,)`, and the gradients `"weight_ih"` `(U, H, I)`,
# `"weight_hh"` `(U, H, H)`, `"bias_ih"`, `"bias_hh"` `(U, H)`, `"weight_out"` `(U, O, H)`,
# `"bias_out"` `(U, O)`, row $j$ for update $j$; an entry is `None` when its bias is `None`.
# (Hidden-test messages count the entries in sorted key order: 0 `bias_hh`, 1 `bias_ih`,
# 2 `bias_out`, 3 `loss`, 4 `weight_hh`, 5 `weight_ih`, 6 `weight_out`.)
#
# *Hint.* Compute the true states of the whole stream once (the weights do not change). For one
# update, the window's states are a slice of them, and the state before the window is its
# `h0`: build the window's cache as `elman_forward` would (or call `elman_forward` on the
# window), give the readout's gradient $2(\hat y_t - y_t) W_{out}$ as `grad_output` at the
# trained steps and zeros before them, and call your `elman_backward`.


# %% nbgrader={"grade": false, "grade_id": "truncated_bptt_gradients", "locked": false, "schema_version": 3, "solution": true}
def truncated_bptt_gradients(
    x,
    y,
    h0,
    weight_ih,
    weight_hh,
    bias_ih,
    bias_hh,
    weight_out,
    bias_out,
    k1,
    k2,
    nonlinearity="tanh",
):
    """x (N, B, I), y (N, B, O), h0 (B, H) -> dict of "loss" (U,) and gradients (U, ...)."""
    ### BEGIN SOLUTION
    f = torch.tanh if nonlinearity == "tanh" else torch.relu
    states = [h0]  # the true states of the stream, h_0 .. h_N
    for x_t in x:
        pre = x_t @ weight_ih.T + states[-1] @ weight_hh.T
        if bias_ih is not None:
            pre = pre + bias_ih
        if bias_hh is not None:
            pre = pre + bias_hh
        states.append(f(pre))
    rows = []
    for done in range(0, len(x), k1):
        end, cut = min(done + k1, len(x)), max(0, done + k1 - k2)
        window = torch.stack(states[cut + 1 : end + 1])  # the window's states, from h_cut on
        cache = {
            "x": x[cut:end],
            "h0": states[cut],
            "weight_ih": weight_ih,
            "weight_hh": weight_hh,
            "bias_ih": bias_ih,
            "bias_hh": bias_hh,
            "nonlinearity": nonlinearity,
            "output": window,
        }
        trained = window[done - cut :]  # the steps whose losses count
        error = trained @ weight_out.T - y[done:end]
        if bias_out is not None:
            error = error + bias_out
        grad_output = torch.zeros_like(window)
        grad_output[done - cut :] = 2 * error @ weight_out
        grads = elman_backward(grad_output, None, cache)
        grads["weight_out"] = torch.einsum("tbo,tbh->oh", 2 * error, trained)
        grads["bias_out"] = None if bias_out is None else 2 * error.sum(dim=(0, 1))
        grads["loss"] = (error * error).sum()
        rows.append(grads)
    keys = ["loss", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_out", "bias_out"]
    return {k: None if rows[0][k] is None else torch.stack([r[k] for r in rows]) for k in keys}
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "truncated_bptt_gradients_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) Keys and shapes: N=10, B=2, I=3, H=4, O=2, k1=3, k2=5 -> U = 4 updates.
gen = torch.Generator().manual_seed(1)
x, y, h0 = (torch.randn(*s, generator=gen) for s in [(10, 2, 3), (10, 2, 2), (2, 4)])
params = [0.5 * torch.randn(*s, generator=gen) for s in [(4, 3), (4, 4), (4,), (4,), (2, 4), (2,)]]
result = truncated_bptt_gradients(x, y, h0, *params, 3, 5)
shapes = {
    "loss": (4,),
    "weight_ih": (4, 4, 3),
    "weight_hh": (4, 4, 4),
    "bias_ih": (4, 4),
    "bias_hh": (4, 4),
    "weight_out": (4, 2, 4),
    "bias_out": (4, 2),
}
assert isinstance(result, dict) and sorted(result) == sorted(shapes), (
    f"expected a dict with keys {sorted(shapes)}; got {sorted(result) if isinstance(result, dict) else type(result)}"
)
for key, shape in shapes.items():
    assert tuple(result[key].shape) == shape, (
        f"result[{key!r}]: expected shape {shape}; got {tuple(result[key].shape)}"
    )

# 2) By hand: one relu unit, W_ih = W_hh = W_out = 1, no biases, h0 = 0, inputs 1, 2, 3, targets
# 0, k1 = k2 = 1. The states are 1, 3, 6; each update sees one step, from the true previous state:
# loss h_t² = (1, 9, 36); dL/dW_hh = 2 h_t h_{t-1} = (0, 6, 36); dL/dW_ih = 2 h_t x_t = (2, 12, 36);
# dL/dW_out = 2 h_t · h_t = (2, 18, 72).
x = torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1, 1)
one = torch.ones(1, 1)
result = truncated_bptt_gradients(
    x, torch.zeros(3, 1, 1), torch.zeros(1, 1), one, one, None, None, one, None, 1, 1, "relu"
)
for key, expected in [
    ("loss", [1.0, 9.0, 36.0]),
    ("weight_hh", [0.0, 6.0, 36.0]),
    ("weight_ih", [2.0, 12.0, 36.0]),
    ("weight_out", [2.0, 18.0, 72.0]),
]:
    got = result[key].flatten().tolist()
    assert got == expected, f"k1 = k2 = 1, {key}: expected {expected}; got {got}"
assert result["bias_ih"] is None and result["bias_out"] is None, "no bias: its entries are None"

# 3) One window over the whole stream (k1 = k2 = N) is full BPTT: the same as autograd.
leaves = [p.clone().requires_grad_() for p in params]
output, _ = elman_forward(x.new_ones(5, 2, 3), h0, *leaves[:4])
loss = ((output @ leaves[4].T + leaves[5] - 0.5) ** 2).sum()
expected = torch.autograd.grad(loss, leaves)
with torch.no_grad():
    result = truncated_bptt_gradients(
        x.new_ones(5, 2, 3), torch.full((5, 2, 2), 0.5), h0, *params, 5, 5
    )
keys = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_out", "bias_out"]
for key, e in zip(keys, expected, strict=True):
    difference = (result[key][0] - e).abs().max().item()
    assert difference < 1e-10, (
        f"k1 = k2 = N: result[{key!r}] differs from autograd by {difference:.3g}"
    )
print("truncated_bptt_gradients: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "truncated_bptt_gradients_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for truncated_bptt_gradients run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("truncated_bptt_gradients", truncated_bptt_gradients)
### END HIDDEN TESTS
