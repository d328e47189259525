# %% [markdown]
# # 1. Language models · 语言模型
#
# A {term}`language model <语言模型>` (LM, 语言模型) gives a probability to every piece of
# text. That sounds like bookkeeping, but a model that knows which continuations are
# likely can complete a sentence, rank the outputs of a speech recogniser or a translator,
# and, by drawing one token after another, write. Every model in this book is judged by
# how well it does this one job, so this chapter sets up the task, the yardstick and the
# first results table, which later chapters extend.
#
# By the end of the chapter you will be able to
#
# - write the probability of a text with the chain rule, Eq. (1.1), and cut its history
#   short with the Markov assumption, Eq. (1.2);
# - count n-grams, turn counts into probabilities, and fix the zeros with add-k smoothing
#   and interpolation, Eqs. (1.3)–(1.5);
# - score a model on held-out text in perplexity and bits per character, Eqs. (1.6)–(1.7),
#   and read those numbers;
# - build the fixed-window neural language model of Bengio et al., Eqs. (1.9)–(1.11), and
#   explain why a dense embedding beats a one-hot vector, Eq. (1.8);
# - sample text with temperature and top-k, Eqs. (1.12)–(1.13), and generate Tang
#   quatrains that keep their form;
# - classify the sentiment of movie reviews with the same embeddings: CBOW, deep CBOW and a
#   bag of n-grams, Eqs. (1.14)–(1.16).
#
# The code comes from four short modules of `coursekit`, written to be read beside this
# chapter: `coursekit.ngram`, `coursekit.mlp_lm`, `coursekit.embeddings` and
# `coursekit.sampling` (the texts and the reviews come from `coursekit.data`). Their
# docstrings use the equation numbers below. The whole notebook runs on a laptop CPU in
# about three minutes.

# %%
import math
import time
from collections import Counter

import matplotlib.pyplot as plt
import torch

import coursekit
from coursekit import (
    CBOW,
    WUJUE_TEMPLATE,
    BagOfNGrams,
    DeepCBOW,
    MLPLanguageModel,
    NGramModel,
    WordVocab,
    count_ngrams,
    embed_via_one_hot,
    evaluate_mlp_language_model,
    fill_template,
    ngram_bucket_ids,
    ngram_counts,
    one_hot,
    perplexity_from_logits,
    rt_polarity_split,
    seed_everything,
    temperature_probs,
    top_k_filter,
    train_classifier,
    train_mlp_language_model,
    tune_k,
    tune_lambdas,
)
from coursekit.data import (
    Vocab,
    load_tiny_shakespeare,
    split_text,
    tang_poems_text,
)
from coursekit.embeddings import accuracy
from coursekit.plots import setup_chapter

# one CPU thread, a font for Chinese labels, the device (the CPU here)
device = setup_chapter()
print(device)


def print_table(header, rows):
    """Print a plain-text table: a header row, then rows of cells.

    The cells are strings (numbers already formatted).
    """
    widths = [
        max(len(str(r[i])) for r in [header, *rows])
        for i in range(len(header))
    ]
    for r in [header, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(
                str(c).ljust(w) for c, w in zip(r, widths, strict=True)
            ).rstrip()
        )


# %% [markdown]
# ## 1.1 What a language model is
#
# Take any text as a sequence of {term}`tokens <词元>` (词元) $w_1, \dots, w_L$: characters,
# words, or pieces of words. The chain rule of probability writes its probability as a
# product of next-token predictions, with no assumption at all:
#
# $$
# p(w_1, \dots, w_L) = \prod_{i=1}^{L} p(w_i \mid w_1, \dots, w_{i-1}). \tag{1.1}
# $$
#
# A language model is a way to compute each factor: given the history, a probability
# distribution over the {term}`vocabulary <词表>` (词表) for the next token. This is the
# cloze test that people do without effort. In "Romeo, Romeo, wherefore art thou ___" one
# word is far more likely than the rest, and the model's job is to know that. Note 001 says
# it well: in sequence data the *context* usually matters more than any single point.
#
# Our first corpus is Tiny Shakespeare, a million characters of the plays, modelled
# character by character. We cut it into a training part (90%), a validation part for
# choosing settings (5%) and a test part that is used only for the final numbers (5%). The
# parts are contiguous, not shuffled: a model must be judged on text it has not seen
# nearby.

# %%
text = load_tiny_shakespeare()
train_text, valid_text, test_text = split_text(text)
print(
    f"{len(train_text):,} / {len(valid_text):,} / {len(test_text):,} "
    "characters"
)
print(
    f"{len(set(train_text))} different characters in the training text"
)
print(repr(train_text[:120]))

# %% [markdown]
# ## 1.2 The Markov assumption and n-grams
#
# The history in Eq. (1.1) grows with $i$, and no table or network can take every possible
# history as input: with $V$ tokens there are $V^{i-1}$ histories of length $i-1$. The
# oldest fix is to forget all but the last $n-1$ tokens, the
# {term}`Markov assumption <马尔可夫假设>` (马尔可夫假设):
#
# $$
# p(w_i \mid w_1, \dots, w_{i-1}) \approx p(w_i \mid w_{i-n+1}, \dots, w_{i-1}). \tag{1.2}
# $$
#
# A model built on it is an {term}`n-gram model <N 元语法>` (N 元语法): a unigram model
# ($n = 1$) ignores the past, a bigram model ($n = 2$) looks at one token back, a trigram
# model at two. The "n" counts the tokens of the window *including* the one predicted.
# (Note 001 calls the model that predicts from the two previous words a "2-gram model";
# in the usual naming, which we follow, that is a trigram model.)
#
# The simplest estimate of each conditional is a ratio of counts in the training text,
# the maximum-likelihood estimate: with $u$ the context of $n-1$ tokens and $c(\cdot)$ a
# count,
#
# $$
# p_{\mathrm{ML}}(w \mid u) = \frac{c(u, w)}{c(u)}, \qquad c(u) = \sum_{w'} c(u, w'). \tag{1.3}
# $$
#
# Counting is all the training there is. `count_ngrams` counts the windows of a sequence;
# on a short line of words the counts can be checked by eye:

# %%
line = "to be or not to be that is the question".split()
bigrams = count_ngrams(line, 2)
print(bigrams.most_common(3))
c_to = sum(c for (u, _), c in bigrams.items() if u == "to")
print(
    f"p_ML(be | to) = {bigrams[('to', 'be')]} / {c_to} = "
    f"{bigrams[('to', 'be')] / c_to}"
)
print(
    f"p_ML(or | be) = {bigrams[('be', 'or')]} / "
    f"{sum(c for (u, _), c in bigrams.items() if u == 'be')}"
)

# %% [markdown]
# "to" is followed by "be" both times it is followed by anything, so $p(\text{be} \mid
# \text{to}) = 1$; "be" is followed once by "or" and once by "that". Over a small
# vocabulary of ids the counts fit in a tensor with one axis per position of the window,
# `ngram_counts(ids, n, V)` of shape $(V,)^n$, which is what you write in the exercise. Its
# rows, summed over the last axis, are the context counts $c(u)$:

# %%
ids = torch.tensor([0, 1, 2, 0, 1, 0])  # "abcaba" with a=0, b=1, c=2
table = ngram_counts(ids, 2, 3)
print(table)
print("c(u) =", table.sum(dim=-1))

# %% [markdown]
# ### The problem with counting: most n-grams are never seen
#
# The table has $V^n$ entries. Note 001 calls filling it for long histories an "NP-hard"
# problem; it is not a question of computational complexity, but the size does explode:
# with the 65 characters of Shakespeare a 5-gram table has $65^5 \approx 1.2 \times 10^9$
# entries, and our million characters can fill at most a million of them. The real trouble
# is statistical. Every n-gram the training text never shows gets probability zero, and
# the longer the window, the more of the *test* text consists of such n-grams:

# %%
orders = range(1, 9)
unseen = []
for n in orders:
    seen = set(count_ngrams(train_text, n))
    test_grams = count_ngrams(test_text, n)
    missing = sum(
        c for gram, c in test_grams.items() if gram not in seen
    )
    unseen.append(missing / sum(test_grams.values()))
    print(
        f"n = {n}: {len(seen):>9,} distinct n-grams in training; "
        f"{100 * unseen[-1]:5.2f}% of test n-grams unseen"
    )

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(list(orders), [100 * u for u in unseen], "o-")
ax.set_xlabel("n (window length, characters)")
ax.set_ylabel("test n-grams unseen in training (%)")
ax.set_title("Tiny Shakespeare: the sparsity of long windows")
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# Up to trigrams almost every window of the test text has been seen; at $n = 5$ more than
# one in ten has not, at $n = 7$ more than a third, at $n = 8$ half. A maximum-likelihood
# model gives the whole test text probability zero as soon as one of its n-grams is unseen. We need to
# move some probability to the unseen.
# %% [markdown]
# ## 1.3 Smoothing
#
# {term}`Smoothing <平滑>` (平滑) takes a little probability from the n-grams we have seen
# and spreads it over those we have not. The simplest scheme adds a pseudo-count $k > 0$
# to every count, so that each row of the table still sums to one:
#
# $$
# p_k(w \mid u) = \frac{c(u, w) + k}{c(u) + kV}. \tag{1.4}
# $$
#
# $k = 1$ is Laplace's add-one rule; $k = 0$ is Eq. (1.3). For a context never seen,
# $c(u) = 0$, Eq. (1.4) gives the uniform $1/V$. Add-k is crude: with a large vocabulary
# and a long window it gives the unseen far too much. So $k$ is chosen on the validation
# text, never on the test text.
#
# A better idea is to lean on shorter windows when the long one knows little.
# {term}`Interpolation <插值>` (插值) mixes the estimates of every order $m = 1, \dots, n$,
#
# \begin{equation*}
# \begin{aligned}
# p_{\mathrm{interp}}(w \mid u) &= \sum_{m=1}^{n} \lambda_m \, p_k(w \mid u_{-(m-1):}),
# \\
# \lambda_m &\ge 0, \quad \sum_m \lambda_m = 1,
# \end{aligned}
# \tag{1.5}
# \end{equation*}
#
# where $u_{-(m-1):}$ is the last $m-1$ tokens of the context. The weights are also tuned on
# held-out text: `tune_lambdas` tries every $\lambda$ on a grid of step 0.1 and keeps the
# one that gives the validation text the highest probability (Jelinek and Mercer's
# {cite}`ch1-jelinek1980interpolated` recipe; the best classic scheme, Kneser–Ney, is
# compared with the others in {cite}`ch1-chen1999empirical`).
#
# `NGramModel(n, k=...)` counts every order $1, \dots, n$ of the training text in one pass.
# A text is scored as one sequence, padded with $n-1$ start symbols `<s>` (so the first
# characters have a full context) and an end symbol `</s>`; a character never seen in
# training is read as `<unk>`, which smoothing gives a small probability, so nothing
# crashes.

# %% [markdown]
# ## 1.4 Perplexity and bits per character
#
# How good is a model? The honest test is the probability it gives to text it has not
# seen. Eq. (1.1) multiplies $N$ numbers below one, which underflows for any real text, so
# we average the log-probabilities instead. The
# {term}`perplexity <困惑度>` (困惑度) is
#
# $$
# \mathrm{PPL} = \exp\Big(-\frac{1}{N} \sum_{i=1}^{N} \ln p(w_i \mid \text{context}_i)\Big),
# \tag{1.6}
# $$
#
# the exponential of the mean cross-entropy, and the
# {term}`bits per character <每字符比特数>` (BPC, 每字符比特数) is the same average in base 2:
#
# $$
# \mathrm{BPC} = -\frac{1}{N} \sum_{i=1}^{N} \log_2 p(w_i \mid \text{context}_i) = \log_2 \mathrm{PPL}. \tag{1.7}
# $$
#
# Lower is better for both. A perplexity of 10 means the model is, on average, as unsure as
# if it chose uniformly among 10 tokens; a model that knows nothing and spreads its
# probability evenly over $V$ tokens has perplexity exactly $V$, and $\log_2 V$ bits per
# token. BPC is also a code length: a compressor driven by the model would spend that many
# bits per character, which is why we use it for character models (a plain text file spends
# 8 bits, one byte, per character; Shannon estimated that English, read by people who know it, carries roughly
# 0.6 to 1.3 bits per letter {cite}`ch1-shannon1951prediction`).
#
# For a neural model, whose output is a vector of logits, Eq. (1.6) is the exponential of
# torch's cross-entropy. `perplexity_from_logits` computes it; on uniform logits it gives
# $V$:

# %%
V = 65
# four predictions, every token equally likely
logits = torch.zeros(4, V)
targets = torch.tensor([3, 14, 15, 9])
print(
    f"uniform over {V}: PPL = "
    f"{perplexity_from_logits(logits, targets).item():.4f}, "
    "BPC = "
    f"{math.log2(perplexity_from_logits(logits, targets).item()):.4f} "
    f"= log2({V})"
)

# %% [markdown]
# ## 1.5 n-gram models of Shakespeare
#
# Now the real experiment. For each order $n$ we count the training text once, choose $k$
# on the validation text (`tune_k` tries 1, 0.1, 0.01 and 0.001 and keeps the one with the
# fewest validation bits), and report bits per character on the training text (its first
# 100 000 characters, to save time), the validation text and the test text:

# %%
ngram_models, ngram_rows = {}, []
for n in range(1, 8):
    model = NGramModel(n).fit(train_text)
    # sets model.k to the best k
    _, valid_bpc = tune_k(model, valid_text)
    ngram_models[n] = model
    ngram_rows.append(
        [
            n,
            model.k,
            model.bits_per_token(train_text[:100_000]),
            valid_bpc[model.k],
            model.bits_per_token(test_text),
        ]
    )
print_table(
    ["n", "best k", "train BPC", "valid BPC", "test BPC"],
    [
        [n, k, f"{tr:.3f}", f"{va:.3f}", f"{te:.3f}"]
        for n, k, tr, va, te in ngram_rows
    ],
)

# %% [markdown]
# Then interpolation, Eq. (1.5), for $n = 3, 5, 7$: every order smoothed with $k = 0.01$,
# the $\lambda$ tuned on the validation text.

