# %% [markdown]
# # 5. Gradient clipping · 梯度裁剪
#
# Chapter 3 showed that the gradient of an RNN can grow like $(\sigma_{\max}\gamma)^{t-s}$
# over the distance it travels back, and that this happens *intermittently*: most steps are
# harmless, and then the state passes through the linear region of its units and one
# gradient is thousands of times larger than the rest. Gradient descent moves the weights by
# the learning rate times the gradient, so that one gradient moves them thousands of times
# further than usual, far out of the region where training was going well. The cure is
# almost embarrassingly simple: if the gradient is too long, shorten it.
# {term}`Gradient clipping <梯度裁剪>` (梯度裁剪) is a few lines of code, used in nearly every
# RNN ever trained (chapter 2's char-RNN clipped at norm 1), and this chapter is about why
# those lines work.
#
# By the end of the chapter you will be able to
#
# - explain where a *cliff* in an RNN's loss surface comes from, and what one plain gradient
#   step does on it, with Pascanu et al.'s one-unit RNN, Eq. (5.1);
# - write norm clipping, Eqs. (5.2)–(5.4), exactly as `torch.nn.utils.clip_grad_norm_`
#   computes it, and tell it from value clipping, Eq. (5.5);
# - run a training experiment in which clipping decides whether a model trains at all, and
#   choose a threshold from the gradient norms you measure;
# - check the claims the lecture notes make about clipping, and correct the one formula they
#   get wrong.
#
# The functions come from `coursekit.clipping`; its docstrings cite the equation numbers
# used below.

# %%
import json
import math
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.colors import LogNorm

from coursekit import (
    CharRNN,
    clip_grads_by_norm,
    gradient_descent_path,
    loss_surface,
    one_unit_rnn_loss,
    seed_everything,
)
from coursekit.data import random_windows
from coursekit.plots import setup_chapter

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)

# %% [markdown]
# ## 5.1 Cliffs: where a gradient step goes wrong
#
# The lecture notes say that the loss surface of a recurrent network has
# {term}`cliffs <梯度悬崖>` (梯度悬崖; "high-curvature walls"), and that no optimisation
# algorithm handles them gracefully.
# {cite:t}`ch5-pascanu2013difficulty` showed one in the smallest RNN there is: one unit, no input,
# two parameters,
#
# $$
# x_t = w\, \sigma(x_{t-1}) + b, \qquad L(w, b) = (x_T - \text{target})^2,
# \tag{5.1}
# $$
#
# run from $x_0 = 0.5$ for $T = 50$ steps towards a target of $0.7$ ($\sigma$ is the
# logistic sigmoid). Where does a cliff come from? For small $w$ the map
# $x \mapsto w\sigma(x) + b$ has one stable fixed point, and $x_T$, having had 50 steps to get
# there, sits on it. For large $w$ it has *two*, a low one near $b$ and a high one near
# $w + b$, and which one $x_T$ ends at depends on which side of the boundary between their
# basins $(w, b)$ lies. Cross the boundary and $x_T$ jumps from one fixed point to the
# other: the loss changes by tens of units across a band of $b$ that is a tiny fraction of
# a unit wide. That is a wall in the loss surface, and its slope is the jump divided by the
# band's width.
#
# Here is the surface, on a log colour scale, with two runs of plain gradient descent from
# the same start (the star): one takes the raw gradient, the other clips its norm to 10
# before each step (§5.2). Both use the learning rate 0.01:

# %%
ws = torch.linspace(2.0, 12.0, 201, dtype=torch.float64)
bs = torch.linspace(-8.0, 2.0, 201, dtype=torch.float64)
surface = loss_surface(ws, bs)  # (G_b, G_w): rows follow b, columns w

start, lr, steps, max_norm = (9.0, -3.0), 0.01, 150, 10.0
paths = {
    "no clipping": gradient_descent_path(start, lr, steps),
    f"norm clipped to {max_norm:g}": gradient_descent_path(
        start, lr, steps, clip=max_norm
    ),
}
style = {
    "no clipping": ("tab:red", 3.5),
    f"norm clipped to {max_norm:g}": ("tab:orange", 2),
}

