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
#   step does on it, with Pascanu et al.'s one-unit RNN, Eq. (5.5);
# - write norm clipping, Eqs. (5.1)–(5.3), exactly as `torch.nn.utils.clip_grad_norm_`
#   computes it, and tell it from value clipping, Eq. (5.4);
# - run a training experiment in which clipping decides whether a model trains at all, and
#   choose a threshold from the gradient norms you measure;
# - check the claims the lecture notes make about clipping, and correct the one formula they
#   get wrong.
#
# The functions come from `coursekit.clipping`; its docstrings cite the equation numbers
# used below.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.colors import LogNorm

from coursekit import (
    CharRNN,
    clip_grad_norm_,
    clip_grads_by_norm,
    gradient_descent_path,
    loss_surface,
    one_unit_rnn_loss,
    seed_everything,
)
from coursekit.data import Vocab, load_tiny_shakespeare, random_windows, split_text
from coursekit.train import evaluate_language_model

# The models here are tiny: one thread is the fastest on a shared CPU, and the printed
# numbers then do not depend on how many cores the machine has.
torch.set_num_threads(1)

# %% [markdown]
# ## 5.1 Cliffs: where a gradient step goes wrong
#
# The lecture notes say that the loss surface of a recurrent network has
# {term}`cliffs <梯度悬崖>` (梯度悬崖; "high-curvature walls"), and that no optimisation
# algorithm handles them gracefully. Pascanu, Mikolov and Bengio
# {cite}`ch5-pascanu2013difficulty` showed one in the smallest RNN there is: one unit, no input,
# two parameters,
#
# $$
# x_t = w\, \sigma(x_{t-1}) + b, \qquad L(w, b) = (x_T - \text{target})^2,
# \tag{5.5}
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
    f"norm clipped to {max_norm:g}": gradient_descent_path(start, lr, steps, clip=max_norm),
}
style = {"no clipping": ("tab:red", 3.5), f"norm clipped to {max_norm:g}": ("white", 1.5)}

fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.6), width_ratios=[1.25, 1])
mesh = ax.pcolormesh(
    ws,
    bs,
    surface,
    norm=LogNorm(vmin=1e-3, vmax=float(surface.max())),
    cmap="viridis",
    shading="auto",
)
fig.colorbar(mesh, ax=ax, label="loss $L(w, b)$, Eq. (5.5), log scale")
for label, path in paths.items():
    color, width = style[label]
    # points outside the frame are cut off by the axes limits below
    ax.plot(path[:, 0], path[:, 1], ".-", color=color, lw=width, ms=3, label=label)
    losses = one_unit_rnn_loss(path[:, 0], path[:, 1])
    ax_loss.semilogy(losses, color="black" if color == "white" else color, label=label)
plain = paths["no clipping"]
jump = int((plain[1:] - plain[:-1]).norm(dim=1).argmax())  # the longest step
(w0, b0), (w1, b1) = plain[jump].tolist(), plain[jump + 1].tolist()
exit_w = w0 + (bs[-1].item() - b0) / (b1 - b0) * (w1 - w0)  # where it crosses the top edge
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
ax.legend(loc="lower left", fontsize=8)
ax_loss.set(xlabel="gradient-descent step", ylabel="loss (log scale)", title="Loss along each path")
ax_loss.legend()
fig.tight_layout()
plt.show()

for label, path in paths.items():
    step_lengths = (path[1:] - path[:-1]).norm(dim=1)  # (steps,)
    final = one_unit_rnn_loss(path[-1, 0], path[-1, 1])
    print(
        f"{label:20s}: longest step {step_lengths.max():7.3f} (at step "
        f"{int(step_lengths.argmax()) + 1:3d}), final loss {final:8.3f}"
    )

