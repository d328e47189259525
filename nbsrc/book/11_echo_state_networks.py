# %% [markdown]
# # 11. Echo state networks · 回声状态网络
#
# Chapters 2 to 5 trained every weight of a recurrent network by
# backpropagation through time, and spent most of their effort on what
# goes wrong: gradients that vanish or explode, cliffs, clipping. An
# {term}`echo state network <回声状态网络>` (回声状态网络, ESN) sidesteps
# all of it. Its recurrent layer, the {term}`reservoir <储备池>` (储备池),
# is drawn at random once and never trained; only a linear readout on
# top of it is fitted, by ridge regression, in one linear solve
# {cite}`ch11-jaeger2001echo`. No gradient ever flows through time.
#
# By the end of the chapter you will be able to
#
# - write the leaky reservoir update, Eq. (11.1), and the closed-form
#   ridge readout, Eq. (11.3), and say why only the readout is trained;
# - measure the *echo state property* and correct the rule the lecture
#   notes give for it (spectral radius below 1);
# - say what each hyper-parameter (size, sparsity, spectral radius,
#   input scaling, leak rate, regularisation) does, with measurements;
# - predict the chaotic Mackey–Glass series one step ahead and in
#   closed loop, and measure a reservoir's memory capacity.
#
# The functions come from `coursekit.esn` (the reservoir and the
# readout) and `coursekit.esn_models` (`ESN`, `DeepESN`,
# `memory_capacity`); their docstrings cite the equation numbers below.

# %%
import time

import matplotlib.pyplot as plt
import torch

from coursekit import (
    ESN,
    DeepESN,
    mackey_glass,
    memory_capacity,
    nrmse,
    run_reservoir,
    spectral_radius,
)
from coursekit.plots import setup_chapter

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)

SEEDS = range(5)


def gen(seed):
    return torch.Generator().manual_seed(seed)


# %% [markdown]
# ## 11.1 A random reservoir and a trained readout
#
# The reservoir has $N$ units with state $x_t$, driven by the input
# $u_t$ through fixed input weights $W_{\text{in}}$, fixed recurrent
# weights $W$ and a fixed bias $b$. Each step blends the old state with
# a new activation, at the {term}`leak rate <泄漏率>` (泄漏率) $\alpha$:
#
# $$
# x_t = (1 - \alpha)\, x_{t-1}
#       + \alpha \tanh\!\left(W_{\text{in}} u_t + W x_{t-1} + b\right).
# \tag{11.1}
# $$
#
# With $\alpha = 1$ this is the classic ESN, an Elman RNN (chapter 2)
# whose weights are not trained. The output is linear in the state with a
# 1 on top (for the bias),
#
# $$ y_t = W_{\text{out}} \, [1;\ x_t],
# \tag{11.2} $$
#
# and training means running the reservoir over the training input
# (teacher forcing), dropping the first steps (the *washout*, which still
# remembers the arbitrary start), stacking the states as the rows of
# $X = [\mathbf 1, x_t]$ and the targets as the rows of $Y$, and solving a
# ridge regression in closed form:
#
# $$
# W_{\text{out}}^{\top} = \left(X^{\top} X + \beta D\right)^{-1}
# X^{\top} Y, \qquad D = \operatorname{diag}(0, 1, \dots, 1).
# \tag{11.3}
# $$
#
# $D$ leaves the bias unpenalised. The inverse is notation: the code
# solves the linear system (`torch.linalg.solve`), which keeps its digits
# when $X^\top X$ is ill-conditioned, as the states of a reservoir often
# are. The recurrent weights are a sparse random matrix scaled to a
# chosen {term}`spectral radius <谱半径>` (谱半径) $\rho$, the largest
# modulus of an eigenvalue:
#
# $$ W = \rho\, W_0 / \rho(W_0). \tag{11.4} $$

# %%
esn = ESN(1, 200, spectral_radius=0.9, generator=gen(0))
fixed = esn.W.numel() + esn.W_in.numel()
print(f"W: {tuple(esn.W.shape)}, {int((esn.W != 0).sum())} nonzero")
print(
    f"W_in: {tuple(esn.W_in.shape)}, spectral radius of W "
    f"{spectral_radius(esn.W):.3f}"
)
print(f"fixed weights {fixed}, trained weights {esn.units + 1}")