fig, (ax, ax_loss) = plt.subplots(
    2, 1, figsize=(7, 9.5), height_ratios=[1.4, 1]
)
mesh = ax.pcolormesh(
    ws,
    bs,
    surface,
    norm=LogNorm(vmin=1e-3, vmax=float(surface.max())),
    cmap="viridis",
    shading="auto",
)
fig.colorbar(mesh, ax=ax, label="loss $L(w, b)$, Eq. (5.1), log scale")
for label, path in paths.items():
    color, width = style[label]
    # points outside the frame are cut off by the axes limits below
    ax.plot(
        path[:, 0],
        path[:, 1],
        ".-",
        color=color,
        lw=width,
        ms=3,
        label=label,
    )
    losses = one_unit_rnn_loss(path[:, 0], path[:, 1])
    ax_loss.semilogy(losses, color=color, label=label)
plain = paths["no clipping"]
# the longest step
jump = int((plain[1:] - plain[:-1]).norm(dim=1).argmax())
(w0, b0), (w1, b1) = plain[jump].tolist(), plain[jump + 1].tolist()
# where it crosses the top edge
exit_w = w0 + (bs[-1].item() - b0) / (b1 - b0) * (w1 - w0)
ax.annotate(
    f"step {jump + 1}: thrown to\n$(w, b) = ({w1:.1f}, {b1:.1f})$",
    xy=(exit_w, bs[-1].item()),
    xytext=(exit_w + 0.4, -1.5),
    color="tab:red",
    arrowprops={"arrowstyle": "->", "color": "tab:red"},
)
ax.plot(*start, "*", color="black", ms=14, label="start")
ax.set(
    xlabel="$w$",
    ylabel="$b$",
    xlim=(ws[0], ws[-1]),
    ylim=(bs[0], bs[-1]),
    title="Gradient descent on the one-unit RNN",
)
ax.legend(loc="lower left")
ax_loss.set(
    xlabel="gradient-descent step",
    ylabel="loss (log scale)",
    title="Loss along each path",
)
ax_loss.legend()
fig.tight_layout()
plt.show()

for label, path in paths.items():
    step_lengths = (path[1:] - path[:-1]).norm(dim=1)  # (steps,)
    final = one_unit_rnn_loss(path[-1, 0], path[-1, 1])
    print(
        f"{label:19s}: longest step {step_lengths.max():6.3f} (at step "
        f"{int(step_lengths.argmax()) + 1:3d}), final loss {final:7.3f}"
    )

# %% [markdown]
# The two runs part company at once: at the start the gradient norm is 15.3, above the
# threshold, so the clipped run's first steps are shortened to $\text{lr} \times 10 = 0.1$
# while the plain run's are 0.15 long, and for the first seventeen steps every clipped step is
# cut. Both head down-slope in the same direction towards the wall, whose top edge is where
# the loss is lowest (the dark valley at the left is the set of $(w, b)$ that reach the target
# exactly), and from there both zig-zag along the edge towards the valley: each step
# overshoots the edge a little, the next comes back, and the loss on the right jumps up and
# down by an order of magnitude. The difference is what happens when a step lands on the face
# of the wall, where the gradient is huge. For the plain run this happens at step 136: one
# step about 20 units long throws the parameters to $(w, b) \approx (15.2, 15.2)$, far outside
# the picture, where the loss is 885. From there the run walks back down a smooth slope (the
# loss falls to 282 by step 150, and the steps are under a unit long), but the progress of 135
# steps is gone. The clipped run lands on the wall too, but no step of it is longer than 0.1; it keeps sliding along the edge into the valley.
#
# The wall is not an artefact of an unlucky start. We can find a point on it the way the
# tests of `coursekit.clipping` do, by bisection in $b$ at fixed $w$ (keeping the half across
# which the loss changes more), and look at the gradient there:

# %%
w_on_the_wall, low, high = 9.0, -6.0, -3.0
while high - low > 1e-11:
    mid = (low + high) / 2
    left = abs(
        one_unit_rnn_loss(w_on_the_wall, mid)
        - one_unit_rnn_loss(w_on_the_wall, low)
    )
    right = abs(
        one_unit_rnn_loss(w_on_the_wall, high)
        - one_unit_rnn_loss(w_on_the_wall, mid)
    )
    low, high = (low, mid) if left >= right else (mid, high)
