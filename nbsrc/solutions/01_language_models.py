# %% [markdown]
# # Assignment 1 · Language models (语言模型)
#
# In this assignment you write the pieces of chapter 1 yourself, in plain PyTorch tensor
# operations: counting and smoothing an n-gram model, scoring a model by its perplexity, the
# neural language model of Bengio et al., sampling text with a temperature, and a bag-of-words
# sentence classifier.
#
# | part | function | points |
# |---|---|---|
# | 1 | `ngram_counts` — the table of n-gram counts of a sequence of ids, Eq. (1.3) | 2 |
# | 2 | `add_k_smoothing` — counts to smoothed conditional probabilities, Eq. (1.4) | 2 |
# | 3 | `perplexity_from_logits` — a model's perplexity on the tokens it predicted, Eq. (1.6) | 2 |
# | 4 | `mlp_lm_forward` — the fixed-window neural language model, Eqs. (1.9)–(1.11) | 3 |
# | 5 | `temperature_probs` — the softmax with a temperature, Eq. (1.12) | 1 |
# | 6 | `sample_next` — draw the next token: greedy, tempered, top-k, Eqs. (1.12)–(1.13) | 2 |
# | 7 | `cbow_forward` — the continuous bag of words classifier, Eqs. (1.8) and (1.14) | 3 |
#
# **How it is graded.** Each function keeps the name and signature of its twin in coursekit
# (`coursekit.ngram`, `coursekit.sampling`, `coursekit.mlp_lm`, `coursekit.embeddings`). The
# visible tests below each part check shapes and cases small enough to work out by hand; when
# you submit, hidden tests compare your function with the reference on random float64 inputs —
# the values *and* the gradients of every float input — including the edge cases (a sequence
# shorter than n, a context never seen, one token, a batch of one, no bias, very large logits).
# Your sampler is judged by the distribution of its draws, not by equal draws: thousands of
# draws per row must match the exact probabilities. A function counts if it passes every hidden
# case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, using tensor operations
# (indexing, `@`, `.sum`, `torch.exp`, `torch.log`, `torch.logsumexp`, `torch.softmax`,
# `torch.tanh`, `torch.topk`, `torch.multinomial` …). Calling an implementation of what you
# are asked to write — `coursekit`, `torch.nn.functional.cross_entropy` or `nll_loss` (part 3),
# `torch.nn.functional.embedding_bag` (part 7) — scores zero for that function. Later parts may
# (and part 6 should) call your earlier functions. Do not edit the other cells; they are
# restored from the original when grading.
#
# Shapes: `V` vocabulary size, `L` tokens in a sequence, `n` the order of an n-gram model
# (the predicted token and the $n - 1$ before it), `K` the context size of the neural model
# (the book's n-gram order $n = K + 1$), `B` batch, `T` time steps, `E` embedding dimension,
# `H` hidden units, `C` classes. Token ids are `int64` tensors, masks `bool` tensors.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math

import torch

torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## Part 1 · Counting n-grams
#
# A language model gives a sequence the probability $p(w_1, \dots, w_L) = \prod_i
# p(w_i \mid w_1, \dots, w_{i-1})$ (Eq. 1.1), and an n-gram model keeps only the last $n-1$
# tokens of each context (Eq. 1.2). Its maximum-likelihood estimate is a ratio of counts,
#
# $$ p_{\mathrm{ML}}(w \mid u) = \frac{c(u, w)}{c(u)}, \tag{1.3} $$
#
# where $u = (u_1, \dots, u_{n-1})$ is a context, $c(u, w)$ counts the positions where $u$ is
# followed by $w$, and $c(u) = \sum_w c(u, w)$.
#
# Write `ngram_counts(ids, n, vocab_size)`: given a sequence of ids `(L,)` with values in
# `0 .. V-1`, return the table of counts `counts[u_1, ..., u_{n-1}, w]` $= c(u, w)$, a float64
# tensor of shape `(V,) * n` (so `(V,)` for unigrams, `(V, V)` for bigrams, …). Count every
# window `ids[i : i + n]`, overlapping ones included: there are $L - n + 1$ of them, and none
# when $L < n$ (the table is then all zeros). Add no padding. Careful with
# `counts[index] += 1` on many indices at once: a repeated index is then counted only once
# (a loop over the windows is fine, or `index_put_(..., accumulate=True)`).


