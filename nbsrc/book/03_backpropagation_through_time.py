# %% [markdown]
# # 3. Backpropagation through time · 时间反向传播
#
# Chapter 2 trained a character-level RNN with one call to `loss.backward()` and, at the end,
# measured something worrying: how much the last state depends on a state $d$ steps earlier
# falls exponentially with $d$. This chapter opens the black box. It derives the gradient of
# an RNN by hand, the algorithm called
# {term}`backpropagation through time <时间反向传播>` (BPTT, 时间反向传播)
# {cite}`ch3-werbos1990backpropagation`, and reads off from the derivation *why* long-range
# gradients shrink or blow up. Then it turns to the practical answer of every RNN trainer:
# cut the backward pass short.
#
# By the end of the chapter you will be able to
#
# - derive the backward pass of an Elman RNN, from the softmax cross-entropy's
#   $\hat y - y$ at the output to Eqs. (3.2)–(3.4), write it as one loop that runs
#   backwards in time, and check it against autograd;
# - write the gradient between two distant states as a product of Jacobians, Eqs.
#   (3.5)–(3.6), bound it by $(\sigma_{\max}\gamma)^{t-s}$, Eq. (3.7), and say why
#   $\sigma_{\max}$ must be a singular value and not an eigenvalue;
# - recognise the vanishing and the exploding regime in a measured figure, and say when the
#   bound is reached and when it is far from tight;
# - train on a long stream with truncated BPTT, BPTT($k_1$, $k_2$), Eq. (3.8), and with
#   randomised truncation, Eq. (3.9), and see what each can and cannot learn.
#
# Everything below comes from `coursekit.bptt` (the backward pass and its Jacobians) and
# `coursekit.truncated_bptt` (training on a long stream), short modules written to be read
# next to this chapter; their docstrings cite the same equation numbers.

# %%
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from coursekit import (
    DERIVATIVE_BOUND,
    elman_backward,
    elman_forward,
    expected_truncation_length,
    jacobian_norms,
    random_truncation_lengths,
    rnn_forward,
    seed_everything,
    spectral_bound,
    step_jacobians,
)
from coursekit.plots import draw_truncated_bptt, setup_chapter

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)
# float64: the checks below compare to 1e-12
torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## 3.1 One loss, many uses of the same weights
#
# Unrolled in time (§2.4), an RNN is a feed-forward network $T$ layers deep whose layers all
# share one set of weights. In the row-vector layout of torch and `coursekit`, step $t$
# computes a pre-activation $a_t$ and a state $h_t$,
#
# $$
# a_t = x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}, \qquad h_t = f(a_t),
# \tag{3.1}
# $$
#
# which is Eq. (2.1) again, for $t = 1, \dots, T$ from a given $h_0$. A sequence model has a
# loss at (almost) every step, read from the states through an output layer, and the
# training loss is their sum, $L = \sum_t L_t$.
#
# The gradient of $L$ with respect to a shared weight needs care. The notes (003) put it as
# "a parameter earns one gradient reward for every operation it takes part in"
# (参数参与过多少次运算，就应该获得多少次梯度的奖励): $W_{hh}$ is used at every step, so
# $\partial L / \partial W_{hh}$ is a sum of one contribution per step. And each
# contribution has to account for every path. The tempting one-line chain rule
#
# $$
# \frac{\partial L_4}{\partial W_{ih}} \overset{?}{=}
# \frac{\partial L_4}{\partial y_4}\,\frac{\partial y_4}{\partial h_4}\,
# \frac{\partial h_4}{\partial W_{ih}}
# $$
#
# is wrong (note 001 makes exactly this point): $h_4$ depends on $W_{ih}$ directly through
# $x_4$, but also through $h_3$, which used $W_{ih}$ to read $x_3$, and so on back to the
# first step. $W_{ih}$ enters at every step $s \le 4$, each use reaches $L_4$ along the chain
# $h_s \to h_{s+1} \to \dots \to h_4$, and the true gradient adds one term per use:
#
# $$
# \frac{\partial L_4}{\partial W_{ih}} = \sum_{s=1}^{4}
# \frac{\partial L_4}{\partial h_4}\,\frac{\partial h_4}{\partial h_s}\,
# \frac{\partial h_s}{\partial W_{ih}}\bigg|_{\text{step } s \text{ only}}.
# $$
#
# Written out term by term for every loss $L_t$, that is $O(T^2)$ terms; organised as a
# single sweep backwards in time, $O(T)$ work. That sweep is BPTT, and the factor
# $\partial h_4 / \partial h_s$ will be the subject of §3.3.

# %% [markdown]
# ## 3.2 The backward pass
#
# ### The output layer: where `grad_output` comes from
#
# The backward pass through time starts from $\mathtt{grad\_output}_t = \partial L_t /
# \partial h_t$, the gradient that the loss of step $t$ sends into the state. For a language
# model, or any classifier read from the states, it comes from an output layer and the
# softmax cross-entropy, and note 002 works it out. With row vectors, $V$ classes, $y_t$ now
# the one-hot *target* (class $c$) and $\hat y_t$ the prediction,
#
# $$
# \begin{aligned}
# z_t &= h_t W_{\mathrm{out}}^\top + b_{\mathrm{out}}, \qquad
# \hat y_t = \operatorname{softmax}(z_t),
# \\
# L_t &= -\sum_{k=1}^{V} y_{t,k} \log \hat y_{t,k}
#     = -z_{t,c} + \log \sum_{j=1}^{V} e^{z_{t,j}} .
# \end{aligned}
# $$
#
# Differentiating the last form, $\partial L_t / \partial z_{t,k} = -\mathbb{1}[k = c] +
# e^{z_{t,k}} / \sum_j e^{z_{t,j}}$, which is
#
# $$
# \frac{\partial L_t}{\partial z_t} = \hat y_t - y_t :
# $$
#
# the Jacobian of the softmax and the $1/\hat y$ of the logarithm cancel, and what is left
# is the prediction minus the target, an entry between $-1$ and $1$ per class. The output
# layer is an affine map, so the rest follows the pattern of Eq. (3.4) below:
#
# $$
# \begin{aligned}
# \frac{\partial L}{\partial W_{\mathrm{out}}} &= \sum_{t=1}^{T} (\hat y_t - y_t)^\top h_t,
# \\
# \frac{\partial L}{\partial b_{\mathrm{out}}} &= \sum_{t=1}^{T} (\hat y_t - y_t),
# \\
# \mathtt{grad\_output}_t &= \frac{\partial L_t}{\partial h_t}
#     = (\hat y_t - y_t)\, W_{\mathrm{out}} .
# \end{aligned}
# $$
#
# $W_{\mathrm{out}}$ is shared across steps like $W_{hh}$, so its gradient is also a sum
# over $t$, but it needs no recursion: $L_t$ reaches $W_{\mathrm{out}}$ at step $t$ only.
# (Note 002 gives the same three gradients for column vectors, where the weight gradient is
# the outer product $(\hat y_t - y_t)\, h_t^\top$.) With a batch, each sum also runs over
# the rows of the batch. Checked against autograd on random numbers:

# %%
generator = seed_everything(0)
T, B, H, V = 5, 3, 8, 6  # steps, batch, hidden units, classes
hidden = torch.randn(T, B, H, generator=generator, requires_grad=True)
weight_out = torch.randn(V, H, generator=generator, requires_grad=True)
bias_out = torch.randn(V, generator=generator, requires_grad=True)
targets = torch.randint(0, V, (T, B), generator=generator)

logits = hidden @ weight_out.T + bias_out  # z_t, (T, B, V)
loss = F.cross_entropy(
    logits.reshape(-1, V), targets.reshape(-1), reduction="sum"
)  # L = sum of L_t over steps and batch
autograd = torch.autograd.grad(loss, [hidden, weight_out, bias_out])

with torch.no_grad():
    error = torch.softmax(logits, -1) - F.one_hot(targets, V)  # ŷ - y
    by_hand = [
        error @ weight_out,  # grad_output_t, (T, B, H)
        torch.einsum("tbv,tbh->vh", error, hidden),  # (V, H)
        error.sum((0, 1)),  # (V,)
    ]
for name, mine, auto in zip(
    ["h_t", "W_out", "b_out"], by_hand, autograd, strict=True
):
    agree = torch.allclose(mine, auto, rtol=0, atol=1e-12)
    print(f"dL/d{name}: by hand == autograd: {agree}")

# %% [markdown]
# ### Back through time
#
# Give every state the full gradient it receives, $g_t = \partial L / \partial h_t$. A state
# $h_t$ influences the loss in two ways: directly, through $L_t$, and through the next
# state $h_{t+1}$, which reads it via $W_{hh}$. Walking back from the last step,
#
# \begin{equation*}
# \begin{aligned}
# g_t = \frac{\partial L}{\partial h_t}
#     &= \underbrace{\frac{\partial L_t}{\partial h_t}}_{\mathtt{grad\_output}_t}
#     + \delta_{t+1} W_{hh}, \qquad \delta_{T+1} = 0
# \\
# &\phantom{=}\ \text{(} g_T \text{ also adds } \partial L / \partial h_T
#         \text{ when the final state is used)},
# \end{aligned}
# \tag{3.2}
# \end{equation*}
#
# \begin{equation*}
# \begin{aligned}
# \delta_t &= \frac{\partial L}{\partial a_t} = g_t \odot f'(a_t),
# \\
# f'(a_t) &= 1 - h_t^2 \ \text{for } \tanh, \quad \mathbb{1}[h_t > 0] \ \text{for relu}.
# \end{aligned}
# \tag{3.3}
# \end{equation*}
#
# $\delta_t$ is the gradient at the pre-activation; the derivative of the nonlinearity is
# read off the *stored state* $h_t$, so the backward pass needs the forward pass's states and
# nothing else. Every use of a weight at step $t$ contributes $\delta_t$ times what the weight
# multiplied there, and the contributions add up over the steps (and over the rows of the
# batch, which the matrix product sums for us):
#
# \begin{equation*}
# \begin{aligned}
# \frac{\partial L}{\partial W_{hh}} &= \sum_{t=1}^{T} \delta_t^\top h_{t-1}, &
# \frac{\partial L}{\partial W_{ih}} &= \sum_{t=1}^{T} \delta_t^\top x_t,
# \\
# \frac{\partial L}{\partial b} &= \sum_{t=1}^{T} \delta_t, &
# \frac{\partial L}{\partial x_t} &= \delta_t W_{ih},
# \\
# \frac{\partial L}{\partial h_0} &= \delta_1 W_{hh}.
# \end{aligned}
# \tag{3.4}
# \end{equation*}
#
# Here is the whole of it for a tanh RNN without biases, one loop that runs backwards in
# time, next to `coursekit.elman_backward` (which adds biases, relu and the gradient of the
# final state) and autograd:


# %%
def bptt_by_hand(grad_output, x, h0, output, weight_ih, weight_hh):
    """Eqs. (3.2)-(3.4) for h_t = tanh(x_t W_ih^T + h_(t-1) W_hh^T).

    Returns dW_ih, dW_hh, dh_0.
    """
    # h_(t-1) for every t, (T, B, H)
    previous = torch.cat([h0.unsqueeze(0), output[:-1]])
    grad_weight_ih, grad_weight_hh = (
        torch.zeros_like(weight_ih),
        torch.zeros_like(weight_hh),
    )
    # δ_(t+1) W_hh, zero after the last step
    from_the_future = torch.zeros_like(h0)
    for t in reversed(range(len(output))):
        g = grad_output[t] + from_the_future  # Eq. (3.2), (B, H)
        # Eq. (3.3), tanh'(a_t) = 1 - h_t²
        delta = g * (1 - output[t] ** 2)
        # Eq. (3.4), (H, B) @ (B, H)
        grad_weight_hh += delta.T @ previous[t]
        grad_weight_ih += delta.T @ x[t]  # (H, B) @ (B, I)
        # the share of ∂L/∂h_(t-1) that comes via h_t
        from_the_future = delta @ weight_hh
    return grad_weight_ih, grad_weight_hh, from_the_future


