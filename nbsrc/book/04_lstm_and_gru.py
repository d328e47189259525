# %% [markdown]
# # 4. LSTM and GRU · 长短期记忆网络与门控循环单元
#
# Chapter 3 found the weak spot of the plain RNN: backpropagation through time multiplies one
# Jacobian per step, so the gradient that reaches a step $s$ from a step $t$ behaves like a
# power $(\sigma_{\max}\gamma)^{t-s}$ and vanishes (or explodes) over long gaps. This chapter
# changes the cell so that there is a path through time along which nothing is multiplied by
# a weight matrix at all. That path is the *cell state* of the
# {term}`long short-term memory <长短期记忆网络>` (LSTM, 长短期记忆网络)
# {cite}`hochreiter1997long,gers2000learning`; the
# {term}`gated recurrent unit <门控循环单元>` (GRU, 门控循环单元) {cite}`cho2014learning` is
# its simplification with one state and two gates.
#
# By the end of the chapter you will be able to
#
# - write the LSTM cell, Eqs. (4.1)–(4.6), say what each {term}`gate <门控>` (门控) decides,
#   and check `coursekit.lstm_cell_step` against `torch.nn.LSTMCell`;
# - unroll the cell state into a sum and explain why it is a gradient highway, and what it
#   shares with highway networks and ResNets;
# - derive the GRU, Eqs. (4.7)–(4.10), as an LSTM with coupled gates and no separate cell,
#   and know where torch puts the bias $b_{hn}$;
# - add peephole connections, Eqs. (4.11)–(4.13), and put a TCN in front of an LSTM;
# - train an RNN, an LSTM and a GRU on the {term}`adding problem <加法问题>` (加法问题) and
#   see which of them can bridge a gap of dozens of steps, and look inside the trained LSTM.
#
# Every model here comes from `coursekit.lstm`, `coursekit.gru` and `coursekit.tcn`; their
# docstrings use the equation numbers below.

# %%
import json
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import coursekit
from coursekit import (
    GRU,
    LSTM,
    RNN,
    TCNLSTM,
    gru_cell_step,
    lstm_cell_step,
    lstm_forward,
    peephole_lstm_step,
    seed_everything,
)
from coursekit.plots import (
    draw_gru_cell,
    draw_highway_layer,
    draw_lstm_cell,
    setup_chapter,
)

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)

# %% [markdown]
# ## 4.1 Gates and the cell state
#
# A plain RNN overwrites its whole state at every step, $h_t = \tanh(\cdots h_{t-1} \cdots)$.
# The LSTM keeps a second state, the {term}`cell state <记忆单元>` (记忆单元) $c_t$, and changes
# it only by *elementwise* operations, each controlled by a gate: a vector of sigmoids in
# $(0, 1)$ computed from the input $x_t$ and the previous hidden state $h_{t-1}$. In torch's
# row-vector layout, with $\sigma$ the logistic sigmoid and $\odot$ the elementwise product,
#
# $$ i_t = \sigma(x_t W_{ii}^\top + b_{ii} + h_{t-1} W_{hi}^\top + b_{hi}) \tag{4.1} $$
#
# $$ f_t = \sigma(x_t W_{if}^\top + b_{if} + h_{t-1} W_{hf}^\top + b_{hf}) \tag{4.2} $$
#
# $$ g_t = \tanh(x_t W_{ig}^\top + b_{ig} + h_{t-1} W_{hg}^\top + b_{hg}) \tag{4.3} $$
#
# $$ o_t = \sigma(x_t W_{io}^\top + b_{io} + h_{t-1} W_{ho}^\top + b_{ho}) \tag{4.4} $$
#
# $$ c_t = f_t \odot c_{t-1} + i_t \odot g_t \tag{4.5} $$
#
# $$ h_t = o_t \odot \tanh(c_t) \tag{4.6} $$
#
# - the {term}`input gate <输入门>` (输入门) $i_t$ decides how much of the candidate $g_t$
#   (候选值) is written into the cell;
# - the {term}`forget gate <遗忘门>` (遗忘门) $f_t$ decides how much of the old cell is kept;
# - the {term}`output gate <输出门>` (输出门) $o_t$ decides how much of the cell is shown as
#   $h_t$, the state the next step's gates and the layer above read.
#
# One step of the cell, drawn: the four boxes are Eqs. (4.1)–(4.4), each reading $h_{t-1}$
# and $x_t$; the circles are elementwise operations. Along the top line, the cell state, there
# is no weight matrix and no squashing function, only a product with $f_t$ and a sum.

# %%
draw_lstm_cell()
plt.show()

# %% [markdown]
# The lecture notes write the same cell with capitals, $C_t = F_t \odot C_{t-1} + I_t \odot
# \tilde C_t$ and $H_t = O_t \odot \tanh(C_t)$: their $\tilde C_t$ is our $g_t$. Note 003
# writes the candidate with a sigmoid, $\tilde c_t = \sigma(W^c h_{t-1} + U^c x_t + b_c)$,
# like the gates; it is a $\tanh$, Eq. (4.3), in torch and the other common libraries (the
# 1997 LSTM used a logistic sigmoid stretched to $(-2, 2)$, centred on zero too). The
# difference matters: the gates are fractions in $(0, 1)$ that scale something, while the
# candidate is the *value* written into the cell. With a sigmoid it could only ever add
# positive amounts, so a unit could lower its cell only by forgetting; with $\tanh$ it
# writes either sign. The forget gate was not in the 1997 LSTM (its cell always kept
# everything); Gers, Schmidhuber and Cummins added it in 2000 {cite}`gers2000learning`, and
# every LSTM in use today has it.
#
# **In code**, the four gates are one matrix product: torch stacks their weights into
# `weight_ih` $(4H, I)$ and `weight_hh` $(4H, H)$, row blocks in the order **i, f, g, o**, and
# the pre-activation $z_t$ $(B, 4H)$ is split in four. This is `coursekit.lstm_cell_step`:
#
# ```python
# z = F.linear(x, weight_ih, bias_ih) + F.linear(h_prev, weight_hh, bias_hh)  # (B, 4H)
# z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)  # (B, H) each, torch's gate order
# i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)  # Eq. (4.1)-(4.4)
# c = f * c_prev + i * g  # Eq. (4.5)
# h = o * torch.tanh(c)  # Eq. (4.6)
# ```
#
# With the weights of a `torch.nn.LSTMCell` it gives torch's numbers:

