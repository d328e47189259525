# %% [markdown]
# # Assignment 9 · Sequence to sequence and attention (序列到序列与注意力机制)
#
# In this assignment you write the pieces of chapter 9 that turn an encoder–decoder
# (编码器-解码器) into a translator: two kinds of attention (注意力机制), one decoder step
# that reads the source through attention, and the beam search (束搜索) that turns the
# decoder's next-token distributions into a translation:
#
# | part | function | points |
# |---|---|---|
# | 1 | `additive_attention` — Bahdanau's additive score (加性注意力), masked, Eqs. (9.7), (9.11), (9.12) | 2 |
# | 2 | `dot_attention` — Luong's dot score (点积注意力) and its scaled form, Eqs. (9.8), (9.10) | 1 |
# | 3 | `attention_decoder_step` — one GRU decoder step with attention, Eqs. (9.4)–(9.6) | 3 |
# | 4 | `beam_search` — the $K$ best hypotheses, length-normalised, Eqs. (9.14)–(9.15) | 3 |
#
# **How it is graded.** Each function mirrors its twin in coursekit: the attention of
# `coursekit.attention` (`additive_score`, `dot_score`, `attend`, `DotAttention`), the step
# of `coursekit.seq2seq.Decoder.step` and `coursekit.beam_search.beam_search`. The visible
# tests below each part check shapes and cases small enough to work out by hand; when you
# submit, hidden tests compare your function with the reference on many random cases in
# float64: for the attention functions and the decoder step their outputs *and* their
# gradients with respect to every tensor argument, for the beam search its tokens, lengths
# and scores. The cases include padded sources, a row whose keys are all masked, a batch of
# one, sources that finish at different steps, length penalties of 0 and more, and a beam of
# one. A function counts if it passes every hidden case.
#
# **Rules.** Write your code in the cells marked `YOUR CODE HERE`, with tensor operations
# (`@`, `torch.tanh`, `torch.softmax`, `masked_fill`, `topk`, `gather`, indexing …).
# Calling an implementation of what you are asked to write scores zero for that function:
# `coursekit`, torch's `scaled_dot_product_attention` or `MultiheadAttention`, torch's
# `GRUCell`, `GRU` or `gru_cell`. Do not edit the other cells; they are restored from the
# original when grading.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math
from typing import NamedTuple

import torch

torch.set_default_dtype(torch.float64)
_ = torch.manual_seed(0)  # the random cases of the visible tests


class SearchResult(NamedTuple):
    """What beam_search returns: the best hypothesis of each of the B sources."""

    tokens: torch.Tensor  # (B, max_length): y_1 .. y_n (<eos> included), then <eos> as padding
    lengths: torch.Tensor  # (B,) int64: n = |Y|, the generated tokens, <eos> included
    scores: torch.Tensor  # (B,): log P(Y), Eq. (9.14)
    normalised_scores: torch.Tensor  # (B,): s(Y), Eq. (9.15), the ranking


def padding_mask(lengths, width):
    """A key padding mask (B, width), True on the first lengths[b] positions of row b."""
    return torch.arange(width)[None, :] < torch.as_tensor(lengths)[:, None]


def elman_model(vocab_size, hidden_size, scale=1.5):
    """A small random next-token model for the tests and demos: an Elman network that is fed
    ids 0..V (id V is <bos>, fed but never produced) and gives log-probabilities over the V
    tokens, ``step(ids (N,), h (N, H) or None) -> (log_probs (N, V), h)``, h = 0 when None."""
    E = scale * torch.randn(vocab_size + 1, hidden_size)
    W = torch.randn(hidden_size, hidden_size) / hidden_size**0.5
    U = scale * torch.randn(vocab_size, hidden_size)

    def step(ids, h):
        if h is None:
            h = torch.zeros(ids.shape[0], hidden_size)
        h = torch.tanh(E[ids] + h @ W.T)
        return torch.log_softmax(h @ U.T, dim=-1), h

    return step