# %% nbgrader={"grade": false, "grade_id": "ngram_counts", "locked": false, "schema_version": 3, "solution": true}
def ngram_counts(ids, n, vocab_size):
    """ids (L,) long -> counts (V,) * n, float64: counts[u_1, ..., u_{n-1}, w] = c(u, w)."""
    ### BEGIN SOLUTION
    counts = torch.zeros((vocab_size,) * n, dtype=torch.float64)
    for i in range(len(ids) - n + 1):  # the L - n + 1 windows ids[i : i + n]
        counts[tuple(ids[i : i + n].tolist())] += 1
    return counts
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "ngram_counts_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. The ids 0 1 0 1 1 (V = 2) hold two 0s and three 1s, and the four bigrams
# (0, 1), (1, 0), (0, 1), (1, 1).
ids = torch.tensor([0, 1, 0, 1, 1])
counts = ngram_counts(ids, 2, 2)
assert counts.shape == (2, 2), f"bigrams, V = 2: expected shape (2, 2); got {tuple(counts.shape)}"
assert counts.tolist() == [[0.0, 2.0], [1.0, 1.0]], (
    f"bigrams of 0 1 0 1 1: expected [[0, 2], [1, 1]] (row = first token); got {counts.tolist()}"
)
counts = ngram_counts(ids, 1, 2)
assert counts.tolist() == [2.0, 3.0], f"unigrams: expected [2, 3]; got {counts.tolist()}"

# With V = 3 the trigrams (0, 1, 0), (1, 0, 1), (0, 1, 1) fill a (3, 3, 3) table: three ones.
counts = ngram_counts(ids, 3, 3)
assert counts.shape == (3, 3, 3), f"expected shape (3, 3, 3); got {tuple(counts.shape)}"
ones = [tuple(i) for i in torch.nonzero(counts).tolist()]
assert sorted(ones) == [(0, 1, 0), (0, 1, 1), (1, 0, 1)] and counts.sum() == 3, (
    f"expected one each of (0, 1, 0), (1, 0, 1), (0, 1, 1); got counts at {ones}"
)

