# %% [markdown]
# # 9. Sequence to sequence, beam search and attention · 序列到序列、束搜索与注意力
#
# Translation is the task that shaped this chapter's models. An English sentence of $m$
# words is to become a Chinese sentence of $n$ characters; $m$ and $n$ differ, and the
# order of the ideas differs too ("What time is it?" is 现在几点？, "now what-o'clock"). The
# architectures of chapter 2 that emit one output per input cannot do this. The
# {term}`encoder–decoder <编码器-解码器>` (编码器-解码器) of Cho et al.
# {cite}`ch9-cho2014learning` and Sutskever et al. {cite}`ch9-sutskever2014sequence`, the
# {term}`sequence-to-sequence <序列到序列>` (序列到序列, seq2seq) model, can: one RNN reads the
# source, a second one writes the target, one token at a time, each conditioned on what it
# has written so far and on what the first one read.
#
# What the second RNN gets from the first is the question of this chapter. In the first
# models it was one vector, the encoder's last state, the
# {term}`context vector <上下文向量>` (上下文向量). Note 000 names the problem with that:
# "传统 S2S 模型中的解码器仅依赖最后一个编码器的隐状态,会造成信息瓶颈" (a decoder that
# depends only on the encoder's last state has an information bottleneck). Bahdanau, Cho and
# Bengio {cite}`ch9-bahdanau2015neural` removed it: at every output step the decoder looks at
# *all* the encoder's states and takes a weighted average of them, with weights it computes
# from its own state. That is {term}`attention <注意力机制>` (注意力机制), and the weights are
# a {term}`soft alignment <软对齐>` (软对齐) between the output and the input.
#
# By the end of the chapter you will be able to
#
# - write the encoder–decoder's probability model, Eqs. (9.1)–(9.6), and say what each
#   piece of `coursekit.seq2seq` computes;
# - write additive, dot and general attention scores with masking of the padding,
#   Eqs. (9.7)–(9.12), and the scaled dot product of the Transformer, Eq. (9.13);
# - measure the bottleneck, as BLEU against source length with and without attention, in
#   an experiment of five seeds on 23 610 English–Chinese sentence pairs;
# - run beam search by hand (note 001's beam of 3), say why it is still an approximation,
#   and what its length penalty does to this chapter's translations;
# - explain the design of Google's neural machine translation system (GNMT).
#
# The code is in `coursekit.translation_data`, `coursekit.seq2seq`, `coursekit.attention`
# and `coursekit.beam_search`; their docstrings cite the equation numbers used below.

# %%
import json
import math
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from coursekit import (
    beam_search,
    bleu_zh,
    cmn_eng_split,
    greedy_search,
    load_cmn_eng,
    tokenize_chinese,
    tokenize_english,
)
from coursekit.attention import AdditiveAttention, masked_softmax
from coursekit.plots import setup_chapter
from coursekit.translation_data import (
    CMN_ENG_CHANGED,
    CMN_ENG_SPLIT_SIZES,
    bucket_batches,
    to_simplified,
)

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)

# %% [markdown]
# ## 9.1 The data: English–Chinese pairs
#
# The pairs come from the Tatoeba project (via the ManyThings.org collection): short,
# everyday sentences, each with a Chinese translation written by a volunteer, shipped
# with the package with each pair's attribution (CC-BY 2.0 FR). The Chinese side mixes
# simplified and traditional characters (父亲 and 父親 are the same word), which would give
# one word two sets of tokens; OpenCC's traditional-to-simplified conversion writes
# everything in simplified characters first.

# %%
raw = load_cmn_eng()
split = cmn_eng_split()
print(
    f"{len(raw)} pairs; OpenCC changed the Chinese of {CMN_ENG_CHANGED}"
)
print({part: len(pairs) for part, pairs in split.items()})
assert {p: len(v) for p, v in split.items()} == CMN_ENG_SPLIT_SIZES
changed = [p for p in raw if to_simplified(p.chinese) != p.chinese]
assert len(changed) == CMN_ENG_CHANGED
for pair in changed[:2]:
    print(f"  {pair.chinese}  ->  {to_simplified(pair.chinese)}")
print("some test pairs:")
for pair in split["test"][:3] + split["test"][600:602]:
    print(f"  {pair.english!r:40s} {pair.chinese}")

# %% [markdown]
# English is split into words (punctuation as its own token, lower-cased); Chinese into
# characters, because written Chinese has no spaces and a character-level target needs no
# word segmenter. The split is fixed and documented in `coursekit.translation_data`: the
# hash of the English sentence decides its part (5 % test, 5 % dev, 90 % train), so all
# translations of one English sentence are in the same part, and a test sentence's
# translation cannot be remembered from training. Each vocabulary keeps the training
# tokens seen at least twice, plus `<pad>`, `<bos>`, `<eos>` and `<unk>`.
#
# Batches are padded to their longest sentence. Sorting the pairs by length before cutting
# batches (length bucketing) keeps the padding small; masks mark what is real:

# %%
sys.path.insert(0, str(Path.cwd().parent))  # tools/experiments/
from tools.experiments import translation as experiment

log = json.loads(Path("data/translation.json").read_text())
config = log["config"]
data = experiment.datasets(config)
_, english, chinese, encoded = data
print(f"vocabularies: English {len(english)} words,")
print(f"              Chinese {len(chinese)} characters")
batch = bucket_batches(encoded["test"][:6], batch_size=3)[0]
print("src (B, S):")
print(batch.src)
print("src_mask:")
print(batch.src_mask.int())
print("tgt_in (starts with <bos> = 1), tgt_out (ends with <eos> = 2):")
print(batch.tgt_in[:1], batch.tgt_out[:1], sep="\n")