# %% [markdown]
# ## Part 1 · Additive attention
#
# An RNN encoder reads a source sentence $x_1 \dots x_m$ into one state per word,
# $h_1, \dots, h_m$. Without attention the decoder sees only one fixed summary of them; with
# attention it computes, at every output step, a fresh context vector (上下文向量): it scores
# each source state against a query (the decoder's state), turns the scores into a
# distribution over the source positions, a soft alignment (软对齐), and reads the weighted
# average. Bahdanau et al. (2015) score with a one-hidden-layer network:
#
# $$ e_{j} = w^\top \tanh(W s + U h_j), \tag{9.7} $$
#
# with $W$ `(H, Q)`, $U$ `(H, K)` and $w$ `(H,)` (no biases; $Q$ is the query size, $K$ the
# key size, $H$ the size of the score's hidden layer). A batch of sources of different
# lengths is padded at the end; the key padding mask `mask` `(B, Tk)` is True at real words
# and False at padding, and the padded positions must take no part:
#
# $$ \alpha_{j} = \frac{\exp(e_{j})}{\sum_{j' \text{ kept}} \exp(e_{j'})} \text{ for a kept }
# j, \qquad \alpha_j = 0 \text{ for a masked } j, \tag{9.11} $$
#
# $$ c = \sum_j \alpha_{j} v_j . \tag{9.12} $$
#
# Here the keys $h_j$ (what is scored) and the values $v_j$ (what is averaged) are separate
# arguments; in the decoder of part 3 both are the encoder's states. `mask` may be None
# (every position kept). A row whose positions are all masked has nothing to normalise:
# give it all-zero weights and a zero context, and no nan anywhere, in the gradients either
# (a softmax over a row of $-\infty$ is $0/0$). `additive_attention` takes one query per
# sequence, `query` `(B, Q)`, and returns `(context (B, Dv), weights (B, Tk))`.


# %% nbgrader={"grade": false, "grade_id": "additive_attention", "locked": false, "schema_version": 3, "solution": true}
def additive_attention(query, keys, values, mask, W, U, w):
    """query (B, Q), keys (B, Tk, K), values (B, Tk, Dv), mask (B, Tk) bool (True = keep) or
    None, W (H, Q), U (H, K), w (H,) -> (context (B, Dv), weights (B, Tk)):
    Eqs. (9.7), (9.11), (9.12)."""
    ### BEGIN SOLUTION
    hidden = torch.tanh((query @ W.T)[:, None, :] + keys @ U.T)  # (B, Tk, H)
    scores = hidden @ w  # (B, Tk), Eq. (9.7)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)  # padding takes no part
    empty = (scores == -math.inf).all(dim=1, keepdim=True)  # rows with no key kept (B, 1)
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=1)  # Eq. (9.11)
    weights = weights.masked_fill(empty, 0.0)
    context = (weights[:, :, None] * values).sum(dim=1)  # (B, Dv), Eq. (9.12)
    return context, weights
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "additive_attention_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) Shapes.
B, Tk, Q, K, Dv, H = 2, 4, 3, 5, 2, 6
query, keys, values = torch.randn(B, Q), torch.randn(B, Tk, K), torch.randn(B, Tk, Dv)
W, U, w = torch.randn(H, Q), torch.randn(H, K), torch.randn(H)
context, weights = additive_attention(query, keys, values, None, W, U, w)
assert context.shape == (B, Dv), f"expected context ({B}, {Dv}); got {tuple(context.shape)}"
assert weights.shape == (B, Tk), f"expected weights ({B}, {Tk}); got {tuple(weights.shape)}"
# 2) Against Eq. (9.7) written out for every j, without a mask.
for b in range(B):
    e = torch.stack([w @ torch.tanh(W @ query[b] + U @ keys[b, j]) for j in range(Tk)])
    alpha = torch.exp(e) / torch.exp(e).sum()
    assert torch.allclose(weights[b], alpha), f"row {b}: expected α {alpha}; got {weights[b]}"
    assert torch.allclose(context[b], alpha @ values[b]), f"row {b}: c is not Σ_j α_j v_j"
