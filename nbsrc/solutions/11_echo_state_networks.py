# %% [markdown]
# # Assignment 11 · Echo state networks (回声状态网络)
#
# In this assignment you build an echo state network from its four pieces: the reservoir's
# scaling, its leaky update, the teacher-forced states, and the one thing an ESN trains, the
# ridge-regression readout of chapter 11:
#
# | part | function | points |
# |---|---|---|
# | 1 | `scale_to_spectral_radius` — rescale $W$ to a chosen spectral radius, Eq. (11.4) | 1 |
# | 2 | `reservoir_step` — one leaky reservoir update, Eq. (11.1) | 2 |
# | 3 | `collect_states` — drive the reservoir, drop the washout | 2 |
# | 4 | `ridge_readout` — the readout in closed form, with an unpenalised bias, Eq. (11.3) | 3 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in
# `coursekit.esn`. The visible tests below each part check shapes and cases small enough to
# work out by hand; when you submit, hidden tests compare your function with the reference
# on many random inputs in float64: parts 2 and 3 in values and gradients (with respect to
# the input, the state and every weight), parts 1 and 4 in values. Part 4 is judged by what
# the readout outputs, on the training states and on others, so a different but equally
# exact way of solving the same system scores the same; the cases include several outputs,
# a ridge of zero, large ridges and the ill-conditioned states of a real reservoir. A
# function counts if it passes every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, with tensor operations
# (`@`, `torch.tanh`, `torch.linalg.eigvals`, `torch.linalg.solve`, `torch.cat`, `torch.stack`
# …). Calling an implementation of what you are asked to write scores zero for that
# function: `coursekit`, a least-squares or pseudo-inverse routine (`torch.linalg.lstsq`,
# `torch.linalg.pinv`), reservoirpy's `Reservoir`, `Ridge` or `ESN`. Parts 3 and 4 may (and
# part 3 should) call your earlier functions. Do not edit the other cells; they are restored
# from the original when grading.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math

import torch

torch.set_default_dtype(torch.float64)
_ = torch.manual_seed(0)  # the random cases of the visible tests

# %% [markdown]
# ## Part 1 · The spectral radius
#
# The spectral radius $\rho(W)$ is the largest *modulus* of an eigenvalue of the square
# matrix $W$; the eigenvalues of a real matrix that is not symmetric are in general complex
# (`torch.linalg.eigvals` returns them as a complex tensor). A reservoir is drawn at random
# and then rescaled to the radius $\rho$ you choose:
#
# $$ W = \rho\, W_0 / \rho(W_0). \tag{11.4} $$
#
# Return a new tensor of `W`'s shape and dtype; leave `W` itself unchanged. (The largest
# *singular* value is a different number, $\sigma_{\max} \ge \rho$: chapter 11, §11.2.)


# %% nbgrader={"grade": false, "grade_id": "scale_to_spectral_radius", "locked": false, "schema_version": 3, "solution": true}
def scale_to_spectral_radius(W, spectral_radius):
    """W (N, N), spectral_radius a float -> W rescaled to that spectral radius, (N, N)."""
    ### BEGIN SOLUTION
    current = torch.linalg.eigvals(W).abs().max()  # ρ(W_0), a real number
    return W * (spectral_radius / current)  # Eq. (11.4)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "scale_to_spectral_radius_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: diag(2, -4) has eigenvalues 2 and -4, so ρ = 4 (the modulus:
# -4 counts), and scaling to 0.5 multiplies by 1/8.
W = torch.diag(torch.tensor([2.0, -4.0]))
scaled = scale_to_spectral_radius(W, 0.5)
assert isinstance(scaled, torch.Tensor) and scaled.shape == (2, 2), (
    f"expected a tensor of shape (2, 2); got {type(scaled).__name__} {getattr(scaled, 'shape', '')}"
)
expected = torch.diag(torch.tensor([0.25, -0.5]))
assert torch.allclose(scaled, expected, atol=1e-12), f"expected {expected}; got {scaled}"
assert torch.equal(W, torch.diag(torch.tensor([2.0, -4.0]))), "W itself must not change"
# 2) A rotation by 90° times 3 has eigenvalues ±3i: ρ = 3, although no eigenvalue is real.
R = torch.tensor([[0.0, -3.0], [3.0, 0.0]])
scaled = scale_to_spectral_radius(R, 1.5)
assert torch.allclose(scaled, R / 2, atol=1e-12), f"expected R / 2 = {R / 2}; got {scaled}"
# 3) A random matrix: afterwards the largest |eigenvalue| is the radius asked for.
W = torch.randn(20, 20)
radius = torch.linalg.eigvals(scale_to_spectral_radius(W, 0.9)).abs().max().item()
assert abs(radius - 0.9) < 1e-10, f"expected spectral radius 0.9 afterwards; got {radius}"
print("scale_to_spectral_radius: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "scale_to_spectral_radius_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for scale_to_spectral_radius run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("scale_to_spectral_radius", scale_to_spectral_radius)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · One leaky reservoir update
#
# With the state $x_{t-1}$ (shape `(N,)`), the input $u_t$ (shape `(I,)`), the fixed input
# weights $W_{\text{in}}$ `(N, I)`, recurrent weights $W$ `(N, N)`, bias $b$ `(N,)` (or
# `None`) and the leak rate $\alpha$ in $[0, 1]$:
#
# $$ x_t = (1 - \alpha)\, x_{t-1} + \alpha \tanh\!\left(W_{\text{in}} u_t + W x_{t-1} + b
# \right). \tag{11.1} $$
#
# The leak blends the old state with the new *activation*; the bias is inside the tanh.
# With $\alpha = 1$ it is the classic ESN (an Elman RNN whose weights are never trained).
# Return the new state, shape `(N,)`.


# %% nbgrader={"grade": false, "grade_id": "reservoir_step", "locked": false, "schema_version": 3, "solution": true}
def reservoir_step(u, x, W_in, W, bias=None, leak_rate=1.0):
    """u (I,), x (N,), W_in (N, I), W (N, N), bias (N,) or None -> the next state (N,)."""
    ### BEGIN SOLUTION
    pre = W_in @ u + W @ x  # (N,)
    if bias is not None:
        pre = pre + bias
    return (1 - leak_rate) * x + leak_rate * torch.tanh(pre)  # Eq. (11.1)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "reservoir_step_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: with W_in = 0 and W = 0 the activation is tanh(b); with α = 0.25
# the new state is 0.75 x + 0.25 tanh(b).
N, I = 3, 2
x = torch.tensor([1.0, -2.0, 0.5])
b = torch.tensor([0.0, 1.0, -1.0])
new = reservoir_step(torch.randn(I), x, torch.zeros(N, I), torch.zeros(N, N), b, 0.25)
assert isinstance(new, torch.Tensor) and new.shape == (N,), (
    f"expected a tensor of shape ({N},); got {type(new).__name__} {getattr(new, 'shape', '')}"
)
expected = 0.75 * x + 0.25 * torch.tanh(b)
assert torch.allclose(new, expected, atol=1e-12), f"expected {expected}; got {new}"
# 2) α = 1 is the classic ESN: tanh(W_in u + W x), whatever the old state was (no bias).
W_in, W, u = torch.randn(N, I), torch.randn(N, N), torch.randn(I)
new = reservoir_step(u, x, W_in, W)
expected = torch.tanh(W_in @ u + W @ x)
assert torch.allclose(new, expected, atol=1e-12), f"α = 1, no bias: expected {expected}; got {new}"
# 3) α = 0 never moves.
assert torch.allclose(reservoir_step(u, x, W_in, W, b, 0.0), x), "α = 0 must keep the state"
print("reservoir_step: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "reservoir_step_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for reservoir_step run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("reservoir_step", reservoir_step)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · Teacher-forced states, the washout dropped
#
# Training drives the reservoir with the training input `inputs` `(T, I)` from the initial
# state `state` (`(N,)`; zeros when it is `None`), one `reservoir_step` per row, and keeps
# the state *after* each step: row $t$ of the result is the state after reading
# `inputs[t]`. The first `washout` states still remember the arbitrary start, so they are
# dropped: return the states `(T - washout, N)`. You may assume `0 <= washout < T`.


# %% nbgrader={"grade": false, "grade_id": "collect_states", "locked": false, "schema_version": 3, "solution": true}
def collect_states(inputs, W_in, W, bias=None, leak_rate=1.0, washout=0, state=None):
    """inputs (T, I), W_in (N, I), W (N, N), state (N,) or None -> states (T - washout, N)."""
    ### BEGIN SOLUTION
    x = W.new_zeros(W.shape[0]) if state is None else state
    states = []
    for u in inputs:
        x = reservoir_step(u, x, W_in, W, bias, leak_rate)
        states.append(x)  # the state after reading u
    return torch.stack(states)[washout:]  # (T - washout, N)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "collect_states_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: one unit, W_in = 1, W = 0, α = 1: the state is tanh(u_t), so
# with washout 2 the rows are tanh of the last two inputs.
inputs = torch.tensor([[0.1], [0.2], [0.3], [0.4]])
states = collect_states(inputs, torch.ones(1, 1), torch.zeros(1, 1), washout=2)
assert isinstance(states, torch.Tensor) and states.shape == (2, 1), (
    f"expected a tensor of shape (2, 1) (4 steps, 2 washed out); got "
    f"{type(states).__name__} {getattr(states, 'shape', '')}"
)
expected = torch.tanh(torch.tensor([[0.3], [0.4]]))
assert torch.allclose(states, expected, atol=1e-12), f"expected {expected}; got {states}"
# 2) Step by step: row t is the state after reading inputs[t], from the given start.
T, N, I = 5, 4, 2
inputs, W_in, W = torch.randn(T, I), torch.randn(N, I), 0.5 * torch.randn(N, N)
b, start = torch.randn(N), torch.randn(N)
states = collect_states(inputs, W_in, W, b, 0.4, state=start)
x = start
for t in range(T):
    x = reservoir_step(inputs[t], x, W_in, W, b, 0.4)
    assert torch.allclose(states[t], x, atol=1e-12), (
        f"row {t}: expected the state after reading inputs[{t}] from the given start"
    )
print("collect_states: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "collect_states_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for collect_states run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("collect_states", collect_states)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4 · The ridge readout
#
# The readout is linear in the state with a 1 on top, $y_t = W_{\text{out}} [1;\ x_t]$.
# Stack the states as the rows of $X = [\mathbf 1, \text{states}]$ `(T, N + 1)` and the
# targets as the rows of $Y$ `(T, O)`; ridge regression minimises
# $\lVert Y - X W_{\text{out}}^\top \rVert^2 + \beta \lVert W_{\text{out}}[:, 1{:}] \rVert^2$
# (the bias, column 0, is *not* penalised), whose minimum is
#
# $$ W_{\text{out}}^\top = \left(X^\top X + \beta D\right)^{-1} X^\top Y, \qquad
# D = \operatorname{diag}(0, 1, \dots, 1). \tag{11.3} $$
#
# The inverse is notation: solve the linear system with `torch.linalg.solve`. Return
# `W_out` `(O, N + 1)`, column 0 the bias. With $\beta = 0$ you may assume the states have
# full rank (more rows than columns, no column constant).


# %% nbgrader={"grade": false, "grade_id": "ridge_readout", "locked": false, "schema_version": 3, "solution": true}
def ridge_readout(states, targets, ridge=0.0):
    """states (T, N), targets (T, O), ridge β >= 0 -> W_out (O, N + 1), column 0 the bias."""
    ### BEGIN SOLUTION
    T, N = states.shape
    X = torch.cat([torch.ones(T, 1, dtype=states.dtype), states], dim=1)  # (T, N + 1)
    D = torch.eye(N + 1, dtype=states.dtype)
    D[0, 0] = 0.0  # the bias is not penalised
    W_out_T = torch.linalg.solve(X.T @ X + ridge * D, X.T @ targets)  # Eq. (11.3)
    return W_out_T.T  # (O, N + 1)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "ridge_readout_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: targets that are exactly 2 + 3 x are fitted exactly by least
# squares (β = 0): W_out = [[2, 3]].
states = torch.tensor([[0.0], [1.0], [2.0], [5.0]])
W_out = ridge_readout(states, 2 + 3 * states)
assert isinstance(W_out, torch.Tensor) and W_out.shape == (1, 2), (
    f"expected W_out of shape (1, 2) (O = 1, N + 1 = 2); got "
    f"{type(W_out).__name__} {getattr(W_out, 'shape', '')}"
)
assert torch.allclose(W_out, torch.tensor([[2.0, 3.0]]), atol=1e-10), (
    f"expected [[2, 3]]; got {W_out}"
)
# 2) The bias is not penalised: a huge ridge shrinks the weight to 0, and the bias that is
# left is the mean of the targets.
W_out = ridge_readout(states, 2 + 3 * states, ridge=1e12)
assert abs(W_out[0, 1].item()) < 1e-8, f"β = 1e12 should shrink the weight to 0; got {W_out}"
mean = (2 + 3 * states).mean().item()
assert abs(W_out[0, 0].item() - mean) < 1e-6, (
    f"the unpenalised bias should be the targets' mean, {mean}; got {W_out[0, 0].item()}"
)
# 3) Two nearly equal state columns (two units carrying the same signal) and a badly scaled
# one make XᵀX + βD nearly singular (condition number ~1e17). A solve keeps the readout's
# outputs; an explicit inverse loses about four digits of them. Compared here with a QR
# solution of the stacked ridge system, which never forms XᵀX.
base = torch.rand(200, 3)
twin = base[:, :1] + 1e-6 * torch.rand(200, 1)
states = torch.cat([base, twin, 1e3 * base[:, 1:2] + 5], dim=1)  # (200, 5)
targets = 2 * states[:, :1] + 1 + torch.sin(states[:, 1:2])
ridge = 1e-10
X = torch.cat([torch.ones(200, 1), states], dim=1)
Q, R = torch.linalg.qr(torch.cat([X, ridge**0.5 * torch.eye(6)[1:]]))
best = torch.linalg.solve_triangular(R, Q.T @ torch.cat([targets, torch.zeros(5, 1)]), upper=True)
error = (X @ ridge_readout(states, targets, ridge).T - X @ best).abs().max().item()
assert error < 1e-5, (
    f"on nearly singular states the outputs are off by {error:.2g}: solve the system "
    "(torch.linalg.solve) rather than inverting XᵀX + βD"
)
# 4) The whole ESN: predict a sine one step ahead from 50 reservoir units.
N, T, washout = 50, 400, 50
W = scale_to_spectral_radius(torch.randn(N, N), 0.9)
W_in = torch.randn(N, 1)
series = torch.sin(torch.arange(T + 1) * 2 * math.pi / 25).reshape(-1, 1)
states = collect_states(series[:-1], W_in, W, leak_rate=0.5, washout=washout)
targets = series[washout + 1 :]  # the next value of each input read
W_out = ridge_readout(states, targets, ridge=1e-6)
prediction = states @ W_out[:, 1:].T + W_out[:, 0]
nrmse = ((prediction - targets).pow(2).mean().sqrt() / targets.std()).item()
assert nrmse < 1e-2, f"one-step prediction of a sine should be near exact; NRMSE = {nrmse:.3g}"
print("ridge_readout: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "ridge_readout_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for ridge_readout run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("ridge_readout", ridge_readout)
### END HIDDEN TESTS