# %% [markdown]
# Of the 40 200 weights only the 201 of the readout are trained. Since
# the readout is linear in them, the training problem is convex and has
# one answer, Eq. (11.3): no learning rate, no epochs, no gradient.
#
# ## 11.2 The echo state property
#
# The readout can only work if the state is a function of the input
# history, not of where the reservoir started. This is the
# {term}`echo state property <回声状态性质>` (回声状态性质): for every
# input sequence, two runs from different initial states converge
# {cite}`ch11-jaeger2001echo`. We measure it directly: the same input
# (uniform in $[-1, 1]$), two random starts, the distance between the
# two state sequences, for five reservoirs per spectral radius.

# %%
radii = [0.5, 0.9, 1.2, 2.0, 4.0]
T = 300
u = torch.rand(T, 1, generator=gen(100), dtype=torch.float64) * 2 - 1
distances = {}
for rho in radii:
    runs = []
    for seed in SEEDS:
        net = ESN(
            1,
            100,
            spectral_radius=rho,
            input_connectivity=1.0,
            generator=gen(seed),
        )
        g = gen(1000 + seed)
        starts = torch.rand(2, 100, generator=g, dtype=torch.float64)
        a, b = (
            run_reservoir(u, net.W_in, net.W, state=2 * s - 1)
            for s in starts
        )
        runs.append((a - b).norm(dim=1))
    distances[rho] = torch.stack(runs)  # (seeds, T)

fig, ax = plt.subplots(figsize=(7, 4))
for rho, color in zip(
    radii, plt.cm.viridis([0, 0.25, 0.5, 0.75, 0.95]), strict=True
):
    for k, d in enumerate(distances[rho]):
        ax.semilogy(
            d.clamp(min=1e-16),
            color=color,
            lw=1,
            label=f"ρ = {rho:g}" if k == 0 else None,
        )
ax.set(
    xlabel="time step $t$",
    ylabel="$\\|x_t - x'_t\\|$",
    title="Two starts, the same input (5 reservoirs each)",
)
ax.legend()
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
for rho in radii:
    final = distances[rho][:, -1]
    print(
        f"ρ = {rho:3g}: distance after {T} steps "
        f"{final.min():.1e} to {final.max():.1e}"
    )
assert all(distances[r][:, -1].max() < 1e-8 for r in (0.5, 0.9, 1.2))
assert distances[2.0][:, -1].min() > 1e-2

# %% [markdown]
# Below 1 every pair converges, geometrically. At $\rho = 1.2$, above
# the notes' bound, every pair converges as well: the input keeps the
# units away from zero, where $\tanh$ is flattest, and the effective
# gain $\operatorname{diag}(1 - x_t^2)\, W$ is smaller than $W$. So
# $\rho < 1$ is **not necessary** once there is input; how far above 1
# one may go depends on how strongly the input drives the reservoir
# ($\rho = 2$ and $4$ do not converge with this input). The converse fails
# too: $\rho < 1$ is **not sufficient**. The condition that is
# sufficient for $\tanh$ units is on the largest singular value,
#
# $$ \sigma_{\max}(W) < 1, \tag{11.5} $$
#
# which makes Eq. (11.1) a contraction, so that any two states approach
# each other at least by the factor $\sigma_{\max}$ each step
# {cite}`ch11-jaeger2001echo,ch11-yildiz2012revisiting`. Here is a
# two-unit reservoir with $\rho(W) \approx 0.78$ but
# $\sigma_{\max} \approx 2.3$, driven by a constant input of 1: it
# settles on a cycle of period 2, and two starts end on opposite phases
# of it, for ever.

# %%
W = torch.tensor([[0.08, -1.93], [0.36, -1.14]], dtype=torch.float64)
W_in = torch.tensor([[-5.15], [0.72]], dtype=torch.float64)
constant = torch.ones(1000, 1, dtype=torch.float64)
starts = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
a, b = (run_reservoir(constant, W_in, W, state=s) for s in starts)
sigma = torch.linalg.matrix_norm(W, 2)
print(
    f"spectral radius {spectral_radius(W):.3f}, "
    f"largest singular value {sigma:.3f}"
)
print(f"distance after 1000 steps: {(a[-1] - b[-1]).norm():.3f}")
print(
    f"start 1, last two states: {a[-2].numpy().round(3)}, "
    f"{a[-1].numpy().round(3)}"
)