# %%
seed_everything(0)
B, I, H = 3, 5, 4  # batch, input features, hidden units
cell = nn.LSTMCell(I, H, dtype=torch.float64)
x_t = torch.randn(B, I, dtype=torch.float64)
h_prev, c_prev = (
    torch.randn(B, H, dtype=torch.float64),
    torch.randn(B, H, dtype=torch.float64),
)
params = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
print(
    "weight_ih:",
    tuple(cell.weight_ih.shape),
    "weight_hh:",
    tuple(cell.weight_hh.shape),
)

h, c = lstm_cell_step(x_t, (h_prev, c_prev), *params)
h_torch, c_torch = cell(x_t, (h_prev, c_prev))
print(
    "h and c equal to torch.nn.LSTMCell:",
    torch.allclose(h, h_torch),
    torch.allclose(c, c_torch),
)

# %% [markdown]
# `lstm_forward` loops this cell over a sequence and returns what a one-layer `torch.nn.LSTM`
# returns, every $h_t$ and the final pair $(h_n, c_n)$. Note that $c_n$ is returned too: to
# continue a sequence later (truncated BPTT, chapter 3) you need both states.

# %%
T = 7
x = torch.randn(T, B, I, dtype=torch.float64)
state = (
    torch.zeros(B, H, dtype=torch.float64),
    torch.zeros(B, H, dtype=torch.float64),
)
output, (h_n, c_n) = lstm_forward(x, state, *params)
print(
    "output:",
    tuple(output.shape),
    "h_n:",
    tuple(h_n.shape),
    "c_n:",
    tuple(c_n.shape),
)
print("h_n is output[-1]:", torch.equal(h_n, output[-1]))

# %% [markdown]
# ## 4.2 The cell state is a gradient highway
#
# Unroll Eq. (4.5) once, then all the way back to $c_0$ (take $c_{-1} = 0$, so $\tau$ runs from
# the first step; the notes write the same sum):
#
# $$
# \begin{aligned}
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t
# \\
#     &= f_t \odot f_{t-1} \odot c_{t-2} + f_t \odot i_{t-1} \odot g_{t-1} + i_t \odot g_t
# \\
#     &= \sum_{\tau=0}^{t} \left(f_t \odot \cdots \odot f_{\tau+1}\right) \odot i_\tau \odot g_\tau .
# \end{aligned}
# $$
#
# The cell at step $t$ is a *sum* of everything ever written into it, each term scaled by the
# forget gates it has passed since. Along this path the derivative is
#
# $$
# \frac{\partial c_t}{\partial c_{\tau}} \Big|_{\text{cell path}}
#   = \operatorname{diag}\left(f_t \odot f_{t-1} \odot \cdots \odot f_{\tau+1}\right),
# $$
#
# a product of gates, not of weight matrices and $\tanh'$ factors. Where the network has
# learned to keep the forget gate near 1 ("remember this"), the gradient passes back through
# hundreds of steps almost unchanged; where it closes the gate, the past is cut off on purpose.
# Compare chapter 3's product $\operatorname{diag}(f'(a_t))\, W_{hh} \cdots
# \operatorname{diag}(f'(a_{\tau+1}))\, W_{hh}$, Eq. (3.6), whose size is bounded by the
# weights whatever the data says.
#
# The sum is easy to check numerically, with random gates:

# %%
generator = torch.Generator().manual_seed(0)
T, units = 6, 3
f = torch.rand(T, units, generator=generator, dtype=torch.float64)
i = torch.rand(T, units, generator=generator, dtype=torch.float64)
g = (
    2 * torch.rand(T, units, generator=generator, dtype=torch.float64)
    - 1
)

cell_state = torch.zeros(units, dtype=torch.float64)
for t in range(T):
    cell_state = f[t] * cell_state + i[t] * g[t]  # Eq. (4.5)

unrolled = sum(
    f[tau + 1 :].prod(0) * i[tau] * g[tau] for tau in range(T)
)
print(
    "recursion equals the unrolled sum:",
    torch.allclose(cell_state, unrolled),
)

# %% [markdown]
# **Highways and residuals.** The same trick made very deep feed-forward networks trainable
# fifteen years later. A {cite:t}`srivastava2015training`
# {term}`highway network <高速公路网络>` (高速公路网络) layer computes
# $y = T(x) \odot H(x) + (1 - T(x)) \odot x$, a transform gate $T$ choosing between a new
# value and a carried copy of the input: Eq. (4.5) with depth in place of time, and with the
# forget and input gates tied (exactly what the GRU does in §4.3). A
# {term}`residual network <残差网络>` (ResNet, 残差网络) {cite}`he2016deep` drops the gate,
# $y = x + F(x)$, so the identity path has derivative 1 at every layer: an LSTM whose
# forget gate is fixed at 1 and whose input gate is open. The highway paper names the LSTM
# as its inspiration: the "constant error carousel" of {cite:t}`hochreiter1997long`, a cell
# that copies itself from step to step, is the same idea.
# Drawn like the LSTM cell, the carried copy of $x$ runs along the top:

# %%
draw_highway_layer()
plt.show()