# 3) By hand: keys all alike score alike, so the weights are uniform over the kept positions
# (1/3 on the first 3 of row 0, 1 on the first of row 1) and the context is the mean of the
# kept values.
same_keys = torch.randn(1, 1, K).expand(B, Tk, K)
mask = padding_mask([3, 1], Tk)
context, weights = additive_attention(query, same_keys, values, mask, W, U, w)
expected = torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0.0], [1.0, 0.0, 0.0, 0.0]])
assert torch.allclose(weights, expected), f"expected weights {expected}; got {weights}"
assert weights[0, 3] == 0 and (weights[1, 1:] == 0).all(), "padded weights must be exactly 0"
assert torch.allclose(context, torch.stack([values[0, :3].mean(0), values[1, 0]])), (
    f"expected the mean of the kept values; got {context}"
)
# 4) What sits at padded positions does not matter.
noisy = values.masked_fill(~mask[:, :, None], 1e3)
assert torch.allclose(additive_attention(query, same_keys, noisy, mask, W, U, w)[0], context), (
    "the context changed with the values at padded positions"
)
# 5) A row with every key masked: zero weights, zero context, and no nan in the gradient.
query.requires_grad_(True)
context, weights = additive_attention(query, keys, values, padding_mask([0, 2], Tk), W, U, w)
assert (weights[0] == 0).all() and (context[0] == 0).all(), (
    f"a fully masked row must give zeros; got weights {weights[0]}, context {context[0]}"
)
assert torch.allclose(weights[1].sum(), torch.tensor(1.0)), "kept weights must sum to 1"
(context.sum() + weights.sum()).backward()
assert not query.grad.isnan().any(), f"the gradient holds nan: {query.grad}"
print("additive_attention: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "additive_attention_hidden", "locked": true, "points": 2, "schema_version": 3, "solution": false}
# Hidden tests for additive_attention run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("additive_attention", additive_attention)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · Dot-product attention
#
# Luong et al. (2015) score with no parameters at all, when the query and the keys have the
# same size $K$:
#
# $$ e_j = s^\top h_j . \tag{9.8} $$
#
# A dot product of two vectors of $K$ entries of variance 1 has variance $K$: for large $K$
# the scores spread, the softmax saturates on one position and its gradient vanishes. The
# Transformer (Vaswani et al. 2017) divides by $\sqrt{K}$:
#
# $$ e_j = \frac{s^\top h_j}{\sqrt{K}} . \tag{9.10} $$
#
# `dot_attention(query, keys, values, mask, scaled=False)` computes (9.8), or (9.10) with
# `scaled=True`, followed by the same masked softmax and context as part 1, Eqs. (9.11)–
# (9.12), with the same conventions (reuse your code).


# %% nbgrader={"grade": false, "grade_id": "dot_attention", "locked": false, "schema_version": 3, "solution": true}
def dot_attention(query, keys, values, mask, scaled=False):
    """query (B, K), keys (B, Tk, K), values (B, Tk, Dv), mask (B, Tk) bool or None
    -> (context (B, Dv), weights (B, Tk)): Eq. (9.8), or (9.10) if scaled, then (9.11)-(9.12)."""
    ### BEGIN SOLUTION
    scores = (keys @ query[:, :, None])[:, :, 0]  # (B, Tk), s^T h_j, Eq. (9.8)
    if scaled:
        scores = scores / math.sqrt(keys.shape[-1])  # Eq. (9.10)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    empty = (scores == -math.inf).all(dim=1, keepdim=True)  # (B, 1)
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=1).masked_fill(empty, 0.0)
    return (weights[:, :, None] * values).sum(dim=1), weights  # Eqs. (9.11)-(9.12)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "dot_attention_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand: s = (1, 0), keys (2, 0), (0, 5), (1, 1) score 2, 0 and 1;
# scaled by sqrt(2).
query = torch.tensor([[1.0, 0.0]])
keys = torch.tensor([[[2.0, 0.0], [0.0, 5.0], [1.0, 1.0]]])
values = torch.tensor([[[1.0], [10.0], [100.0]]])
for scaled, scores in [(False, [2.0, 0.0, 1.0]), (True, [2 / 2**0.5, 0.0, 1 / 2**0.5])]:
    context, weights = dot_attention(query, keys, values, None, scaled=scaled)
    expected = torch.softmax(torch.tensor([scores]), dim=1)
    assert torch.allclose(weights, expected), f"scaled={scaled}: expected {expected}; got {weights}"
    assert torch.allclose(context, expected @ values[0]), f"scaled={scaled}: context {context}"