# %% [markdown]
# ## 9.2 The encoder–decoder
#
# A translation model gives the probability of a target $y = y_1 \dots y_n$ given a source
# $x = x_1 \dots x_m$, one token at a time (note 000 writes it with one fixed $c$; here
# the context may change with the step, $c_t$, and $y_n$ is `<eos>`):
#
# $$ p(y \mid x) = \prod_{t=1}^{n} p(y_t \mid y_{<t}, x)
#    = \prod_{t=1}^{n} g(y_t \mid c_t, s_{t-1}, y_{t-1}). \tag{9.1} $$
#
# The **encoder** is a {term}`bidirectional RNN <双向循环神经网络>` over the source
# embeddings $E x_j$; the state at source position $j$ joins the forward and backward
# states, so it summarises the words around $x_j$ in both directions:
#
# $$ h_j = [\overrightarrow{h}_j; \overleftarrow{h}_j], \quad
#    \overrightarrow{h}_j = f(\overrightarrow{h}_{j-1}, E x_j), \quad
#    \overleftarrow{h}_j = f(\overleftarrow{h}_{j+1}, E x_j). \tag{9.2} $$
#
# Without attention, what the decoder knows of the source is the fixed context $c$, the
# last state of each direction, which also gives its first state:
#
# $$ c = [\overrightarrow{h}_m; \overleftarrow{h}_1], \qquad
#    s_0 = \tanh(W_b c + b_b). \tag{9.3} $$
#
# With attention, the context is recomputed at every step $t$ from all the $h_j$ (§9.3):
#
# $$ c_t = \sum_{j=1}^{m} \alpha_{tj} h_j, \qquad
#    \alpha_t = \operatorname{softmax}_j \operatorname{score}(s_{t-1}, h_j);
#    \tag{9.4} $$
#
# without it, $c_t = c$. The **decoder** is a GRU fed the previous target token and the
# context, and a readout that scores every target token:
#
# $$ s_t = f\big(s_{t-1}, [E y_{t-1}; c_t]\big), \tag{9.5} $$
#
# \begin{equation*}
# \begin{aligned}
# g(y_t \mid c_t, s_{t-1}, y_{t-1}) &= \operatorname{softmax}(W_v o_t + b_v), \\
# o_t &= \tanh\big(W_o [s_t; c_t; E y_{t-1}] + b_o\big).
# \end{aligned}\tag{9.6}
# \end{equation*}
#
# In (9.1), $g$ is computed through the new state $s_t$ of Eq. (9.5), which reads
# $s_{t-1}$, $y_{t-1}$ and $c_t$. Training is teacher-forced (chapter 8): the decoder is
# fed $y_0 = $ `<bos>`, $y_1, \dots, y_{n-1}$ and scored on $y_1, \dots, y_n$ (the last of
# them `<eos>`) by the cross-entropy,
# averaged over the real target tokens (the mask excludes the padding). One decoder step
# in `coursekit`:
#
# ```{literalinclude} ../coursekit/seq2seq.py
# :pyobject: Decoder.step
# ```
#
# Two details of the encoder matter. A batch is padded at the end, and a backward RNN run
# over the padded batch would read the padding *first* and carry it into every
# $\overleftarrow{h}_j$; torch's answer is a packed sequence, `coursekit.Encoder`'s is to run
# each group of equal-length sources unpadded (with length bucketing a batch has only a
# few lengths). And the encoder has no loss of its own: as note 001 says,
# "编码器的输出端是不接损失函数的" (the encoder's output has no loss attached); it learns only
# from the gradient that comes back through the context.

# %% [markdown]
# ## 9.3 Attention as soft alignment
#
# The score in Eq. (9.4) says how well the decoder's state $s_{t-1}$, which knows what has
# been written, matches source position $j$. Bahdanau et al.'s
# {term}`additive <加性注意力>` (加性注意力) score is a small network with one hidden layer
# (its $w$ is Bahdanau's $v_a$, its $W$ and $U$ their $W_a$ and $U_a$):
#
# $$ e_{tj} = w^\top \tanh(W s_{t-1} + U h_j). \tag{9.7} $$
#
# Luong et al. {cite}`ch9-luong2015effective` proposed cheaper ones, among them the
# {term}`dot <点积注意力>` (点积注意力) score (it needs $s$ and $h$ of one size) and the
# **general** score with one matrix $M$:
#
# $$ e_{tj} = s_{t-1}^\top h_j, \tag{9.8} $$
#
# $$ e_{tj} = s_{t-1}^\top M h_j. \tag{9.9} $$
#
# (Luong et al. query with $s_t$, computed by the RNN before attending; here every score
# queries with $s_{t-1}$, where Bahdanau et al. put it, so that the models of §9.4 differ
# only in the score.) The Transformer {cite}`ch9-vaswani2017attention` uses the dot score
# between a query $q_i$ and a key $k_j$ (here $i$ counts queries, as $t$ did), divided by
# the square root of their size $d_k$: with components of unit variance $q_i^\top k_j$ has
# variance $d_k$, and large scores would push the softmax into saturation, where its
# gradients vanish:
#
# $$ e_{ij} = q_i^\top k_j / \sqrt{d_k}. \tag{9.10} $$
#
# The weights are a softmax over the *real* source positions, and the context the weighted
# average of the values (here the values are the $h_j$ themselves):
#
# \begin{equation*}
# \begin{aligned}
# \alpha_{tj} &= \frac{\exp(e_{tj})}{\sum_{j' \text{ kept}} \exp(e_{tj'})}
#   && \text{for a kept } j, \\
# \alpha_{tj} &= 0 && \text{for a padded } j,
# \end{aligned}\tag{9.11}
# \end{equation*}
#
# $$ c_t = \sum_j \alpha_{tj} h_j. \tag{9.12} $$
#
# In matrix form, for all queries at once with a mask $M$ of $0$ (kept) and $-\infty$
# (masked), the Transformer's
#
# $$ \operatorname{Attention}(Q, K, V)
#    = \operatorname{softmax}\big(Q K^\top / \sqrt{d_k} + M\big)\, V \tag{9.13} $$
#
# is `coursekit.scaled_dot_product_attention`, equal to torch's in values and gradients
# (`tests/test_attention.py`). The masked softmax of Eq. (9.11), which never returns nan,
# even for a row with nothing kept:
#
# ```{literalinclude} ../coursekit/attention.py
# :pyobject: masked_softmax
# ```
#
# The padding must be masked, not just zero: a padded $h_j = 0$ still gets the score
# $w^\top \tanh(W s)$ and a weight, which it takes away from the real words, shrinking the
# context. On a batch of two sources of 4 and 2 words, padded to 4:

# %%
torch.manual_seed(0)
keys = torch.randn(2, 4, 6)  # (B, S, K): two sources, padded to 4
keys[1, 2:] = 0.0  # the padding of the second source
mask = torch.tensor([[True] * 4, [True, True, False, False]])
query = torch.randn(2, 5)  # s_{t-1} (B, Q)
additive = AdditiveAttention(5, 6, 8)
with torch.no_grad():
    context, weights = additive(query, keys, keys, mask)
    unmasked = additive(query, keys, keys)[1]
print("weights with the mask:   ", weights[1].numpy().round(3))
print("weights without the mask:", unmasked[1].numpy().round(3))
assert torch.all(weights[1, 2:] == 0)
assert torch.allclose(weights.sum(-1), torch.ones(2))
row = masked_softmax(
    torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.bool)
)
print("a row with nothing kept: ", row)
assert abs(unmasked[1, 2:].sum() - 0.48) < 0.01

# %% [markdown]
# Without the mask, nearly half of the second source's attention (0.48) goes to two
# positions that are
# not words. A model trained that way learns to use the padding (its scores depend on how
# long the batch's longest sentence is), and gives a different translation of the same
# sentence in a different batch.