# %% [markdown]
# The notes' recipe (scale the spectral radius to 0.8–0.95) is a good
# *starting point*, and for random matrices with input it nearly always
# gives the echo state property; but it is a rule of thumb, not the
# condition. {cite:t}`ch11-yildiz2012revisiting` give the precise
# statements, and a better recipe than "ρ < 1" for when one needs a
# guarantee.
#
# ## 11.3 What each hyper-parameter does
#
# - **Size $N$**: more units, more features for the readout; memory
#   capacity is at most $N$ (§11.5) and the cost of Eq. (11.3) grows as
#   $N^3$ (the solve) plus $T N^2$ (running the reservoir).
# - **Sparsity** (the `connectivity` of $W$, 0.1 here): mostly a matter
#   of cost; with $W$ rescaled to a fixed $\rho$ the density changes
#   little ({cite:t}`ch11-lukosevicius2012practical`).
# - **Spectral radius $\rho$**: the time scale of the reservoir's memory;
#   near 1 it remembers longer (§11.5), too far above it forgets its
#   start no longer (§11.2).
# - **Input scaling**: how hard the input drives the units into the
#   nonlinear part of $\tanh$; small means almost linear and long
#   memory, large means more nonlinearity and shorter memory.
# - **Leak rate $\alpha$**: the reservoir's speed; a small $\alpha$ is a
#   low-pass filter for slow signals (§11.6).
# - **Ridge $\beta$**: keeps $W_{\text{out}}$ small, which matters most in
#   closed loop, where errors are fed back (§11.4).
#
# ## 11.4 Mackey–Glass: one step ahead, and in closed loop
#
# The Mackey–Glass equation with delay $\tau = 17$,
# $\dot x = 0.2\, x(t-\tau) / (1 + x(t-\tau)^{10}) - 0.1\, x(t)$, is
# chaotic: nearby trajectories separate, so long-range prediction is
# impossible in principle. `coursekit.mackey_glass` integrates it with
# the fourth-order Runge–Kutta method (its accuracy is tested against a
# step eight times finer) and samples it once per time unit. We train on
# 2 000 steps to predict the next value, then test on 500 more, and then
# run in closed loop, feeding each output back as the next input:
#
# $$ u_{t+1} = y_t. \tag{11.6} $$

# %%
series = mackey_glass(3000)
u_all, y_all = series[:-1, None], series[1:, None]
train, test = 2000, 500
settings = dict(spectral_radius=1.25, leak_rate=0.3, ridge=1e-6)
one_step, horizons, generated = [], [], {}
for seed in SEEDS:
    net = ESN(1, 500, generator=gen(seed), **settings)
    net.fit(u_all[:train], y_all[:train], washout=100)
    prediction = net.predict(u_all[train : train + test])
    one_step.append(nrmse(prediction, y_all[train : train + test]))
    # closed loop from the state after the test segment
    start = train + test
    free = net.generate(300, u_all[start])[:, 0]
    truth = y_all[start : start + 300, 0]
    wrong = (free - truth).abs() > 0.1 * series.std()
    horizon = int(wrong.nonzero()[0]) if wrong.any() else 300
    horizons.append(horizon)
    generated[seed] = free

fig, ax = plt.subplots(figsize=(7, 3.5))
steps = torch.arange(300)
ax.plot(steps, truth, color="black", lw=2, label="Mackey–Glass")
ax.plot(
    steps,
    generated[0],
    color="tab:orange",
    label="ESN in closed loop (seed 0)",
)
ax.axvline(
    horizons[0], color="tab:red", ls="--", label="error > 0.1 std"
)
ax.set(
    xlabel="steps after the end of teacher forcing",
    ylabel="$x$",
    title="Closed-loop prediction",
)
ax.legend(loc="lower left")
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
one_step = torch.tensor(one_step)
print(
    "one-step NRMSE per seed:", " ".join(f"{e:.1e}" for e in one_step)
)
print("closed-loop horizon (steps) per seed:", horizons)
assert one_step.max() < 0.05
assert min(horizons) >= 20

# %% [markdown]
# One step ahead the error is a small fraction of the series' standard
# deviation on every seed. In closed loop each error is fed back, and
# the prediction follows the series for a while (the horizon above,
# counted in time units) before drifting off; the horizon varies a lot
# between reservoirs of the same settings, which is why one run proves
# nothing here. A chaotic system bounds any model's horizon; the ESN's
# comes well before that bound with these small reservoirs.
#
# ## 11.5 Memory capacity
#
# How much of its input does a reservoir remember?
# {cite:t}`ch11-jaeger2002short` measures it with a white-noise input and
# one readout per delay $k$, trained to output $u_{t-k}$; the squared
# correlation $r^2$ of readout $k$ with its target, summed over delays,
# is the {term}`memory capacity <记忆容量>` (记忆容量):
#
# $$ \text{MC} = \sum_{k=1}^{k_{\max}} r^2\!\left(u_{t-k},\, y_k(t)\right).
# \tag{11.7} $$
#
# It is at most $N$ for a reservoir of $N$ units. `memory_capacity`
# follows reservoirpy's protocol ($u$ uniform in $[-0.8, 0.8]$,
# $10\,k_{\max}$ steps, the last 20 % for testing).

