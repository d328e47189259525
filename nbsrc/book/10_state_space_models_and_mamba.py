# %% [markdown]
# <!-- DRAFT, not yet in the book: the sections marked TODO(timings) and TODO(experiment)
# wait for benchmarks/scan.py --json and the two experiments. When they are in, move this
# file to nbsrc/book/, merge 10_glossary.md and 10_references.bib into book/, and add the
# chapter to _toc.yml. -->
#
# # 10. State-space models and Mamba · 状态空间模型与 Mamba
#
# The recurrent networks of chapters 2–4 update a state with a nonlinearity at every step,
# $h_t = \tanh(W h_{t-1} + U x_t)$. That makes them expressive and slow to train: step $t$
# cannot start before step $t-1$ has finished, and the gradient that goes back through the
# steps is a product of Jacobians that shrinks or blows up (chapter 3). Attention
# (chapter 9) trains in parallel over the positions, but compares every position with every
# other, at a cost quadratic in the length, and a model that generates text keeps a cache
# that grows with everything it has read.
#
# A {term}`state-space model <状态空间模型>` (状态空间模型, SSM) keeps the recurrence and
# drops the nonlinearity inside it. Its state obeys a *linear* differential equation,
# borrowed from control theory and signal processing, discretised with a step $\Delta$;
# nonlinearities go between layers, not between steps. A linear recurrence whose matrices do
# not change with time, a {term}`linear time-invariant <线性时不变>` (线性时不变, LTI) one,
# is also a convolution, and a convolution over a whole training sequence can be computed at
# once, with the FFT. One model, two algorithms: the convolution for training, the
# recurrence (one state, constant memory) for generation. S4 {cite}`ch10-gu2022efficiently`
# made this work on very long sequences, with an initialisation of the state matrix from the
# HiPPO theory of online function approximation {cite}`ch10-gu2020hippo`; it was the first
# model to do better than chance on the Path-X task of the Long Range Arena
# {cite}`ch10-tay2021long`, sequences of 16 384 pixels. S4D
# {cite}`ch10-gu2022parameterization` showed that a diagonal state matrix, suitably
# initialised, does about as well.
#
# What an LTI model cannot do is treat its inputs differently by what they *are*: its kernel
# weighs an input by how long ago it came, whatever it was. Mamba
# {cite}`ch10-gu2023mamba` makes the step $\Delta$ and the input and output matrices depend
# on the input, a {term}`selective state-space model <选择性状态空间模型>`
# (选择性状态空间模型). Then the model is no longer a convolution, and it is computed as a
# recurrence again; but a linear recurrence, even one that changes with time, can be run in
# parallel by a {term}`scan <并行扫描>` (并行扫描) over the time axis
# {cite}`ch10-blelloch1990prefix,ch10-martin2018parallelizing,ch10-smith2023simplified`.
#
# By the end of the chapter you will be able to
#
# - write the continuous SSM, Eq. (10.1), and discretise it by
#   {term}`zero-order hold <零阶保持>` (零阶保持, ZOH), the bilinear rule and Euler's,
#   Eqs. (10.2)–(10.5), and read the orders of their errors off a log-log plot;
# - compute one LTI SSM as a recurrence and as a convolution with its kernel,
#   Eqs. (10.6)–(10.9), show that the two agree, and say when each is the cheaper;
# - write Mamba's selective SSM, Eqs. (10.10)–(10.15), with the arguments of mamba-ssm's
#   reference `selective_scan_ref`, and the Mamba block around it, Eqs. (10.16)–(10.19);
# - compute the recurrence $h_t = a_t \odot h_{t-1} + b_t$ by a loop, by Blelloch's
#   parallel scan and in chunks, Eqs. (10.20)–(10.24), and say why the scan is exact;
# - say what the lecture notes get right about SSMs and Mamba, and what they get wrong.
#
# The code is in `coursekit.ssm`, `coursekit.mamba` and `coursekit.scan`; their docstrings
# cite the equation numbers used below.

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from coursekit import (
    MambaBlock,
    S4DLayer,
    causal_convolution,
    discretization_error,
    discretize,
    discretize_zoh,
    discretize_zoh_diagonal,
    fft_convolution,
    linear_scan,
    scan_blelloch,
    scan_chunked,
    scan_combine,
    scan_loop,
    selective_scan,
    selective_scan_fast,
    ssm_convolution,
    ssm_kernel,
    ssm_recurrence,
)
from coursekit.plots import setup_chapter
from coursekit.scan import _choose

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)
F64 = torch.float64  # every number printed below is float64

# %% [markdown]
# ## 10.1 The continuous state-space model
#
# A state-space model maps an input signal $u(t)$ to an output signal $y(t)$ through a state
# $x(t)$ of $n$ numbers. The state changes at a rate that is linear in the state and the
# input, and the output reads the state:
#
# $$ x'(t) = A x(t) + B u(t), \qquad y(t) = C x(t) + D u(t). \tag{10.1} $$
#
# $A$ is $n \times n$, $B$ is $n \times m$ for an input of $m$ channels, $C$ is $p \times n$
# and $D$ is $p \times m$ (a skip from input to output). In the deep-learning layers of this
# chapter $m = p = 1$: every channel of a layer is its own single-input, single-output SSM.
# Nothing in (10.1) changes with time, which makes it *time-invariant*; it is linear in
# $(x, u)$.
#
# Equation (10.1) has a closed-form solution. From a state $x(t_0)$, for any input,
#
# $$ x(t) = e^{(t - t_0) A} x(t_0) + \int_{t_0}^{t} e^{(t - s) A} B\, u(s)\, ds , $$
#
# the variation-of-constants formula: the state's own dynamics, $e^{tA}$, applied to where it
# started, plus every past input, carried forward by the same dynamics for the time since
# it arrived. From $x(t_0) = 0$ at $t_0 = -\infty$ the output is a convolution,
# $y(t) = \int_0^\infty h(\tau) u(t - \tau)\, d\tau + D u(t)$, with the
# *impulse response* $h(\tau) = C e^{\tau A} B$. The eigenvalues of $A$ decide what $h$ looks
# like: real negative ones give decaying exponentials, complex pairs damped oscillations,
# and an eigenvalue with a positive real part a response that grows without bound.
#
# **A worked example: a damped oscillator.** A mass on a spring with a damper, driven by a
# force $u$: its position $q$ obeys $q'' + 2 \zeta \omega q' + \omega^2 q = u$, with natural
# frequency $\omega$ and damping ratio $\zeta$. With the state $x = (q, q')$ this is (10.1):
#
# $$ A = \begin{pmatrix} 0 & 1 \\ -\omega^2 & -2 \zeta \omega \end{pmatrix}, \quad
#    B = \begin{pmatrix} 0 \\ 1 \end{pmatrix}, \quad
#    C = \begin{pmatrix} 1 & 0 \end{pmatrix}, \quad D = 0 . $$
#
# Its eigenvalues are $-\zeta\omega \pm i \omega_d$ with
# $\omega_d = \omega \sqrt{1 - \zeta^2}$, its impulse response is
# $h(t) = e^{-\zeta \omega t} \sin(\omega_d t) / \omega_d$, and a constant force $u = 1$
# moves it, in the end, to $q = -C A^{-1} B = 1/\omega^2$. With $\omega = 3$ and
# $\zeta = 0.15$:

# %%
omega, zeta = 3.0, 0.15  # natural frequency (rad/s), damping ratio
A = torch.tensor(
    [[0.0, 1.0], [-(omega**2), -2 * zeta * omega]], dtype=F64
)
B = torch.tensor([[0.0], [1.0]], dtype=F64)  # (n, m) = (2, 1)
C = torch.tensor([[1.0, 0.0]], dtype=F64)  # (p, n) = (1, 2)
eye = torch.eye(2, dtype=F64)
decay, omega_d = zeta * omega, omega * (1 - zeta**2) ** 0.5


def impulse_response(t):
    """h(t) = C exp(tA) B at the times t (T,) -> (T,)."""
    expm = torch.linalg.matrix_exp(t[:, None, None] * A)
    return (C @ expm @ B)[:, 0, 0]


def step_response(t):
    """y(t) for u = 1 from x(0) = 0: C A^{-1} (exp(tA) - I) B."""
    expm = torch.linalg.matrix_exp(t[:, None, None] * A)
    return (C @ torch.linalg.solve(A, (expm - eye) @ B))[:, 0, 0]


eigenvalues = torch.linalg.eigvals(A)
limit = (-C @ torch.linalg.solve(A, B)).item()
print("eigenvalues of A:", eigenvalues.numpy().round(4))
print(f"decay rate {decay:.2f}/s, omega_d = {omega_d:.4f} rad/s")
print(f"step response settles at -C A^-1 B = {limit:.4f}")
t = torch.linspace(0, 12, 1201, dtype=F64)
h = impulse_response(t)
envelope = torch.exp(-decay * t) / omega_d
assert torch.allclose(
    eigenvalues.real, torch.full((2,), -decay, dtype=F64)
)
assert torch.allclose(
    eigenvalues.imag.abs(), torch.full((2,), omega_d, dtype=F64)
)
# the closed form of h, and the limit 1 / omega^2
closed_form = envelope * torch.sin(omega_d * t)
assert torch.allclose(h, closed_form, rtol=0, atol=1e-12)
assert abs(limit - 1 / omega**2) < 1e-12
assert (
    abs(step_response(torch.tensor([40.0], dtype=F64)) - limit) < 1e-8
)

# %% [markdown]
# A computer does not see $u(t)$, only samples of it, one every $\Delta$ seconds. If the
# input is held constant over each step (the hold of §10.2), one matrix per step moves the
# state exactly from one sample time to the next: the dots below, at $\Delta = 0.25$, lie on
# the continuous step response to rounding error.

# %%
delta_dots = 0.25
a_bar, b_bar = discretize_zoh(A, B, delta_dots)
steps_dots = round(12 / delta_dots)
dots = ssm_recurrence(
    a_bar, b_bar, C, None, torch.ones(1, steps_dots, 1, dtype=F64)
)[0, :, 0]
t_dots = delta_dots * torch.arange(1, steps_dots + 1, dtype=F64)
# a held (here constant) input: exact at every sample time
assert torch.allclose(dots, step_response(t_dots), rtol=0, atol=1e-13)

fig, (ax_h, ax_s) = plt.subplots(1, 2, figsize=(7, 3))
ax_h.plot(t, h, color="tab:blue", label="h(t) = C exp(tA) B")
ax_h.plot(t, envelope, color="gray", ls=":", lw=1)
ax_h.plot(t, -envelope, color="gray", ls=":", lw=1, label="envelope")
ax_h.set(xlabel="t (s)", title="Impulse response")
ax_h.legend(fontsize=8)
ax_s.plot(t, step_response(t), color="tab:blue", label="continuous")
ax_s.plot(
    t_dots, dots, ".", color="tab:orange", ms=5, label="ZOH, Δ = 0.25"
)
ax_s.axhline(limit, color="gray", ls=":", lw=1, label="1/ω²")
ax_s.set(xlabel="t (s)", title="Step response, u = 1")
ax_s.legend(fontsize=8)
fig.suptitle(
    f"A damped oscillator, Eq. (10.1): ω = {omega:g}, ζ = {zeta:g}",
    fontsize=10,
)
fig.tight_layout()
plt.show()