# %%
interp_rows = []
for n in (3, 5, 7):
    model = NGramModel(n, k=0.01).fit(train_text)
    lambdas = tune_lambdas(model, valid_text)
    interp_rows.append(
        [
            n,
            lambdas,
            model.bits_per_token(train_text[:100_000]),
            model.bits_per_token(valid_text),
            model.bits_per_token(test_text),
        ]
    )
    if n == 5:
        interpolated_5gram = model
print_table(
    [
        "n",
        "lambdas (orders 1..n)",
        "train BPC",
        "valid BPC",
        "test BPC",
    ],
    [
        [
            n,
            " ".join(f"{x:.1f}" for x in lam),
            f"{tr:.3f}",
            f"{va:.3f}",
            f"{te:.3f}",
        ]
        for n, lam, tr, va, te in interp_rows
    ],
)

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
ns = [r[0] for r in ngram_rows]
ax.plot(
    ns,
    [r[2] for r in ngram_rows],
    "o--",
    color="#999999",
    label="add-k, training text",
)
ax.plot(
    ns,
    [r[4] for r in ngram_rows],
    "o-",
    color="#4c72b0",
    label="add-k, test text",
)
ax.plot(
    [r[0] for r in interp_rows],
    [r[4] for r in interp_rows],
    "s-",
    color="#dd8452",
    label="interpolated, test text",
)
ax.axhline(
    math.log2(len(ngram_models[1].vocab)), color="k", lw=0.8, ls=":"
)
ax.text(
    7,
    math.log2(len(ngram_models[1].vocab)) - 0.3,
    "uniform",
    ha="right",
)
ax.set_xlabel("n")
ax.set_ylabel("bits per character")
ax.set_ylim(0, 6.5)
ax.set_title("n-gram models of Tiny Shakespeare")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# What to notice:
#
# - **A longer window helps, up to a point.** From unigram to 5-gram the test BPC falls from
#   4.85 to 2.67: knowing the last four characters removes almost half of the uncertainty
#   about the next one.
# - **Then add-k overfits.** On the training text the BPC keeps falling towards zero as
#   $n$ grows (the model has memorised its windows), while on the test text it turns up
#   after $n = 5$: the unseen n-grams of the figure in §1.2 get only the scraps of
#   probability that add-k hands out.
# - **Interpolation removes most of the penalty.** The tuned $\lambda$ put most weight on
#   the long orders and keep some on the shorter ones, which catch what the long window has
#   never seen; for $n = 7$ they give the 7-gram estimate no weight at all. The interpolated
#   5-gram model reaches 2.45 bits per character, and the 7-gram gains only a little more.
#
# Samples show what the numbers mean. Each model writes 150 characters after "ROMEO:\n",
# from the same seed:


# %%
def ngram_continue(model, prompt, length, seed=1):
    """``length`` tokens sampled after ``prompt``, as text."""
    ids = model.generate(
        model.encode(prompt),
        length,
        generator=torch.Generator().manual_seed(seed),
    )
    return model.decode(ids)


for n in (1, 2, 3, 5):
    sample = ngram_continue(ngram_models[n], "ROMEO:\n", 150)
    print(f"--- {n}-gram ---\n{sample}\n")
print("--- interpolated 5-gram ---")
print(ngram_continue(interpolated_5gram, "ROMEO:\n", 150))

# %% [markdown]
# The unigram model knows only which characters are common. The bigram model has learnt
# which letter follows which, and writes pronounceable nonsense. From the trigram on, real
# words appear. The add-k 5-gram model starts well ("What is man by the please hundred he
# world"), then writes a 5-gram it has never seen and falls off the map: every later
# context is unseen too, each gets the uniform distribution of Eq. (1.4), and the model
# babbles uniformly random characters (the � is `<unk>`, one of the symbols it may draw)
# and never recovers. The interpolated 5-gram model, from the same seed, falls back on its
# shorter orders instead and goes on writing names, line breaks and phrases of the plays.
# None of them keeps a thought for more than a few words: the window is all they have.
# %% [markdown]
# ## 1.6 From counts to a neural network
#
# An n-gram table treats every context as a separate row: what it learns about "the cat
# sat" tells it nothing about "a cat sat". A neural language model replaces the table by a
# function of the context, so that similar contexts can share what they learn.
#
# ### One-hot vectors and embeddings
#
# A network needs numbers. The plainest code for token $x$ of a vocabulary of $V$ is the
# {term}`one-hot vector <独热编码>` (独热编码): $V$ entries, all zero but a one at
# position $x$. Note 000 names its two faults: it is as long as the vocabulary (tens of
# thousands of entries for words, almost all zero), and every two one-hot vectors are
# orthogonal, so "cat" is exactly as far from "dog" as from "of": the code carries no
# similarity at all.
#
# A {term}`word embedding <词嵌入>` (词嵌入) gives each token a short dense vector, a row
# of a matrix $E \in \mathbb{R}^{V \times d}$ that is learned with the rest of the network.
# These are the "1000-dimensional word vectors" of note 001, which asks whether 1000
# numbers per word are wasteful and answers that 300 to 1000 is the usual size; the note is
# right, since a dense vector of that size is still far shorter than a one-hot vector of
# tens of thousands of entries, and every entry of it carries information.
# Multiplying a one-hot row vector by $E$ picks out a row,
#
# $$
# \operatorname{onehot}(x)\, E = E[x], \tag{1.8}
# $$
#
# so an embedding layer *is* a linear layer on one-hot inputs, computed as a look-up
# instead of a product with a vector of zeros:

# %%
seed_everything(0)
E = torch.randn(6, 3)  # V = 6 tokens, d = 3
x = torch.tensor([4, 0, 4])
print(one_hot(x, 6))
print(torch.equal(embed_via_one_hot(x, E), E[x]))
oh = one_hot(torch.arange(6), 6)
print(
    "cosine similarity of one-hot vectors of tokens 1 and 2:",
    torch.cosine_similarity(oh[1], oh[2], dim=0).item(),
)

# %% [markdown]
# ### The fixed-window neural language model
#
# {cite:t}`ch1-bengio2003neural` built the classic neural language model on
# this idea. It keeps the Markov assumption of an n-gram model, a context of the last
# $n-1$ tokens ($n$ counts the window with the predicted token, as in §1.2), but replaces
# the table with a small network: look up and concatenate the $n-1$ embeddings, one tanh
# hidden layer, and a softmax over the vocabulary:
#
# \begin{equation*}
# \begin{aligned}
# e &= \big[E[x_{t-n+2}];\ \dots;\ E[x_t]\big] \in \mathbb{R}^{(n-1) d}, \\
# h &= \tanh(e W_h^\top + b_h), \\
# z &= h W_{\mathrm{out}}^\top + b_{\mathrm{out}}, \\
#   &\phantom{=}\ p(x_{t+1} \mid x_{t-n+2}, \dots, x_t) = \operatorname{softmax}(z).
# \end{aligned}\tag{1.9–1.11}
# \end{equation*}
#
# `mlp_lm_forward` is these three lines (you write it in the exercise), and
# `MLPLanguageModel` wraps it as an `nn.Module`. The concatenation keeps the order of the
# window: each position has its own block of $W_h$. Note 001 worries that an MLP's inputs
# "can be exchanged", losing the order; the function it learns does depend on the order,
# but nothing in its structure says that neighbouring positions are related or that a
# pattern learned at one position holds at the next (chapter 2 builds that in). Note 001
# also counts "one MLP with its own parameters for every position of a sentence of $m$
# words", $O(1000\,mn)$ parameters. There is only one: the same network, with the same
# weights, slides along the text and predicts every position from the window before it,
# so its size does not depend on the length of the sentence; what grows with $n$ is the
# input layer, one block of $W_h$ per slot of the window. Compare the sizes: the network
# below reads a context of 8 characters, so it is a 9-gram model ($n = 9$), whose table
# would have $65^9 \approx 2 \times 10^{16}$ entries; the network has