# %%
k_max, units = 60, 50
rho_grid = [0.2, 0.5, 0.8, 0.95, 1.1, 1.3]
mc_curves, mc_totals = {}, {}
for rho in rho_grid:
    per_seed = [
        memory_capacity(
            ESN(
                1,
                units,
                spectral_radius=rho,
                ridge=1e-8,
                input_scaling=0.1,
                generator=gen(seed),
            ),
            k_max,
            generator=gen(500 + seed),
            per_delay=True,
        )
        for seed in SEEDS
    ]
    mc_curves[rho] = torch.stack(per_seed)  # (seeds, k_max)
    mc_totals[rho] = mc_curves[rho].sum(1)  # (seeds,)

fig, (left, right) = plt.subplots(2, 1, figsize=(7, 7))
delays = torch.arange(1, k_max + 1)
for rho, color in zip(
    rho_grid, plt.cm.viridis(torch.linspace(0, 0.9, 6)), strict=True
):
    curves = mc_curves[rho]
    left.plot(delays, curves.mean(0), color=color, label=f"ρ = {rho:g}")
    left.fill_between(
        delays,
        curves.min(0).values,
        curves.max(0).values,
        color=color,
        alpha=0.2,
    )
left.set(
    xlabel="delay $k$",
    ylabel="$r^2$ of readout $k$",
    title=f"Memory of {units} units (mean and range, 5 seeds)",
)
left.legend()
totals = torch.stack([mc_totals[r] for r in rho_grid])  # (rhos, seeds)
for k in range(totals.shape[1]):
    right.plot(
        rho_grid, totals[:, k], "o-", color="tab:blue", alpha=0.5
    )
right.set(
    xlabel="spectral radius ρ",
    ylabel="memory capacity",
    title="Memory capacity against the spectral radius",
)
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
for rho in rho_grid:
    m = mc_totals[rho]
    print(
        f"ρ = {rho:4g}: MC {m.mean():5.1f} ({m.min():.1f}–{m.max():.1f})"
    )
best = max(rho_grid, key=lambda r: mc_totals[r].mean())
assert 0.8 <= best <= 1.1
assert mc_totals[0.2].max() < mc_totals[0.95].min()

# %% [markdown]
# The memory of every reservoir fades with the delay, and the spectral
# radius sets how fast: at $\rho = 0.2$ an input is forgotten within a
# few steps, near 1 it is remembered longest, and beyond 1 the capacity
# falls again, as the reservoir's own dynamics start to overwrite its
# input. That is the notes' trade-off ("the closer to 1, the longer the
# memory, the less stable"), measured.
#
# ## 11.6 A leaky ESN on a slow signal
#
# The {term}`leaky ESN <泄漏积分回声状态网络>` (泄漏积分回声状态网络) of
# Eq. (11.1) with $\alpha < 1$ averages its new activation with its old
# state, an exponential low-pass filter with time constant about
# $1/\alpha$ steps {cite}`ch11-jaeger2007optimization`. The task: the
# input is a slow sine (period 200 steps) buried in noise of the same
# size, and the readout must output the clean sine.

# %%
t = torch.arange(3000, dtype=torch.float64)
clean = torch.sin(2 * torch.pi * t / 200)
noise = torch.randn(3000, generator=gen(7), dtype=torch.float64)
noisy = (clean + noise)[:, None]
leaks = [1.0, 0.3, 0.1, 0.03]
leak_errors = {}
for alpha in leaks:
    errors = []
    for seed in SEEDS:
        net = ESN(
            1,
            100,
            spectral_radius=0.9,
            leak_rate=alpha,
            input_scaling=0.3,
            ridge=1e-4,
            generator=gen(seed),
        )
        net.fit(noisy[:2000], clean[:2000, None], washout=200)
        errors.append(nrmse(net.predict(noisy[2000:]), clean[2000:]))
    leak_errors[alpha] = torch.tensor(errors)