# %% [markdown]
# The oscillator forgets its input at the rate $\zeta\omega = 0.45$ per second: after
# $1/0.45 \approx 2.2$ s an impulse's effect has shrunk by a factor $e$. A learnt SSM
# chooses its own $A$, and with it how long it remembers; an eigenvalue with a real part
# near zero remembers for a long time.

# %% [markdown]
# ## 10.2 Discretisation
#
# A sequence model reads tokens, not signals. To turn (10.1) into a recurrence over steps
# $k = 0, 1, \dots$, take the state at the sample times $t_k = k \Delta$ and look for
# matrices $\bar A$, $\bar B$ with
#
# $$ x_k = \bar A x_{k-1} + \bar B u_k, \qquad y_k = C x_k + D u_k. \tag{10.2} $$
#
# This step is {term}`discretisation <离散化>` (离散化). $\Delta$ is a parameter of the model:
# in a deep SSM it is learnt, and it sets how much continuous time one token stands for.
#
# **Zero-order hold.** Assume that the input is constant over each step, $u(t) = u_k$ for
# $t_{k-1} < t \le t_k$ (a zero-order hold, as a digital-to-analogue converter holds its
# last value). The variation-of-constants formula over one step then has an integral that
# can be done: $\int_0^\Delta e^{sA} ds = A^{-1} (e^{\Delta A} - I)$, and
#
# $$ \bar A = \exp(\Delta A), \qquad
#    \bar B = (\Delta A)^{-1} \big(\exp(\Delta A) - I\big)\, \Delta B. \tag{10.3} $$
#
# For a diagonal $A$ with $\lambda_1, \dots, \lambda_n$ on the diagonal (S4D's and Mamba's),
# the matrix exponential is the exponential of each entry, and (10.3) is $n$ scalar
# formulas (the $\Delta$ of $\Delta B$ cancels the one of $(\Delta A)^{-1}$):
#
# $$ \bar A_{ii} = \exp(\Delta \lambda_i), \qquad
#    \bar B_i = \frac{\exp(\Delta \lambda_i) - 1}{\lambda_i}\, B_i . \tag{10.4} $$
#
# **Two approximations.** The bilinear (Tustin) rule, which S4 uses, replaces the
# exponential by a rational approximation; forward Euler by its first two terms:
#
# \begin{equation*}
# \begin{aligned}
# \text{bilinear:} \quad \bar A &= (I - \tfrac{\Delta}{2} A)^{-1} (I + \tfrac{\Delta}{2} A),
#   & \bar B &= (I - \tfrac{\Delta}{2} A)^{-1} \Delta B, \\
# \text{Euler:} \quad \bar A &= I + \Delta A, & \bar B &= \Delta B.
# \end{aligned}\tag{10.5}
# \end{equation*}
#
# `coursekit` computes (10.3) without inverting $\Delta A$, which need not be invertible (an
# integrator, $A = 0$, is a fine SSM). Van Loan's identity {cite}`ch10-vanloan1978computing`
# reads both matrices off one matrix exponential of a larger matrix:
#
# $$ \exp \begin{pmatrix} \Delta A & \Delta B \\ 0 & 0 \end{pmatrix}
#    = \begin{pmatrix} \bar A & \bar B \\ 0 & I \end{pmatrix} . $$
#
# ```{literalinclude} ../coursekit/ssm.py
# :pyobject: discretize_zoh
# ```
#
# ```{literalinclude} ../coursekit/ssm.py
# :pyobject: discretize_zoh_diagonal
# ```
#
# The two agree with the formula of (10.3), and the diagonal one with the dense one on a
# diagonal $A$; the integrator, where (10.3) divides by zero, comes out as $\bar A = 1$,
# $\bar B = \Delta$:

# %%
delta = 0.1
a_zoh, b_zoh = discretize_zoh(A, B, delta)
closed_b = (
    torch.linalg.inv(delta * A)
    @ (torch.linalg.matrix_exp(delta * A) - eye)
    @ (delta * B)
)
print("A_bar =", a_zoh.numpy().round(6).tolist())
print("B_bar =", b_zoh.numpy().round(6).tolist())
assert torch.allclose(a_zoh, torch.linalg.matrix_exp(delta * A))
assert torch.allclose(b_zoh, closed_b, rtol=1e-12, atol=1e-12)
# the diagonal formula (10.4) against the dense ZOH on diag(lambda)
lam = -torch.tensor([0.5, 1.0, 4.0], dtype=F64)
b_diag = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
a_d, b_d = discretize_zoh_diagonal(lam, b_diag, delta)
dense_a, dense_b = discretize_zoh(
    torch.diag(lam), b_diag[:, None], delta
)
assert torch.allclose(a_d, dense_a.diagonal(), atol=1e-14)
assert torch.allclose(b_d, dense_b[:, 0], atol=1e-14)
# an integrator: (10.3) cannot be evaluated, the block exponential can
zero, one = torch.zeros(1, 1, dtype=F64), torch.ones(1, 1, dtype=F64)
a_int, b_int = discretize_zoh(zero, one, delta)
print(f"integrator: A_bar {a_int.item():.6f}, B_bar {b_int.item():g}")
assert abs(a_int.item() - 1) < 1e-15
assert abs(b_int.item() - delta) < 1e-15

# %% [markdown]
# **Stability.** A continuous SSM whose eigenvalues have negative real parts forgets; its
# discretisation should too, with every eigenvalue of $\bar A$ inside the unit circle. ZOH
# maps $\lambda$ to $e^{\Delta \lambda}$, of modulus
# $e^{\Delta \operatorname{Re} \lambda} < 1$ for every $\Delta$, and so does the bilinear
# rule. Euler maps $\lambda$ to $1 + \Delta\lambda$, which is inside the unit circle only
# for small steps: for $\lambda = -\zeta\omega \pm i\omega_d$, only if
# $\Delta < 2\zeta/\omega$, here $0.1$. At a larger step the discretised oscillator
# *grows*, though the real one decays:

# %%
print("step   spectral radius of A_bar: ZOH, bilinear, Euler")
radius = {}
for step in (0.05, 0.1, 0.15):
    radius[step] = [
        torch.linalg.eigvals(discretize(A, B, step, rule)[0])
        .abs()
        .max()
        .item()
        for rule in ("zoh", "bilinear", "euler")
    ]
    cells = "  ".join(f"{r:.4f}" for r in radius[step])
    print(f"{step:5.2f}   {cells}")
assert all(r[0] < 1 and r[1] < 1 for r in radius.values())
assert radius[0.05][2] < 1 < radius[0.15][2]
assert abs(radius[0.1][2] - 1) < 1e-12  # the edge: 2 zeta / omega

# %% [markdown]
# **Accuracy.** How far are the approximations from the exact map? Two measures: the
# largest entry of $|\bar A - \bar A_{\text{ZOH}}|$ and $|\bar B - \bar B_{\text{ZOH}}|$ after
# one step (`discretization_error`), and the error of the whole output over 4 seconds
# against the continuous solution, once for a step input (which the hold represents
# exactly) and once for $u(t) = \sin 2t$ (which it does not). The exact response to the sine
# comes from a trick: a sine is itself the output of a linear system, $s' = 2c$,
# $c' = -2s$, so the oscillator and its input together are one autonomous linear system of
# four states, solved by one matrix exponential.

# %%
local_steps = torch.logspace(-3, -1, 9, dtype=F64).tolist()
local = {
    rule: discretization_error(A, B, local_steps, rule)
    for rule in ("euler", "bilinear")
}
# the oscillator driven by s = sin(2t): state (q, q', s, c)
frequency = 2.0
driven = torch.zeros(4, 4, dtype=F64)
driven[:2, :2], driven[:2, 2:3] = A, B
driven[2, 3], driven[3, 2] = frequency, -frequency
start = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=F64)


def sine_response(t):
    """The exact q(t) under u = sin(2t), from rest."""
    expm = torch.linalg.matrix_exp(t[:, None, None] * driven)
    return (expm @ start)[:, 0]


T = 4.0
global_steps = [0.02, 0.01, 0.005, 0.0025, 0.00125]


def output_error(rule, signal, step):
    """The largest |y_k - y(k step)| over 0 < t <= T."""
    a_bar, b_bar = discretize(A, B, step, rule)
    times = step * torch.arange(1, round(T / step) + 1).to(F64)
    if signal == "step":
        u, exact = torch.ones_like(times), step_response(times)
    else:
        u, exact = torch.sin(frequency * times), sine_response(times)
    y = ssm_recurrence(a_bar, b_bar, C, None, u[None, :, None])
    return (y[0, :, 0] - exact).abs().max().item()


errors = {
    (rule, signal): [
        output_error(rule, signal, s) for s in global_steps
    ]
    for rule in ("zoh", "bilinear", "euler")
    for signal in ("step", "sine")
}


def slope(steps, values):
    """The least-squares slope of log(values) against log(steps)."""
    x, y = torch.tensor(steps).log(), torch.tensor(values).log()
    x, y = x - x.mean(), y - y.mean()
    return ((x * y).sum() / (x * x).sum()).item()


orders = {
    "one step, euler": slope(local_steps, local["euler"]),
    "one step, bilinear": slope(local_steps, local["bilinear"]),
}
for rule in ("bilinear", "euler"):
    orders[f"step input, {rule}"] = slope(
        global_steps, errors[rule, "step"]
    )
for rule in ("zoh", "bilinear", "euler"):
    orders[f"sine input, {rule}"] = slope(
        global_steps, errors[rule, "sine"]
    )
for name, order in orders.items():
    print(f"{name:22s} error ~ step^{order:.2f}")
zoh_worst = max(errors["zoh", "step"])
print("step input, ZOH     error < 1e-10 at every step (rounding)")
# Euler's one-step error is O(step^2), bilinear's O(step^3) ...
assert abs(orders["one step, euler"] - 2) < 0.1
assert abs(orders["one step, bilinear"] - 3) < 0.1
# ... so over a fixed time, O(step) and O(step^2); ZOH is exact
assert abs(orders["step input, euler"] - 1) < 0.1
assert abs(orders["step input, bilinear"] - 2) < 0.05
assert zoh_worst < 1e-10  # rounding, accumulated over 3 200 steps
# with an input the hold does not represent, all three are O(step),
# ZOH and bilinear alike, Euler about five times worse
for rule in ("zoh", "bilinear", "euler"):
    assert abs(orders[f"sine input, {rule}"] - 1) < 0.1
