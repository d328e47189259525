"""Known-wrong answers for assignment 1: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
The mistakes are the plausible ones of chapter 1: an n-gram window off by one, reversed or
padded, duplicates lost by a vectorised ``+=``; a smoothing denominator without ``kV``,
normalised over the wrong axis or dividing by zero; cross-entropy reported instead of
perplexity, an average of per-token perplexities, ``exp`` without the log-sum-exp form; the
context concatenated backwards or interleaved, a missing tanh or bias; the temperature
multiplied, the softmax over the wrong axis; a sampler that ignores the temperature or top-k,
keeps one token too many or too few, is always greedy, divides by a temperature of 0 or loses
the shape of a single row; padding averaged in, the wrong reduction, a dropped bias.
"""

NGRAM_COUNTS = {
    "off by one: drops the last n-gram": """
def ngram_counts(ids, n, vocab_size):
    counts = torch.zeros((vocab_size,) * n, dtype=torch.float64)
    for i in range(len(ids) - n):
        counts[tuple(ids[i : i + n].tolist())] += 1
    return counts
""",
    "n-grams reversed (next token first)": """
def ngram_counts(ids, n, vocab_size):
    counts = torch.zeros((vocab_size,) * n, dtype=torch.float64)
    for i in range(len(ids) - n + 1):
        counts[tuple(ids[i : i + n].flip(0).tolist())] += 1
    return counts
""",
    "pads the start with n - 1 zeros": """
def ngram_counts(ids, n, vocab_size):
    padded = torch.cat([torch.zeros(n - 1, dtype=torch.long), ids])
    counts = torch.zeros((vocab_size,) * n, dtype=torch.float64)
    for i in range(len(padded) - n + 1):
        counts[tuple(padded[i : i + n].tolist())] += 1
    return counts
""",
    "vectorised += counts a repeated n-gram once": """
def ngram_counts(ids, n, vocab_size):
    counts = torch.zeros((vocab_size,) * n, dtype=torch.float64)
    if len(ids) >= n:
        windows = ids.unfold(0, n, 1)  # (L - n + 1, n)
        counts[tuple(windows.T)] += 1
    return counts
""",
    "unfold without the L < n case (crashes)": """
def ngram_counts(ids, n, vocab_size):
    counts = torch.zeros((vocab_size,) * n, dtype=torch.float64)
    windows = ids.unfold(0, n, 1)
    counts.index_put_(tuple(windows.T), torch.ones(len(windows)), accumulate=True)
    return counts
""",
    "non-overlapping windows (stride n)": """
def ngram_counts(ids, n, vocab_size):
    counts = torch.zeros((vocab_size,) * n, dtype=torch.float64)
    for i in range(0, len(ids) - n + 1, n):
        counts[tuple(ids[i : i + n].tolist())] += 1
    return counts
""",
}

ADD_K_SMOOTHING = {
    "k not multiplied by V in the denominator": """
def add_k_smoothing(counts, k):
    vocab_size = counts.shape[-1]
    denominator = counts.sum(dim=-1, keepdim=True) + k
    empty = denominator == 0
    safe = torch.where(empty, torch.ones_like(denominator), denominator)
    return torch.where(empty, 1.0 / vocab_size, (counts + k) / safe)
""",
    "adds k to the numerator only": """
def add_k_smoothing(counts, k):
    vocab_size = counts.shape[-1]
    denominator = counts.sum(dim=-1, keepdim=True)
    empty = denominator == 0
    safe = torch.where(empty, torch.ones_like(denominator), denominator)
    return torch.where(empty, 1.0 / vocab_size, (counts + k) / safe)
""",
    "normalises over the first axis": """
def add_k_smoothing(counts, k):
    vocab_size = counts.shape[0]
    denominator = counts.sum(dim=0, keepdim=True) + k * vocab_size
    empty = denominator == 0
    safe = torch.where(empty, torch.ones_like(denominator), denominator)
    return torch.where(empty, 1.0 / vocab_size, (counts + k) / safe)
""",
    "divides by zero for an unseen context with k = 0 (nan)": """
def add_k_smoothing(counts, k):
    vocab_size = counts.shape[-1]
    return (counts + k) / (counts.sum(dim=-1, keepdim=True) + k * vocab_size)
""",
    "torch.where around the plain division (nan gradient)": """
def add_k_smoothing(counts, k):
    vocab_size = counts.shape[-1]
    denominator = counts.sum(dim=-1, keepdim=True) + k * vocab_size
    return torch.where(denominator == 0, 1.0 / vocab_size, (counts + k) / denominator)
""",
    "normalises by the whole table's total": """
def add_k_smoothing(counts, k):
    vocab_size = counts.shape[-1]
    denominator = counts.sum() + k * counts.numel()
    if denominator == 0:
        return torch.full_like(counts, 1.0 / vocab_size)
    return (counts + k) / denominator
""",
}