# %% [markdown]
# Two caveats, both from the notes. The highway is only *one* path: $c_t$ also depends on
# $c_{t-1}$ through $h_{t-1}$ and the gates, and those paths still multiply weight matrices.
# So the LSTM does not *remove* vanishing or exploding gradients; it gives the network an
# architecture in which it *can* learn to keep information, and clipping (chapter 5) is still
# used with LSTMs. And the highway opens only if the forget gate starts open: a common
# initialisation sets the forget bias to 1 {cite}`gers2000learning,jozefowicz2015empirical`
# (`coursekit` and torch initialise all biases uniformly; §4.5 measures what the choice
# changes).

# %% [markdown]
# ## 4.3 The GRU: a simpler gated cell
#
# The GRU {cite}`cho2014learning` keeps the idea and removes parts. It has no separate cell
# (the hidden state plays both roles) and two gates: an
# {term}`update gate <更新门>` (更新门) $z_t$ and a {term}`reset gate <重置门>` (重置门) $r_t$.
# Torch's (and cuDNN's) form, which `coursekit.gru_cell_step` follows, is
#
# $$ r_t = \sigma(x_t W_{ir}^\top + b_{ir} + h_{t-1} W_{hr}^\top + b_{hr}) \tag{4.7} $$
#
# $$ z_t = \sigma(x_t W_{iz}^\top + b_{iz} + h_{t-1} W_{hz}^\top + b_{hz}) \tag{4.8} $$
#
# $$ n_t = \tanh\left(x_t W_{in}^\top + b_{in} + r_t \odot (h_{t-1} W_{hn}^\top + b_{hn})\right)
# \tag{4.9} $$
#
# $$ h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1} \tag{4.10} $$
#
# Drawn like the LSTM, the state runs along the top; the reset gate sits inside the
# candidate's input, the update gate at the two products on the state's line:

# %%
draw_gru_cell()
plt.show()

# %% [markdown]
# Read Eq. (4.10) next to Eq. (4.5): $z_t$ plays the forget gate and $1 - z_t$ the input gate,
# *coupled* so that what is kept and what is written add up to one, and the candidate $n_t$
# plays $g_t$. The reset gate lets the candidate ignore the old state (for a new sentence,
# say); there is no output gate, all of $h_t$ is shown. The notes (000, 001) put it as "the
# forget and input gates merged into an update gate, the output gate replaced by a reset
# gate". The first half is right; the second is not, since the reset gate does not do the
# output gate's job. The output gate acts *after* the update, on what the cell shows to the
# layer above and to the next step's gates; the GRU has nothing there. The reset gate acts
# *inside* the candidate, on how much of $h_{t-1}$ the candidate reads, and has no
# counterpart in the LSTM, whose candidate reads all of $h_{t-1}$. (The nearest likeness:
# an LSTM's candidate sees the cell only through $h_{t-1} = o_{t-1} \odot \tanh(c_{t-1})$,
# so the output gate also limits what it reads, but for every reader of $h_{t-1}$ at once,
# the gates and the layer above included.) Note 004 says the update gate is "used to compute
# the candidate hidden state"; by Eq. (4.9) the candidate uses the reset gate only, and the
# update gate enters only Eq. (4.10), where it mixes the finished candidate with the old
# state. What the notes say of their roles is Cho et al.'s reading
# {cite}`cho2014learning`: units whose reset gates are often active learn short-term
# dependencies, units whose update gates mostly keep the old state learn long-term ones.
#
# Two details matter when you compare with torch. The weights are stacked in the order
# **r, z, n** (`weight_ih` is $(3H, I)$). And the reset gate multiplies the whole recurrent term
# *including its bias* $b_{hn}$; Cho et al.'s paper applies $r_t$ to $h_{t-1}$ before the
# product, $(r_t \odot h_{t-1}) W_{hn}^\top$, which is a different function (the assignment
# tests that you follow torch). Also, in this convention $z_t = 1$ *keeps* the old state, as in
# Cho et al.'s paper and note 000; note 001, like some other texts, writes $z$ and $1 - z$ the
# other way round, so that its $z_t = 1$ writes the candidate.

# %%
seed_everything(0)
gru_cell = nn.GRUCell(I, H, dtype=torch.float64)
x_t = torch.randn(B, I, dtype=torch.float64)
h_prev = torch.randn(B, H, dtype=torch.float64)
gru_params = (
    gru_cell.weight_ih,
    gru_cell.weight_hh,
    gru_cell.bias_ih,
    gru_cell.bias_hh,
)
h = gru_cell_step(x_t, h_prev, *gru_params)
print(
    "equal to torch.nn.GRUCell:",
    torch.allclose(h, gru_cell(x_t, h_prev)),
)


def count(module):
    return sum(p.numel() for p in module.parameters())


print(
    f"parameters for I=H=128: RNN {count(RNN(128, 128)):,}, GRU "
    f"{count(GRU(128, 128)):,}, "
    f"LSTM {count(LSTM(128, 128)):,}"
)