# %% [markdown]
# ## 9.4 The experiment: no attention, additive, dot
#
# `tools/experiments/translation.py` trains three models that differ only in the context
# the decoder reads: the fixed $c$ of Eq. (9.3) (Cho et al.'s decoder), the additive score
# (9.7) and the dot score (9.8). All have a bidirectional GRU encoder of 64 units per
# direction (so $h_j$ has 128), a GRU decoder of 128 units, embeddings of 64, a readout
# of 64 and dropout 0.2, about 0.75 million parameters. Training: teacher forcing, Adam
# (learning rate $3 \times 10^{-3}$), gradient norm clipped at 1, length-bucketed batches
# of 128; a fixed number of steps per model, set so that each trains for about 240 seconds
# on one free CPU core (a step with attention costs more, so it gets fewer steps: 3 600
# without attention, 2 800 with; measured alone, 0.074, 0.089 and 0.083 s per step, or
# 266, 250 and 234 s). Five seeds draw the initial weights, the dropout masks and the
# batch order. The score is corpus {term}`BLEU` {cite}`ch9-papineni2002bleu` on the 1 240
# test pairs, computed by sacrebleu {cite}`ch9-post2018call` with its `zh` tokeniser
# (every Chinese character a token), one reference per sentence. The log took 95 minutes
# of compute, in two processes on a two-core machine that was doing other work too, so
# its training times (below) are longer than the budget; the chapter reads the log, and
# loads the seed-0 weights (float16, 4.5 MB) to evaluate them.
#
# ```{literalinclude} ../tools/experiments/translation.py
# :pyobject: train
# ```

# %%
MODELS = list(log["runs"][0]["models"])
colors = {
    "no attention": "tab:gray",
    "additive": "tab:blue",
    "dot": "tab:orange",
}
runs = log["runs"]


def per_seed(name, *keys):
    """A tensor of a logged value of model `name`, one entry per seed."""
    values = []
    for run in runs:
        value = run["models"][name]
        for key in keys:
            value = value[key]
        values.append(value)
    return torch.tensor(values, dtype=torch.float64)


def band(ax, x, values, name, **style):
    """The mean over seeds as a line, the min-max range as a band."""
    color = colors[name]
    low, high = values.min(0).values, values.max(0).values
    ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
    ax.plot(x, values.mean(0), color=color, label=name, **style)


fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
for name in MODELS:
    at = runs[0]["models"][name]["logged_at"]
    for ax, key in zip(axes, ("train_loss", "dev_bleu"), strict=True):
        band(ax, at, per_seed(name, key), name, marker=".")
axes[0].set(
    xlabel="training step",
    ylabel="training loss (nats per token)",
)
axes[1].set(xlabel="training step", ylabel="dev BLEU (greedy)")
axes[1].legend(fontsize=8)
fig.suptitle("Five seeds: mean and min-max band", fontsize=10)
fig.tight_layout()
plt.show()

# %%
print("test BLEU, greedy, five seeds: mean (min-max)")
test_bleu = {name: per_seed(name, "test_bleu") for name in MODELS}
for name in MODELS:
    v = test_bleu[name]
    steps = runs[0]["models"][name]["steps"]
    seconds = per_seed(name, "train_seconds").mean()
    print(
        f"  {name:13s} {v.mean():5.2f} ({v.min():.2f}-{v.max():.2f})"
        f"   {steps} steps, {seconds:.0f} s"
    )
# attention wins on every seed, and additive beats dot on every seed
assert test_bleu["additive"].min() > test_bleu["dot"].max()
assert test_bleu["dot"].min() > test_bleu["no attention"].max()
assert (test_bleu["additive"] - test_bleu["dot"]).min() > 1.5
# the anchors (no attention 6.2, additive 15.8) are beaten on every seed
assert test_bleu["no attention"].min() > 6.2
assert test_bleu["additive"].min() > 15.8
# still learning at the end: the mean dev BLEU rose in the last interval
for name in MODELS:
    dev = per_seed(name, "dev_bleu").mean(0)
    assert dev[-1] > dev[-2]

# %% [markdown]
# The anchors this chapter was set against, measured on the same data with a bidirectional
# GRU encoder and a GRU decoder trained for 240 s on one CPU, were BLEU 6.2 without
# attention and 15.8 with additive attention. Both are beaten on every seed: 15.3 without
# attention, 19.5 with additive attention and 17.0 with the dot score. The order of the
# three is the same on every seed. The dev curves are still rising at the end, so more
# training would raise all three: this is a comparison at one small budget.
#
# Attention wins by less here than in the anchors (1.27 times the BLEU, against 2.5): the
# anchors' model without attention was weaker, and most of these sentences are short (the
# median English sentence has 7 words), which is where one vector is enough (§9.5). The
# additive score beats the dot score on every seed, by 2.5 BLEU on average; the dot score
# has no parameters, so the decoder's state and the encoder's states must themselves
# learn to be comparable, a constraint the additive score's $W$ and $U$ lift.
#
# The shipped weights of seed 0, evaluated here in float64 (the log's numbers are float32;
# the weights were rounded to float16 to ship them):

# %%
weights = torch.load("data/translation_seed0.pt")
models = {}
for name in MODELS:
    model = experiment.build_model(
        name, len(english), len(chinese), config
    ).double()
    model.load_state_dict(
        {k: v.double() for k, v in weights[name].items()}
    )
    models[name] = model.eval()
references = [pair.chinese for pair in split["test"]]
greedy = {
    name: experiment.translate(model, encoded["test"], chinese, config)
    for name, model in models.items()
}
for name in MODELS:
    here = bleu_zh(greedy[name], references)
    logged = runs[0]["models"][name]["test_bleu"]
    print(
        f"  {name:13s} BLEU {here:5.2f}   (log, seed 0: {logged:.2f})"
    )
    assert abs(here - logged) < 0.5

# %% [markdown]
# ## 9.5 The bottleneck, measured
#
# If one vector is a bottleneck, it should hurt most where there is most to squeeze
# through it: long sources. The log keeps each model's test BLEU on the pairs grouped by
# the length of the English sentence (in words, punctuation included; the groups hold
# 104 to 256 pairs):

# %%
buckets = list(
    runs[0]["models"]["additive"]["test_bleu_by_source_length"]
)
pairs = [
    runs[0]["models"]["additive"]["test_bleu_by_source_length"][b][
        "pairs"
    ]
    for b in buckets
]
by_length = {  # (seeds, buckets) of test BLEU
    name: torch.stack(
        [
            per_seed(name, "test_bleu_by_source_length", b, "bleu")
            for b in buckets
        ],
        dim=1,
    )
    for name in MODELS
}
gain = {  # attention's BLEU over the BLEU without it
    name: by_length[name] / by_length["no attention"]
    for name in ("additive", "dot")
}