generator = seed_everything(0)
T, B, I, H = 20, 3, 4, 8  # the dimension names of the module
x = torch.randn(T, B, I, generator=generator)
h0 = torch.randn(B, H, generator=generator)
weight_ih = torch.randn(H, I, generator=generator) / 2
weight_hh = torch.randn(H, H, generator=generator) / math.sqrt(H)
# ∂L_t/∂h_t, from some loss
grad_output = torch.randn(T, B, H, generator=generator)

# cache: inputs and states
output, cache = elman_forward(x, h0, weight_ih, weight_hh)
by_hand = bptt_by_hand(grad_output, x, h0, output, weight_ih, weight_hh)
# a dict of every gradient
reference = elman_backward(grad_output, None, cache)

leaves = [
    t.clone().requires_grad_() for t in (weight_ih, weight_hh, h0)
]
states, _ = rnn_forward(x, leaves[2], leaves[0], leaves[1])
# the vector-Jacobian product
autograd = torch.autograd.grad(states, leaves, grad_output)

# -> keys of coursekit's dict
names = {"W_ih": "weight_ih", "W_hh": "weight_hh", "h_0": "h0"}
for (name, key), mine, auto in zip(
    names.items(), by_hand, autograd, strict=True
):
    agree = torch.allclose(mine, auto, rtol=0, atol=1e-12)
    agree_reference = torch.allclose(
        reference[key], auto, rtol=0, atol=1e-12
    )
    print(
        f"dL/d{name}: by hand == autograd: {agree}, coursekit == "
        f"autograd: {agree_reference}"
    )

# %% [markdown]
# Three things about this loop matter later.
#
# - **It needs every state.** `output` holds $h_1, \dots, h_T$: memory grows linearly with
#   $T$ (times the batch and hidden sizes). A language model trained on a book cannot
#   backpropagate through the whole book.
# - **It is sequential.** Step $t$ waits for step $t+1$, just as the forward pass waits for
#   step $t-1$: $2T$ steps that cannot run in parallel across time.
# - **The gradient travels through $W_{hh}$ once per step.** `from_the_future` is multiplied
#   by $\operatorname{diag}(f'(a_t))$ and by $W_{hh}$ at every step back. Whatever these
#   factors do to a vector, they do it again and again. That is the subject of the next
#   section.

# %% [markdown]
# ## 3.3 Vanishing and exploding gradients
#
# Unroll Eq. (3.2) for a loss at a single step $t$: the gradient that reaches an earlier
# state $h_s$ is the gradient at $h_t$ carried back through $t - s$ steps. Each step
# multiplies by the **Jacobian** ({term}`雅可比矩阵 <Jacobian matrix>`) of one state with
# respect to the one before,
#
# $$
# \frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}\big(f'(a_t)\big)\, W_{hh}
# \qquad \text{(entry } [i, j] = \partial h_{t,i} / \partial h_{t-1,j}\text{)},
# \tag{3.5}
# $$
#
# and the Jacobian between distant states is the product of the steps between them:
#
# \begin{equation*}
# \begin{aligned}
# \frac{\partial h_t}{\partial h_s}
# &= \prod_{k=s+1}^{t} \frac{\partial h_k}{\partial h_{k-1}}
# \\
# &= \operatorname{diag}\big(f'(a_t)\big) W_{hh}\;
#   \operatorname{diag}\big(f'(a_{t-1})\big) W_{hh}
# \\
# &\qquad \cdots \operatorname{diag}\big(f'(a_{s+1})\big) W_{hh}.
# \end{aligned}
# \tag{3.6}
# \end{equation*}
#
# (The notes write each factor as $W^\top \operatorname{diag}[f'(\cdot)]$: that is the same
# matrix transposed, the layout of column gradients. A matrix and its transpose have the
# same singular values, so nothing below changes.)
#
# How large can the product be? The spectral norm $\lVert A \rVert_2$, the most a matrix can
# stretch a vector, is *submultiplicative*, $\lVert AB \rVert_2 \le \lVert A \rVert_2
# \lVert B \rVert_2$ (this is the inequality the notes call Cauchy's). The spectral norm of
# $W_{hh}$ is its largest singular value $\sigma_{\max}$; that of a diagonal matrix is its
# largest entry in absolute value, at most $\gamma = \max_a |f'(a)|$, which is 1 for tanh and
# relu and $1/4$ for the logistic sigmoid. So
#
# $$
# \Big\lVert \frac{\partial h_t}{\partial h_s} \Big\rVert_2
# \le \prod_{k=s+1}^{t} \big\lVert \operatorname{diag}\big(f'(a_k)\big) \big\rVert_2
#     \,\lVert W_{hh} \rVert_2
# \le (\sigma_{\max}\, \gamma)^{t-s}.
# \tag{3.7}
# $$
#
# If $\sigma_{\max}\gamma < 1$, the gradient from $t$ back to $s$ shrinks at least
# geometrically in the distance: **{term}`vanishing gradients <梯度消失>`** (梯度消失; the
# notes also say 梯度弥散) {cite}`ch3-bengio1994learning`. If $\sigma_{\max}\gamma > 1$ the
# bound allows geometric growth, **{term}`exploding gradients <梯度爆炸>`** (梯度爆炸)
# {cite}`ch3-pascanu2013difficulty`. Both come from the same place: one matrix, shared across
# time, multiplied into the gradient once per step. A feed-forward network of the same
# depth has a different matrix in every layer, which can (and, with good initialisation,
# does) keep the products near 1; an RNN has no such freedom.
#
# ### Singular value, not eigenvalue
#
# Note 000 says that $\sigma_{\max}$ is the largest *eigenvalue* of $W$. For the bound it
# must be the largest **singular value**, the {term}`spectral norm <谱范数>` (谱范数). The
# spectral norm is never smaller than the largest $|\lambda|$, and the two are equal for
# every normal matrix ($W W^\top = W^\top W$: symmetric, orthogonal, a scaled rotation).
# Normality is sufficient, not necessary: the $3 \times 3$ block-diagonal matrix
# $\operatorname{diag}\big(2, \left(\begin{smallmatrix} 0 & 1 \\ 0 & 0 \end{smallmatrix}\right)\big)$
# is not normal, yet both numbers are 2. For a non-normal matrix, though, they can differ
# by any factor. The eigenvalues decide only the *eventual* rate: $\lVert W^d \rVert^{1/d}$
# tends to the largest $|\lambda|$, the {term}`spectral radius <谱半径>` (谱半径), as
# $d \to \infty$. Over a finite distance a non-normal matrix can stretch far more. Two small examples, with the gradient norm of a
# linear RNN ($f' = 1$, so $\partial h_t / \partial h_s = W^{t-s}$):