# %% [markdown]
# Three blocks of weights instead of four: a GRU has three quarters of an LSTM's parameters
# and does three quarters of its matrix work per step. Careful comparisons find the two about
# equally good, each ahead on some tasks {cite}`chung2014empirical,jozefowicz2015empirical`;
# the GRU is a little faster.
#
# Note 001 tells the history differently: in 2015 Google used neural architecture search to
# find which gates of the LSTM are useless; no variant beat the standard LSTM, the forget
# gate and the output activation mattered most, the input and forget gates could be coupled
# ($f_t = 1 - i_t$) and the output gate removed, "and that is the GRU". The findings are
# real, but they come from two different studies, and the GRU comes from neither. Greff et
# al. {cite}`greff2017lstm` (at IDSIA, not Google) trained eight hand-made variants of the
# LSTM, each with randomly searched hyperparameters, on three tasks: none improved on the
# standard LSTM, coupling the input and forget gates cost nothing, and removing the forget
# gate or the output activation hurt most. Jozefowicz, Zaremba and Sutskever
# {cite}`jozefowicz2015empirical`, in a study from Google, evolved more than ten thousand
# architectures and found none that beat the LSTM (with a forget bias of 1) and the GRU on
# all their tasks. The GRU is older than both searches: Cho et al. proposed it in 2014, for the
# encoder and decoder of a translation model {cite}`cho2014learning`.
#
# ## 4.4 Peephole connections
#
# In Eqs. (4.1)–(4.4) the gates see $x_t$ and $h_{t-1} = o_{t-1} \odot \tanh(c_{t-1})$, so a
# closed output gate hides the cell from its own gates. Gers and Schmidhuber
# {cite}`gers2000recurrent` let the gates look at the cell directly, through
# {term}`peephole connections <窥视孔连接>` (窥视孔连接): one diagonal weight vector per gate,
# $w_{ci}, w_{cf}, w_{co} \in \mathbb{R}^H$, and one bias $b$,
#
# $$ i_t = \sigma(x_t W_{ii}^\top + h_{t-1} W_{hi}^\top + w_{ci} \odot c_{t-1} + b_i) \tag{4.11} $$
#
# $$ f_t = \sigma(x_t W_{if}^\top + h_{t-1} W_{hf}^\top + w_{cf} \odot c_{t-1} + b_f) \tag{4.12} $$
#
# $$ o_t = \sigma(x_t W_{io}^\top + h_{t-1} W_{ho}^\top + w_{co} \odot c_t + b_o) \tag{4.13} $$
#
# with (4.3), (4.5) and (4.6) unchanged. The output gate looks at the **new** cell $c_t$, so it
# can only be computed after Eq. (4.5): one more sequential dependency inside the step, which
# is why fused GPU kernels (cuDNN) do not offer peepholes and torch has no peephole LSTM. They
# helped on tasks that need precise timing (counting steps), and little elsewhere
# {cite}`greff2017lstm`. With the peepholes at zero the cell is an ordinary LSTM:

# %%
# rows w_ci, w_cf, w_co
zero_peepholes = torch.zeros(3, H, dtype=torch.float64)
c_prev = torch.randn(B, H, dtype=torch.float64)
# one bias: torch's two always appear as a sum
bias = cell.bias_ih + cell.bias_hh
h_peep, c_peep = peephole_lstm_step(
    x_t,
    (h_prev, c_prev),
    cell.weight_ih,
    cell.weight_hh,
    zero_peepholes,
    bias,
)
h, c = lstm_cell_step(x_t, (h_prev, c_prev), *params)
print(
    "zero peepholes = plain LSTM:",
    torch.allclose(h_peep, h) and torch.allclose(c_peep, c),
)

# %% [markdown]
# ## 4.5 The adding problem
#
# The adding problem {cite}`hochreiter1997long` isolates long-range memory. Each input step
# has two features: a random value in $[0, 1]$ and a marker, 1 at exactly two steps (one in
# each half of the sequence) and 0 elsewhere. The target, read after the last step, is the sum
# of the two marked values. A model that ignores the inputs and always answers 1, the mean
# of the target, has mean squared error $\operatorname{Var}(u_1 + u_2) = 2 \cdot \tfrac{1}{12}
# = \tfrac{1}{6} \approx 0.167$: anything near that line has learned nothing.
#
# We use **sequences of length $T = 50$**, 32 hidden units, batches of 64 and 1 200 Adam
# steps for each model, with the gradient norm clipped at 1. (The same experiment at
# $T = 100$ and $T = 200$ is in "What to try".) Whether a model escapes the baseline, and
# when, depends on its initial weights, so the experiment, `tools/experiments/adding_problem.py`,
# trains every model from five seeds (each seed draws the initial weights, the same for every
# model, and the training batches, the same for every model) and writes a log that this
# chapter reads; it takes a few minutes, too long to rerun every time the chapter is
# executed. The task, the model and the training loop:
#
# ```{literalinclude} ../tools/experiments/adding_problem.py
# :pyobject: adding_batch
# ```
#
# ```{literalinclude} ../tools/experiments/adding_problem.py
# :pyobject: Regressor
# ```
#
# ```{literalinclude} ../tools/experiments/adding_problem.py
# :pyobject: train_adding
# ```
#
# The fourth model, "LSTM, forget bias 1", is the same LSTM with the bias of its forget gate
# started at 1 rather than at torch's small random values; more on it below.

# %%
sys.path.insert(
    0, str(Path.cwd().parent)
)  # the repository: tools/experiments/
from tools.experiments.adding_problem import Regressor, test_set

adding_log = json.loads(Path("data/adding_problem.json").read_text())
LENGTH, STEPS = (
    adding_log["config"]["length"],
    adding_log["config"]["steps"],
)
names = list(
    adding_log["runs"][0]["models"]
)  # RNN, LSTM, GRU, LSTM with forget bias 1
test_mse = {  # name -> test MSE of each seed
    name: torch.tensor(
        [run["models"][name]["test_mse"] for run in adding_log["runs"]]
    )
    for name in names
}
print(
    f"test MSE after {STEPS} steps, {len(adding_log['runs'])} seeds "
    "(baseline 1/6 = 0.167):"
)
for name in names:
    seeds = ", ".join(f"{v:.4f}" for v in test_mse[name])
    print(
        f"  {name:20s} median {test_mse[name].median():.4f}   "
        f"seeds: {seeds}"
    )


def moving_average(losses, window=25):
    """The mean of the last `window` minibatch losses, from step
    `window` on."""
    return torch.tensor(losses).unfold(0, window, 1).mean(1)


def escape_step(losses, level=0.05, window=25):
    """The first step at which the moving average is below `level`
    (None: never)."""
    below = (moving_average(losses, window) < level).nonzero()
    return int(below[0]) + window if len(below) else None