# %% tags=["nbval-ignore-output"]
for alpha in leaks:
    e = leak_errors[alpha]
    print(
        f"leak rate {alpha:4g}: NRMSE {e.mean():.3f} "
        f"({e.min():.3f}–{e.max():.3f})"
    )
assert leak_errors[0.1].max() < leak_errors[1.0].min()

# %% [markdown]
# The classic ESN ($\alpha = 1$) reacts to every noisy step; its
# readout cannot average over more than its short memory. Slowing the
# reservoir down to the time scale of the signal cuts the error by a
# large factor on every seed (from about 0.38 to about 0.10 at
# $\alpha = 0.1$); slower still ($\alpha = 0.03$) gains nothing more.
#
# ## 11.7 Deep and shallow at equal size
#
# A {term}`deep ESN <深度回声状态网络>` (深度回声状态网络) stacks
# reservoirs, each driven by the states of the one below, and reads out
# from all of them {cite}`ch11-gallicchio2017deep`:
#
# $$ x^{(1)}_t \text{ from } u_t, \qquad
# x^{(l)}_t \text{ from } x^{(l-1)}_t \text{ by Eq. (11.1)}. \tag{11.8} $$
#
# Three layers of 100 units against one of 300, on the one-step
# Mackey–Glass task of §11.4 and on memory capacity:


# %%
def compare_depth(make):
    nrmses, mcs = [], []
    for seed in SEEDS:
        net = make(seed, settings)
        net.fit(u_all[:train], y_all[:train], washout=100)
        prediction = net.predict(u_all[train : train + test])
        nrmses.append(nrmse(prediction, y_all[train : train + test]))
        mcs.append(
            memory_capacity(
                make(seed, memory), 100, generator=gen(900 + seed)
            )
        )
    return torch.tensor(nrmses), torch.tensor(mcs)


# memory capacity with §11.5's settings: a zero-mean input does not
# hold a reservoir of radius 1.25 in check
memory = dict(spectral_radius=0.95, input_scaling=0.1, ridge=1e-8)
depth = {
    "1 × 300": compare_depth(
        lambda s, kw: ESN(1, 300, generator=gen(s), **kw)
    ),
    "3 × 100": compare_depth(
        lambda s, kw: DeepESN(1, 100, 3, generator=gen(s), **kw)
    ),
}

# %% tags=["nbval-ignore-output"]
for name, (errors, mcs) in depth.items():
    print(
        f"{name}: NRMSE {errors.mean():.1e} "
        f"({errors.min():.1e}–{errors.max():.1e}), "
        f"MC {mcs.mean():.1f} ({mcs.min():.1f}–{mcs.max():.1f})"
    )
(s_err, s_mc), (d_err, d_mc) = depth["1 × 300"], depth["3 × 100"]
# no consistent winner: the ranges over the seeds overlap
assert d_err.min() < s_err.max() and s_err.min() < d_err.max()
assert d_mc.min() < s_mc.max() and s_mc.min() < d_mc.max()

# %% [markdown]
# Neither wins consistently: the ranges over the five seeds overlap for
# both the error and the memory capacity (the deep ESN's error has the
# wider spread). With the same settings in every layer, depth changes the mixture of time
# scales the readout sees (each layer filters the one below), not the
# number of features. The gains reported for deep ESNs
# {cite}`ch11-gallicchio2017deep` come with per-layer tuning of the leak
# rate and scaling, which is one of the things to try below.
#
# ## 11.8 What it costs, against an LSTM
#
# The point of an ESN is its training cost. One run, timed on this
# machine (so the printed seconds are not compared by the tests): an
# ESN of 500 units fitted to the one-step task, and an LSTM of 32 units
# trained with Adam (300 steps on random windows of 60 of the same
# 2 000 training steps).

# %% tags=["nbval-ignore-output"]
started = time.perf_counter()
net = ESN(1, 500, generator=gen(0), **settings)
net.fit(u_all[:train], y_all[:train], washout=100)
esn_seconds = time.perf_counter() - started
esn_error = nrmse(
    net.predict(u_all[train : train + test]),
    y_all[train : train + test],
)