context, weights = dot_attention(query, keys, values, None)
assert torch.allclose(weights, torch.softmax(torch.tensor([[2.0, 0.0, 1.0]]), dim=1)), (
    "scaled must default to False"
)
# 2) The last key masked: the softmax of (2, 0) over the first two, 0 on the third.
context, weights = dot_attention(query, keys, values, padding_mask([2], 3))
expected = torch.tensor([[math.exp(2) / (math.exp(2) + 1), 1 / (math.exp(2) + 1), 0.0]])
assert torch.allclose(weights, expected), f"masked: expected {expected}; got {weights}"
# 3) Shapes, and a row with every key masked.
query, keys, values = torch.randn(3, 8), torch.randn(3, 5, 8), torch.randn(3, 5, 2)
context, weights = dot_attention(query, keys, values, padding_mask([5, 0, 1], 5), scaled=True)
assert context.shape == (3, 2) and weights.shape == (3, 5), (
    f"expected context (3, 2), weights (3, 5); got {tuple(context.shape)}, {tuple(weights.shape)}"
)
assert (weights[1] == 0).all() and (context[1] == 0).all(), "a fully masked row: zeros"
assert torch.allclose(weights[2], torch.tensor([1.0, 0, 0, 0, 0])), "one kept key gets all"
print("dot_attention: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "dot_attention_hidden", "locked": true, "points": 1, "schema_version": 3, "solution": false}
# Hidden tests for dot_attention run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("dot_attention", dot_attention)
### END HIDDEN TESTS

# %% [markdown]
# Why the scale: the largest weight of an unscaled dot attention over 10 random keys grows
# with the size $K$ until one key takes nearly everything; scaled by $\sqrt K$, the scores
# keep a variance of 1 and the weights stay spread out, whatever $K$ is (the mean over 1,000
# random queries).

# %% nbgrader={"grade": false, "grade_id": "scaling_demo_visible", "locked": true, "schema_version": 3, "solution": false}
demo = torch.Generator().manual_seed(9)
print(f"{'K':>5}{'largest weight, unscaled':>27}{'scaled':>9}")
for size in (4, 64, 1024):
    query = torch.randn(1000, size, generator=demo)
    keys = torch.randn(1000, 10, size, generator=demo)
    values = torch.zeros(1000, 10, 1)
    largest = [
        dot_attention(query, keys, values, None, scaled=s)[1].max(dim=1).values.mean().item()
        for s in (False, True)
    ]
    print(f"{size:5d}{largest[0]:27.3f}{largest[1]:9.3f}")

# %% [markdown]
# ## Part 3 · One decoder step with attention
#
# The decoder of chapter 9 is a GRU whose state $s_t$ generates the target one token at a
# time. At step $t$ it is fed the previous token $y_{t-1}$ (its embedding $E y_{t-1}$, a row
# of the embedding matrix) and its previous state $s_{t-1}$, and it reads the source
# through additive attention queried by $s_{t-1}$, before the step, as Bahdanau et al. do:
#
# $$ c_t = \sum_j \alpha_{tj} h_j, \qquad \alpha_t = \mathrm{softmax}_j\big(w^\top \tanh(W
# s_{t-1} + U h_j)\big) \quad \text{(masked, Eqs. (9.7), (9.11))}, \tag{9.4} $$
#
# $$ s_t = \mathrm{GRU}\big(s_{t-1}, [E y_{t-1}; c_t]\big), \tag{9.5} $$
#
# $$ \text{logits}_t = W_v \tanh\big(W_o [s_t; c_t; E y_{t-1}] + b_o\big) + b_v, \tag{9.6} $$
#
# and $g(y_t \mid \cdot) = \mathrm{softmax}(\text{logits}_t)$; $[a; b]$ is concatenation in
# that order. The encoder's states `memory` `(B, S, K)` are the keys and the values at once;
# `mask` `(B, S)` marks the real source words. The GRU step is chapter 4's, Eqs. (4.7)–
# (4.10), in torch's layout: `gru = (weight_ih (3H, E + K), weight_hh (3H, H), bias_ih (3H,),
# bias_hh (3H,))`, row blocks in the order r, z, n, and $b_{hn}$ inside the reset product,
# $n = \tanh(x W_{in}^\top + b_{in} + r \odot (h W_{hn}^\top + b_{hn}))$. The attention's
# weights are `attention = (W (A, H), U (A, K), w (A,))`, the readout's `readout = (W_o
# (O, H + K + E), b_o (O,), W_v (V, O), b_v (V,))`. Return the logits `(B, V)` (not the
# softmax), the new state $s_t$ `(B, H)` and the attention weights $\alpha_t$ `(B, S)`.
# Use your `additive_attention`; write the GRU step yourself.


# %% nbgrader={"grade": false, "grade_id": "attention_decoder_step", "locked": false, "schema_version": 3, "solution": true}
def attention_decoder_step(y_prev, s_prev, memory, mask, *, embedding, gru, attention, readout):
    """y_prev (B,) ids, s_prev (B, H), memory (B, S, K), mask (B, S) bool, embedding (V, E),
    gru (4 tensors), attention (W, U, w), readout (W_o, b_o, W_v, b_v)
    -> (logits (B, V), s (B, H), weights (B, S)): one step of Eqs. (9.4)-(9.6)."""
    ### BEGIN SOLUTION
    weight_ih, weight_hh, bias_ih, bias_hh = gru
    W, U, w = attention
    W_o, b_o, W_v, b_v = readout
    embedded = embedding[y_prev]  # E y_{t-1} (B, E)
    context, weights = additive_attention(s_prev, memory, memory, mask, W, U, w)  # Eq. (9.4)
    x = torch.cat([embedded, context], dim=-1)  # [E y_{t-1}; c_t] (B, E + K)
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)  # (B, H) each
    h_r, h_z, h_n = (s_prev @ weight_hh.T + bias_hh).chunk(3, dim=-1)  # (B, H) each
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)  # Eqs. (4.7)-(4.8)
    n = torch.tanh(x_n + r * h_n)  # Eq. (4.9), b_hn inside the reset product
    s = (1 - z) * n + z * s_prev  # s_t, Eq. (9.5) with (4.10)
    hidden = torch.tanh(torch.cat([s, context, embedded], dim=-1) @ W_o.T + b_o)  # (B, O)
    return hidden @ W_v.T + b_v, s, weights  # logits (B, V), Eq. (9.6)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "attention_decoder_step_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests, on a random decoder: B = 3 sources of S = 4 words (lengths 4, 2, 1).
