# %% [markdown]
# # Assignment 10 · State-space models and Mamba (状态空间模型与 Mamba)
#
# In this assignment you write the four pieces of chapter 10 that everything else is built
# from: the exact discretisation of a diagonal state-space model, its convolution kernel,
# Mamba's selective scan, and the step that lets a scan run in parallel:
#
# | part | function | points |
# |---|---|---|
# | 1 | `discretize_zoh_diagonal` — zero-order hold (零阶保持) for a diagonal $A$, Eq. (10.4) | 2 |
# | 2 | `ssm_kernel` — the kernel $K_j = C \bar A^j \bar B$ of the convolution view, Eq. (10.6) | 2 |
# | 3 | `selective_scan` — Mamba's selective SSM as a loop over time, Eq. (10.10)–(10.15) | 3 |
# | 4 | `scan_combine` — the combine step of the parallel scan, Eq. (10.21) | 1 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in
# `coursekit.ssm`, `coursekit.mamba` or `coursekit.scan`. The visible tests below each part
# check shapes and cases small enough to work out by hand; when you submit, hidden tests
# compare your function with the reference on many random inputs in float64, in values *and*
# gradients (with respect to every tensor argument). The cases include the edge sizes (one
# state, one channel, a sequence of length 1), small and large steps $\Delta$ (where a
# first-order rule and the exact one part), and every option of `selective_scan` on and off.
# A function counts if it passes every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, with tensor operations
# (`@`, `*`, `torch.exp`, `torch.expm1`, `F.softplus`, `F.silu`, `torch.stack`, indexing …).
# Calling an implementation of what you are asked to write scores zero for that function:
# `coursekit`, mamba-ssm's `selective_scan_fn` or `selective_scan_ref`, mambapy's `pscan` or
# `selective_scan`. Do not edit the other cells; they are restored from the original when
# grading.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
_ = torch.manual_seed(0)  # the random cases of the visible tests

# %% [markdown]
# ## Part 1 · Zero-order hold for a diagonal $A$
#
# A continuous state-space model maps an input $u(t)$ to an output $y(t)$ through a state
# $x(t)$ (shape `(n,)`):
#
# $$ x'(t) = A x(t) + B u(t), \qquad y(t) = C x(t) + D u(t). \tag{10.1} $$
#
# A computer sees the input at steps of length $\Delta$. If $u$ is held constant over each
# step (the *zero-order hold*), the state after one step is exactly
# $x_k = \bar A x_{k-1} + \bar B u_k$ (Eq. (10.2)) with
#
# $$ \bar A = \exp(\Delta A), \qquad \bar B = (\Delta A)^{-1} \left(\exp(\Delta A) - I\right)
# \Delta B. \tag{10.3} $$
#
# When $A$ is diagonal, with $\lambda_1, \dots, \lambda_n$ on its diagonal (as in S4D and
# Mamba), the matrix exponential is the exponential of each entry and (10.3) falls apart
# into $n$ scalar formulas:
#
# $$ \bar A_i = \exp(\Delta \lambda_i), \qquad \bar B_i = \frac{\exp(\Delta \lambda_i) - 1}
# {\lambda_i}\, B_i. \tag{10.4} $$
#
# (The $\Delta$ of $\Delta B$ cancels the $\Delta$ of $(\Delta A)^{-1}$.) Compare forward
# Euler, $\bar A = I + \Delta A$ and $\bar B = \Delta B$ (Eq. (10.5)): it agrees with (10.4)
# only to first order in $\Delta$.
#
# `lam` holds the diagonal, shape `(..., n)` (nonzero entries; `(d, n)` for $d$ channels),
# `B` has the same shape, and `delta` is a float or a tensor that broadcasts against them
# (`(d, 1)`: one step per channel). Return `(a_bar, b_bar)`, both of `lam`'s shape, computed
# entry by entry. `torch.expm1(x)` computes $e^x - 1$ without losing digits when $x$ is small.