# %%
examples = {
    "[[0, 10], [0, 0]]": torch.tensor([[0.0, 10.0], [0.0, 0.0]]),
    "[[0.9, 3], [0, 0.9]]": torch.tensor([[0.9, 3.0], [0.0, 0.9]]),
}
distances = [1, 2, 5, 10, 20, 50, 100]
print(f"{'W':22s} {'max |eig|':>9s} {'sigma_max':>9s}")
norm_rows = []
for name, w in examples.items():
    radius = torch.linalg.eigvals(w).abs().max().item()
    sigma_max = torch.linalg.matrix_norm(w, ord=2).item()
    print(f"{name:22s} {radius:9.2f} {sigma_max:9.2f}")
    norms = [
        torch.linalg.matrix_norm(torch.linalg.matrix_power(w, d), ord=2)
        for d in distances
    ]
    norm_rows.append(
        f"{name:22s}" + "".join(f"{n:7.3g}" for n in norms)
    )
print(
    f"\n{'||W^d||_2 for d =':22s}"
    + "".join(f"{d:7d}" for d in distances)
)
print(*norm_rows, sep="\n")

# %% [markdown]
# The first matrix has only the eigenvalue 0, yet one step multiplies a gradient by 10. The
# second has both eigenvalues at 0.9, which "should" vanish, yet the gradient grows
# elevenfold over ten steps before the eigenvalues win. The bound with $\sigma_{\max}$ holds
# in both cases, at every distance; a bound with the spectral radius would be false.
#
# ### The bound, measured
#
# Now the real thing: a tanh RNN with 32 units, whose $W_{hh}$ is a random orthogonal matrix
# (all singular values 1) times a scale, so that $\sigma_{\max}\gamma$ is exactly 0.8, 1 or
# 1.25. It reads 60 steps from $h_0 = 0$, and `coursekit.jacobian_norms` multiplies the
# Jacobians of Eq. (3.5) back from the last step: each solid curve is
# $\lVert \partial h_T / \partial h_{T-d} \rVert_2$ against the distance $d = t - s$, each
# dashed line its bound $(\sigma_{\max}\gamma)^d$. The three panels differ only in the
# input: none at all (the state stays at 0, where $\tanh' = 1$), a weak one, and a strong
# one that drives the units into saturation.

# %%
H, T = 32, 60
generator = seed_everything(0)
# singular values all 1
orthogonal, _ = torch.linalg.qr(torch.randn(H, H, generator=generator))
weight_ih = torch.randn(H, 4, generator=generator) / 2
# one sequence, (T, B=1, I=4)
inputs = torch.randn(T, 1, 4, generator=generator)
gamma = DERIVATIVE_BOUND["tanh"]
distance = torch.arange(1, T + 1)
panels = {
    0.0: "no input: $h_t = 0$, $\\tanh' = 1$",
    0.1: "weak input",
    1.0: "strong input",
}
colors = {0.8: "tab:blue", 1.0: "tab:gray", 1.25: "tab:red"}

fig, axes = plt.subplots(
    3, 1, figsize=(7, 10), sharex=True, sharey=True
)
measured = {}
for ax, (input_scale, title) in zip(axes, panels.items(), strict=True):
    for sigma, color in colors.items():
        # sigma_max(W_hh) = sigma exactly
        weight_hh = sigma * orthogonal
        output, cache = elman_forward(
            input_scale * inputs,
            torch.zeros(1, H),
            weight_ih,
            weight_hh,
        )
        # (T,): d = 1 .. T
        norms = jacobian_norms(step_jacobians(output, cache))[:, 0]
        measured[input_scale, sigma] = norms
        label = f"$\\sigma_{{\\max}}\\gamma = {sigma * gamma:g}$"
        ax.semilogy(
            distance,
            norms,
            color=color,
            lw=4,
            alpha=0.5,
            label=label + ", measured",
        )
        bound = spectral_bound(weight_hh, gamma, T)
        ax.semilogy(
            distance,
            bound,
            "--",
            color=color,
            lw=1,
            label=label + ", bound (3.7)",
        )
    ax.set(
        title=title,
        ylabel=r"$\|\partial h_t / \partial h_s\|_2$ (log scale)",
    )
axes[-1].set_xlabel("distance $t - s$ (steps)")
axes[0].legend(fontsize=9, loc="lower left", ncol=2)
fig.suptitle(
    "Gradient norm between two states:\n"
    "measured (solid) and the bound (dashed)"
)
fig.tight_layout()
plt.show()