sine_last = {
    r: errors[r, "sine"][-1] for r in ("zoh", "bilinear", "euler")
}
assert abs(sine_last["bilinear"] / sine_last["zoh"] - 1) < 0.05
assert 4 < sine_last["euler"] / sine_last["zoh"] < 6

colors = {
    "zoh": "tab:blue",
    "bilinear": "tab:orange",
    "euler": "tab:red",
}
fig, (ax_l, ax_g) = plt.subplots(1, 2, figsize=(7, 3.4))
for rule in ("euler", "bilinear"):
    ax_l.loglog(
        local_steps, local[rule], "o-", color=colors[rule], ms=3,
        label=f"{rule} (slope {orders[f'one step, {rule}']:.2f})",
    )  # fmt: skip
ax_l.set(
    xlabel="step Δ",
    ylabel=r"largest $|\bar A - \bar A_{zoh}|$, "
    r"$|\bar B - \bar B_{zoh}|$",
    title="One step, Eqs. (10.3)–(10.5)",
)
ax_l.legend(fontsize=8)
for rule in ("zoh", "bilinear", "euler"):
    for signal, ls in (("step", "-"), ("sine", "--")):
        values = [max(e, 1e-16) for e in errors[rule, signal]]
        ax_g.loglog(
            global_steps, values, ls, marker="o", ms=3,
            color=colors[rule], label=f"{rule}, {signal}",
        )  # fmt: skip
ax_g.set(
    xlabel="step Δ",
    ylabel=r"largest $|y_k - y(k\Delta)|$, $0 < t \leq 4$",
    title="The output: step (—), sin 2t (--)",
)
ax_g.set_xticks(global_steps, [f"{s:g}" for s in global_steps])
ax_g.xaxis.set_minor_formatter(plt.NullFormatter())
ax_g.tick_params(axis="x", labelsize=7)
ax_g.legend(fontsize=7, ncol=2, loc="center right")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read off the slopes. After one step, Euler is off by $O(\Delta^2)$ and the bilinear rule
# by $O(\Delta^3)$; over a fixed stretch of time, $1/\Delta$ steps, the errors add up to
# $O(\Delta)$ and $O(\Delta^2)$: Euler is a first-order method, the bilinear rule a
# second-order one. ZOH is exact for the step input, at every $\Delta$. But for the sine,
# all three rules are first order, ZOH and the bilinear rule equally wrong (Euler about five
# times more): the error is then in the hold (the input is taken as $u_k$ over a step in
# which it changes), not in the matrices. The exactness of ZOH is exactness *for inputs
# that are held*.
#
# For a learnt model, the rules are parameterisations more than approximations: the network
# sees tokens, not samples of a signal, and it learns $\Delta$, $A$ and $B$ through whichever
# rule it uses. What matters more is that a stable $A$ stays stable at every learnt
# $\Delta$, which ZOH and the bilinear rule guarantee and Euler does not.

# %% [markdown]
# ## 10.3 Two views of one LTI SSM
#
# The discrete model (10.2) is a linear recurrence, computed by a loop over $k$; that is
# `ssm_recurrence`. Unroll it from $x_{-1} = 0$: $x_0 = \bar B u_0$,
# $x_1 = \bar A \bar B u_0 + \bar B u_1$, and in general the input $u_{k-j}$ reaches $x_k$
# through $j$ multiplications by $\bar A$. So the output is a causal convolution of the
# input with the {term}`SSM kernel <卷积核>` (卷积核)
#
# $$ K_j = C \bar A^j \bar B, \qquad j = 0, 1, \dots, L - 1, \tag{10.6} $$
#
# $$ y_k = \sum_{j=0}^{k} K_j\, u_{k-j} + D u_k . \tag{10.7} $$
#
# ```{literalinclude} ../coursekit/ssm.py
# :pyobject: ssm_kernel
# ```
#
# The two views give the same numbers, for the oscillator discretised by ZOH at
# $\Delta = 0.1$, with a skip $D = 0.5$, on random inputs of 256 steps:

# %%
torch.manual_seed(0)
a_bar, b_bar = discretize_zoh(A, B, 0.1)
D = torch.tensor([[0.5]], dtype=F64)
u = torch.randn(2, 256, 1, dtype=F64)  # (b, L, m)
by_loop = ssm_recurrence(a_bar, b_bar, C, D, u)
by_sum = ssm_convolution(a_bar, b_bar, C, D, u, fft=False)
by_fft = ssm_convolution(a_bar, b_bar, C, D, u, fft=True)
assert torch.allclose(by_sum, by_loop, rtol=0, atol=1e-12)
assert torch.allclose(by_fft, by_loop, rtol=0, atol=1e-12)
print("loop, direct sum and FFT agree to 1e-12")

# %% [markdown]
# With ZOH the kernel has a meaning of its own,
#
# $$ K_j = C e^{j\Delta A} \int_0^\Delta e^{sA} ds\, B
#    = \int_{j\Delta}^{(j+1)\Delta} h(t)\, dt : $$
#
# the continuous impulse response integrated over step $j$. So $K_j / \Delta$ is $h$ sampled
# in the middle of the step, to $O(\Delta^2)$. Euler's kernel at the same step is
# $C (I + \Delta A)^j \Delta B$; at $\Delta = 0.1$, the edge of its stability, it never
# decays:

# %%
kernel_zoh = ssm_kernel(a_bar, b_bar, C, 200)[:, 0, 0]  # (L,)
a_eu, b_eu = discretize(A, B, 0.1, "euler")
kernel_euler = ssm_kernel(a_eu, b_eu, C, 200)[:, 0, 0]
j = torch.arange(201, dtype=F64)
# the ZOH kernel is the impulse response integrated over each step:
# C A^{-1} (exp((j+1) 0.1 A) - exp(j 0.1 A)) B
antiderivative = (
    C
    @ torch.linalg.solve(
        A, torch.linalg.matrix_exp(0.1 * j[:, None, None] * A)
    )
    @ B
)[:, 0, 0]
assert torch.allclose(
    kernel_zoh, antiderivative.diff(), rtol=0, atol=1e-13
)
# Euler's kernel keeps its size; ZOH's has decayed by exp(-0.45 * 18)
late = kernel_euler[180:].abs().max() / kernel_euler[:20].abs().max()
late_zoh = kernel_zoh[180:].abs().max() / kernel_zoh[:20].abs().max()
print(f"|K| late / early: Euler {late:.3f}, ZOH {late_zoh:.1e}")
assert 0.95 < late < 1.05 and late_zoh < 1e-3

t_mid = 0.1 * (torch.arange(200, dtype=F64) + 0.5)
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.plot(t, h, color="gray", lw=1, label="h(t), continuous")
ax.plot(t_mid, kernel_zoh / 0.1, ".", ms=4, label="ZOH, K_j / Δ")
ax.plot(
    t_mid, kernel_euler / 0.1, color="tab:red", lw=1,
    label="Euler, K_j / Δ",
)  # fmt: skip
ax.set(
    xlabel="lag jΔ (s), Δ = 0.1",
    title=r"The kernel $K_j = C \bar A^j \bar B$ of Eq. (10.6)",
    xlim=(0, 12),
)
ax.legend(fontsize=8, loc="upper right")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Which view is cheaper.** For one channel of $L$ steps with an $n$-dimensional state, the
# recurrence costs $O(L n^2)$ ($O(L n)$ for a diagonal $\bar A$) in $L$ *dependent* steps: a
# loop that cannot be parallelised over time. The direct sum (10.7) needs $L(L+1)/2$
# multiply-adds, but all the outputs are independent. The fast way is the FFT: a
# convolution is a product of Fourier transforms, so
#
# $$ y = \mathcal{F}^{-1}\big(\mathcal{F}(\tilde K) \cdot \mathcal{F}(\tilde u)\big)_{0..L-1}
#    + D u, \tag{10.8} $$
#
# where $\tilde K$ and $\tilde u$ are the kernel and the input padded with zeros to length
# $2L$. Three FFTs of length $2L$ cost $O(L \log L)$, and the kernel $O(L n)$ for a diagonal
# $\bar A$ (§10.4; S4 has a fast algorithm for its structured one). That is how an LTI SSM
# trains: the whole sequence is known, so compute the kernel once and convolve in parallel.
# To *generate*, one token at a time, run the recurrence: one state of $n$ numbers per
# channel, $O(n)$ work per token for a diagonal $\bar A$, however long the text so far.
#
# The padding matters. The FFT computes a *circular* convolution: without the zeros, the
# last inputs wrap around and leak into the first outputs.
#
# ```{literalinclude} ../coursekit/ssm.py
# :pyobject: fft_convolution
# ```

# %%
L = 64
u = torch.randn(1, L, 1, dtype=F64)
kernel = ssm_kernel(a_bar, b_bar, C, L)  # (L, p, m)
direct = causal_convolution(u, kernel)
padded = fft_convolution(u, kernel)
circular = torch.fft.irfft(
    torch.fft.rfft(u[0, :, 0], n=L)
    * torch.fft.rfft(kernel[:, 0, 0], n=L),
    n=L,
)
wrapped = (circular - direct[0, :, 0]).abs()
assert torch.allclose(padded, direct, rtol=0, atol=1e-12)
assert wrapped[:4].min() > 1e-3
print("padded to 2L: equal to the direct sum to 1e-12")
off_by = wrapped[:4].numpy().round(3)
print("circular: the first 4 outputs off by", off_by)

# %% [markdown]
# ## 10.4 A diagonal SSM layer: S4D
#
# S4 {cite}`ch10-gu2022efficiently` used a structured $A$ (normal plus low-rank), initialised
# from HiPPO {cite}`ch10-gu2020hippo`, and discretised it by the bilinear rule. S4D
# {cite}`ch10-gu2022parameterization` showed that a *diagonal* $A$, discretised by ZOH with
# Eq. (10.4), does about as well with the right initialisation; one of its initialisations,
# S4D-Real, puts $\lambda_i = -(i + 1)$ on the diagonal. With a diagonal $\bar A$ the kernel
# of a channel is a sum of $n$ geometric sequences,
#
# $$ K_j = \sum_{i=1}^{n} C_i \bar B_i \bar A_{ii}^{\,j}, \tag{10.9} $$
#
# a product of the vector $C \odot \bar B$ with a Vandermonde matrix
# $(\bar A_{ii}^{\,j})_{ij}$, computed for all $j$ at once. `coursekit.S4DLayer` is $d$
# independent single-input single-output SSMs of this kind, one per channel, each with its
# own $\lambda$ (learnt, kept negative as $-\exp$ of a parameter), $B$, $C$, $D$ and step
# $\Delta_c$, initialised log-uniformly in $[10^{-3}, 10^{-1}]$: $3n + 2$ parameters a
# channel. Its forward pass is (10.9) and the FFT convolution (10.8):
#
# ```{literalinclude} ../coursekit/ssm.py
# :pyobject: S4DLayer.kernel
# ```
#
# ```{literalinclude} ../coursekit/ssm.py
# :pyobject: S4DLayer.forward
# ```
#
# On every channel it equals the recurrence of the dense ZOH (the test does the same):