escapes = {
    name: [
        escape_step(run["models"][name]["loss"])
        for run in adding_log["runs"]
    ]
    for name in names
}
print(
    "step at which the moving-average MSE first falls below 0.05, "
    "per seed:"
)
for name in names:
    print(f"  {name:20s}", escapes[name])

# %%
colors = {"RNN": "tab:blue", "LSTM": "tab:orange", "GRU": "tab:green"}
colors["LSTM, forget bias 1"] = "tab:red"
fig, ax = plt.subplots(figsize=(7, 4))
for run in adding_log["runs"]:
    for name in names:
        losses = run["models"][name]["loss"]
        label = name if run["seed"] == 0 else None
        steps = range(25, len(losses) + 1)
        ax.plot(
            steps,
            moving_average(losses),
            color=colors[name],
            lw=1,
            label=label,
        )
ax.axhline(
    1 / 6,
    color="gray",
    linestyle="--",
    label="always answer 1 (MSE 1/6)",
)
ax.set(
    xlabel="training step",
    ylabel="training MSE (moving average of 25)",
    yscale="log",
)
ax.set_title(
    f"The adding problem, T = {LENGTH}: five seeds of each model"
)
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# **What to notice.** On every seed all four models first spend a hundred steps learning the
# mean, and sit on the baseline. The GRU leaves it first, on every seed and within a narrow
# band (its moving-average error falls below 0.05 between steps 170 and 200). The LSTM
# leaves it on every seed too, but later and with a wider spread, between steps 450 and
# 700: after 600 steps, the budget this chapter once used, two seeds of five had still not
# learned the task, and one run would have told either story. Both gated models end two
# to three orders of magnitude below the baseline. The plain RNN never leaves it on any
# seed: to learn that the first marked value matters, its gradient has to survive some 25
# to 50 steps of products $\operatorname{diag}(\tanh'(a_k))\, W_{hh}$ (Eq. (3.6)), and it
# does not. The long plateau before the drop is typical of the task: the models first have
# to discover *which* inputs matter, and until then the loss is flat.
#
# Why is the LSTM slower? One reason is its start. torch initialises every bias, the forget
# gate's included, to small random values, so at the start $f_t \approx \sigma(0) = 0.5$: the
# cell halves its content at every step and forgets a marker within a few steps, the very
# thing the task punishes. Starting the forget-gate bias at 1 ($f_t \approx 0.73$), as
# {cite:t}`gers2000learning` and {cite:t}`jozefowicz2015empirical` recommend, moves the LSTM's escape
# earlier on four seeds of five (median step 485 instead of 539), but not to the GRU's. The
# GRU's update gate also starts near $z_t \approx 0.5$, so the initial forgetting does not
# explain the whole gap; which of the two learns first is a property of this task and these
# settings, and careful comparisons find no general winner (§4.3).

# %%
# the claims above, on every seed
gated = ("LSTM", "GRU", "LSTM, forget bias 1")
assert (test_mse["RNN"] > 0.15).all() and set(escapes["RNN"]) == {None}
assert all(
    (test_mse[name] < 0.005).all() and None not in escapes[name]
    for name in gated
)
assert max(escapes["GRU"]) < min(escapes["LSTM"])
biased, plain = escapes["LSTM, forget bias 1"], escapes["LSTM"]
assert sum(b < p for b, p in zip(biased, plain, strict=True)) >= 4
median = {
    name: int(torch.tensor(escapes[name]).median()) for name in gated
}
print("median escape step:", median)
assert median["LSTM, forget bias 1"] < median["LSTM"]

# %% [markdown]
# The highway can be measured. Take the models trained from seed 0 (the experiment saved
# their weights; we evaluate them in float64, so that the printed digits are the same on
# every CPU) and ask how much their answer depends on the input at each step,
# $\lVert \partial \hat y / \partial x_\tau \rVert$, averaged over a batch:

# %%
weights = torch.load("data/adding_problem_seed0.pt")
models = {}
for name in ("RNN", "LSTM"):
    models[name] = Regressor(name).double()
    models[name].load_state_dict(weights[name])
test_x, test_y = (t.double() for t in test_set(LENGTH))
for name, model in models.items():
    x = test_x[:, :100].clone().requires_grad_(True)
    model(x).sum().backward()
    sensitivity = x.grad.norm(dim=-1).mean(
        1
    )  # (T,): mean over the batch of |dy/dx_t|
    first, last = sensitivity[0], sensitivity[-1]
    print(
        f"{name:4}  |dy/dx_t| at t = 0: {first:.0e},  "
        f"at t = {LENGTH - 1}: {last:.1e}"
    )

# %% [markdown]
# The RNN's answer does not depend on the start of the sequence at all: the sensitivity to
# the first step is some $10^{-15}$ of that to the last, so no gradient can tell it that the
# first marked value matters. The LSTM's answer is as sensitive to the first step as to the
# last: 49 steps back, the signal has come through intact.
#
# ## 4.6 Inside the trained LSTM
#
# What does the trained LSTM do with its cell? Run it on one sequence and record the gates and
# the cell at every step. The layer's parameters have torch's names, `weight_ih_l0` and so on,
# so Eqs. (4.1)–(4.5) can be replayed by hand:


# %%
def lstm_trace(layer, x):
    """Gates and cell of a one-layer LSTM on x (T, I), unbatched:
    a dict of (T, H) tensors."""
    h = c = torch.zeros(layer.hidden_size, dtype=x.dtype)
    trace = {"input gate": [], "forget gate": [], "cell state": []}
    with torch.no_grad():
        for x_t in x:
            z = F.linear(x_t, layer.weight_ih_l0, layer.bias_ih_l0)
            z = z + F.linear(h, layer.weight_hh_l0, layer.bias_hh_l0)
            z_i, z_f, z_g, z_o = z.chunk(4)
            i, f, o = (
                torch.sigmoid(z_i),
                torch.sigmoid(z_f),
                torch.sigmoid(z_o),
            )
            c = f * c + i * torch.tanh(z_g)  # Eq. (4.5)
            h = o * torch.tanh(c)  # Eq. (4.6)
            for key, value in zip(trace, (i, f, c), strict=True):
                trace[key].append(value)
    return {key: torch.stack(values) for key, values in trace.items()}


