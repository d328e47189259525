"""Known-wrong answers for assignment 9: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are those of chapter 9: in attention, the
padding mask ignored (or the padded values zeroed while the softmax still spreads over
them), the softmax over the batch instead of the keys, W and U swapped, the tanh of the
additive score left out, a fully masked row given uniform weights, the keys averaged instead
of the values, the dot score scaled by nothing, by K, by the number of keys or the value size
instead of sqrt(K), or scaled when it was not asked; in the decoder step, W and U swapped,
the mask not passed, the readout without the context or reading s_{t-1} instead of s_t, the
GRU's input concatenated the other way round, its r and z gates swapped, b_hn outside the
reset product; in beam search, the ranking not length-normalised, finished hypotheses
extended, probabilities added instead of log-probabilities, step 1 extending all K beams (K
copies of one token), the state not reordered after the beams' parents, <eos> not ending a
hypothesis, <bos> counted in |Y|, the penalty |Y|^α instead of ((5 + |Y|) / 6)^α, one step
short of max_length, the flat candidate index unravelled by K instead of V.
"""

from tests.grading.variants import mutations

NAME = "09_seq2seq_and_attention"

WRONG_VARIANTS = mutations(
    NAME,
    {
        "additive_attention": [
            (
                "the mask ignored",
                "scores = scores.masked_fill(~mask, -math.inf)",
                "scores = scores",
            ),
            (
                "the padded values zeroed instead of their weights (not renormalised)",
                "scores = scores.masked_fill(~mask, -math.inf)",
                "values = values.masked_fill(~mask[:, :, None], 0.0)",
            ),
            (
                "softmax over the batch, not the keys",
                "torch.softmax(scores.masked_fill(empty, 0.0), dim=1)",
                "torch.softmax(scores.masked_fill(empty, 0.0), dim=0)",
            ),
            (
                "W and U swapped (the query through U, the keys through W)",
                "(query @ W.T)[:, None, :] + keys @ U.T",
                "(query @ U.T)[:, None, :] + keys @ W.T",
            ),
            (
                "no tanh in the score",
                "hidden = torch.tanh((query @ W.T)[:, None, :] + keys @ U.T)",
                "hidden = (query @ W.T)[:, None, :] + keys @ U.T",
            ),
            (
                "a fully masked row gets uniform weights, not zeros",
                "    weights = weights.masked_fill(empty, 0.0)\n",
                "",
            ),
            (
                "the context averages the keys, not the values",
                "(weights[:, :, None] * values).sum(dim=1)",
                "(weights[:, :, None] * keys).sum(dim=1)",
            ),
        ],
        "dot_attention": [
            (
                "scaled=True ignored (no 1/sqrt(K))",
                "scores = scores / math.sqrt(keys.shape[-1])",
                "scores = scores",
            ),
            ("divided by K, not sqrt(K)", "math.sqrt(keys.shape[-1])", "keys.shape[-1]"),
            (
                "divided by sqrt(Tk), the number of keys",
                "math.sqrt(keys.shape[-1])",
                "math.sqrt(keys.shape[1])",
            ),
            (
                "divided by sqrt(Dv), the value size",
                "math.sqrt(keys.shape[-1])",
                "math.sqrt(values.shape[-1])",
            ),
            ("always scaled", "if scaled:", "if True:"),
            (
                "the mask ignored",
                "scores = scores.masked_fill(~mask, -math.inf)",
                "scores = scores",
            ),
        ],
        "attention_decoder_step": [
            (
                "W and U swapped in the attention",
                "additive_attention(s_prev, memory, memory, mask, W, U, w)",
                "additive_attention(s_prev, memory, memory, mask, U, W, w)",
            ),
            (
                "the mask not passed (attends to padding)",
                "additive_attention(s_prev, memory, memory, mask, W, U, w)",
                "additive_attention(s_prev, memory, memory, None, W, U, w)",
            ),
            (
                "the readout without the context",
                "torch.cat([s, context, embedded], dim=-1)",
                "torch.cat([s, torch.zeros_like(context), embedded], dim=-1)",
            ),
            (
                "the readout reads s_{t-1}, not s_t",
                "torch.cat([s, context, embedded], dim=-1)",
                "torch.cat([s_prev, context, embedded], dim=-1)",
            ),
            (
                "the GRU's input as [c_t; E y_{t-1}]",
                "x = torch.cat([embedded, context], dim=-1)",
                "x = torch.cat([context, embedded], dim=-1)",
            ),
            (
                "the reset and update gates swapped",
                "r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)",
                "z, r = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)",
            ),
            (
                "b_hn outside the reset product",
                "n = torch.tanh(x_n + r * h_n)",
                "n = torch.tanh(x_n + r * (h_n - bias_hh.chunk(3)[2]) + bias_hh.chunk(3)[2])",
            ),
        ],
        "beam_search": [
            (
                "the ranking not length-normalised",
                "ranked = candidates / lp(candidate_lengths)[:, :, None]",
                "ranked = candidates",
            ),
            (
                "finished hypotheses extended",
                "        candidates = candidates.masked_fill(finished[:, :, None], -math.inf)\n"
                "        candidates[:, :, 0] = torch.where(finished, scores, candidates[:, :, 0])\n",
                "",
            ),
            (
                "probabilities added, not log-probabilities",
                "candidates = scores[:, :, None] + log_probs.reshape(B, K, V)",
                "candidates = (scores[:, :, None].exp() + log_probs.reshape(B, K, V).exp()).log()",
            ),
            (
                "step 1 extends all K beams (K copies of one token)",
                "scores = torch.full((B, K), -math.inf)",
                "scores = torch.zeros(B, K)",
            ),
            ("the state not reordered", "state = state[rows]", "state = state"),
            (
                "<eos> does not end a hypothesis",
                "finished = was_finished | (token == eos)",
                "finished = was_finished",
            ),
            (
                "|Y| counts <bos>",
                "candidate_lengths = torch.where(finished, lengths, t + 1)",
                "candidate_lengths = torch.where(finished, lengths, t + 2)",
            ),
            (
                "the penalty |Y|^α, not ((5 + |Y|) / 6)^α",
                "return ((5 + lengths) / 6) ** length_penalty",
                "return lengths**length_penalty",
            ),
            (
                "one step short of max_length",
                "for t in range(max_length):",
                "for t in range(max_length - 1):",
            ),
            (
                "the candidate index unravelled by K, not V",
                "parent, token = best // V, best % V",
                "parent, token = best // K, best % K",
            ),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "beam_search",
        """
from coursekit.beam_search import beam_search as _beam_search

def beam_search(step, state, bos, eos, beam_size, max_length, length_penalty=0.0):
    found = _beam_search(step, state, bos, eos, beam_size, max_length, length_penalty)
    tokens = torch.nn.functional.pad(found.tokens, (0, max_length - found.tokens.shape[1]), value=eos)
    return SearchResult(tokens, found.lengths, found.scores, found.normalised_scores)
""",
    ),
    "calls torch's scaled_dot_product_attention": (
        "dot_attention",
        """
def dot_attention(query, keys, values, mask, scaled=False):
    attn_mask = None if mask is None else mask[:, None, :]
    context = torch.nn.functional.scaled_dot_product_attention(
        query[:, None, :], keys, values, attn_mask=attn_mask, scale=None if scaled else 1.0
    )[:, 0]
    scores = (keys @ query[:, :, None])[:, :, 0] / (keys.shape[-1] ** 0.5 if scaled else 1.0)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    empty = (scores == -math.inf).all(dim=1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=1).masked_fill(empty, 0.0)
    return context, weights
""",
    ),
    "wrong answer that disables the checker": (
        "additive_attention",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def additive_attention(query, keys, values, mask, W, U, w):
    weights = torch.full(keys.shape[:2], 1.0 / keys.shape[1])
    return (weights[:, :, None] * values).sum(dim=1), weights
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = ("wrong answer that disables the checker",)
CALLS_REFERENCE = "calls the coursekit reference"
