# %% [markdown]
# # 2. Recurrent networks · 循环神经网络
#
# Chapter 1 built language models that look at a fixed window of the past: an n-gram table,
# or a multilayer perceptron (MLP) over the last few embeddings. This chapter replaces the
# window by a **state**: a vector that the network carries from one step to the next and
# updates with every symbol it reads. That one idea gives the
# {term}`recurrent neural network <循环神经网络>` (RNN, 循环神经网络), the subject of the
# rest of this book.
#
# By the end of the chapter you will be able to
#
# - explain why MLPs and CNNs are an awkward fit for sequences, and which two assumptions
#   (inductive biases) an RNN builds in instead;
# - write the recurrent unit, Eqs. (2.1)–(2.2), check the shape of every tensor in it, and
#   run it step by step with `coursekit.rnn_cell_step`;
# - tell an Elman network from a Jordan network, and show a task one solves and the other
#   cannot;
# - unroll an RNN in time, and see why its parameter count does not grow with the length;
# - pick the architecture (many-to-one, one-to-many, many-to-many) a task needs, and build
#   bidirectional and stacked RNNs whose outputs match `torch.nn.RNN` exactly;
# - train a character-level language model on Shakespeare in a minute of CPU time, sample
#   from it, and see the first sign of the problem that chapters 3–5 solve.
#
# Every model here comes from `coursekit.rnn` (the recurrent layers) and
# `coursekit.rnn_models` (the character-level language model and the classifier built on
# them), short modules written to be read next to this chapter; their docstrings cite the
# equation numbers used below.

# %%
import math
from collections import Counter

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import coursekit
from coursekit import (
    RNN,
    CharRNN,
    ElmanRNN,
    JordanRNN,
    ManyToMany,
    ManyToOne,
    OneToMany,
    bptt,
    rnn_cell_step,
    rnn_forward,
    seed_everything,
)
from coursekit.data import (
    Vocab,
    load_tiny_shakespeare,
    split_text,
    tang_poems_text,
)
from coursekit.plots import (
    draw_folded_rnn,
    draw_rnn_architectures,
    draw_unrolled_rnn,
    setup_chapter,
)
from coursekit.train import (
    evaluate_language_model,
    train_language_model,
)

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)

# %% [markdown]
# ## 2.1 Why not an MLP?
#
# A language model assigns a probability to a sequence by the chain rule,
#
# $$
# P(x_1, \dots, x_T) = \prod_{t=1}^{T} P(x_t \mid x_1, \dots, x_{t-1}),
# $$
#
# so at every step it must read a *history* whose length grows with $t$. An MLP (or a CNN
# with a fixed receptive field) reads a vector of fixed size. Chapter 1 got around this by
# cutting the history to the last $n-1$ tokens, and paid three prices:
#
# 1. **A fixed input size.** The model never sees more than $n-1$ tokens back, however much
#    a sentence needs it: "The keys that the man left on the table *are* ..." needs the
#    subject many words back, and a longer window costs more, which is the next point.
# 2. **Parameters grow with the context.** The window's embeddings are concatenated, so
#    the first layer has $(n-1) \cdot d \cdot h$ weights for embedding size $d$ and hidden
#    size $h$: ten times the context, ten times the weights (we count them in §2.4).
# 3. **No notion of time.** Each position of the window has its own weights. A pattern
#    learned at position 3 (say, "not good") is not recognised at position 7 until it has
#    been learned again there; and the MLP is indifferent to the order of its inputs: a
#    fixed shuffle of the input units gives an equally good model, so the ordering is
#    something it has to learn, not something it knows.
#
# The lecture notes answer with two assumptions, two
# {term}`inductive biases <归纳偏置>` (归纳偏置: what a model assumes about the data before
# it has seen any) about sequences:
#
# **{term}`Local dependence <局部依赖>` (局部依赖).** Everything the past contributes to
# step $t$ can be summarised in a vector, the {term}`hidden state <隐状态>` (隐状态)
# $h_{t-1}$, and the new summary depends only on the old one and the newest input:
# $h_t = F(h_{t-1}, x_t)$. This is a Markov assumption, but on the *state*, not on the
# tokens: $h_t$ is computed from $h_{t-1}$ and $x_t$ alone, yet through $h_{t-1}$ it can
# depend on every token since the start. The explicit receptive field is one step; the
# implicit one is unbounded.
#
# **{term}`Stationarity <时间平稳性>` (时间平稳性).** The statistics of the sequence do
# not change when it is shifted in time,
# $P(x_{t_1}, \dots, x_{t_k}) = P(x_{t_1+\tau}, \dots, x_{t_k+\tau})$ for every shift
# $\tau$. A rule that is useful at step 3 is then useful at step 300, so the update $F$
# can be *the same function, with the same weights, at every step*. That is
# {term}`parameter sharing <参数共享>` (参数共享) in time, the recurrent counterpart of a
# CNN sharing one kernel across positions in space. Note 001 calls stationarity "in essence
# an i.i.d. assumption in time" (时间上的独立同分布假设). It is weaker than that, and the
# difference is the whole point of a sequence model: stationarity says that the joint
# distribution of a few steps does not depend on *where* they are, not that the steps are
# independent. Every step then has the same marginal distribution (the "identically
# distributed" half), but an i.i.d. sequence is only the special case without memory; text,
# in which each character depends strongly on the ones before it, can be (nearly) stationary.
# If the steps were independent, there would be nothing for a state to remember.
#
# Neither assumption is exactly true of language (the start of a play is not statistically
# like its middle), but both are close enough to be very useful, and together they give a
# model whose size does not depend on the length of what it reads.