def bucket_label(bucket):
    """'6-6' -> '6', '9-10' -> '9-10', '11-99' -> '11+'."""
    lo, hi = bucket.split("-")
    return lo if lo == hi else f"{lo}+" if hi == "99" else bucket


labels = [bucket_label(b) for b in buckets]
fig, (ax, ax_gain) = plt.subplots(1, 2, figsize=(7, 3.2))
x = torch.arange(len(buckets))
for name in MODELS:
    band(ax, x, by_length[name], name, marker="o", ms=3)
for name in gain:
    band(ax_gain, x, gain[name], name, marker="o", ms=3)
for a in (ax, ax_gain):
    a.set_xticks(x, labels, fontsize=8)
    a.set_xlabel("source length (English words)")
ax.set(ylabel="test BLEU (greedy)", title="Five seeds, mean and range")
ax_gain.axhline(1.0, color="gray", ls=":", lw=1)
ax_gain.set(
    ylabel="BLEU with attention / without",
    title="What attention adds",
)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
print("pairs per group:", dict(zip(labels, pairs, strict=True)))

# %%
short, long = labels.index("1-5"), labels.index("11+")
for name in MODELS:  # every model falls with length, on every seed
    v = by_length[name]
    assert (v[:, short] > 2.5 * v[:, long]).all()
for name in ("additive", "dot"):  # attention adds more on long sources
    mean = gain[name].mean(0)
    assert mean[long] > mean[short] and mean[-2] > mean[short] + 0.1
assert (gain["dot"][:, long] > 1.15).all()
assert abs(gain["dot"][:, short].mean() - 1) < 0.1
print("gain on 1-5 words, on 11+ (mean over seeds):")
for name in ("additive", "dot"):
    g = gain[name].mean(0)
    print(f"  {name:8s} {g[short]:.2f}  {g[long]:.2f}")

# %% [markdown]
# Every model loses most of its BLEU as the source grows: from 27–32 on sentences of at
# most five words to 7–9 on those of eleven or more, on every seed. Long sentences are
# harder for every model (more to get right, rarer words), so the fall itself says little
# about the bottleneck. What does is the ratio on the right. The dot score adds *nothing*
# on the shortest sentences (1.03 times the BLEU of the model without attention, on
# average; below 1 on two seeds) and 1.24 times on the longest, more than 1.15 on every
# seed; the additive score adds 1.20 times on the shortest, 1.45 on sentences of nine or
# ten words and 1.31 on the longest. For a sentence of five words, one vector of 128
# numbers holds what the decoder needs; beyond that, reading the source again at every
# step starts to pay.
#
# The effect is mild here because the sentences are short: the longest group runs from 11
# to 21 words. Bahdanau et al. measured it on English–French sentences of up to 60 words:
# the BLEU of their model without attention fell steadily beyond about 20 words, while the
# attention model's stayed nearly flat to 50 {cite}`ch9-bahdanau2015neural`.

# %% [markdown]
# ## 9.6 What the decoder looks at
#
# The weights $\alpha_{tj}$ of the additive model (seed 0), for four test sentences it never
# saw: one row per character it wrote (greedy), one column per English word. A row is a
# distribution over the source; a dark cell is where the decoder read while writing that
# character.

# %%
HEAT_MAP_PAIRS = [341, 713, 186, 1085]  # test pairs, by index


def translate_with_weights(model, sentence):
    """The greedy translation of one English sentence: (words,
    characters, weights (characters, words))."""
    words = tokenize_english(sentence)
    src = english.encode(words)[None]
    model.eval()  # experiment.translate leaves its model in training mode
    with torch.no_grad():
        tokens, lengths, alpha = model.greedy_decode(
            src,
            torch.tensor([len(words)]),
            config["max_length"],
            return_attention=True,
        )
    n = int(lengths[0])
    return words, chinese.decode(tokens[0, :n]), alpha[0, :n]


fig, axes = plt.subplots(2, 2, figsize=(7, 6.4))
aligned = {}
for ax, i in zip(axes.flat, HEAT_MAP_PAIRS, strict=True):
    words, characters, alpha = translate_with_weights(
        models["additive"], split["test"][i].english
    )
    aligned[i] = (words, characters, alpha)
    ax.imshow(alpha, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(words)), words, rotation=60, fontsize=8)
    ax.set_yticks(range(len(characters)), characters, fontsize=9)
    ax.tick_params(length=0)
fig.suptitle("Additive attention, seed 0: α_tj", fontsize=10)
fig.tight_layout()
plt.show()
for i in HEAT_MAP_PAIRS:
    words, characters, _ = aligned[i]
    print(f"{split['test'][i].english}")
    print(
        f"   model: {''.join(characters)}   "
        f"reference: {split['test'][i].chinese}"
    )


# %%
def strongest(i):
    """For each character written, the word with the largest weight."""
    words, characters, alpha = aligned[i]
    return [words[j] for j in alpha.argmax(1).tolist()]


print(strongest(341))
print(strongest(713))
# the alignments the text reads off the maps
assert strongest(341) == [
    "i",
    "don't",
    "any",
    "enemies",
    "enemies",
    ".",
]
assert strongest(713)[-3:-1] == ["speaking", "speaking"]
assert strongest(186)[1:5] == ["eaten", "lunch", "lunch", "?"]

# %% [markdown]
# No one told the model which word translates which. The alignment comes from the
# translation loss alone, and it is mostly right:
#
# - **"I don't have any enemies."** (top left, translated exactly): 我 reads "i", 没
#   "don't" and "any", 敌人 "enemies", 。 the full stop: a near-diagonal, because the two
#   languages order this sentence the same way.
# - **"He's used to speaking in public."** (top right): 说话 (speaking) is written *last* in
#   Chinese and reads "speaking", which is the fourth English word: the map is not diagonal,
#   this is the reordering that one fixed context makes hard. The place phrase
#   在...里 in between reads "speaking", "in" and "public" at once, and comes out wrong
#   (公寓, apartment, for 公众场合, public): a diffuse row is often a row the model is unsure
#   of.
# - **"Have you eaten lunch?"** (bottom left): 吃 reads "eaten", 午饭 "lunch", and the
#   question particle 吗, which English does not have, reads the question mark: the model
#   has learnt that "?" is what makes 吗.
# - **"They always wake up early, even on Sundays."** (bottom right): right for six
#   characters (他们总是早起, they always get up early), then the weights spread out, no
#   word stands out, and the decoder invents 不会下雨 ("won't rain"); "even on Sundays" is
#   never read sharply. Attention that has lost its place is one way a translation goes
#   wrong (§9.8).