# %%
torch.manual_seed(0)
layer = S4DLayer(3, 5, dtype=F64)
u = torch.randn(2, 40, 3, dtype=F64)  # (b, L, d)
with torch.no_grad():
    y = layer(u)
    lam = -torch.exp(layer.log_neg_lambda)  # (d, n)
    for c in range(3):
        a_c, b_c = discretize_zoh(
            torch.diag(lam[c]),
            layer.B[c][:, None],
            torch.exp(layer.log_dt[c]).item(),
        )
        want = ssm_recurrence(
            a_c, b_c, layer.C[c][None], layer.D[c].reshape(1, 1),
            u[..., c : c + 1],
        )  # fmt: skip
        assert torch.allclose(y[..., c : c + 1], want, atol=1e-12)
n_parameters = sum(p.numel() for p in layer.parameters())
print(f"S4DLayer(3, 5): {n_parameters} parameters = 3 (3 * 5 + 2)")
assert n_parameters == 3 * (3 * 5 + 2)

# %% [markdown]
# **$\Delta$ sets the time scale.** The slowest mode of a channel, $\lambda_1 = -1$, decays
# as $e^{-\Delta_c j}$: it has lost a factor $e$ after $1/\Delta_c$ tokens. Four channels
# with $C = 1$ and steps from $10^{-3}$ to $1$, each kernel divided by its value at lag 0:

# %%
steps_c = [1e-3, 1e-2, 1e-1, 1.0]
scales = S4DLayer(4, 8, dtype=F64)
with torch.no_grad():
    scales.log_dt.copy_(torch.tensor(steps_c, dtype=F64).log())
    scales.C.fill_(1.0)
    kernels = scales.kernel(5000)  # (d, L), Eq. (10.9)
normalised = kernels / kernels[:, :1]
# as delta -> 0, K_j / K_0 -> mean_i exp(-(i + 1) delta j): at
# j = 1 / delta every channel has the same value, mean_i exp(-i)
n_state = 8
small_delta_limit = (
    torch.exp(-torch.arange(1, n_state + 1, dtype=F64)).mean().item()
)
at_scale = [
    normalised[c, round(1 / s)].item() for c, s in enumerate(steps_c)
]
print("K_j / K_0 at j = 1 / delta:", [round(v, 4) for v in at_scale])
print(f"the limit for a small delta: {small_delta_limit:.4f}")
assert abs(at_scale[0] - small_delta_limit) < 2e-4
assert abs(at_scale[1] - small_delta_limit) < 2e-3

fig, ax = plt.subplots(figsize=(7, 2.8))
lags = torch.arange(1, 5000)
for c, s in enumerate(steps_c):
    ax.semilogx(lags, normalised[c, 1:], label=f"Δ = {s:g}")
ax.set(
    xlabel="lag j (tokens)",
    ylabel="K_j / K_0",
    title="S4D-Real kernels, Eq. (10.9): memory is 1/Δ tokens long",
)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# On a logarithmic axis of lags the kernels are one curve, shifted: a channel's memory is
# counted in units of $1/\Delta_c$ tokens. A layer whose steps span two decades has
# channels that remember 10 tokens and channels that remember 1 000, and the layer's output
# mixes them. (Where $\Delta\lambda$ is not small, a little at $\Delta = 0.1$ and much at
# $\Delta = 1$, the shape changes too.)

# %% [markdown]
# ## 10.5 Selection: Mamba's selective SSM
#
# **What an LTI model cannot do.** The output of an LTI SSM is $y = K * u$: an input's
# effect depends only on how long ago it came, through $K_j$, never on what it was. Suppose
# a sequence holds a few data tokens among many blanks, and the model must remember the
# *last data token*, however many blanks follow it. An LTI channel has one kernel for every
# position: whatever it keeps of the data at lag 20, it keeps of a blank at lag 20 too. A
# model that could change its step with its input could do better: on a blank, take a tiny
# step, $\Delta \to 0$, so that $\bar A = e^{\Delta A} \to 1$ and the input term vanishes,
# and the state passes through unchanged; on a data token, take a large step,
# $\bar A \to 0$, so that the state is overwritten by the new input.
#
# Here is that by hand, with one channel and one state ($A = -5$, $B = C = 1$): $\Delta_t = 1$
# on a data token, $10^{-5}$ on a blank; against an LTI channel with $A = -1$, $\Delta = 0.05$
# and $B = 1/\Delta$ (so that a token moves its state as much). Two sequences with the same
# four data values at different places:

# %%
length = 64
values = torch.tensor([0.8, -0.5, 1.0, -0.9], dtype=F64)
where = [torch.tensor([5, 20, 31, 44]), torch.tensor([2, 9, 13, 27])]
u = torch.zeros(2, 1, length, dtype=F64)  # (b, d, L)
for row, positions in enumerate(where):
    u[row, 0, positions] = values
one = torch.ones(1, 1, dtype=F64)  # A, B, C fixed: (d, n) = (1, 1)
lti_channel = {"A": -one, "B": one / 0.05, "C": one}
selective_channel = {"A": -5 * one, "B": one, "C": one}
steps_lti = torch.full_like(u, 0.05)
steps_sel = torch.where(u != 0, 1.0, 1e-5).to(F64)  # from the input
lti = selective_scan(u, steps_lti, **lti_channel)  # (b, d, L)
selective = selective_scan(u, steps_sel, **selective_channel)
print("last output, LTI:      ", lti[:, 0, -1].numpy().round(4))
print("last output, selective:", selective[:, 0, -1].numpy().round(4))
# the selective channel holds the last data value, wherever it was
assert torch.allclose(
    selective[:, 0, -1], values[-1].expand(2), rtol=0.015
)
# the LTI channel's answer depends on where the data were
assert (lti[0, 0, -1] - lti[1, 0, -1]).abs() > 0.05

fig, axes = plt.subplots(2, 1, figsize=(7, 4.2), sharex=True)
for row, ax in enumerate(axes):
    data = where[row]
    ax.vlines(data, 0, values, color="gray", lw=2, label="data")
    ax.plot(selective[row, 0], color="tab:blue", label="selective")
    ax.plot(lti[row, 0], color="tab:orange", label="LTI, Δ = 0.05")
    ax.axhline(0, color="gray", lw=0.5)
    ax.set(ylabel=f"sequence {row + 1}\nstate h_t")
axes[0].set_title(
    "Remember the last data token: Δ_t = 1 on data, 1e-5 on blanks"
)
axes[0].legend(fontsize=8, ncol=3, loc="lower left")
axes[1].set(xlabel="position t")
fig.tight_layout()
plt.show()

# %% [markdown]
# The selective channel jumps to each data value and holds it through the blanks, in both
# sequences; the LTI channel's state is a blurred, decaying mix of what came and when, and
# its last output depends on where the data were. A trained Mamba computes its $\Delta_t$
# from the input; here they are set by hand, to show what the mechanism can do.
#
# **The selective SSM.** In Mamba {cite}`ch10-gu2023mamba`, $\Delta$, $B$ and $C$ are
# functions of the input at each step; $A$ is not. For each batch entry, channel $c$ (of
# $d$) and state entry $i$ (of $n$), with $A$ real and diagonal (a row $A_c$ of $n$ entries
# per channel, $A = -\exp(A_{\log}) < 0$, initialised $A_{ci} = -(i+1)$ as in S4D-Real):
#
# $$ \Delta_t = \operatorname{softplus}(\delta_t + \delta_{\text{bias}}) \tag{10.10} $$
#
# $$ \bar A_t = \exp(\Delta_t A_c) \qquad \text{(ZOH, Eq. (10.4), entry by entry)}
#    \tag{10.11} $$
#
# $$ \bar B_t u_t \approx \Delta_t B_t u_t \tag{10.12} $$
#
# $$ h_t = \bar A_t \odot h_{t-1} + \Delta_t B_t u_t, \qquad h_{-1} = 0 \tag{10.13} $$
#
# $$ y_t = \langle C_t, h_t \rangle + D_c u_t \tag{10.14} $$
#
# $$ \text{out}_t = y_t \cdot \operatorname{silu}(z_t) \quad \text{(when a gate } z
#    \text{ is given)} \tag{10.15} $$
#
# $\delta_t$, $B_t$ and $C_t$ are computed from the input by the block of §10.6; (10.12) is
# discussed below. `coursekit.selective_scan` is this loop, with the arguments and the
# semantics of `selective_scan_ref` in the mamba-ssm project:
#
# ```{literalinclude} ../coursekit/mamba.py
# :pyobject: selective_scan
# ```
#
# Argument by argument, channels before time as in mamba-ssm:
#
# - `u` (b, d, L): the input of each channel; `delta` (b, d, L): the raw step $\delta_t$,
#   *before* (10.10);
# - `A` (d, n): real, one row per channel; not a function of the input;
# - `B`, `C`: (d, n) fixed in time (an LTI SSM), (b, n, L) one $B_t$ per step shared by all
#   $d$ channels (Mamba's case), or (b, g, n, L) one per step and group of $d/g$ channels;
# - `D` (d,) or `None`: the skip of (10.14); `z` (b, d, L) or `None`: the gate of (10.15);
# - `delta_bias` (d,) or `None`: added to $\delta$ *before* the softplus;
#   `delta_softplus`: whether to apply the softplus at all (without it,
#   $\Delta_t = \delta_t + \delta_{\text{bias}}$, as in the example above, where the steps
#   were given directly);
# - `return_last_state`: also return $h_{L-1}$ (b, d, n), the state a generator continues
#   from.
#
# The reference computes in float32; `coursekit`'s computes in the inputs' dtype, so that
# the checks of this chapter can be made in float64.
#
# **Why the convolution is lost.** Unroll (10.13): the input at step $s$ reaches the output
# at step $t \ge s$ with the weight
#
# $$ M_{ts} = C_t^\top \Big(\prod_{r=s+1}^{t} \bar A_r\Big) \Delta_s B_s , $$
#
# so $y = M u$ with a lower-triangular matrix $M$. For an LTI SSM, $M_{ts} = K_{t-s}$
# depends on $t - s$ only: $M$ is constant along its diagonals (a Toeplitz matrix), which is
# what makes it a convolution. When $\Delta_t$, $B_t$ and $C_t$ change with $t$, it is not,
# and there is no kernel to transform. The two channels of the example, with $M$ computed
# column by column by feeding unit impulses:

# %%
impulses = torch.eye(length, dtype=F64)[
    :, None, :
]  # (L, d, L): one per s
for name, steps_u, channel in (
    ("LTI", steps_lti, lti_channel),
    ("selective", steps_sel, selective_channel),
):
    # column s of M: the outputs for a unit impulse at step s
    steps_1 = steps_u[:1].expand(length, 1, length)
    M = selective_scan(impulses, steps_1, **channel)[:, 0].T  # (t, s)
    y = selective_scan(u[:1], steps_u[:1], **channel)[0, 0]
    assert torch.allclose(M @ u[0, 0], y, atol=1e-12)  # y = M u
    assert torch.all(M.triu(1) == 0)  # causal: lower-triangular
    spread = max(
        M.diagonal(-k).std().item() for k in range(1, length - 1)
    )
    if name == "LTI":
        assert spread < 1e-13  # Toeplitz: a convolution
        print("LTI: M is constant along its diagonals (to 1e-13)")
    else:
        assert spread > 0.1  # not a convolution
        print(
            f"selective: std along a diagonal of M up to {spread:.2f}"
        )

# %% [markdown]
# So a selective SSM is computed as a recurrence. It is still a *linear* recurrence in the
# state, elementwise over (d, n), $h_t = a_t \odot h_{t-1} + b_t$ with $a_t = \bar A_t$ and
# $b_t = \Delta_t B_t u_t$, and that is what lets it run in parallel over time (§10.7).
#
# **$\bar B \approx \Delta B$.** Equation (10.12) is not ZOH. The exact ZOH input matrix for
# a diagonal $A$ is Eq. (10.4), $\bar B_t = (e^{\Delta_t A} - 1)/A \cdot B_t$, and the
# paper's Eq. (4) writes it; but mamba-ssm's reference scan, its CUDA kernel and mambapy all
# compute $\Delta_t B_t u_t$, Euler's input term (10.5). Asked about it, Albert Gu answered
# that it makes the implementation slightly simpler without affecting empirical
# performance, and that one can think of it as a mix of ZOH for $A$ and Euler for $B$
# {cite}`ch10-gu2024discretization`. The two agree to first order: with $x = \Delta\lambda$,
# $\Delta B / \bar B_{\text{ZOH}} = x / (e^x - 1) = 1 - x/2 + O(x^2)$. Not to much more: over
# the range of $\Delta\lambda$ at Mamba's initialisation ($\Delta \in [10^{-3}, 10^{-1}]$,
# $\lambda \in \{-1, \dots, -16\}$) the ratio goes from 1.0005 to 2:

# %%
print("delta*lambda   exact factor (e^x - 1)/x   Euler / exact")
for x in (-1e-3, -1e-2, -0.1, -1.0, -1.6):
    x_t = torch.tensor(x, dtype=F64)
    exact = (torch.expm1(x_t) / x_t).item()
    print(f"{x:12g}   {exact:24.6f}   {1 / exact:13.4f}")
    # first order: Delta B / B_zoh = 1 - x/2 + O(x^2)
    assert abs(1 / exact - (1 - x / 2)) < x * x / 10
ratio = (-1.6 / torch.expm1(torch.tensor(-1.6, dtype=F64))).item()
assert 1.99 < ratio < 2.02

# %% [markdown]
# Why would it not matter? Because nothing in a learnt model asks (10.12) to be the
# discretisation of a particular continuous system: $B_t$ is itself computed from the input
# by a learnt projection, $\Delta_t$ too, and the model learns through whichever formula it
# is given. Both formulas agree when $\Delta \to 0$, both give $\bar A_t = e^{\Delta_t A}$,
# which keeps the recurrence stable at every step, and what selection needs (a small
# $\Delta_t$ to ignore a token, a large one to reset the state) both provide. Where the
# difference shows is in the theory. Gu and Dao's Theorem 1 connects selection to the gates
# of chapter 4: with $n = 1$, $A = -1$, $B = 1$ and $\Delta_t = \operatorname{softplus}(z_t)$,
# the recurrence is $h_t = (1 - g_t) h_{t-1} + g_t u_t$ with $g_t = \sigma(z_t)$, a GRU-like
# interpolation. That holds with the exact $\bar B$ (since
# $e^{-\operatorname{softplus}(z)} = 1 - \sigma(z)$), not with $\Delta B$, which gives the
# input the weight $\operatorname{softplus}(z_t)$ instead of $\sigma(z_t)$:

# %%
torch.manual_seed(1)
z = 3 * torch.randn(1, 1, 50, dtype=F64)  # (b, d, L): the raw step
x_in = torch.randn(1, 1, 50, dtype=F64)
gate, step_t = torch.sigmoid(z), F.softplus(z)
# exact ZOH, Eq. (10.4), with lambda = -1 and B = 1, through the scan
# (scan_loop wants time second: .mT turns (b, d, L) into (b, L, d))
a_t, b_t = discretize_zoh_diagonal(-1.0, 1.0, step_t)
exact_zoh = scan_loop(a_t.mT, (b_t * x_in).mT).mT
gated = scan_loop((1 - gate).mT, (gate * x_in).mT).mT
# Mamba's Delta B, Eq. (10.12): the weight softplus(z), not sigmoid(z)
mamba_like = selective_scan(
    x_in, z, -one, one, one, delta_softplus=True
)
euler_form = scan_loop((1 - gate).mT, (step_t * x_in).mT).mT
assert torch.allclose(exact_zoh, gated, atol=1e-12)  # Theorem 1
assert torch.allclose(mamba_like, euler_form, atol=1e-12)
gap = (mamba_like - gated).abs().max().item()
print(f"exact ZOH: Theorem 1's gate; Delta B: off by up to {gap:.2f}")
assert gap > 0.5

# %% [markdown]
# ## 10.6 The Mamba block
#
# The selective SSM is one part of a block. For an input $x$ of shape
# (b, L, $d_{\text{model}}$) and $d = E \cdot d_{\text{model}}$ inner channels (expansion
# $E = 2$):
#
# $$ [x', z] = x W_{\text{in}} \qquad \text{(b, L, 2d), split in two} \tag{10.16} $$
#
# $$ x' \leftarrow \operatorname{silu}\big(\operatorname{conv1d}(x')\big) \qquad
#    \text{(causal, depthwise, kernel } d_{\text{conv}}\text{)} \tag{10.17} $$
#
# $$ [\delta^{\text{low}}, B, C] = x' W_x, \qquad \delta = \delta^{\text{low}} W_{dt}
#    \qquad \text{(widths } r, n, n\text{; } \delta \text{ has } d) \tag{10.18} $$
#
# $$ \text{out} = \operatorname{SSM}(x', \delta, A, B, C, D, z, b_{dt},
#    \text{softplus})\, W_{\text{out}} \tag{10.19} $$
#
# and the residual block is $x + \operatorname{mixer}(\operatorname{RMSNorm}(x))$. The step
# goes through a low-rank bottleneck of rank $r = \lceil d_{\text{model}} / 16 \rceil$ and
# gets its bias $b_{dt}$ inside the softplus of (10.10); $B_t$ and $C_t$ are shared by all
# $d$ channels. As a picture:
#
# ```text
# x (b, L, d_model) ─────────────────────────────────┐
# │                                                  │
# RMSNorm → in_proj (10.16)                          │
# ├───────────────────────────────────┐              │
# │ x'                                │ z            │
# conv1d (causal, depthwise) → silu   │              │
# │ (10.17)                           │              │
# ├─→ x_proj, dt_proj (10.18)         │              │
# │   Δ_t, B_t, C_t                   │              │
# │   │                               │              │
# selective SSM (10.10)–(10.14)       silu           │ residual
# │                                   │              │
# └──────────────→ × (10.15) ←────────┘              │
#                  │                                 │
#                  out_proj (10.19) ───────────────→ + → out
# ```
#
# The block's shapes, recomputed step by step from a `coursekit.MambaBlock` of
# $d_{\text{model}} = 16$, $n = 4$, on a batch of 2 sequences of 13 tokens:

# %%
torch.manual_seed(0)
block = MambaBlock(16, d_state=4, d_conv=4)
mixer = block.mixer
x = torch.randn(2, 13, 16)  # (b, L, d_model)
with torch.no_grad():
    shapes = [("x", x.shape)]
    normed = block.norm(x)
    xz = mixer.in_proj(normed)  # Eq. (10.16)
    xs, gate_z = xz.chunk(2, dim=-1)
    shapes += [("in_proj(RMSNorm(x))", xz.shape), ("x', z", xs.shape)]
    conv = mixer.conv1d(xs.transpose(1, 2))
    shapes.append(("conv1d, padded", conv.shape))
    xs = F.silu(conv[..., :13])  # causal: drop the overhang, (10.17)
    shapes.append(("silu(conv1d), causal", xs.shape))
    dbc = mixer.x_proj(xs.transpose(1, 2))  # Eq. (10.18)
    r, n = mixer.dt_rank, mixer.d_state
    d_low, B_t, C_t = dbc.split([r, n, n], dim=-1)
    raw_delta = (d_low @ mixer.dt_proj.weight.T).transpose(1, 2)
    shapes += [
        ("x_proj: delta_low, B, C", dbc.shape),
        ("delta (raw)", raw_delta.shape),
    ]
    y = selective_scan(
        xs,
        raw_delta,
        -torch.exp(mixer.A_log),
        B_t.transpose(1, 2),
        C_t.transpose(1, 2),
        mixer.D,
        z=gate_z.transpose(1, 2),
        delta_bias=mixer.dt_proj.bias,
        delta_softplus=True,
    )
    shapes.append(("selective SSM, gated", y.shape))
    out = x + mixer.out_proj(y.transpose(1, 2))  # Eq. (10.19)
    shapes.append(("x + out_proj(y)", out.shape))
    assert torch.allclose(out, block(x), atol=1e-6)
for name, shape in shapes:
    print(f"{name:25s} {tuple(shape)}")

# %% [markdown]
# The step's bias is initialised so that $\Delta = \operatorname{softplus}(b_{dt})$ starts
# log-uniform in $[10^{-3}, 10^{-1}]$, $A$ at $-(1, \dots, n)$ in every channel, $D$ at 1.
# The parameters: in_proj $16 \cdot 64$, the depthwise convolution $32 \cdot 4 + 32$,
# x_proj $32 \cdot (1 + 4 + 4)$, dt_proj $1 \cdot 32 + 32$, $A_{\log}$ $32 \cdot 4$, $D$ 32,
# out_proj $32 \cdot 16$ and the norm's 16:

# %%
start_steps = F.softplus(mixer.dt_proj.bias.detach())
low, high = start_steps.min().item(), start_steps.max().item()
print(f"initial steps: {low:.4f} to {high:.4f}")
assert 1e-3 <= start_steps.min() and start_steps.max() <= 1e-1
assert torch.allclose(
    -torch.exp(mixer.A_log), -torch.arange(1.0, 5.0).expand(32, 4)
)
counted = 16 * 64 + (32 * 4 + 32) + 32 * 9 + (32 + 32) + 32 * 4
counted += 32 + 32 * 16 + 16
n_parameters = sum(p.numel() for p in block.parameters())
print(f"parameters: {n_parameters} (counted: {counted})")
assert n_parameters == counted == 2224

