# %% [markdown]
# # Assignment 5 · Gradient clipping (梯度裁剪)
#
# In this assignment you write gradient norm clipping, the cure of chapter 5 for exploding
# gradients, as two pure functions:
#
# | part | function | points |
# |---|---|---|
# | 1 | `clip_coefficient` — the factor every gradient is multiplied by, Eq. (5.3) | 1 |
# | 2 | `clip_grads_by_norm` — clip a list of gradients to a total norm, Eqs. (5.2)–(5.4) | 3 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in
# `coursekit.clipping`, which gives exactly the numbers `torch.nn.utils.clip_grad_norm_` gives.
# The visible tests below each part check shapes and cases small enough to work out by hand;
# when you submit, hidden tests compare your function with the reference on many random sets
# of gradients in float64: norm types 2, 1, ∞ and 3, a `max_norm` above, at and below the
# total norm, zero gradients and gradients that contain `nan` or `inf`. A function counts if it
# passes every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, using tensor operations
# (`torch.linalg.vector_norm`, `torch.stack`, `torch.clamp`, `*` …). Calling an implementation
# of what you are asked to write (`coursekit`, `torch.nn.utils.clip_grad_norm_`,
# `torch.nn.utils.get_total_norm`, …) scores zero for that function. Part 2 may (and should) call
# your `clip_coefficient`. Do not edit the other cells; they are restored from the original when
# grading.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math

import torch

torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## Part 1 · The clip coefficient
#
# Given the total norm $\lVert g \rVert$ of all the gradients and the threshold `max_norm`,
# norm clipping multiplies every gradient by
#
# $$ c = \min\left(1,\ \frac{\mathtt{max\_norm}}{\lVert g \rVert + 10^{-6}}\right). \tag{5.3} $$
#
# The cap at 1 means clipping only ever *shrinks* a gradient: below the threshold nothing
# changes. The $10^{-6}$ is torch's: it keeps a zero gradient from dividing by zero, and we
# keep it so the numbers equal torch's. Return $c$ as a 0-dim tensor. An infinite norm gives
# $c = 0$ and a `nan` norm gives `nan`, which the formula does by itself.


# %% nbgrader={"grade": false, "grade_id": "clip_coefficient", "locked": false, "schema_version": 3, "solution": true}
def clip_coefficient(total_norm, max_norm):
    """total_norm: a 0-dim tensor (or a number), max_norm: a number -> c, a 0-dim tensor."""
    ### BEGIN SOLUTION
    total_norm = torch.as_tensor(total_norm)
    return torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "clip_coefficient_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests: a norm of 10 clipped to 1 gives c = 1 / (10 + 1e-6); a norm of 0.5 is left
# alone (c = 1, not 2); a zero norm gives 1; an infinite norm gives 0.
for total, max_norm, expected in [
    (10.0, 1.0, 1 / (10 + 1e-6)),
    (0.5, 1.0, 1.0),
    (0.0, 1.0, 1.0),
    (math.inf, 1.0, 0.0),
]:
    c = clip_coefficient(torch.tensor(total), max_norm)
    assert isinstance(c, torch.Tensor) and c.dim() == 0, (
        f"expected a 0-dim tensor; got {type(c).__name__} {getattr(c, 'shape', '')}"
    )
    assert abs(c.item() - expected) < 1e-15, (
        f"norm {total}, max_norm {max_norm}: expected c = {expected!r}; got {c.item()!r}"
    )