PERPLEXITY_FROM_LOGITS = {
    "returns the cross-entropy (no exp)": """
def perplexity_from_logits(logits, targets):
    flat = logits.reshape(-1, logits.shape[-1])
    log_probs = flat.gather(1, targets.reshape(-1, 1)).squeeze(1) - torch.logsumexp(flat, dim=-1)
    return -log_probs.mean()
""",
    "exp of the mean negative log2-probability": """
def perplexity_from_logits(logits, targets):
    flat = logits.reshape(-1, logits.shape[-1])
    log_probs = flat.gather(1, targets.reshape(-1, 1)).squeeze(1) - torch.logsumexp(flat, dim=-1)
    return torch.exp(-(log_probs / math.log(2)).mean())
""",
    "mean of the per-token perplexities": """
def perplexity_from_logits(logits, targets):
    flat = logits.reshape(-1, logits.shape[-1])
    log_probs = flat.gather(1, targets.reshape(-1, 1)).squeeze(1) - torch.logsumexp(flat, dim=-1)
    return torch.exp(-log_probs).mean()
""",
    "softmax over the first axis": """
def perplexity_from_logits(logits, targets):
    flat = logits.reshape(-1, logits.shape[-1])
    log_probs = torch.log_softmax(flat, dim=0).gather(1, targets.reshape(-1, 1)).squeeze(1)
    return torch.exp(-log_probs.mean())
""",
    "no log-sum-exp: log of exp(z) / sum exp(z) (overflows)": """
def perplexity_from_logits(logits, targets):
    flat = logits.reshape(-1, logits.shape[-1])
    weights = torch.exp(flat)
    probs = weights / weights.sum(dim=-1, keepdim=True)
    log_probs = torch.log(probs.gather(1, targets.reshape(-1, 1)).squeeze(1))
    return torch.exp(-log_probs.mean())
""",
    "sums the log-probabilities instead of averaging": """
def perplexity_from_logits(logits, targets):
    flat = logits.reshape(-1, logits.shape[-1])
    log_probs = flat.gather(1, targets.reshape(-1, 1)).squeeze(1) - torch.logsumexp(flat, dim=-1)
    return torch.exp(-log_probs.sum())
""",
}

MLP_LM_FORWARD = {
    "concatenates the context in reverse order": """
def mlp_lm_forward(context_ids, embedding, weight_h, bias_h, weight_out, bias_out):
    e = embedding[context_ids.flip(1)].reshape(context_ids.shape[0], -1)
    pre = e @ weight_h.T + (bias_h if bias_h is not None else 0)
    return torch.tanh(pre) @ weight_out.T + (bias_out if bias_out is not None else 0)
""",
    "stacks the embeddings on the last axis (interleaved features)": """
def mlp_lm_forward(context_ids, embedding, weight_h, bias_h, weight_out, bias_out):
    vectors = [embedding[context_ids[:, j]] for j in range(context_ids.shape[1])]
    e = torch.stack(vectors, dim=-1).reshape(context_ids.shape[0], -1)
    pre = e @ weight_h.T + (bias_h if bias_h is not None else 0)
    return torch.tanh(pre) @ weight_out.T + (bias_out if bias_out is not None else 0)
""",
    "no tanh": """
def mlp_lm_forward(context_ids, embedding, weight_h, bias_h, weight_out, bias_out):
    e = embedding[context_ids].reshape(context_ids.shape[0], -1)
    h = e @ weight_h.T + (bias_h if bias_h is not None else 0)
    return h @ weight_out.T + (bias_out if bias_out is not None else 0)
""",
    "relu instead of tanh": """
def mlp_lm_forward(context_ids, embedding, weight_h, bias_h, weight_out, bias_out):
    e = embedding[context_ids].reshape(context_ids.shape[0], -1)
    pre = e @ weight_h.T + (bias_h if bias_h is not None else 0)
    return torch.relu(pre) @ weight_out.T + (bias_out if bias_out is not None else 0)
""",
    "output bias dropped": """
def mlp_lm_forward(context_ids, embedding, weight_h, bias_h, weight_out, bias_out):
    e = embedding[context_ids].reshape(context_ids.shape[0], -1)
    pre = e @ weight_h.T + (bias_h if bias_h is not None else 0)
    return torch.tanh(pre) @ weight_out.T
""",
    "hidden bias added after the tanh": """
def mlp_lm_forward(context_ids, embedding, weight_h, bias_h, weight_out, bias_out):
    e = embedding[context_ids].reshape(context_ids.shape[0], -1)
    h = torch.tanh(e @ weight_h.T) + (bias_h if bias_h is not None else 0)
    return h @ weight_out.T + (bias_out if bias_out is not None else 0)
""",
}