B, S, E, H, K, A, O, V = 3, 4, 5, 6, 4, 3, 7, 8
gru_cell = torch.nn.GRUCell(E + K, H)  # torch's, to check yours against
weights = {
    "embedding": torch.randn(V, E),
    "gru": (gru_cell.weight_ih, gru_cell.weight_hh, gru_cell.bias_ih, gru_cell.bias_hh),
    "attention": (torch.randn(A, H), torch.randn(A, K), torch.randn(A)),
    "readout": (torch.randn(O, H + K + E) / 4, torch.randn(O), torch.randn(V, O), torch.randn(V)),
}
y_prev, s_prev = torch.tensor([1, 5, 7]), torch.randn(B, H)
memory, mask = torch.randn(B, S, K), padding_mask([4, 2, 1], S)
logits, s, alpha = attention_decoder_step(y_prev, s_prev, memory, mask, **weights)
assert logits.shape == (B, V), f"expected logits ({B}, {V}); got {tuple(logits.shape)}"
assert s.shape == (B, H) and alpha.shape == (B, S), (
    f"expected s ({B}, {H}) and weights ({B}, {S}); got {tuple(s.shape)}, {tuple(alpha.shape)}"
)
# 1) The attention is queried by s_{t-1} and reads the memory: Eq. (9.4).
context, expected = additive_attention(s_prev, memory, memory, mask, *weights["attention"])
assert torch.allclose(alpha, expected), "the weights are not those of s_{t-1} over the memory"
assert (alpha[1, 2:] == 0).all() and (alpha[2, 1:] == 0).all(), "padding must get weight 0"
# 2) The new state is a GRU step on [E y_{t-1}; c_t]: Eq. (9.5), torch's GRUCell.
embedded = weights["embedding"][y_prev]
with torch.no_grad():
    s_expected = gru_cell(torch.cat([embedded, context], dim=1), s_prev)
