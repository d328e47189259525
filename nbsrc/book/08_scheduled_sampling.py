# %% [markdown]
# # 8. Scheduled sampling · 计划采样
#
# A recurrent decoder writes its output one token at a time, and each step is fed the token
# before it. In training that token is known, and the standard practice,
# {term}`teacher forcing <教师强制>` (教师强制) {cite}`ch8-williams1989learning`, feeds the
# true one. At inference nobody knows the true token, so the decoder is fed its own
# previous output: it runs *free* ({term}`free running <自由运行>`, 自由运行). The two
# regimes differ in what the model is conditioned on. Note 000 calls the difference
# {term}`训练推理失配` (training–inference shift): in training the model only ever sees
# correct histories; at inference it sees its own, possibly wrong ones, and
# "若在推理阶段的某一步出错，那么错误会迅速累积" (one error at inference can quickly snowball).
# The literature's name for the same
# thing is {term}`exposure bias <暴露偏差>` (暴露偏差) {cite}`ch8-ranzato2016sequence`.
#
# The notes' remedy borrows from {term}`curriculum learning <课程学习>` (课程学习), note
# 001's "先学容易的，再学难的" (first learn the easy things, then the hard ones):
# {term}`scheduled sampling <计划采样>` (计划采样) {cite}`ch8-bengio2015scheduled` starts
# with teacher forcing and, as training goes on, feeds the model more and more of its own
# predictions, so that by the end it is trained in the conditions it will be used in.
#
# By the end of the chapter you will be able to
#
# - write the decoding loop with a coin flip per token, Eq. (8.1), whose two extremes are
#   teacher forcing and free running, and the paper's three decay schedules,
#   Eqs. (8.2)–(8.4);
# - measure exposure bias position by position, Eq. (8.5), and separate a model's first
#   errors from the errors that follow them, Eq. (8.6);
# - read an experiment, five seeds of a GRU decoder that reverses strings of digits, in
#   which scheduled sampling does what it was designed to do (errors stop compounding) and
#   still does *not* lower the error, and say why.
#
# The functions come from `coursekit.scheduled_sampling`; its docstrings cite the equation
# numbers used below.

# %%
import json
import math
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from coursekit import (
    decode,
    exponential_schedule,
    exposure_bias,
    inverse_sigmoid_schedule,
    linear_schedule,
    per_position_error,
    seed_everything,
)
from coursekit.plots import setup_chapter

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)

# %% [markdown]
# ## 8.1 Teacher forcing, free running, and a coin between them
#
# A recurrent decoder (here a GRU behind an embedding $e$, with a linear readout) has a
# state $h_t$; at step $t$ it is fed a token $x_t$ and scores every token $v$ of the
# vocabulary with the logits $z_t$:
#
# $$ h_t = \mathrm{GRU}\big(h_{t-1}, e(x_t)\big), \qquad z_t = W_o h_t + b_o . $$
#
# Its job is to output $y_0, \dots, y_{T-1}$; step $t$ is trained on the cross-entropy of
# the true token,
#
# $$ \mathcal{L} = -\sum_{t=0}^{T-1} \log \operatorname{softmax}(z_t)_{y_t} . $$
#
# The first input $x_0$ is given (a start token, or the last token of a prompt). For the
# later ones there are two choices: the true previous token, $x_t = y_{t-1}$ (teacher
# forcing), or the model's own previous prediction, $x_t = \hat y_{t-1}$ (free running).
# Teacher forcing is how sequence models are usually trained: every step's input is right,
# so the gradient of step $t$ is about predicting $y_t$ from a correct history, and all
# steps can be computed at once when the model allows it. Free running is the only option
# at test time. Scheduled sampling mixes them, with a coin for every token of every
# sequence: at training step $i$ (the $i$-th minibatch), with $\varepsilon_i$ the
# probability of feeding the truth,
#
# \begin{equation*}
# \begin{aligned}
# x_t &= \begin{cases} y_{t-1} & \text{if } c_t = 1, \\
#   \hat y_{t-1} & \text{if } c_t = 0, \end{cases}
#   \qquad c_t \sim \mathrm{Bernoulli}(\varepsilon_i), \\
# \hat y_{t-1} &= \arg\max_v z_{t-1,v}
#   \quad \text{or} \quad \hat y_{t-1} \sim \operatorname{softmax}(z_{t-1}).
# \end{aligned}\tag{8.1}
# \end{equation*}
#
# $\varepsilon_i = 1$ is teacher forcing and $\varepsilon_i = 0$ is free running. The
# prediction that may be fed is either the model's most likely token or a draw from its
# distribution; Bengio et al. allow both. Two details matter for the code. The coins are
# fresh for every token of every sequence, a $(B,)$ vector at every step, not one coin per
# step or per batch. And no gradient flows through the fed prediction: $\hat y_{t-1}$ is an
# integer, an arg-max or a draw, and has no derivative, so the loss of step $t$ does not
# reach step $t-1$'s logits through the token it was fed (the paper does not
# back-propagate through that choice either). The gradient of a scheduled-sampling step is
# that of teacher forcing on the sequence that was actually fed. One loop does all three
# regimes:
#
# ```{literalinclude} ../coursekit/scheduled_sampling.py
# :pyobject: decode
# ```