# A repeated token: 1 1 1 1 has three overlapping bigrams (1, 1).
counts = ngram_counts(torch.tensor([1, 1, 1, 1]), 2, 2)
assert counts.tolist() == [[0.0, 0.0], [0.0, 3.0]], (
    f"bigrams of 1 1 1 1: expected three (1, 1); got {counts.tolist()}"
)
# Shorter than n: no trigram at all.
counts = ngram_counts(torch.tensor([1, 0]), 3, 2)
assert counts.shape == (2, 2, 2) and counts.sum() == 0, (
    f"trigrams of a sequence of 2 ids: expected zeros of shape (2, 2, 2); got {counts.tolist()}"
)
print("ngram_counts: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "ngram_counts_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for ngram_counts run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("ngram_counts", ngram_counts)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · Add-k smoothing
#
# Eq. (1.3) gives probability 0 to every n-gram the training text happens not to hold, and a
# single 0 makes a whole test sentence impossible. Add-k smoothing (平滑) pretends that every
# n-gram was seen $k$ more times:
#
# $$ p_k(w \mid u) = \frac{c(u, w) + k}{c(u) + k V}. \tag{1.4} $$
#
# $k = 1$ is Laplace (add-one) smoothing and $k = 0$ is Eq. (1.3) again. Write
# `add_k_smoothing(counts, k)` for a whole table of counts of shape `(V,) * n` (Part 1's
# output, or any non-negative floats): return the probabilities, of the same shape, where each
# row along the **last** axis (the next token $w$) sums to 1 and $c(u)$ is the sum of that
# row. A context never seen with $k = 0$ has $c(u) + kV = 0$: make its row uniform, $1/V$ (the
# limit of Eq. (1.4) as $k \to 0$), with no `nan` in the values *or in the gradients*.
# `torch.where(cond, a, b)` differentiates both `a` and `b`, so a division by zero inside it
# still puts `nan` into the gradient: divide by a denominator whose zeros you first replaced
# (by 1, say), then choose $1/V$ for those rows.


# %% nbgrader={"grade": false, "grade_id": "add_k_smoothing", "locked": false, "schema_version": 3, "solution": true}
def add_k_smoothing(counts, k):
    """counts (V,) * n, k >= 0 -> p_k of the same shape, each row (last axis) summing to 1."""
    ### BEGIN SOLUTION
    vocab_size = counts.shape[-1]
    denominator = counts.sum(dim=-1, keepdim=True) + k * vocab_size  # (..., 1): c(u) + kV
    empty = denominator == 0  # a context never seen, with k = 0
    safe = torch.where(empty, torch.ones_like(denominator), denominator)
    return torch.where(empty, 1.0 / vocab_size, (counts + k) / safe)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "add_k_smoothing_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. Bigram counts over V = 3: the context 0 was followed by 0 twice and by 2
# once; the context 1 never occurs.
counts = torch.tensor([[2.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
probs = add_k_smoothing(counts, 1.0)
assert probs.shape == (3, 3), f"expected shape (3, 3); got {tuple(probs.shape)}"
# k = 1: row 0 is (2+1, 0+1, 1+1) / (3 + 3) = (1/2, 1/6, 1/3); an unseen context is uniform
expected = [[1 / 2, 1 / 6, 1 / 3], [1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]]
error = (probs - torch.tensor(expected)).abs().max().item()
assert error < 1e-12, f"k = 1: expected {expected}; got {probs.tolist()}"
# k = 0: the maximum-likelihood estimate (2/3, 0, 1/3), and the empty row is still uniform
probs = add_k_smoothing(counts, 0.0)
expected = [[2 / 3, 0.0, 1 / 3], [1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]]
error = (probs - torch.tensor(expected)).abs().max().item()
assert error < 1e-12, f"k = 0: expected {expected}; got {probs.tolist()}"
# unigram counts (1, 1, 2) with k = 1/2: (1.5, 1.5, 2.5) / (4 + 1.5) = (3/11, 3/11, 5/11)
probs = add_k_smoothing(torch.tensor([1.0, 1.0, 2.0]), 0.5)
error = (probs - torch.tensor([3 / 11, 3 / 11, 5 / 11])).abs().max().item()
assert error < 1e-12, f"unigrams, k = 0.5: expected (3/11, 3/11, 5/11); got {probs.tolist()}"
# no nan in the gradient of the empty row with k = 0
counts.requires_grad_(True)
(add_k_smoothing(counts, 0.0) * torch.arange(3.0)).sum().backward()
assert torch.isfinite(counts.grad).all(), (
    f"the gradient must be finite, also for an empty row with k = 0; got {counts.grad.tolist()}"
)
print("add_k_smoothing: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "add_k_smoothing_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for add_k_smoothing run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("add_k_smoothing", add_k_smoothing)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · Perplexity
#
# A model is scored on held-out text by its perplexity (困惑度), the exponential of the mean
# negative log-probability it gave to the $N$ tokens it had to predict:
#
# $$ \mathrm{PPL} = \exp\Big(-\frac{1}{N} \sum_{i=1}^{N} \ln p(y_i \mid \text{context}_i)\Big).
# \tag{1.6} $$
#
# A model that spreads its probability evenly over $V$ tokens has perplexity exactly $V$; a
# lower perplexity is a better model. (In bits, $\log_2 \mathrm{PPL}$ is the bits per token of
# Eq. (1.7).) A neural model gives *logits* $z$, and $p(y \mid \cdot) = \mathrm{softmax}(z)_y$,
# so
#
# $$ \ln p(y) = z_y - \ln \sum_v e^{z_v} . $$
#
# Write `perplexity_from_logits(logits, targets)` for logits `(N, V)` and target ids `(N,)`,
# or logits `(T, B, V)` and targets `(T, B)` (then $N = TB$); return a 0-dim tensor. Compute
# $\ln \sum_v e^{z_v}$ with `torch.logsumexp` or as $m + \ln \sum_v e^{z_v - m}$ with $m$ the
# largest logit: `torch.exp` overflows to `inf` above about 709, and the hidden tests use
# logits near ±800 (softmax does not change when every logit moves by the same amount, so the
# perplexity stays small there).


# %% nbgrader={"grade": false, "grade_id": "perplexity_from_logits", "locked": false, "schema_version": 3, "solution": true}
def perplexity_from_logits(logits, targets):
    """logits (N, V) or (T, B, V), targets (N,) or (T, B) of ids -> PPL, a 0-dim tensor."""
    ### BEGIN SOLUTION
    flat = logits.reshape(-1, logits.shape[-1])  # (N, V)
    flat_targets = targets.reshape(-1)  # (N,)
    log_norm = torch.logsumexp(flat, dim=-1)  # (N,): ln Σ_v exp(z_v)
    log_probs = flat.gather(1, flat_targets[:, None]).squeeze(1) - log_norm  # (N,): ln p(y_i)
    return torch.exp(-log_probs.mean())
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "perplexity_from_logits_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. Equal logits spread the probability evenly: the perplexity is V.
ppl = perplexity_from_logits(torch.zeros(4, 5), torch.tensor([0, 3, 1, 4]))
assert ppl.dim() == 0, f"expected a 0-dim tensor; got shape {tuple(ppl.shape)}"
assert abs(ppl.item() - 5) < 1e-12, f"uniform over V = 5: expected 5; got {ppl.item()}"
ppl = perplexity_from_logits(torch.zeros(2, 3, 7), torch.zeros(2, 3, dtype=torch.long))
assert abs(ppl.item() - 7) < 1e-12, f"(T, B, V) = (2, 3, 7), uniform: expected 7; got {ppl.item()}"
# logits (ln 3, 0) give p = (3/4, 1/4). Targets 0 then 1: exp(-(ln 3/4 + ln 1/4) / 2) = 4/√3.
logits = torch.tensor([[math.log(3), 0.0], [math.log(3), 0.0]])
ppl = perplexity_from_logits(logits, torch.tensor([0, 1]))
assert abs(ppl.item() - 4 / math.sqrt(3)) < 1e-12, (
    f"expected 4/√3 = {4 / math.sqrt(3):.6f}; got {ppl.item():.6f}"
)
# the same uniform model with every logit moved up by 1000: still 5, not nan or inf
ppl = perplexity_from_logits(torch.full((4, 5), 1000.0), torch.tensor([0, 3, 1, 4]))
assert abs(ppl.item() - 5) < 1e-9, (
    f"logits all equal to 1000: expected 5 (use the log-sum-exp form); got {ppl.item()}"
)
print("perplexity_from_logits: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "perplexity_from_logits_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for perplexity_from_logits run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("perplexity_from_logits", perplexity_from_logits)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4 · The neural language model of Bengio et al.
#
# An n-gram table cannot share what it learned about "the cat" with "a cat". The neural
# language model (神经网络语言模型) of Bengio et al. (2003) looks the last $K$ tokens up in an
# embedding table $C$ (`(V, E)`, one row per token), concatenates them **in order**, oldest
# first, and predicts the next token with one tanh hidden layer (row vectors, as in torch):
#
# $$ e = \big[\, C[x_{t-K+1}] \,;\, \dots \,;\, C[x_t] \,\big] \quad (KE,) \tag{1.9} $$
#
# $$ h = \tanh\big(e\, W_h^\top + b_h\big) \quad (H,) \tag{1.10} $$
#
# $$ z = h\, W_{\mathrm{out}}^\top + b_{\mathrm{out}}, \qquad
# p(x_{t+1} \mid x_{t-K+1}, \dots, x_t) = \mathrm{softmax}(z) \quad (V,) \tag{1.11} $$
#
# Write `mlp_lm_forward` for a batch: `context_ids (B, K)` (row `b` holds one context, oldest
# token first), `embedding (V, E)`, `weight_h (H, K·E)`, `bias_h (H,)`, `weight_out (V, H)`,
# `bias_out (V,)` → the logits `(B, V)` (not the probabilities). Either bias may be `None`
# (no bias). The entries `E·j … E·j + E - 1` of $e$ are the embedding of the context's token
# `j` (counting from 0).


# %% nbgrader={"grade": false, "grade_id": "mlp_lm_forward", "locked": false, "schema_version": 3, "solution": true}
def mlp_lm_forward(context_ids, embedding, weight_h, bias_h, weight_out, bias_out):
    """context_ids (B, K) long, embedding (V, E), weight_h (H, KE), bias_h (H,) or None,
    weight_out (V, H), bias_out (V,) or None -> logits (B, V)."""
    ### BEGIN SOLUTION
    batch = context_ids.shape[0]
    e = embedding[context_ids].reshape(batch, -1)  # (B, K, E) -> (B, KE), Eq. (1.9)
    pre = e @ weight_h.T  # (B, H)
    if bias_h is not None:
        pre = pre + bias_h
    h = torch.tanh(pre)  # Eq. (1.10)
    logits = h @ weight_out.T  # (B, V), Eq. (1.11)
    if bias_out is not None:
        logits = logits + bias_out
    return logits
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "mlp_lm_forward_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) Shapes: B = 4 contexts of n = 3 tokens, V = 7, E = 2, H = 5.
logits = mlp_lm_forward(
    torch.zeros(4, 3, dtype=torch.long),
    torch.zeros(7, 2),
    torch.zeros(5, 6),
    torch.zeros(5),
    torch.zeros(7, 5),
    torch.zeros(7),
)
assert logits.shape == (4, 7), f"expected logits (B, V) = (4, 7); got {tuple(logits.shape)}"

# 2) By hand, E = 1: C = (1, 2, 3) for the tokens 0, 1, 2; W_h = (1, -1), b_h = 2.5;
# W_out = (1, 0, -1) as a column, b_out = (0, 1, 0).
# Context (0, 2): e = (1, 3), h = tanh(1 - 3 + 2.5) = tanh(0.5), z = (h, 1, -h).
# Context (2, 0): e = (3, 1), h = tanh(3 - 1 + 2.5) = tanh(4.5): the order matters.
embedding = torch.tensor([[1.0], [2.0], [3.0]])
weight_h, bias_h = torch.tensor([[1.0, -1.0]]), torch.tensor([2.5])
weight_out, bias_out = torch.tensor([[1.0], [0.0], [-1.0]]), torch.tensor([0.0, 1.0, 0.0])
context = torch.tensor([[0, 2], [2, 0]])
logits = mlp_lm_forward(context, embedding, weight_h, bias_h, weight_out, bias_out)
h1, h2 = math.tanh(0.5), math.tanh(4.5)
expected = [[h1, 1.0, -h1], [h2, 1.0, -h2]]
assert (logits - torch.tensor(expected)).abs().max() < 1e-12, (
    f"expected {expected}; got {logits.tolist()}"
)
# without biases: context (0, 2) gives h = tanh(1 - 3) = tanh(-2), z = (h, 0, -h)
logits = mlp_lm_forward(context[:1], embedding, weight_h, None, weight_out, None)
h = math.tanh(-2.0)
assert (logits - torch.tensor([[h, 0.0, -h]])).abs().max() < 1e-12, (
    f"without biases: expected {[[h, 0.0, -h]]}; got {logits.tolist()}"
)

# 3) The layout of e, E = 2: C[0] = (0.1, 0.2), C[1] = (0.3, 0.4); the context (0, 1) gives
# e = (0.1, 0.2, 0.3, 0.4). Hidden unit 1 reads e's 2nd entry, unit 2 its 3rd: h = tanh(0.2, 0.3).
embedding = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
weight_h = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
logits = mlp_lm_forward(torch.tensor([[0, 1]]), embedding, weight_h, None, torch.eye(2), None)
expected = [[math.tanh(0.2), math.tanh(0.3)]]
assert (logits - torch.tensor(expected)).abs().max() < 1e-12, (
    f"e must be C[x_1] then C[x_2]: expected {expected}; got {logits.tolist()}"
)
print("mlp_lm_forward: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "mlp_lm_forward_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for mlp_lm_forward run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("mlp_lm_forward", mlp_lm_forward)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 5 · Temperature
#
# To generate text, a model's logits $z$ become a distribution to draw from. A temperature
# (温度) $\tau > 0$ reshapes it:
#
# $$ p_\tau(v) = \frac{\exp(z_v / \tau)}{\sum_u \exp(z_u / \tau)}. \tag{1.12} $$
#
# $\tau = 1$ is the model's own distribution, $\tau < 1$ sharpens it (towards always taking
# the most likely token) and $\tau > 1$ flattens it (towards uniform). Write
# `temperature_probs(logits, temperature)` for logits `(V,)` or `(B, V)` (any leading
# dimensions): the softmax over the **last** axis. Subtract each row's largest value before
# `torch.exp` (it changes nothing but keeps `exp` finite: the hidden tests use logits near
# 100 with $\tau = 0.1$), or use `torch.softmax`.


# %% nbgrader={"grade": false, "grade_id": "temperature_probs", "locked": false, "schema_version": 3, "solution": true}
def temperature_probs(logits, temperature):
    """logits (..., V), temperature > 0 -> probabilities (..., V), each row summing to 1."""
    ### BEGIN SOLUTION
    scaled = logits / temperature
    scaled = scaled - scaled.max(dim=-1, keepdim=True).values  # the largest is 0: no overflow
    weights = torch.exp(scaled)
    return weights / weights.sum(dim=-1, keepdim=True)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "temperature_probs_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. The logits (0, ln 2) weigh the tokens 1 : 2 at τ = 1, so p = (1/3, 2/3).
# τ = 1/2 squares the weights, 1 : 4, p = (1/5, 4/5); τ = 2 takes their square root,
# 1 : √2, p = (1, √2) / (1 + √2).
logits = torch.tensor([0.0, math.log(2)])
root2 = math.sqrt(2)
for tau, expected in [
    (1.0, [1 / 3, 2 / 3]),
    (0.5, [1 / 5, 4 / 5]),
    (2.0, [1 / (1 + root2), root2 / (1 + root2)]),
]:
    probs = temperature_probs(logits, tau)
    assert probs.shape == (2,), f"expected shape (2,); got {tuple(probs.shape)}"
    assert (probs - torch.tensor(expected)).abs().max() < 1e-12, (
        f"temperature {tau}: expected {expected}; got {probs.tolist()}"
    )
probs = temperature_probs(torch.zeros(3, 4), 0.7)
assert probs.shape == (3, 4) and (probs - 0.25).abs().max() < 1e-12, (
    f"(B, V) = (3, 4) of equal logits: expected 1/4 everywhere; got {probs.tolist()}"
)
# logits near 1000: the same 1 : 2, not nan
probs = temperature_probs(torch.tensor([1000.0, 1000.0 + math.log(2)]), 1.0)
assert (probs - torch.tensor([1 / 3, 2 / 3])).abs().max() < 1e-12, (
    f"logits (1000, 1000 + ln 2): expected (1/3, 2/3) (subtract the max); got {probs.tolist()}"
)
print("temperature_probs: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "temperature_probs_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for temperature_probs run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("temperature_probs", temperature_probs)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 6 · Drawing the next token
#
# A generator of text calls one function per step: given the logits of the next token, pick
# an id. Write `sample_next(logits, temperature=1.0, top_k=None, generator=None)`:
#
# - `temperature == 0` is **greedy** decoding (贪心): the id of the largest logit, no
#   randomness (the limit of Eq. (1.12) as $\tau \to 0$);
# - otherwise draw an id from $p_\tau$ of Eq. (1.12) (your `temperature_probs`);
# - with `top_k = k`, first keep only the $k$ largest logits of each row and set the others to
#   $-\infty$, so that they get probability 0 (top-k sampling, Eq. (1.13)); a `top_k` of $V$ or
#   more keeps every token.
#
# Logits `(V,)` give a 0-dim id, logits `(B, V)` one id per row, `(B,)`, as an `int64`
# tensor; each row is an independent draw. **Take every random number from `generator`** (a
# `torch.Generator`), so that a seeded generator gives the same text every time:
# `torch.multinomial(probs, 1, generator=generator)` draws one id per row of a `(B, V)` tensor
# of probabilities; an inverse-CDF draw with `torch.rand(..., generator=generator)` is fine too.
#
# The hidden tests give your function thousands of copies of a few rows of logits and compare
# how often each id comes up with its exact probability (and that an id of probability 0 never
# does), for several temperatures and values of `top_k`.


# %% nbgrader={"grade": false, "grade_id": "sample_next", "locked": false, "schema_version": 3, "solution": true}
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    """logits (V,) -> an id, LongTensor (); logits (B, V) -> ids (B,)."""
    ### BEGIN SOLUTION
    if temperature == 0:
        return logits.argmax(dim=-1)  # greedy
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1): the k-th largest
        logits = logits.masked_fill(logits < kth, -math.inf)  # Eq. (1.13)
    probs = temperature_probs(logits, temperature)  # (..., V)
    rows = probs.reshape(-1, probs.shape[-1])  # (B, V)
    ids = torch.multinomial(rows, 1, generator=generator).squeeze(-1)  # (B,)
    return ids.reshape(probs.shape[:-1])
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "sample_next_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) Greedy: temperature 0 picks the largest logit of each row.
ids = sample_next(torch.tensor([[0.0, 3.0, 1.0], [2.0, 0.0, 1.0]]), temperature=0)
assert ids.tolist() == [1, 0], f"greedy: expected ids [1, 0]; got {ids.tolist()}"
one = sample_next(torch.tensor([0.0, 3.0, 1.0]), temperature=0)
assert one.shape == () and one.item() == 1, f"greedy on (V,): expected tensor(1); got {one!r}"

# 2) Shapes and type: (V,) -> a 0-dim id, (B, V) -> (B,), int64.
one = sample_next(torch.zeros(5), generator=torch.Generator().manual_seed(0))
assert one.shape == () and one.dtype == torch.long, (
    f"logits (5,): expected a 0-dim int64 id; got shape {tuple(one.shape)}, {one.dtype}"
)
ids = sample_next(torch.zeros(3, 5), generator=torch.Generator().manual_seed(0))
assert ids.shape == (3,), f"logits (3, 5): expected ids (3,); got {tuple(ids.shape)}"

# 3) The generator decides: the same seed gives the same draws.
first = sample_next(torch.zeros(1000, 4), generator=torch.Generator().manual_seed(1))
again = sample_next(torch.zeros(1000, 4), generator=torch.Generator().manual_seed(1))
assert torch.equal(first, again), "the same seed must give the same ids: draw with `generator`"

# 4) Frequencies. The logits (0, ln 3) give p = (1/4, 3/4): over 4000 draws the share of id 1
# is 0.75 within 0.04 (six standard deviations, sqrt(0.75 · 0.25 / 4000) ≈ 0.007).
# At temperature 1/2 the weights 1 : 3 become 1 : 9, so the share of id 1 is 0.9.
logits = torch.tensor([[0.0, math.log(3)]]).repeat(4000, 1)
for tau, share in [(1.0, 0.75), (0.5, 0.9)]:
    ids = sample_next(logits, temperature=tau, generator=torch.Generator().manual_seed(2))
    got = ids.double().mean().item()
    assert abs(got - share) < 0.04, (
        f"temperature {tau}: expected id 1 in {share} of the draws; got {got:.3f}"
    )

# 5) top_k = 2 of the logits (0, 1, 2, 3) keeps the ids 2 and 3 only, with p ∝ (e², e³):
# the share of id 3 is e / (1 + e) ≈ 0.731.
logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]]).repeat(4000, 1)
ids = sample_next(logits, top_k=2, generator=torch.Generator().manual_seed(3))
assert set(ids.tolist()) <= {2, 3}, (
    f"top_k=2: only ids 2 and 3 may occur; got {sorted(set(ids.tolist()))}"
)
got = (ids == 3).double().mean().item()
assert abs(got - math.e / (1 + math.e)) < 0.04, (
    f"top_k=2: expected id 3 in 0.731 of the draws; got {got:.3f}"
)
print("sample_next: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "sample_next_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for sample_next run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("sample_next", sample_next)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 7 · A bag-of-words classifier
#
# Looking a token up in an embedding matrix $E$ (the argument `embedding`, one row per token)
# is the same as multiplying its one-hot (独热) vector by it,
# $\mathrm{onehot}(x)\, E = E[x]$ (Eq. 1.8), only $V$ times cheaper. The continuous bag of
# words (连续词袋, CBOW) classifier represents a sentence $x_1, \dots, x_L$ by the average of
# its words' embeddings and scores the classes linearly:
#
# $$ s = \frac{1}{L} \sum_{t=1}^{L} E[x_t], \qquad z = s\, W^\top + b . \tag{1.14} $$
#
# Sentences have different lengths, so a batch is padded: `token_ids (B, L)` with a boolean
# `mask (B, L)`, True on the real tokens. Padded places must not count, neither in the sum nor
# in the number of tokens $L$ (each sentence has its own), whatever id they hold; `mask=None`
# means there is no padding. Every sentence has at least one real token. With
# `reduction="sum"` leave out the $1/L$. Write `cbow_forward(token_ids, mask, embedding,
# weight, bias, reduction="mean")`: `embedding (V, E)`, `weight (C, E)`, `bias (C,)` or
# `None` → the logits `(B, C)`.


# %% nbgrader={"grade": false, "grade_id": "cbow_forward", "locked": false, "schema_version": 3, "solution": true}
def cbow_forward(token_ids, mask, embedding, weight, bias, reduction="mean"):
    """token_ids (B, L) long, mask (B, L) bool or None, embedding (V, E), weight (C, E),
    bias (C,) or None -> logits (B, C)."""
    ### BEGIN SOLUTION
    if mask is None:
        mask = torch.ones_like(token_ids, dtype=torch.bool)
    weights = mask.to(embedding.dtype)  # (B, L): 1 on real tokens, 0 on padding
    total = (embedding[token_ids] * weights[..., None]).sum(dim=1)  # (B, L, E) -> (B, E)
    if reduction == "mean":
        sentence = total / weights.sum(dim=1, keepdim=True)  # each sentence by its own length
    elif reduction == "sum":
        sentence = total
    else:
        raise ValueError(f"reduction must be 'mean' or 'sum'; got {reduction!r}")
    logits = sentence @ weight.T  # (B, C)
    if bias is not None:
        logits = logits + bias
    return logits
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "cbow_forward_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. E = 1: the tokens 0, 1, 2 have the embeddings 0, 1, 3; W = (1, -1) as a
# column, b = (0.5, 0). Sentence 1 is "1 2" plus one padded place (holding id 2); sentence 2
# is "2 1 1", no padding.
token_ids = torch.tensor([[1, 2, 2], [2, 1, 1]])
mask = torch.tensor([[True, True, False], [True, True, True]])
embedding = torch.tensor([[0.0], [1.0], [3.0]])
weight, bias = torch.tensor([[1.0], [-1.0]]), torch.tensor([0.5, 0.0])
# mean: s = (1 + 3) / 2 = 2 and (3 + 1 + 1) / 3 = 5/3, so z = (s + 0.5, -s)
logits = cbow_forward(token_ids, mask, embedding, weight, bias)
assert logits.shape == (2, 2), f"expected logits (B, C) = (2, 2); got {tuple(logits.shape)}"
expected = [[2.5, -2.0], [5 / 3 + 0.5, -5 / 3]]
assert (logits - torch.tensor(expected)).abs().max() < 1e-12, (
    f"mean: expected {expected}; got {logits.tolist()}"
)
# sum: s = 4 and 5
logits = cbow_forward(token_ids, mask, embedding, weight, bias, reduction="sum")
expected = [[4.5, -4.0], [5.5, -5.0]]
assert (logits - torch.tensor(expected)).abs().max() < 1e-12, (
    f"sum: expected {expected}; got {logits.tolist()}"
)
# no mask: every place counts, s = (1 + 3 + 3) / 3 = 7/3 for sentence 1; no bias
logits = cbow_forward(token_ids, None, embedding, weight, None)
expected = [[7 / 3, -7 / 3], [5 / 3, -5 / 3]]
assert (logits - torch.tensor(expected)).abs().max() < 1e-12, (
    f"mask None, no bias: expected {expected}; got {logits.tolist()}"
)
print("cbow_forward: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "cbow_forward_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for cbow_forward run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("cbow_forward", cbow_forward)
### END HIDDEN TESTS