on_the_wall = torch.tensor(
    [w_on_the_wall, (low + high) / 2], dtype=torch.float64
)
on_the_wall.requires_grad_()
(gradient,) = torch.autograd.grad(
    one_unit_rnn_loss(*on_the_wall), on_the_wall
)
print(
    f"wall at b = {on_the_wall[1]:.4f}; loss just above "
    f"{one_unit_rnn_loss(9.0, low + 0.05):.1f},"
    f" just below {one_unit_rnn_loss(9.0, low - 0.05):.1f}"
)
print(f"gradient norm on the wall: {gradient.norm():.1e}")
for clip in [None, 1.0]:
    path = gradient_descent_path(
        on_the_wall.detach(), 0.01, 1, clip=clip
    )
    print(
        f"one step with lr 0.01, clip {clip}: length "
        f"{(path[1] - path[0]).norm():.3g}"
    )

# %% [markdown]
# The loss changes by about 24 across the wall, and the gradient on it is $1.6 \times 10^5$:
# the wall is about $10^{-4}$ wide in $b$. One unclipped step of learning rate 0.01 on it is
# 1 600 units long and leaves the whole picture; the same step clipped to norm 1 has length
# 0.01 exactly, in the same direction.
#
# Two remarks. First, the cliff is a property of the *loss surface*, not of the optimiser: a
# smaller learning rate only postpones the moment a step lands on the wall (and then the
# step is still enormous), and a second-order method would see an enormous curvature there.
# Second, cliffs are where exploding gradients live: the wall is exactly where the Jacobian
# product of Eq. (3.6) is large, because a tiny change of $(w, b)$ early in the 50 steps
# decides which fixed point the state ends at.

# %% [markdown]
# ## 5.2 Norm clipping and value clipping
#
# **{term}`Norm clipping <范数裁剪>`** (范数裁剪) treats the gradients of all $P$ parameter
# tensors as one long vector $g$. It computes the vector's norm, usually the 2-norm,
#
# $$
# \lVert g \rVert_p = \big\lVert \big(\lVert g_1 \rVert_p, \dots, \lVert g_P \rVert_p\big)
# \big\rVert_p \qquad (p = \infty: \text{the largest } |\text{entry}|),
# \tag{5.2}
# $$
#
# a clip coefficient that is never above 1,
#
# $$
# c = \min\left(1,\ \frac{\mathtt{max\_norm}}{\lVert g \rVert_p + 10^{-6}}\right),
# \tag{5.3}
# $$
#
# and multiplies every gradient by it:
#
# $$
# g_i \leftarrow c\, g_i .
# \tag{5.4}
# $$
#
# A gradient shorter than the threshold is left alone; a longer one is shrunk to length
# `max_norm` (up to the $10^{-6}$), *in the same direction*. That is Algorithm 1 of Pascanu et
# al. {cite}`ch5-pascanu2013difficulty` ("if $\lVert \hat g \rVert \ge$ threshold then
# $\hat g \leftarrow \frac{\text{threshold}}{\lVert \hat g \rVert} \hat g$"), written as a
# minimum; the $10^{-6}$ is torch's, which keeps a zero gradient from dividing by zero.
# `coursekit.clip_grads_by_norm` is Eqs. (5.2)–(5.4) as a pure function, and
# `coursekit.clip_grad_norm_` applies it in place with `torch.nn.utils.clip_grad_norm_`'s
# contract; both give torch's numbers:

# %%
generator = seed_everything(0)
# gradients of four parameter tensors
shapes = [(64, 32), (64, 64), (64,), (65, 64)]
grads = [torch.randn(shape, generator=generator) for shape in shapes]
parameters = [
    torch.nn.Parameter(torch.zeros(shape)) for shape in shapes
]
for p, g in zip(parameters, grads, strict=True):
    p.grad = g.clone()