# %% [markdown]
# `coursekit`'s block follows mambapy's parameter names and layout, so mambapy's weights
# load into it; on the same weights the outputs agree (the tests also compare gradients,
# and a whole language model):

# %%
try:
    from mambapy.mamba import MambaConfig, ResidualBlock
except ImportError:  # mambapy is a test-only dependency
    print("mambapy is not installed: comparison skipped")
else:
    torch.manual_seed(0)
    config = MambaConfig(d_model=16, n_layers=1, d_state=4, d_conv=4)
    theirs = ResidualBlock(config)
    ours = MambaBlock(16, d_state=4, d_conv=4)
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        x = torch.randn(2, 13, 16)
        gap = (ours(x) - theirs(x)).abs().max().item()
    assert gap < 1e-5
    print("coursekit and mambapy, same weights: equal to 1e-5")

# %% [markdown]
# ## 10.7 The scan
#
# Every selective SSM spends its time in one recurrence, elementwise over a state of any
# shape ((b, d, n) in Mamba):
#
# $$ h_t = a_t \odot h_{t-1} + b_t, \qquad t = 0, \dots, L - 1, \quad h_{-1} = 0 .
#    \tag{10.20} $$
#
# The loop takes $L$ dependent steps:
#
# ```{literalinclude} ../coursekit/scan.py
# :pyobject: scan_loop
# ```
#
# **The combine.** Each step is an affine map $h \mapsto a h + b$, stored as the pair
# $(a, b)$. Apply $(a_1, b_1)$, then $(a_2, b_2)$: $a_2 (a_1 h + b_1) + b_2$, again affine,
#
# $$ (a_2, b_2) \bullet (a_1, b_1) = (a_2 a_1,\; a_2 b_1 + b_2)
#    \qquad \text{(apply 1, then 2)}. \tag{10.21} $$
#
# Composition of maps is associative, so this combine is too; it is not commutative (time
# has an order), and the identity map $(1, 0)$ is neutral. That is all a parallel
# {term}`prefix sum <前缀和>` (前缀和) needs {cite}`ch10-blelloch1990prefix`: the state $h_t$
# is the $b$ part of the composition of steps $0, \dots, t$, a *prefix* of the sequence of
# maps, and an associative operation lets the prefixes be built in any grouping, as a tree.
# The tree computes the loop's numbers, not an approximation of them: only the grouping of
# the multiplications changes, so the two differ by rounding alone. In `coursekit`, `left`
# is the earlier piece:
#
# ```{literalinclude} ../coursekit/scan.py
# :pyobject: scan_combine
# ```

# %%


def affine(a, b):
    """The map h -> a h + b as the pair (a, b) of Eq. (10.21)."""
    return torch.tensor(a, dtype=F64), torch.tensor(b, dtype=F64)


two, five = affine(2.0, 3.0), affine(5.0, 7.0)
first_two = scan_combine(two, five)  # h -> 2h + 3, then h -> 5h + 7
first_five = scan_combine(five, two)
print("2h + 3, then 5h + 7:", [v.item() for v in first_two])
print("5h + 7, then 2h + 3:", [v.item() for v in first_five])
assert [v.item() for v in first_two] == [10.0, 22.0]
assert [v.item() for v in first_five] == [10.0, 17.0]
torch.manual_seed(0)
p, q, s = (
    (torch.rand(4, dtype=F64), torch.randn(4, dtype=F64))
    for _ in range(3)
)
grouped_left = scan_combine(scan_combine(p, q), s)
grouped_right = scan_combine(p, scan_combine(q, s))
assert all(
    torch.allclose(g, w, atol=1e-15)
    for g, w in zip(grouped_left, grouped_right, strict=True)
)

# %% [markdown]
# **Blelloch's work-efficient scan.** `scan_blelloch` works in place on buffers padded to a
# power of two with the identity map, in two sweeps, up and down a tree of $\log_2 L$
# levels. The *up-sweep* combines neighbours into blocks of 2, 4, 8, ... steps, the result
# kept at the last position of each block. The *down-sweep* goes back down the tree: the
# first half of each block ends at a position that holds only its half, while the position
# just before the block already holds a complete prefix from step 0; one combine of the two
# completes it. (Blelloch's paper describes the exclusive scan, whose down-sweep starts
# from the identity at the root; this is the inclusive form, with the same tree.) Below,
# the same two sweeps written out for $L = 8$, run on $a_t = 1$ and $b_t = 2^t$, so that
# each position's number is a sum of distinct powers of two: its binary digits say which
# steps have been composed into it.


# %%
def sweeps(a, b):
    """The two sweeps of coursekit.scan._scan_in_place on 1-D a, b of
    length 2^k: the b buffer after every level, and the combines."""
    a, b = a.clone(), b.clone()
    size = len(a)
    history, combines = [("start", b.clone())], 0
    s = 1
    while s < size:  # up-sweep: blocks of 2s end at 2s - 1, 4s - 1
        end, mid = (
            slice(2 * s - 1, size, 2 * s),
            slice(s - 1, size, 2 * s),
        )
        b[end] += a[end] * b[mid]  # Eq. (10.21): mid, then end
        a[end] *= a[mid]
        combines += len(range(size)[end])
        history.append((f"up {2 * s}", b.clone()))
        s *= 2
    s = size // 4
    while s >= 1:  # down-sweep: half-block ends after the first block
        half, before = (
            slice(3 * s - 1, size, 2 * s),
            slice(2 * s - 1, size - 2 * s, 2 * s),
        )
        b[half] += a[half] * b[before]
        combines += len(range(size)[half])
        history.append((f"down {s}", b.clone()))
        s //= 2
    return b, history, combines


def steps_in(value):
    """The steps composed into a number sum_t 2^t, as 'first-last'."""
    bits = [t for t in range(8) if int(value) >> t & 1]
    return f"{bits[0]}-{bits[-1]}" if len(bits) > 1 else f"{bits[0]}"


size = 8
_, history, combines = sweeps(
    torch.ones(size, dtype=F64), 2.0 ** torch.arange(size, dtype=F64)
)
print("pos " + "".join(f"{name:>8s}" for name, _ in history))
for position in range(size):
    cells = "".join(f"{steps_in(v[position]):>8}" for _, v in history)
    print(f"{position:3d} {cells}")
print(f"{combines} combines (the loop: {size - 1}), in 5 levels")
prefixes = ["0"] + [f"0-{t}" for t in range(1, size)]
assert [steps_in(v) for v in history[-1][1]] == prefixes
assert combines == 2 * size - 2 - 3  # up L - 1, down L - 1 - log2 L

# %% [markdown]
# Read the table column by column. After the up-sweep, position 3 holds steps 0–3, 7 holds
# 0–7, 5 holds only 4–5; the down-sweep composes 5 with the prefix 0–3 at position 3, then
# 2, 4 and 6 with the prefixes just before them. Every position ends with the composition
# of all steps up to it, which applied to $h_{-1} = 0$ is $h_t$. The work is
# $2L - 2 - \log_2 L$ combines, about twice the loop's, but in $2 \log_2 L - 1$ levels
# instead of $L$ steps, each level one vectorised operation over all the positions it
# touches (and over all of (b, d, n)). On a GPU that is parallel work; on one CPU thread it
# still removes the Python loop's per-step overhead, which for small states dominates.
#
# The same sweeps on random coefficients give the loop's states, and so does
# `scan_blelloch`:

# %%
torch.manual_seed(0)
a_r, b_r = torch.rand(size, dtype=F64), torch.randn(size, dtype=F64)
by_sweeps = sweeps(a_r, b_r)[0]
by_loop = scan_loop(a_r[None, :, None], b_r[None, :, None])[0, :, 0]
by_library = scan_blelloch(a_r[None, :, None], b_r[None, :, None])
assert torch.allclose(by_sweeps, by_loop, atol=1e-14)
assert torch.allclose(by_library[0, :, 0], by_loop, atol=1e-14)

# %% [markdown]
# **The gradient is a scan too.** Differentiating (10.20), the gradient with respect to
# $h_t$ collects what flows back from $h_{t+1}$, through $a_{t+1}$: a linear recurrence run
# backwards in time,
#
# $$ g_t = \frac{\partial \ell}{\partial h_t}\Big|_{\text{direct}} + a_{t+1} \odot g_{t+1},
#    \qquad g_{L-1} = \frac{\partial \ell}{\partial h_{L-1}}, \tag{10.22} $$
#
# $$ \frac{\partial \ell}{\partial b_t} = g_t, \qquad
#    \frac{\partial \ell}{\partial a_t} = g_t \odot h_{t-1} . \tag{10.23} $$
#
# `BlellochScan.backward` runs the same parallel scan on the time-reversed sequence.
#
# **The chunked scan.** Cut time into chunks of $c$ steps, scan every chunk from zero in
# parallel, then carry the state across chunks in a short loop of $L/c$ steps: with $P_t$
# the product of the $a$ within the chunk up to $t$,
#
# $$ h_t = h_t^{\text{local}} + P_t \odot h_{\text{end of the previous chunk}} .
#    \tag{10.24} $$
#
# mamba-ssm's fused GPU kernel is organised the same way: a parallel scan within a chunk of
# the sequence, and a running prefix carried from one chunk to the next. And
# `linear_scan(strategy="auto")` picks a strategy by size: the loop up to $L = 8$, the
# parallel scan beyond (the threshold is measured on this project's CPU; see below). On one
# problem of (b, L, d, n) = (2, 100, 3, 2), values and gradients:

# %%
torch.manual_seed(0)
a = (0.5 + 0.5 * torch.rand(2, 100, 3, 2, dtype=F64)).requires_grad_()
b = torch.randn(2, 100, 3, 2, dtype=F64, requires_grad=True)
upstream = torch.randn(2, 100, 3, 2, dtype=F64)
reference = scan_loop(a, b)
want = torch.autograd.grad(reference, (a, b), upstream)
strategies = {
    "blelloch": scan_blelloch,
    "chunked, c = 16": lambda a, b: scan_chunked(a, b, chunk=16),
    "auto": linear_scan,
}
for name, scan in strategies.items():
    h = scan(a, b)
    got = torch.autograd.grad(h, (a, b), upstream)
    assert torch.allclose(h, reference, rtol=0, atol=1e-12)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, rtol=0, atol=1e-12)
    print(f"{name:16s} equals the loop, values and gradients")
