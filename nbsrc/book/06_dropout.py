# %% [markdown]
# # 6. Dropout for recurrent networks · 循环神经网络的丢弃法
#
# A recurrent language model with a few hundred thousand parameters can learn a few hundred
# thousand characters by heart. Give it less text than it can hold and it does: the loss on
# the training text keeps falling, and the loss on text it has not seen stops falling and
# climbs. That is {term}`overfitting <过拟合>` (过拟合), and the standard cure for it in
# feed-forward networks is {term}`dropout <丢弃法>` (丢弃法): at every training step, switch
# off a random fraction of the units. A recurrent net is one feed-forward layer used at
# every time step, though, and *how* the random choice is repeated over time turns out to
# matter: redraw it at every step in the recurrence and the state that carries the memory is
# hit by fresh noise at every step. This chapter is about where the masks go.
#
# By the end of the chapter you will be able to
#
# - write inverted dropout, Eq. (6.1), and the *locked* mask of variational dropout, one per
#   sequence, Eq. (6.2);
# - put the masks of a variational LSTM where Gal and Ghahramani put them, Eqs.
#   (6.3)–(6.4), and tell them from Zaremba et al.'s "naive" dropout, Eq. (6.5), embedding
#   dropout, Eq. (6.6), and weight drop, Eq. (6.7);
# - explain, with a count of open paths through time, why a fresh mask on the recurrent
#   state at every step is the wrong default;
# - read a five-seed experiment with five kinds of dropout on a char-LSTM that overfits, and
#   say what it does and does not show.
#
# The functions come from `coursekit.dropout`; its docstrings cite the equation numbers
# used below.

# %%
import json
import math
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from coursekit import (
    LSTM,
    DropoutLSTM,
    DropoutMasks,
    dropout_lstm_cell_step,
    dropout_mask,
    embedding_dropout,
    locked_dropout,
    seed_everything,
)
from coursekit.plots import setup_chapter

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)

# %% [markdown]
# ## 6.1 A char-LSTM that overfits
#
# Chapter 4's char-LSTM, made small (32-dimensional embeddings, 128 LSTM units, about
# 94 000 parameters), is trained on only the first 20 000 characters of Tiny Shakespeare's
# training text, for 600 steps of 32 windows of 64 characters: the slice is seen about 60
# times. Every 50 steps the experiment measures, with dropout off, the loss on that training
# slice and on the first 10 000 characters of the shared validation text (chapter 2's
# split). Five seeds; each seed draws the initial weights, the training windows and the
# dropout masks. The script is `tools/experiments/dropout_lm.py`, and one run is
#
# ```{literalinclude} ../tools/experiments/dropout_lm.py
# :pyobject: train
# ```

# %%
sys.path.insert(0, str(Path.cwd().parent))  # tools/experiments/
from tools.experiments.dropout_lm import VARIANTS, dropout_options

drop_log = json.loads(Path("data/dropout_lm.json").read_text())
config = drop_log["config"]
runs = drop_log["runs"]


def per_seed(variant, key):
    """The logged `key` of `variant`, one entry per seed."""
    return [run["models"][variant][key] for run in runs]


def curves(variant, key):
    """(steps, a (seeds, evaluations) tensor of `key`)."""
    values = torch.tensor(per_seed(variant, key))
    return runs[0]["models"][variant]["steps"], values


steps, train = curves("none", "train_bits")
_, valid = curves("none", "valid_bits")
best = valid.min(dim=1)
print(f"no dropout, {len(runs)} seeds, bits/char:")
print(
    f"{'seed':>4s} {'best valid':>10s} {'at step':>7s} {'final valid':>11s}"
    f" {'final train':>11s}"
)
for k, run in enumerate(runs):
    print(
        f"{run['seed']:4d} {best.values[k]:10.3f} "
        f"{steps[best.indices[k]]:7d} {valid[k, -1]:11.3f} "
        f"{train[k, -1]:11.3f}"
    )

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for k in range(len(runs)):
    first = k == 0
    ax.plot(
        steps,
        train[k],
        color="tab:blue",
        lw=1,
        alpha=0.7,
        label="training slice" if first else None,
    )
    ax.plot(
        steps,
        valid[k],
        color="tab:red",
        lw=1,
        alpha=0.7,
        label="validation text" if first else None,
    )