for norm_type in [2.0, 1.0, math.inf]:
    clipped, total = clip_grads_by_norm(
        grads, max_norm=1.0, norm_type=norm_type
    )
    # in place
    torch_total = torch.nn.utils.clip_grad_norm_(
        parameters, 1.0, norm_type
    )
    same = torch.allclose(
        total, torch_total, rtol=1e-6, atol=0
    ) and all(
        torch.allclose(c, p.grad, rtol=1e-6, atol=0)
        for c, p in zip(clipped, parameters, strict=True)
    )
    # the norm after clipping
    after = clip_grads_by_norm(clipped, math.inf, norm_type)[1]
    print(
        f"norm_type {norm_type}: total norm {total:8.2f} -> "
        f"{after:.6f}, same as torch: {same}"
    )
    for p, g in zip(parameters, grads, strict=True):
        # undo torch's in-place clipping for the next norm type
        p.grad = g.clone()

# %% [markdown]
# **{term}`Value clipping <值裁剪>`** (值裁剪) clamps each entry of each gradient separately,
#
# $$
# g_i \leftarrow \operatorname{clamp}(g_i, -\mathtt{clip\_value}, \mathtt{clip\_value}),
# \tag{5.5}
# $$
#
# (`torch.nn.utils.clip_grad_value_`, `coursekit.clip_grad_value_`). It is older: Mikolov's
# RNN language models clipped gradient values {cite}`ch5-mikolov2012statistical`. It also bounds
# the step, but it changes its **direction**: the large entries are cut, the small ones kept,
# so the clipped gradient turns towards the diagonals. In two dimensions, with thresholds of
# 1 for both:

# %% tags=["hide-input"]
examples = torch.tensor(
    [[3.0, 0.5], [0.6, 2.5], [-2.4, 1.6], [0.5, -0.4], [-1.5, -2.8]]
)
fig, ax = plt.subplots(figsize=(5.5, 5.5))
ax.add_patch(
    plt.Circle((0, 0), 1.0, fill=False, color="tab:blue", ls="--", lw=1)
)
ax.add_patch(
    plt.Rectangle(
        (-1, -1), 2, 2, fill=False, color="tab:orange", ls="--", lw=1
    )
)
arrow = dict(width=0.02, length_includes_head=True, head_width=0.12)
for k, g in enumerate(examples):
    (by_norm,), _ = clip_grads_by_norm([g], 1.0)
    by_value = g.clamp(-1.0, 1.0)
    ax.arrow(
        0,
        0,
        *g.tolist(),
        color="gray",
        alpha=0.6,
        **arrow,
        label="gradient" if k == 0 else None,
    )
    ax.arrow(
        0,
        0,
        *by_norm.tolist(),
        color="tab:blue",
        **arrow,
        label="norm clipped, Eq. (5.4)" if k == 0 else None,
    )
    ax.arrow(
        0,
        0,
        *by_value.tolist(),
        color="tab:orange",
        **arrow,
        label="value clipped, Eq. (5.5)" if k == 0 else None,
    )
ax.set(
    xlim=(-3.2, 3.2),
    ylim=(-3.2, 3.2),
    aspect="equal",
    xlabel="$g_1$",
    ylabel="$g_2$",
    title="Clipping a 2-D gradient to 1: norm keeps the direction",
)
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# The blue arrows lie on the grey ones; the orange ones do not, except for the short
# gradient that neither method touches. On a real network the difference is larger: a
# gradient with a few huge entries (the parameters next to an exploding path) and many
# small ones becomes, after value clipping, a vector dominated by the small entries, which
# is not the direction the loss decreases fastest. Norm clipping with the norm over *all*
# parameters is also different from clipping each parameter tensor by its own norm, which
# again changes the direction; `clip_grad_norm_` computes one norm for the whole model.