# %% [markdown]
# The two runs take the same steps for the first twenty: away from the wall the gradient is
# shorter than 10 and clipping does nothing. Both head down-slope towards the wall, whose
# top edge is where the loss is lowest (the dark valley at the left is the set of $(w, b)$
# that reach the target exactly), and from there both zig-zag along the edge towards the
# valley: each step overshoots the edge a little, the next comes back, and the loss on the
# right jumps up and down by an order of magnitude. The difference is what happens when a
# step lands on the face of the wall, where the gradient is huge. For the plain run this
# happens at step 136: one step 20 units long throws the parameters onto a plateau of high
# loss, where the gradient is nearly zero and the run is stuck. The clipped run lands on the
# wall too, but no step of it is longer than $\text{lr} \times 10 = 0.1$; it keeps sliding
# along the edge into the valley.
#
# The wall is not an artefact of an unlucky start. We can find a point on it the way the
# tests of `coursekit.clipping` do, by bisection in $b$ at fixed $w$ (keeping the half across
# which the loss changes more), and look at the gradient there:

# %%
w_on_the_wall, low, high = 9.0, -6.0, -3.0
while high - low > 1e-11:
    mid = (low + high) / 2
    left = abs(one_unit_rnn_loss(w_on_the_wall, mid) - one_unit_rnn_loss(w_on_the_wall, low))
    right = abs(one_unit_rnn_loss(w_on_the_wall, high) - one_unit_rnn_loss(w_on_the_wall, mid))
    low, high = (low, mid) if left >= right else (mid, high)
on_the_wall = torch.tensor([w_on_the_wall, (low + high) / 2], dtype=torch.float64)
on_the_wall.requires_grad_()
(gradient,) = torch.autograd.grad(one_unit_rnn_loss(*on_the_wall), on_the_wall)
print(
    f"wall at b = {on_the_wall[1]:.4f}; loss just above {one_unit_rnn_loss(9.0, low + 0.05):.1f},"
    f" just below {one_unit_rnn_loss(9.0, low - 0.05):.1f}"
)
print(f"gradient norm on the wall: {gradient.norm():.1e}")
for clip in [None, 1.0]:
    path = gradient_descent_path(on_the_wall.detach(), 0.01, 1, clip=clip)
    print(f"one step with lr 0.01, clip {clip}: length {(path[1] - path[0]).norm():.3g}")

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
# \tag{5.1}
# $$
#
# a clip coefficient that is never above 1,
#
# $$
# c = \min\left(1,\ \frac{\mathtt{max\_norm}}{\lVert g \rVert_p + 10^{-6}}\right),
# \tag{5.2}
# $$
#
# and multiplies every gradient by it:
#
# $$
# g_i \leftarrow c\, g_i .
# \tag{5.3}
# $$
#
# A gradient shorter than the threshold is left alone; a longer one is shrunk to length
# `max_norm` (up to the $10^{-6}$), *in the same direction*. That is Algorithm 1 of Pascanu et
# al. {cite}`ch5-pascanu2013difficulty` ("if $\lVert \hat g \rVert \ge$ threshold then
# $\hat g \leftarrow \frac{\text{threshold}}{\lVert \hat g \rVert} \hat g$"), written as a
# minimum; the $10^{-6}$ is torch's, which keeps a zero gradient from dividing by zero.
# `coursekit.clip_grads_by_norm` is Eqs. (5.1)–(5.3) as a pure function, and
# `coursekit.clip_grad_norm_` applies it in place with `torch.nn.utils.clip_grad_norm_`'s
# contract; both give torch's numbers:

# %%
generator = seed_everything(0)
shapes = [(64, 32), (64, 64), (64,), (65, 64)]  # gradients of four parameter tensors
grads = [torch.randn(shape, generator=generator) for shape in shapes]
parameters = [torch.nn.Parameter(torch.zeros(shape)) for shape in shapes]
for p, g in zip(parameters, grads, strict=True):
    p.grad = g.clone()