assert torch.allclose(s, s_expected), f"s_t differs from torch's GRUCell: {s} vs {s_expected}"
# 3) The logits are the readout of [s_t; c_t; E y_{t-1}]: Eq. (9.6).
W_o, b_o, W_v, b_v = weights["readout"]
readout_in = torch.cat([s_expected, context, embedded], dim=1)
expected = torch.tanh(readout_in @ W_o.T + b_o) @ W_v.T + b_v
assert torch.allclose(logits, expected), "the logits differ from Eq. (9.6)"
# 4) The padded memory is never read.
noisy = memory.masked_fill(~mask[:, :, None], 1e3)
again = attention_decoder_step(y_prev, s_prev, noisy, mask, **weights)
assert all(torch.allclose(a, b) for a, b in zip(again, (logits, s, alpha), strict=True)), (
    "the outputs changed with the memory at padded positions"
)
print("attention_decoder_step: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "attention_decoder_step_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for attention_decoder_step run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("attention_decoder_step", attention_decoder_step)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4 · Beam search
#
# A decoder gives $p(y \mid x) = \prod_t p(y_t \mid y_{<t}, x)$; the translation we want
# maximises it, but there are $V^T$ sequences of length $T$. Greedy search (贪心解码) takes
# the most probable token at every step and can walk into a prefix whose continuations are
# all poor. Beam search keeps a beam of the $K$ best hypotheses: at every step it extends
# each by every token ($K \cdot V$ candidates) and keeps the $K$ best. It is still a greedy
# strategy (贪心策略): a hypothesis that falls out of the beam never returns. Scores are sums
# of log-probabilities, and since they only fall as a hypothesis grows, short hypotheses
# would win; the length penalty (长度惩罚) of Wu et al. (2016, GNMT) corrects for it:
#
# $$ \log P(Y) = \sum_{t=1}^{n} \log p(y_t \mid y_{<t}, x), \tag{9.14} $$
#
# $$ s(Y) = \frac{\log P(Y)}{\mathrm{lp}(Y)}, \qquad \mathrm{lp}(Y) = \left(\frac{5 +
# |Y|}{6}\right)^{\alpha} , \tag{9.15} $$
#
# with $|Y| = n$ the number of generated tokens, <eos> included, <bos> not; $\alpha$ is
# `length_penalty` ($\alpha = 0$ ranks by $\log P(Y)$ itself).
#
# `beam_search(step, state, bos, eos, beam_size, max_length, length_penalty=0.0)` searches
# for $B$ sources at once:
#
# * `step(tokens (N,), state) -> (log_probs (N, V), new_state)` is the model: the
#   next-token log-probabilities of $N$ rows, each fed its previous token. `state` is None
#   or a tensor whose first dimension is $B$, one row per source; give the model $N = B K$
#   rows, row $bK + k$ for hypothesis $k$ of source $b$ (`repeat_interleave`), and after each
#   step reorder the rows of the new state so that each follows the hypothesis it extends.
#   `bos` `(B,)` holds each source's first input.
# * Step 1 extends only the first hypothesis of each source (the others start at
#   $\log P = -\infty$), so the beam does not fill with $K$ copies of one token. After that,
#   every unfinished hypothesis is extended by every token, and all candidates of a source
#   are ranked together by $s(Y)$ (9.15), each with its own length; keep the $K$ best.
#   Assume $K \le V$.
# * A hypothesis that has produced `eos` is finished: it stays in the beam as one candidate,
#   itself, with its score and length unchanged, and is never extended (feed it `eos`; what
#   the model returns for it is ignored). Stop when every hypothesis of every source is
#   finished, or after `max_length` tokens (hypotheses still open then end there, without
#   <eos>).
# * Return a `SearchResult` (setup cell) of the best hypothesis of each source: its tokens
#   `(B, max_length)`, padded with `eos` after its length, its length, $\log P(Y)$ and
#   $s(Y)$.
#
# No gradients are needed: you may run the search under `torch.no_grad()`.


# %% nbgrader={"grade": false, "grade_id": "beam_search", "locked": false, "schema_version": 3, "solution": true}
def beam_search(step, state, bos, eos, beam_size, max_length, length_penalty=0.0):
    """bos (B,) ids -> SearchResult(tokens (B, max_length), lengths (B,), scores (B,),
    normalised_scores (B,)): the best of K hypotheses by s(Y), Eqs. (9.14)-(9.15)."""
    ### BEGIN SOLUTION
    B, K = bos.shape[0], beam_size

    def lp(lengths):  # Eq. (9.15)
        return ((5 + lengths) / 6) ** length_penalty

    if state is not None:
        state = state.repeat_interleave(K, dim=0)  # (B*K, ...): row b*K + k
    tokens = bos.repeat_interleave(K)  # (B*K,)
    scores = torch.full((B, K), -math.inf)
    scores[:, 0] = 0.0  # only the first hypothesis is real at step 1
    finished = scores == -math.inf  # the empty ones are never extended
    lengths = torch.zeros(B, K, dtype=torch.long)
    sequences = torch.full((B, K, max_length), eos)  # (B, K, max_length), <eos> as padding
    for t in range(max_length):
        log_probs, state = step(tokens, state)  # (B*K, V)
        V = log_probs.shape[1]
        candidates = scores[:, :, None] + log_probs.reshape(B, K, V)  # (B, K, V), Eq. (9.14)
        # a finished hypothesis is one candidate (slot 0), itself, of unchanged score
        candidates = candidates.masked_fill(finished[:, :, None], -math.inf)
        candidates[:, :, 0] = torch.where(finished, scores, candidates[:, :, 0])
        candidate_lengths = torch.where(finished, lengths, t + 1)  # (B, K)
        ranked = candidates / lp(candidate_lengths)[:, :, None]  # s(Y), Eq. (9.15)
        best = ranked.reshape(B, K * V).topk(K, dim=1).indices  # (B, K) into the K*V
        parent, token = best // V, best % V  # (B, K) each
        scores = candidates.reshape(B, K * V).gather(1, best)
        lengths = candidate_lengths.gather(1, parent)
        was_finished = finished.gather(1, parent)
        sequences = sequences.gather(1, parent[:, :, None].expand(-1, -1, max_length))
        sequences[:, :, t] = torch.where(was_finished, eos, token)
        finished = was_finished | (token == eos)
        rows = (parent + K * torch.arange(B)[:, None]).reshape(-1)  # the parents' rows (B*K,)
        if state is not None:
            state = state[rows]
        tokens = torch.where(finished, eos, token).reshape(-1)  # (B*K,)
        if finished.all():
            break
    normalised = scores / lp(lengths)
    return SearchResult(sequences[:, 0], lengths[:, 0], scores[:, 0], normalised[:, 0])
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "beam_search_visible", "locked": true, "schema_version": 3, "solution": false}
# Visible tests. 1) By hand, the notes' example (tokens A, B, C = ids 1, 2, 3; <eos> = 0 has
# probability 0; <bos> = 4): p(A) = .5, p(B) = .4, p(C) = .1, then
# p(. | A) = (.45, .35, .20), p(. | B) = (.1, .1, .8), p(. | C) = (.9, .05, .05).
# Of the 3 x 3 = 9 extensions a beam of 3 keeps BC .32, AA .225, AB .175: BC is the best.
# Greedy search (a beam of 1) takes A, then A: AA, .225.
def notes_example(tokens, state):
    first, after = (0.5, 0.4, 0.1), {1: (0.45, 0.35, 0.2), 2: (0.1, 0.1, 0.8), 3: (0.9, 0.05, 0.05)}
    rows = [(0.0, *(first if t == 4 else after.get(t, (1 / 3,) * 3))) for t in tokens.tolist()]
    return torch.tensor(rows).log(), state