# %% [markdown]
# ## 5.3 A training run that clipping saves
#
# The cliff of §5.1 is a toy. Here is the same effect in the character-level language model
# of chapter 2 (64 tanh units, 32-dimensional embeddings, windows of 50 characters, batches
# of 32), trained with plain stochastic gradient descent at a high learning rate, 4, for 400
# steps, without clipping and with the norm clipped to 1, and, for comparison, without
# clipping at a learning rate of 1. We record the loss and the gradient norm of every step
# (with `max_norm=inf`, `clip_grad_norm_` only measures). A run of SGD at a learning rate
# this high is chaotic: whether and when it explodes changes with the last bit of a sum,
# from one seed to the next and even from one CPU to another. So the experiment,
# `tools/experiments/clipping_sgd.py`, runs every setting from five seeds (each seed draws
# the initial weights and the training windows, the same for every setting), and this
# chapter reads its log. One run:
#
# ```{literalinclude} ../tools/experiments/clipping_sgd.py
# :pyobject: train_with_sgd
# ```

# %%
sys.path.insert(
    0, str(Path.cwd().parent)
)  # the repository: tools/experiments/
from tools.experiments.clipping_sgd import corpus

clip_log = json.loads(Path("data/clipping_sgd.json").read_text())
settings = clip_log["runs"][0]["settings"]  # label -> the run of seed 0
seeds = len(clip_log["runs"])


def per_seed(label, key):
    """The value of `key` in setting `label`, one entry per seed."""
    return [run["settings"][label][key] for run in clip_log["runs"]]


train_ids, valid_ids, vocab_size = corpus()
uniform = math.log2(vocab_size)
print(
    f"validation bits/char after 400 steps, {seeds} seeds; "
    f"uniform guess {uniform:.1f}"
)
print(
    f"{'setting':20s} {'median':>6s} {'best':>6s} {'worst':>6s}"
    "   largest gradient norm"
)
for label in settings:
    valid = torch.tensor(per_seed(label, "valid_bits"))
    largest = torch.tensor(
        [max(norms) for norms in per_seed(label, "grad_norm")]
    )
    print(
        f"{label:20s} {valid.median():6.2f} "
        f"{valid.min():6.2f} {valid.max():6.2f}"
        f"   {largest.min():4.0f} to {largest.max():4.0f}"
    )

# %%
main = {
    "lr 4, no clipping": "tab:red",
    "lr 4, clip 1": "tab:blue",
    "lr 2, no clipping": "gray",
}
fig, (ax_loss, ax_norm) = plt.subplots(
    2, 1, figsize=(7, 6.4), sharex=True
)
for run in clip_log["runs"]:
    for label, color in main.items():
        logged = run["settings"][label]
        name = label if run["seed"] == 0 else None
        ax_loss.plot(
            logged["loss"], color=color, lw=0.8, alpha=0.7, label=name
        )
        ax_norm.semilogy(
            logged["grad_norm"],
            color=color,
            lw=0.8,
            alpha=0.7,
            label=name,
        )