for norm_type in [2.0, 1.0, math.inf]:
    clipped, total = clip_grads_by_norm(grads, max_norm=1.0, norm_type=norm_type)
    torch_total = torch.nn.utils.clip_grad_norm_(parameters, 1.0, norm_type)  # in place
    same = torch.allclose(total, torch_total, rtol=1e-6, atol=0) and all(
        torch.allclose(c, p.grad, rtol=1e-6, atol=0)
        for c, p in zip(clipped, parameters, strict=True)
    )
    after = clip_grads_by_norm(clipped, math.inf, norm_type)[1]  # the norm after clipping
    print(f"norm_type {norm_type}: total norm {total:8.2f} -> {after:.6f}, same as torch: {same}")
    for p, g in zip(parameters, grads, strict=True):
        p.grad = g.clone()  # undo torch's in-place clipping for the next norm type

# %% [markdown]
# **{term}`Value clipping <值裁剪>`** (值裁剪) clamps each entry of each gradient separately,
#
# $$
# g_i \leftarrow \operatorname{clamp}(g_i, -\mathtt{clip\_value}, \mathtt{clip\_value}),
# \tag{5.4}
# $$
#
# (`torch.nn.utils.clip_grad_value_`, `coursekit.clip_grad_value_`). It is older: Mikolov's
# RNN language models clipped gradient values {cite}`ch5-mikolov2012statistical`. It also bounds
# the step, but it changes its **direction**: the large entries are cut, the small ones kept,
# so the clipped gradient turns towards the diagonals. In two dimensions, with thresholds of
# 1 for both:

# %% tags=["hide-input"]
examples = torch.tensor([[3.0, 0.5], [0.6, 2.5], [-2.4, 1.6], [0.5, -0.4], [-1.5, -2.8]])
fig, ax = plt.subplots(figsize=(5.5, 5.5))
ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="tab:blue", ls="--", lw=1))
ax.add_patch(plt.Rectangle((-1, -1), 2, 2, fill=False, color="tab:orange", ls="--", lw=1))
arrow = dict(width=0.02, length_includes_head=True, head_width=0.12)
for k, g in enumerate(examples):
    (by_norm,), _ = clip_grads_by_norm([g], 1.0)
    by_value = g.clamp(-1.0, 1.0)
    ax.arrow(
        0, 0, *g.tolist(), color="gray", alpha=0.6, **arrow, label="gradient" if k == 0 else None
    )
    ax.arrow(
        0,
        0,
        *by_norm.tolist(),
        color="tab:blue",
        **arrow,
        label="norm clipped, Eq. (5.3)" if k == 0 else None,
    )
    ax.arrow(
        0,
        0,
        *by_value.tolist(),
        color="tab:orange",
        **arrow,
        label="value clipped, Eq. (5.4)" if k == 0 else None,
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
# steps, three ways: without clipping, with the norm clipped to 1, and without clipping at a
# learning rate of 1. We record the loss and the gradient norm of every step (with
# `max_norm=inf`, `clip_grad_norm_` only measures):

# %%
text = load_tiny_shakespeare()
train_text, valid_text, _ = split_text(text, (0.9, 0.05, 0.05))
vocab = Vocab(train_text)
train_ids, valid_ids = vocab.encode(train_text), vocab.encode(valid_text)[:20_000]


def train_with_sgd(lr, clip, steps=400):
    """Plain SGD on the char-RNN; returns the model, the loss (bits/char) and gradient norm per step."""
    seed_everything(0)
    model = CharRNN(len(vocab), embedding_dim=32, hidden_size=64)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    losses, norms = [], []
    for _ in range(steps):
        x, y = random_windows(train_ids, 50, 32, generator)  # (T, B) each
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        norms.append(clip_grad_norm_(model.parameters(), math.inf if clip is None else clip).item())
        optimizer.step()
        losses.append(loss.item() / math.log(2))
    return model, torch.tensor(losses), torch.tensor(norms)


runs = {
    "lr 4, no clipping": train_with_sgd(4.0, None),
    "lr 4, clipped to 1": train_with_sgd(4.0, 1.0),
    "lr 1, no clipping": train_with_sgd(1.0, None),
}

# %%
colors = {
    "lr 4, no clipping": "tab:red",
    "lr 4, clipped to 1": "tab:blue",
    "lr 1, no clipping": "tab:gray",
}
fig, (ax_loss, ax_norm) = plt.subplots(1, 2, figsize=(12, 4.2))
for label, (_, losses, norms) in runs.items():
    ax_loss.plot(losses, color=colors[label], lw=1, label=label)
    ax_norm.semilogy(norms, color=colors[label], lw=1, label=label)
ax_norm.axhline(1.0, color="black", ls="--", lw=1, label="threshold 1")
ax_loss.set(
    xlabel="step", ylabel="training loss (bits/char)", ylim=(0, 20), title="Loss of each minibatch"
)
ax_norm.set(
    xlabel="step", ylabel="gradient norm before clipping (log scale)", title="Gradient norm"
)
ax_loss.legend()
ax_norm.legend()
fig.tight_layout()
plt.show()

uniform = math.log2(len(vocab))
for label, (model, _, norms) in runs.items():
    valid = evaluate_language_model(model, valid_ids, 50, 32) / math.log(2)
    print(
        f"{label:19s}: validation {valid:5.1f} bits/char (uniform guess {uniform:.1f}); "
        f"steps with norm > 1: {(norms > 1).float().mean():4.0%}; "
        f"largest norm > 1000: {bool(norms.max() > 1000)}"
    )

# %% [markdown]
# Without clipping, a few steps into training the gradient norm jumps by five orders of
# magnitude, one step of SGD multiplies that by 4, and the model never recovers. Its loss
# stays *above* the uniform guess: it puts less probability on the right character than a
# model that knows nothing, so it is confidently wrong, and the gradients that follow do
# not bring it back. In the clipped run the norm passes the threshold only in the first
# few steps, each of those steps is cut to length $4 \times 1$, and the explosion never
# starts: clipping was active on about one step in a hundred. The lower learning rate also
# survives, but it pays for the few dangerous steps on every step and ends a little behind
# the clipped run. That is the argument for clipping: it changes nothing on ordinary steps
# and everything on the rare bad ones.
#
# **Choosing the threshold.** Pascanu et al. suggest looking at the average gradient norm
# over many updates and clipping somewhat above it. The right panel does exactly that: the
# typical norm here is a few tenths, the spikes are orders of magnitude above, and any
# threshold in between (0.5 to 5, say) behaves much the same. A threshold far below the
# typical norm clips every step, which turns SGD into normalised gradient descent (next
# section); a threshold far above it never clips.

# %% [markdown]
# ## 5.4 The notes' claims, checked
#
# **"Clipping keeps the right direction of the update"** (保留了参数更新的正确方向, note 000).
# True of norm clipping, by Eq. (5.3); not of value clipping. On the gradient of the
# char-RNN's first step, the cosine between the clipped and the raw gradient:

# %%
seed_everything(0)
model = CharRNN(len(vocab), embedding_dim=32, hidden_size=64)
x, y = random_windows(train_ids, 50, 32, torch.Generator().manual_seed(0))
logits, _ = model(x)
F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1)).backward()
raw = torch.cat([p.grad.flatten() for p in model.parameters()])  # (number of parameters,)
by_norm = torch.cat(clip_grads_by_norm([raw], 0.1)[0])
for value in [1e-2, 1e-3]:
    by_value = raw.clamp(-value, value)
    print(
        f"value clipping at {value:g}: cosine {F.cosine_similarity(raw, by_value, dim=0):.3f}, "
        f"{(raw.abs() > value).float().mean():.0%} of the entries changed"
    )
print(f"norm clipping to 0.1:     cosine {F.cosine_similarity(raw, by_norm, dim=0):.3f}")