TEMPERATURE_PROBS = {
    "multiplies the logits by the temperature": """
def temperature_probs(logits, temperature):
    return torch.softmax(logits * temperature, dim=-1)
""",
    "softmax over dim 0": """
def temperature_probs(logits, temperature):
    return torch.softmax(logits / temperature, dim=0)
""",
    "softmax over dim 1 (fails on a (V,) row)": """
def temperature_probs(logits, temperature):
    return torch.softmax(logits / temperature, dim=1)
""",
    "not normalised": """
def temperature_probs(logits, temperature):
    scaled = logits / temperature
    return torch.exp(scaled - scaled.max(dim=-1, keepdim=True).values)
""",
    "no max subtracted (exp overflows)": """
def temperature_probs(logits, temperature):
    weights = torch.exp(logits / temperature)
    return weights / weights.sum(dim=-1, keepdim=True)
""",
}

SAMPLE_NEXT = {
    "temperature multiplies the logits instead of dividing them": """
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits * temperature, dim=-1)
    rows = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(rows, 1, generator=generator).squeeze(-1).reshape(probs.shape[:-1])
""",
    "top_k off by one: keeps k + 1 tokens": """
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.sort(dim=-1, descending=True).values[..., top_k : top_k + 1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = temperature_probs(logits, temperature)
    rows = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(rows, 1, generator=generator).squeeze(-1).reshape(probs.shape[:-1])
""",
    "top_k off by one: keeps k - 1 tokens (<= instead of <)": """
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits <= kth, -math.inf)
    probs = temperature_probs(logits, temperature)
    rows = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(rows, 1, generator=generator).squeeze(-1).reshape(probs.shape[:-1])
""",
    "ignores top_k": """
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = temperature_probs(logits, temperature)
    rows = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(rows, 1, generator=generator).squeeze(-1).reshape(probs.shape[:-1])
""",
    "ignores the temperature (except 0)": """
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = temperature_probs(logits, 1.0)
    rows = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(rows, 1, generator=generator).squeeze(-1).reshape(probs.shape[:-1])
""",
    "always greedy": """
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    return logits.argmax(dim=-1)
""",
    "temperature 0 not special-cased (divides by zero)": """
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits / temperature, dim=-1)
    rows = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(rows, 1, generator=generator).squeeze(-1).reshape(probs.shape[:-1])
""",
    "a (V,) row gives shape (1,), not a 0-dim id": """
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = temperature_probs(logits, temperature).reshape(-1, logits.shape[-1])
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
""",
}

CBOW_FORWARD = {
    "averages the padded places too": """
def cbow_forward(token_ids, mask, embedding, weight, bias, reduction="mean"):
    vectors = embedding[token_ids]
    sentence = vectors.mean(dim=1) if reduction == "mean" else vectors.sum(dim=1)
    return sentence @ weight.T + (bias if bias is not None else 0)
""",
    "sums the real tokens but divides by the padded length": """
def cbow_forward(token_ids, mask, embedding, weight, bias, reduction="mean"):
    if mask is None:
        mask = torch.ones_like(token_ids, dtype=torch.bool)
    total = (embedding[token_ids] * mask[..., None]).sum(dim=1)
    sentence = total / token_ids.shape[1] if reduction == "mean" else total
    return sentence @ weight.T + (bias if bias is not None else 0)
""",
    "always sums (ignores reduction)": """
def cbow_forward(token_ids, mask, embedding, weight, bias, reduction="mean"):
    if mask is None:
        mask = torch.ones_like(token_ids, dtype=torch.bool)
    sentence = (embedding[token_ids] * mask[..., None]).sum(dim=1)
    return sentence @ weight.T + (bias if bias is not None else 0)
""",
    "bias dropped": """
def cbow_forward(token_ids, mask, embedding, weight, bias, reduction="mean"):
    if mask is None:
        mask = torch.ones_like(token_ids, dtype=torch.bool)
    weights = mask.to(embedding.dtype)
    total = (embedding[token_ids] * weights[..., None]).sum(dim=1)
    sentence = total / weights.sum(dim=1, keepdim=True) if reduction == "mean" else total
    return sentence @ weight.T
""",
    "returns the softmax of the scores": """
def cbow_forward(token_ids, mask, embedding, weight, bias, reduction="mean"):
    if mask is None:
        mask = torch.ones_like(token_ids, dtype=torch.bool)
    weights = mask.to(embedding.dtype)
    total = (embedding[token_ids] * weights[..., None]).sum(dim=1)
    sentence = total / weights.sum(dim=1, keepdim=True) if reduction == "mean" else total
    return torch.softmax(sentence @ weight.T + (bias if bias is not None else 0), dim=-1)
""",
}

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = {
    "ngram_counts": NGRAM_COUNTS,
    "add_k_smoothing": ADD_K_SMOOTHING,
    "perplexity_from_logits": PERPLEXITY_FROM_LOGITS,
    "mlp_lm_forward": MLP_LM_FORWARD,
    "temperature_probs": TEMPERATURE_PROBS,
    "sample_next": SAMPLE_NEXT,
    "cbow_forward": CBOW_FORWARD,
}

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