# %% [markdown]
# ## 9.7 Beam search
#
# A model gives $p(y \mid x)$; translating means finding the $y$ it likes best. There are
# $V^n$ targets of length $n$, so nobody tries them all. **Greedy decoding** (chapter 1)
# takes the most probable token at every step, and can commit to a first token whose
# continuations are all poor. {term}`Beam search <束搜索>` (束搜索, 集束搜索) keeps the $K$
# best prefixes instead of one: at every step each of them is extended by every token, and
# the $K$ best of the extensions are kept. A prefix is ranked by its log-probability, the
# sum of its tokens' log-probabilities (a product of probabilities underflows; a sum of
# logs does not),
#
# $$ \log P(Y) = \sum_{t=1}^{|Y|} \log p(y_t \mid y_{<t}, x), \tag{9.14} $$
#
# and a hypothesis that has produced `<eos>` is finished: it keeps its score and is not
# extended. Note 001 works $K = 3$: take the 3 most probable first words, extend each by
# its 3 most probable next words, keep 3 of the 9, and so on. A model small enough to
# follow by hand: the tokens are A, B and `<eos>`, and the probability of the next token
# depends on the prefix as in this table (at most three tokens):

# %%
EOS = 2
NAMES = ["A", "B", "<eos>"]
NEXT = {  # p(next | prefix): A, B, <eos>
    (): (0.5, 0.4, 0.1),
    (0,): (0.4, 0.35, 0.25),
    (1,): (0.05, 0.05, 0.9),
    (0, 0): (0.3, 0.3, 0.4),
    (0, 1): (0.2, 0.2, 0.6),
    (1, 0): (0.3, 0.3, 0.4),
    (1, 1): (0.3, 0.3, 0.4),
}


def toy_step(tokens, prefixes):
    """The beam-search interface: the previous tokens (N,) and the
    state, here the prefixes (N, t) -> log-probabilities (N, 3)."""
    prefixes = torch.cat(
        [prefixes, tokens[:, None]], dim=1
    )  # <bos> first
    rows = [
        NEXT.get(tuple(p[1:].tolist()), (1 / 3,) * 3) for p in prefixes
    ]
    return torch.tensor(rows).log(), prefixes


def spelled(tokens, length):
    return " ".join(NAMES[i] for i in tokens[:length].tolist())


start = torch.zeros(1, 0, dtype=torch.long)  # one source, empty prefix
BOS = 3
greedy_toy = greedy_search(toy_step, start, BOS, EOS, max_length=3)
beam_toy = beam_search(
    toy_step,
    start,
    BOS,
    EOS,
    beam_size=3,
    max_length=3,
    return_all=True,
)
print(
    f"greedy:    {spelled(greedy_toy.tokens[0], greedy_toy.lengths[0])}"
    f"   P = {greedy_toy.scores[0].exp():.3f}"
)
for k in range(3):
    tokens, length = (
        beam_toy.all_tokens[0, k],
        beam_toy.all_lengths[0, k],
    )
    p = beam_toy.all_scores[0, k].exp()
    print(
        f"beam 3, #{k + 1}: {spelled(tokens, length):15s} P = {p:.3f}"
    )


def every_target(prefix=()):
    """(target, P) of every target of at most 3 tokens, by brute force."""
    for token, p in enumerate(NEXT.get(prefix, ())):
        target = prefix + (token,)
        if token == EOS or len(target) == 3:
            yield target, p
        else:
            for rest, q in every_target(target):
                yield rest, p * q


best, p_best = max(every_target(), key=lambda item: item[1])
print(
    f"best of all {sum(1 for _ in every_target())} targets: "
    f"{' '.join(NAMES[i] for i in best)}, P = {p_best:.3f}"
)
assert math.isclose(beam_toy.scores[0].exp(), p_best, rel_tol=1e-6)

# %% [markdown]
# Greedy takes A (0.5 against B's 0.4), then A again, and ends with P = 0.5 × 0.4 × 0.4 =
# 0.08. Beam search with $K = 3$ keeps A, B and `<eos>` after step 1. At step 2 it extends
# A and B by each of the three tokens; the finished `<eos>` stays as one candidate: 7
# candidates (with no finished hypothesis there would be the note's 9), and it keeps the
# three best, B `<eos>` (0.4 × 0.9 = 0.36), A A (0.2) and A B (0.175). Step 3 extends the
# last two and finds nothing better than 0.36. The first word of the best translation was
# the second most probable first word; greedy could not come back for it.
#
# **Still an approximation.** Note 001 calls beam search "贪心策略" (a greedy strategy). It
# is one in this sense: a prefix that falls out of the beam is never reconsidered, so beam
# search finds the most probable target only when the beam is wide enough to keep that
# target's prefixes at every step. With $K = 1$ it *is* greedy decoding; with $K = V^n$ it
# is exhaustive search. `tests/test_beam_search.py` checks both ends on a small vocabulary
# (and that the scores are the model's own log-probabilities, recomputed by a loop).
#
# **Length.** Every token multiplies $P(Y)$ by a number below 1, so Eq. (9.14) favours
# short targets. GNMT {cite}`ch9-wu2016google` ranks hypotheses by a length-normalised
# score instead, with a {term}`length penalty <长度惩罚>` (长度惩罚),
#
# $$ s(Y) = \frac{\log P(Y)}{\mathrm{lp}(Y)}, \qquad
#    \mathrm{lp}(Y) = \left(\frac{5 + |Y|}{6}\right)^{\alpha}, \tag{9.15} $$
#
# with $\alpha = 0$ giving Eq. (9.14) back; $\alpha = 1$ divides by the smoothed length
# $(5 + |Y|)/6$, which ranks long targets roughly like the log-probability per token. Wu et
# al. first divided by $|Y|^\alpha$, for which $\alpha \in [0.6, 0.7]$ was usually best;
# with (9.15) and their coverage penalty they used $\alpha = 0.2$, and the Transformer
# later used $\alpha = 0.6$. `coursekit.beam_search` ranks every hypothesis in the beam,
# finished or not, by $s(Y)$.

# %% [markdown]
# **On the real models.** The log has the test BLEU of beam search with $K = 5$ at three
# values of $\alpha$ for every seed and model, and the ratio of the translations' length
# (characters) to the references':

# %%
beams = list(runs[0]["models"]["additive"]["test_beam"])
print(
    f"{'':13s} {'greedy':>13s}",
    " ".join(f"{b[7:]:>13s}" for b in beams),
)
for name in MODELS:
    cells = [per_seed(name, "test_bleu")] + [
        per_seed(name, "test_beam", b, "bleu") for b in beams
    ]
    ratios = [per_seed(name, "test_length_ratio")] + [
        per_seed(name, "test_beam", b, "length_ratio") for b in beams
    ]
    print(f"{name:13s}", " ".join(f"{c.mean():13.2f}" for c in cells))
    print(
        f"{'  length':13s}",
        " ".join(f"{r.mean():13.3f}" for r in ratios),
    )