# %% [markdown]
# ## 8.2 The schedule: from easy to hard
#
# Feeding the model its own predictions from the start does not work: an untrained model's
# predictions are noise, and a decoder fed noise learns little about the task (the paper's
# "always sampling" runs were far worse than teacher forcing). So $\varepsilon_i$ starts at
# or near 1 and decays with the training step $i$. Bengio et al. propose three decays
# (their Fig. 2):
#
# $$ \varepsilon_i = \max(\varepsilon_{\min},\; k - c\,i) \quad
# \text{(linear; offset } k \le 1, \text{ slope } c \ge 0), \tag{8.2} $$
#
# $$ \varepsilon_i = k^i \quad \text{(exponential; } 0 < k < 1), \tag{8.3} $$
#
# $$ \varepsilon_i = \frac{k}{k + \exp(i / k)} \quad
# \text{(inverse sigmoid; } k \ge 1). \tag{8.4} $$
#
# $\varepsilon_{\min}$ is the least truth the model is ever given. The inverse sigmoid
# starts at $k/(k+1)$, not at 1, stays there while $\exp(i/k)$ is small next to $k$, crosses
# $1/2$ at $i = k \ln k$ and then falls like $k\,e^{-i/k}$. In code:
#
# ```{literalinclude} ../coursekit/scheduled_sampling.py
# :pyobject: linear_schedule
# ```
#
# ```{literalinclude} ../coursekit/scheduled_sampling.py
# :pyobject: exponential_schedule
# ```
#
# ```{literalinclude} ../coursekit/scheduled_sampling.py
# :pyobject: inverse_sigmoid_schedule
# ```
#
# The experiment of §8.4 trains for 1 500 steps and sets each decay to cross $1/2$ halfway,
# at step 750: linear with $k = 1$, $c = 1/1500$, $\varepsilon_{\min} = 0$; exponential
# with $k = 0.5^{1/750}$; inverse sigmoid with the $k$ for which $k \ln k = 750$. Its log
# records the configuration, and the script computes the parameters from it:

# %%
sys.path.insert(0, str(Path.cwd().parent))  # tools/experiments/
from tools.experiments import scheduled_sampling as experiment

ss_log = json.loads(Path("data/scheduled_sampling.json").read_text())
config = ss_log["config"]
SETTINGS = list(ss_log["runs"][0]["settings"])
steps = config["steps"]
half = steps / 2
k_exp = 0.5 ** (1 / half)
k_sig = experiment.inverse_sigmoid_k(half)
print(f"{steps} steps; each decay crosses 1/2 at step {half:g}")
print(f"linear:          k = 1, c = 1/{steps}, minimum 0")
print(f"exponential:     k = 0.5^(1/{half:g}) = {k_exp:.6f}")
print(f"inverse sigmoid: k = {k_sig:.2f} (k ln k = {half:g})")
schedules = {
    setting: experiment.schedule(setting, steps) for setting in SETTINGS
}
for setting, eps in schedules.items():
    values = " ".join(
        f"{eps(i):.3f}" for i in (0, 375, 750, 1125, 1499)
    )
    print(f"{setting:16s} eps at 0, 375, 750, 1125, 1499: {values}")

# %%
# the schedules are Eqs. (8.2)-(8.4), and each crosses 1/2 at step 750
assert schedules["linear"](750) == linear_schedule(
    750, slope=1 / steps, minimum=0.0
)
assert math.isclose(exponential_schedule(750, k=k_exp), 0.5)
assert math.isclose(inverse_sigmoid_schedule(750, k=k_sig), 0.5)
assert math.isclose(
    inverse_sigmoid_schedule(0, k=k_sig), k_sig / (k_sig + 1)
)

colors = {
    "teacher forcing": "black",
    "linear": "tab:blue",
    "exponential": "tab:orange",
    "inverse sigmoid": "tab:green",
}
i = torch.arange(steps)
fig, ax = plt.subplots(figsize=(7, 3))
for setting, eps in schedules.items():
    ax.plot(
        i,
        [eps(int(s)) for s in i],
        color=colors[setting],
        label=setting,
    )
ax.axhline(0.5, color="gray", ls=":", lw=1)
ax.axvline(half, color="gray", ls=":", lw=1)
ax.set(
    xlabel="training step i",
    ylabel=r"$\varepsilon_i$ = P(feed the true token)",
    title="The experiment's schedules, Eqs. (8.2)–(8.4)",
    ylim=(-0.03, 1.05),
)
ax.legend(fontsize=8, loc="lower left")
fig.tight_layout()
plt.show()

# %% [markdown]
# The three differ in *when* the model is weaned. The inverse sigmoid keeps almost pure
# teacher forcing for the first 300 steps and then drops quickly, to below 0.1 by step
# 1 100. The linear decay changes at a constant rate and reaches 0 at the end. The
# exponential one falls fastest at first and slowest at the end: it still feeds the truth
# a quarter of the time at step 1 500.

# %% [markdown]
# ## 8.3 Exposure bias, measured
#
# **The task.** A source of 8 random digits is read by the decoder, each digit fed as
# given; then a separator is fed, and the decoder must write the source backwards, one
# digit per step, each step fed the previous output digit. The vocabulary has 11 tokens
# (10 digits and the separator); the true output is fixed by the source, so at every
# position there is one right answer. This is the experiment's task
# (`tools/experiments/scheduled_sampling.py`), and its model: an embedding of 16, a
# `GRUCell` of 64 units and a linear readout, 16 635 parameters.
#
# **The measure.** With predictions $\hat y_{b,t}$ for $B$ test sequences, the error rate
# at position $t$ is
#
# $$ \mathrm{err}_t = \frac{1}{B} \sum_{b=1}^{B} [\hat y_{b,t} \ne y_{b,t}] , \tag{8.5} $$
#
# once with the true history fed (teacher-forced) and once with the model's own
# (free-running, greedy: the arg-max, as a model is used at test time). Position 0 is fed
# the separator either way, so the two agree there. A gap that grows with $t$ is exposure
# bias. `exposure_bias` computes both curves.
#
# A decoder trained with teacher forcing for 300 steps (a few seconds; in float64, so that
# the numbers below do not depend on the CPU) is enough to see it:

# %%
test_source, test_first, test_targets = experiment.test_set(config)


def train_teacher_forced(model, n_steps, seed=0):
    """Adam on fresh batches, every step teacher-forced (p_true = 1),
    as the experiment's `train` does for its first setting."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    batches = torch.Generator().manual_seed(seed)
    for _ in range(n_steps):
        source, first, targets = experiment.reversal_batch(
            batches, config["length"], config["batch"]
        )
        decoded = decode(
            model.step,
            first,
            targets,
            p_true=1.0,
            state=model.read(source),
        )
        loss = F.cross_entropy(
            decoded.logits.flatten(0, 1), targets.flatten()
        )
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
        optimizer.step()
    return loss.item()


seed_everything(0)
quick = experiment.Decoder(config).double()
last_loss = train_teacher_forced(quick, 300)
with torch.no_grad():
    quick_state = quick.read(test_source)
    quick_bias = exposure_bias(
        quick.step, test_first, test_targets, state=quick_state
    )
print(f"training loss after 300 steps: {last_loss:.2f}")
print("position       ", " ".join(f"{t:4d}" for t in range(8)))
for name, curve in quick_bias._asdict().items():
    print(f"{name:15s}", " ".join(f"{e:4.2f}" for e in curve))

# %% [markdown]
# On the 1 000 test sequences, the teacher-forced error rises from 0.05 at position 0 to
# about 0.3 in the middle (the later outputs are digits read earlier, which the state has
# held longer), and the free-running error rises faster: from the same 0.05 at position 0
# to 0.57 from position 5 on, about twice the teacher-forced error. The extra error is
# what the model's own mistakes cost it.
#
# **The coins.** Between the two extremes, `decode` with `p_true=0.5` feeds each
# sequence a mix. For two test sequences, the coins $c_t$ ($c_0 = 1$: $x_0$ is given), the
# fed inputs $x_t$ (`S` is the separator) and what was predicted; where a coin is 0, the
# input is the previous prediction, right or wrong:

# %%
coins = torch.Generator().manual_seed(1)
with torch.no_grad():
    mixed = decode(
        quick.step,
        test_first[:2],
        test_targets[:2],
        p_true=0.5,
        state=quick_state[:2],
        generator=coins,
    )


def digits(ids):
    return " ".join("S" if v == 10 else str(v) for v in ids.tolist())


for b in range(2):
    print(f"sequence {b}")
    print("  target y_t    ", digits(test_targets[b]))
    print(
        "  coin c_t      ",
        " ".join(str(int(c)) for c in mixed.use_true[b]),
    )
    print("  fed x_t       ", digits(mixed.inputs[b]))
    print("  predicted     ", digits(mixed.predictions[b]))
# where the coin says 1 the true previous token was fed, else the prediction
fed = mixed.inputs[:, 1:]
assert torch.equal(
    fed,
    torch.where(
        mixed.use_true[:, 1:],
        test_targets[:2, :-1],
        mixed.predictions[:, :-1],
    ),
)

# %% [markdown]
# **One wrong token.** How much does a single wrong input hurt? Take the test sequences,
# feed the true history except at one step, where a wrong digit is fed in place of the
# right one, and score every position against the true output. First one sequence the
# model reverses entirely right, with its third output digit replaced by a wrong one
# when it is fed back:

# %%
with torch.no_grad():
    forced = decode(
        quick.step,
        test_first,
        test_targets,
        p_true=1.0,
        state=quick_state,
    )
all_right = (forced.predictions == test_targets).all(1)
b = int(all_right.nonzero()[0])
wrong_at = 2  # y_2 is replaced by another digit, fed at step 3
shift = torch.randint(
    1,
    10,
    (len(test_targets),),
    generator=torch.Generator().manual_seed(5),
)
corrupted = test_targets.clone()
corrupted[:, wrong_at] = (corrupted[:, wrong_at] + shift) % 10
with torch.no_grad():
    derailed = decode(
        quick.step, test_first, corrupted, p_true=1.0, state=quick_state
    )
marks = " ".join(
    "^" if p != y else " "
    for p, y in zip(
        derailed.predictions[b], test_targets[b], strict=True
    )
)
print(f"test sequence {b}")
print("  source          ", digits(test_source[b]))
print("  target          ", digits(test_targets[b]))
print("  fed, true       ", digits(forced.inputs[b]))
print("  output          ", digits(forced.predictions[b]))
print("  fed, one wrong  ", digits(derailed.inputs[b]))
print("  output          ", digits(derailed.predictions[b]))
print("  wrong           ", marks)

# %% [markdown]
# And over all 1 000 test sequences, the error at each position with the true history,
# and with one wrong digit fed at step 3:

# %%
clean_error = per_position_error(forced.predictions, test_targets)
derailed_error = per_position_error(derailed.predictions, test_targets)
print("position          ", " ".join(f"{t:4d}" for t in range(8)))
print("true history      ", " ".join(f"{e:4.2f}" for e in clean_error))
print(
    "one wrong at t = 3", " ".join(f"{e:4.2f}" for e in derailed_error)
)
# steps before the wrong input are untouched; every step after it is worse
assert torch.equal(clean_error[:3], derailed_error[:3])
assert (derailed_error[3:] > clean_error[3:] + 0.3).all()

# %% [markdown]
# One wrong digit more than doubles the error at *every* later position, not just the
# next. The output of this task does not depend on the previous output at all (position
# $t$ must write source digit $7 - t$ whatever came before), yet the model has learnt to
# lean on its input: the true previous digit is a reliable pointer into the source ("the
# digit read just after this one"), and under teacher forcing it is always right. A wrong
# pointer sends the model to the wrong place, and it stays lost. This is the mechanism
# the notes describe, and a free-running decoder triggers it with its own first mistake.
#
# Errors that follow an earlier error can be counted directly. Under free running, as long
# as every output so far is right, the model is fed exactly the true history, so up to and
# including its first error it makes exactly its teacher-forced predictions. Split the
# positions of the free-running outputs into those with no earlier error in their sequence
# and those with one:
#
# \begin{equation*}
# \begin{aligned}
# e_{\text{before}} &= P\big(\hat y_t \ne y_t \bigm|
#   \hat y_s = y_s \text{ for all } s < t\big), \\
# e_{\text{after}} &= P\big(\hat y_t \ne y_t \bigm|
#   \hat y_s \ne y_s \text{ for some } s < t\big).
# \end{aligned}\tag{8.6}
# \end{equation*}
#
# If errors did not compound, the two would be about equal (a sequence can be harder than
# another, which makes errors cluster a little even without feedback). The experiment
# logs both; its function computes them from a (B, T) table of wrong outputs:
#
# ```{literalinclude} ../tools/experiments/scheduled_sampling.py
# :pyobject: error_after_and_before_a_first_error
# ```

# %%
with torch.no_grad():
    free = decode(
        quick.step,
        test_first,
        test_targets,
        p_true=0.0,
        state=quick_state,
    )
wrong = free.predictions != test_targets
after, before = experiment.error_after_and_before_a_first_error(wrong)
print(f"free running: e_before = {before:.2f}, e_after = {after:.2f}")
assert after > 2 * before

# %% [markdown]
# After its first error, this model is wrong about three times as often as before it.
# Can training on its own predictions teach it to recover?

# %% [markdown]
# ## 8.4 The experiment: teacher forcing against three schedules
#
# `tools/experiments/scheduled_sampling.py` trains the decoder of §8.3 on the reversal task
# with the four settings of $\varepsilon_i$ of §8.2, for 1 500 steps of fresh batches of
# 64 (Adam, learning rate $10^{-2}$, gradient norm clipped at 1), from five seeds. Each seed
# draws the initial weights and the training batches, the same for every setting, so the
# settings of one seed differ only in what was fed; the test set (1 000 sources) is the same
# for every run. When a prediction is fed in training it is a *draw* from the softmax, as in
# Bengio et al.'s Fig. 1; the test is free-running with the arg-max. One run:
#
# ```{literalinclude} ../tools/experiments/scheduled_sampling.py
# :pyobject: train
# ```
#
# The whole sweep (20 runs, float32) took 9 minutes on one CPU thread. Every 100 steps the
# script logs the test error, teacher-forced and free-running, averaged over positions:

# %%
runs = ss_log["runs"]


def per_seed(setting, key):
    """A (seeds, ...) tensor of a logged quantity of one setting."""
    return torch.tensor(
        [run["settings"][setting][key] for run in runs],
        dtype=torch.float64,
    )


def curve_of(setting, key):
    """(steps, a (seeds, evaluations) tensor) of the logged curve."""
    curves = [run["settings"][setting]["curve"] for run in runs]
    at = [point["step"] for point in curves[0]]
    values = [[point[key] for point in curve] for curve in curves]
    return at, torch.tensor(values, dtype=torch.float64)


def band(ax, x, values, color, label, **style):
    """The mean over seeds as a line, the min-max range as a band."""
    ax.fill_between(
        x,
        values.min(0).values,
        values.max(0).values,
        color=color,
        alpha=0.2,
        lw=0,
    )
    ax.plot(x, values.mean(0), color=color, label=label, **style)


def moving_average(values, width=50):
    return values.unfold(-1, width, width).mean(-1)


def log_axis(ax, ticks):
    """A log-scaled y axis labelled with plain numbers."""
    ax.set_yscale("log")
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.yaxis.set_minor_formatter(plt.NullFormatter())


fig, axes = plt.subplots(3, 1, figsize=(7, 7.6), sharex=True)
for setting in SETTINGS:
    color = colors[setting]
    loss = moving_average(per_seed(setting, "loss"))
    x = 50 * torch.arange(loss.shape[1]) + 25
    band(axes[0], x, loss, color, setting)
    for ax, key in zip(
        axes[1:], ("free_running", "teacher_forced"), strict=True
    ):
        at, values = curve_of(setting, key)
        band(ax, at, values, color, setting, marker=".")
axes[0].set(
    ylabel="training loss\n(on what was fed)",
    title="Training, five seeds: mean and min-max band",
)
axes[1].set(ylabel="test error,\nfree running")
axes[2].set(
    ylabel="test error,\nteacher-forced", xlabel="training step"
)
for ax in axes[1:]:
    log_axis(ax, [0.03, 0.05, 0.1, 0.2, 0.5])
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The training loss is measured on whatever was fed, so under a schedule it stops falling
# while $\varepsilon_i$ drops (the inputs get harder faster than the model improves) and
# is not comparable with teacher forcing's. The test errors are comparable. The schedules
# slow learning down: at step 800, the teacher-forced model's free-running error is 0.17 on
# average, the scheduled models' 0.24–0.32. The inverse sigmoid, which keeps teacher
# forcing longest and then switches fast, stalls while its $\varepsilon_i$ falls from 0.9
# to 0.4 (steps 400 to 800): its free-running error stays near 0.38 for 300 steps and its
# teacher-forced error rises a little. By step 1 500 the four have met again. At the end,
# the error at each position, free running and teacher-forced
# (mean over seeds and min-max band):

# %%
fig, axes = plt.subplots(
    2, 1, figsize=(7, 5.6), sharex=True, sharey=True
)
positions = torch.arange(config["length"])
for setting in SETTINGS:
    for ax, key in zip(
        axes, ("free_running", "teacher_forced"), strict=True
    ):
        band(
            ax,
            positions,
            per_seed(setting, key),
            colors[setting],
            setting,
            marker="o",
            ms=3,
        )
axes[0].set(
    ylabel="error rate, Eq. (8.5)",
    title="Free running (greedy), after 1 500 steps",
)
axes[1].set(
    ylabel="error rate, Eq. (8.5)",
    title="Teacher-forced (the true history fed)",
    xlabel="output position t (writes source digit 7 − t)",
)
axes[0].legend(fontsize=8, loc="upper left")
fig.tight_layout()
plt.show()

# %% [markdown]
# The shapes tell the story. Free running, the teacher-forced model's error climbs with the
# position to 0.12 by position 5 and stays high (0.10 at the last): once a sequence has
# gone wrong, it stays wrong. The scheduled models' error rises to a peak in the middle and
# falls to 0.013–0.015 at the last position, the shape of a memory that recalls the first
# and last digits it read best; and it is nearly their teacher-forced curve, so their own
# outputs barely hurt them. But their teacher-forced curves are *higher* than the
# teacher-forced model's at positions 0 to 5 (lower only at the last two): given the true
# history, they are worse. Even at position 0, which is fed the separator in every regime,
# they are wrong about three times as often (0.018–0.024 against 0.007). The two effects,
# first errors and errors after them:

# %%
fig, (ax_split, ax_gap) = plt.subplots(1, 2, figsize=(7, 3.4))
for k, setting in enumerate(SETTINGS):
    color = colors[setting]
    for shift, key, marker in [
        (-0.15, "free_running_error_before_any_error", "o"),
        (0.15, "free_running_error_after_an_error", "s"),
    ]:
        values = per_seed(setting, key)
        ax_split.plot(
            [k + shift] * len(values),
            values,
            marker,
            color=color,
            alpha=0.7,
            ms=4,
        )
    forced_mean = per_seed(setting, "teacher_forced").mean(1)
    free_mean = per_seed(setting, "free_running").mean(1)
    ax_gap.plot(
        forced_mean,
        free_mean,
        "o",
        color=color,
        label=setting,
        alpha=0.8,
        ms=4,
    )
ax_split.set_xticks(
    range(len(SETTINGS)),
    ["teacher\nforcing", "linear", "exp.", "inv.\nsigmoid"],
)
log_axis(ax_split, [0.03, 0.05, 0.1, 0.2, 0.4])
ax_split.set(
    ylabel="free-running error rate",
    title="Before any error (○), after one (□)",
)
ax_split.tick_params(axis="x", labelsize=8)
line = torch.tensor([0.02, 0.11])
ax_gap.plot(line, line, color="gray", ls=":", lw=1, label="no gap")
ax_gap.set(
    xlabel="teacher-forced error",
    ylabel="free-running error",
    title="One dot per seed",
)
ax_gap.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %%
summary = {
    "free-running error": ("free_running", True),
    "teacher-forced error": ("teacher_forced", True),
    "sequences all right": ("free_running_sequences_right", False),
    "e_before, Eq. (8.6)": (
        "free_running_error_before_any_error",
        False,
    ),
    "e_after, Eq. (8.6)": ("free_running_error_after_an_error", False),
}


def seed_values(setting, key, over_positions):
    values = per_seed(setting, key)
    return values.mean(1) if over_positions else values


short = ["teacher f.", "linear", "exp.", "inv. sigm."]
print("five seeds: mean, and min-max below it")
print(f"{'':21s}", " ".join(f"{name:>11s}" for name in short))
for name, (key, over_positions) in summary.items():
    v = [seed_values(s, key, over_positions) for s in SETTINGS]
    print(f"{name:21s}", " ".join(f"{x.mean():11.3f}" for x in v))
    spread = [f"{x.min():.3f}-{x.max():.3f}" for x in v]
    print(f"{'':21s}", " ".join(f"{r:>11s}" for r in spread))

# %% [markdown]
# On every seed and every setting, $e_{\text{before}}$ is within 0.004 of the teacher-forced
# error, as §8.3 says it must be: until its first mistake a free-running model *is* the
# teacher-forced one, so $e_{\text{before}}$ is the teacher-forced error on the positions
# with no error before them (a subset of the positions, hence close and not equal).

# %%
values = {
    setting: {
        name: seed_values(setting, key, over_positions)
        for name, (key, over_positions) in summary.items()
    }
    for setting in SETTINGS
}
tf = values["teacher forcing"]
schedules_only = SETTINGS[1:]
for setting in SETTINGS:
    v = values[setting]
    # until the first error, free running is teacher forcing
    gap = v["e_before, Eq. (8.6)"] - v["teacher-forced error"]
    assert gap.abs().max() < 0.004
for setting in schedules_only:
    v = values[setting]
    # no better and no worse overall: the means are within 0.005,
    # and teacher forcing's range lies inside each schedule's
    free, free_tf = v["free-running error"], tf["free-running error"]
    assert abs(free.mean() - free_tf.mean()) < 0.005
    assert free.min() < free_tf.min() and free_tf.max() < free.max()
    # errors stop compounding, on every seed ...
    assert (
        v["e_after, Eq. (8.6)"].max()
        < tf["e_after, Eq. (8.6)"].min() / 2
    )
    # ... but first errors are more frequent, and fewer sequences right
    forced, forced_tf = (
        v["teacher-forced error"],
        tf["teacher-forced error"],
    )
    assert forced.mean() > forced_tf.mean() + 0.015
    right, right_tf = (
        v["sequences all right"],
        tf["sequences all right"],
    )
    assert right.mean() < right_tf.mean() - 0.09
    # the gap between free running and teacher forcing shrinks on every seed
    ratio = free / forced
    assert ratio.max() < 1.4 < 1.8 < (free_tf / forced_tf).min()
# per position, teacher-forced: the schedules are worse at 0-5,
# better at 6-7
forced_by_position = {
    setting: per_seed(setting, "teacher_forced").mean(0)
    for setting in SETTINGS
}
for setting in schedules_only:
    worse = (
        forced_by_position[setting] > forced_by_position[SETTINGS[0]]
    )
    assert worse.tolist() == [True] * 6 + [False] * 2
# the inverse sigmoid stalls while its eps falls (steps 400-800)
at, sig_forced = curve_of("inverse sigmoid", "teacher_forced")
sig_free = curve_of("inverse sigmoid", "free_running")[1].mean(0)
assert (
    sig_forced.mean(0)[at.index(700)]
    > sig_forced.mean(0)[at.index(500)]
)
assert (
    sig_free[at.index(400) : at.index(700) + 1] - 0.38
).abs().max() < 0.02
print("every claim of the text holds on all five seeds")

# %% [markdown]
# **What the five seeds show.**
#
# - **The overall free-running error is the same.** Teacher forcing: 0.080 (0.077–0.085)
#   of output digits wrong. Linear: 0.078 (0.051–0.100); exponential: 0.077 (0.045–0.101);
#   inverse sigmoid: 0.081 (0.054–0.096). The means differ by less than 0.004, and teacher
#   forcing's five runs lie inside the range of each schedule's. On this task, at this
#   budget, scheduled sampling does not lower the error.
# - **It does stop the errors compounding.** After a first error, the teacher-forced model
#   is wrong at 0.43 of the remaining positions (0.41–0.45), eleven times its rate before
#   one (0.039). The scheduled models are wrong at 0.13–0.16 after a first error on average
#   (0.10–0.19 over seeds), two to three times their rate before one. Their free-running
#   error is only 1.1–1.4 times their teacher-forced error, on every seed; the
#   teacher-forced model's is 1.9–2.1 times.
# - **But it makes the first errors more frequent.** With the true history fed, the
#   scheduled models are wrong at 0.059–0.069 of positions on average, against 0.040 for
#   teacher forcing. The gain on the errors that follow a mistake is spent on the mistakes.
# - **And fewer sequences come out entirely right**: 0.72 (0.70–0.74) with teacher
#   forcing, 0.57–0.62 on average with a schedule.
# - **The schedules are less reliable.** Teacher forcing's five runs span 0.077–0.085; a
#   schedule's span up to 0.045–0.101. The best single run of the experiment is a
#   scheduled one (exponential, seed 3, 0.045), and so is the worst (0.101). Seed 3 is the
#   best seed for all three schedules, and on it they reach a teacher-forced error as low
#   as teacher forcing's (0.033–0.047, against 0.042): when a scheduled run learns the task
#   well, it keeps most of its advantage in compounding; when it learns it less well, it
#   loses more than it gains.
#
# These are rows of the course's results table ({doc}`results`).

# %% [markdown]
# ## 8.5 Why it does not help here
#
# The numbers say what happened; here is why, as far as this experiment can tell.
#
# **Compounding was only half the error to win.** A free-running model's errors are its
# first errors plus the ones that follow. The teacher-forced model's $e_{\text{before}}$ is
# 0.039; a perfect cure for compounding, keeping the first errors as they are, would bring
# its free-running error from 0.080 down to about 0.040. Scheduled sampling cut the
# compounding (the free-running error is now only 0.01–0.02 above the teacher-forced one)
# but raised the floor, the teacher-forced error, by 0.02–0.03. In this task the two are
# tied: the teacher-forced model is good on true histories *because* it uses the fed digit
# as a pointer into the source (§8.3), and that is exactly what makes a wrong digit
# derail it. A model that cannot trust its input (in training, a fed digit is a draw from
# its own softmax, and wrong often) learns to find its place from its state alone, which
# is harder for 64 units in 1 500 steps: more first errors, fewer later ones. It is also
# behind in learning as a whole: at position 0, whose input is the separator in every
# regime, the scheduled models are wrong three times as often, so the noisier inputs of
# training slowed down everything, not only the use of the fed digit.
#
# **Errors that compound do not cost sequences.** Fewer errors per failed sequence is not
# fewer failed sequences. The teacher-forced model's errors come in clusters: its failed
# sequences have 2.1–2.4 wrong digits each. The scheduled models' failed sequences have
# 1.4–1.7, so the same number of wrong digits is spread over more sequences, and fewer
# sequences are entirely right. If what counts is the whole output (a translation, a
# program, an answer), a second error in a sequence that is already wrong costs nothing,
# and curing compounding buys nothing.
#
# **The objective, Huszár's point.** {cite:t}`ch8-huszar2015how` showed that scheduled
# sampling's objective is *improper*: the true model does not in general minimise it, so
# the method is inconsistent. At $\varepsilon = 0$ the model is fed its own samples while
# the target $y_t$ comes from the data, independently of what was fed; the best model
# under that loss ignores its history and predicts the marginal of each position, not the
# conditional. For a language model, where the right next word *depends* on the previous
# words, that is wrong. In the reversal task it is not: the right digit at position $t$ is
# fixed by the source whatever was fed, so the perfect reverser minimises the
# scheduled-sampling loss at every $\varepsilon$, and the objective is consistent. This
# task is the friendliest case for scheduled sampling, and it still did not help. In a
# task with real uncertainty in the output, Huszár's objection is added to these.
#
# **Trained on draws, tested on the arg-max.** In training the fed predictions are draws
# from the model's softmax, which are wrong more often than its arg-max: the scheduled
# models were taught to distrust an input that is more often wrong than the input they
# meet at test time. The paper allows either; this experiment used draws.
#
# **A budget, not a verdict.** Scheduled learning is slower (the curves of §8.4), and at
# step 1 500 the scheduled models' errors are still falling faster than the teacher-forced
# model's. A longer run could separate them, in either direction; this experiment cannot
# say. What it can say is that at the same cost, on this task, the answer is no.

# %% [markdown]
# ## 8.6 The notes and the paper, checked
#
# **The per-token coin.** Note 000: at time step $t$,
# "以 $p$ 的概率选择真实数据 $y_{t-1}$；以 $1-p$ 的概率选择预测数据 $\hat y_{t-1}$"
# (the true token with probability $p$, the prediction with $1 - p$), and $p$ decreases
# as training goes on. That is Eq. (8.1), with
# two details to add from Bengio et al. The coin is flipped for every token *of every
# sequence* in the minibatch, independently (a sequence can get the truth at step 3 and
# its own prediction at step 4, and its neighbour the opposite); and $p$, the paper's
# $\varepsilon_i$, depends on the training step $i$, not on the position $t$. Within a
# step, every position of every sequence has the same chance of getting the truth.
#
# **Sampled or arg-max.** The notes say "预测数据" (the predicted token) without saying how
# it is predicted. The paper allows a draw from the model's distribution or its arg-max,
# and its Fig. 1 draws; the gradient is not propagated through the choice in either case
# (the paper leaves that to future work; Goyal et al. {cite}`ch8-goyal2017differentiable`
# later fed a soft, differentiable arg-max).
#
# **The curriculum.** "从真实值(简单样本)逐步过渡到预测值(复杂样本)" (from true values, easy
# samples, gradually to predictions, hard samples) is how Bengio et al. frame it too, as a
# curriculum learning strategy. It is a loose use of the word. In curriculum learning as
# Bengio et al. 2009 define it {cite}`ch8-bengio2009curriculum`, the *examples* are ordered
# from easy to hard, and note 001's "样本顺序和样本选择对局部极值的影响" (the order and choice
# of examples affect which local optimum is reached) is their argument: a curriculum acts
# like a continuation method, guiding the optimiser towards a better basin. In scheduled
# sampling the examples stay the same; what changes is the *input* the model is
# conditioned on, and the hard end of the curriculum is the test condition itself. The
# "easy first" half is needed (feeding predictions from the start fails, §8.2); this
# chapter's experiment shows that the "hard later" half is not automatically a gain.
#
# **"错误会迅速累积" (errors accumulate quickly).** True of the teacher-forced decoder
# here: after a first error it is wrong eleven times as often as before one (§8.4).
# Whether it is true of a task is an empirical question; He et al.
# {cite}`ch8-he2021exposure` measured
# language models and found that they largely *recover* from a distorted history, so that
# exposure bias there is much smaller than the word "accumulate" suggests.
#
# **What later work found.** Bengio et al. reported gains on image captioning (it was part
# of the winning entry of the 2015 MSCOCO challenge), constituency parsing and speech
# recognition. Ranzato et al. {cite}`ch8-ranzato2016sequence`, who named exposure bias,
# found that scheduled sampling improved on teacher forcing in their text-generation tasks
# but less than training on a sequence-level score with reinforcement learning. Huszár
# {cite}`ch8-huszar2015how` showed its objective to be inconsistent (§8.5). Professor
# forcing {cite}`ch8-lamb2016professor` attacks the mismatch in the hidden states instead,
# training the decoder adversarially so that its free-running dynamics look like its
# teacher-forced ones. The method is sequential by nature (a prediction must exist before
# it can be fed), which removes the parallelism over time that makes teacher-forced
# training of Transformers fast. The picture is of a method that helps on some tasks, by
# modest amounts, and is not a reliable default: worth trying when free running is much
# worse than teacher forcing *and* what counts is per-token accuracy on long outputs, and
# worth measuring, as this chapter does, before it is kept.

# %% [markdown]
# ## 8.7 What goes wrong
#
# - **One coin per step, or per batch.** `torch.rand(()) < p` gives every sequence of the
#   batch the same choice at a step; the paper's coin is per token, a $(B,)$ draw at every
#   step. With one coin per batch, whole minibatches are teacher-forced or free-running
#   together, a different (and noisier) training signal.
# - **The schedule indexed by position.** $\varepsilon$ depends on the training step $i$,
#   not on the position $t$ in the sequence. A decay over $t$ feeds the truth early in
#   every sequence and predictions late, another method.
# - **Gradients through the fed token.** An arg-max or a draw has no gradient; feeding
#   `logits.argmax(-1)` is fine, but "fixing" that by feeding `softmax(z) @ E` silently
#   changes the method (and the test inputs, which are tokens).
# - **Starting from zero.** $\varepsilon_i = 0$ from the first step feeds noise into an
#   untrained model.
# - **The inverse sigmoid's k.** Eq. (8.4) needs $k \ge 1$, starts at $k/(k+1)$ and
#   crosses $1/2$ at $k \ln k$, not at $k$: $k = 750$ would cross at step 4 965.
# - **Scoring with teacher forcing.** A teacher-forced test error hides exposure bias
#   entirely (at position 0 and as long as a free-running model is right, the two are the
#   same); report the free-running error, and the whole-sequence accuracy.

# %% [markdown]
# ## 8.8 Quiz
#
# The lecture notes have no questions on this topic; these are ours.
#
# **Question 1.** In Eq. (8.1), which setting of $\varepsilon_i$ trains the model in the
# conditions it meets at test time?
#
# - A. $\varepsilon_i = 1$.
# - B. $\varepsilon_i = 0$.
# - C. $\varepsilon_i = 1/2$.
# - D. None: test-time decoding is teacher-forced.
#
# :::{dropdown} Answer
# **B.** $\varepsilon_i$ is the probability of feeding the *true* token; at 0 the model is
# always fed its own prediction, as at test time. A is teacher forcing. (With draws in
# training and the arg-max at test time, even B is not exactly the test condition, §8.5.)
# :::
#
# **Question 2.** A free-running decoder and the same decoder teacher-forced are run on one
# sequence. The free-running one makes its first error at position 4. At which positions
# are their predictions guaranteed to agree?
#
# :::{dropdown} Answer
# At positions 0 to 4. Up to position 3 the free-running outputs are right, so what it fed
# itself at steps 1 to 4 is the true history, exactly what teacher forcing feeds; its
# predictions at 0 to 4 are therefore the teacher-forced ones, including the first wrong
# one. From step 5 on it is fed a wrong digit and the two can differ. This is why
# $e_{\text{before}}$ is so close to the teacher-forced error (§8.4).
# :::
#
# **Question 3.** The inverse sigmoid decay of Eq. (8.4) is set with $k = 150$. What is
# $\varepsilon_0$, and at about which step is $\varepsilon_i = 1/2$?
#
# :::{dropdown} Answer
# $\varepsilon_0 = 150/151 \approx 0.993$, not 1. It crosses $1/2$ where $\exp(i/k) = k$,
# at $i = k \ln k = 150 \ln 150 \approx 752$, which is why the experiment's $k$ (149.73) is
# the solution of $k \ln k = 750$.
# :::
#
# **Question 4.** In which task is scheduled sampling's objective consistent, in Huszár's
# sense (the true model minimises it at every $\varepsilon$)?
#
# - A. A character language model.
# - B. Reversing a string of digits.
# - C. Writing a caption for an image.
# - D. None: it is never consistent.
#
# :::{dropdown} Answer
# **B.** The right output at every position is fixed by the input, so the perfect reverser
# is right whatever history it is fed, and no other model has a lower loss under any
# mixture of fed tokens. In A and C the next token depends on the previous ones, and a
# model fed its own history but scored against the data's next token is pushed to ignore
# the history (§8.5).
# :::
#
# **Question 5.** Two decoders have the same free-running token error on a test set. In
# the first, errors compound (after a first error most later tokens are wrong); in the
# second they do not. Which has the higher whole-sequence accuracy?
#
# :::{dropdown} Answer
# The first. Its errors are concentrated in the sequences that have already gone wrong, so
# more sequences have none. §8.4 measures it: the teacher-forced decoder, whose errors
# compound, gets 0.72 of the sequences right, the scheduled ones 0.57–0.62, at the same
# token error.
# :::

# %% [markdown]
# ## 8.9 What to try
#
# - **Arg-max instead of draws.** Set `"sample": False` in the experiment's `CONFIG` and
#   rerun it with `--out` pointing at a file of your own. Does feeding the arg-max in
#   training (as at test time) keep the gain on compounding and lose less on first errors?
# - **A longer budget.** Double `"steps"` (each decay then crosses 1/2 at the new midpoint).
#   Do the scheduled models, still improving faster at step 1 500, pull ahead?
# - **A floor.** Give the linear decay $\varepsilon_{\min} = 0.5$: half the truth to the
#   end. Does the model keep its pointer and still learn to recover?
# - **A task where the history matters.** Train chapter 2's character model with a
#   schedule and compare free-running samples and validation bits per character;
#   Huszár's objection (§8.5) now applies.
# - **Errors that cluster without feedback.** Compute $e_{\text{after}}$ of Eq. (8.6) on
#   *teacher-forced* predictions, which feed nothing back. How much of the teacher-forced
#   model's 0.43 is hard sequences, and how much is compounding?
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :keyprefix: ch8-
# ```
#
# ## Exercise
#
# In the exercise you write the pieces of this chapter, the schedules of Eqs. (8.2)–(8.4)
# and the decoding loop with a coin per token of Eq. (8.1), and its tests compare them
# with `coursekit`.
# {download}`Download the exercise notebook <../exercises/08_scheduled_sampling/08_scheduled_sampling.ipynb>`