# %%
char_vocab = Vocab(train_text)
train_ids, valid_ids, test_ids = (
    char_vocab.encode(t) for t in (train_text, valid_text, test_text)
)
seed_everything(0)
mlp_lm = MLPLanguageModel(
    len(char_vocab), context_size=8, embedding_dim=32, hidden_size=512
).to(device)
print(mlp_lm)
print(f"{sum(p.numel() for p in mlp_lm.parameters()):,} parameters")

# %% [markdown]
# and it gives *every* context a probability, seen or not. It is trained like any
# classifier, with Adam on the cross-entropy of random (window, next character) pairs of
# the training text, 8 000 steps of 256 pairs (under a minute on one CPU thread),
# checking the validation BPC ten times on the way:

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
mlp_history = train_mlp_language_model(
    mlp_lm,
    train_ids,
    valid_ids,
    steps=8000,
    batch_size=256,
    lr=2e-3,
    generator=torch.Generator().manual_seed(0),
    progress=False,
)
print(f"trained in {time.perf_counter() - start:.0f} s")

# %%
mlp_valid_bpc = evaluate_mlp_language_model(
    mlp_lm, valid_ids
) / math.log(2)
mlp_test_bpc = evaluate_mlp_language_model(mlp_lm, test_ids) / math.log(
    2
)
print(
    f"MLP LM: valid {mlp_valid_bpc:.3f}, test {mlp_test_bpc:.3f} bits "
    "per character"
)
print(
    "valid BPC during training:",
    " ".join(f"{v / math.log(2):.2f}" for v in mlp_history.valid_loss),
)

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(
    mlp_history.valid_steps,
    [v / math.log(2) for v in mlp_history.valid_loss],
    "o-",
    label="MLP LM (n = 9), valid",
)
for n, style in [(3, ":"), (5, "--")]:
    ax.axhline(
        ngram_rows[n - 1][3],
        color="#999999",
        ls=style,
        label=f"{n}-gram add-k, valid",
    )
ax.axhline(
    interp_rows[1][3],
    color="#dd8452",
    ls="--",
    label="interpolated 5-gram, valid",
)
ax.set_xlabel("training step")
ax.set_ylabel("bits per character")
ax.set_ylim(2, 4.5)
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# After 1 600 steps the network is already past the add-k trigram table; after 8 000 it is
# about level with the add-k 5-gram model (a little behind on the validation text, a little
# ahead on the test text), although it reads twice the context (eight characters against
# four), but not with the interpolated 5-gram, which has had the whole million characters
# counted exactly. At the level of characters, with this much
# data and this little training, counting is hard to beat. The network's advantages show
# where tables fail: longer windows cost it $d$ weights per hidden unit and position, not
# a factor of $V$; and on words, where the vocabulary is large and most contexts are rare,
# sharing between similar words is exactly what Bengio et al. found to lower perplexity
# below the best smoothed n-gram models of the time. Its samples are of the same kind as
# the 5-gram's:

# %%
prefix = char_vocab.encode("ROMEO:\nI will not ")
ids_out = mlp_lm.generate(
    prefix, 150, generator=torch.Generator().manual_seed(1)
)
print("ROMEO:\nI will not " + char_vocab.decode(ids_out))
# %% [markdown]
# ## 1.7 Sampling: greedy, temperature, top-k
#
# A language model gives a distribution; to write, we must pick a token from it, feed it
# back as context, and repeat. {term}`Greedy decoding <贪心解码>` (贪心解码) always picks the
# most likely token. It is deterministic and, for open-ended text, dull: it falls into
# loops, because once a phrase is the most likely continuation of itself nothing breaks
# the cycle.


# %%
def mlp_continue(prompt, length, **kwargs):
    out = mlp_lm.generate(
        char_vocab.encode(prompt),
        length,
        generator=torch.Generator().manual_seed(1),
        **kwargs,
    )
    return prompt + char_vocab.decode(out)


print(mlp_continue("ROMEO:\nI will not ", 120, temperature=0))

# %% [markdown]
# {term}`Sampling <采样>` (采样) draws the next token at random in proportion to its
# probability, so a token with probability 0.01 appears about once in a hundred draws. How
# does a computer draw from a distribution $p_1, \dots, p_V$? Note 001 mentions mapping a
# uniform random number through a "Jacobian formula"; that change-of-variables formula is
# for continuous densities. For a finite vocabulary the method is simpler, the inverse of
# the cumulative distribution: draw $u$ uniformly from $[0, 1)$ and return the first token
# whose cumulative probability exceeds $u$. Token $v$ wins exactly when $u$ falls in an
# interval of length $p_v$:

# %%
probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
u = torch.rand(100_000, generator=torch.Generator().manual_seed(0))
# the first cumsum > u
draws = torch.searchsorted(torch.cumsum(probs, 0), u, right=True)
frequencies = torch.bincount(draws, minlength=4) / len(u)
print("frequencies:", [round(f, 4) for f in frequencies.tolist()])

# %% [markdown]
# (`torch.multinomial`, which `coursekit.sample_next` calls, does the same job.) Two knobs
# shape the distribution before the draw. The {term}`temperature <温度>` (温度) $\tau$
# divides the logits $z$:
#
# $$
# p_\tau(v) = \frac{\exp(z_v / \tau)}{\sum_{u} \exp(z_u / \tau)}. \tag{1.12}
# $$
#
# $\tau = 1$ is the model's own distribution; $\tau < 1$ sharpens it towards greedy (the
# limit $\tau \to 0$); $\tau > 1$ flattens it towards uniform.
# {term}`Top-k sampling <Top-k 采样>` (Top-k 采样) {cite}`ch1-fan2018hierarchical` keeps
# only the $k$ largest logits and sets the others to $-\infty$, so that the long tail of
# unlikely tokens, each rare but many together, cannot be drawn:
#
# $$
# z_v \leftarrow -\infty \quad \text{unless } z_v \text{ is among the } k \text{ largest logits}. \tag{1.13}
# $$
#
# Here is the MLP's distribution over the character after "ROMEO:\nI will not b" at three
# temperatures, and after a top-3 filter:

# %%
context = char_vocab.encode("ROMEO:\nI will not b")[
    -mlp_lm.context_size :
]
with torch.no_grad():
    next_logits = mlp_lm(context[None])[0]