greedy_bleu = {name: per_seed(name, "test_bleu") for name in MODELS}
for name in MODELS:
    plain = per_seed(name, "test_beam", "beam 5, alpha 0.0", "bleu")
    penalised = per_seed(name, "test_beam", "beam 5, alpha 1.0", "bleu")
    short_ratio = per_seed(
        name, "test_beam", "beam 5, alpha 0.0", "length_ratio"
    )
    # beam 5 with alpha = 1 beats greedy on every seed, and alpha = 0
    assert (penalised > greedy_bleu[name] + 0.3).all()
    assert (penalised > plain).all()
    # alpha = 0 makes the translations shorter than greedy's, every seed
    assert (short_ratio < per_seed(name, "test_length_ratio")).all()

# %% [markdown]
# And the shipped weights of the additive model (seed 0), decoded here with beam 5 and
# $\alpha = 1$ (in float64):

# %%
beamed = experiment.translate(
    models["additive"], encoded["test"], chinese, config, beam=(5, 1.0)
)
here = bleu_zh(beamed, references)
logged = runs[0]["models"]["additive"]["test_beam"]["beam 5, alpha 1.0"]
print(
    f"additive, beam 5, alpha 1: BLEU {here:.2f}, "
    f"length ratio {experiment.length_ratio(beamed, references):.3f}"
)
print(f"(log, seed 0: BLEU {logged['bleu']:.2f})")
assert abs(here - logged["bleu"]) < 0.5

# %% [markdown]
# Beam search helps, a little: with $\alpha = 1$, by 1.3–1.4 BLEU on average for each
# model (0.9 to 1.9 on single seeds), on every seed. Without the length penalty it helps
# less, and not always (one seed of the additive model loses 0.2), and its translations are
# *shorter*: 0.79–0.82 of the references' length on average, against greedy's 0.90–0.94.
# That is Eq. (9.14) at work: every extra character multiplies $P(Y)$ by a number below
# one, so a better search finds shorter targets, and BLEU's brevity penalty charges for
# them. The length penalty gives back part of the length (0.85–0.87) and more BLEU.
# Koehn and Knowles {cite}`ch9-koehn2017six` found the extreme of this with large beams:
# beyond 4 to 30 hypotheses, depending on the language pair, wider beams *lowered* the
# BLEU of their models, the translations getting shorter; and Stahlberg and Byrne
# {cite}`ch9-stahlberg2019nmt`,
# searching exhaustively, found that for more than half of their sentences the single
# most probable translation is the empty one. The model's probability is not the same
# thing as a good translation; beam search with a length penalty is a compromise between
# searching well and not trusting what is searched for.

# %% [markdown]
# ## 9.8 Translations, good and bad
#
# Sentences written for this chapter (none of them is in the data), translated by the
# additive model of seed 0 with greedy decoding and with beam 5 ($\alpha = 1$):

# %%
NEW_SENTENCES = [
    "Where is the train station?",
    "Please close the window.",
    "My brother is taller than me.",
    "She did not want to go to school today.",
    "My cat likes to sleep on the sofa.",
    "I lost my umbrella on the bus.",
    "The old man gave the dog a small piece of bread.",
    "I have never seen such a beautiful sunset.",
]
for sentence in NEW_SENTENCES:
    assert all(p.english != sentence for p in raw)
new = [
    (
        english.encode(tokenize_english(s)),
        torch.zeros(1, dtype=torch.long),
    )
    for s in NEW_SENTENCES
]
new_greedy = experiment.translate(
    models["additive"], new, chinese, config
)
new_beam = experiment.translate(
    models["additive"], new, chinese, config, beam=(5, 1.0)
)
unknown = [
    [w for w in tokenize_english(s) if w not in english]
    for s in NEW_SENTENCES
]
assert not any(unknown)  # every word is in the vocabulary
rows = zip(NEW_SENTENCES, new_greedy, new_beam, strict=True)
for sentence, by_greedy, by_beam in rows:
    print(sentence)
    print(f"   greedy: {by_greedy}")
    print(f"   beam 5: {by_beam}")

# %% [markdown]
# How often the training data has some of these words:

# %%
from collections import Counter

seen = Counter(
    w for p in split["train"] for w in tokenize_english(p.english)
)
for word in ("sunset", "sofa", "umbrella", "bread", "dog", "window"):
    print(f"  {word:9s} {seen[word]:4d} times in the training English")
assert seen["sunset"] <= 2 and seen["sofa"] <= 5 and seen["dog"] >= 100

# %% [markdown]
# **The good.** "Where is the train station?" comes out right, *reordered*: the question
# word goes to the end in Chinese (火车站在哪里, "train station is at where"). "Please
# close the window." is right too, with the 把 construction (请把窗户关了), which puts the
# object before the verb, something English never does; nothing told the model about it.
# Both are in the style of the training data: short, everyday, frequent words.
#
# **Greedy against beam.** "My brother is taller than me.": greedy writes 我哥哥比我 (my
# brother than me, right so far), then 比我 *again*, and never writes 高 (tall). After
# 我哥哥比我 the model gave more probability to 比 than to 高, and greedy cannot come back;
# beam search kept 高 in the beam and finds 我哥哥比我高, right. "She did not want to go
# to school today.": greedy drops both the subject and "want" (今天没有去上学, "today didn't
# go to school"); beam search has "not want" (不想) but makes *she* 我, I. The training data
# says 我 9 468 times and 她 1 674 times.
#
# **Rare words.** "I have never seen such a beautiful sunset." becomes, with beam search,
# 我从没有见到这个漂亮的衬衫: "I have never seen this beautiful *shirt*". The word "sunset"
# is in two training sentences; the decoder writes a fluent sentence with a frequent word in
# its place, the most dangerous kind of error, because a reader who does not know English
# cannot see it. "My cat likes to sleep on the sofa." shows the character-level version:
# greedy writes 沙 and then not 发 (沙发, sofa, is in 9 training sentences), so the cat
# sleeps 在沙上, "on the sand"; beam search drops the place altogether.
#
# **Losing the place.** "I lost my umbrella on the bus." greedy: 我把我的车站在我的车站, "I
# my station at my station", a loop; beam search: 我丢了我的公车, "I lost my bus", fluent and
# wrong. "The old man gave the dog a small piece of bread." ends after 这个老人给了一个小心
# ("the old man gave a careful"): the dog and the bread are never translated. The decoder
# has no record of which source words it has covered; the attention of §9.6 lets it look
# anywhere, not check that it has looked everywhere. Coverage models target both failures;
# GNMT's coverage penalty (§9.9) targets the second, favouring translations whose
# attention has reached every source word.