# %% [markdown]
# ## 2.2 The recurrent unit
#
# The simplest $F$ is one affine map followed by a nonlinearity $f$ (usually $\tanh$),
# and the output is read from the state by another affine map:
#
# $$
# h_t = f\left(W_{hh}\, h_{t-1} + W_{ih}\, x_t + b\right)
# \tag{2.1}
# $$
#
# $$
# y_t = V h_t + c
# \tag{2.2}
# $$
#
# with $h_0$ given (zeros, unless we say otherwise). $W_{ih}$ maps the input to the hidden
# space ("input to hidden"), $W_{hh}$ carries the state from one step to the next ("hidden
# to hidden", the *recurrent* or *transition* matrix), and $V$ reads the output. For a
# classifier or a language model $y_t$ is a vector of logits and the probabilities are
# $\mathrm{softmax}(y_t)$.
#
# Two remarks on the notes. First, they say that the output *must* be computed from $h_t$
# alone (必须要由该时刻的状态变量 $h_t$ 生成), so that $h_t$ is the feature the network has
# learned and $y_t$ a readout of it. That is the convention of Eq. (2.2) and of `coursekit`,
# not a requirement: a readout may also see $x_t$ directly (Bengio et al.'s language model
# has such input-to-output connections; chapter 1's version leaves them out), or the states
# of several layers, as in Graves's stacked networks {cite}`graves2013generating`. Such
# extra paths add capacity, but nothing a large enough $h_t$ could not carry, since $h_t$
# is itself computed from $x_t$ and $h_{t-1}$. Second, the notes say that historically
# "$f_W = \tanh$, $V = \mathrm{ReLU}$". That is not quite right: $V$ is an affine map
# followed by whatever the task needs (a softmax for classes, nothing for regression;
# Elman's 1990 networks used sigmoid units in every layer {cite}`elman1990finding`). Where
# the ReLU does appear is *inside* the recurrence, as $f$: an RNN of ReLUs with $W_{hh}$
# initialised to the identity trains well on some long tasks {cite}`le2015simple`.
# `coursekit` offers both, `nonlinearity="tanh"` (the default) or `"relu"`.
#
# **Dimensions.** A minibatch stacks $n$ sequences as rows, so in code the inputs of step
# $t$ form a matrix $X_t \in \mathbb{R}^{n \times d}$ and Eq. (2.1) is applied to every row:
# $H_t = f(X_t W_{ih}^\top + H_{t-1} W_{hh}^\top + b)$. With the letters of the notes,
#
# | symbol | shape | in `coursekit` / torch | meaning |
# |---|---|---|---|
# | $X_t$ | $n \times d$ | `x[t]`, `(B, I)` | inputs of step $t$ ($d$: input or embedding size) |
# | $H_t$ | $n \times h$ | `h`, `(B, H)` | hidden states ($h$: hidden size) |
# | $W_{ih}$ | $h \times d$ | `weight_ih`, `(H, I)` | input to hidden |
# | $W_{hh}$ | $h \times h$ | `weight_hh`, `(H, H)` | hidden to hidden |
# | $b$ | $h$ | `bias_ih + bias_hh`, `(H,)` | bias (torch keeps two that add up) |
# | $V$ | $q \times h$ | `output_layer.weight`, `(O, H)` | hidden to output |
# | $Y_t$ | $n \times q$ | `y[t]`, `(B, O)` | outputs ($q$: e.g. the vocabulary size) |
#
# The notes write the input weights as $U \in \mathbb{R}^{d \times h}$ and multiply on the
# right, $X_t U$; that is $U = W_{ih}^\top$, the same matrix stored the other way round.
# Torch (and `coursekit`) store `weight_ih` as `(H, I)` and compute
# `x @ weight_ih.T`.
#
# Here is Eq. (2.1) in code, one step for a batch of $n = 2$ sequences with $d = 3$ and
# $h = 4$, next to the formula written out by hand:

# %%
seed_everything(0)
n, d, hidden_size = 2, 3, 4  # the n, d and h of the table
x_t = torch.randn(n, d)  # (n, d)
h_prev = torch.randn(n, hidden_size)  # (n, h)
weight_ih = torch.randn(hidden_size, d)  # (h, d)
weight_hh = torch.randn(hidden_size, hidden_size)  # (h, h)
# (h,)
bias_ih, bias_hh = (torch.randn(hidden_size), torch.randn(hidden_size))

# (n, h)
h_t = rnn_cell_step(x_t, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)
by_hand = torch.tanh(
    x_t @ weight_ih.T + h_prev @ weight_hh.T + bias_ih + bias_hh
)
print(
    "h_t:",
    tuple(h_t.shape),
    "| equal to the formula:",
    torch.allclose(h_t, by_hand),
)

# %% [markdown]
# A sequence is a loop over $t$ that feeds each new state into the next step.
# `rnn_forward` is exactly this loop, and returns every state and the last one:

# %%
T = 5
x = torch.randn(T, n, d)  # (T, n, d): time first, as in torch.nn.RNN
h = torch.zeros(n, hidden_size)  # h_0
states = []
for t in range(T):
    h = rnn_cell_step(x[t], h, weight_ih, weight_hh, bias_ih, bias_hh)
    states.append(h)

h0 = torch.zeros(n, hidden_size)
# (T, n, h), (n, h)
output, h_n = rnn_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh)
print("output:", tuple(output.shape), "h_n:", tuple(h_n.shape))
print("same as the loop:", torch.allclose(output, torch.stack(states)))
print("h_n is the last state:", torch.equal(h_n, output[-1]))

# %% [markdown]
# ## 2.3 Elman and Jordan networks
#
# Two early recurrent networks differ in *what* they feed back.
#
# - The {term}`Elman network <Elman network>` {cite}`elman1990finding` feeds back the
#   hidden layer. Elman described it as "context units" that hold a copy of the hidden
#   units from the previous step and feed them in alongside the next input; that is
#   Eqs. (2.1)–(2.2) exactly, and it is what "RNN" means today (`torch.nn.RNN`,
#   `coursekit.ElmanRNN`).
# - The {term}`Jordan network <Jordan network>` {cite}`jordan1986serial` feeds back the
#   *output*. Its hidden layer reads the input and the previous output,
#
# $$
# h_t = f\left(W_{ih}\, x_t + W_{yh}\, y_{t-1} + b_h\right)
# \tag{2.3}
# $$
#
# $$
# y_t = W_{hy}\, h_t + b_y
# \tag{2.4}
# $$
#
# (In Jordan's paper the fed-back outputs go to "state units" that also keep a decaying
# copy of their own past values; Eqs. (2.3)–(2.4), like most textbooks and
# `coursekit.jordan_step`, keep only the output.)
#
# The difference matters. A Jordan network remembers only what it has already *said*: its
# previous outputs, its decisions. Anything it read but did not put into an output is lost
# at the next step. An Elman network can keep in $h_t$ whatever it finds useful, whether or
# not it ever becomes an output. A tiny task shows it: read a stream of random bits and, at
# each step, output the *previous* bit, $y_t = x_{t-1}$. The Elman network stores $x_t$ in
# its state and reads it out one step later. The Jordan network, at step $t$, sees $x_t$
# and its own last answer $y_{t-1}$, which was $x_{t-2}$; the bit $x_{t-1}$ it needs was
# read at step $t-1$ but never written anywhere it can see now.
#
# Both models below have one input, 16 hidden units and one output (a logit: the
# probability that the answer is 1 is its sigmoid):


# %%
def previous_bit_batch(generator, steps=20, batch=32):
    """Random bits x (T, B, 1) in {-1, +1} and their targets.

    The target of step t >= 1 is y_t = x_{t-1} in {0, 1} (step 0 has no
    previous bit).
    """
    bits = torch.randint(
        0, 2, (steps, batch, 1), generator=generator
    ).float()
    # the target for step t >= 1 is bits[t - 1]
    return 2 * bits - 1, bits[:-1]