shown = torch.topk(next_logits, 10).indices
labels = [repr(char_vocab.decode([int(i)]))[1:-1] for i in shown]
fig, axes = plt.subplots(2, 2, figsize=(7, 4.8), sharey=True)
for ax, (title, p) in zip(
    axes.flat,
    [
        ("τ = 0.5", temperature_probs(next_logits, 0.5)),
        ("τ = 1", temperature_probs(next_logits, 1.0)),
        ("τ = 2", temperature_probs(next_logits, 2.0)),
        (
            "τ = 1, top-3",
            temperature_probs(top_k_filter(next_logits, 3), 1.0),
        ),
    ],
    strict=True,
):
    ax.bar(labels, p[shown].tolist(), color="#4c72b0")
    ax.set_title(title)
for ax in axes[:, 0]:
    ax.set_ylabel("probability")
fig.suptitle(
    "the next character after 'I will not b':\n"
    f"the ten most likely of {len(char_vocab)}"
)
plt.tight_layout()
plt.show()

# %% [markdown]
# And the text each setting writes, from the same seed:

# %%
for kwargs in [
    dict(temperature=0.5),
    dict(temperature=1.0),
    dict(temperature=1.5),
    dict(temperature=1.0, top_k=5),
]:
    print(f"--- {kwargs} ---")
    print(mlp_continue("ROMEO:\nI will not ", 120, **kwargs), "\n")

# %% [markdown]
# Low temperature gives safe, repetitive text; high temperature gives invention and,
# soon, nonsense; top-k cuts off the worst of the nonsense while keeping variety. None of
# this changes the model: it changes how we read it. Sampling also hides a problem that
# note 001 points out: each drawn token becomes the next input, so one bad draw puts the
# model in a context it never met in training, and errors accumulate. Chapter 8
# (scheduled sampling) returns to this mismatch between training and generation.
# %% [markdown]
# ## 1.8 Tang poems: the same models in Chinese
#
# Nothing above is specific to English. Our second corpus is the 5 003 poems of the first
# five files of 全唐诗 (*Complete Tang Poems*) in the chinese-poetry collection, in
# traditional characters, one poem per line of text: 315 000 characters, and a vocabulary
# of more than 5 000 different characters instead of 65. The split is the same 90/5/5.

# %%
tang_text = tang_poems_text("quantangshi")
tang_train, tang_valid, tang_test = split_text(tang_text)
print(
    f"{tang_text.count(chr(10)):,} poems; {len(tang_train):,} / "
    f"{len(tang_valid):,} / {len(tang_test):,} characters"
)
print(
    f"{len(set(tang_train)):,} different characters in the training "
    "text"
)
print(tang_text.splitlines()[1])

# %%
tang_rows = []
for n in (1, 2, 3, 5):
    model = NGramModel(n).fit(tang_train)
    _, valid_bpc = tune_k(model, tang_valid)
    tang_rows.append(
        [
            f"{n}-gram, add-k (k = {model.k})",
            valid_bpc[model.k],
            model.bits_per_token(tang_test),
        ]
    )
tang_model = NGramModel(3, k=0.01).fit(tang_train)
tang_lambdas = tune_lambdas(tang_model, tang_valid)
tang_rows.append(
    [
        "3-gram, interpolated ("
        f"{' '.join(f'{x:.1f}' for x in tang_lambdas)})",
        tang_model.bits_per_token(tang_valid),
        tang_model.bits_per_token(tang_test),
    ]
)
print(
    "uniform over the vocabulary: "
    f"{math.log2(len(tang_model.vocab)):.2f} bits per character"
)
print_table(
    ["model", "valid BPC", "test BPC"],
    [[m, f"{va:.3f}", f"{te:.3f}"] for m, va, te in tang_rows],
)

# %% [markdown]
# The numbers are of another size: a Chinese character carries far more information than
# a letter (a unigram model needs more than 9 bits for it, against 4.8 for Shakespeare's
# letters), and 283 000 training characters are few for 5 000 symbols. Sparsity, the
# problem of §1.2, bites much sooner. Add-k beyond the bigram is *worse* than the bigram:
# most trigrams of the test text were never seen, and add-k spreads their share over 5 000
# characters. With interpolation the trigram model does earn its extra character of
# context.
#
# The MLP language model on this corpus pays for its large output layer ($5\,000 \times
# H$ weights, and a softmax over 5 000 characters at every step); with a small network (a
# context of four characters, so $n = 5$) and about twenty seconds of training, checked on
# the validation text every 500 steps:

# %%
tang_vocab = Vocab(tang_train)
tang_ids = [
    tang_vocab.encode(t) for t in (tang_train, tang_valid, tang_test)
]
seed_everything(0)
tang_mlp = MLPLanguageModel(
    len(tang_vocab), context_size=4, embedding_dim=32, hidden_size=128
).to(device)
tang_history = train_mlp_language_model(
    tang_mlp,
    tang_ids[0],
    tang_ids[1],
    steps=2000,
    batch_size=64,
    lr=3e-3,
    generator=torch.Generator().manual_seed(0),
    eval_every=500,
    progress=False,
)
print(
    "valid BPC during training:",
    " ".join(f"{v / math.log(2):.2f}" for v in tang_history.valid_loss),
)
tang_rows.append(
    [
        "MLP LM (n = 5, d = 32, H = 128)",
        *(
            evaluate_mlp_language_model(tang_mlp, ids) / math.log(2)
            for ids in tang_ids[1:]
        ),
    ]
)
print_table(
    ["model", "valid BPC", "test BPC"],
    [[m, f"{va:.3f}", f"{te:.3f}"] for m, va, te in tang_rows],
)

# %% [markdown]
# The network beats the unigram model but not the bigram table, and its validation loss
# improves little after the first 500 steps: with 5 000 classes and 283 000 examples, most
# characters are seen only a handful of times, and the network has too little data to
# learn an embedding for them. Counting with smoothing is the better tool for this little
# data; the recurrent models of the next chapters will have the same difficulty here.
# %% [markdown]
# ### A generator of five-character quatrains
#
# A {term}`five-character quatrain <五言绝句>` (五言绝句) has four lines of five characters,
# the first and third ended by "，" and the second and fourth by "。":
# 白日依山盡，黃河入海流。欲窮千里目，更上一層樓。 A model sampled freely writes lines
# of any length. To respect the form we do not need a new model, only a constrained
# sampler. `fill_template` walks along the template `○○○○○，○○○○○。○○○○○，○○○○○。`:
# at each ○ it asks the model for the next-character distribution, removes everything
# that is not a Chinese character (punctuation, the line break, `<unk>`, `</s>`),
# renormalises and draws; every punctuation mark of the template is written as it is and
# becomes part of the context the model conditions on. The result is a sample from the
# model's distribution *conditioned on the form*, and it has the form by construction.
# Each poem starts after a line break, as poems do in the corpus.

# %%
print(WUJUE_TEMPLATE)


def tang_next_logits(tokens):
    return torch.log(tang_model.distribution(tokens))


corpus_lines = set(
    tang_text.translate(str.maketrans("。？！；", "，，，，"))
    .replace("\n", "")
    .split("，")
)


def quatrain(seed, **kwargs):
    generator = torch.Generator().manual_seed(seed)
    return fill_template(
        tang_next_logits,
        tang_model.vocab,
        WUJUE_TEMPLATE,
        generator,
        history=["\n"],
        **kwargs,
    )