print(
    "||dh_T/dh_(T-60)||_2 for sigma_max*gamma = 0.8, 1, 1.25\n"
    "(the bounds: 1.5e-06, 1, 6.5e+05)"
)
for input_scale, title in panels.items():
    norms = [
        f"{measured[input_scale, sigma][-1]:.1e}" for sigma in colors
    ]
    print(f"  {title.split(':')[0]:12s}", norms)

# %% [markdown]
# What to read off the figure:
#
# - **Below 1, the gradient vanishes, and the bound says it must.** With
#   $\sigma_{\max}\gamma = 0.8$ every measured curve lies on the bound or below it: sixty
#   steps back, the gradient is at most $0.8^{60} \approx 1.5 \times 10^{-6}$ of what it
#   was. Without input and with weak input the curves are (nearly) straight lines on the
#   log scale, a factor of about 0.8 per step; with strong input the curve is steeper and uneven, since each
#   step multiplies by its own $\operatorname{diag}(f'(a_k))$, smaller where the units
#   saturate more. Nothing the network does can lift the curve above the bound; it can only
#   push it lower.
# - **The bound is attained.** With no input the state stays at 0, every $f'(a_t)$ is 1, and
#   the network is linear: the product of Eq. (3.6) is $W_{hh}^{t-s}$, whose norm for a
#   scaled orthogonal matrix is exactly $\sigma^{t-s}$. The solid curves lie on their bounds,
#   and with $\sigma_{\max}\gamma = 1.25$ the gradient 60 steps back is $6.5 \times 10^5$
#   times the gradient at the end: it **explodes**.
# - **Saturation pulls everything down.** With input, the units leave 0 and $|f'| < 1$; with
#   strong input they sit where $\tanh$ is flat, $|f'| \ll 1$, and even
#   $\sigma_{\max}\gamma = 1.25$ vanishes. (With weak input, $\sigma_{\max}\gamma = 1.25$
#   still grows, twentyfold over 60 steps: the unstable state grows until saturation
#   stops it.) The bound is a worst case over all inputs; the trained char-RNN of §2.8
#   lived in the saturated regime. Exploding gradients are therefore *intermittent*: they
#   appear when the state passes through the linear region of the units, and a single such
#   step can throw training off (chapter 5).
# - **At exactly 1** the bound is flat, and any saturation makes the gradient decay. No
#   setting of a plain RNN carries gradients over long distances reliably; the LSTM of
#   chapter 4 changes the architecture so that a path whose Jacobian is close to the
#   identity exists.
#
# Vanishing does not mean that $W_{hh}$ gets no gradient. It means the gradient is made of
# *short-range* contributions only, so the network learns short-range structure and never
# hears about long-range structure (note 003: 梯度弥散并不意味着 $W$ 无法获得梯度，而是无法获得
# 长距离单词传过来的梯度).

# %% [markdown]
# ## 3.4 Truncated BPTT
#
# Full BPTT on a stream of $N$ steps waits until the end, stores $N$ states and backpropagates
# through all of them. For a language model whose "sequence" is a whole corpus, that is
# impossible, and §3.3 says most of that work would be wasted anyway: contributions from far
# back vanish, or they explode and do harm. The standard remedy is
# {term}`truncated BPTT <截断时间反向传播>` (截断时间反向传播)
# {cite}`ch3-williams1990efficient,ch3-sutskever2013training`. In its general form,
# BPTT($k_1$, $k_2$) carries the hidden state forward along the whole stream but, every
# $k_1$ steps, takes a gradient step on the losses of those $k_1$ steps, backpropagating
# through the last $k_2 \ge k_1$ steps only:
#
# $$
# \widehat{\nabla}_j = \sum_{t = j k_1 + 1}^{(j+1) k_1}
# \frac{\partial L_t}{\partial \theta}\bigg|_{h_{(j+1) k_1 - k_2}\ \text{held constant}},
# \qquad j = 0, 1, 2, \dots
# \tag{3.8}
# $$
#
# "Held constant" is `h.detach()` in torch: the state at the start of the window is the true
# state of the stream (the forward pass never stops), but no gradient flows into it. With
# $k_1 = k_2$ the windows are disjoint, the common choice in language modelling: split the
# stream into chunks of $k$ steps and backpropagate within each. With $k_1 < k_2$ the
# windows overlap, so even the first loss of a window gets $k_2 - k_1 + 1$ steps of
# history. The picture, for $k_1 = 3$ and $k_2 = 5$:

# %% tags=["hide-input"]
draw_truncated_bptt(k1=3, k2=5, steps=12)
plt.show()

# %% [markdown]
# `coursekit.stream_train` runs this schedule on a whole stream (it calls
# `truncated_bptt_step` once per update), and
# `coursekit.truncated_bptt.truncated_bptt_gradients` computes the same gradients as a pure
# function, with `elman_backward` on each window: the exercise asks you to write that one.
#
# **What truncation costs.** A gradient that is cut after $k_2$ steps cannot teach the
# network a dependency longer than $k_2$ steps: nothing in the gradient links the loss to
# the input that would explain it. A task makes this concrete. The input is a stream of
# random bits $\pm 1$; the target at step $t$ is the input of $d = 6$ steps earlier,
# $y_t = x_{t-6}$. To solve it the network must hold the last six bits in its state. We
# train the same small Elman network (16 tanh units) on the same stream of 3 000 steps (16
# streams in a batch) with BPTT(4, 4), whose windows are too short, and with BPTT(4, 8),
# whose windows are long enough, and score each on fresh bits with a plain forward pass.
# Whether a network learns such a task depends on its initial weights and on the stream it
# happens to see, so one run proves little: the experiment,
# `tools/experiments/bptt_delay.py`, trains every schedule from five seeds (each seed draws
# the initial weights, the training stream and, in §3.5, the window lengths) and writes a
# log that this chapter reads. The task and the score:
#
# ```{literalinclude} ../tools/experiments/bptt_delay.py
# :pyobject: delay_task
# ```
#
# ```{literalinclude} ../tools/experiments/bptt_delay.py
# :pyobject: test_error
# ```
#
# and each fixed schedule is one call of `stream_train(model, optimizer, x, y, k1, k2,
# F.mse_loss)` on a fresh `ElmanRNN(1, 16, 1)` trained with Adam at a learning rate of 0.01.