def train_previous_bit(model, steps=300):
    generator = seed_everything(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        x, target = previous_bit_batch(generator)
        logits, _ = model(x)  # (T, B, 1)
        loss = F.binary_cross_entropy_with_logits(logits[1:], target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # fresh test bits
    x, target = previous_bit_batch(generator, steps=200, batch=256)
    with torch.no_grad():
        logits, _ = model(x)
    return ((logits[1:] > 0).float() == target).float().mean().item()


seed_everything(0)
models = {"Elman": ElmanRNN(1, 16, 1), "Jordan": JordanRNN(1, 16, 1)}
for name, net in models.items():
    accuracy = train_previous_bit(net)
    print(f"{name:6s} accuracy on y_t = x_(t-1): {accuracy:.3f}")

# %% [markdown]
# The Elman network is perfect; the Jordan network is at chance (0.5), because nothing it
# can see at step $t$ carries $x_{t-1}$. (Strictly, a real-valued output could smuggle
# the bit in its *size*, answering $x_{t-2}$ with a logit of 5 or 6 depending on
# $x_{t-1}$; gradient descent does not find this trick here, and a network that sampled
# its outputs would lose it anyway.) The two models also return different things. The
# Elman network's second value is the hidden state $h_T$; the Jordan network's is its
# last output $y_T$, because that *is* its state:

# %%
x = torch.randn(7, 3, 1)  # (T, B, I)
y_elman, h_T = models["Elman"](x)
y_jordan, y_T = models["Jordan"](x)
print(
    "Elman :",
    tuple(y_elman.shape),
    "state",
    tuple(h_T.shape),
    "(layers, B, H)",
)
print(
    "Jordan:",
    tuple(y_jordan.shape),
    "state",
    tuple(y_T.shape),
    "(B, O)",
)

# %% [markdown]
# ## 2.4 Unrolling in time
#
# Eq. (2.1) is a loop: draw it once and it has an arrow from the hidden layer back to
# itself. To see what it computes, {term}`unroll <按时间展开>` it (按时间展开, unrolling in
# time): draw one copy of the cell per time step, and replace the loop by an arrow from each copy
# to the next. The unrolled network is an ordinary feed-forward network, $T$ layers deep,
# in which every layer has the same weights. The arrows of one colour in the figure are
# one matrix.

# %% tags=["hide-input"]
fig, (ax_fold, ax_unroll) = plt.subplots(
    1, 2, figsize=(7, 2.1), width_ratios=[1, 4]
)
draw_folded_rnn(ax=ax_fold)
draw_unrolled_rnn(steps=5, ax=ax_unroll)
plt.show()

# %% [markdown]
# Because the weights are shared, the number of parameters does not depend on $T$. Compare
# an RNN layer with the first layer of a window MLP of chapter 1 reading the same
# 100-dimensional embeddings into 512 hidden units:

# %%
d, hidden_size = 100, 512
rnn_layer = RNN(input_size=d, hidden_size=hidden_size)
rnn_count = sum(p.numel() for p in rnn_layer.parameters())
print(f"{'context':>8s} {'RNN layer':>11s} {'MLP first layer':>16s}")
for context in [5, 50, 500, 5000]:
    mlp_count = sum(
        p.numel()
        for p in nn.Linear(context * d, hidden_size).parameters()
    )
    print(f"{context:8d} {rnn_count:11,d} {mlp_count:16,d}")

# %% [markdown]
# The RNN has $hd + h^2 + 2h$ weights whether it reads 5 characters or 5 000; the MLP's
# grow linearly with its window. The price is paid elsewhere: the RNN must squeeze the
# whole history into $h$ numbers, and the loop over $t$ cannot be parallelised across
# time. Unrolling is also how RNNs are *trained*: the unrolled network is a deep
# feed-forward network, so backpropagation applies, with one twist that chapter 3 derives
# (backpropagation through time): a shared weight collects one gradient contribution per
# step.

# %% [markdown]
# ## 2.5 Architectures: who reads, who writes
#
# The recurrence is the same in every RNN; what changes between tasks is *where the inputs
# come in and where the outputs come out*. The notes list four shapes.

# %% tags=["hide-input"]
draw_rnn_architectures()
plt.show()

# %% [markdown]
# - **{term}`Many-to-one <多对一>` (多对一).** Read a whole sequence, answer once:
#   sentiment of a review, the class of a time series. The answer is read from the final
#   state $h_T$, which has seen everything. In practice $h_T$ remembers the end of the
#   sequence far better than its beginning (§2.8), which is why people also pool over all
#   $h_t$ and, later, use attention (chapter 9) to pick the states that matter.
# - **{term}`One-to-many <一对多>` (一对多).** One input, a sequence out: image
#   captioning, where a CNN's feature vector of the image starts an RNN that writes the
#   sentence {cite}`vinyals2015show`. Each word it writes is fed back as the next input
#   (the dashed arrows). {cite:t}`xu2015show` instead let the decoder look at a
#   different part of the image at every word, which was one of the first uses of
#   attention.
# - **{term}`Many-to-many <多对多>` (多对多), aligned.** One output per input: tagging
#   each word, labelling each audio frame, and the language model, whose output at step
#   $t$ is the prediction of the input at step $t+1$ (it is *autoregressive*, 自回归).
# - **Many-to-many, unaligned: the {term}`encoder–decoder <编码器-解码器>`
#   (编码器-解码器).** Machine translation: the input and output have different lengths
#   and different vocabularies, and word $k$ of the output need not correspond to word $k$
#   of the input. An encoder RNN reads the source into its final state, the
#   {term}`context vector <上下文向量>` (上下文向量) $c$;
#   a second RNN with its own weights (the decoder) generates the target from $c$
#   {cite}`sutskever2014sequence`. Everything the decoder knows about the source must pass
#   through $c$, a fixed-size *bottleneck*; chapter 9 removes it with attention.
#
# In code, the shapes tell the architectures apart. `ManyToOne` classifies from the final
# states, `OneToMany` sets its initial state from the input vector and runs a fixed number
# of steps feeding back its own outputs, and `ManyToMany` puts a linear readout on every
# step. An encoder–decoder can be put together from an `RNN` and a `OneToMany` (chapter 9
# builds a real one):

# %%
seed_everything(0)
T, B, d = 12, 8, 16  # 8 sequences of 12 steps, 16 features per step
x = torch.randn(T, B, d)

# five grades, very bad .. very good
sentiment = ManyToOne(d, hidden_size=32, num_classes=5)
print("many-to-one   ", tuple(x.shape), "->", tuple(sentiment(x).shape))

# e.g. a CNN's pooled feature vector
image_features = torch.randn(B, 512)
# 1000-word vocabulary
captioner = OneToMany(512, hidden_size=32, output_size=1000, steps=9)
print(
    "one-to-many   ",
    tuple(image_features.shape),
    "->",
    tuple(captioner(image_features).shape),
)

# 17 part-of-speech tags
tagger = ManyToMany(d, hidden_size=32, output_size=17)
print("many-to-many  ", tuple(x.shape), "->", tuple(tagger(x).shape))

encoder = RNN(d, hidden_size=32)
# a 7-word translation
decoder = OneToMany(32, hidden_size=32, output_size=1000, steps=7)
_, context = encoder(x)  # (1, B, 32): the final state is the context c
print(
    "encoder-decoder",
    tuple(x.shape),
    "->",
    tuple(decoder(context[-1]).shape),
)

# %% [markdown]
# ## 2.6 Bidirectional and deep RNNs
#
# **Bidirectional.** When the whole sequence is available before any output is needed
# (tagging a finished sentence, not predicting the next word), step $t$ can use the
# future as well as the past. A {term}`bidirectional RNN <双向循环神经网络>` (双向循环神经网络)
# {cite}`schuster1997bidirectional` runs two independent RNNs, one forwards and one
# backwards in time, and concatenates their states:
#
# \begin{equation*}
# \begin{aligned}
# \overrightarrow{h}_t &= f\big(\overrightarrow{W}_{ih}\, x_t
#   + \overrightarrow{W}_{hh}\, \overrightarrow{h}_{t-1} + \overrightarrow{b}\big), \\
# \overleftarrow{h}_t &= f\big(\overleftarrow{W}_{ih}\, x_t
#   + \overleftarrow{W}_{hh}\, \overleftarrow{h}_{t+1} + \overleftarrow{b}\big), \\
# o_t &= \big[\overrightarrow{h}_t \,;\, \overleftarrow{h}_t\big] \in \mathbb{R}^{2h},
# \end{aligned}
# \tag{2.5}
# \end{equation*}
#
# so $o_t$ summarises $x_1, \dots, x_t$ *and* $x_t, \dots, x_T$. Concatenation is the
# usual way to combine them (torch's); a sum or a mean halves the size. Bidirectional
# LSTMs became the standard encoder for tagging, speech recognition and, in ELMo, for
# contextual word vectors. (The notes mention BERT here; BERT is a Transformer, which sees
# both sides through attention rather than two recurrent passes.) A bidirectional RNN
# cannot be a language model: predicting $x_{t+1}$ is trivial for a network that has
# already read it.
#
# **Deep (stacked).** A {term}`deep RNN <深层循环神经网络>` (深层循环神经网络) stacks
# layers: the sequence of states of layer $l-1$ is the input sequence of layer $l$,
#
# \begin{equation*}
# \begin{aligned}
# h^{(l)}_t &= f\big(W^{(l)}_{ih}\, h^{(l-1)}_t + W^{(l)}_{hh}\, h^{(l)}_{t-1} + b^{(l)}\big),
# \\
# h^{(0)}_t &= x_t, \qquad y_t = V h^{(L)}_t + c.
# \end{aligned}
# \tag{2.6}
# \end{equation*}
#
# Each layer has its own $W^{(l)}$: parameters are shared across *time*, never across
# *layers*. Stacks of two to five layers are common (Graves et al. stacked five
# bidirectional layers for speech recognition {cite}`graves2013speech`); deeper stacks
# train better with residual connections between the layers ($y = x + F(x)$, as in a
# {term}`residual network <残差网络>`, 残差网络; chapter 4), as in Google's translation
# system (chapter 9). With both options, torch's layout of the
# final states is worth learning once: `h_n` has shape $(D \cdot L, B, H)$ with
# $D = 2$ directions and $L$ layers, and entry $l \cdot D + \text{direction}$ is layer
# $l$'s final state in that direction (0 forwards, 1 backwards). The forward direction
# ends at $t = T$, the backward one at $t = 1$.
#
# `coursekit.RNN` implements Eqs. (2.5)–(2.6) with a readable loop and torch's exact
# contract, parameter names included, so it can load a `torch.nn.RNN`'s weights:

# %%
seed_everything(0)
theirs = nn.RNN(
    input_size=10, hidden_size=16, num_layers=2, bidirectional=True
)
ours = RNN(
    input_size=10, hidden_size=16, num_layers=2, bidirectional=True
)
ours.load_state_dict(theirs.state_dict())
print([name for name, _ in ours.named_parameters()][:4], "...")

x = torch.randn(7, 3, 10)  # (T, B, I)
h0 = torch.randn(4, 3, 16)  # (D * L, B, H)
out_ours, h_n_ours = ours(x, h0)
out_theirs, h_n_theirs = theirs(x, h0)
print("output", tuple(out_ours.shape), "h_n", tuple(h_n_ours.shape))
diff = max(
    (out_ours - out_theirs).abs().max(),
    (h_n_ours - h_n_theirs).abs().max(),
)
print("max |ours - torch| < 1e-6:", bool(diff < 1e-6))

# %% [markdown]
# The top layer's output at the last step holds the forward final state in its first half;
# its output at the *first* step holds the backward final state in its second half:

# %%
H = 16
print(
    "output[-1, :, :H] == h_n[2] (layer 1, forward): ",
    torch.equal(out_ours[-1, :, :H], h_n_ours[2]),
)
print(
    "output[0, :, H:]  == h_n[3] (layer 1, backward):",
    torch.equal(out_ours[0, :, H:], h_n_ours[3]),
)

# %% [markdown]
# ## 2.7 A character-level language model
#
# Now a real task. A {term}`character-level language model <字符级语言模型>`
# (字符级语言模型) reads text one character at a time and, at every step, predicts the next
# character: the aligned many-to-many shape, with the target sequence equal to the input
# shifted by one. `coursekit.CharRNN` embeds each character, runs an Elman RNN and reads
# logits over the vocabulary, $y_t = V h_t + c$. It is trained to minimise the average
# cross-entropy of the next character,
#
# $$
# \mathcal{L} = -\frac{1}{T} \sum_{t=1}^{T} \log \mathrm{softmax}(y_t)_{x_{t+1}},
# \tag{2.7}
# $$
#
# in nats; divided by $\ln 2$ it is in **bits per character**, the unit of chapter 1. The
# model sees the *true* previous characters while training, not the ones it would have
# generated: {term}`teacher forcing <教师强制>` (教师强制; chapter 8 returns to what that
# costs). Karpathy's char-rnn {cite}`karpathy2015unreasonable` made
# this experiment famous, with LSTMs; before it, {cite:t}`graves2013generating`
# showed character-level RNNs writing text and handwriting, and
# {cite:t}`mikolov2010recurrent` had shown that RNN language models beat n-grams on words.
#
# The corpus is Tiny Shakespeare, 1.1 million characters, split into contiguous parts:

# %%
text = load_tiny_shakespeare()
vocab = Vocab(text)
train_text, valid_text, test_text = split_text(text, (0.9, 0.05, 0.05))
train_ids, valid_ids = (
    vocab.encode(train_text),
    vocab.encode(valid_text),
)
print(
    f"{len(text):,} characters, vocabulary of {len(vocab)} (with <unk>)"
)
print(f"train {len(train_ids):,}, valid {len(valid_ids):,}")

# %% [markdown]
# Two baselines tell us what the numbers mean. A model that knows nothing guesses
# uniformly: $\log_2 V$ bits per character. A model that knows only how frequent each
# character is (a unigram model) pays the entropy of the character distribution. Anything
# below that line uses *context*:

# %%
counts = Counter(train_text)
total = sum(counts.values())
unigram_bits = -sum(
    c / total * math.log2(c / total) for c in counts.values()
)
print(
    f"uniform: {math.log2(len(vocab)):.3f} bits/char, unigram entropy: "
    f"{unigram_bits:.3f}"
)

# %% [markdown]
# The model: 64-dimensional embeddings, 256 tanh units, about 100 000 parameters. The loop
# `coursekit.train.train_language_model` draws random windows of 64 characters, 32 at a
# time, runs Adam, and evaluates on the whole validation text every 250 steps. It also
# clips the gradient norm at 1 (chapter 5 explains why a tanh RNN needs this). On a
# two-core CPU the run takes about a minute; when you run it, a progress bar shows the
# running training loss and the latest validation loss, in nats (the book hides it):

# %%
seed_everything(0)
model = CharRNN(len(vocab), embedding_dim=64, hidden_size=256).to(
    device
)
# for §2.8
initial_state = {k: v.clone() for k, v in model.state_dict().items()}
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")

# %% tags=["remove-stderr", "nbval-ignore-output"]
generator = seed_everything(0)
history = train_language_model(
    model,
    train_ids,
    valid_ids,
    steps=2500,
    seq_len=64,
    batch_size=32,
    lr=3e-3,
    clip=1.0,
    generator=generator,
    eval_every=250,
)

# %% [markdown]
# The final numbers, with the training text scored the same way as the validation text
# (its first 55 770 characters, in one pass with the state carried along):

# %%
train_bits = evaluate_language_model(
    model, train_ids[: len(valid_ids)], 64, 32
) / math.log(2)
print(
    f"after {history.valid_steps[-1]} steps: train {train_bits:.3f} "
    "bits/char, "
    f"valid {history.valid_bits[-1]:.3f} bits/char"
)

# %%
window = 50  # steps in the moving average of the noisy minibatch losses
train_curve = (
    torch.tensor(history.train_bits).unfold(0, window, 1).mean(1)
)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(
    history.train_steps[window - 1 :],
    train_curve,
    label=f"train (mean of {window} steps)",
)
ax.plot(
    history.valid_steps, history.valid_bits, "o-", label="validation"
)
ax.axhline(
    unigram_bits, color="gray", linestyle="--", label="unigram entropy"
)
ax.axhline(
    math.log2(len(vocab)),
    color="gray",
    linestyle=":",
    label="uniform guess",
)
ax.set(
    xlabel="training step", ylabel="bits per character", ylim=(1.5, 6.5)
)
ax.set_title("Char-RNN on Tiny Shakespeare (256 tanh units)")
ax.legend()
plt.show()

# %% [markdown]
# The validation loss falls through the unigram line within the first 250 steps: from
# then on the model is using context. It ends around 2.3 bits per character, well below
# the unigram entropy; bigger models trained for longer go further, and chapter 4 (§4.7)
# compares this model with an LSTM and a GRU of the same size. The training text
# scores better than the validation text, partly because the model was fitted to it and
# partly because they are different passages (the training characters we scored open
# *Coriolanus*; the validation part is mostly *The Taming of the Shrew*). The validation
# loss is still falling at the end, so more steps would still help: this small model is
# limited by training time, not yet by overfitting.
#
# **Sampling.** To generate text, feed the model a prefix, turn the last logits into
# probabilities, draw a character, feed it back, and repeat (the one-to-many loop of §2.5,
# with the model's own outputs as inputs). The **temperature** $\tau$ divides the logits
# before the softmax, $p \propto \exp(y_t / \tau)$: $\tau < 1$ sharpens the distribution
# towards the likeliest characters (safer, more repetitive), $\tau = 1$ samples the
# model's own distribution, $\tau > 1$ flattens it (more surprising, more typos).


# %%
def sample_text(model, vocab, prefix, length, temperature, seed):
    generator = torch.Generator().manual_seed(seed)
    ids = model.generate(
        vocab.encode(prefix).tolist(),
        length,
        temperature=temperature,
        generator=generator,
    )
    return prefix + vocab.decode(ids)


for temperature in [0.5, 1.0]:
    print(f"--- temperature {temperature} ---")
    print(
        sample_text(model, vocab, "ROMEO:\n", 300, temperature, seed=1)
    )

# %% [markdown]
# After a minute the model has learned the *form* of the text: names in capitals followed
# by a colon and a new line, short lines, English-like words, punctuation. It has not
# learned to mean anything. At $\tau = 0.5$ the words are more often real and repeat; at
# $\tau = 1$ they are more varied and more often invented.
#
# ### Tang quatrains
#
# The same model works for any alphabet. Here it reads the five-character quatrains
# (五言绝句) among the 5 003 poems of the first five files of 全唐诗 in the chinese-poetry
# collection, in traditional characters: four lines of verse of five characters each,
# ended by ， or 。, and one poem per line of text. The corpus is small (497 poems, about
# 12 000 characters, of 1 700 different characters), so we train on all of it, for a
# few seconds, and only look at samples:

# %%
poems = tang_poems_text("quantangshi", form="wujue")
poem_vocab = Vocab(poems)
poem_ids = poem_vocab.encode(poems)
print(
    f"{poems.count(chr(10))} poems, {len(poem_ids):,} characters, "
    f"{len(poem_vocab)} in vocab"
)
print(poems.splitlines()[0])

# %% [markdown]
# Before any model, the unigram view: which characters the quatrains use most. (Drawing
# Chinese labels needs a font that has the glyphs: `setup_chapter`, in the first cell,
# called `coursekit.plots.use_cjk_font`, which picks an installed Noto Sans CJK for
# matplotlib, whose default font would draw empty boxes.)

# %%
char_counts = Counter(ch for ch in poems if ch not in "，。？！；\n")
top = char_counts.most_common(20)
total = sum(char_counts.values())
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(
    [ch for ch, _ in top],
    [100 * n / total for _, n in top],
    color="#4c72b0",
)
ax.set_ylabel("share of all characters (%)")
ax.set_title("五言绝句: the 20 most frequent characters")
plt.show()
print(
    f"the top 20 of {len(char_counts)} characters cover "
    f"{100 * sum(n for _, n in top) / total:.1f}%"
)

# %%
seed_everything(0)
poet = CharRNN(len(poem_vocab), embedding_dim=64, hidden_size=256).to(
    device
)
poem_history = train_language_model(
    poet,
    poem_ids,
    steps=400,
    seq_len=50,
    batch_size=32,
    lr=3e-3,
    clip=1.0,
    generator=torch.Generator().manual_seed(0),
    progress=False,
)
print(
    f"final train loss {sum(poem_history.train_bits[-20:]) / 20:.3f} "
    "bits/char"
)

# %% [markdown]
# Each sample starts from a new line (the start of a poem, as in the corpus) and one chosen
# character, and stops at the next new line. With so little data the model can simply
# recall lines it has read, so we also check every five-character line against the
# corpus:

# %%
# every clause mark becomes a comma
CLAUSE_END = str.maketrans("。？！；", "，，，，")
corpus_lines = set(
    poems.translate(CLAUSE_END).replace("\n", "").split("，")
)


def sample_poem(first, seed):
    text = sample_text(
        poet, poem_vocab, "\n" + first, 40, temperature=0.8, seed=seed
    )
    # drop the prefix's new line, stop at the poem's end
    poem = text[1:].split("\n")[0]
    return poem, [
        line for line in poem.translate(CLAUSE_END).split("，") if line
    ]


for seed, first in enumerate("春月山風花秋"):
    poem, lines = sample_poem(first, seed)
    copied = sum(line in corpus_lines for line in lines)
    print(
        f"{poem}   ({copied} of {len(lines)} lines found in the corpus)"
    )

samples = [
    sample_poem(first, seed)[1]
    for seed, first in enumerate("春月山風花秋" * 20)
]
lines_per_poem = Counter(len(lines) for lines in samples)
recalled = sum(
    line in corpus_lines for lines in samples for line in lines
)
total = sum(len(lines) for lines in samples)
print(
    f"{len(samples)} samples; lines per poem: "
    f"{dict(sorted(lines_per_poem.items()))}"
)
print(f"lines found in the corpus: {recalled} of {total}")

# %% [markdown]
# The model has learned what a *line* is: five characters, then a comma or a full stop,
# the two marks alternating. With only 12 000 characters to learn from, about half of its
# lines are recalled whole from the corpus; the other half are new. What it has not
# learned is what a
# *poem* is. Every poem in the corpus has four lines, yet most samples have some other
# number, most often two. After a full stop the model must choose between a new line of
# verse and the end of the poem, and the right choice depends on whether this is the
# first full stop or the second: a fact from twelve characters back. That is the kind of
# longer-range dependency a plain RNN learns slowly, for the reason the next section
# measures.

# %% [markdown]
# ## 2.8 What goes wrong: long-range dependencies
#
# In principle $h_t$ can carry information from arbitrarily far back. In practice the notes
# observe that *information decays*: each step rewrites the state through $W_{hh}$ and a
# squashing nonlinearity, and what the network read long ago fades. Training feels the
# same decay through the gradient. How much does $h_T$ depend on $h_t$? By the chain rule
# through Eq. (2.1), with $a_k = W_{hh} h_{k-1} + W_{ih} x_k + b$,
#
# \begin{equation*}
# \begin{aligned}
# \frac{\partial h_T}{\partial h_t}
# &= \prod_{k=t+1}^{T} \frac{\partial h_k}{\partial h_{k-1}}
# = \prod_{k=t+1}^{T} \mathrm{diag}\big(f'(a_k)\big)\, W_{hh},
# \\
# \Big\lVert \frac{\partial h_T}{\partial h_t} \Big\rVert_2 &\le (\sigma_{\max}\, \gamma)^{T-t},
# \end{aligned}
# \tag{2.8}
# \end{equation*}
#
# where $\sigma_{\max}$ is the largest **singular value** of $W_{hh}$ (its spectral norm,
# which bounds how much it can stretch a vector; note 000 calls it an eigenvalue, which it
# is not in general) and $\gamma$ bounds $|f'|$ ($\gamma = 1$ for $\tanh$). A product of
# $T - t$ matrices tends to shrink or grow exponentially in $T - t$. Chapter 3 derives
# Eq. (2.8) properly; here we simply measure it. Autograd gives each factor
# $\partial h_k / \partial h_{k-1}$ of our trained model as it reads a passage of the
# validation text; we check them against the formula, then multiply them up from the end
# (`coursekit.bptt.jacobian_norms`, from chapter 3's module) and take the norms:


# %%
def autograd_step_jacobians(char_rnn, ids):
    """d h_k / d h_(k-1), (H, H), for every step k.

    Of a one-layer CharRNN reading ids (T,).
    """
    layer = char_rnn.rnn
    # (weight_ih, weight_hh, bias_ih, bias_hh)
    weights = layer.layer_weights(0)
    h = torch.zeros(layer.hidden_size)  # h_0, unbatched (H,)
    jacobians = []
    for x_t in char_rnn.embedding(ids).detach():  # (T, E) -> x_t (E,)
        # Eq. (2.1) as a function of h_(k-1) alone
        def step(h_prev, x_t=x_t):
            return rnn_cell_step(
                x_t, h_prev, *weights, layer.nonlinearity
            )

        jacobians.append(
            torch.autograd.functional.jacobian(step, h, vectorize=True)
        )
        h = step(h).detach()
    return torch.stack(jacobians)  # (T, H, H)


passage = valid_ids[1000:1100]  # 100 characters of the validation text
trained_steps = autograd_step_jacobians(model, passage)  # (T, H, H)

# The same factors from the formula diag(f'(a_k)) W_hh, as chapter 3's
# coursekit.bptt has it
inputs = model.embedding(passage).detach().unsqueeze(1)  # (T, 1, E)
h0 = torch.zeros(1, model.rnn.hidden_size)
hidden_states, cache = bptt.elman_forward(
    inputs, h0, *model.rnn.layer_weights(0)
)
# (T, 1, H, H) -> (T, H, H)
formula = bptt.step_jacobians(hidden_states, cache)[:, 0]
print(
    "autograd equals the formula at every step:",
    torch.allclose(trained_steps, formula, atol=1e-6),
)

# %% [markdown]
# Now the norms of the products, for the trained model and for the same model before
# training (its initial weights were kept in `initial_state`):

# %%
untrained = CharRNN(len(vocab), embedding_dim=64, hidden_size=256)
untrained.load_state_dict(initial_state)
compared = {
    "before training": (
        untrained,
        autograd_step_jacobians(untrained, passage),
    ),
    "trained": (model, trained_steps),
}

fig, ax = plt.subplots(figsize=(7, 4))
for label, (char_rnn, jacobians) in compared.items():
    # the products of Eq. (2.8)
    curve = bptt.jacobian_norms(jacobians.unsqueeze(1))[:, 0]
    ax.semilogy(range(1, len(curve) + 1), curve, label=label)
    sigma_max = torch.linalg.matrix_norm(
        char_rnn.rnn.weight_hh_l0, ord=2
    ).item()
    at = ", ".join(f"{k}: {curve[k - 1]:.0e}" for k in [1, 10, 50])
    print(f"{label}: sigma_max(W_hh) = {sigma_max:.2f}")
    print(f"  norm at distance {at}")
ax.set(
    xlabel="distance $T - t$ (characters)",
    ylabel=r"$\|\partial h_T / \partial h_t\|_2$",
)
ax.set_title("How much the last state depends on earlier ones")
ax.legend()
plt.show()

# %% [markdown]
# Three things to read off the figure.
#
# - The dependence decays **exponentially** with distance (a straight line on a log
#   scale): a character 50 steps back moves the last state many orders of magnitude less
#   than the previous one does. Gradients flowing back through time shrink the same way,
#   so the model gets almost no training signal for using distant context. This is the
#   *vanishing gradient* problem {cite}`bengio1994learning,pascanu2013difficulty`.
# - Training *slowed* the decay: the trained network has learned to carry information
#   further. But the slope is still steep.
# - The bound in Eq. (2.8) is far from tight: for the trained model
#   $\sigma_{\max} \gamma > 1$, so the bound *grows* with distance, yet the measured norm
#   falls. The bound takes the worst case at every step. $W_{hh}$ alone stretches some
#   directions by $\sigma_{\max}$, more than 7, so the factors
#   $\mathrm{diag}(\tanh'(a_k))$ must be doing the shrinking: many units are saturated,
#   $|\tanh'(a)| \ll 1$. When
#   $\sigma_{\max} \gamma < 1$ the bound proves vanishing; when it is larger, gradients
#   *can* explode, and sometimes do (chapter 5).
#
# Chapter 3 derives backpropagation through time and this bound in full; chapter 4 builds
# the LSTM and GRU, whose additive cell state lets information and gradients pass many
# steps unchanged; chapter 5 clips the gradients that explode.

# %% [markdown]
# ## 2.9 A sentence classifier: the final state or the mean
#
# Chapter 1 classified the sentences of rt-polarity (§1.9) with an average of word vectors,
# which cannot see word order, and with a bag of bigrams, which sees order only inside two
# words. Note 003 proposes the many-to-one RNN of §2.5 instead: embed the words, run an
# RNN over them, and score a vector that summarises the sentence. Which vector? The final
# state $h_L$ has read every word, but §2.8 measured how quickly it forgets what it read
# first. The mean of the states, $rac{1}{L} \sum_{t=1}^{L} h_t$, gives every position
# a direct path to the output, as CBOW's average gives every word one:
#
# $$
# z_{\text{final}} = h_L W^\top + b, \qquad
# z_{\text{mean}} = \Big(\frac{1}{L} \sum_{t=1}^{L} h_t\Big) W^\top + b.
# \tag{2.9}
# $$
#
# `coursekit.RNNClassifier` is an embedding, `coursekit.RNN` and one of the two poolings;
# sentences are padded at the end, so the states of the real words never see the padding,
# and a mask picks $h_L$ or the mean:
#
# ```{literalinclude} ../coursekit/rnn_models.py
# :pyobject: RNNClassifier.forward
# ```
#
# Training a recurrent classifier takes minutes, and one run of it says little, so the
# comparison is an experiment, `tools/experiments/sentiment.py`, that trains both, and
# chapter 1's three models beside them, from five seeds on chapter 1's split (64-dimensional
# embeddings and 64 tanh units, Adam, the weights of the best dev epoch kept), and writes a
# log that this section reads:
#
# ```{literalinclude} ../tools/experiments/sentiment.py
# :pyobject: run
# ```

# %%
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd().parent))  # the repository: tools/
sentiment_log = json.loads(Path("data/sentiment.json").read_text())
classifiers = list(sentiment_log["runs"][0]["models"])
test_accuracy = {  # model -> the test accuracy of every seed
    name: [
        run["models"][name]["test_accuracy"]
        for run in sentiment_log["runs"]
    ]
    for name in classifiers
}
print(f"test accuracy, {len(sentiment_log['runs'])} seeds:")
for name in classifiers:
    seeds = " ".join(f"{a:.3f}" for a in test_accuracy[name])
    mean = sum(test_accuracy[name]) / len(test_accuracy[name])
    print(f"  {name:20s} mean {mean:.3f}  seeds: {seeds}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
styles = {
    "RNN, final state": ("tab:blue", "o-"),
    "RNN, mean of states": ("tab:orange", "s-"),
    "CBOW": ("tab:gray", ":"),
    "bag of bigrams": ("tab:green", "--"),
}
for name, (color, style) in styles.items():
    for run in sentiment_log["runs"]:
        dev = run["models"][name]["dev_accuracy"]
        label = name if run["seed"] == 0 else None
        ax.plot(
            range(1, len(dev) + 1),
            dev,
            style,
            color=color,
            lw=1,
            ms=3,
            label=label,
        )
first_run = sentiment_log["runs"][0]["models"]
epochs = max(len(first_run[name]["dev_accuracy"]) for name in styles)
ax.set(xlabel="epoch", ylabel="dev accuracy", ylim=(0.5, 0.82))
ax.set_xticks(range(1, epochs + 1))
ax.set_title(
    "rt-polarity: RNN classifiers and chapter 1's models, 5 seeds"
)
ax.legend(loc="lower right", fontsize=9)
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# **What to notice.** On every seed both RNN classifiers end below chapter 1's CBOW (the
# best RNN run, 0.733, is below the worst CBOW run, 0.745) and further below the bag of
# bigrams (0.785 to 0.790). Pooling helps: the mean of the states beats the final state
# on average (0.723 against 0.690) and on four seeds of five; on seed 4 the final state
# wins, 0.713 against 0.707. A gap of 0.03 is about twice the standard error of one test
# accuracy here (0.013, §1.9) and smaller than the spread of the final-state runs, so it
# takes the five seeds to see it. It is the gap note 003 predicts: the final state has to
# carry the first words through the decay that §2.8 measured, while the mean gives every
# position a direct path to the output, as CBOW's average gives every word one.
#
# Both RNNs are still improving when training stops (their best dev epoch is the last on
# almost every seed), so four epochs, what the experiment's budget allows, is not what
# they need; the ranking above is the ranking at this budget. Why does a model that can
# see word order lose to an average that cannot? It starts from nothing, and from 8 500
# sentences it must learn both what the words mean and how to carry them along; CBOW's
# strong assumption (every word counts the same, wherever it stands) costs it little on
# short reviews and spares it the second task. The course-wide {doc}`results table
# <results>` lists all five models.

# %%
final, mean_pool = (
    test_accuracy[name]
    for name in ("RNN, final state", "RNN, mean of states")
)
# the claims above, on every seed
cbow, bag = test_accuracy["CBOW"], test_accuracy["bag of bigrams"]
assert max(final + mean_pool) < min(cbow)
assert sum(bag) / len(bag) > sum(cbow) / len(cbow)
wins = sum(m > f for m, f in zip(mean_pool, final, strict=True))
assert wins >= 4 and sum(mean_pool) - sum(final) > 0.02 * len(final)
best_epochs = [
    run["models"][name]["best_epoch"]
    for run in sentiment_log["runs"]
    for name in ("RNN, final state", "RNN, mean of states")
]
last = sentiment_log["config"]["RNN, final state"]["epochs"]
assert min(best_epochs) >= last - 1  # still improving at the end
print(f"mean pooling ahead on {wins} of {len(final)} seeds")

# %% [markdown]
# ## 2.10 Quiz
#
# The first two questions are the single-choice questions of the lecture notes (in Chinese,
# as set, with a translation); the others are new.
#
# **Question 1.** 关于循环神经网络 RNN 的描述中，错误的是？ (Which statement about RNNs is
# *wrong*?)
#
# - A. RNN 的核心设计思想包括局部依赖和参数共享。 (The core ideas of the RNN are local
#   dependence and parameter sharing.)
# - B. 时序上的局部依赖基于马尔可夫假设。 (Local dependence in time rests on a Markov
#   assumption.)
# - C. 参数共享同时在不同时刻和不同层之间进行。 (Parameters are shared both across time
#   steps and across layers.)
# - D. RNN 难以捕捉数据中的长序依赖关系。 (RNNs struggle to capture long-range
#   dependencies.)
#
# :::{dropdown} Answer
# **C.** Parameters are shared across *time*, not across *layers*: in a stacked RNN each
# layer has its own $W^{(l)}_{ih}$ and $W^{(l)}_{hh}$, Eq. (2.6); torch stores them as
# separate tensors `weight_hh_l0`, `weight_hh_l1`, ... A is §2.1's two inductive biases.
# B is right with one nuance: the Markov property holds for the *state* $h_t$, which
# depends on $h_{t-1}$ and $x_t$ alone, not for the tokens, which can influence each other
# across any distance through the state. D is §2.8.
# :::
#
# **Question 2.** 以下关于循环网络常见架构的描述中，错误的是： (Which statement about common
# RNN architectures is *wrong*?)
#
# - A. 文本分类是"多对一"架构的典型例子。 (Text classification is a typical many-to-one
#   task.)
# - B. 图像描述文本生成属于"一对多"架构。 (Image captioning is a one-to-many task.)
# - C. 某些"多对多"架构会导致信息瓶颈。 (Some many-to-many architectures create an
#   information bottleneck.)
# - D. 机器翻译常采用同构的"多对多"架构。 (Machine translation usually uses a homogeneous,
#   aligned many-to-many architecture.)
#
# :::{dropdown} Answer
# **D.** In translation the input and output are different languages with different
# lengths and word orders, so output step $k$ does not correspond to input step $k$: it
# needs the *unaligned* encoder–decoder, with separate networks (separate weights) for
# reading and for writing. That design is also the bottleneck of C: the whole source
# sentence must pass through one fixed-size context vector. Aligned many-to-many models
# such as a tagger have no such bottleneck, since every output has its own state. A and B
# are the examples of §2.5.
# :::
#
# **Question 3.** `RNN(input_size=10, hidden_size=64, num_layers=3, bidirectional=True)`
# reads a batch `x` of shape `(20, 8, 10)` (time first). What are the shapes of `output`
# and `h_n`, and which entry of `h_n` is the final state of the top layer's backward
# direction?
#
# - A. `output (20, 8, 64)`, `h_n (3, 8, 64)`, `h_n[2]`
# - B. `output (20, 8, 128)`, `h_n (6, 8, 64)`, `h_n[5]`
# - C. `output (20, 8, 128)`, `h_n (6, 8, 64)`, `h_n[3]`
# - D. `output (20, 8, 384)`, `h_n (6, 8, 128)`, `h_n[-1]`
#
# :::{dropdown} Answer
# **B.** The output is the top layer's state at every step, both directions concatenated:
# $2 \times 64 = 128$ features. `h_n` has $D \cdot L = 2 \times 3 = 6$ entries of
# `(B, H)`, ordered layer by layer and, within a layer, forward then backward, so the top
# layer's backward state is entry $2 \cdot 2 + 1 = 5$. It is the state *after reading
# `x[0]`*, the last step of the backward pass, and equals `output[0, :, 64:]`, as the
# check in §2.6 showed.
# :::
#
# **Question 4.** A Jordan network and an Elman network, each with one output unit, are
# trained to output the previous input bit, $y_t = x_{t-1}$. Why does the Jordan network
# stay at chance?
#
# - A. Its hidden layer is too small.
# - B. It feeds back its previous output, which held $x_{t-2}$, so $x_{t-1}$ is stored
#   nowhere it can read at step $t$.
# - C. Its output layer is linear.
# - D. Its gradients vanish after one step.
#
# :::{dropdown} Answer
# **B.** A Jordan network's only memory is its previous output, Eq. (2.3). Solving the
# task means answering $x_{t-2}$ at step $t-1$ while also remembering $x_{t-1}$, and one
# output unit trained to be a good answer has no room for the second fact. A bigger
# hidden layer (A) does not help, because the hidden layer is recomputed from scratch at
# every step; C is true of the Elman network too; and one step of backpropagation (D) is
# no obstacle. Give the Jordan network a few extra output units that the loss ignores and
# it can use them as memory; try it.
# :::
#
# **Question 5.** How many parameters does a one-layer `torch.nn.RNN(input_size=32,
# hidden_size=256)` have when it reads sequences of length 100? And of length 1 000?
#
# :::{dropdown} Answer
# **74 240 in both cases.** $W_{ih}$ has $256 \times 32 = 8\,192$ entries, $W_{hh}$ has
# $256^2 = 65\,536$, and torch keeps two bias vectors of 256 (their sum is the $b$ of
# Eq. (2.1)): $8\,192 + 65\,536 + 512 = 74\,240$. The length of the sequence changes
# how many times the weights are used, not how many there are (§2.4).
# :::

# %% [markdown]
# ## 2.11 What to try
#
# - **ReLU instead of tanh.** Train the char-RNN with `nonlinearity="relu"`. Does it
#   train at the same learning rate? Without clipping? What happens to the curve of §2.8?
# - **Capacity and time.** Halve and double `hidden_size`. Plot validation bits per
#   character against training *time*, not steps. Which model would you pick for one
#   minute of CPU, and which for ten?
# - **Context length.** Train with `seq_len=8` and with `seq_len=200`. The model can only
#   learn to use context as long as its training windows; does the validation loss show
#   it?
# - **Two layers.** `CharRNN(..., num_layers=2)`: is a deep RNN better than a wide one
#   with the same number of parameters?
# - **Temperature.** Sample at $\tau = 0.1$ and $\tau = 2$. Explain what you see with the
#   softmax formula.
# - **Jordan's memory.** Give the Jordan network of §2.3 four output units, train only the
#   first on $y_t = x_{t-1}$, and leave the others free. Does it now solve the task? What
#   does that say about the difference between "output" and "state"?
# - **A cheating language model.** Train a bidirectional `ManyToMany` to predict the next
#   character. Its loss goes to almost zero; explain why it is useless for generating text.
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```
#
# ## Exercise
#
# In the exercise you implement the pieces of this chapter yourself; its tests compare
# your functions with `coursekit`'s on random inputs.
# {download}`Download the exercise notebook <../exercises/02_recurrent_networks/02_recurrent_networks.ipynb>`.
