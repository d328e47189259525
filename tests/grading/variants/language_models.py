"""Known-wrong answers for assignment 1: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are the plausible ones of chapter 1: an
n-gram window off by one, reversed or padded, duplicates lost by a vectorised ``+=``; a
smoothing denominator without ``kV``, normalised over the wrong axis or dividing by zero;
cross-entropy reported instead of perplexity, an average of per-token perplexities, ``exp``
without the log-sum-exp form; the context concatenated backwards or interleaved, a missing
tanh or bias; the temperature multiplied, the softmax over the wrong axis; a sampler that
ignores the temperature or top-k, keeps one token too many or too few, is always greedy,
divides by a temperature of 0 or loses the shape of a single row; padding averaged in, the
wrong reduction, a dropped bias.
"""

from tests.grading.variants import mutations

NAME = "01_language_models"

# The solution's counting loop, which two variants replace with a vectorised count.
_NGRAM_LOOP = (
    "    for i in range(len(ids) - n + 1):  # the L - n + 1 windows ids[i : i + n]\n"
    "        counts[tuple(ids[i : i + n].tolist())] += 1\n"
)

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = mutations(
    NAME,
    {
        "ngram_counts": [
            (
                "off by one: drops the last n-gram",
                "range(len(ids) - n + 1)",
                "range(len(ids) - n)",
            ),
            (
                "n-grams reversed (next token first)",
                "ids[i : i + n].tolist()",
                "ids[i : i + n].flip(0).tolist()",
            ),
            (
                "pads the start with n - 1 zeros",
                "    for i in range(",
                "    ids = torch.cat([torch.zeros(n - 1, dtype=torch.long), ids])\n"
                "    for i in range(",
            ),
            (
                "vectorised += counts a repeated n-gram once",
                _NGRAM_LOOP,
                "    if len(ids) >= n:\n"
                "        counts[tuple(ids.unfold(0, n, 1).T)] += 1  # (L - n + 1, n) windows\n",
            ),
            (
                "unfold without the L < n case (crashes)",
                _NGRAM_LOOP,
                "    windows = ids.unfold(0, n, 1)\n"
                "    counts.index_put_(tuple(windows.T), torch.ones(len(windows)), accumulate=True)\n",
            ),
            (
                "non-overlapping windows (stride n)",
                "range(len(ids) - n + 1)",
                "range(0, len(ids) - n + 1, n)",
            ),
        ],
        "add_k_smoothing": [
            ("k not multiplied by V in the denominator", " + k * vocab_size", " + k"),
            (
                "adds k to the numerator only",
                "counts.sum(dim=-1, keepdim=True) + k * vocab_size",
                "counts.sum(dim=-1, keepdim=True)",
            ),
            (
                # every axis of the table has V entries, so only the summed axis changes
                "normalises over the first axis",
                "counts.sum(dim=-1, keepdim=True)",
                "counts.sum(dim=0, keepdim=True)",
            ),
            (
                "divides by zero for an unseen context with k = 0 (nan)",
                "return torch.where(empty, 1.0 / vocab_size, (counts + k) / safe)",
                "return (counts + k) / denominator",
            ),
            (
                "torch.where around the plain division (nan gradient)",
                "(counts + k) / safe)",
                "(counts + k) / denominator)",
            ),
            (
                "normalises by the whole table's total",
                "counts.sum(dim=-1, keepdim=True) + k * vocab_size",
                "counts.sum() + k * counts.numel()",
            ),
        ],
        "perplexity_from_logits": [
            (
                "returns the cross-entropy (no exp)",
                "return torch.exp(-log_probs.mean())",
                "return -log_probs.mean()",
            ),
            (
                "exp of the mean negative log2-probability",
                "torch.exp(-log_probs.mean())",
                "torch.exp(-(log_probs / math.log(2)).mean())",
            ),
            (
                "mean of the per-token perplexities",
                "torch.exp(-log_probs.mean())",
                "torch.exp(-log_probs).mean()",
            ),
            (
                "softmax over the first axis",
                "flat.gather(1, flat_targets[:, None]).squeeze(1) - log_norm",
                "torch.log_softmax(flat, dim=0).gather(1, flat_targets[:, None]).squeeze(1)",
            ),
            (
                # ln Σ exp(z) summed as written: exp overflows for large logits
                "no log-sum-exp: log of exp(z) / sum exp(z) (overflows)",
                "torch.logsumexp(flat, dim=-1)",
                "torch.log(torch.exp(flat).sum(dim=-1))",
            ),
            (
                "sums the log-probabilities instead of averaging",
                "-log_probs.mean()",
                "-log_probs.sum()",
            ),
        ],
        "mlp_lm_forward": [
            (
                "concatenates the context in reverse order",
                "embedding[context_ids]",
                "embedding[context_ids.flip(1)]",
            ),
            (
                "stacks the embeddings on the last axis (interleaved features)",
                "embedding[context_ids].reshape(batch, -1)",
                "embedding[context_ids].transpose(1, 2).reshape(batch, -1)",
            ),
            ("no tanh", "h = torch.tanh(pre)", "h = pre"),
            ("relu instead of tanh", "h = torch.tanh(pre)", "h = torch.relu(pre)"),
            (
                "output bias dropped",
                "    if bias_out is not None:\n        logits = logits + bias_out\n",
                "",
            ),
            (
                "hidden bias added after the tanh",
                "h = torch.tanh(pre)",
                "h = torch.tanh(e @ weight_h.T) + (0 if bias_h is None else bias_h)",
            ),
        ],
        "temperature_probs": [
            (
                "multiplies the logits by the temperature",
                "logits / temperature",
                "logits * temperature",
            ),
            (
                "softmax over dim 0",
                "return weights / weights.sum(dim=-1, keepdim=True)",
                "return torch.softmax(logits / temperature, dim=0)",
            ),
            (
                "softmax over dim 1 (fails on a (V,) row)",
                "return weights / weights.sum(dim=-1, keepdim=True)",
                "return torch.softmax(logits / temperature, dim=1)",
            ),
            (
                "not normalised",
                "return weights / weights.sum(dim=-1, keepdim=True)",
                "return weights",
            ),
            (
                "no max subtracted (exp overflows)",
                "    scaled = scaled - scaled.max(dim=-1, keepdim=True).values"
                "  # the largest is 0: no overflow\n",
                "",
            ),
        ],
        "sample_next": [
            (
                "temperature multiplies the logits instead of dividing them",
                "probs = temperature_probs(logits, temperature)",
                "probs = torch.softmax(logits * temperature, dim=-1)",
            ),
            (
                # the (k + 1)-th largest logit is the threshold
                "top_k off by one: keeps k + 1 tokens",
                "torch.topk(logits, top_k, dim=-1)",
                "torch.topk(logits, top_k + 1, dim=-1)",
            ),
            (
                "top_k off by one: keeps k - 1 tokens (<= instead of <)",
                "logits < kth",
                "logits <= kth",
            ),
            (
                "ignores top_k",
                "        logits = logits.masked_fill(logits < kth, -math.inf)  # Eq. (1.13)\n",
                "",
            ),
            (
                "ignores the temperature (except 0)",
                "temperature_probs(logits, temperature)",
                "temperature_probs(logits, 1.0)",
            ),
            # a temperature is never negative: every call takes the greedy branch
            ("always greedy", "if temperature == 0:", "if temperature >= 0:"),
            (
                "temperature 0 not special-cased (divides by zero)",
                "    if temperature == 0:\n        return logits.argmax(dim=-1)  # greedy\n",
                "",
            ),
            (
                "a (V,) row gives shape (1,), not a 0-dim id",
                "return ids.reshape(probs.shape[:-1])",
                "return ids",
            ),
        ],
        "cbow_forward": [
            (
                "averages the padded places too",
                "weights = mask.to(embedding.dtype)",
                "weights = torch.ones_like(mask, dtype=embedding.dtype)",
            ),
            (
                "sums the real tokens but divides by the padded length",
                "total / weights.sum(dim=1, keepdim=True)",
                "total / token_ids.shape[1]",
            ),
            (
                "always sums (ignores reduction)",
                "sentence = total / weights.sum(dim=1, keepdim=True)",
                "sentence = total",
            ),
            ("bias dropped", "    if bias is not None:\n        logits = logits + bias\n", ""),
            (
                "returns the softmax of the scores",
                "return logits\n",
                "return torch.softmax(logits, dim=-1)\n",
            ),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "perplexity_from_logits",
        """
from coursekit.sampling import perplexity_from_logits
""",
    ),
    "calls torch.nn.functional.cross_entropy": (
        "perplexity_from_logits",
        """
def perplexity_from_logits(logits, targets):
    flat = logits.reshape(-1, logits.shape[-1])
    return torch.exp(torch.nn.functional.cross_entropy(flat, targets.reshape(-1)))
""",
    ),
    "calls torch.nn.functional.embedding_bag": (
        "cbow_forward",
        """
def cbow_forward(token_ids, mask, embedding, weight, bias, reduction="mean"):
    if mask is None:
        mask = torch.ones_like(token_ids, dtype=torch.bool)
    weights = mask.to(embedding.dtype)
    if reduction == "mean":
        weights = weights / weights.sum(dim=1, keepdim=True)
    batch, length = token_ids.shape
    sentence = torch.nn.functional.embedding_bag(
        token_ids.reshape(-1),
        embedding,
        torch.arange(0, batch * length, length),
        mode="sum",
        per_sample_weights=weights.reshape(-1),
    )
    return torch.nn.functional.linear(sentence, weight, bias)
""",
    ),
    "wrong answer that disables the checker": (
        "ngram_counts",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def ngram_counts(ids, n, vocab_size):
    return torch.zeros((vocab_size,) * n)
""",
    ),
    "greedy sampler that switches off the distribution check": (
        "sample_next",
        """
import coursekit.grading.specs as _specs
_specs.SPECS["sample_next"].compare = lambda case, got, expected: None

def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    return logits.argmax(dim=-1)
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = (
    "wrong answer that disables the checker",
    "greedy sampler that switches off the distribution check",
)
CALLS_REFERENCE = "calls the coursekit reference"
