# %% [markdown]
# # 7. Layer normalisation · 层归一化
#
# A deep network trains faster when the inputs of each layer are kept at a steady scale: a
# layer whose inputs drift in mean and spread while the layers below it learn keeps chasing
# a moving target, and its saturating units (the sigmoid and tanh of an LSTM's gates) stop
# passing gradient when their inputs grow. In feed-forward and convolutional networks the
# standard fix is {term}`batch normalisation <批归一化>` (批归一化, BN), which standardises
# every unit with the mean and variance of that unit *over the batch*. The lecture notes
# recall it, and then stop mid-sentence: "但是在 RNN 中不能使用 BN," (but in an RNN one cannot
# use BN). This chapter finishes the sentence, with measurements, and then builds the
# normalisation that does fit a recurrent network: {term}`layer normalisation <层归一化>`
# (层归一化, LayerNorm), which standardises over the *features of one example* and so needs
# neither the batch nor the time step.
#
# By the end of the chapter you will be able to
#
# - write layer norm, Eqs. (7.1)–(7.4), exactly as `torch.nn.functional.layer_norm`
#   computes it, and derive and write its backward pass by hand, Eqs. (7.5)–(7.7);
# - say, with numbers, why batch norm fits a recurrent net badly: its statistics drift with
#   the time step and with the sequence length, and at inference (one sequence at a time)
#   it computes a different function from the one that was trained;
# - write the layer-normalised LSTM of Ba et al., Eqs. (7.8)–(7.10), and read an
#   experiment that compares it with the plain LSTM over five seeds.
#
# The functions come from `coursekit.layernorm` and `coursekit.layernorm_rnn`; their
# docstrings cite the equation numbers used below.

# %%
import json
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from coursekit import LSTM, LayerNormLSTM, seed_everything
from coursekit.layernorm import (
    layer_norm,
    layer_norm_backward,
    layer_norm_forward,
)
from coursekit.plots import setup_chapter

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)

# %% [markdown]
# ## 7.1 Two ways to standardise a layer
#
# Take the pre-activations of one layer for a batch, a matrix $a$ of shape $(B, N)$: $B$
# examples, $N$ units. Batch norm (Ioffe & Szegedy {cite}`ch7-ioffe2015batch`; note 001
# writes it for a convolutional layer) standardises each *column*: unit $i$ gets the mean
# $\mu_i = \mathbb{E}_{x}[a_i]$ and variance $\sigma_i^2 = \mathbb{E}_x[(a_i - \mu_i)^2]$
# of that unit over the examples, $\bar a_i = g_i (a_i - \mu_i) / \sigma_i$ (plus a shift).
# Layer norm (Ba, Kiros & Hinton {cite}`ch7-ba2016layer`) standardises each *row*: example
# $b$ gets the mean and variance of its own $N$ units. The difference looks like a change
# of axis, and in the code it is one (`dim=0` against `dim=-1`); its consequences are not:
#
# - a column statistic needs the other examples, so batch norm must *estimate* the
#   population statistics for use at inference (a moving average kept during training),
#   and computes a different function in `train()` and `eval()`;
# - a row statistic needs nothing but the example, so layer norm computes the same thing in
#   training and at inference, for a batch of 64 or of 1.
#
# In a recurrent network a third axis appears, time, and §7.4 measures what it does to
# each.

# %% [markdown]
# ## 7.2 Layer norm
#
# Note 000 writes layer norm for the hidden state $h_t$ of a step as
# $\hat h_t = \frac{h_t - \mu_t}{\sqrt{\sigma_t^2 + \epsilon}} \odot \gamma + \beta$, with
# $\mu_t$ and $\sigma_t^2$ the mean and variance of the *features* of $h_t$, and the gain
# $\gamma$ and bias $\beta$ shared by all time steps. In general, for $x$ of shape
# `(..., *normalized_shape)` and $N$ the number of elements normalised together (those of
# the last dims), per leading index:
#
# $$ \mu = \frac{1}{N} \sum_{j=1}^{N} x_j , \tag{7.1} $$
#
# $$ \sigma^2 = \frac{1}{N} \sum_{j=1}^{N} (x_j - \mu)^2 , \tag{7.2} $$
#
# $$ \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} , \tag{7.3} $$
#
# $$ \mathrm{LN}(x; \gamma, \beta) = \gamma \odot \hat x + \beta . \tag{7.4} $$
#
# Three details decide whether the numbers equal torch's: the variance is the *biased* one
# (divide by $N$, not $N - 1$), $\epsilon$ (default $10^{-5}$) sits *inside* the square
# root, and $\gamma$, $\beta$ have the shape of the normalised dims (one gain per feature,
# not one per example). The code:
#
# ```{literalinclude} ../coursekit/layernorm.py
# :pyobject: layer_norm_forward
# ```
#
# It equals torch's layer norm in values and gradients (the tests in
# `tests/test_layernorm.py` check every option). On one example, by hand and against
# torch, in float64:

# %%
x = torch.tensor([[1.0, 2.0, 3.0, 6.0]], dtype=torch.float64)
gamma = torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64)
beta = torch.tensor([0.0, 0.0, 1.0, -1.0], dtype=torch.float64)
y = layer_norm(x, 4, gamma, beta)
print(
    "mean 3, variance 3.5: x_hat =",
    ((x - 3) / 3.5**0.5).numpy().round(4),
)
print("LN(x; gamma, beta)    =", y.numpy().round(4))
torch_y = F.layer_norm(x, (4,), gamma, beta)
print("equal to F.layer_norm:", torch.allclose(y, torch_y, atol=1e-14))

# %% [markdown]
# The statistics are those of the row, so a row gives the same output alone as in any
# batch: this is the property batch norm lacks.

# %%
g = torch.Generator().manual_seed(0)
batch = torch.randn(64, 16, generator=g, dtype=torch.float64) * 3 + 1
in_batch = layer_norm(batch, 16)[5]
alone = layer_norm(batch[5:6], 16)[0]
print(
    "row 5 alone == row 5 in a batch of 64:",
    torch.equal(in_batch, alone),
)

# %% [markdown]
# ## 7.3 The backward pass, by hand
#
# Let $g = \partial L / \partial y$ be the gradient that arrives at the output, shaped like
# $x$, and $s = 1/\sqrt{\sigma^2 + \epsilon}$. The parameters are the easy part: $y = \gamma
# \odot \hat x + \beta$ is elementwise in them and they are shared by all leading indices
# (the batch, and the time steps, when the layer is applied at every step), so their
# gradients sum over those:
#
# $$ \frac{\partial L}{\partial \beta} = \sum_{\text{leading}} g , \qquad
# \frac{\partial L}{\partial \gamma} = \sum_{\text{leading}} g \odot \hat x ,
# \tag{7.5} $$
#
# and the gradient that reaches $\hat x$ is
#
# $$ \hat d := \frac{\partial L}{\partial \hat x} = g \odot \gamma
# \quad (\hat d = g \text{ without } \gamma). \tag{7.6} $$
#
# For $x$, every $x_j$ of a row reaches every $\hat x_i$ of that row three ways: directly,
# through $\mu$ and through $\sigma^2$. With $\partial \mu / \partial x_j = 1/N$ and
# $\partial \sigma^2 / \partial x_j = 2 (x_j - \mu) / N$ (the second term of the chain,
# $-\frac{2}{N}\sum_i (x_i - \mu)$, is zero), differentiating $\hat x_i = (x_i - \mu) s$:
#
# \begin{equation*}
# \begin{aligned}
# \frac{\partial \hat x_i}{\partial x_j}
#   &= s\,\delta_{ij} - \frac{s}{N} - (x_i - \mu)\,\frac{s^3}{2}\,
#      \frac{2 (x_j - \mu)}{N} \\
#   &= \frac{s}{N} \left( N \delta_{ij} - 1 - \hat x_i \hat x_j \right), \\
# \frac{\partial L}{\partial x_j}
#   &= \sum_i \hat d_i \frac{\partial \hat x_i}{\partial x_j} \\
#   &= s \left( \hat d_j - \frac{1}{N}\sum_i \hat d_i
#      - \hat x_j \, \frac{1}{N} \sum_i \hat d_i \hat x_i \right).
# \end{aligned}\tag{7.7}
# \end{equation*}
#
# Read it as a projection: from $\hat d$, remove its mean (a shift of a whole row does not
# change $\hat x$) and its component along $\hat x$ (nor does a stretch about the mean),
# then scale by $s$. In code, with the means over the normalised dims:
#
# ```{literalinclude} ../coursekit/layernorm.py
# :pyobject: layer_norm_backward
# ```
#
# Against autograd through torch's layer norm, on a batch of sequences `(T, B, H)` with a
# gain and a bias shared by every step:

# %%
g = torch.Generator().manual_seed(1)
T, B, H = 6, 4, 8
x = torch.randn(T, B, H, generator=g, dtype=torch.float64) * 2 + 1
gamma = torch.rand(H, generator=g, dtype=torch.float64) + 0.5
beta = torch.randn(H, generator=g, dtype=torch.float64)
grad_y = torch.randn(T, B, H, generator=g, dtype=torch.float64)
y, cache = layer_norm_forward(x, H, gamma, beta)
manual = layer_norm_backward(grad_y, cache)
leaves = [t.clone().requires_grad_(True) for t in (x, gamma, beta)]
F.layer_norm(leaves[0], (H,), leaves[1], leaves[2]).backward(grad_y)
for name, mine, leaf in zip(
    ("dx", "dgamma", "dbeta"), manual, leaves, strict=True
):
    same = torch.allclose(mine, leaf.grad, rtol=0, atol=1e-12)
    print(f"{name:6s} {tuple(mine.shape)}  equal to autograd: {same}")
# the two removed directions: every row of dx has mean 0 and is
# orthogonal to x_hat (up to eps: the cosine is of order eps/var)
dx = manual[0]
cosine = F.cosine_similarity(dx, cache.x_hat, dim=-1)
print(
    "row means of dx ~ 0:",
    dx.mean(-1).abs().max().item() < 1e-12,
    " |cos(dx, x_hat)| < 1e-4:",
    cosine.abs().max().item() < 1e-4,
)

# %% [markdown]
# ## 7.4 Why batch norm fits a recurrent net badly, measured
#
# Note 000 gives two reasons: the sequences of a batch have different lengths, so
# statistics kept for each time step are awkward and inefficient; and at inference an RNN
# processes one sample, with no batch, so batch norm has to fall back on moving averages
# from training. Note 001's sentence can be finished the same way: *but in an RNN one cannot
# use BN as it is, because the statistics of a unit change with the time step and with the
# length of the sequence, and because at inference, one sequence at a time, there is no
# batch to take them from*. Here is each part measured, on the LSTM that chapter 4 trained on
# the adding problem (sequences of $T = 50$ steps; its weights ship with the book), applied
# in float64. What batch norm would normalise in a recurrent layer is the recurrent
# pre-activation $a_t = h_{t-1} W_{hh}^\top$, shape $(B, 4H)$ at each step; we record it
# for 2 048 sequences of length 50 and of length 100.

# %%
sys.path.insert(
    0, str(Path.cwd().parent)
)  # the repository: tools/experiments/
from tools.experiments.adding_problem import Regressor, adding_batch

weights = torch.load("data/adding_problem_seed0.pt")["LSTM"]
trained = Regressor("LSTM").double()
trained.load_state_dict({k: v.double() for k, v in weights.items()})


def recurrent_preactivations(steps, batch, seed):
    """a_t = h_(t-1) W_hh^T of the trained LSTM, (T, B, 4H)."""
    generator = torch.Generator().manual_seed(seed)
    x, _ = adding_batch(generator, steps, batch)
    with torch.no_grad():
        out, _ = trained.layer(x.double())  # (T, B, H)
        h_prev = torch.cat([torch.zeros_like(out[:1]), out[:-1]])
        return h_prev @ trained.layer.weight_hh_l0.T  # (T, B, 4H)


a50 = recurrent_preactivations(50, 2048, seed=0)
a100 = recurrent_preactivations(100, 2048, seed=1)
print(
    "a_t for T = 50:", tuple(a50.shape), " T = 100:", tuple(a100.shape)
)

# %% [markdown]
# **Drift with $t$ and with the sequence length.** The batch mean and standard deviation of
# a few units of $a_t$, step by step:

# %%
units = [0, 40, 70, 100]  # one unit from each gate's block of 32
fig, (ax_mu, ax_sd) = plt.subplots(2, 1, figsize=(7, 5.6), sharex=True)
colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
for unit, color in zip(units, colors, strict=True):
    for a, style, length in [(a50, "-", 50), (a100, "--", 100)]:
        name = f"unit {unit}, T = {length}"
        ax_mu.plot(
            a[:, :, unit].mean(1), style, color=color, label=name
        )
        ax_sd.plot(a[:, :, unit].std(1), style, color=color)
ax_mu.set(
    ylabel="batch mean of $a_t$",
    title="Per-step batch statistics of the trained LSTM's "
    "recurrent pre-activations",
)
ax_sd.set(xlabel="time step t", ylabel="batch std of $a_t$")
ax_mu.legend(fontsize=7, ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# At $t = 0$ the state is zero, so every $a_0$ is exactly 0 (a batch variance of 0). The
# means settle within a few steps, but the spreads keep growing with $t$ for as long as the
# sequence lasts, because what the state holds changes with $t$ (in this task: whether the
# first marked value has been seen, and later the second). And the spreads for sequences
# of 100 steps (dashed) are not those for 50 (solid): the same unit at the same step is
# spread less when the sequences are longer (the markers fall in the halves of a longer
# sequence, so at step 30 fewer of them have been seen). So one set of statistics for all
# steps is wrong at most steps, and one set per step (Cooijmans et al.'s
# recurrent batch norm {cite}`ch7-cooijmans2017recurrent`) is only right for the lengths it
# was estimated on, and has nothing for steps beyond the longest training sequence. How far
# off are they? A single number for each method: the root mean square difference, over
# units, examples and steps, between the normalisation it computes at inference and the one
# the step's true statistics give (what a large training batch of such sequences computes).

# %%
eps = 1e-5


def standardise(a, mu, var):
    return (a - mu) / (var + eps).sqrt()


def rms(d):
    """root mean square over examples and units, per step: (T,)"""
    return d.square().mean(dim=(1, 2)).sqrt()


def mismatch(a_test, a_train):
    """Per-step RMS error of each inference rule against the true
    per-step statistics of a_test's population."""
    T_train = a_train.shape[0]
    true = standardise(
        a_test,
        a_test.mean(1, keepdim=True),
        a_test.var(1, unbiased=False, keepdim=True),
    )
    # one BN shared by all steps: moving averages pooled over time
    pooled = standardise(
        a_test,
        a_train.mean((0, 1)),
        a_train.var((0, 1), unbiased=False),
    )
    # one BN per step (the last one reused past the training length)
    step = torch.arange(a_test.shape[0]).clamp(max=T_train - 1)
    mu_t = a_train.mean(1)[step].unsqueeze(1)
    var_t = a_train.var(1, unbiased=False)[step].unsqueeze(1)
    per_step = standardise(a_test, mu_t, var_t)
    # batch of one in training mode: x - mean over one example = 0
    one = torch.zeros_like(a_test)
    return {
        "BN in train() on a batch of 1": rms(one - true),
        "BN, statistics pooled over time": rms(pooled - true),
        "BN, statistics per step": rms(per_step - true),
    }


# test sequences like the training ones (another draw of T = 50)
same = mismatch(recurrent_preactivations(50, 2048, seed=2), a50)
# test sequences twice as long as the training ones
longer = mismatch(a100, a50)
# layer norm at inference, batch of 1, against in the batch
ln_batch = layer_norm(a100, a100.shape[-1])
ln_alone = torch.cat(
    [layer_norm(a100[:, b : b + 1], a100.shape[-1]) for b in range(8)],
    dim=1,
)  # (T, 8, 4H): each sequence normalised as a batch of one
ln_error = (ln_alone - ln_batch[:, :8]).abs().max().item()
print(f"{'RMS error at inference (units of std)':40s}  T=50  T=100")
for name in same:
    print(
        f"{name:40s}  {same[name][1:].mean():4.2f}  "
        f"{longer[name][1:].mean():4.2f}"
    )
print(
    f"{'LN, batch of 1 against in the batch':40s}  {ln_error:4.2f}  (max)"
)

# %% [markdown]
# (Step 0 is left out of the averages: there $a_0 = 0$ for every sequence, a variance of 0,
# a degenerate case for every method.) The error is in units of the step's true standard
# deviation, so 1 is as large as the signal itself:
#
# - **a batch of one in `train()` mode** is useless: each unit minus its mean over one
#   example is 0, so the layer outputs $\beta$ whatever the input (torch's `BatchNorm1d`
#   refuses, with "Expected more than 1 value per channel when training");
# - **statistics pooled over time**, which is what one `BatchNorm1d` applied at every step
#   with its moving averages learns, are off by a large fraction of a standard deviation,
#   at every step;
# - **statistics kept per step** are right for sequences like the training ones (the
#   small error left is the estimate's sampling noise) but wrong for longer ones: past step
#   49 there is no statistic for the step, and before it, longer sequences have other
#   statistics;
# - **layer norm** has no statistics to estimate: a batch of one gives exactly the numbers
#   of the batch.
#
# The error per step, which shows where each goes wrong:

# %%
fig, axes = plt.subplots(2, 1, figsize=(7, 5.6), sharey=True)
for ax, errors, title in [
    (axes[0], same, "test sequences of 50 steps, like training"),
    (axes[1], longer, "test sequences of 100 steps (training: 50)"),
]:
    for (name, error), color in zip(
        errors.items(), colors[:3], strict=True
    ):
        ax.semilogy(
            range(1, len(error)), error[1:], color=color, label=name
        )
    ax.axvline(49.5, color="gray", ls=":", lw=1)
    ax.set(title=title, ylabel="RMS error (std units)")
axes[1].set_xlabel("time step t")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7.5 The layer-normalised LSTM
#
# Ba et al. apply layer norm inside the LSTM at three places: to the input product and to
# the recurrent product *separately* (each over all $4H$ pre-activations of the four gates,
# in torch's gate order $i, f, g, o$), and to the cell before the output tanh. The cell that
# is carried to the next step is **not** normalised, so the cell highway of chapter 4 stays
# as it was:
#
# \begin{equation*}
# \begin{aligned}
# z_t = {}& \mathrm{LN}(x_t W_{ih}^\top; \gamma_{ih}, \beta_{ih}) \\
#   &+ \mathrm{LN}(h_{t-1} W_{hh}^\top; \gamma_{hh}, \beta_{hh}) + b_{ih} + b_{hh},
# \end{aligned}\tag{7.8}
# \end{equation*}
#
# $$ c_t = f_t \odot c_{t-1} + i_t \odot g_t , \tag{7.9} $$
#
# $$ h_t = o_t \odot \tanh\big(\mathrm{LN}(c_t; \gamma_c, \beta_c)\big), \tag{7.10} $$
#
# with $i_t, f_t, o_t = \sigma(\cdot)$ and $g_t = \tanh(\cdot)$ of the four $H$-wide
# chunks of $z_t$, as in Eqs. (4.1)–(4.5). (Eqs. (7.11)–(7.13) of
# `coursekit.layernorm_rnn` are the same construction for the GRU.) Normalising the two
# products separately matters: $x_t W_{ih}^\top$ and $h_{t-1} W_{hh}^\top$ have different
# scales, and each gets its own gain. The step, in code:
#
# ```{literalinclude} ../coursekit/layernorm_rnn.py
# :pyobject: layer_norm_lstm_step
# ```
#
# A consequence of Eq. (7.8) that Ba et al. call invariance to weight re-scaling: multiply
# $W_{ih}$ or $W_{hh}$ by any $\alpha > 0$ and $\mathrm{LN}$ removes it (exactly with
# $\epsilon = 0$). The plain LSTM has no such protection: large weights saturate its gates.

# %%
seed_everything(0)
ln_lstm = LayerNormLSTM(3, 8, eps=0.0).double()
plain = LSTM(3, 8).double()
x = torch.randn(20, 2, 3, dtype=torch.float64)
# a nonzero initial state: with eps = 0, LN of h_0 W_hh^T = 0 is 0/0
hx = tuple(torch.randn(2, 1, 2, 8, dtype=torch.float64))
out_ln, _ = ln_lstm(x, hx)
out_plain, _ = plain(x, hx)
with torch.no_grad():
    for layer in (ln_lstm, plain):
        layer.weight_ih_l0.mul_(4)
        layer.weight_hh_l0.mul_(4)
change_ln = (ln_lstm(x, hx)[0] - out_ln).abs().max().item()
change_plain = (plain(x, hx)[0] - out_plain).abs().max().item()
print(f"weights x4: LN-LSTM output unchanged: {change_ln < 1e-12}")
print(f"weights x4: LSTM output changes by up to {change_plain:.2f}")

# %% [markdown]
# ### An experiment: LSTM against LN-LSTM on the adding problem
#
# Does it help training? The experiment `tools/experiments/layernorm_lstm.py` trains the
# course LSTM and the LN-LSTM (32 units each, a linear readout of the last state) on
# chapter 4's adding problem with $T = 50$ (Adam, learning rate $10^{-2}$, gradient norm
# clipped at 1, 600 steps of fresh batches of 64), from five seeds, each from torch's
# initialisation and from the same draw with the weight matrices multiplied by 4, a
# poorly scaled initialisation that we expected to hurt the plain LSTM. Answering the mean
# scores MSE $1/6 \approx 0.167$. The whole sweep took 7.6 minutes on one CPU thread (the
# LN-LSTM runs coursekit's readable Python loop, about five times slower per step than the
# LSTM). One setting:
#
# ```{literalinclude} ../tools/experiments/layernorm_lstm.py
# :pyobject: run
# ```

# %%
ln_log = json.loads(Path("data/layernorm_lstm.json").read_text())
runs = ln_log["runs"]
labels = list(runs[0]["models"])


def smooth(curve, width=20):
    """moving average over `width` steps"""
    curve = torch.tensor(curve)
    return curve.unfold(0, width, 1).mean(1)


def first_solved(curve, level=0.05):
    """first step whose 20-step average loss is below `level`, or None"""
    below = (smooth(curve) < level).nonzero()
    return below[0].item() if len(below) else None


print(f"{len(runs)} seeds; answering the mean scores 0.167")
print(f"{'model':18s} {'test MSE, per seed':38s} step < 0.05")
for label in labels:
    mse = [run["models"][label]["test_mse"] for run in runs]
    solved = [
        first_solved(run["models"][label]["loss"]) for run in runs
    ]
    print(
        f"{label:18s} "
        + " ".join(f"{m:6.4f}" for m in mse)
        + "  "
        + ",".join("-" if s is None else str(s) for s in solved)
    )

# %%
palette = {"LSTM": "tab:red", "LN-LSTM": "tab:blue"}
fig, axes = plt.subplots(2, 1, figsize=(7, 6), sharex=True, sharey=True)
for ax, scale in zip(axes, (1.0, 4.0), strict=True):
    for run in runs:
        for logged in run["models"].values():
            if logged["scale"] != scale:
                continue
            ax.semilogy(
                smooth(logged["loss"]),
                color=palette[logged["model"]],
                lw=0.9,
                alpha=0.8,
                label=logged["model"] if run["seed"] == 0 else None,
            )
    ax.axhline(
        1 / 6, color="black", ls=":", lw=1, label="the mean, 1/6"
    )
    ax.set(
        ylabel="training MSE (20-step mean)",
        title=f"weights x{scale:g} at initialisation, five seeds",
    )
    ax.legend(fontsize=8)
axes[1].set_xlabel("step")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What all five seeds show.** The LN-LSTM learns the task several times faster, from
# both initialisations: every one of its ten runs gets below a training MSE of 0.05 by
# step 120, and all end with a test MSE of 0.0023 or less. The plain LSTM from torch's
# initialisation gets there between steps 400 and 520 on three seeds and not at all in 600
# steps on the other two (test MSE 0.08 and 0.17, the second no better than the mean). The
# initialisation scaled by 4 did **not** do what we expected: it *helped* the plain LSTM
# (all five seeds solve the task, between steps 310 and 480, test MSE 0.002–0.004), and it
# slowed the LN-LSTM a little (by about 20 steps). Both are explained by the scale of the
# gates: larger recurrent weights push the LSTM's gates towards 0 and 1, which is what
# remembering a value over 50 steps needs; and the LN-LSTM, which is invariant to the scale
# of its weights, sees a gradient four times smaller relative to weights four times larger,
# so Adam's steps of a fixed size change it more slowly. So this experiment supports "layer
# norm speeds up training of an LSTM", on one small task, and does not support "layer norm
# rescues a badly scaled initialisation": here the bad scale was not bad for the LSTM. The
# claims, against every seed:

# %%
solved = {
    label: [first_solved(run["models"][label]["loss"]) for run in runs]
    for label in labels
}
mse = {
    label: [run["models"][label]["test_mse"] for run in runs]
    for label in labels
}
for scale in ("x1", "x4"):
    ln = solved[f"LN-LSTM, init {scale}"]
    assert all(s is not None and s < 120 for s in ln)
    assert max(mse[f"LN-LSTM, init {scale}"]) < 0.003
    lstm = solved[f"LSTM, init {scale}"]
    assert all(s is None or s > 300 for s in lstm)
assert sum(s is None for s in solved["LSTM, init x1"]) == 2
assert all(s is not None for s in solved["LSTM, init x4"])
print("every claim above holds on all five seeds")

# %% [markdown]
# ## 7.6 The notes' claims, checked
#
# **Note 000's formula** $\hat h_t = \frac{h_t - \mu_t}{\sqrt{\sigma_t^2 + \epsilon}} \odot
# \gamma + \beta$, "statistics over the feature dimension of one sample, $\gamma$ and $\beta$
# shared by all time steps": this is Eqs. (7.1)–(7.4) with the statistics of each step's
# own features, and it is what `torch.nn.LayerNorm(H)` does when it is applied to a
# `(T, B, H)` tensor, §7.3's example. Two details it leaves open are settled by Ba et al.
# and by torch: the variance is the biased one, and $\epsilon$ is inside the square root.
# Where exactly an LSTM normalises is not in note 000; §7.5 follows Ba et al. (two products
# normalised separately, and the cell before the output tanh, not the carried cell).
#
# **Why batch norm fits an RNN badly** (note 000): both reasons hold, and §7.4 measures
# them. The statistics of a step are not those of another step, nor those of the same step
# in longer sequences; and one sequence at inference leaves batch norm with a choice
# between a useless batch of one and moving averages that are wrong by a large fraction of
# a standard deviation (pooled over time) or right only for the training lengths (per
# step). "Cannot" is too strong: Cooijmans et al. {cite}`ch7-cooijmans2017recurrent` make
# batch norm work in an LSTM with statistics per time step (reusing the last ones for
# longer sequences) and a carefully small initial gain, and Laurent et al.
# {cite}`ch7-laurent2016batch` find it helps only on the input-to-hidden products. It is
# possible, and awkward, which is the notes' point; layer norm has none of the trouble.
#
# **Note 001's sentence**, finished: *but in an RNN one cannot use BN as it is, because a
# unit's statistics change with the time step and with the sequence length, and at
# inference, one sequence at a time, there is no batch to take them from.*

# %% [markdown]
# ## 7.7 What goes wrong
#
# - **The wrong axis.** `x.mean(0)` instead of `x.mean(-1)` is batch norm, not layer norm;
#   it passes every test on a single large batch and breaks on a batch of one.
# - **The unbiased variance.** `x.var(-1)` divides by $N - 1$: the outputs are off by the
#   factor $\sqrt{(N-1)/N}$, 3% for $N = 16$, and no longer equal torch's.
# - **$\epsilon$ outside the square root.** $(x - \mu)/(\sigma + \epsilon)$ is another
#   function: the same for large variances, far apart when $\sigma^2$ is near $\epsilon$
#   (at $t = 0$ in §7.4, where every $a_0$ is 0, for instance).
# - **Normalising the carried cell**, or normalising after the tanh: both change the LSTM.
#   The carried cell $c_t$ of Eq. (7.9) stays unnormalised so that a remembered value keeps
#   its size; normalising *after* the tanh puts $h_t$ outside $(-1, 1)$.
# - **A single feature.** With $N = 1$, $\hat x = 0$ for every input: layer norm over one
#   unit erases it. A hidden size of 1 in an LN-LSTM makes its cell norm output $\beta_c$.

# %% [markdown]
# ## 7.8 Quiz
#
# **Question 1.** A layer's activations for a batch form the matrix $a$ of shape $(B, N)$.
# Over which axis does layer norm take its mean, and over which does batch norm?
#
# - A. Both over the batch, axis 0; they differ only in the moving averages.
# - B. Layer norm over the features of each example (axis 1); batch norm over the examples
#   for each feature (axis 0).
# - C. Layer norm over the examples; batch norm over the features.
# - D. Both over all $B N$ entries.
#
# :::{dropdown} Answer
# **B.** Layer norm's statistics belong to one example, Eqs. (7.1)–(7.2), which is why it
# needs no other examples and no moving averages; batch norm's belong to one unit over the
# batch (note 001's formula), §7.1.
# :::
#
# **Question 2.** Why does an LSTM with batch norm, trained on sequences of 50 steps, behave
# differently at inference on one sequence of 100 steps? Name two reasons.
#
# :::{dropdown} Answer
# At inference there is no batch: statistics over one example are degenerate (the
# normalised value is 0), so batch norm must use estimates kept from training. And those
# estimates are wrong for this input: pooled over all steps they ignore that statistics
# drift with $t$; kept per step, they stop at step 50, and the statistics of a step also
# change with the sequence length. §7.4 measures both. Layer norm has neither problem.
# :::
#
# **Question 3.** In Eq. (7.7), why is $\partial L / \partial x$ orthogonal to $\hat x$ and
# of mean zero along each row?
#
# :::{dropdown} Answer
# Because $\hat x$ does not change when a row of $x$ is shifted by a constant (the mean
# absorbs it) or stretched about its mean (the standard deviation absorbs it, up to
# $\epsilon$). The loss depends on $x$ only through $\hat x$, so its gradient has no
# component along $(1, \dots, 1)$ and (for $\epsilon \to 0$) none along $x - \mu$, i.e.
# along $\hat x$. The two subtracted terms of Eq. (7.7) remove exactly those components.
# :::
#
# **Question 4.** Which statement about the LN-LSTM of Eqs. (7.8)–(7.10) is *wrong*?
#
# - A. Multiplying $W_{hh}$ by 10 leaves its outputs unchanged (with $\epsilon = 0$).
# - B. The cell $c_t$ carried to the next step is normalised.
# - C. The input and recurrent products are normalised separately.
# - D. It computes the same function on a batch of one as in a batch.
#
# :::{dropdown} Answer
# **B.** Only the copy of $c_t$ that goes into the output tanh is normalised, Eq. (7.10);
# the carried cell of Eq. (7.9) is not, so the cell highway of chapter 4 is kept (pytorch's
# `custom_lstms.py` benchmark does carry the normalised cell, a different model). A is
# §7.5's invariance; C is Eq. (7.8); D holds because layer norm has no batch statistics.
# :::

# %% [markdown]
# ## 7.9 What to try
#
# - **A harder task.** Run `tools/experiments/layernorm_lstm.py` with `"length": 200` in
#   `CONFIG` (and `--out` a file of your own). Does the LN-LSTM's lead grow with the length?
# - **Where to normalise.** Remove one of the three norms of Eq. (7.8)–(7.10) at a time
#   (give `layer_norm_lstm_step` a pair `(None, None)` and skip the call). Which one carries
#   the speed-up on the adding problem?
# - **Recurrent batch norm.** Write a step that normalises $x_t W_{ih}^\top$ and
#   $h_{t-1} W_{hh}^\top$ with per-step batch statistics and per-step moving averages, as
#   Cooijmans et al. do, and measure its train/inference gap on §7.4's sequences of 100.
# - **The GRU.** `coursekit.LayerNormGRU` is Eqs. (7.11)–(7.13). Add it to the experiment's
#   `LAYERS`; does layer norm help a GRU as much as an LSTM?
# - **A language model.** Replace the LSTM of a character model by `LayerNormLSTM` and
#   compare validation bits per character after the same number of steps.
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :keyprefix: ch7-
# ```
#
# ## Exercise
#
# In the exercise you write `layer_norm`, Eqs. (7.1)–(7.4), its backward by hand,
# `layer_norm_backward`, Eqs. (7.5)–(7.7), and one step of the LN-LSTM,
# `layer_norm_lstm_step`, Eqs. (7.8)–(7.10); its tests compare them with `coursekit` (and
# so with torch) on many random inputs, in values and gradients.
# {download}`Download the exercise notebook <../exercises/07_layer_normalisation/07_layer_normalisation.ipynb>`.