ax_norm.axhline(1.0, color="black", ls="--", lw=1, label="threshold 1")
ax_loss.axhline(
    uniform, color="black", ls=":", lw=1, label="uniform guess"
)
ax_loss.set(
    ylabel="training loss (bits/char)",
    ylim=(0, 20),
    title="Five seeds of each setting",
)
ax_norm.set(
    xlabel="step", ylabel="gradient norm\nbefore clipping (log)"
)
ax_loss.legend(fontsize=8, ncol=2)
ax_norm.legend(fontsize=8, ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# **What all five seeds show.** At learning rate 4 without clipping, the trouble starts at
# once: in the first ten steps the gradient norm reaches 6 to 51 on every seed, against a
# typical 0.4 later on, and one step of SGD multiplies that by 4. On one seed of five the
# model never recovers: its loss stays *above* the uniform guess (10.3 bits/char against
# 6.0), so it puts less probability on the right character than a model that knows nothing,
# and the gradients that follow do not bring it back. The other four survive the first steps
# with a scar and end at 3.6 to 4.2 bits/char. With the norm clipped to 1, every seed trains,
# to 3.03–3.09: clipping was active on 1 to 2 % of the steps, nearly all at the start, and
# changed nothing after them. At learning rate 8 the difference is starker: no seed survives
# without clipping, and four of five do with it.
#
# Two things in the table are *not* what one might expect, and they matter as much as the
# headline. The spikes that break these runs are tens of times the typical norm, not the
# $10^5$ of the cliff in §5.1: a large learning rate turns a moderate spike into a
# destructive step. And a lower learning rate without clipping is not worse here: learning
# rate 1 does as well as learning rate 4 with clipping, and learning rate 2 does better on
# every seed (2.94–3.01). Clipping is insurance, not a speed-up: it makes a learning rate
# that would be unsafe safe, and it makes the outcome far less sensitive to the choice of
# learning rate and to the seed, but it does not beat a well-chosen learning rate. (Both
# runs are short; the effect of a rare late spike in a long run is what clipping insures
# against, and that is what §5.1's cliff is about.)
#
# **Choosing the threshold.** Pascanu et al. suggest looking at the average gradient norm
# over many updates and clipping somewhat above it. Here the typical norm is about 0.4, and
# the sweep below agrees with the advice: thresholds of 0.5 and 1, one to three times the
# typical norm, do best and alike; 2 is a little worse; 5 lets the early spikes through at
# nearly full length and gains little over no clipping at all. A threshold far below the
# typical norm clips every step, which turns SGD into normalised gradient descent (next
# section); a threshold far above it never clips.

# %%
thresholds, rates = [0.5, 1, 2, 5], [0.5, 1, 2, 4, 8]


def dots(ax, x, label, color):
    """One dot per seed: the validation loss of `label`, at x."""
    valid = per_seed(label, "valid_bits")
    ax.plot([x] * seeds, valid, "o", color=color, alpha=0.6, ms=5)


fig, (ax_clip, ax_lr) = plt.subplots(
    1, 2, figsize=(7, 3.4), sharey=True
)
for k, threshold in enumerate(thresholds):
    dots(ax_clip, k, f"lr 4, clip {threshold:g}", "tab:blue")
dots(ax_clip, len(thresholds), "lr 4, no clipping", "tab:red")
ax_clip.set(
    xticks=range(len(thresholds) + 1),
    xticklabels=[*map(str, thresholds), "none"],
    xlabel="max_norm (learning rate 4)",
    ylabel="validation bits/char (log scale)",
    yscale="log",
)
ax_clip.set_yticks([3, 4, 6, 10, 20], ["3", "4", "6", "10", "20"])
ax_clip.minorticks_off()
for lr in rates:
    dots(ax_lr, lr, f"lr {lr:g}, no clipping", "tab:red")
for lr in (4, 8):
    dots(
        ax_lr, lr * 1.1, f"lr {lr:g}, clip 1", "tab:blue"
    )  # beside the red
ax_lr.plot([], [], "o", color="tab:red", label="no clipping")
ax_lr.plot([], [], "o", color="tab:blue", label="clipped to 1")
ax_lr.axhline(
    uniform, color="black", ls=":", lw=1, label="uniform guess"
)
ax_lr.set(xscale="log", xlabel="learning rate")
ax_lr.set_xticks(rates, [f"{lr:g}" for lr in rates])
ax_lr.minorticks_off()
ax_lr.legend(fontsize=8)
fig.suptitle("Validation loss after 400 steps of SGD, one dot per seed")
fig.tight_layout()
plt.show()

# the claims of the text, on every seed
valid = {
    label: torch.tensor(per_seed(label, "valid_bits"))
    for label in settings
}
assert valid["lr 4, clip 1"].max() < valid["lr 4, no clipping"].min()
assert (valid["lr 4, no clipping"] > uniform).sum() >= 1
assert (valid["lr 8, no clipping"] > uniform).all()
assert (valid["lr 8, clip 1"] < uniform).sum() >= 4
assert (valid["lr 2, no clipping"] < valid["lr 4, clip 1"]).all()
best = torch.maximum(valid["lr 4, clip 0.5"], valid["lr 4, clip 1"])
assert best.max() < valid["lr 4, clip 2"].min() + 0.1
assert valid["lr 4, clip 5"].median() > valid["lr 4, clip 2"].max()

# %% [markdown]
# ## 5.4 The notes' claims, checked
#
# **"Clipping keeps the right direction of the update"** (保留了参数更新的正确方向, note 000).
# True of norm clipping, by Eq. (5.4); not of value clipping. On the gradient of the
# char-RNN's first step, the cosine between the clipped and the raw gradient:

# %%
seed_everything(0)
model = CharRNN(
    vocab_size, embedding_dim=32, hidden_size=64
).double()  # float64: stable digits
x, y = random_windows(
    train_ids, 50, 32, torch.Generator().manual_seed(0)
)
logits, _ = model(x)
F.cross_entropy(
    logits.reshape(-1, vocab_size), y.reshape(-1)
).backward()
raw = torch.cat(
    [p.grad.flatten() for p in model.parameters()]
)  # (number of parameters,)
by_norm = torch.cat(clip_grads_by_norm([raw], 0.1)[0])
for value in [1e-2, 1e-3]:
    by_value = raw.clamp(-value, value)
    cosine = F.cosine_similarity(raw, by_value, dim=0)
    changed = (raw.abs() > value).double().mean()
    print(
        f"value clipping at {value:g}: cosine {cosine:.3f}, "
        f"{changed:.0%} of the entries changed"
    )
cosine = F.cosine_similarity(raw, by_norm, dim=0)
print(f"norm clipping to 0.1:     cosine {cosine:.3f}")

# %% [markdown]
# **The formula of note 000.** The notes write the clipped gradient as
# $\hat g \leftarrow \frac{\text{threshold}}{\lVert \hat g \rVert_2} \hat g$, without the
# condition $\lVert \hat g \rVert \ge \text{threshold}$ that note 003's pseudo-code has. Taken
# literally it rescales *every* gradient to length `threshold`, small ones up as well as
# large ones down: that is normalised gradient descent, a different algorithm, whose step
# never shrinks as the loss flattens out. The cap at 1 in Eq. (5.3) is what makes clipping
# clipping. The exercise's hidden tests include exactly this mistake.
#
# **"Cliffs cannot be dealt with by optimisation algorithms, only by a less elegant trick"**
# (only partly true). Clipping *is* the standard answer, and §5.3 shows what it buys: a
# learning rate that breaks training without it (8 on every seed, 4 on one seed of five)
# trains with it (4 on every seed, 8 on four of five). It is not the only answer, though. On
# §5.3's short runs a smaller learning rate did as well without any clipping, paying with a
# smaller step everywhere for the few dangerous ones. And adaptive methods such as Adam
# divide each parameter's step by a running estimate of its gradient's size, which softens (without
# removing) the effect of a single huge gradient, and {cite:t}`ch5-zhang2020why` show
# that clipping itself can be understood as an adaptive step size, one that is provably
# faster when the smoothness of the loss grows with the gradient norm, as it does near
# cliffs. In practice RNNs are trained with Adam *and* clipping, as chapter 2 did.
#
# **"Gradient clipping prevents exploding gradients"** (梯度裁剪是用来预防梯度爆炸的). It
# prevents their *consequences*, a destructive step; the gradient itself still explodes
# (the spikes of §5.3 are measured before clipping). And it does nothing for vanishing
# gradients: a gradient that is too short is left alone by Eq. (5.3). Chapter 4's LSTM and
# GRU address that.
#
# **Words.** Note 003 calls the method 梯度阶段, a slip for 梯度截断 ("gradient truncation"),
# which is also used; this book says 梯度裁剪. Do not confuse either with the truncation of
# truncated BPTT (截断时间反向传播, chapter 3), which shortens the backward pass, not the
# gradient.

# %% [markdown]
# ## 5.5 Quiz
#
# **Question 1.** `clip_grad_norm_(model.parameters(), max_norm=1.0)` is called when the
# gradients of a model's two parameters are $g_1 = (3, 0)$ and $g_2 = (0, 4)$. What are they
# afterwards, and what does the call return?
#
# - A. $(0.6, 0)$ and $(0, 0.8)$, returning 5 (up to the $10^{-6}$).
# - B. $(1, 0)$ and $(0, 1)$, returning 5.
# - C. $(0.6, 0)$ and $(0, 0.8)$, returning 1.
# - D. $(1, 0)$ and $(0, 1)$, returning 1.
#
# :::{dropdown} Answer
# **A.** The total norm of all gradients together is $\sqrt{3^2 + 4^2} = 5$, Eq. (5.2); the
# coefficient is $1 / (5 + 10^{-6}) \approx 0.2$, Eq. (5.3), and both gradients are
# multiplied by it, Eq. (5.4), keeping the direction $(3, 4)/5$. The function returns the
# norm *before* clipping. B clips each tensor by its own norm (and D also returns the norm
# after), which changes the direction; B is also what value clipping at 1 would give.
# :::
#
# **Question 2.** A student implements clipping as `g * max_norm / total_norm` for every
# step. What goes wrong?
#
# - A. Nothing; it is Eq. (5.4).
# - B. Zero gradients divide by zero, and every small gradient is scaled *up* to length
#   `max_norm`.
# - C. The direction of the gradient changes.
# - D. Only the $10^{-6}$ is missing, a negligible difference.
#
# :::{dropdown} Answer
# **B.** Without the cap at 1 of Eq. (5.3) this is normalised gradient descent: every step
# has length $\text{lr} \cdot \mathtt{max\_norm}$, however flat the loss, and a zero gradient
# gives $0/0$. The direction is kept (C is false), and the $10^{-6}$ (D) is the smaller of
# the two problems: it only matters for gradients whose norm is near zero.
# :::
#
# **Question 3.** In Pascanu's one-unit RNN, Eq. (5.1), gradient descent with learning rate
# 0.01 lands on the cliff, where $\lVert \nabla L \rVert = 10^{9}$. How long is the next step
# without clipping, and with the norm clipped to 5?
#
# :::{dropdown} Answer
# Without clipping: $0.01 \times 10^9 = 10^7$ units in parameter space, which leaves any
# region where the model was making progress. With clipping: the gradient is rescaled to
# norm 5 (up to the $10^{-6}$), so the step is $0.01 \times 5 = 0.05$ long, in the same
# direction. In general a clipped step is never longer than
# $\text{lr} \times \mathtt{max\_norm}$.
# :::
#
# **Question 4.** Which statement about clipping is *wrong*?
#
# - A. Norm clipping leaves every gradient shorter than the threshold unchanged.
# - B. Value clipping bounds every entry of the step, but can change its direction.
# - C. Clipping helps with vanishing gradients as well, because it normalises the gradient.
# - D. The gradient norms measured before clipping still show the explosions.
#
# :::{dropdown} Answer
# **C.** Clipping only ever shrinks a gradient (the coefficient is at most 1), so a gradient
# that has vanished stays vanished; the cures for vanishing gradients are architectural
# (LSTM, GRU, chapter 4). A is the cap at 1 of Eq. (5.3); B is §5.2's figure; D is §5.3's
# right panel.
# :::

# %% [markdown]
# ## 5.6 What to try
#
# - **A wider threshold sweep.** Add thresholds 0.01, 0.1, 10 and 100 to `SETTINGS` in
#   `tools/experiments/clipping_sgd.py` and run it with `--out` pointing at a file of your
#   own. Where does clipping stop mattering, and where does it start to slow training down?
# - **Value clipping.** Replace `clip_grad_norm_` in `train_with_sgd` by
#   `coursekit.clip_grad_value_`. Which value threshold matches norm clipping at 1?
# - **Adam.** Train with `torch.optim.Adam(lr=3e-2)` with and without clipping. Does Adam
#   need clipping here? Look at the gradient norms, not only at the loss.
# - **The cliff with momentum.** Add momentum to `gradient_descent_path` (keep a running
#   sum of past steps). Does clipping the gradient still keep the path on the wall's edge?
#   Should one clip the gradient or the step?
# - **Where is the wall?** For each $w$ in `ws`, find the $b$ of the wall by bisection and
#   plot the curve over the surface. Compare it with the fold bifurcation of the map
#   $x \mapsto w\sigma(x) + b$: where do two fixed points merge?
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :keyprefix: ch5-
# ```
#
# ## Exercise
#
# In the exercise you write `clip_coefficient`, Eq. (5.3), and `clip_grads_by_norm`, Eqs.
# (5.2)–(5.4), and its tests compare them with `coursekit` (and so with torch) on many sets
# of gradients, including zero and non-finite ones.
# {download}`Download the exercise notebook <../exercises/05_gradient_clipping/05_gradient_clipping.ipynb>`.
