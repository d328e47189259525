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
# - derive the GRU, Eqs. (4.10)–(4.13), as an LSTM with coupled gates and no separate cell,
#   and know where torch puts the bias $b_{hn}$;
# - add peephole connections, Eqs. (4.7)–(4.9), and put a TCN in front of an LSTM;
# - train an RNN, an LSTM and a GRU on the adding problem and see which of them can bridge a
#   gap of dozens of steps, and look inside the trained LSTM.
#
# Every model here comes from `coursekit.lstm`, `coursekit.gru` and `coursekit.tcn`; their
# docstrings use the equation numbers below.

# %%
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

device = coursekit.default_device()  # the book is executed on the CPU
torch.set_num_threads(1)  # small matrices: one thread is as fast, and reproducible
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
# The lecture notes write the same cell with capitals, $C_t = F_t \odot C_{t-1} + I_t \odot
# \tilde C_t$ and $H_t = O_t \odot \tanh(C_t)$: their $\tilde C_t$ is our $g_t$. The forget gate
# was not in the 1997 LSTM (its cell always kept everything); Gers, Schmidhuber and Cummins
# added it in 2000 {cite}`gers2000learning`, and every LSTM in use today has it.
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
B, I, H = 3, 5, 4  # noqa: E741  batch, input features, hidden units
cell = nn.LSTMCell(I, H, dtype=torch.float64)
x_t = torch.randn(B, I, dtype=torch.float64)
h_prev, c_prev = torch.randn(B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
params = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
print("weight_ih:", tuple(cell.weight_ih.shape), "weight_hh:", tuple(cell.weight_hh.shape))

h, c = lstm_cell_step(x_t, (h_prev, c_prev), *params)
h_torch, c_torch = cell(x_t, (h_prev, c_prev))
print("h and c equal to torch.nn.LSTMCell:", torch.allclose(h, h_torch), torch.allclose(c, c_torch))

# %% [markdown]
# `lstm_forward` loops this cell over a sequence and returns what a one-layer `torch.nn.LSTM`
# returns, every $h_t$ and the final pair $(h_n, c_n)$. Note that $c_n$ is returned too: to
# continue a sequence later (truncated BPTT, chapter 3) you need both states.

# %%
T = 7
x = torch.randn(T, B, I, dtype=torch.float64)
state = (torch.zeros(B, H, dtype=torch.float64), torch.zeros(B, H, dtype=torch.float64))
output, (h_n, c_n) = lstm_forward(x, state, *params)
print("output:", tuple(output.shape), "h_n:", tuple(h_n.shape), "c_n:", tuple(c_n.shape))
print("h_n is output[-1]:", torch.equal(h_n, output[-1]))

# %% [markdown]
# ## 4.2 The cell state is a gradient highway
#
# Unroll Eq. (4.5) once, then all the way back to $c_0$ (take $c_{-1} = 0$, so $\tau$ runs from
# the first step; the notes write the same sum):
#
# $$
# c_t = f_t \odot c_{t-1} + i_t \odot g_t
#     = f_t \odot f_{t-1} \odot c_{t-2} + f_t \odot i_{t-1} \odot g_{t-1} + i_t \odot g_t
#     = \sum_{\tau=0}^{t} \left(f_t \odot \cdots \odot f_{\tau+1}\right) \odot i_\tau \odot g_\tau .
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
# Compare chapter 3's $\prod_k W_{hh}^\top \operatorname{diag}(f'(\cdot))$, whose size is set by
# the weights whatever the data says.
#
# The sum is easy to check numerically, with random gates:

# %%
generator = torch.Generator().manual_seed(0)
T, units = 6, 3
f = torch.rand(T, units, generator=generator, dtype=torch.float64)
i = torch.rand(T, units, generator=generator, dtype=torch.float64)
g = 2 * torch.rand(T, units, generator=generator, dtype=torch.float64) - 1

cell_state = torch.zeros(units, dtype=torch.float64)
for t in range(T):
    cell_state = f[t] * cell_state + i[t] * g[t]  # Eq. (4.5)

unrolled = sum(f[tau + 1 :].prod(0) * i[tau] * g[tau] for tau in range(T))
print("recursion equals the unrolled sum:", torch.allclose(cell_state, unrolled))

# %% [markdown]
# **Highways and residuals.** The same trick made very deep feed-forward networks trainable
# fifteen years later. A {cite:t}`srivastava2015training` *highway network* layer computes
# $y = T(x) \odot H(x) + (1 - T(x)) \odot x$, a transform gate $T$ choosing between a new
# value and a carried copy of the input: Eq. (4.5) with depth in place of time, and with the
# forget and input gates tied (exactly what the GRU does in §4.3). A *residual* network
# {cite}`he2016deep` drops the gate, $y = x + F(x)$, so the identity path has derivative 1 at
# every layer: an LSTM whose forget gate is fixed at 1 and whose input gate is open. The
# highway paper names the LSTM as its inspiration: the "constant error carousel" of
# {cite:t}`hochreiter1997long`, a cell that copies itself from step to step, is the same idea.
#
# Two caveats, both from the notes. The highway is only *one* path: $c_t$ also depends on
# $c_{t-1}$ through $h_{t-1}$ and the gates, and those paths still multiply weight matrices.
# So the LSTM does not *remove* vanishing or exploding gradients; it gives the network an
# architecture in which it *can* learn to keep information, and clipping (chapter 5) is still
# used with LSTMs. And the highway opens only if the forget gate starts open: a common
# initialisation sets the forget bias to 1 {cite}`gers2000learning,jozefowicz2015empirical`
# (`coursekit` and torch initialise all biases uniformly; try it below).

# %% [markdown]
# ## 4.3 The GRU: a simpler gated cell
#
# The GRU {cite}`cho2014learning` keeps the idea and removes parts. It has no separate cell
# (the hidden state plays both roles) and two gates: an
# {term}`update gate <更新门>` (更新门) $z_t$ and a {term}`reset gate <重置门>` (重置门) $r_t$.
# Torch's (and cuDNN's) form, which `coursekit.gru_cell_step` follows, is
#
# $$ r_t = \sigma(x_t W_{ir}^\top + b_{ir} + h_{t-1} W_{hr}^\top + b_{hr}) \tag{4.10} $$
#
# $$ z_t = \sigma(x_t W_{iz}^\top + b_{iz} + h_{t-1} W_{hz}^\top + b_{hz}) \tag{4.11} $$
#
# $$ n_t = \tanh\left(x_t W_{in}^\top + b_{in} + r_t \odot (h_{t-1} W_{hn}^\top + b_{hn})\right)
# \tag{4.12} $$
#
# $$ h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1} \tag{4.13} $$
#
# Read Eq. (4.13) next to Eq. (4.5): $z_t$ plays the forget gate and $1 - z_t$ the input gate,
# *coupled* so that what is kept and what is written add up to one, and the candidate $n_t$
# plays $g_t$. The reset gate lets the candidate ignore the old state (for a new sentence,
# say); there is no output gate, all of $h_t$ is shown. The notes put it as "the forget and
# input gates merged into an update gate, the output gate replaced by a reset gate"; the
# update gate then captures long-term dependencies, the reset gate short-term ones.
#
# Two details matter when you compare with torch. The weights are stacked in the order
# **r, z, n** (`weight_ih` is $(3H, I)$). And the reset gate multiplies the whole recurrent term
# *including its bias* $b_{hn}$; Cho et al.'s paper applies $r_t$ to $h_{t-1}$ before the
# product, $(r_t \odot h_{t-1}) W_{hn}^\top$, which is a different function (the assignment
# tests that you follow torch). Also, in this convention $z_t = 1$ *keeps* the old state; some
# texts (and the notes) write $z$ and $1 - z$ the other way round.

# %%
seed_everything(0)
gru_cell = nn.GRUCell(I, H, dtype=torch.float64)
x_t = torch.randn(B, I, dtype=torch.float64)
h_prev = torch.randn(B, H, dtype=torch.float64)
gru_params = (gru_cell.weight_ih, gru_cell.weight_hh, gru_cell.bias_ih, gru_cell.bias_hh)
h = gru_cell_step(x_t, h_prev, *gru_params)
print("equal to torch.nn.GRUCell:", torch.allclose(h, gru_cell(x_t, h_prev)))


def count(module):
    return sum(p.numel() for p in module.parameters())


print(f"parameters for I=H=128: RNN {count(RNN(128, 128)):,}, GRU {count(GRU(128, 128)):,}, "
      f"LSTM {count(LSTM(128, 128)):,}")  # fmt: skip

# %% [markdown]
# Three blocks of weights instead of four: a GRU has three quarters of an LSTM's parameters
# and does three quarters of its matrix work per step. Careful comparisons find the two about
# equally good, each ahead on some tasks {cite}`chung2014empirical,jozefowicz2015empirical`;
# the GRU is a little faster.
#
# ## 4.4 Peephole connections
#
# In Eqs. (4.1)–(4.4) the gates see $x_t$ and $h_{t-1} = o_{t-1} \odot \tanh(c_{t-1})$, so a
# closed output gate hides the cell from its own gates. Gers and Schmidhuber
# {cite}`gers2000recurrent` let the gates look at the cell directly, through
# {term}`peephole connections <窥视孔连接>` (窥视孔连接): one diagonal weight vector per gate,
# $w_{ci}, w_{cf}, w_{co} \in \mathbb{R}^H$, and one bias $b$,
#
# $$ i_t = \sigma(x_t W_{ii}^\top + h_{t-1} W_{hi}^\top + w_{ci} \odot c_{t-1} + b_i) \tag{4.7} $$
#
# $$ f_t = \sigma(x_t W_{if}^\top + h_{t-1} W_{hf}^\top + w_{cf} \odot c_{t-1} + b_f) \tag{4.8} $$
#
# $$ o_t = \sigma(x_t W_{io}^\top + h_{t-1} W_{ho}^\top + w_{co} \odot c_t + b_o) \tag{4.9} $$
#
# with (4.3), (4.5) and (4.6) unchanged. The output gate looks at the **new** cell $c_t$, so it
# can only be computed after Eq. (4.5): one more sequential dependency inside the step, which
# is why fused GPU kernels (cuDNN) do not offer peepholes and torch has no peephole LSTM. They
# helped on tasks that need precise timing (counting steps), and little elsewhere
# {cite}`greff2017lstm`. With the peepholes at zero the cell is an ordinary LSTM:

# %%
zero_peepholes = torch.zeros(3, H, dtype=torch.float64)  # rows w_ci, w_cf, w_co
c_prev = torch.randn(B, H, dtype=torch.float64)
bias = cell.bias_ih + cell.bias_hh  # one bias: torch's two always appear as a sum
h_peep, c_peep = peephole_lstm_step(
    x_t, (h_prev, c_prev), cell.weight_ih, cell.weight_hh, zero_peepholes, bias
)
h, c = lstm_cell_step(x_t, (h_prev, c_prev), *params)
print("zero peepholes = plain LSTM:", torch.allclose(h_peep, h) and torch.allclose(c_peep, c))

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
# To keep this notebook to a minute of CPU time we use **sequences of length $T = 50$**, 32
# hidden units, batches of 64 and 600 Adam steps for each model, with the gradient norm
# clipped at 1. (The same experiment at $T = 100$ and $T = 200$ is in "What to try".)


# %%
def adding_batch(generator, steps, batch):
    """x (T, B, 2): a value in [0, 1] and a marker; y (B, 1): the sum of the two marked values."""
    values = torch.rand(steps, batch, generator=generator)
    first = torch.randint(0, steps // 2, (batch,), generator=generator)  # one in each half
    second = torch.randint(steps // 2, steps, (batch,), generator=generator)
    markers = torch.zeros(steps, batch)
    markers[first, torch.arange(batch)] = 1.0
    markers[second, torch.arange(batch)] = 1.0
    x = torch.stack([values, markers], dim=-1)  # (T, B, 2)
    return x, (values * markers).sum(0).unsqueeze(-1)  # (B, 1)


class Regressor(nn.Module):
    """A recurrent layer, then a linear readout of its last hidden state."""

    def __init__(self, layer, hidden_size):
        super().__init__()
        self.layer, self.head = layer, nn.Linear(hidden_size, 1)

    def forward(self, x):
        output, _ = self.layer(x)  # (T, B, H)
        return self.head(output[-1])  # (B, 1)


def train_adding(model, steps=600, length=50, batch=64, lr=1e-2):
    """Adam on fresh batches; returns the training loss of every step."""
    generator = torch.Generator().manual_seed(1)  # the same batches for every model
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        x, y = adding_batch(generator, length, batch)
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


LENGTH, HIDDEN = 50, 32
models, curves = {}, {}
for name, layer_class in [("RNN", RNN), ("LSTM", LSTM), ("GRU", GRU)]:
    seed_everything(0)  # the same initial weights draw for each run
    models[name] = Regressor(layer_class(2, HIDDEN), HIDDEN)
    curves[name] = train_adding(models[name], length=LENGTH)

test_x, test_y = adding_batch(torch.Generator().manual_seed(2), LENGTH, 1000)
with torch.no_grad():
    for name, model in models.items():
        test_mse = F.mse_loss(model(test_x), test_y).item()
        print(f"{name:4}  test MSE {test_mse:.4f}   (baseline 1/6 = {1 / 6:.3f})")

# %%
window = 25  # steps in the moving average of the noisy minibatch losses
fig, ax = plt.subplots(figsize=(7, 4))
for name, losses in curves.items():
    smooth = torch.tensor(losses).unfold(0, window, 1).mean(1)
    ax.plot(range(window, len(losses) + 1), smooth, label=name)
ax.axhline(1 / 6, color="gray", linestyle="--", label="always answer 1 (MSE 1/6)")
ax.set(xlabel="training step", ylabel="training MSE (moving average)", yscale="log")
ax.set_title(f"The adding problem, T = {LENGTH}")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** All three spend the first hundred steps learning the mean and sit on the
# baseline. The GRU leaves it after about 150 steps and the LSTM after about 300; both end
# two orders of magnitude below it. The plain RNN never leaves: to learn that the first marked
# value matters, its gradient has to survive some 25–50 steps of $W_{hh}^\top \operatorname{diag}
# (\tanh')$ products, and it does not. The long plateau before the drop is typical of the task:
# the models first have to discover *which* inputs matter, and until then the loss is flat.
#
# Which of LSTM and GRU drops first here depends on the seed and the learning rate; that both
# drop, and the RNN does not, does not.
#
# The highway can be measured. Take the trained models and ask how much their answer depends on
# the input at each step, $\lVert \partial \hat y / \partial x_\tau \rVert$, averaged over a batch:

# %%
for name in ("RNN", "LSTM"):
    x = test_x[:, :100].clone().requires_grad_(True)
    models[name](x).sum().backward()
    sensitivity = x.grad.norm(dim=-1).mean(1)  # (T,): mean over the batch of |dy/dx_t|
    print(f"{name:4}  |dy/dx_t| at t = 0: {sensitivity[0]:.1e},  at t = {LENGTH - 1}: "
          f"{sensitivity[-1]:.1e}")  # fmt: skip

# %% [markdown]
# The RNN's answer does not depend on the start of the sequence at all (a factor of $10^{-10}$),
# so no gradient can tell it that the first marked value matters. The LSTM's answer is, if
# anything, more sensitive to the first step than to the last: 49 steps back, the signal has
# come through intact.
#
# ## 4.6 Inside the trained LSTM
#
# What does the trained LSTM do with its cell? Run it on one sequence and record the gates and
# the cell at every step. The layer's parameters have torch's names, `weight_ih_l0` and so on,
# so Eqs. (4.1)–(4.5) can be replayed by hand:


# %%
def lstm_trace(layer, x):
    """Gates and cell of a one-layer LSTM on x (T, I), unbatched: a dict of (T, H) tensors."""
    h = c = torch.zeros(layer.hidden_size)
    trace = {"input gate": [], "forget gate": [], "cell state": []}
    with torch.no_grad():
        for x_t in x:
            z = F.linear(x_t, layer.weight_ih_l0, layer.bias_ih_l0)
            z = z + F.linear(h, layer.weight_hh_l0, layer.bias_hh_l0)
            z_i, z_f, z_g, z_o = z.chunk(4)
            i, f, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.sigmoid(z_o)
            c = f * c + i * torch.tanh(z_g)  # Eq. (4.5)
            h = o * torch.tanh(c)  # Eq. (4.6)
            for key, value in zip(trace, (i, f, c), strict=True):
                trace[key].append(value)
    return {key: torch.stack(values) for key, values in trace.items()}


sequence = test_x[:, 0]  # (T, 2): one test sequence
trace = lstm_trace(models["LSTM"].layer, sequence)
order = trace["forget gate"].mean(0).argsort(descending=True)  # most remembering unit first
trace = {key: values[:, order] for key, values in trace.items()}
marked = sequence[:, 1].nonzero().flatten().tolist()
print("marked steps:", marked, "| values:", [round(v, 2) for v in sequence[marked, 0].tolist()])
print(f"target {test_y[0].item():.2f}, LSTM answer {models['LSTM'](sequence[:, None]).item():.2f}")
top = {key: values[:, 0] for key, values in trace.items()}  # the top row of the heat maps
unmarked = torch.ones(LENGTH, dtype=torch.bool)
unmarked[marked] = False
print(f"top unit: forget gate {top['forget gate'].min():.2f} to {top['forget gate'].max():.2f}; "
      f"input gate {top['input gate'][marked].mean():.2f} at the markers, "
      f"at most {top['input gate'][unmarked].max():.2f} elsewhere")  # fmt: skip
print("top unit's cell state just after each marker:",
      [round(top["cell state"][t].item(), 2) for t in marked], "| at the end:",
      round(top["cell state"][-1].item(), 2))  # fmt: skip

# %%
fig, axes = plt.subplots(
    4, 1, figsize=(8, 9), sharex=True, height_ratios=[1, 2, 2, 2], layout="constrained"
)
axes[0].bar(range(LENGTH), sequence[:, 0], color="lightgray", label="value")
axes[0].bar(marked, sequence[marked, 0], color="crimson", label="marked value")
axes[0].set(ylabel="input")
axes[0].legend(loc="upper right", fontsize="small")
for ax, (key, values) in zip(axes[1:], trace.items(), strict=True):
    if key == "cell state":
        bound = values.abs().max().item()
        limits = {"vmin": -bound, "vmax": bound, "cmap": "RdBu_r"}
    else:
        limits = {"vmin": 0, "vmax": 1, "cmap": "viridis"}
    image = ax.imshow(values.T, aspect="auto", interpolation="nearest", **limits)
    ax.set(ylabel=f"{key}\n(unit, by mean forget gate)")
    fig.colorbar(image, ax=ax, pad=0.01)
    for step in marked:
        ax.axvline(step, color="crimson", linewidth=0.8, linestyle=":")
fig.colorbar(image, ax=axes[0], pad=0.01).ax.set_visible(False)  # align the top panel
axes[-1].set(xlabel="time step t")
fig.suptitle("One adding-problem sequence through the trained LSTM (32 units)")
plt.show()

# %% [markdown]
# **What to notice.** The units are sorted by their mean forget gate, so the most "remembering"
# unit is the top row. Its forget gate stays between 0.93 and 1 for the whole sequence, and its
# input gate is shut (at most 0.10) except at the two marked steps, where it opens to about
# 0.73. Its cell state therefore moves twice, at the markers, by an amount that grows with the
# marked value, and stays put in between: an accumulator for the answer, written at the
# markers and carried for 40 steps with $f_t \odot \cdots \odot f_{\tau+1} \approx 1$, the
# highway of §4.2. (Its sign is negative; the readout's weight takes care of that.) Most other
# units forget within a few steps (forget gates around 0.3–0.6) and follow the inputs as they go
# by; they are free to, because the readout uses only the final state. Many input gates open
# together at the markers: the network has learned *when* to write. No one told it which steps
# matter; the gates learned it from the loss.
#
# ## 4.7 TCN in front of an LSTM
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
hybrid = TCNLSTM(input_size=2, tcn_channels=[16, 16, 16], hidden_size=32, output_size=1)
print("TCN receptive field:", hybrid.tcn.receptive_field, "steps")
print("output:", tuple(hybrid(test_x[:, :8]).shape), "for input", tuple(test_x[:, :8].shape))

# %% [markdown]
# ## 4.8 A note on speed
#
# Eqs. (4.1)–(4.6) as a Python loop are the readable reference, not a fast implementation: each
# step launches a dozen small operations, and autograd records each of them. `coursekit.LSTM`
# and `coursekit.GRU` run a separate fast path by default (`coursekit.lstm.lstm_forward_fast`,
# tested equal to the loop in values and gradients): the input products $x_t W_{ih}^\top$ for
# all $t$ in one matrix product before the loop, the four gates in one product with
# $W_{hh}$, and the whole layer as one autograd node with a hand-written backward (BPTT by hand,
# chapter 3). `fast=False` runs the readable loop.
#
# Measured with `benchmarks/lstm.py` (forward and backward, $T = 100$, $B = 32$, $I = 128$,
# $H = 256$, float32, one CPU thread, on this course's two-core build machine; in a separate
# run, not in this notebook, since timings vary from run to run):
#
# | layer | time relative to torch |
# |---|---|
# | `coursekit.LSTM` (fast path) vs `torch.nn.LSTM` (oneDNN) | 1.05–1.16× |
# | `coursekit.LSTM(fast=False)` (the readable loop) vs `torch.nn.LSTM` | about 2.0× |
# | `coursekit.GRU` (fast path) vs `torch.nn.GRU` | 0.73–0.79× |
#
# So the LSTM you train in this book is within about 15% of torch's, and the GRU is faster
# than torch's CPU GRU, which runs its step as separate ATen operations. No GPU was available
# for these measurements; on a GPU, torch's cuDNN kernels fuse the whole time loop and a
# Python loop cannot be expected to match them.
#
# ## 4.9 What goes wrong
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
# ## 4.10 Quiz
#
# **Question 1 (from the notes).** Which statement about LSTM or GRU is **wrong**?
# (以下关于 LSTM 或 GRU 的描述中，错误的是?)
#
# - A. The LSTM was designed to help gradients flow by means of a memory.
# - B. When the forget gate is open (close to 1), gradients can flow over long sequences.
# - C. The activations of the forget and output gates are the parts that affect an LSTM most.
# - D. GRU and LSTM perform about equally well, but the GRU is slower.
#
# :::{dropdown} Answer
# **D.** A GRU has three blocks of gate weights to the LSTM's four (§4.3), so it is
# *faster*, with about the same accuracy. A is the cell-state highway of §4.2, B is its
# derivative $\operatorname{diag}(f_t \cdots f_{\tau+1})$, and C is what large ablation
# studies found: removing the forget gate or the output activation hurts most
# {cite}`greff2017lstm`.
# :::
#
# **Question 2.** A GRU unit has $z_t = 1$ at every step of a sequence. What is $h_T$? And an
# LSTM unit with $f_t = 1$ and $i_t = 0$ at every step: what is $c_T$?
#
# :::{dropdown} Answer
# **$h_T = h_0$ and $c_T = c_0$.** By Eq. (4.13) with $z_t = 1$, $h_t = h_{t-1}$: the unit
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
# ## 4.11 What to try
#
# - **Longer gaps.** Run §4.5 with `length=100` and `length=200` (a few minutes of CPU).
#   Expect the LSTM and GRU to get below 0.01 MSE, given enough steps, while the RNN stays
#   near the $1/6 \approx 0.167$ baseline (at $T = 100$, 1 500 steps gave test MSEs of about
#   0.0003, 0.0001 and 0.165 when we ran it). How does the length of the plateau grow with $T$?
# - **Forget-gate bias.** Set the forget block of both LSTM biases to 1 before training
#   (`layer.bias_ih_l0.data[H:2 * H] = 1`, with `H = HIDDEN`) and compare the curves.
# - **A peephole LSTM.** Train `coursekit.PeepholeLSTM(2, 32)` on the adding problem. Does it
#   learn faster than the LSTM? Look at its `weight_peephole` after training.
# - **Without clipping.** Remove `clip_grad_norm_` from `train_adding`. Which model suffers?
# - **TCN-LSTM.** Train a `TCNLSTM` on the adding problem, reading `y[-1]`. With a receptive
#   field of 15 steps, which half of the work does the TCN do, and which the LSTM?
# - **Read the cell.** In the heat map, find the unit whose cell tracks the running answer
#   best. Plot its $c_t$ and its forget gate as lines.
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