sequence = test_x[:, 0]  # (T, 2): one test sequence
trace = lstm_trace(models["LSTM"].layer, sequence)
order = (
    trace["forget gate"].mean(0).argsort(descending=True)
)  # most remembering unit first
trace = {key: values[:, order] for key, values in trace.items()}
marked = sequence[:, 1].nonzero().flatten().tolist()
print(
    "marked steps:",
    marked,
    "| values:",
    [round(v, 2) for v in sequence[marked, 0].tolist()],
)
answer = models["LSTM"](sequence[:, None]).item()
print(f"target {test_y[0].item():.2f}, LSTM answer {answer:.2f}")
top = {
    key: values[:, 0] for key, values in trace.items()
}  # the top row of the heat maps
unmarked = torch.ones(LENGTH, dtype=torch.bool)
unmarked[marked] = False
forget, write = top["forget gate"], top["input gate"]
print(
    f"top unit: forget gate {forget.min():.2f} to {forget.max():.2f}; "
    f"input gate {write[marked].mean():.2f} at the markers, "
    f"at most {write[unmarked].max():.2f} elsewhere"
)
cell_after = [round(top["cell state"][t].item(), 2) for t in marked]
print(
    "top unit's cell state just after each marker:",
    cell_after,
    "| at the end:",
    round(top["cell state"][-1].item(), 2),
)

# %%
fig, axes = plt.subplots(
    4,
    1,
    figsize=(7, 8.5),
    sharex=True,
    height_ratios=[1, 2, 2, 2],
    layout="constrained",
)
axes[0].bar(
    range(LENGTH), sequence[:, 0], color="lightgray", label="value"
)
axes[0].bar(
    marked, sequence[marked, 0], color="crimson", label="marked value"
)
axes[0].set(ylabel="input")
axes[0].legend(loc="upper right", fontsize="small")
for ax, (key, values) in zip(axes[1:], trace.items(), strict=True):
    if key == "cell state":
        bound = values.abs().max().item()
        limits = {"vmin": -bound, "vmax": bound, "cmap": "RdBu_r"}
    else:
        limits = {"vmin": 0, "vmax": 1, "cmap": "viridis"}
    image = ax.imshow(
        values.T, aspect="auto", interpolation="nearest", **limits
    )
    ax.set(ylabel=f"{key}\n(unit, by mean forget gate)")
    fig.colorbar(image, ax=ax, pad=0.01)
    for step in marked:
        ax.axvline(step, color="crimson", linewidth=0.8, linestyle=":")
fig.colorbar(image, ax=axes[0], pad=0.01).ax.set_visible(
    False
)  # align the top panel
axes[-1].set(xlabel="time step t")
fig.suptitle(
    "One adding-problem sequence through the trained LSTM (32 units)"
)
plt.show()

# %% [markdown]
# **What to notice.** The units are sorted by their mean forget gate, so the most "remembering"
# unit is the top row. Its forget gate stays between 0.95 and 1 for the whole sequence, and its
# input gate is shut (at most 0.04) except at the two marked steps, where it opens to about
# 0.84. Its cell state therefore moves twice, at the markers (from about 0 to $-0.20$ at the
# first, to $-0.47$ at the second), by an amount that grows with the marked value, and stays
# put in between: an accumulator for the answer, written at the markers and carried to the
# end, 42 steps after the first one, with $f_t \odot \cdots \odot f_{\tau+1} \approx 1$, the highway of §4.2. (Its sign is
# negative; the readout's weight takes care of that.) The other units forget within a few
# steps (mean forget gates from 0.13 to 0.63) and follow the inputs as they go by; they are
# free to, because the readout uses only the final state. Several input gates open together
# at the markers: the network has learned *when* to write. No one told it which steps matter;
# the gates learned it from the loss. (This is the model of one seed; the models of the other
# seeds are not saved, and their units need not be arranged the same way, but each must carry
# two values over dozens of steps to reach the error it does.)

# %% [markdown]
# ## 4.7 LSTM and GRU on text
#
# The adding problem was built to need a long memory. Does the gating help on ordinary text,
# where most of what predicts the next character is a few characters back? Chapter 2's
# char-RNN (§2.7) is the baseline: the experiment `tools/experiments/char_models.py` trains
# it, a char-LSTM and a char-GRU of about the same size (about 100 000 parameters each: 256
# tanh units, 128 LSTM units, 150 GRU units, the same 64-dimensional embeddings and readout)
# on Tiny Shakespeare, with chapter 2's training loop and settings, from five seeds. To keep
# five seeds of three models within minutes of one CPU core, each run is 400 steps instead
# of chapter 2's 2 500, so this compares the models early in training, at equal cost in
# steps. The LSTM and GRU are `coursekit.CharLM`, an embedding, any recurrent layer and a
# linear readout:
#
# ```{literalinclude} ../tools/experiments/char_models.py
# :pyobject: char_model
# ```

# %%
text_log = json.loads(Path("data/char_models.json").read_text())
text_models = list(text_log["runs"][0]["models"])  # RNN, LSTM, GRU
test_bits = {  # model -> the test bits per character of every seed
    name: torch.tensor(
        [run["models"][name]["test_bits"] for run in text_log["runs"]]
    )
    for name in text_models
}
print(f"test bits per character, {len(text_log['runs'])} seeds:")
for name in text_models:
    size = text_log["runs"][0]["models"][name]["parameters"]
    seeds = " ".join(f"{b:.3f}" for b in test_bits[name])
    print(
        f"  {name:4s} {size:,} params, "
        f"mean {test_bits[name].mean():.3f}  seeds: {seeds}"
    )

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for run in text_log["runs"]:
    for name in text_models:
        model_log = run["models"][name]
        ax.plot(  # from step 100: the untrained models score 6.07
            model_log["valid_steps"][1:],
            model_log["valid_bits"][1:],
            "o-",
            color=colors[name],
            lw=1,
            ms=3,
            label=name if run["seed"] == 0 else None,
        )