# %% [markdown]
# **The formula of note 000.** The notes write the clipped gradient as
# $\hat g \leftarrow \frac{\text{threshold}}{\lVert \hat g \rVert_2} \hat g$, without the
# condition $\lVert \hat g \rVert \ge \text{threshold}$ that note 003's pseudo-code has. Taken
# literally it rescales *every* gradient to length `threshold`, small ones up as well as
# large ones down: that is normalised gradient descent, a different algorithm, whose step
# never shrinks as the loss flattens out. The cap at 1 in Eq. (5.2) is what makes clipping
# clipping. The exercise's hidden tests include exactly this mistake.
#
# **"Cliffs cannot be dealt with by optimisation algorithms, only by a less elegant trick"**
# (only partly true). Clipping *is* the standard answer, and §5.3 shows a plain learning-rate
# change is worse. But it is not the only one: adaptive methods such as Adam divide each
# parameter's step by a running estimate of its gradient's size, which softens (without
# removing) the effect of a single huge gradient, and Zhang et al. {cite}`ch5-zhang2020why` show
# that clipping itself can be understood as an adaptive step size, one that is provably
# faster when the smoothness of the loss grows with the gradient norm, as it does near
# cliffs. In practice RNNs are trained with Adam *and* clipping, as chapter 2 did.
#
# **"Gradient clipping prevents exploding gradients"** (梯度裁剪是用来预防梯度爆炸的). It
# prevents their *consequences*, a destructive step; the gradient itself still explodes
# (the spikes of §5.3 are measured before clipping). And it does nothing for vanishing
# gradients: a gradient that is too short is left alone by Eq. (5.2). Chapter 4's LSTM and
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
# **A.** The total norm of all gradients together is $\sqrt{3^2 + 4^2} = 5$, Eq. (5.1); the
# coefficient is $1 / (5 + 10^{-6}) \approx 0.2$, Eq. (5.2), and both gradients are
# multiplied by it, Eq. (5.3), keeping the direction $(3, 4)/5$. The function returns the
# norm *before* clipping. B clips each tensor by its own norm (and D also returns the norm
# after), which changes the direction; B is also what value clipping at 1 would give.
# :::
#
# **Question 2.** A student implements clipping as `g * max_norm / total_norm` for every
# step. What goes wrong?
#
# - A. Nothing; it is Eq. (5.3).
# - B. Zero gradients divide by zero, and every small gradient is scaled *up* to length
#   `max_norm`.
# - C. The direction of the gradient changes.
# - D. Only the $10^{-6}$ is missing, a negligible difference.
#
# :::{dropdown} Answer
# **B.** Without the cap at 1 of Eq. (5.2) this is normalised gradient descent: every step
# has length $\text{lr} \cdot \mathtt{max\_norm}$, however flat the loss, and a zero gradient
# gives $0/0$. The direction is kept (C is false), and the $10^{-6}$ (D) is the smaller of
# the two problems: it only matters for gradients whose norm is near zero.
# :::
#
# **Question 3.** In Pascanu's one-unit RNN, Eq. (5.5), gradient descent with learning rate
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
# (LSTM, GRU, chapter 4). A is the cap at 1 of Eq. (5.2); B is §5.2's figure; D is §5.3's
# right panel.
# :::

# %% [markdown]
# ## 5.6 What to try
#
# - **Threshold sweep.** Rerun §5.3 with `clip` in 0.01, 0.1, 1, 10, 100. Plot the final
#   validation loss against the threshold. Where does clipping stop mattering, and where
#   does it start to slow training down?
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
# In the exercise you write `clip_coefficient`, Eq. (5.2), and `clip_grads_by_norm`, Eqs.
# (5.1)–(5.3), and its tests compare them with `coursekit` (and so with torch) on many sets
# of gradients, including zero and non-finite ones.
# {download}`Download the exercise notebook <../exercises/05_gradient_clipping/05_gradient_clipping.ipynb>`.