# %%
delay_log = json.loads(Path("data/bptt_delay.json").read_text())
DELAY = delay_log["config"]["delay"]
errors = {  # schedule -> test error of each seed
    schedule: torch.tensor(
        [
            run["schedules"][schedule]["test_error"]
            for run in delay_log["runs"]
        ]
    )
    for schedule in delay_log["runs"][0]["schedules"]
}
cost = {
    "BPTT(4, 4)": 1,
    "BPTT(4, 8)": 2,
    "random, mean 4": 1,
}  # steps backpropagated per step


def spread(values):
    low, high = values.min(), values.max()
    return f"{values.mean():.4f} (seeds: {low:.4f} to {high:.4f})"


for schedule in ("BPTT(4, 4)", "BPTT(4, 8)"):
    print(
        f"{schedule}: test error {spread(errors[schedule])}, "
        f"cost {cost[schedule]}"
    )
# the claims of the text, on every seed: predicting 0 scores 1
assert (errors["BPTT(4, 4)"] > 0.95).all() and (
    errors["BPTT(4, 8)"] < 0.01
).all()

# %% [markdown]
# On every seed BPTT(4, 4) learns nothing (an error of 1 is what predicting 0 scores): in a
# window of four steps, no loss is ever connected to the input six steps before it. On every
# seed BPTT(4, 8) solves the task, at twice the cost: every step of the stream is
# backpropagated through twice, once in each of two overlapping windows. Not every loss of a
# BPTT(4, 8) window can learn the dependency, though. The first loss of a window has
# $k_2 - k_1 + 1 = 5$ steps of history and the last one 8; linking $y_t$ to $x_{t-6}$ takes a
# window that holds step $t - 6$ as well as step $t$, 7 steps, so only the last two losses of
# each window carry the signal, and that is enough. The learning curves are in the figure of
# §3.5.
#
# ## 3.5 Randomised truncation
#
# A fixed window draws a hard line: dependencies shorter than $k_2$ can be learned, longer
# ones cannot. {term}`Randomised truncation <随机截断>` (随机截断) blurs it: cut the stream
# into windows of *random* length $L$. The natural law for $L$ is memoryless: walking back
# from a loss, stop at each further step with probability $\pi$. Then $L$ is geometric,
#
# \begin{equation*}
# \begin{aligned}
# P(L = k) &= \pi (1 - \pi)^{k-1}, \quad k = 1, 2, \dots,
# \\
# \mathbb{E}[L] &= \frac{1}{\pi}, \qquad \operatorname{Var}[L] = \frac{1 - \pi}{\pi^2},
# \\
# \mathbb{E}[\min(L, M)] &= \frac{1 - (1 - \pi)^M}{\pi},
# \end{aligned}
# \tag{3.9}
# \end{equation*}
#
# the last for lengths capped at $M$ to bound memory. **The expected-length argument:**
# with $\pi = 1/k$ the mean window is $k$ steps, so randomised truncation costs on average
# what BPTT($k$, $k$) costs, the same memory and the same number of steps per update. But
# where a fixed window of $k$ steps never reaches $d \ge k$ steps back (its last loss sees
# $k - 1$ earlier steps), a random window reaches $d$ steps back when it is at least $d + 1$
# steps long, with probability $P(L \ge d + 1) = (1 - \pi)^{d}$: rarely, yet every
# dependency gets *some* gradient. (Tallec and Ollivier {cite}`ch3-tallec2017unbiasing` go
# one step further and multiply the gradient that reached $k$ steps back by
# $1 / P(L \ge k + 1)$, which makes the truncated gradient an unbiased estimate of the full
# one, at the price of variance; `coursekit` draws the lengths and leaves that reweighting
# out.)
#
# `coursekit.random_truncation_lengths` draws the lengths from a generator. Their mean and
# tail agree with Eq. (3.9):

# %%
mean_length, cap = 4, 6
lengths = random_truncation_lengths(
    mean_length, 20_000, torch.Generator().manual_seed(0)
)
capped = random_truncation_lengths(
    mean_length, 20_000, torch.Generator().manual_seed(1), cap
)
pi = 1 / mean_length
print(
    f"mean length {lengths.double().mean():.2f} "
    f"(Eq. (3.9): {mean_length})"
)
print(
    f"P(L >= {DELAY + 1}) = "
    f"{(lengths >= DELAY + 1).double().mean():.3f} "
    f"(Eq. (3.9): {(1 - pi) ** DELAY:.3f})"
)
print(
    f"capped at {cap}: mean {capped.double().mean():.2f} "
    f"(Eq. (3.9): {expected_truncation_length(mean_length, cap):.2f})"
)

# %% [markdown]
# About one window in six is long enough (seven steps or more) to link its last loss with
# the input six steps before it, as the delay task needs. Is that enough to learn
# the task? We train the same network on the same streams, now in consecutive windows of
# random length with mean 4 (each window is one update of `truncated_bptt_step` with
# $k_1 = k_2 = L$), the same average cost as BPTT(4, 4):
#
# ```{literalinclude} ../tools/experiments/bptt_delay.py
# :pyobject: train_random_windows
# ```

# %%
print(
    "random, mean 4: test error",
    spread(errors["random, mean 4"]) + ", cost 1",
)
assert (errors["random, mean 4"] < 0.01).all()