ax.axhline(
    2.454, color="gray", ls="--", label="interpolated 5-gram, test"
)
ax.set(
    xlabel="training step",
    ylabel="validation bits per character",
    ylim=(2.4, 3.3),
)
ax.set_title("Tiny Shakespeare: char-RNN, LSTM and GRU, five seeds")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# **What to notice.** At the same number of steps the gates do not pay on this text, not
# yet. After 400 steps the GRU and the char-RNN are close: the GRU is ahead on every seed,
# but by 0.001 to 0.05 bits (means 2.648 and 2.674 bits per character). The LSTM is behind
# both on every seed (2.738 to 2.775), and its validation curve is behind at every
# checkpoint: it starts slower (about 3.2 bits after 100 steps, where the others have
# about 3.0) and has not caught up at 400. That is the adding problem's order again (§4.5:
# the GRU first, the LSTM later), with the same suspect: an LSTM whose forget gates start
# near 0.5 halves its cell at every step, and it has four gate matrices to learn where the
# RNN has one. On short-range text the plain RNN, the simplest of the three, is not at a
# disadvantage so early.
#
# These are early-training numbers: each model has read 400 × 32 windows of 64
# characters, 0.8 million characters, less than one pass over the training text. What the
# three reach when trained to convergence, where long-range context starts to matter, is a
# question this budget does not answer (it is in "What to try"). The course-wide
# {doc}`results table <results>` lists them beside chapter 1's models: at this budget none
# reaches the interpolated 5-gram (2.45 bits per character).

# %%
# the claims above, on every seed
assert (test_bits["GRU"] < test_bits["RNN"]).all()
assert test_bits["LSTM"].min() > test_bits["RNN"].max()
for run in text_log["runs"]:  # the LSTM is behind at every checkpoint
    bits = [
        run["models"][name]["valid_bits"][1:] for name in text_models
    ]
    for rnn, lstm, gru in zip(*bits, strict=True):
        assert lstm > max(rnn, gru)
# none reaches the interpolated 5-gram of chapter 1 (2.454)
assert min(b.min() for b in test_bits.values()) > 2.454

# %% [markdown]
# ## 4.8 TCN in front of an LSTM
#
# A {term}`temporal convolutional network <时间卷积网络>` (TCN, 时间卷积网络)
# {cite}`bai2018empirical` stacks causal, dilated 1-D convolutions with residual connections:
# block $l$ looks $2^l$ steps back, so $L$ blocks of kernel size $k$ see
# $R = 1 + 2(k - 1)(2^L - 1)$ steps, and every time step is computed in parallel. The notes
# describe the serial hybrid **TCN-LSTM**: the TCN extracts local patterns (parallel, with a
# receptive field you choose), and an LSTM reads the resulting feature sequence for the
# long-range order. `coursekit.TCNLSTM` (and `TCNGRU`) take `(T, B, I)` like the recurrent
# layers and predict at every step:

# %%
seed_everything(0)
hybrid = TCNLSTM(
    input_size=2,
    tcn_channels=[16, 16, 16],
    hidden_size=32,
    output_size=1,
)
print("TCN receptive field:", hybrid.tcn.receptive_field, "steps")
batch = test_x[:, :8].float()  # (T, B=8, 2)
print(
    "output:",
    tuple(hybrid(batch).shape),
    "for input",
    tuple(batch.shape),
)