print("τ = 1:")
for seed in range(3):
    print(quatrain(seed))
print("τ = 0.6, top-30:")
poems = [
    quatrain(seed, temperature=0.6, top_k=30) for seed in range(20)
]
for poem in poems[:6]:
    print(poem)
lines = [
    line
    for poem in poems
    for line in poem.replace("。", "，").split("，")
    if line
]
print(
    f"\n{len(poems)} poems, {len(lines)} lines; every line five "
    f"characters: {all(len(line) == 5 for line in lines)}"
)
print(
    "lines found whole in the corpus: "
    f"{sum(line in corpus_lines for line in lines)} of {len(lines)}"
)

# %% [markdown]
# Every poem has the form, because the sampler enforces it. At $\tau = 1$ the text is
# mostly a salad of rare characters: with 5 000 of them, the long tail of unlikely
# characters, each improbable but many together, wins a large share of the draws (and the
# interpolated model gives the unigram estimate a weight of 0.4). A lower temperature and
# a top-30 filter, Eqs. (1.12)–(1.13), keep the draws among characters the model really
# expects, and the lines start to read like verse: 白日, 山川, 千里, 花落, 風吹. What the
# model supplies is still local, pairs and triples of characters that belong together,
# with no plan for a line, let alone a poem, and nothing of the tonal rules (平仄) or the
# rhyme that a real quatrain obeys. None of its lines occurs whole in the corpus, so it is
# not copying either. Chapter 2 trains a recurrent network on the quatrains and finds that
# it learns the line form by itself, but not the number of lines.
# %% [markdown]
# ## 1.9 From words to sentences: sentiment
#
# Embeddings are not only for predicting the next word. Note 003 starts from a different
# task: is a film review positive or negative? "I love this movie" should come out
# positive, "I hate this movie" negative. The model must turn a sentence of any length
# into one vector, and the simplest way, once words are vectors, is to add them up.
#
# Our data is the sentence polarity dataset of
# {cite:t}`ch1-pang2005seeing` (rt-polarity): 5 331 positive and 5 331 negative snippets of
# Rotten Tomatoes reviews, lower-cased and tokenised. It has no official split (papers
# report ten-fold cross-validation), so `rt_polarity_split` fixes one: in each file, every
# tenth sentence goes to test, the one after it to dev, the rest to train. Words seen in
# training form the vocabulary; the others become `<unk>`.

# %%
split = rt_polarity_split()
for part, examples in split.items():
    print(
        f"{part:5s} {len(examples):5d} sentences, "
        f"{sum(y for _, y in examples)} positive"
    )
print(split["train"][0])
word_vocab = WordVocab([tokens for tokens, _ in split["train"]])
print(word_vocab)


def as_dataset(examples, encode):
    return [encode(tokens) for tokens, _ in examples], torch.tensor(
        [y for _, y in examples]
    )


words = {
    part: as_dataset(examples, word_vocab.encode)
    for part, examples in split.items()
}

# %% [markdown]
# ### CBOW and deep CBOW
#
# The {term}`continuous bag of words <连续词袋>` (CBOW, 连续词袋) classifier averages the
# embeddings of the $L$ words of a sentence and scores the average with one linear layer
# (the name comes from Mikolov et al.'s word2vec {cite}`ch1-mikolov2013efficient`, where the
# average of context vectors predicts a word):
#
# $$
# s = \frac{1}{L} \sum_{t=1}^{L} E[x_t], \qquad z = s W^\top + b. \tag{1.14}
# $$
#
# Sentences of different lengths are padded into one $(B, L)$ batch, and a boolean mask
# keeps the padding out of the average; `cbow_forward` (which you write in the exercise)
# is this equation with the mask. The model is linear in the word vectors: each word pushes
# the score the same way wherever it stands, and "not" can only add its own fixed push.
#
# **Deep CBOW** {cite}`ch1-iyyer2015deep` puts a few tanh layers between the average and
# the scores,
#
# $$
# h_0 = s, \qquad h_l = \tanh(h_{l-1} W_l^\top + b_l), \qquad z = h_D W^\top + b. \tag{1.15}
# $$
#
# The nonlinear layers can learn *combinations* of words: that a sentence containing both
# "not" and "bad" is not so bad. Both models are trained with Adam, and the weights of the
# epoch with the best dev accuracy are kept (early stopping). Deep CBOW is also trained with
# dropout ($p = 0.3$ on the input of each of its layers, the average included): its hidden
# layers add capacity that 8 500 sentences fill quickly, and Iyyer et al. regularise theirs
# with dropout too (of whole words, before the average). CBOW, the plainest baseline, is
# trained without it, with early stopping as its only regulariser. To see what dropout buys,
# we also train deep CBOW without it.


# %%
def fit_classifier(model, data, **kwargs):
    seed_everything(0)
    history = train_classifier(
        model,
        data["train"],
        data["dev"],
        generator=torch.Generator().manual_seed(0),
        **kwargs,
    )
    return history, accuracy(model, data["test"])


seed_everything(0)
cbow = CBOW(len(word_vocab), 64, 2)
cbow_history, cbow_test = fit_classifier(
    cbow, words, epochs=10, lr=1e-2, batch_size=64
)
seed_everything(0)
deep_cbow = DeepCBOW(
    len(word_vocab), 64, 2, hidden_sizes=(64, 64), dropout=0.3
)
deep_history, deep_test = fit_classifier(
    deep_cbow, words, epochs=10, lr=3e-3, batch_size=64
)
seed_everything(0)
deep_cbow_no_dropout = DeepCBOW(
    len(word_vocab), 64, 2, hidden_sizes=(64, 64), dropout=0.0
)
no_dropout_history, no_dropout_test = fit_classifier(
    deep_cbow_no_dropout, words, epochs=10, lr=3e-3, batch_size=64
)

# %% [markdown]
# ### A bag of n-grams
#
# Note 003's next step gives the model phrases instead of words. A **bag of n-grams**
# classifier has a score vector for every word n-gram ("not", "not bad", ...) and adds up
# the scores of a sentence's n-grams:
#
# $$
# z = \sum_{g \,\in\, \text{n-grams}(x)} S[\operatorname{bucket}(g)] + b. \tag{1.16}
# $$
#
# There are millions of possible bigrams, so we do not keep a vocabulary of them: each is
# hashed into one of $K = 2^{18}$ buckets (the {term}`hashing trick <哈希技巧>` (哈希技巧)
# of fastText {cite}`ch1-joulin2017bag`; two n-grams may share a bucket, which costs
# little). This is logistic regression on n-gram counts, the family of the classic baselines of
# {cite:t}`ch1-wang2012baselines`.

# %%
NUM_BUCKETS = 2**18
ngrams = {
    part: as_dataset(
        examples, lambda t: ngram_bucket_ids(t, 2, NUM_BUCKETS)
    )
    for part, examples in split.items()
}
print(
    "'it is not bad' ->",
    ngram_bucket_ids("it is not bad".split(), 2, NUM_BUCKETS).tolist(),
)
bag = BagOfNGrams(NUM_BUCKETS, 2)
bag_history, bag_test = fit_classifier(
    bag, ngrams, epochs=8, lr=3e-3, batch_size=64
)