def smoothed_curve(schedule_log):
    """(stream position, mean loss of the 50 updates before it),
    every 10 updates."""
    loss, position = (
        torch.tensor(schedule_log["loss"]),
        torch.tensor(schedule_log["position"]),
    )
    smooth = loss.unfold(0, 50, 10).mean(
        1
    )  # mean of 50 updates, every 10 updates
    return position[49::10][: len(smooth)], smooth


fig, ax = plt.subplots(figsize=(7, 4))
colors = {
    "BPTT(4, 4)": "tab:blue",
    "BPTT(4, 8)": "tab:orange",
    "random, mean 4": "tab:green",
}
first_below = {schedule: [] for schedule in colors}  # per seed
for run in delay_log["runs"]:
    for schedule, color in colors.items():
        position, smooth = smoothed_curve(run["schedules"][schedule])
        below = (smooth < 0.5).nonzero()
        first_below[schedule].append(
            int(position[below[0]]) if len(below) else None
        )
        mean_error = errors[schedule].mean()
        label = f"{schedule} (mean test error {mean_error:.2g})"
        label = label if run["seed"] == 0 else None
        ax.plot(
            position, smooth, color=color, lw=1, alpha=0.8, label=label
        )
ax.axhline(1.0, color="gray", linestyle=":", label="predicting 0")
ax.set(
    xlabel="position in the training stream (steps)",
    ylabel="training loss (MSE, mean of 50 updates)",
    title=f"Learning $y_t = x_{{t-{DELAY}}}$, five seeds each",
    ylim=(0, 1.3),
)
ax.legend(fontsize=9)
plt.show()
print("stream position where the loss first falls below 0.5, per seed:")
for schedule, positions in first_below.items():
    print(f"  {schedule:15s}", positions)
assert all(
    r > f
    for r, f in zip(
        first_below["random, mean 4"],
        first_below["BPTT(4, 8)"],
        strict=True,
    )
)

# %% [markdown]
# Random windows with the cost of BPTT(4, 4) learn what BPTT(4, 4) cannot, on every seed.
# On every seed they also learn it later than BPTT(4, 8): their loss falls below 0.5 after
# 500 to 770 steps of the stream rather than 280 to 400, and reaches zero after about 2 000
# steps rather than 800. On the way down it is noisier and less regular from seed to seed,
# because each update sees a different amount of the past and only the rare long window
# carries the signal.
# This is the honest summary of randomised truncation: it trades the hard horizon of a fixed
# window for a soft one, at the same average cost, with noisier gradients. The notes report
# that random BPTT does *worse* than fixed truncation in practice (由于木桶效应); Zhang et
# al. {cite}`ch3-zhang2023dive` (§9.7) find no advantage on a language model. Both are fair
# findings for tasks whose dependencies are mostly shorter than the window, where the extra
# variance buys nothing; our task was built so that the one dependency is longer than the
# window.

# %% [markdown]
# ## 3.6 What goes wrong
#
# - **Vanishing gradients are not solved by truncation; they are given up on.** Note 001
#   lists truncated BPTT as a cure for both vanishing and exploding gradients (分段 BPTT 可以
#   解决梯度消失/爆炸现象). For explosion this is half true: a product of at most $k_2$
#   Jacobians is bounded by $(\sigma_{\max}\gamma)^{k_2}$, a finite number. For vanishing it
#   is false: truncation *discards* the long-range contributions that were vanishing, so the
#   network still cannot learn long-range structure, now by construction (§3.4). The cure
#   for vanishing is architectural: the LSTM and GRU of chapter 4.
# - **Explosion is intermittent and truncation does not prevent it.** $(1.25)^{50}$ is
#   already $7 \times 10^4$. A window of 50 steps that passes through the linear region of
#   the units can produce a gradient thousands of times larger than usual, and one such
#   step of gradient descent undoes many good ones. Chapter 5 clips it.
# - **The truncated gradient is biased.** It is not the gradient of any loss the model is
#   trained on: the state at the start of each window depends on the weights, but the
#   gradient pretends it does not. In practice this works, but it is why a model trained
#   with $k_2 = 64$ can do worse on text with structure 100 characters long than its
#   architecture allows.
# - **Overlapping windows and changing weights.** With $k_1 < k_2$ the steps a window
#   shares with the previous one were computed with weights that have since changed.
#   Williams and Peng keep the stored states; `coursekit` recomputes them with the current
#   weights. The two agree while the weights stand still, which is how the tests check it.
# - **Memory still grows with $k_2$.** BPTT stores $k_2 \times B \times H$ numbers per layer;
#   a long window on a big model runs out of memory before it runs out of patience.