# %% [markdown]
# ## 4.9 A note on speed
#
# Eqs. (4.1)–(4.6) as a Python loop are the readable reference, not a fast implementation: each
# step launches a dozen small operations, and autograd records each of them. `coursekit.LSTM`
# and `coursekit.GRU` run a separate fast path by default (`coursekit.lstm.lstm_forward_fast`,
# tested equal to the loop in values and gradients): no product is repeated per gate, the
# GRU's input products $x_t W_{ih}^\top$ for all $t$ are one matrix product before the loop,
# the LSTM's four gates are one product per step of $[x_t, h_{t-1}]$ with $[W_{ih}, W_{hh}]$
# with the sigmoid applied inside it, and the whole layer is one autograd node with a
# hand-written backward (BPTT by hand, chapter 3). `fast=False` runs the readable loop.
#
# Measured with `benchmarks/lstm.py` (forward and backward, $T = 100$, $B = 32$, $I = 128$,
# $H = 256$, float32, on this course's two-core build machine, three runs of 25 repeats; in a
# separate run, not in this notebook, since timings vary from run to run):
#
# | layer | 1 thread | 2 threads |
# |---|---|---|
# | `coursekit.LSTM` (fast path) vs `torch.nn.LSTM` (oneDNN) | 1.02–1.03× | 1.14–1.16× |
# | `coursekit.LSTM(fast=False)` (the readable loop) | 1.27–1.30× | 1.61–1.64× |
# | `coursekit.GRU` (fast path) vs `torch.nn.GRU` | 0.91–0.93× | 0.89–0.93× |
#
# So the LSTM you train in this book is within a few percent of torch's on one thread and
# about 15% slower on two, where torch's fused kernel also spreads the gates' elementwise work
# over both cores; the GRU is faster than torch's CPU GRU, which runs its step as separate ATen
# operations. No GPU was available for these measurements; on a GPU, torch's cuDNN kernels
# fuse the whole time loop and a Python loop cannot be expected to match them.
#
# ## 4.10 What goes wrong
#
# - **The gate order.** torch's LSTM blocks are i, f, g, o; its GRU blocks are r, z, n. Loading
#   weights from another library (Keras uses i, f, c, o; some papers write z, r) without
#   reordering gives a model that runs and is silently wrong.
# - **$b_{hn}$ and the reset gate.** torch's GRU puts $b_{hn}$ inside $r_t \odot (\cdot)$;
#   moving it out is a different model, and so is the paper's $(r_t \odot h_{t-1}) W_{hn}^\top$.
# - **Forgetting $c_n$.** An LSTM's state is the *pair* $(h, c)$. Carrying only $h$ to the next
#   chunk of a long sequence throws the memory away.
# - **A closed highway.** If the forget gates start near 0.5, the product
#   $f_t \cdots f_{\tau+1}$ still halves at each step; a forget-gate bias of 1 (or more for very
#   long gaps) starts the network with its memory on.
# - **Gradients still explode.** Through $h_{t-1}$ and the gates, the LSTM still multiplies
#   weight matrices. Clip the gradient norm (chapter 5), as every run above does.
#
# ## 4.11 Quiz
#
# **Question 1 (from the notes).** Which statement about LSTM or GRU is **wrong**?
# (以下关于 LSTM 或 GRU 的描述中，错误的是?)
#
# - A. The LSTM was designed to help gradients flow by means of a memory.
# - B. When the forget gate is open (close to 1), gradients can flow over long sequences.
# - C. The forget gate and the output activation (the $\tanh$ of Eq. (4.6)) are the parts
#   that affect an LSTM most.
# - D. GRU and LSTM perform about equally well, but the GRU is slower.
#
# :::{dropdown} Answer
# **D.** A GRU has three blocks of gate weights to the LSTM's four (§4.3), so it is
# *faster*, with about the same accuracy. A is the cell-state highway of §4.2, B is its
# derivative $\operatorname{diag}(f_t \cdots f_{\tau+1})$, and C is what large ablation
# studies found: removing the forget gate or the output activation hurts most
# {cite}`greff2017lstm`. (The notes' 遗忘门和输出门激活函数 reads either as "the forget gate
# and the output activation function" or as "the activations of the forget and output
# gates"; Greff et al.'s finding is the first: the output activation is the $\tanh$ applied
# to $c_t$ in Eq. (4.6), not the output gate $o_t$.)
# :::
#
# **Question 2.** A GRU unit has $z_t = 1$ at every step of a sequence. What is $h_T$? And an
# LSTM unit with $f_t = 1$ and $i_t = 0$ at every step: what is $c_T$?
#
# :::{dropdown} Answer
# **$h_T = h_0$ and $c_T = c_0$.** By Eq. (4.10) with $z_t = 1$, $h_t = h_{t-1}$: the unit
# copies its state unchanged (in torch's convention; a text that swaps $z$ and $1 - z$ would
# say $z_t = 0$). By Eq. (4.5) with $f_t = 1$, $i_t = 0$, $c_t = c_{t-1}$. Both are the
# "remember" setting, and along them $\partial h_T / \partial h_0$ (or
# $\partial c_T / \partial c_0$, on the cell path) is the identity: the gradient neither
# vanishes nor explodes.
# :::
#
# **Question 3.** How many parameters does `torch.nn.LSTM(input_size=32, hidden_size=256)`
# have? And `torch.nn.GRU` of the same sizes?
#
# :::{dropdown} Answer
# **LSTM: 296 960; GRU: 222 720.** An LSTM layer has four blocks, each with an input-to-hidden
# matrix ($256 \times 32$), a hidden-to-hidden matrix ($256 \times 256$) and two biases of
# 256: $4 \times (8\,192 + 65\,536 + 512) = 296\,960$, four times the RNN of chapter 2's
# Question 5. The GRU has three blocks: $3 \times 74\,240 = 222\,720$.
# :::
#
# ## 4.12 What to try
#
# - **Longer gaps.** Set `"length"` in `CONFIG` of `tools/experiments/adding_problem.py` to
#   100, then 200, and run it with `--out` pointing at a file of your own (some minutes of
#   CPU per seed; raise `"steps"` too). Do the LSTM and GRU still get below 0.01 MSE on every
#   seed while the RNN stays near the $1/6 \approx 0.167$ baseline? How does the length of the
#   plateau grow with $T$, and does the forget-gate bias matter more at longer gaps?
# - **Forget-gate bias, further.** Start the forget bias at 2 or 3 instead of 1 (the
#   `Regressor` of the experiment shows how). Is there a value that is too large?
# - **A peephole LSTM.** Train `coursekit.PeepholeLSTM(2, 32)` on the adding problem. Does it
#   learn faster than the LSTM? Look at its `weight_peephole` after training.
# - **Without clipping.** Remove `clip_grad_norm_` from `train_adding`. Which model suffers?
# - **TCN-LSTM.** Train a `TCNLSTM` on the adding problem, reading `y[-1]`. With a receptive
#   field of 15 steps, which half of the work does the TCN do, and which the LSTM?
# - **Read the cell.** In the heat map, find the unit whose cell tracks the running answer
#   best. Plot its $c_t$ and its forget gate as lines.
# - **Text, trained longer.** Set `"steps"` in `CONFIG` of
#   `tools/experiments/char_models.py` to 2 500, chapter 2's budget, and run it with `--out`
#   pointing at a file of your own (some minutes of CPU per seed). Does the LSTM catch
#   up with the GRU and the char-RNN of §4.7, and on every seed?
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```
#
# ## Exercise
#
# In the exercise you implement the LSTM cell, the GRU cell, the LSTM over a sequence and a
# peephole step yourself; its tests compare your functions with `coursekit`'s on random inputs,
# values and gradients.
# {download}`Download the exercise notebook <../exercises/04_lstm_and_gru/04_lstm_and_gru.ipynb>`.