# %% [markdown]
# ## 9.9 Google's neural machine translation system
#
# Note 000 calls GNMT {cite}`ch9-wu2016google` "之前所学知识的集大成者" (the sum of what came
# before): residual connections, bidirectional RNNs, attention and layer-by-layer
# distributed training. What each piece is for, in the system that Google put into
# production for Chinese-to-English in September 2016:
#
# - **Depth, made trainable by residual connections.** 8 LSTM layers in the encoder and 8
#   in the decoder. In Wu et al.'s experience plain stacked LSTMs "work well up to 4
#   layers, barely with 6 layers, and very poorly beyond 8": deeper plain stacks are hard
#   to train (likely the exploding and vanishing gradients of chapters 3–5, now across
#   layers instead of time). Adding each layer's input to its output, from the third
#   layer up,
#   $x^{i+1} = \mathrm{LSTM}_i(x^i) + x^i$, let 8 layers train. It is the
#   {term}`residual network <残差网络>` idea of chapter 4.
# - **One bidirectional layer, at the bottom.** Only the first encoder layer reads the
#   source in both directions (Eq. (9.2)); the 7 above it are forward only. The layer above
#   a bidirectional layer cannot start until both directions have read the whole sentence.
#   With only the bottom layer bidirectional, the forward layers above it run as a
#   pipeline, layer $i + 1$ starting on a position as soon as layer $i$ has produced it;
#   with every layer bidirectional, only two GPUs (one per direction) could work at once.
# - **Attention from the bottom of the decoder.** The decoder's bottom layer queries the
#   encoder's top layer, with a one-hidden-layer score like Eq. (9.7), and the context is
#   fed to every decoder layer. Querying from the bottom layer, not the top, is again for
#   parallelism: the other decoder layers need not finish the step before attention can
#   start.
# - **Model parallelism.** Each replica is split by depth over the 8 GPUs of one machine
#   (the 16 LSTM layers and the partitioned softmax share them), the layer-by-layer
#   training of the note: while one layer works on step $t$, the layer above works on step
#   $t - 1$. About ten replicas train asynchronously on different batches (data
#   parallelism).
# - **{term}`Wordpieces <词片>` (词片).** Words are split into sub-word units learnt from the data (8k–32k of
#   them), so that rare words, names and numbers are spelt out of pieces instead of
#   becoming `<unk>` — the problem of §9.8, solved at the input and the output. This
#   chapter's Chinese side is character-level for the same reason.
# - **Beam search with a length penalty and coverage.** Eq. (9.15), plus a coverage
#   penalty that favours translations whose attention has reached every source word. They
#   kept 8–12 hypotheses, found that 4 or even 2 cost little BLEU, and also pruned every
#   candidate scoring more than 3.0 below the best.
# - **Quantised inference and refinement.** 8-bit integer matrix products (16-bit for the
#   rest) at inference on TPUs, made lossless by clipping the LSTM accumulators and the
#   logits during training; and, after maximum-likelihood training, a refinement with
#   reinforcement learning on a sentence-level variant of BLEU (GLEU), mixed with the
#   likelihood objective, which raised BLEU but not the human ratings.
#
# With all of it, in side-by-side ratings by people on isolated simple sentences, GNMT
# reduced translation errors by about 60 % on average against Google's phrase-based
# production system, for English↔French, English↔Spanish and English↔Chinese. The
# Transformer {cite}`ch9-vaswani2017attention` (2017) kept the encoder–decoder,
# attention, residual connections, sub-word units and GNMT's length-penalised beam (size
# 4, $\alpha = 0.6$), and dropped the recurrence: Eq. (9.13) runs over all positions at
# once, so in training no layer waits for the previous step (decoding is still one token
# at a time).

# %% [markdown]
# ## 9.10 The notes, checked
#
# **Who introduced attention.** Note 001: attention "由 Bengio 于 2014 年引入到深度学习中"
# (was introduced into deep learning by Bengio in 2014). The paper it means, *Neural Machine
# Translation by Jointly Learning to Align and Translate*, is by Dzmitry Bahdanau, Kyunghyun
# Cho and Yoshua Bengio (arXiv 2014, ICLR 2015) {cite}`ch9-bahdanau2015neural`; the
# additive score is "Bahdanau attention". The note's "被认为是注意力的第一篇文章" (regarded as
# the first paper on attention) holds for soft, content-based attention over an
# encoder's states; Graves (2013) had a soft window over the input for handwriting
# synthesis, and Mnih et al. (2014) hard attention over image regions, earlier. The note
# is right that the authors called it *alignment* (对齐).
#
# **What the score compares.** Note 001 writes the score first as
# $e_{ij} = a(s_{i-1}, x_j)$, of the decoder state and the source *word*, and then as
# $v_a^\top \tanh(W_a s_{i-1} + U_a h_j)$ (our $w$, $W$, $U$ of Eq. (9.7)), of the encoder
# *state*. The second is the
# paper's: the score, and the average (9.12), use the annotations $h_j$ of the
# bidirectional encoder, which know the word's context in both directions, not the
# embeddings of the words themselves. (Note 000 writes it with $h_j$ throughout.)
#
# **"无法使用 RNN 建模".** Note 000 lists among the encoder–decoder's weaknesses that input and
# output sequences may stand in a partial order (偏序关系), as in translation, and "cannot be
# modelled with an RNN". That is not so. An encoder–decoder with a fixed context already
# translates with reordering, because the decoder reads a summary of the whole source
# before it writes anything: this chapter's model without attention translates into
# Chinese, word order and all (§9.4), and Sutskever et al.
# {cite}`ch9-sutskever2014sequence` reached BLEU 34.8 on WMT'14 English–French with no
# attention (an ensemble of five 4-layer LSTMs reading the source reversed, beam 12; one
# such model scored 30.6). What is true is that an
# RNN that emits one output per input (many-to-many, aligned; chapter 2) cannot reorder,
# and that reordering long sentences through one vector is hard; attention makes it easy,
# by letting every output step read any source position (§9.6).
#
# **Beam search as "贪心策略".** Note 001 calls beam search a greedy strategy and counts
# "从 9 个中取 3 个" (3 of 9) per step for $B = 3$ (the note's $B$ is our beam size $K$).
# Both are right with the qualifications of
# §9.7: the pruning is greedy, the search is not greedy decoding (it reconsiders the
# second and third choices), and the 9 are $B \times V$ candidates cut to $B \times B$ by
# taking each hypothesis's $B$ best tokens first (which loses nothing: at most $B$ of one
# hypothesis's extensions can be among the $B$ best), fewer once hypotheses have finished.
# Note 000's "取概率最大的 B 个词元,因此会产生 B×B 个新序列" is the same count. What the
# notes do not say is the catch of §9.7: the most probable target is not always the best
# translation, and a wider beam, finding more probable targets, can lower BLEU.
#
# **The bottleneck and vanishing gradients.** Note 000's first weakness, that compressing
# a long sequence into one vector loses information and makes gradients vanish on the way
# back, is what §9.5 measures. Sutskever et al. found that feeding the source *reversed*
# helped (BLEU 25.9 to 30.6); without a complete explanation, they suggested that it
# shortens the "minimal time lag" between the first source and the first target words, so
# that backpropagation "establishes communication" more easily. Attention gives every
# source position a path of length one to every output step.