# %%
sentiment_rows = [
    ("CBOW (d = 64)", cbow_history, cbow_test),
    (
        "deep CBOW (d = 64, two tanh layers of 64)",
        deep_history,
        deep_test,
    ),
    (
        "bag of unigrams and bigrams (2^18 buckets)",
        bag_history,
        bag_test,
    ),
]
# the dropout ablation is shown here only, not in §1.10's results table
no_dropout_row = (
    "deep CBOW without dropout",
    no_dropout_history,
    no_dropout_test,
)
shown_rows = [*sentiment_rows[:2], no_dropout_row, sentiment_rows[2]]
print_table(
    ["model", "epoch", "dev acc.", "test acc."],
    [
        [
            name,
            h.best_epoch,
            f"{max(h.dev_accuracy):.3f}",
            f"{test:.3f}",
        ]
        for name, h, test in shown_rows
    ],
)

fig, ax = plt.subplots(figsize=(7, 3.5))
for name, h, _ in shown_rows:
    ax.plot(
        range(1, len(h.dev_accuracy) + 1),
        h.dev_accuracy,
        "o-",
        label=name.split(" (")[0],
    )
ax.axhline(0.79, color="k", ls=":", lw=0.8)
ax.text(
    1, 0.792, "Wang & Manning 2012, naive Bayes on bigrams (10-fold CV)"
)
ax.set_xlabel("epoch")
ax.set_ylabel("dev accuracy")
ax.set_ylim(0.6, 0.82)
ax.legend(loc="lower right")
ax.grid(alpha=0.3)
plt.show()
# %% [markdown]
# Without dropout, deep CBOW reaches its best dev accuracy at epoch 4 and then declines as
# it fits the training sentences ever more closely; its test accuracy ends below plain
# CBOW's. With dropout it keeps improving for twice as long and, in this run, ends a little
# ahead of CBOW. Do not read more into that than one run allows: the differences are one or
# two standard errors (see below), and over five seeds with a shorter budget (the course
# results table) deep CBOW with dropout averages 0.752 against CBOW's 0.760, with ranges
# that overlap. What the runs do show is that without a regulariser the deeper model
# overfits within a few epochs.
#
# The bag of bigrams beats them all, with the simplest model. How does it
# compare with the literature? Wang and Manning report 0.79 for multinomial naive Bayes on
# unigrams and bigrams of this dataset (0.794 for their NBSVM), averaged over ten-fold
# cross-validation; ours is one fixed split, and an accuracy measured on 1 068 sentences
# has a standard error of about $\sqrt{0.78 \cdot 0.22 / 1068} \approx 0.013$. Our
# bigram model is within about one standard error of theirs; the two CBOW models, trained
# from scratch on 8 500 sentences, are a little behind. (Deep CBOW's dev accuracy, 0.783,
# flatters it: the best of ten epochs *chosen on the dev set* is an optimistic estimate,
# which is why the test set is kept apart and read once.) With embeddings pre-trained on
# billions of words, averaging models do much better; that is transfer, not this
# chapter's subject.
#
# Why does the bag of bigrams win? An average of word vectors cannot see order: two
# sentences with the same words in a different order get exactly the same vector, however deep the network on top. Note 003
# puts it this way: the deep layers can capture the combination of "not" and "hate", but
# not the phrase "not hate". Here are two sentences with the same bag of words:


# %%
def p_positive(model, encode, sentence):
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(encode(sentence.split())[None]), -1)[
            0, 1
        ].item()


for probes in [
    ("the film is good , not bad", "the film is bad , not good"),
    ("it is not good , it is bad", "it is not bad , it is good"),
]:
    print(" | ".join(f"'{s}'" for s in probes))
    for name, model, encode in [
        ("CBOW", cbow, word_vocab.encode),
        ("deep CBOW", deep_cbow, word_vocab.encode),
        (
            "bag of bigrams",
            bag,
            lambda t: ngram_bucket_ids(t, 2, NUM_BUCKETS),
        ),
    ]:
        print(
            f"  {name:15s} p(positive) "
            + " | ".join(
                f"{p_positive(model, encode, s):.3f}" for s in probes
            )
        )

# %% [markdown]
# The two CBOW models cannot tell the sentences of a pair apart, by construction. The bag
# of bigrams can, because "not good" and "not bad" are features of their own, and on the
# first pair it ranks them the right way round. On the second it ranks them the wrong
# way. Being able to tell them apart is necessary, not sufficient: the model must also
# have learned what the bigrams mean, and our training set says little about them. Here
# is how many training sentences of each class contain them:

# %%
for gram in [
    ("not", "bad"),
    ("not", "good"),
    ("is", "good"),
    ("is", "bad"),
]:
    per_class = [
        sum(
            gram in count_ngrams(t, 2)
            for t, y in split["train"]
            if y == label
        )
        for label in (0, 1)
    ]
    print(
        f"{' '.join(gram):9s} negative {per_class[0]}, positive "
        f"{per_class[1]}"
    )

# %% [markdown]
# "not bad" occurs in two training sentences, both negative, so the model has no evidence
# that it is praise. More data, or a model that composes "not" with whatever follows it,
# would do better. Note 003 also lists what the bag of n-grams pays for this: the number of features explodes with n (hence the
# hashing), similar phrases share nothing ("not good" learns nothing from "not great"),
# and the order *beyond* n words is still lost. A model that reads a sentence in order,
# carrying what it has read so far, is what chapter 2 builds.
#
# ## 1.10 The results table
#
# Here are this chapter's models with their test scores, on splits that every chapter
# shares. They are also the first rows of the course-wide {doc}`results table <results>`,
# a page of its own to which later chapters add their models (chapter 2's char-RNN and
# RNN sentence classifier, chapter 4's LSTM and GRU on the same text); there the trained
# models are reported as the mean and range over five seeds of short seeded runs
# (`tools/experiments/`), not as the single runs of this chapter. For a first comparison, chapter 2's
# character-level RNN, trained for one minute, reaches 2.30 bits per character on the
# same *validation* text, where the interpolated 5-gram model has 2.27: a small recurrent
# network needs longer training than that to beat a million characters counted exactly.

# %%
shakespeare_results = [
    (
        f"uniform over {len(ngram_models[1].vocab)} symbols (with "
        "</s>, <unk>)",
        math.log2(len(ngram_models[1].vocab)),
    ),
    *[
        (
            f"{n}-gram, add-k (k = {ngram_rows[n - 1][1]})",
            ngram_rows[n - 1][4],
        )
        for n in (1, 2, 3, 5)
    ],
    ("5-gram, interpolated", interp_rows[1][4]),
    ("MLP LM (n = 9, d = 32, H = 512, 8 000 steps)", mlp_test_bpc),
]
print("Tiny Shakespeare, test bits per character")
print_table(
    ["model", "test BPC"],
    [[m, f"{b:.3f}"] for m, b in shakespeare_results],
)
print("\nTang poems (全唐诗, 5 files), test bits per character")
print_table(
    ["model", "test BPC"], [[m, f"{te:.3f}"] for m, _, te in tang_rows]
)
print("\nrt-polarity, test accuracy")
print_table(
    ["model", "test accuracy"],
    [[name, f"{test:.3f}"] for name, _, test in sentiment_rows],
)