print("clip_coefficient: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "clip_coefficient_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for clip_coefficient run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("clip_coefficient", clip_coefficient)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · Clipping a list of gradients by their total norm
#
# A model's gradient is a list of tensors $g_1, \dots, g_P$, one per parameter, of any shapes.
# Clipping treats them as **one long vector**: its $p$-norm is the $p$-norm of the per-tensor
# norms,
#
# $$ \lVert g \rVert_p = \big\lVert (\lVert g_1 \rVert_p, \dots, \lVert g_P \rVert_p) \big\rVert_p
# \quad (p = \infty:\ \text{the largest } |\text{entry}|), \tag{5.2} $$
#
# and every tensor is multiplied by the same coefficient $c$ of Eq. (5.3),
#
# $$ g_i \leftarrow c\, g_i , \tag{5.4} $$
#
# so the update keeps its direction and its total norm becomes at most `max_norm`.
# `torch.linalg.vector_norm(t, p)` takes the $p$-norm of all entries of a tensor `t`, for
# `p = 2.0`, `1.0`, `math.inf` or any other $p$.
#
# Return `(clipped, total_norm)`: `clipped` a list of new tensors, the shapes of `grads`
# (do **not** change the tensors you are given), and `total_norm` the norm *before* clipping,
# Eq. (5.2), as a 0-dim tensor. Non-finite gradients need no special case: the formulas give
# torch's answer (a `nan` norm makes every entry `nan`; an infinite one gives $c = 0$).
# (Hidden-test messages number the outputs in order: 0 to $P-1$ the clipped tensors, $P$ the
# total norm.)


# %% nbgrader={"grade": false, "grade_id": "clip_grads_by_norm", "locked": false, "schema_version": 3, "solution": true}
def clip_grads_by_norm(grads, max_norm, norm_type=2.0):
    """grads: a list of P tensors -> (list of P clipped tensors, total norm before clipping)."""
    ### BEGIN SOLUTION
    norms = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])  # (P,)
    total = torch.linalg.vector_norm(norms, norm_type)
    c = clip_coefficient(total, max_norm)
    return [g * c for g in grads], total
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "clip_grads_by_norm_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) Shapes, and the inputs are left alone.
grads = [torch.ones(2, 3), torch.ones(4), torch.tensor(2.0)]
before = [g.clone() for g in grads]
clipped, total = clip_grads_by_norm(grads, 1.0)
assert isinstance(clipped, list) and len(clipped) == 3, (
    f"expected a list of 3 clipped tensors; got {type(clipped).__name__} of {len(clipped)}"
)
for g, c in zip(grads, clipped, strict=True):
    assert c.shape == g.shape, (
        f"a clipped tensor must keep its shape {tuple(g.shape)}; got {tuple(c.shape)}"
    )
assert all(torch.equal(g, b) for g, b in zip(grads, before, strict=True)), (
    "the input gradients were changed: return new tensors instead"
)

# 2) By hand: g = ((3,), (4,)) has 2-norm 5, 1-norm 7 and inf-norm 4 as one long vector.
grads = [torch.tensor([3.0]), torch.tensor([4.0])]
for norm_type, expected in [(2.0, 5.0), (1.0, 7.0), (math.inf, 4.0)]:
    _, total = clip_grads_by_norm(grads, 100.0, norm_type)
    assert abs(float(total) - expected) < 1e-12, (
        f"norm_type {norm_type}: expected total norm {expected}; got {float(total)}"
    )
# clipped to 1 in the 2-norm: both scaled by 1 / (5 + 1e-6), the direction (3, 4) / 5 is kept
clipped, total = clip_grads_by_norm(grads, 1.0)
got = [c.item() for c in clipped]
expected = [3 / (5 + 1e-6), 4 / (5 + 1e-6)]
assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 1e-12, (
    f"clipped to 1: expected {expected}; got {got}"
)
assert float(total) == 5.0, f"return the total norm before clipping, 5; got {float(total)}"
# below the threshold nothing changes
clipped, _ = clip_grads_by_norm(grads, 10.0)
assert [c.item() for c in clipped] == [3.0, 4.0], (
    f"norm 5 < max_norm 10: expected (3, 4) unchanged; got {[c.item() for c in clipped]}"
)
print("clip_grads_by_norm: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "clip_grads_by_norm_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for clip_grads_by_norm run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("clip_grads_by_norm", clip_grads_by_norm)
### END HIDDEN TESTS