# Eq. (10.22)-(10.23): dl/db is the scan of the upstream gradient,
# backwards in time, with the coefficients a_{t+1}
a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1)
g = scan_loop(a_next.flip(1), upstream.flip(1)).flip(1)
assert torch.allclose(want[1], g, atol=1e-12)
zeros = torch.zeros_like(b[:, :1])
h_before = torch.cat([zeros, reference[:, :-1]], dim=1)
assert torch.allclose(want[0], g * h_before, atol=1e-12)
print("auto runs:", {n: _choose(a[:, :n]) for n in (8, 9, 100)})
# and the selective SSM by the parallel scan equals the loop
torch.manual_seed(0)
args = (
    torch.randn(2, 4, 50, dtype=F64),  # u (b, d, L)
    torch.randn(2, 4, 50, dtype=F64),  # delta
    -torch.rand(4, 3, dtype=F64) - 0.1,  # A (d, n)
    torch.randn(2, 3, 50, dtype=F64),  # B (b, n, L)
    torch.randn(2, 3, 50, dtype=F64),  # C
    torch.randn(4, dtype=F64),  # D
)
assert torch.allclose(
    selective_scan_fast(*args, delta_softplus=True),
    selective_scan(*args, delta_softplus=True),
    atol=1e-12,
)

# %% [markdown]
# **The timings.** `benchmarks/scan.py` times the strategies, forward and backward, against
# mambapy's `pscan`, taking turns at every size so that a busy machine slows them alike.
#
# *TODO(timings): the figure below is drawn from `book/data/scan_timings.json`, which the
# benchmark's `--json` option will write (the layout is in the next cell). The prose of this
# paragraph waits for the numbers: where the loop and the scan cross, how the loop's time
# grows with $L$ and the scan's, how far the chunked scan is behind on CPU, and `auto`'s
# ratio to the fastest at every size.*

# %%
# TODO(timings): `benchmarks/scan.py --json PATH` is to write
# book/data/scan_timings.json (not made yet); until it exists, the
# figure is skipped. The layout this cell expects:
# {
#   "benchmark": "benchmarks/scan.py", "torch": "2.13.0",
#   "threads": 1, "dtype": "float32", "repeats": 5,
#   "machine": "...",                # free text, e.g. the CPU
#   "results": [                     # one per device and size
#     {"device": "cpu",              # or "cuda"
#      "size": [1, 4096, 16, 4],     # (b, L, d, n)
#      "auto_runs": "blelloch",      # what _choose picked
#      "median_ms": {                # forward + backward
#        "loop": 1660.0,             # absent if not run (--loop-max)
#        "blelloch": 13.0, "chunked": 40.0,
#        "auto": 13.1, "mambapy pscan": 20.0}},
#     ...
#   ]
# }
# The grid should include a sweep of L at (b, d, n) = (1, 16, 4):
# --grid "1,8,16,4;1,16,16,4;1,64,16,4;1,256,16,4;1,1024,16,4;
# 1,4096,16,4" (one string), plus the default grid's large sizes.
TIMINGS = Path("data/scan_timings.json")
SWEEP = (1, 16, 4)  # (b, d, n) of the sweep over L


def plot_timings(timings):
    """Time against L for every strategy (the sweep at SWEEP), and
    the loop's time over each strategy's; a figure per device."""
    for device_name in sorted(
        {r["device"] for r in timings["results"]}
    ):
        rows = [
            r
            for r in timings["results"]
            if r["device"] == device_name
            and (r["size"][0], *r["size"][2:]) == SWEEP
        ]
        rows.sort(key=lambda r: r["size"][1])
        names = list(rows[0]["median_ms"])
        color = {name: f"C{k}" for k, name in enumerate(names)}
        fig, (ax_t, ax_r) = plt.subplots(1, 2, figsize=(7, 3.2))
        for name in names:
            pairs = [
                (r["size"][1], r["median_ms"][name])
                for r in rows
                if r["median_ms"].get(name) is not None
            ]
            lengths, ms = zip(*pairs, strict=True)
            ax_t.loglog(
                lengths, ms, "o-", ms=3, color=color[name], label=name
            )
            with_loop = [
                (
                    r["size"][1],
                    r["median_ms"]["loop"] / r["median_ms"][name],
                )
                for r in rows
                if r["median_ms"].get("loop")
                and r["median_ms"].get(name)
            ]
            if name != "loop" and with_loop:
                ax_r.loglog(
                    *zip(*with_loop, strict=True), "o-", ms=3,
                    color=color[name],
                )  # fmt: skip
        ax_r.axhline(1, color="gray", ls=":", lw=1)
        ax_t.set(
            xlabel="L",
            ylabel="ms, forward + backward",
            title=f"{device_name}: (b, d, n) = {SWEEP}",
        )
        ax_r.set(xlabel="L", ylabel="speed-up over the loop")
        ax_t.legend(fontsize=7)
        fig.tight_layout()
        plt.show()


if TIMINGS.exists():
    plot_timings(json.loads(TIMINGS.read_text()))
else:
    print(f"TODO(timings): {TIMINGS} not written yet; figure skipped")

# %% [markdown]
# ## 10.8 Experiments (to come)
#
# *TODO(experiment): selective copying.* `tools/experiments/selective_copying.py` (a draft)
# trains two models of the same shape and size on Gu and Dao's selective-copying task
# {cite}`ch10-gu2023mamba`: 64 positions hold 4 data symbols (of 8) at random, distinct
# places, blanks elsewhere, then 4 markers, at which the model must output the data symbols
# in order; the spacing changes from sequence to sequence, so the symbols must be picked
# out by what they are, not where. One model is a `coursekit.MambaLM` (2 blocks,
# $d_{\text{model}} = 16$, $n = 8$); the other the same architecture with the selective SSM
# replaced by `S4DLayer`, an LTI SSM whose $\Delta$, $B$ and $C$ do not depend on the input
# (the "Mamba architecture with an S4 layer" of Gu and Dao's Table 1), within a few per
# cent of its parameters.
# Both train for 1 000 steps of 32 fresh sequences with Adam, from 5 seeds, scored by
# accuracy at the marker positions on 1 000 held-out sequences (chance: 1/8). This section
# will show the accuracy curves (mean and range over the seeds), the accuracy per output
# position, and what the selection learnt: the trained Mamba's $\Delta_t$ on one test
# sequence, channel by channel, and its mean at data, blank and marker positions in each
# block (the claim to check: small on blanks, large on data, as in the hand-made example of
# §10.5), with the asserts that back the prose.
#
# *TODO(experiment): Mamba on Tiny Shakespeare.* A `MambaLM` character model of about the
# size of chapter 2's and chapter 4's (about 110 000 parameters), trained with their budget
# (400 steps of 32 windows of 64 characters, five seeds), as a row of the course's results
# table ({doc}`results`), next to the char-RNN, LSTM and GRU.

# %% [markdown]
# ## 10.9 The notes, checked
#
# **$A_t = \text{Linear}_A(x_t)$.** Note 000: "传统 SSM 的参数 A、B、C、Δ 是静态的，而 Mamba
# 将它们变为输入的函数" (a traditional SSM's parameters A, B, C, Δ are static, and Mamba
# makes them functions of the input), with $A_t = \text{Linear}_A(x_t)$,
# $B_t = \text{Linear}_B(x_t)$ and $\Delta_t = \text{SoftPlus}(\text{Linear}_\Delta(x_t))$.
# In Mamba, $A$ is *not* a function of the input: it is a learnt parameter of shape (d, n),
# stored as $A_{\log}$ and used as $A = -\exp(A_{\log})$, the same at every step (§10.5,
# §10.6). What depends on the input is $\Delta_t$, $B_t$ and $C_t$ (the note names $C$
# among them but gives no formula for it: $C_t = \text{Linear}_C(x_t)$). The transition
# $\bar A_t = \exp(\Delta_t A)$ does change with the input, through $\Delta_t$ alone,
# which is why an input-dependent $A$ is not needed for selection; Gu has said that a
# selective $A$ was not tested and might do about as well {cite}`ch10-gu2024questions`.
# Two more details of Mamba's $\Delta_t$: its linear map is low-rank (rank
# $\lceil d_{\text{model}}/16 \rceil$, then up to $d$ channels), and its bias is added
# inside the softplus, initialised so that $\Delta$ starts in $[10^{-3}, 10^{-1}]$.
#
# **The diagonal $\bar B$.** For a diagonal $A$ the note's right-hand side for $\bar B$
# reads, in the text as it is stored, "ΔtBt⊙ΔtAtexp(ΔtAt)−1": a fraction whose layout has
# been lost. Read in the order it stands,
# $\Delta_t B_t \odot \Delta_t A_t / (\exp(\Delta_t A_t) - 1)$, it is upside down: the
# right factor is Eq. (10.4) written with $\Delta$,
#
# $$ \bar B = \frac{\exp(\Delta A) - 1}{\Delta A} \odot \Delta B , $$
#
# which is $(10.3)$ for a diagonal $A$. The inverted factor, $x/(e^x - 1) = 1 - x/2 + \dots$,
# is on the other side of 1 from the right one, $(e^x - 1)/x = 1 + x/2 + \dots$: for a
# small step about twice as far from it as Euler's $\Delta B$, and more for a large one.

# %%
x = torch.tensor([-0.01, -0.1, -1.0], dtype=F64)  # delta * lambda
right = torch.expm1(x) / x  # Eq. (10.4), times Delta B
inverted = x / torch.expm1(x)  # the note's fraction, as stored
print("delta*lambda:      ", x.numpy())
print("right factor:      ", right.numpy().round(4))
print("inverted factor:   ", inverted.numpy().round(4))
off, off_euler = (inverted - right).abs(), (1 - right).abs()
print("|inverted - right|: ", off.numpy().round(4))
print("|Euler (1) - right|:", off_euler.numpy().round(4))
ratio = off / off_euler
print("how many times Euler's error:", ratio.numpy().round(2))
# about twice Euler's error for a small step, more for a large one
assert torch.all((ratio[:2] > 1.9) & (ratio[:2] < 2.1))
assert ratio[2] > 2.5

# %% [markdown]
# Whichever of the two the note meant, neither is what Mamba computes: mamba-ssm, its CUDA
# kernel and mambapy use $\bar B_t u_t \approx \Delta_t B_t u_t$, Eq. (10.12), Euler's input
# term next to ZOH's $\bar A_t$. Why: it is simpler, it agrees with ZOH to first order in
# $\Delta$, and by the authors' account it changes nothing measurable
# {cite}`ch10-gu2024discretization`; §10.5 shows what it changes in the theory (the exact
# gate of Theorem 1 becomes an approximate one) and by how much at the initial $\Delta$.
#
# **"与原连续系统在所有采样时刻表现完全一致".** The note says ZOH gives a discrete model that
# agrees with the continuous one at all sample times. True when the input *is* held
# constant over each step: the step response of §10.1 agrees to $10^{-13}$. Not for an
# input that changes within a step: for $\sin 2t$, ZOH is first order in $\Delta$, like
# Euler (§10.2). Exactness is for the held input, not for the signal it was sampled from.
#
# **"线形时不变(LTI) 的背景下".** (线形 should be 线性, linear.) The note discretises "in the
# setting of" an LTI system, and writes the formula with $A_t$ and $B_t$ already indexed by
# time. Both are loose. ZOH needs the system to be constant over *one step*, not for ever:
# Mamba discretises a different system at every step, with its own $\Delta_t$ and $B_t$.
# What time invariance buys is the convolution view (§10.3), and what selection costs is
# that view (§10.5). And the ZOH formula $(\Delta A)^{-1}(\exp(\Delta A) - I)\Delta B$ needs
# $\Delta A$ invertible; the block exponential of §10.2 does not.
#
# **"捕捉序列的全局依赖关系".** The note says the aim of an SSM is to capture global
# dependencies of a sequence. The convolution kernel of an LTI SSM is as long as the
# sequence, so every output can depend on every earlier input; but it weighs them by
# $\bar A^j$, which decays geometrically, and all the past must pass through a state of $n$
# numbers per channel. How long an SSM remembers is set by its eigenvalues and its steps
# (§10.4), and a fixed-size state is a real limit next to attention, which keeps every past
# token. "Long", not "global".
#
# **"动态选择性状态空间模型，通过输入相关的状态转移机制".** (A dynamic selective SSM, through an
# input-dependent state transition.) Right, with the qualification above: the transition
# $\bar A_t$ depends on the input through $\Delta_t$, while $A$ does not.