# %% [markdown]
# ## 3.7 Quiz
#
# The first question is the single-choice question of the lecture notes (in Chinese, as set,
# with a translation); the others are new.
#
# **Question 1.** 以下描述中，错误的是？ (Which statement is *wrong*?)
#
# - A. BPTT 过程中，可能会发生梯度消失或者梯度爆炸。 (Gradients can vanish or explode
#   during BPTT.)
# - B. RNN 不同层的参数共享是导致训练困难的原因。 (Sharing parameters across the *layers*
#   of an RNN is what makes it hard to train.)
# - C. Truncated BPTT 降低了 RNN 的长序建模能力。 (Truncated BPTT reduces an RNN's ability
#   to model long sequences.)
# - D. RNN 训练困难与 CNN 训练困难的原因不尽相同。 (RNNs and CNNs are hard to train for not
#   entirely the same reasons.)
#
# :::{dropdown} Answer
# **B.** The parameters are shared across *time steps*, not across layers (each layer of a
# stacked RNN has its own weights, §2.6), and it is the sharing across time that puts the
# same $W_{hh}$ into the product of Eq. (3.6) once per step. A is §3.3. C is true: no
# gradient connects a loss with an input more than $k_2$ steps earlier, and §3.4 showed a
# task that BPTT(4, 4) cannot learn. D is true: a deep CNN has a different matrix in every
# layer and can be fixed with initialisation, normalisation and residual connections; an
# RNN's difficulty comes from repeating one matrix (the notes add that the residual idea
# itself descends from the LSTM's cell, chapter 4).
# :::
#
# **Question 2.** A linear RNN ($f(a) = a$) has
# $W_{hh} = \begin{pmatrix} 0.5 & 4 \\ 0 & 0.5 \end{pmatrix}$. Which statement is right?
#
# - A. Both eigenvalues are 0.5, so $\lVert \partial h_t / \partial h_{t-1} \rVert_2 \le 0.5$.
# - B. $\lVert \partial h_t / \partial h_{t-1} \rVert_2$ is $\sigma_{\max}(W_{hh})$, about
#   4.1, although the gradient eventually vanishes over long distances.
# - C. The gradient explodes, because $\sigma_{\max} > 1$.
# - D. Eq. (3.7) does not apply, because the matrix is not symmetric.
#
# :::{dropdown} Answer
# **B.** For a linear RNN the one-step Jacobian is $W_{hh}$ itself (Eq. (3.5) with $f' = 1$),
# whose spectral norm is its largest singular value, $\approx 4.06$. The eigenvalues set
# the eventual rate: $\lVert W^d \rVert^{1/d} \to 0.5$, so over long distances the gradient
# does vanish (A confuses the two). C reads the bound as an equality: $\sigma_{\max} > 1$
# *allows* growth, but here the norm stays near 4 for two steps and then decays
# ($\lVert W^5 \rVert_2 \approx 1.25$, $\lVert W^{10} \rVert_2 \approx 0.08$). D is false:
# Eq. (3.7) holds for every matrix; it only needs the spectral norm to be submultiplicative.
# :::
#
# **Question 3.** A language model must learn that a closing quotation mark follows an
# opening one up to 30 characters earlier. Which schedule can learn this, at the lowest cost
# in steps backpropagated per character?
#
# - A. BPTT(30, 30)
# - B. BPTT(1, 32)
# - C. BPTT(8, 40)
# - D. BPTT(32, 32)
#
# :::{dropdown} Answer
# **D.** A loss is linked with an input $d$ steps earlier only if its window reaches that far
# back: the window must hold both steps, $d + 1$ steps in all. In BPTT($k_1$, $k_2$) the last
# loss of a window reaches $k_2 - 1$ steps back and the first only $k_2 - k_1$. A cannot learn
# the longest pairs at all: no loss of a 30-step window reaches 30 steps back. B, C and D all
# can, and §3.4 shows that it is enough for *some* losses to reach: BPTT(4, 8) learned a
# delay of 6 on every seed although only the last two losses of each window reach 6 steps
# back. In D a closing mark $d$ steps after its opening one is linked to it whenever it falls
# at position $d + 1$ or later of its 32-step window, which happens for $(32 - d)/32$ of them,
# at a cost of one step backpropagated per character. C links every pair ($40 - 8 = 32 \ge
# 30$) at a cost of $40 / 8 = 5$, and B at a cost of 32. D is the cheapest; the price is
# fewer training signals for the long pairs, so it learns them more slowly, as the rare long
# windows of §3.5 did.
# :::
#
# **Question 4.** Randomised truncation draws window lengths with $P(L = k) = \pi(1-\pi)^{k-1}$
# and $\pi = 1/10$. What fraction of windows reach at least 30 steps back, and what does one
# update cost on average?
#
# :::{dropdown} Answer
# A window reaches 30 steps back when it has at least 31 steps (its last loss and the 30
# before it): $P(L \ge 31) = (1 - \pi)^{30} = 0.9^{30} \approx 0.042$, about one window in
# 24 (`random_truncation_lengths(10, ...)` gives the same fraction). The mean length is
# $1/\pi = 10$ steps, so the cost is that of BPTT(10, 10), Eq. (3.9). If the lengths are
# capped at $M = 50$ (to bound memory), the mean drops slightly, to
# $(1 - 0.9^{50}) \cdot 10 \approx 9.95$.
# :::

# %% [markdown]
# ## 3.8 What to try
#
# - **relu.** Redo the figure of §3.3 with `nonlinearity="relu"` (and a random $h_0$: relu
#   has $f'(0) = 0$). Which units does the diagonal of Eq. (3.5) switch off, and what does
#   that do to the curves?
# - **Non-normal weights.** Replace the orthogonal $W_{hh}$ by
#   $\sigma \cdot$ (an upper-triangular matrix with 0.9 on the diagonal). Find a $\sigma$ for
#   which the eigenvalues promise vanishing but the measured curve first grows.
# - **Where the gradient comes from.** For a loss at the last step only, plot
#   $\lVert \partial L / \partial x_s \rVert$ (the `"x"` entry of `elman_backward`) against
#   $T - s$. Which inputs does the gradient actually "see"?
# - **The delay and the window.** Train the delay task for $d = 2, 4, 6, 8, 10$ with
#   BPTT(4, 8) and with random windows of mean 4. Plot the test error against $d$.
# - **Tallec and Ollivier's reweighting.** Multiply the gradient that reaches $k$ steps back
#   by $1 / P(L \ge k + 1) = (1 - \pi)^{-k}$ (hint: scale `grad_output` in
#   `truncated_bptt_gradients`' loop). Does the delay task train faster? Is the loss
#   noisier?
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :keyprefix: ch3-
# ```
#
# ## Exercise
#
# In the exercise you write `elman_backward` (BPTT by hand, Eqs. (3.2)–(3.4)) and
# `truncated_bptt_gradients` (the gradients of BPTT($k_1$, $k_2$), Eq. (3.8)); its tests
# compare your functions with `coursekit`'s on random inputs.
# {download}`Download the exercise notebook <../exercises/03_backpropagation_through_time/03_backpropagation_through_time.ipynb>`.