ax.set(
    xlabel="training step",
    ylabel="bits/char (dropout off)",
    ylim=(1.5, 4.5),
    title="No dropout: five seeds of a char-LSTM on 20 000 characters",
)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# the claims of the text, on every seed
assert (valid[:, -1] > best.values + 0.1).all()  # it turns up
assert (valid[:, -1] - train[:, -1] > 1.0).all()  # a gap of > 1 bit

# %% [markdown]
# All five seeds tell the same story. The validation loss is best at step 250 or 300, at
# 3.30 to 3.34 bits/char, and then rises, to 3.40–3.52 by step 600, while the loss on the
# training slice keeps falling, to 1.8–1.9: the model spends its last 300 steps learning the
# slice rather than English. The gap between the two curves, 1.5 to 1.7 bits per character
# at the end, is what dropout is meant to close.

# %% [markdown]
# ## 6.2 Dropout and its mask
#
# Dropout {cite}`ch6-srivastava2014dropout` multiplies the units of a layer by a random mask.
# With *inverted* scaling the mask is
#
# $$
# M = \frac{Z}{1 - p}, \qquad Z_{ij} \sim \text{Bernoulli}(1 - p),
# \tag{6.1}
# $$
#
# every entry independent: a unit is dropped (0) with probability $p$ and kept, and scaled
# up to $1/(1-p)$, otherwise. The scaling makes $\mathbb{E}[M_{ij}] = 1$, so
# $\mathbb{E}[x \odot M] = x$: the layer's output has the same expected value with and
# without dropout, and at test time dropout is simply switched off (the original paper
# kept the units unscaled and multiplied the weights by $1-p$ at test time instead). `coursekit.dropout_mask` is Eq. (6.1):

# %% tags=["nbval-ignore-output"]
generator = torch.Generator().manual_seed(0)
for p in [0.2, 0.5]:
    mask = dropout_mask((1000, 100), p, generator, dtype=torch.float64)
    values = sorted(set(mask.unique().tolist()))
    kept = (mask != 0).double().mean().item()
    print(
        f"p = {p}: values {values}, kept {kept:.4f} "
        f"(expected {1 - p}), mean {mask.mean():.4f}"
    )
    # four standard errors of a proportion over 100 000 entries
    assert abs(kept - (1 - p)) < 4 * math.sqrt(p * (1 - p) / 1e5)
    assert values == [0.0, 1 / (1 - p)]

# %% [markdown]
# In a recurrent net the question is what to do over time. The mask can be redrawn at every
# step, as a feed-forward net redraws it for every example, or drawn once per sequence and
# kept for all its steps, which {cite:t}`ch6-gal2016theoretically` call
# {term}`variational dropout <变分丢弃法>` (变分丢弃法) and AWD-LSTM
# {cite}`ch6-merity2018regularizing` calls *locked* dropout:
#
# $$
# y_t = x_t \odot M \ \text{ for every } t, \quad M \in \mathbb{R}^{B \times F}
# \text{ drawn once by (6.1)}.
# \tag{6.2}
# $$
#
# One row of $M$ per sequence of the batch, so different sequences drop different units,
# but each sequence loses the same units at every step. `coursekit.locked_dropout` (and the
# module `LockedDropout`) is Eq. (6.2). Here are both kinds of mask for one sequence of 40
# steps and 30 units:

# %%
T, B, F, p = 40, 2, 30, 0.5
g = torch.Generator().manual_seed(1)
ones = torch.ones(T, B, F)
per_step = ones * dropout_mask((T, B, F), p, g)  # a mask per step
locked = locked_dropout(ones, p, generator=g)  # one mask (B, F)

fig, axes = plt.subplots(2, 1, figsize=(7, 5.6), sharex=True)
for ax, masks, title in [
    (axes[0], per_step, "per step (a fresh mask at every t)"),
    (axes[1], locked, "locked (one mask per sequence, Eq. (6.2))"),
]:
    ax.imshow(
        masks[:, 0].T,
        cmap="Greys_r",
        aspect="auto",
        interpolation="nearest",
        vmin=0,
        vmax=2,
    )
    ax.set(ylabel="unit", title=title)
axes[1].set_xlabel("time step $t$")
fig.suptitle(
    f"Dropout masks of one sequence, p = {p}: white kept, black dropped"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** Both masks drop half of the entries. The per-step mask is salt and
# pepper: every unit is dropped at about half of the steps, at different steps for
# different units. The locked mask is stripes: a unit is either there for the whole
# sequence or gone for the whole sequence. For the connections *between* steps, where a
# unit's value is carried from $t-1$ to $t$, this is the difference between a network that is
# the same thinned network at every step and one that is a different network at every step.

# %% [markdown]
# ## 6.3 Where the masks go: naive and variational dropout
#
# A recurrent layer has two kinds of connection, as note 001 draws them: the *vertical*
# ones, within a time step, from the input $x_t$ into the layer and from $h_t$ to the output
# (纵向连接), and the *recurrent* ones, from $h_{t-1}$ to $h_t$ (横向/循环连接). Gal and
# Ghahramani's variational RNN puts a locked mask on each place where a vector enters a
# weight matrix:
#
# $$
# h_t = \text{cell}\big(x_t \odot M_x,\ h_{t-1} \odot M_h\big),
# \tag{6.3}
# $$
#
# $$
# y_t = h_t \odot M_y ,
# \tag{6.4}
# $$
#
# with $M_x$ of shape $(B, I)$, $M_h$ and $M_y$ of shape $(B, H)$, all three drawn
# independently, once per sequence. For an LSTM, "cell" is Eqs. (4.1)–(4.6), and the mask
# $M_h$ multiplies $h_{t-1}$ where it meets $W_{hh}$; the cell state $c_{t-1}$ is *not*
# masked, so what the forget gate keeps is kept. `coursekit.dropout_lstm_cell_step` is one
# step of Eq. (6.3); it is `lstm_cell_step` of chapter 4 on the masked vectors.
#
# {cite:t}`ch6-zaremba2014recurrent`, two years earlier, had found that dropout made large
# LSTMs trainable without overfitting only if it stayed *off* the recurrent connections.
# Their {term}`naive dropout <朴素丢弃法>` (朴素丢弃法; note 001's "Naive Dropout RNN") is
# (6.3)–(6.4) with the masks redrawn at every step and none on the state, so only the
# vertical connections are dropped:
#
# $$
# h_t = \text{cell}\big(x_t \odot M_{x,t},\ h_{t-1}\big), \qquad y_t = h_t \odot M_{y,t} .
# \tag{6.5}
# $$
#
# `coursekit.DropoutLSTM` takes torch's `LSTM` arguments and four rates,
# `input_dropout`, `state_dropout`, `output_dropout` and `weight_dropout`, with
# `input_output_dropout_mode` and `state_dropout_mode` either `"locked"` or `"per_step"`.
# With every rate at 0, or in `eval()`, it *is* `coursekit.LSTM` (and so `torch.nn.LSTM`);
# in training it draws a `DropoutMasks` per forward pass, or takes one it is given. Given
# masks make it checkable: one forward pass against a loop over
# `dropout_lstm_cell_step` written here, in float64,

# %%
seed_everything(0)
I, H = 5, 8
layer = DropoutLSTM(
    I,
    H,
    input_dropout=0.3,
    state_dropout=0.4,
    output_dropout=0.2,
    generator=torch.Generator().manual_seed(2),
).double()
x = torch.randn(T, B, I, dtype=torch.float64)
masks = layer.draw_masks(T, B)
print(
    "masks of one forward pass:",
    {
        name: tuple(getattr(masks, name)[0].shape)
        for name in ("input", "state")
    },
    "output",
    tuple(masks.output.shape),
)
out, _ = layer(x, masks=masks)

weights = (
    layer.weight_ih_l0,
    layer.weight_hh_l0,
    layer.bias_ih_l0,
    layer.bias_hh_l0,
)
h = c = torch.zeros(B, H, dtype=torch.float64)
by_hand = []
for x_t in x:  # Eq. (6.3) at every t with the same masks, then (6.4)
    h, c = dropout_lstm_cell_step(
        x_t,
        (h, c),
        *weights,
        input_mask=masks.input[0],
        state_mask=masks.state[0],
    )
    by_hand.append(h * masks.output)
by_hand = torch.stack(by_hand)  # (T, B, H)
print(
    "DropoutLSTM with given masks = the loop:",
    torch.allclose(out, by_hand, rtol=1e-12, atol=1e-12),
)

plain = LSTM(I, H).double()
plain.load_state_dict(layer.state_dict())
print(
    "in eval(), DropoutLSTM = LSTM:",
    torch.equal(layer.eval()(x)[0], plain(x)[0]),
)

# %% [markdown]
# The equality in training mode is `tests/test_dropout.py`'s specification too, there
# against a loop over `torch.nn.LSTMCell` for every option (per-step and locked masks,
# stacked and bidirectional layers, projections, and the RNN and GRU variants).
#
# ## 6.4 Two more places for a mask: whole words and recurrent weights
#
# AWD-LSTM {cite}`ch6-merity2018regularizing` adds two masks that are locked in the same
# sense. **Embedding dropout** drops whole rows of the embedding matrix $E$ (whole words,
# or here characters), so a dropped word is zero wherever it occurs in the batch:
#
# $$
# e = (E \odot m)[w], \qquad m \in \mathbb{R}^{V \times 1} \text{ drawn by (6.1)}.
# \tag{6.6}
# $$
#
# **Weight drop** ({term}`DropConnect <权重丢弃>`, 权重丢弃,
# {cite:t}`ch6-wan2013regularization`) drops entries of the recurrent matrix instead of
# units, one mask for the whole forward pass:
#
# $$
# W_{hh}' = W_{hh} \odot M_W, \qquad M_W \in \mathbb{R}^{GH \times H}
# \text{ drawn by (6.1)}.
# \tag{6.7}
# $$
#
# Both leave the recurrence itself untouched, so the fast fused LSTM kernel still runs
# (weight drop only changes the matrix it is given), which is why AWD-LSTM prefers weight
# drop to a mask on $h_{t-1}$. Embedding dropout on a tiny vocabulary:

# %% tags=["nbval-ignore-output"]
E_weight = torch.arange(1.0, 13.0).reshape(6, 2)  # V = 6 words, E = 2
words = torch.tensor([[0, 1, 2], [2, 3, 0]])  # (T, B) ids
embedded = embedding_dropout(
    E_weight, words, 0.5, torch.Generator().manual_seed(3)
)
gone = sorted(
    {
        int(w)
        for w in words.flatten()
        if embedded[words == w].eq(0).all()
    }
)
print("dropped words:", gone)
for w in words.unique().tolist():
    rows = embedded[words == w]  # every position of word w
    assert (rows == rows[0]).all()  # the same everywhere
    assert rows[0].eq(0).all() or torch.equal(
        rows[0], E_weight[w] * 2
    )  # dropped, or kept and scaled by 1 / (1 - p)

# %% [markdown]
# ## 6.5 Why a fresh mask in the recurrence hurts
#
# Note 000 gives two reasons not to use ordinary, per-step dropout in a recurrent net: it
# breaks the *consistency in time* that sharing the weights over time relies on (参数共享,
# 时序一致性), and its noise *accumulates* over the steps (梯度噪声累计). Here is one way to
# count the damage. Information stored in unit $j$ at step $s$ reaches step $s + k$ through
# the recurrence only if none of the masks on the way drops it. With a fresh mask at every
# step, unit $j$ has to survive $k$ independent draws,
#
# $$
# P(\text{path open for } k \text{ steps}) = (1-p)^k \quad \text{(per step)}, \qquad
# 1 - p \quad \text{(locked)},
# $$
#
# since a locked mask either drops unit $j$ for the whole sequence or never. At $p = 0.5$ a
# per-step mask leaves one path in a thousand open over ten steps; a locked one leaves half
# of them open at any distance. On drawn masks:

# %% tags=["nbval-ignore-output"]
p, H, distances, draws = 0.5, 256, [1, 2, 5, 10, 20], 2000
g = torch.Generator().manual_seed(4)
fresh = dropout_mask((max(distances), draws, H), p, g) != 0  # (T, B, H)
once = dropout_mask((draws, H), p, g) != 0  # (B, H) for every t
print(f"{'k':>3s} {'per step':>9s} {'(1-p)^k':>9s} {'locked':>7s}")
for k in distances:
    open_fresh = fresh[:k].all(dim=0).double().mean().item()
    open_locked = once.double().mean().item()
    print(
        f"{k:3d} {open_fresh:9.5f} {(1 - p) ** k:9.5f} "
        f"{open_locked:7.4f}"
    )
    # 512 000 units: a few standard errors of a proportion
    se = math.sqrt((1 - p) ** k * (1 - (1 - p) ** k) / (draws * H))
    assert abs(open_fresh - (1 - p) ** k) < 5 * se + 1e-6
    assert abs(open_locked - (1 - p)) < 0.01

# %% [markdown]
# The scaling by $1/(1-p)$ makes it worse, not better: a path that does survive $k$ steps
# has been multiplied by $(1-p)^{-k}$, 1 024 at $k = 10$, so the expected value is right
# only as the average of many zeros and a few huge values; the variance of the product is
# $(1-p)^{-k} - 1$, exponential in the distance. That is the noise that accumulates. A
# locked mask instead turns $W_{hh}$ into $W_{hh}\,\text{diag}(M_h)$ for the whole sequence: a
# thinned recurrent network, the same at every step, whose dynamics training can adapt to.
# (In a real LSTM the memory does not travel only along one unit's own path, and the cell
# $c_t$ is not masked at all, so the count above is the mechanism, not a prediction of the
# loss.)
#
# ## 6.6 Five kinds of dropout on the char-LSTM
#
# Back to §6.1's overfitting char-LSTM. The experiment trains it, from the same initial
# weights and on the same windows for each seed, with five settings of `DropoutLSTM`. The
# rate is 0.3 on the input and the output, and 0.5 in the recurrence (the mask on $h_{t-1}$,
# or on $W_{hh}$):


# %%
def describe(options):
    """A variant's DropoutLSTM options in a line: where, rate, mode."""
    io = options.get("input_output_dropout_mode", "locked")
    state = options.get("state_dropout_mode", "locked")
    parts = []
    for key, where, mode in [
        ("input_dropout", "x_t", io),
        ("output_dropout", "y_t", io),
        ("state_dropout", "h_{t-1}", state),
        ("weight_dropout", "W_hh", "per pass"),
    ]:
        if key in options:
            parts.append(f"{where} {options[key]:g} {mode}")
    return ", ".join(parts) or "no dropout"


for variant in VARIANTS:
    options = dropout_options(
        variant, config["p"], config["p_recurrent"]
    )
    print(f"{variant:14s}", describe(options))


# %%
colors = dict(
    zip(
        VARIANTS,
        ["black", "tab:orange", "tab:red", "tab:blue", "tab:green"],
        strict=True,
    )
)
fig, ax = plt.subplots(figsize=(7, 4.4))
for variant in VARIANTS:
    steps, valid = curves(variant, "valid_bits")
    for k in range(len(runs)):
        ax.plot(
            steps,
            valid[k],
            color=colors[variant],
            lw=1,
            alpha=0.6,
            label=variant if k == 0 else None,
        )
ax.set(
    xlabel="training step",
    ylabel="validation bits/char",
    ylim=(3.2, 3.7),
    xlim=(100, steps[-1]),
    title="Validation loss of every variant, five seeds each",
)
ax.legend(ncol=2)
fig.tight_layout()
plt.show()


# %%
def final(variant, key):
    return torch.tensor([curve[-1] for curve in per_seed(variant, key)])


test = {v: torch.tensor(per_seed(v, "test_bits")) for v in VARIANTS}
best_valid = {
    v: curves(v, "valid_bits")[1].min(dim=1).values for v in VARIANTS
}
print(
    f"{'variant':15s} {'test bits/char':>17s} {'best valid':>10s}"
    f" {'final gap':>10s}"
)
for v in VARIANTS:
    gap = final(v, "valid_bits") - final(v, "train_bits")
    print(
        f"{v:15s} {test[v].mean():6.3f} "
        f"({test[v].min():.3f}-{test[v].max():.3f}) "
        f"{best_valid[v].mean():10.3f} {gap.mean():10.3f}"
    )

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
for i, variant in enumerate(VARIANTS):
    gap = final(variant, "valid_bits") - final(variant, "train_bits")
    ax.plot([i] * len(gap), gap, "o", color=colors[variant], alpha=0.7)
ax.set_xticks(range(len(VARIANTS)), VARIANTS)
ax.set(
    ylabel="validation − training\nbits/char at step 600",
    title="The train/validation gap, one dot per seed",
)
ax.set_ylim(bottom=0)
fig.tight_layout()
plt.show()

# %%
# the claims of the text, on every seed
t = {v: test[v] for v in VARIANTS}
gaps = {
    v: final(v, "valid_bits") - final(v, "train_bits") for v in VARIANTS
}
for v in VARIANTS[1:]:
    assert t[v].max() < t["none"].min()  # every dropout beats none
    assert gaps[v].max() < gaps["none"].min() - 0.4
assert (t["variational"] < t["per-step state"]).all()
assert (t["Zaremba"] < t["variational"]).sum() >= 4
assert t["Zaremba"].mean() < min(t[v].mean() for v in VARIANTS[2:])

# %% [markdown]
# **What the five seeds show.** Every kind of dropout helps, on every seed: the test loss
# falls from 3.47–3.56 bits/char without dropout to 3.28–3.38 with any of the four, and the
# gap between validation and training loss at step 600 shrinks from 1.5–1.7 bits to
# 0.8–1.05. Without dropout the validation curve turns up after step 300; with dropout it is
# still falling, or flat, at step 600 (the best validation loss is at step 500 to 600 on
# every seed of every dropout variant).
#
# The comparison *between* the kinds of dropout is the interesting part, and it is not the
# one the literature would predict. Ranked by mean test loss: Zaremba (no recurrent mask)
# 3.317, variational 3.343, weight drop 3.357, per-step state 3.360. So:
#
# - **The per-step recurrent mask is the worst**, as §6.5 predicts, and the locked one beats
#   it on every seed (by 0.017 bits/char on average, 3.343 against 3.360); but the difference
#   is small, a tenth of what any dropout gains over none. With the cell $c_t$ unmasked, an
#   LSTM's memory does not depend on $h_{t-1}$'s path alone, which softens §6.5's count.
# - **Adding a recurrent mask did not help at all here.** Zaremba's dropout, with nothing in
#   the recurrence, beats variational dropout on four seeds of five and is best on average.
#   The three recurrent variants also have the smallest train/validation gaps (0.8–0.87 bits
#   against Zaremba's 0.93–1.05) and the highest training losses: at a recurrent rate of 0.5
#   they regularise *more*, and in 600 steps that costs more fit than it buys. All of them
#   are still improving at the last step, so this is a statement about this budget, not
#   about where each would end; Gal and Ghahramani's gains over Zaremba came from long
#   training of large word-level models.
# - **Weight drop and the locked state mask are close** (weight drop better on one seed of
#   five), as AWD-LSTM's authors found at the word level; weight drop has the advantage of
#   keeping the fused kernel, §6.4.
#
# The experiment's test numbers are rows of the course's results table
# ({doc}`results`), marked as trained on 20 000 characters.

# %% [markdown]
# ## 6.7 The notes' claims, checked
#
# **One mask for the input and the output?** Note 000 writes the variational RNN as
# $h_t = \tanh[W(h_{t-1} \odot M_1) + U(x_t \odot M_2)]$, $y_t = V(h_t \odot M_2)$: the input
# mask $M_2$ reused at the output. Gal and Ghahramani draw a separate mask for every weight
# matrix's input (their $z_x$, $z_h$ and, for the output layer, its own), and that is the
# right reading, for two reasons. First, it cannot be one mask in general: $x_t$ has $I$
# features and $h_t$ has $H$ units, so $M_2$ would have two shapes at once unless $I = H$.
# Second, even when the shapes agree, tying the masks would drop output unit $k$ exactly
# when input feature $k$ is dropped, a correlation between two unrelated vectors. In Gal and
# Ghahramani's derivation each mask is the random part of an approximate posterior over
# *one* weight matrix's rows (dropping $x_t$'s feature $k$ is zeroing column $k$ of $U$), so
# each matrix gets its own independent mask. `coursekit.DropoutLSTM` draws $M_x$, $M_h$ and
# $M_y$ independently.
#
# **Naive vs variational (note 001).** Right as a description: Zaremba's dropout is on the
# vertical connections only, with a fresh mask at each step, Eq. (6.5); the variational RNN
# keeps the same units at every step and does drop the recurrent connections. The notes say
# naive dropout drops "50 % of the neurons and edges": 0.5 is the rate of Zaremba's medium
# model (their large one used 0.65), not part of the method.
#
# **"Per-step dropout breaks temporal consistency and accumulates noise" (note 000).** Both
# are true of the *recurrent* connections, and §6.5 counts the second. On the vertical
# connections a per-step mask does no such harm: no path through time runs through them,
# which is why Zaremba's dropout works.

# %% [markdown]
# ## 6.8 Quiz
#
# The lecture notes have no questions on dropout; these are ours.
#
# **Question 1.** With inverted dropout at $p = 0.2$, what values can an entry of the mask
# take, and what is done at test time?
#
# - A. 0 or 1; multiply the weights by 0.8 at test time.
# - B. 0 or 1.25; nothing, dropout is switched off.
# - C. 0 or 0.8; nothing.
# - D. 0 or 1.25; multiply the weights by 1.25 at test time.
#
# :::{dropdown} Answer
# **B.** Eq. (6.1): kept entries are $1/(1-p) = 1.25$, so $\mathbb{E}[M] = 0.8 \times 1.25
# = 1$ and the expected activation is unchanged; at test time the mask is simply not
# applied. A is the original, non-inverted dropout, which rescales at test time instead.
# :::
#
# **Question 2.** A batch holds 8 sequences of 50 steps, and the layer has 64 units. How many
# independent Bernoulli draws does the locked mask on $h_{t-1}$ take per forward pass, and
# how many does a per-step mask take?
#
# :::{dropdown} Answer
# Locked: $8 \times 64 = 512$, one row of $M_h$ per sequence, reused at all 50 steps,
# Eq. (6.2). Per step: $50 \times 8 \times 64 = 25\,600$. The locked mask is *not* one mask
# for the whole batch: each sequence gets its own row.
# :::
#
# **Question 3.** Which of these is Zaremba et al.'s "naive" dropout?
#
# - A. A fresh mask at every step on $x_t$, $h_t$ (output) and $h_{t-1}$ (recurrence).
# - B. One mask per sequence on $x_t$, the output and $h_{t-1}$.
# - C. A fresh mask at every step on $x_t$ and the output, nothing on $h_{t-1}$.
# - D. DropConnect on $W_{hh}$.
#
# :::{dropdown} Answer
# **C**, Eq. (6.5). B is Gal and Ghahramani's variational dropout, D is weight drop
# (AWD-LSTM), and A is the per-step recurrent dropout that both papers avoid (§6.5).
# :::
#
# **Question 4.** In a variational LSTM, why is the cell state $c_{t-1}$ not masked?
#
# :::{dropdown} Answer
# $c_t$ is the LSTM's memory, carried from step to step by the forget gate alone
# ($c_t = f_t \odot c_{t-1} + \dots$, Eq. (4.5)). A mask on it would erase, at random, what
# the gates decided to keep, the very memory loss an LSTM exists to avoid (for a per-step
# mask, §6.5's $(1-p)^k$). The masks go where a vector enters a weight matrix: $x_t$ into
# $W_{ih}$, $h_{t-1}$ into $W_{hh}$. {cite:t}`ch6-semeniuta2016recurrent` drop only the
# candidate $g_t$ for the same reason.
# :::

# %% [markdown]
# ## 6.9 What goes wrong
#
# - **Dropout left on at test time.** Every evaluation in this chapter is in `eval()`;
#   `DropoutLSTM` and `locked_dropout` switch the masks off there. Forgetting `model.eval()`
#   gives a noisy, worse score, different on every call.
# - **No inverted scaling.** Masks of 0 and 1 make the training-time activations smaller by
#   $1 - p$ than the test-time ones; the model sees a different distribution at test time.
# - **One mask for the whole batch.** A locked mask has one row *per sequence*; a single
#   $(1, F)$ row for the batch drops the same units from every sequence, which is much less
#   noise than intended, and correlated across the batch.
# - **A fresh mask in the recurrence.** The bad baseline of §6.5.
# - **Masking the cell.** See question 4.
#
# ## 6.10 What to try
#
# - **Higher rates.** Rerun `tools/experiments/dropout_lm.py` with `"p_recurrent": 0.7` (and
#   `--out` pointing at a file of your own). Does the per-step recurrent mask fall behind the
#   locked one?
# - **Longer training.** Double `"steps"`. Which variants are still improving at step 600,
#   and where does each one's validation loss turn up?
# - **Embedding dropout.** Add a variant with `embedding_dropout` on the character
#   embeddings (wrap `CharLM`'s embedding). With 66 symbols, is dropping whole characters
#   a good idea?
# - **Monte Carlo dropout.** Gal and Ghahramani's view of dropout as approximate Bayesian
#   inference suggests averaging the predictions of many masks at test time. Score the
#   validation text with the masks on, averaged over 10 draws, and compare with `eval()`.
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :keyprefix: ch6-
# ```
#
# ## Exercise
#
# In the exercise you write `locked_dropout_mask`, Eqs. (6.1)–(6.2), `locked_dropout` over a
# sequence, and `dropout_lstm_cell_step`, one step of Eq. (6.3) with given masks. Its tests
# compare the last with `coursekit` in values and gradients, and judge the first two by the
# distribution of the masks they draw.
# {download}`Download the exercise notebook <../exercises/06_dropout/06_dropout.ipynb>`.