# %% nbgrader={"grade": false, "grade_id": "discretize_zoh_diagonal", "locked": false, "schema_version": 3, "solution": true}
def discretize_zoh_diagonal(lam, B, delta):
    """lam (..., n) the diagonal of A (nonzero), B (..., n), delta > 0 a float or broadcastable
    (e.g. (..., 1)) -> (a_bar, b_bar), each (..., n): Eq. (10.4), entry by entry."""
    ### BEGIN SOLUTION
    a_bar = torch.exp(delta * lam)  # Eq. (10.4)
    b_bar = torch.expm1(delta * lam) / lam * B  # (exp(Δλ) - 1) / λ · B
    return a_bar, b_bar
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "discretize_zoh_diagonal_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: λ = (-1, -2) and Δ = ln 2 give Ā = (e^{-ln 2}, e^{-2 ln 2}) =
# (1/2, 1/4), and B̄_i = (Ā_i - 1) / λ_i · B_i = (1/2 · B_1, 3/8 · B_2): with B = (2, 8),
# B̄ = (1, 3).
lam = torch.tensor([-1.0, -2.0])
a_bar, b_bar = discretize_zoh_diagonal(lam, torch.tensor([2.0, 8.0]), math.log(2))
for what, value in [("a_bar", a_bar), ("b_bar", b_bar)]:
    assert isinstance(value, torch.Tensor) and value.shape == (2,), (
        f"expected {what} a tensor of shape (2,); got {type(value).__name__} "
        f"{getattr(value, 'shape', '')}"
    )
assert torch.allclose(a_bar, torch.tensor([0.5, 0.25]), atol=1e-12), (
    f"expected a_bar = (0.5, 0.25); got {a_bar}"
)
assert torch.allclose(b_bar, torch.tensor([1.0, 3.0]), atol=1e-12), (
    f"expected b_bar = (1, 3); got {b_bar}"
)
# 2) One step per channel: d = 3 channels of n = 4 states, delta (3, 1). Equal to the dense
# ZOH of Eq. (10.3) for diag(λ), read off one matrix exponential of [[ΔA, ΔB], [0, 0]].
lam = -torch.rand(3, 4) * 2 - 0.1
B = torch.randn(3, 4)
delta = torch.tensor([[0.01], [0.5], [2.0]])
a_bar, b_bar = discretize_zoh_diagonal(lam, B, delta)
assert a_bar.shape == (3, 4) and b_bar.shape == (3, 4), (
    f"expected a_bar and b_bar of shape (3, 4); got {tuple(a_bar.shape)}, {tuple(b_bar.shape)}"
)
for c in range(3):
    block = torch.zeros(5, 5)
    block[:4, :4] = delta[c] * torch.diag(lam[c])
    block[:4, 4] = delta[c] * B[c]
    expm = torch.linalg.matrix_exp(block)  # [[Ā, B̄], [0, 1]]
    assert torch.allclose(a_bar[c], torch.diagonal(expm[:4, :4]), atol=1e-12), (
        f"channel {c} (Δ = {delta[c].item()}): a_bar differs from exp(ΔA)"
    )
    assert torch.allclose(b_bar[c], expm[:4, 4], atol=1e-12), (
        f"channel {c} (Δ = {delta[c].item()}): b_bar differs from the exact ZOH, Eq. (10.3)"
    )