# %%
fig, ax = plt.subplots(figsize=(6.5, 3))
names = [
    m.split(" (")[0].replace(", add-k", "")
    for m, _ in shakespeare_results[1:]
]
values = [b for _, b in shakespeare_results[1:]]
bars = ax.barh(
    names[::-1],
    values[::-1],
    color=["#dd8452"] + ["#4c72b0"] * (len(values) - 1),
)
ax.bar_label(bars, fmt="%.2f", padding=3)
ax.set_xlabel("test bits per character (lower is better)")
ax.set_xlim(0, 5.5)
ax.set_title("Tiny Shakespeare: the models of chapter 1")
plt.tight_layout()
plt.show()
# %% [markdown]
# ## 1.11 What goes wrong
#
# - **Zeros.** A maximum-likelihood n-gram model gives probability 0, and so infinite
#   perplexity, to any text with one unseen n-gram. Always smooth, and tune the smoothing on
#   validation text.
# - **Tuning on the test text.** Choosing $k$, $\lambda$ or the number of epochs by the
#   test score makes the test score optimistic. Here every choice is made on the validation
#   or dev part, and the test part is read once per model.
# - **Comparing perplexities that are not comparable.** Perplexity depends on the
#   tokenisation and the vocabulary: a per-word perplexity and a per-character perplexity
#   of the same text are different numbers (the first is the second raised to the power of
#   the mean word length in characters). Compare bits per character between character
#   models, and only on the same test text.
# - **Greedy text loops.** The most likely continuation is not the best text; sample, with
#   a temperature and a top-k you have looked at.
# - **A bag forgets order.** CBOW and deep CBOW give "not good, bad" and "not bad, good"
#   the same score. Use n-grams or a sequence model when order matters.
#
# ## 1.12 Quiz
#
# **Question 1.** A trigram model of characters with add-one smoothing is trained on a text
# with $V = 50$ different characters. The context "qu" occurs 40 times in training,
# followed 30 times by "e" and never by "z". What are $p(e \mid qu)$ and
# $p(z \mid qu)$?
#
# :::{dropdown} Answer
# By Eq. (1.4) with $k = 1$: $p(e \mid qu) = (30 + 1) / (40 + 50) = 31/90 \approx 0.344$,
# and $p(z \mid qu) = (0 + 1)/90 \approx 0.011$. Without smoothing they would be $0.75$ and
# $0$: add-one takes more than half of the probability of the seen continuation and spreads
# it over characters that never followed "qu". That is why $k$ is tuned, and why the
# best $k$ for long windows in §1.5 is small.
# :::
#
# **Question 2.** Model A has a test perplexity of 8 per character, model B 4 bits per
# character on the same text. Which is better?
#
# :::{dropdown} Answer
# **A.** By Eq. (1.7), 8 per character is $\log_2 8 = 3$ bits per character, below B's 4
# (B's perplexity is $2^4 = 16$). The two measures are the same number on two scales.
# :::
#
# **Question 3.** Why does the add-k 7-gram model of §1.5 do *better* on the training text
# and *worse* on the test text than the 5-gram model?
#
# :::{dropdown} Answer
# A longer window fits the training text more closely: most 7-character contexts occur
# only a few times, so their counts nearly determine the next character, and the training
# BPC drops. But a third of the test text's windows were never seen (figure of §1.2), and
# for those the 7-gram model falls back on add-k's near-uniform guess, which is far worse
# than what the 5-gram model knows. That is overfitting, and interpolation, which falls
# back on the shorter orders instead, mostly cures it.
# :::
#
# **Question 4.** An embedding matrix has $V = 10\,000$ rows of $d = 300$. How many
# multiplications does computing $\operatorname{onehot}(x) E$ take as a matrix product,
# and how many as a look-up?
#
# :::{dropdown} Answer
# The product multiplies a vector of 10 000 entries by a $10\,000 \times 300$ matrix: three
# million multiplications, all but 300 of them by zero. The look-up $E[x]$ copies one row
# of 300 numbers and multiplies nothing. The result is the same, Eq. (1.8), which is why
# every framework implements embeddings as look-ups, and why their gradient touches only
# the rows of the tokens in the batch.
# :::
#
# **Question 5.** Which of these sentence pairs can a deep CBOW classifier *never* score
# differently, whatever its weights?
#
# - A. "a good film" / "a great film"
# - B. "the acting is not bad" / "the acting is bad"
# - C. "good , not great" / "great , not good"
# - D. "good" / "good good"
#
# :::{dropdown} Answer
# **C**, and also **D** with the mean. C's two sentences are the same bag of words, so
# the same average, Eq. (1.14), and the same output. D's average is the same vector
# (the mean of one "good" and of two is the same), so a mean-pooling CBOW cannot tell them
# apart either; with `reduction="sum"` it could. A differs in a word, B in the presence of
# "not", which the tanh layers can combine with "bad".
# :::
#
# **Question 6.** At temperature $\tau$, the logits $(2, 1, 0)$ give which distribution
# for $\tau = 1$, and what happens as $\tau \to 0$ and $\tau \to \infty$?
#
# :::{dropdown} Answer
# For $\tau = 1$: $e^{2}, e^{1}, e^{0}$ normalised, $(0.665, 0.245, 0.090)$. As
# $\tau \to 0$ the largest logit dominates and the distribution tends to $(1, 0, 0)$,
# greedy decoding; as $\tau \to \infty$ all logits divided by $\tau$ tend to 0 and the
# distribution tends to uniform, $(1/3, 1/3, 1/3)$. Check with
# `temperature_probs(torch.tensor([2., 1., 0.]), tau)`.
# :::
#
# ## 1.13 What to try
#
# - **Words instead of characters.** `NGramModel(3, level="word")` on Tiny Shakespeare.
#   What fraction of test *word* trigrams were seen in training? Convert its per-word
#   perplexity to bits per character to compare it with the table.
# - **Backoff instead of interpolation.** Use the highest order whose context was seen,
#   and a shorter one otherwise (a "stupid backoff"). Is it better or worse than
#   interpolation here?
# - **A longer or wider MLP.** Train the MLP language model with a context of 16 characters
#   ($n = 17$), or twice the hidden units, for the same 40 seconds. Plot validation BPC
#   against *time*.
# - **Temperature and quality.** For $\tau \in \{0.3, 0.6, 1, 1.5\}$, sample 20 poems from
#   the quatrain generator and count how many lines occur whole in the corpus. What does
#   the temperature trade?
# - **The hashing trick.** Train the bag of bigrams with $2^{10}$ buckets and with $2^{20}$.
#   When do collisions start to hurt?
# - **Trigrams for sentiment.** `ngram_bucket_ids(tokens, 3, K)`: do trigrams help on
#   8 500 training sentences?
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# :keyprefix: ch1-
# ```
#
# ## Exercise
#
# In the exercise you implement n-gram counting with add-k smoothing, perplexity, the MLP
# language model's forward pass, temperature sampling and the CBOW forward pass; its tests
# compare your functions with `coursekit`'s on random inputs.
# {download}`Download the exercise notebook <../exercises/01_language_models/01_language_models.ipynb>`.