BOS, EOS = torch.tensor([4]), 0
found = beam_search(notes_example, None, BOS, EOS, 3, 2)
assert isinstance(found, tuple) and len(found) == 4, "expected a SearchResult of four fields"
assert found.tokens.tolist() == [[2, 3]], f"a beam of 3: expected BC, [[2, 3]]; got {found.tokens}"
assert found.lengths.tolist() == [2], f"expected length 2; got {found.lengths}"
assert torch.allclose(found.scores.exp(), torch.tensor([0.32])), f"P(BC) = .32; got {found.scores}"
greedy = beam_search(notes_example, None, BOS, EOS, 1, 2)
assert greedy.tokens.tolist() == [[1, 1]], f"a beam of 1: expected AA; got {greedy.tokens}"
assert torch.allclose(greedy.scores.exp(), torch.tensor([0.225])), f"P(AA) = .225; got {greedy}"


# 2) By hand, the length penalty: from <bos>, p(<eos>) = .4, p(A) = .6; after A,
# p(<eos>) = .6, p(A) = .4. With α = 0 the best is (<eos>), log .4 = -0.916, over (A, <eos>),
# log .36 = -1.022. With α = 1, lp = (5 + n) / 6: s(<eos>) = -0.916 / 1, but
# s(A, <eos>) = -1.022 / (7/6) = -0.876 wins. (<eos>) finished at step 1 and is kept as it is.
def short_or_long(tokens, state):
    rows = [(0.4, 0.6, 0.0) if t == 2 else (0.6, 0.4, 0.0) for t in tokens.tolist()]
    return torch.tensor(rows).log(), state  # <eos> = 0, A = 1, <bos> = 2