# 3) Not Euler: at λ = -1, Δ = 1 Euler gives Ā = 1 + Δλ = 0; the exact map keeps e^{-1}.
a_bar, b_bar = discretize_zoh_diagonal(torch.tensor([-1.0]), torch.tensor([1.0]), 1.0)
assert abs(a_bar.item() - math.exp(-1)) < 1e-12, f"expected a_bar = e^-1; got {a_bar.item()}"
assert abs(b_bar.item() - (1 - math.exp(-1))) < 1e-12, (
    f"expected b_bar = 1 - e^-1 (Euler's ΔB = 1 is only first-order); got {b_bar.item()}"
)
print("discretize_zoh_diagonal: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "discretize_zoh_diagonal_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for discretize_zoh_diagonal run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("discretize_zoh_diagonal", discretize_zoh_diagonal)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · The convolution kernel
#
# Unroll the discrete recurrence $x_k = \bar A x_{k-1} + \bar B u_k$, $y_k = C x_k + D u_k$
# from $x_{-1} = 0$: the input $u_{k-j}$ reaches $y_k$ through $j$ multiplications by $\bar A$.
# So a linear time-invariant SSM is a causal convolution of the input with the kernel
#
# $$ K_j = C \bar A^j \bar B, \qquad j = 0, 1, \dots, L - 1, \tag{10.6} $$
#
# $$ y_k = \sum_{j=0}^{k} K_j\, u_{k-j} + D u_k. \tag{10.7} $$
#
# Here the matrices are dense: $\bar A$ `(n, n)`, $\bar B$ `(n, m)`, $C$ `(p, n)`. Return the
# kernel as one tensor of shape `(L, p, m)`, `K[j]` $= C \bar A^j \bar B$. $\bar A^j$ is a
# *matrix* power (apply $\bar A$ $j$ times, with `@`), and $K_0 = C \bar B$.


# %% nbgrader={"grade": false, "grade_id": "ssm_kernel", "locked": false, "schema_version": 3, "solution": true}
def ssm_kernel(a_bar, b_bar, C, length):
    """a_bar (n, n), b_bar (n, m), C (p, n), length L >= 1 -> K (L, p, m), K[j] = C Ā^j B̄."""
    ### BEGIN SOLUTION
    kernel = []
    power_b = b_bar  # Ā^j B̄ (n, m), from j = 0
    for _ in range(length):
        kernel.append(C @ power_b)  # K_j (p, m), Eq. (10.6)
        power_b = a_bar @ power_b
    return torch.stack(kernel)  # (L, p, m)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "ssm_kernel_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand, one state: Ā = 0.5, B̄ = 2, C = 3 give K_j = 3 · 0.5^j · 2 =
# 6, 3, 1.5, 0.75.
K = ssm_kernel(torch.tensor([[0.5]]), torch.tensor([[2.0]]), torch.tensor([[3.0]]), 4)
assert isinstance(K, torch.Tensor) and K.shape == (4, 1, 1), (
    f"expected K of shape (4, 1, 1) (L, p, m); got {type(K).__name__} {getattr(K, 'shape', '')}"
)
expected = torch.tensor([6.0, 3.0, 1.5, 0.75]).reshape(4, 1, 1)
assert torch.allclose(K, expected, atol=1e-12), f"expected {expected.flatten()}; got {K.flatten()}"
# 2) By hand, a delay line: Ā = [[0, 1], [0, 0]] moves state 2 into state 1. The input enters
# state 2 (B̄ = (0, 1)ᵀ) and is read from state 1 (C = (1, 0)): y_k = u_{k-1}, K = (0, 1, 0).
# (With Ā transposed, or with one power too many, the 1 is in the wrong place.)
K = ssm_kernel(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[0.0], [1.0]]),
               torch.tensor([[1.0, 0.0]]), 3)  # fmt: skip
expected = torch.tensor([0.0, 1.0, 0.0]).reshape(3, 1, 1)
assert torch.allclose(K, expected, atol=1e-12), (
    f"a delay of one step: expected K = (0, 1, 0); got {K.flatten()}"
)
# 3) The two views agree: the recurrence of Eq. (10.2) and the convolution (10.7) with your
# kernel give the same outputs (n = 3, m = 2, p = 2, L = 6, no D).
n, m, p, L = 3, 2, 2, 6
a_bar, b_bar, C = 0.4 * torch.randn(n, n), torch.randn(n, m), torch.randn(p, n)
u = torch.randn(L, m)
K = ssm_kernel(a_bar, b_bar, C, L)
assert K.shape == (L, p, m), f"expected K of shape {(L, p, m)}; got {tuple(K.shape)}"
x = torch.zeros(n)
for k in range(L):
    x = a_bar @ x + b_bar @ u[k]  # the recurrence
    convolved = sum(K[j] @ u[k - j] for j in range(k + 1))  # Eq. (10.7)
    assert torch.allclose(convolved, C @ x, atol=1e-10), (
        f"step {k}: the convolution with your kernel gives {convolved}; the recurrence {C @ x}"
    )