# %% [markdown]
# ## 9.11 What goes wrong
#
# - **Padding that is not masked.** Zeros are not "nothing": a padded position gets a
#   score and a weight (§9.3), and a backward encoder run over the padding starts from it.
#   Mask the softmax, and run the encoder on the true lengths.
# - **The softmax over the wrong axis.** $\alpha_t$ is a distribution over *source
#   positions* $j$: for scores (B, T, S) the softmax is over the last axis. Over the batch
#   or over the decoder steps it still sums to one along something, and trains, badly.
# - **The query of the wrong step.** Bahdanau's score uses $s_{t-1}$, the state *before*
#   the step. In Eq. (9.5) $s_t$ is computed from $c_t$, so $c_t$ cannot be computed from
#   $s_t$; Luong et al. avoid the circle by computing $s_t$ without $c_t$ and attending
#   after.
# - **Beam scores in probability.** Multiplying probabilities underflows once the product
#   drops below the smallest float (about $10^{-38}$ in float32: some 40 tokens of
#   probability 0.1 each) and ties everything at 0; add log-probabilities, Eq. (9.14). And
#   adding *probabilities* is not a score at all.
# - **Finished hypotheses extended.** A hypothesis that has produced `<eos>` must keep its
#   score and stay as it is; extending it adds tokens after the end, and the beam fills
#   with copies.
# - **No length normalisation, or a wide beam with none.** §9.7: beam search then prefers
#   short translations, and the brevity penalty of BLEU punishes them.
# - **A test set that overlaps training.** Tatoeba has several translations of many
#   English sentences; splitting by pair would put some in train and others in test. The
#   split here is by the English sentence (§9.1).
# - **A hand-written BLEU.** Common configurations of BLEU differ by up to 1.8 points,
#   mostly through how the reference is tokenised {cite}`ch9-post2018call`, and by far
#   more for Chinese, where the tokeniser decides what a token is. Use sacrebleu, and say
#   which tokeniser.

# %% [markdown]
# ## 9.12 Quiz
#
# **Question 1** (note 001). Which statement about beam search with beam size $K$ is
# *wrong*?
#
# - A. With $K = 1$ it is greedy decoding.
# - B. It always finds the target of highest probability.
# - C. At each step it keeps $K$ hypotheses out of at most $K \times V$ candidates.
# - D. It ranks hypotheses by the sum of their tokens' log-probabilities (or a
#   length-normalised version of it).
#
# :::{dropdown} Answer
# **B.** A prefix that falls out of the beam is never reconsidered, so the best target is
# found only if its prefixes stay in the beam at every step (§9.7). A, C and D are right.
# :::
#
# **Question 2.** A batch holds two sources, of 3 and 5 words, padded to 5. Without a mask,
# which of the first source's attention weights are wrong, and why does it matter even if
# the padded keys are zero vectors?
#
# :::{dropdown} Answer
# Its weights on positions 4 and 5. A zero key still gets a score ($w^\top \tanh(W s)$ for
# the additive score, $0$ for the dot score), so it takes a share of the softmax, and the
# weights on the three real words no longer sum to one. The context is then a shrunken
# average, and it depends on how much padding the batch happened to have.
# :::
#
# **Question 3.** Why does the additive score project the keys, $U h_j$, separately from
# the query, $W s_{t-1}$, instead of applying one matrix to $[s_{t-1}; h_j]$?
#
# :::{dropdown} Answer
# It is the same function ($W_{\text{both}} [s; h] = W s + U h$), but written apart, $U h_j$
# does not depend on the step $t$: it is computed once per source and reused at every
# decoder step (`project_keys` in `coursekit.attention`, and in Bahdanau et al.'s
# appendix). Only $W s_{t-1}$ is new at each step.
# :::
#
# **Question 4.** With $\alpha = 0$, beam 5 finds translations of higher probability than
# greedy decoding, yet its BLEU gain is small (none on one seed), and with wider beams
# BLEU can even fall (§9.7). How can a better search give worse translations?
#
# :::{dropdown} Answer
# A more probable target is not a better translation. Every token multiplies $P(Y)$ by a
# factor below one, so short targets are more probable, and a better search finds them:
# beam 5's translations are about 0.81 of the references' length against greedy's 0.92.
# BLEU's brevity penalty charges for the missing length. The length penalty of
# Eq. (9.15) counters the bias ($\alpha = 1$ adds 1.3–1.4 BLEU on average here).
# :::
#
# **Question 5.** GNMT makes only the bottom encoder layer bidirectional, and queries the
# attention from the bottom decoder layer. What do the two choices have in common?
#
# :::{dropdown} Answer
# Both are for parallelism across GPUs: a forward-only layer can start on a step as soon as
# the layer below has produced it, and attention queried from the bottom decoder layer
# does not wait for the layers above it to finish the step (§9.9).
# :::

# %% [markdown]
# ## 9.13 What to try
#
# - **General attention.** Train `--models general` (Eq. (9.9)) with the experiment's
#   `--out` pointing at a file of your own, and place it in the table of §9.4.
# - **Longer training.** Double every model's `"steps"`. Do the models without attention
#   catch up on short sentences? On long ones?
# - **Luong's query.** Move the attention after the GRU step (query with $s_t$) and compare.
# - **A coverage penalty.** Add GNMT's coverage penalty to `beam_search`'s ranking and see
#   whether the translations that skip a source word (§9.8) become rarer.
# - **Reverse the source.** Sutskever et al.'s trick, for the model without attention: how
#   much of the gap of §9.5 does it close?
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :keyprefix: ch9-
# ```
#
# ## Exercise
#
# In the exercise you write additive and dot attention with masking, one decoder step
# with attention, and beam search; its tests compare them with `coursekit`.
# {download}`Download the exercise notebook <../exercises/09_seq2seq_and_attention/09_seq2seq_and_attention.ipynb>`