torch.manual_seed(0)
lstm = torch.nn.LSTM(1, 32).double()
head = torch.nn.Linear(32, 1).double()
params = list(lstm.parameters()) + list(head.parameters())
optimizer = torch.optim.Adam(params, lr=1e-2)
windows = gen(0)
started = time.perf_counter()
for _ in range(300):  # random windows of 60 steps, 32 per batch
    first = torch.randint(0, train - 60, (32,), generator=windows)
    index = first[None, :] + torch.arange(60)[:, None]  # (60, 32)
    x, y = u_all[index], y_all[index]  # (60, 32, 1)
    out, _ = lstm(x)
    loss = torch.nn.functional.mse_loss(head(out)[10:], y[10:])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
lstm_seconds = time.perf_counter() - started
with torch.no_grad():
    out, _ = lstm(u_all[: train + test, None])
    lstm_pred = head(out)[train:, 0]
lstm_error = nrmse(lstm_pred, y_all[train : train + test])
print(f"ESN : {esn_seconds:6.2f} s, test NRMSE {esn_error:.1e}")
print(
    f"LSTM: {lstm_seconds:6.2f} s (300 Adam steps), "
    f"test NRMSE {lstm_error:.1e}"
)
assert esn_seconds < lstm_seconds and esn_error < lstm_error

# %% [markdown]
# The ESN is both faster and more accurate here, by orders of magnitude
# in time. That is the case for reservoirs: tasks where a rich, fixed
# dynamical system plus a linear readout suffices, such as the
# prediction of a smooth chaotic signal. The LSTM would eventually get
# there, and on tasks that need learned features (language, chapter 2)
# a random reservoir is no match for a trained network.
#
# ## 11.9 Quiz
#
# **Question 1.** Which weights of an ESN are trained?
#
# - A. All of them, by backpropagation through time.
# - B. Only $W_{\text{out}}$, by a linear least-squares problem.
# - C. $W$ and $W_{\text{out}}$; $W_{\text{in}}$ stays random.
# - D. None; the readout is random too.
#
# :::{dropdown} Answer
# **B.** $W_{\text{in}}$, $W$ and $b$ are drawn once; the readout is
# linear, so fitting it is ridge regression, Eq. (11.3), solved in one
# step.
# :::
#
# **Question 2.** Which statement about the echo state property is
# right?
#
# - A. It holds exactly when $\rho(W) < 1$.
# - B. $\sigma_{\max}(W) < 1$ guarantees it for $\tanh$ units; with
#   input, $\rho(W) > 1$ can still have it.
# - C. It is a property of $W_{\text{out}}$.
# - D. It requires the leak rate to be 1.
#
# :::{dropdown} Answer
# **B.** §11.2 measured both halves: reservoirs with $\rho = 1.2$ forget
# their start under input, and a two-unit reservoir with $\rho = 0.78$
# (but $\sigma_{\max} = 2.3$) never does.
# :::
#
# **Question 3.** A reservoir of 50 units has a memory capacity of 60.
# What is wrong?
#
# :::{dropdown} Answer
# The measurement: a linear readout of 50 states cannot recover more
# than 50 independent delayed inputs, so MC $\le N$. A capacity above $N$
# comes from scoring on the training data or on too short a test set.
# :::
#
# **Question 4.** The input changes slowly and is noisy. Which
# hyper-parameter do you change first?
#
# :::{dropdown} Answer
# The leak rate: a smaller $\alpha$ makes the reservoir a low-pass
# filter matched to the signal's time scale (§11.6).
# :::
#
# ## 11.10 What to try
#
# - Replace `torch.linalg.solve` in `ridge_readout` by an explicit
#   inverse and give it two nearly equal state columns
#   (`tests/test_esn.py` has such a case). What breaks?
# - Per-layer leak rates in the deep ESN (fast at the bottom, slow at
#   the top): does depth then help on Mackey–Glass?
# - Find the spectral radius above which §11.2's reservoirs stop
#   forgetting their start, for input scalings 0.1, 1 and 10.
# - Train the closed-loop ESN with a little noise on its inputs: does
#   the horizon of §11.4 grow?
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :keyprefix: ch11-
# ```
#
# ## Exercise
#
# In the exercise you write `scale_to_spectral_radius`, Eq. (11.4), `reservoir_step`,
# Eq. (11.1), `collect_states` (teacher forcing and the washout) and `ridge_readout`,
# Eq. (11.3), and put them together to predict a sine one step ahead. Its tests compare the
# middle two with `coursekit` in values and gradients, and judge the readout by what it
# outputs, on states that include two nearly equal columns, where an explicit inverse loses
# about four digits.
# {download}`Download the exercise notebook <../exercises/11_echo_state_networks/11_echo_state_networks.ipynb>`.