print("ssm_kernel: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "ssm_kernel_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for ssm_kernel run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("ssm_kernel", ssm_kernel)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · The selective scan
#
# An SSM whose $\bar A$, $\bar B$ and $C$ are fixed treats every input alike. Mamba makes the
# step $\Delta$ and the matrices $B$ and $C$ depend on the input at each step $t$ (the
# *selection*); $A$ stays a learned parameter that does not depend on the input. Then there
# is no fixed kernel any more, and the model is computed as a recurrence. For each batch
# entry, channel $c$ (of $d$) and state entry $i$ (of $n$), with $A$ real and diagonal (one row
# $A_c$ `(n,)` per channel):
#
# $$ \Delta_t = \operatorname{softplus}(\delta_t + \delta_{\text{bias}}) \tag{10.10} $$
# $$ \bar A_t = \exp(\Delta_t A_c) \tag{10.11} $$
# $$ \bar B_t u_t \approx \Delta_t B_t u_t \tag{10.12} $$
# $$ h_t = \bar A_t \odot h_{t-1} + \Delta_t B_t u_t, \qquad h_{-1} = 0 \tag{10.13} $$
# $$ y_t = \langle C_t, h_t \rangle + D_c u_t \tag{10.14} $$
# $$ \text{out}_t = y_t \cdot \operatorname{silu}(z_t) \tag{10.15} $$
#
# $\bar A_t$ is the zero-order hold of part 1, but the input term (10.12) is Mamba's
# first-order shortcut $\Delta_t B_t$, *not* the exact $(\exp(\Delta_t A) - 1)/A \cdot B_t$:
# the two agree to first order in $\Delta$, and this one needs no division by $A$. Use
# (10.12) as written: it is what mamba-ssm computes. $\langle C_t, h_t \rangle$ sums over the
# $n$ state entries.
#
# The arguments are those of mamba-ssm's `selective_scan_ref`, with channels before time:
#
# * `u` `(b, d, L)` the input, `delta` `(b, d, L)` the raw step $\delta$ (before (10.10));
# * `A` `(d, n)`; `B` and `C` `(b, n, L)`: $B_t$ and $C_t$ are `B[:, :, t]` and `C[:, :, t]`,
#   one per step and shared by all $d$ channels;
# * `D` `(d,)` or `None` (no skip term); `z` `(b, d, L)` or `None` (no gate, (10.15) skipped);
# * `delta_bias` `(d,)` or `None`, added to $\delta$ *before* the softplus; `delta_softplus`:
#   whether to apply the softplus at all (when `False`, $\Delta_t = \delta_t + \delta_{\text{bias}}$);
# * `return_last_state`: when `True`, return `(out, h)` with the last state $h_{L-1}$
#   `(b, d, n)`; otherwise `out` `(b, d, L)` alone.
#
# (The reference also accepts `B` and `C` of shape `(d, n)`, fixed in time, or one per group
# of channels; you need not.)


# %% nbgrader={"grade": false, "grade_id": "selective_scan", "locked": false, "schema_version": 3, "solution": true}
def selective_scan(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
):
    """u, delta (b, d, L), A (d, n), B, C (b, n, L), D (d,) or None, z (b, d, L) or None,
    delta_bias (d,) or None -> out (b, d, L), and h_{L-1} (b, d, n) if return_last_state."""
    ### BEGIN SOLUTION
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]  # (b, d, L)
    if delta_softplus:
        delta = F.softplus(delta)  # Eq. (10.10)
    batch, d, length = u.shape
    h = u.new_zeros(batch, d, A.shape[1])  # h_{-1} = 0, (b, d, n)
    ys = []
    for t in range(length):
        dt = delta[:, :, t, None]  # Δ_t (b, d, 1)
        a_bar = torch.exp(dt * A)  # Eq. (10.11), (b, d, n)
        h = a_bar * h + dt * B[:, None, :, t] * u[:, :, t, None]  # Eq. (10.12)-(10.13)
        ys.append((h * C[:, None, :, t]).sum(-1))  # <C_t, h_t>, (b, d)
    y = torch.stack(ys, dim=-1)  # (b, d, L)
    if D is not None:
        y = y + D[:, None] * u  # the skip, Eq. (10.14)
    if z is not None:
        y = y * F.silu(z)  # the gate, Eq. (10.15)
    return (y, h) if return_last_state else y
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "selective_scan_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: one batch entry, channel and state; L = 2, Δ = 1 (raw, no
# softplus), A = -ln 2 (so Ā = 1/2), B_t = 1, C_t = 2, u = (1, 2), D = 0.5:
#   h_0 = 1/2 · 0 + 1 · 1 · 1 = 1,      y_0 = 2 · 1 + 0.5 · 1 = 2.5
#   h_1 = 1/2 · 1 + 1 · 1 · 2 = 2.5,    y_1 = 2 · 2.5 + 0.5 · 2 = 6
u = torch.tensor([[[1.0, 2.0]]])  # (b, d, L) = (1, 1, 2)
A = torch.tensor([[-math.log(2)]])  # (d, n) = (1, 1)
B, C = torch.ones(1, 1, 2), torch.full((1, 1, 2), 2.0)  # (b, n, L)
D = torch.tensor([0.5])
out = selective_scan(u, torch.ones(1, 1, 2), A, B, C, D)
assert isinstance(out, torch.Tensor) and out.shape == (1, 1, 2), (
    f"expected out of shape (1, 1, 2) (b, d, L); got {type(out).__name__} "
    f"{getattr(out, 'shape', '')}"
)
assert torch.allclose(out, torch.tensor([[[2.5, 6.0]]]), atol=1e-12), (
    f"expected out = (2.5, 6); got {out.flatten()}"
)
result = selective_scan(u, torch.ones(1, 1, 2), A, B, C, D, return_last_state=True)
assert isinstance(result, tuple) and len(result) == 2, (
    "with return_last_state=True, expected a pair (out, last state)"
)
assert result[1].shape == (1, 1, 1) and abs(result[1].item() - 2.5) < 1e-12, (
    f"expected the last state h_1 = 2.5 of shape (1, 1, 1) (b, d, n); got {result[1]}"
)
# 2) By hand: the bias goes in before the softplus. softplus(0 + ln(e - 1)) = ln(e) = 1, so a
# raw step of 0 with this bias is the Δ = 1 of test 1 again.
bias = torch.tensor([math.log(math.e - 1)])
out = selective_scan(u, torch.zeros(1, 1, 2), A, B, C, D, delta_bias=bias, delta_softplus=True)
assert torch.allclose(out, torch.tensor([[[2.5, 6.0]]]), atol=1e-12), (
    f"Δ = softplus(0 + ln(e - 1)) = 1: expected out = (2.5, 6) as in test 1; got {out.flatten()}"
)
# 3) The gate: z = 0 closes it (silu(0) = 0); otherwise out = y · silu(z).
out = selective_scan(u, torch.ones(1, 1, 2), A, B, C, D, z=torch.zeros(1, 1, 2))
assert torch.allclose(out, torch.zeros(1, 1, 2), atol=1e-12), f"z = 0: expected 0; got {out}"
z = torch.tensor([[[1.0, -2.0]]])
out = selective_scan(u, torch.ones(1, 1, 2), A, B, C, D, z=z)
expected = torch.tensor([[[2.5, 6.0]]]) * z * torch.sigmoid(z)
assert torch.allclose(out, expected, atol=1e-12), f"expected y · silu(z) = {expected}; got {out}"
# 4) Nothing selected: with Δ, B and C the same at every step, the selective SSM is a linear
# time-invariant one, so each channel c is the convolution (10.7) with the kernel
# K_j = Σ_i C_i exp(Δ_c A_ci)^j Δ_c B_i (the input term of (10.12)), plus D_c u.
b, d, n, L = 2, 3, 4, 7
u, A = torch.randn(b, d, L), -torch.rand(d, n) - 0.2
steps = torch.rand(d) + 0.1  # Δ_c, the same at every step
B_fixed, C_fixed, D = torch.randn(n), torch.randn(n), torch.randn(d)
B, C = B_fixed[None, :, None].expand(b, n, L), C_fixed[None, :, None].expand(b, n, L)
out = selective_scan(u, steps[None, :, None].expand(b, d, L), A, B, C, D)
assert out.shape == (b, d, L), f"expected out of shape {(b, d, L)}; got {tuple(out.shape)}"
for c in range(d):
    a_bar = torch.exp(steps[c] * A[c])  # (n,)
    K = torch.stack([(C_fixed * a_bar**j * steps[c] * B_fixed).sum() for j in range(L)])
    for k in range(L):
        y = sum(K[j] * u[:, c, k - j] for j in range(k + 1)) + D[c] * u[:, c, k]
        assert torch.allclose(out[:, c, k], y, atol=1e-10), (
            f"channel {c}, step {k}: expected {y} (the LTI convolution); got {out[:, c, k]}"
        )