# %% [markdown]
# ## 10.10 What goes wrong
#
# - **Euler at a large step.** $\bar A = I + \Delta A$ is unstable once $\Delta$ exceeds
#   $2|\operatorname{Re}\lambda|/|\lambda|^2$ for some eigenvalue (0.1 for the oscillator,
#   §10.2): a system that decays in continuous time grows in the discrete one. With a
#   learnt $\Delta$ nothing stops the step from getting there. Use ZOH (or the bilinear
#   rule) for $\bar A$.
# - **$\exp(\Delta\lambda) - 1$ by subtraction.** For $\Delta\lambda = 10^{-8}$ it loses half
#   the digits of float64 and all of float32; `torch.expm1` keeps them.
# - **The FFT without padding.** A circular convolution wraps the end of the sequence into
#   its start (§10.3). Pad input and kernel to $2L$ and keep the first $L$ outputs.
# - **A kernel for a selective SSM.** Computing one kernel from an average $\Delta$, or from
#   the first step's, gives an LTI model, not Mamba's; a selective SSM has no kernel.
# - **The bias after the softplus.** Mamba's
#   $\Delta_t = \operatorname{softplus}(\delta_t + b_{dt})$;
#   $\operatorname{softplus}(\delta_t) + b_{dt}$ can be negative, and with it
#   $|\bar A_t| > 1$.
# - **A with the wrong sign.** $A = \exp(A_{\log})$ instead of $-\exp(A_{\log})$ makes
#   every $\bar A_t > 1$: the state grows exponentially.
# - **The combine in the wrong order.** $(a_2, b_2) \bullet (a_1, b_1)$ is not
#   $(a_1, b_1) \bullet (a_2, b_2)$: the $b$ part differs ($a_2 b_1 + b_2$ against
#   $a_1 b_2 + b_1$). A scan that swaps them runs time backwards inside each block, and is
#   right only when all the $a$ are equal.
# - **A scan that is not padded.** Blelloch's tree needs a power of two; padding with the
#   identity map $(1, 0)$ changes nothing, padding with zeros resets the state.
# - **Channels and time swapped.** mamba-ssm's scan takes (b, d, L); mambapy's and the
#   block's activations are (b, L, d). A transpose forgotten on a square toy example gives
#   no error, and wrong numbers.

# %%
# two of the list's numbers: exp(x) - 1 by subtraction at x = 1e-8 ...
x64 = torch.tensor(1e-8, dtype=F64)
lost = ((torch.exp(x64) - 1) / torch.expm1(x64) - 1).abs().item()
digits = -torch.tensor(lost).log10().item()
print(f"float64, x = 1e-8: exp(x) - 1 has {digits:.0f} digits right")
assert 1e-9 < lost < 1e-7  # about half of float64's 16 digits
x32 = torch.tensor(1e-8)
assert torch.exp(x32) - 1 == 0 and torch.expm1(x32) > 0  # float32
# ... and the combine in the wrong order
swapped = scan_combine(five, two)[1] != scan_combine(two, five)[1]
assert swapped.item()

# %% [markdown]
# ## 10.11 Quiz
#
# The lecture notes have no questions on this topic; these are ours.
#
# **Question 1.** An SSM with $A = -2$ (one state), $B = 1$ is discretised by zero-order
# hold with $\Delta = \ln 2 / 2$. What are $\bar A$ and $\bar B$?
#
# :::{dropdown} Answer
# $\bar A = e^{\Delta A} = e^{-\ln 2} = 1/2$, and by Eq. (10.4)
# $\bar B = (e^{\Delta A} - 1)/A \cdot B = (1/2 - 1)/(-2) = 1/4$. (Euler would give
# $\bar A = 1 - \ln 2 \approx 0.31$ and $\bar B = \Delta \approx 0.35$.)
# :::
#
# **Question 2.** Which statement about an LTI SSM is *wrong*?
#
# - A. Its output is a causal convolution of the input with $K_j = C \bar A^j \bar B$.
# - B. Trained on whole sequences, it can be computed in $O(L \log L)$ per channel by FFT.
# - C. Generating one token at a time, it needs memory that grows with the text so far.
# - D. Its recurrence and its convolution give the same outputs from $x_{-1} = 0$.
#
# :::{dropdown} Answer
# **C.** Generation runs the recurrence (10.2), which carries one state of $n$ numbers per
# channel whatever the length; it is attention whose cache grows with the text. A, B and D
# are §10.3.
# :::
#
# **Question 3.** In Mamba, which of $A$, $B$, $C$, $\Delta$ depend on the input token, and
# how can the state transition $\bar A_t$ depend on the input all the same?
#
# :::{dropdown} Answer
# $B_t$, $C_t$ and $\Delta_t$ are computed from the input at each step (Eq. (10.18));
# $A$ is a learnt parameter, the same at every step. $\bar A_t = \exp(\Delta_t A)$ depends
# on the input through $\Delta_t$: a small step keeps the state ($\bar A_t \approx 1$), a
# large one forgets it ($\bar A_t \approx 0$). Note 000's $A_t = \text{Linear}_A(x_t)$ is
# not Mamba (§10.9).
# :::
#
# **Question 4.** Why can a selective SSM not be trained with the FFT convolution of
# Eq. (10.8), and what replaces it?
#
# :::{dropdown} Answer
# With $\Delta_t$, $B_t$, $C_t$ changing over time, the weight of input $s$ in output $t$
# is $C_t^\top (\prod_{r=s+1}^t \bar A_r) \Delta_s B_s$, which depends on $s$ and $t$, not
# on $t - s$ alone: the matrix $M$ of §10.5 is not Toeplitz, so there is no kernel.
# The recurrence is still linear in the state, $h_t = a_t \odot h_{t-1} + b_t$, and its
# steps compose associatively (Eq. (10.21)), so it is computed by a parallel scan in
# $O(\log L)$ levels (§10.7).
# :::
#
# **Question 5.** Combine, in time order, the steps $h \mapsto 0.5 h + 1$ (first) and
# $h \mapsto 2h - 1$ (second) with Eq. (10.21). What is $h$ after both, from $h = 4$?
# What if the order is swapped?
#
# :::{dropdown} Answer
# $(2, -1) \bullet (0.5, 1) = (2 \cdot 0.5,\; 2 \cdot 1 - 1) = (1, 1)$: $h \mapsto h + 1$,
# so $h = 5$. Swapped, $(0.5, 1) \bullet (2, -1) = (1,\; 0.5 \cdot (-1) + 1) = (1, 0.5)$:
# $h = 4.5$. The $a$ parts agree (a product commutes), the $b$ parts do not.
# :::
#
# **Question 6.** Blelloch's scan does about $2L$ combines where the loop does $L$. Why is
# it faster?
#
# :::{dropdown} Answer
# Because its combines come in $2 \log_2 L - 1$ levels, each of which is one operation over
# many positions at once, while the loop's $L$ steps depend on each other and must run one
# after another. On parallel hardware the scan's time grows like $\log L$ (as long as there
# are processors for a level); on one CPU thread it still saves the per-step overhead of a
# loop of $L$ small operations. It does more arithmetic, so for very short sequences the
# loop wins (`auto` runs the loop up to $L = 8$).
# :::

# %%
# Questions 1 and 5, checked
ln2 = torch.tensor(2.0, dtype=F64).log().item()
a_q, b_q = discretize_zoh(-2 * one, one, ln2 / 2)
assert abs(a_q.item() - 0.5) < 1e-15
assert abs(b_q.item() - 0.25) < 1e-15
first, second = affine(0.5, 1.0), affine(2.0, -1.0)
for pair, after in (((first, second), 5.0), ((second, first), 4.5)):
    a_c, b_c = scan_combine(*pair)
    assert (a_c * 4 + b_c).item() == after

# %% [markdown]
# ## 10.12 What to try
#
# - **The exact $\bar B$ in Mamba.** Replace $\Delta_t B_t u_t$ in `selective_scan` by the
#   ZOH input term $(\bar A_t - 1)/A \cdot B_t u_t$ (one subtraction and one division per
#   entry; $\bar A_t$ is already computed) and train both on the selective-copying task of
#   §10.8. Does Gu's "no difference" hold at this size?
# - **A selective $A$.** Make $A$ a function of the input too, as note 000 has it
#   ($A_t = -\exp(\text{Linear}(x_t))$, to keep it negative). Does it help, or is
#   $\Delta_t$ enough?
# - **The bilinear rule in S4D.** Give `S4DLayer` the bilinear $\bar A$, $\bar B$ of
#   Eq. (10.5), diagonal entry by entry, and compare its kernels with ZOH's at $\Delta = 1$.
# - **Complex eigenvalues.** S4D-Lin puts $\lambda_n = -\tfrac12 + i\pi n$ on the diagonal:
#   oscillating modes, like §10.1's. Write a complex `S4DLayer` (the output is the real
#   part) and plot its kernels.
# - **Hillis–Steele.** The other classic scan combines each position with the one $2^k$
#   before it at level $k$: $\log_2 L$ levels instead of $2\log_2 L - 1$, but
#   $O(L \log L)$ combines. Write it with `scan_combine` and time it against `scan_blelloch`.
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :keyprefix: ch10-
# ```
#
# ## Exercise
#
# In the exercise you write the four pieces everything else here is built from: zero-order
# hold for a diagonal $A$, Eq. (10.4); the kernel of the convolution view, Eq. (10.6); the
# selective scan as a loop, Eqs. (10.10)–(10.15); and the combine step of the parallel scan,
# Eq. (10.21). Its tests compare them with `coursekit`.
# {download}`Download the exercise notebook <../exercises/10_state_space_models_and_mamba/10_state_space_models_and_mamba.ipynb>`