for alpha, tokens, log_p in [(0.0, [0, 0], math.log(0.4)), (1.0, [1, 0], math.log(0.36))]:
    found = beam_search(short_or_long, None, torch.tensor([2]), EOS, 2, 2, alpha)
    assert found.tokens.tolist() == [tokens], f"α = {alpha}: expected {tokens}; got {found.tokens}"
    assert torch.allclose(found.scores, torch.tensor([log_p])), f"α = {alpha}: {found.scores}"
    n = 1 if tokens[0] == 0 else 2
    assert found.lengths.tolist() == [n], f"α = {alpha}: expected length {n}; got {found.lengths}"
    expected = log_p / ((5 + n) / 6) ** alpha
    assert torch.allclose(found.normalised_scores, torch.tensor([expected])), (
        f"α = {alpha}: expected s(Y) = {expected:.4f}; got {found.normalised_scores}"
    )


# 3) A random model, 4 sources given by their initial states: the scores are the model's
# log-probabilities of the returned tokens (rerun it over them), s(Y) is log P / lp, nothing
# follows the first <eos>.
def rerun(step, state, bos, tokens, length):
    """log P of one source's tokens[:length], Eq. (9.14), by running the model over them."""
    total, fed = 0.0, bos
    for token in tokens[:length].tolist():
        log_probs, state = step(fed, state)
        total, fed = total + log_probs[0, token].item(), torch.tensor([token])
    return total


V, H, B = 6, 5, 4
model, sources, bos = elman_model(V, H), 1.5 * torch.randn(B, H), torch.full((B,), V)
with torch.no_grad():
    found = beam_search(model, sources, bos, EOS, 3, 7, 0.6)
assert found.tokens.shape == (B, 7), f"expected tokens ({B}, 7); got {tuple(found.tokens.shape)}"
for b in range(B):
    n, row = found.lengths[b].item(), found.tokens[b]
    assert 1 <= n <= 7, f"source {b}: a length of {n}"
    assert (row[n:] == EOS).all() and (row[: n - 1] != EOS).all(), f"source {b}: tokens {row}"
    log_p = rerun(model, sources[b : b + 1], bos[:1], row, n)
    assert abs(found.scores[b].item() - log_p) < 1e-10, f"source {b}: log P is {log_p}"
    expected = log_p / ((5 + n) / 6) ** 0.6
    assert abs(found.normalised_scores[b].item() - expected) < 1e-10, f"source {b}: s(Y)"
# 4) A beam of 1 is greedy search: the arg-max at every step, until <eos>.
with torch.no_grad():
    found = beam_search(model, sources, bos, EOS, 1, 7)
    for b in range(B):
        fed, h, greedy = bos[:1], sources[b : b + 1], []
        while len(greedy) < 7 and EOS not in greedy:
            log_probs, h = model(fed, h)
            greedy.append(log_probs[0].argmax().item())
            fed = torch.tensor(greedy[-1:])
        got = found.tokens[b, : found.lengths[b]].tolist()
        assert got == greedy, f"source {b}, a beam of 1: expected greedy {greedy}; got {got}"
print("beam_search: visible tests passed")

# %% nbgrader={"grade": true, "grade_id": "beam_search_hidden", "locked": true, "points": 3, "schema_version": 3, "solution": false}
# Hidden tests for beam_search run here when the assignment is graded.
### BEGIN HIDDEN TESTS
from coursekit.grading.checks import check_function

check_function("beam_search", beam_search)
### END HIDDEN TESTS

# %% [markdown]
# What a wider beam buys, on 200 sources of a random model (at most 12 tokens): the mean
# $\log P(Y)$ of the best hypothesis found (α = 0) rises with the beam size $K$, fast at first
# and then hardly at all. Much of the gain comes from finding short hypotheses that end early
# (those of greedy search run nearly to the limit): ranked by $\log P(Y)$ alone, the wider the
# beam, the shorter the output. The length penalty (α = 1) keeps the hypotheses longer.

# %% nbgrader={"grade": false, "grade_id": "beam_width_demo_visible", "locked": true, "schema_version": 3, "solution": false}
model = elman_model(8, 6)
sources = 1.5 * torch.randn(200, 6, generator=torch.Generator().manual_seed(4))
bos = torch.full((200,), 8)
print(" K   mean log P (α = 0)   mean length (α = 0)   mean length (α = 1)")
with torch.no_grad():
    for size in (1, 2, 4, 8):
        plain = beam_search(model, sources, bos, EOS, size, 12)
        penalised = beam_search(model, sources, bos, EOS, size, 12, 1.0)
        print(
            f"{size:2d} {plain.scores.mean():20.3f} {plain.lengths.double().mean():21.2f}"
            f" {penalised.lengths.double().mean():21.2f}"
        )