print("selective_scan: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "selective_scan_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for selective_scan run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("selective_scan", selective_scan)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4 · The combine step of the parallel scan
#
# The loop of part 3 takes $L$ dependent steps. Its heart is the first-order linear recurrence
#
# $$ h_t = a_t \odot h_{t-1} + b_t, \tag{10.20} $$
#
# (in Mamba $a_t = \bar A_t$ and $b_t = \Delta_t B_t u_t$). Each step is an affine map
# $h \mapsto a h + b$, stored as the pair $(a, b)$. Applying $(a_1, b_1)$ and then
# $(a_2, b_2)$ gives $a_2 (a_1 h + b_1) + b_2$, again affine:
#
# $$ (a_2, b_2) \bullet (a_1, b_1) = (a_2 a_1,\; a_2 b_1 + b_2) \qquad
# \text{(apply 1, then 2).} \tag{10.21} $$
#
# This combine is *associative*, so the compositions of all prefixes can be built as a tree,
# in about $2 \log_2 L$ parallel steps instead of $L$ (Blelloch's scan, which `coursekit.scan`
# implements); it is *not* commutative, since the order of time matters. Write the combine:
# `left` $= (a_1, b_1)$ is the earlier piece, `right` $= (a_2, b_2)$ the later one (tensors of
# one shape, entry by entry). Return the pair $(a, b)$ of the composed map.


# %% nbgrader={"grade": false, "grade_id": "scan_combine", "locked": false, "schema_version": 3, "solution": true}
def scan_combine(left, right):
    """left = (a_1, b_1) the earlier piece, right = (a_2, b_2) the later one -> (a, b) of the
    map that applies the earlier, then the later, Eq. (10.21)."""
    ### BEGIN SOLUTION
    a_1, b_1 = left
    a_2, b_2 = right
    return a_2 * a_1, a_2 * b_1 + b_2  # Eq. (10.21)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "scan_combine_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: h -> 2h + 3, then h -> 5h + 7, is h -> 5(2h + 3) + 7 = 10h + 22.
# The other order, h -> 2(5h + 7) + 3 = 10h + 17, is a different map.
two = (torch.tensor(2.0), torch.tensor(3.0))
five = (torch.tensor(5.0), torch.tensor(7.0))
combined = scan_combine(two, five)
assert isinstance(combined, tuple) and len(combined) == 2, "expected a pair (a, b)"
assert (combined[0].item(), combined[1].item()) == (10.0, 22.0), (
    f"first 2h + 3, then 5h + 7: expected (10, 22); got ({combined[0]}, {combined[1]})"
)
combined = scan_combine(five, two)
assert (combined[0].item(), combined[1].item()) == (10.0, 17.0), (
    f"first 5h + 7, then 2h + 3: expected (10, 17); got ({combined[0]}, {combined[1]})"
)
# 2) Folded over a sequence in time order, the combine gives every state of Eq. (10.20) from
# h_{-1} = 0 (the a part is the product a_0 ... a_t).
L = 10
a, b = torch.rand(L, 3), torch.randn(L, 3)
prefix, h = (a[0], b[0]), b[0]
for t in range(1, L):
    prefix = scan_combine(prefix, (a[t], b[t]))
    h = a[t] * h + b[t]  # the loop
    assert torch.allclose(prefix[1], h, atol=1e-12), (
        f"step {t}: expected h_t = {h}; got {prefix[1]}"
    )
assert torch.allclose(prefix[0], a.prod(0), atol=1e-12), "the a part should be a_0 ⋯ a_{L-1}"
# 3) Associative: (x, y), then z equals x, then (y, z), so a scan may group steps freely.
x, y, z = ((torch.randn(4), torch.randn(4)) for _ in range(3))
grouped_left = scan_combine(scan_combine(x, y), z)
grouped_right = scan_combine(x, scan_combine(y, z))
for part, one, other in zip("ab", grouped_left, grouped_right, strict=True):
    assert torch.allclose(one, other, atol=1e-12), f"the {part} parts differ: not associative"
print("scan_combine: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "scan_combine_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for scan_combine run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("scan_combine", scan_combine)
### END HIDDEN TESTS
