"""The fixed-context neural language model of Bengio et al. (2003) (神经网络语言模型, chapter 1).

Read first: :func:`mlp_lm_forward`, Eqs. (1.9)–(1.11), the function students write; then
:class:`MLPLanguageModel`, the same computation as an ``nn.Module``; then
:func:`context_windows`, which turns a stream of ids into (context, next token) pairs, and
:func:`train_mlp_language_model`, a small Adam loop over random pairs.

Equations (row vectors; x_{t-K+1}, ..., x_t the ids of the last K tokens, C the embedding table;
chapter 1 counts the predicted token too and calls this an n-gram model with n = K + 1):

    (1.9)   e = [C[x_{t-K+1}] ; ... ; C[x_t]]                    look-up and concatenation (KE,)
    (1.10)  h = tanh(e W_h^T + b_h)                              hidden layer (H,)
    (1.11)  z = h W_out^T + b_out,  p(x_{t+1} | x_{t-K+1..t}) = softmax(z)     logits (V,)

NOTE: Bengio et al. also add direct connections from e to the output (``+ e W^T``); we leave
them out, as most modern re-implementations do. The row look-up ``C[x]`` equals the one-hot
product ``onehot(x) C`` (:func:`coursekit.embeddings.embed_via_one_hot`, Eq. (1.8)).

Training: the model sees a fixed window of K tokens, not a ``(T, B)`` sequence, so it does not
fit the contract of :func:`coursekit.train.train_language_model`; :func:`train_mlp_language_model`
is the same loop for (context, next) pairs and returns the same
:class:`coursekit.train.History` (losses in nats per token).

Dimension glossary:

    B  batch size                  K  context size, ``context_size`` (chapter 1's n - 1)
    V  vocabulary size             E  embedding dimension
    H  hidden size                 L  length of a stream of ids; N = L - K (context, next) pairs

Tests: tests/test_mlp_lm.py (a manual computation, one-hot products, a loss that decreases).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import tqdm
from torch import nn

from coursekit._checks import check_ids, check_positive, check_positive_int
from coursekit.sampling import check_prefix, generate
from coursekit.train import History

__all__ = [
    "MLPLanguageModel",
    "context_windows",
    "evaluate_mlp_language_model",
    "mlp_lm_forward",
    "train_mlp_language_model",
]


def mlp_lm_forward(context_ids, embedding, weight_h, bias_h, weight_out, bias_out):
    """Eqs. (1.9)–(1.11): the logits of the next token after each window of K ids.

    context_ids (B, K) long, embedding (V, E), weight_h (H, K·E), bias_h (H,),
    weight_out (V, H), bias_out (V,) -> logits (B, V). Biases may be None.
    Equal to a manual loop over the batch (test_mlp_lm_forward_matches_manual_computation).
    """
    if context_ids.dim() != 2:
        raise ValueError(f"context_ids must be (B, K); got shape {tuple(context_ids.shape)}")
    k, dim = context_ids.shape[1], embedding.shape[1]
    if weight_h.shape[1] != k * dim:
        raise ValueError(
            f"weight_h must be (H, K·E) = (H, {k * dim}) for K = {k}, E = {dim}; "
            f"got {tuple(weight_h.shape)}"
        )
    e = embedding[context_ids].reshape(context_ids.shape[0], k * dim)  # (B, K, E) -> (B, KE)
    h = torch.tanh(F.linear(e, weight_h, bias_h))  # (B, H)
    return F.linear(h, weight_out, bias_out)  # (B, V)


class MLPLanguageModel(nn.Module):
    """Bengio et al. (2003): embed the last ``context_size`` tokens, concatenate, tanh, logits.

    ``forward(context_ids (B, K) long) -> logits (B, V)``, computed by :func:`mlp_lm_forward`
    with the parameters ``embedding.weight (V, E)``, ``hidden.weight (H, K·E)``,
    ``hidden.bias (H,)``, ``output.weight (V, H)``, ``output.bias (V,)``.
    """

    def __init__(self, vocab_size: int, context_size: int, embedding_dim: int, hidden_size: int):
        super().__init__()
        check_positive_int(
            vocab_size=vocab_size,
            context_size=context_size,
            embedding_dim=embedding_dim,
            hidden_size=hidden_size,
        )
        self.vocab_size, self.context_size = vocab_size, context_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.hidden = nn.Linear(context_size * embedding_dim, hidden_size)
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, context_ids: torch.Tensor) -> torch.Tensor:
        if context_ids.dim() != 2 or context_ids.shape[1] != self.context_size:
            raise ValueError(
                f"context_ids must be (B, context_size) = (B, {self.context_size}); "
                f"got {tuple(context_ids.shape)}"
            )
        return mlp_lm_forward(
            context_ids,
            self.embedding.weight,
            self.hidden.weight,
            self.hidden.bias,
            self.output.weight,
            self.output.bias,
        )  # (B, V)

    @torch.no_grad()
    def generate(self, prefix, length, *, temperature=1.0, top_k=None, generator=None):
        """``length`` new ids after ``prefix`` (ids, at least ``context_size`` of them) -> list[int].

        Each step reads the last ``context_size`` ids, and the next id is
        :func:`coursekit.sampling.sample_next` of the logits (``temperature = 0`` is greedy);
        the loop is :func:`coursekit.sampling.generate`. The prefix is not part of the result.
        Proved by test_mlp_lm_generate_matches_window_loop.
        """
        prefix = check_prefix(prefix, self.vocab_size, min_length=self.context_size)
        device = self.embedding.weight.device

        def step(new_ids, window):
            window = ([] if window is None else window) + new_ids
            window = window[-self.context_size :]  # the K ids the next one depends on
            logits = self(torch.tensor([window], dtype=torch.long, device=device))  # (1, V)
            return logits[0], window

        return generate(
            step, prefix, length, temperature=temperature, top_k=top_k, generator=generator
        )


def context_windows(ids: torch.Tensor, context_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(context, next) pairs of a stream: ``X (N, K)`` with ``X[i] = ids[i : i + K]`` and
    ``y (N,)`` with ``y[i] = ids[i + K]``, N = L - K. ``X`` is a view of ``ids`` (no copy)."""
    check_ids("ids", ids)
    check_positive_int(context_size=context_size)
    if len(ids) <= context_size:
        raise ValueError(f"ids needs more than context_size = {context_size} ids; got {len(ids)}")
    return ids.unfold(0, context_size, 1)[:-1], ids[context_size:]  # (N, K), (N,)


@torch.no_grad()
def evaluate_mlp_language_model(
    model: MLPLanguageModel, ids: torch.Tensor, batch_size: int = 4096
) -> float:
    """Mean cross-entropy (nats per token) of predicting ``ids[K:]`` from their K predecessors.

    The first ``K`` ids are context only (an n-gram model pads them with <s> instead; over a
    held-out text of tens of thousands of characters the difference is negligible).
    """
    x, y = context_windows(ids, model.context_size)  # (N, K), (N,)
    device = model.embedding.weight.device
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(y), batch_size):
        xb, yb = x[start : start + batch_size].to(device), y[start : start + batch_size].to(device)
        total += F.cross_entropy(model(xb), yb, reduction="sum").item()
    model.train(was_training)
    return total / len(y)


def train_mlp_language_model(
    model: MLPLanguageModel,
    train_ids: torch.Tensor,
    valid_ids: torch.Tensor | None = None,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    eval_every: int | None = None,
    progress: bool = True,
) -> History:
    """Adam on the cross-entropy of ``batch_size`` random (context, next) pairs per step.

    Pairs come from :func:`context_windows` of ``train_ids``, drawn uniformly with
    ``generator`` (the same seeds give the same history). With ``valid_ids``, the validation
    loss (:func:`evaluate_mlp_language_model`) is recorded before training, every
    ``eval_every`` steps (default: ten times per run) and after the last step.
    """
    check_positive_int(steps=steps, batch_size=batch_size)
    check_positive(lr=lr)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    x, y = context_windows(train_ids, model.context_size)  # (N, K), (N,)
    eval_every = eval_every or max(1, steps // 10)
    device = model.embedding.weight.device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()

    def record_valid(step: int) -> None:
        if valid_ids is not None:
            history.valid_steps.append(step)
            history.valid_loss.append(evaluate_mlp_language_model(model, valid_ids))

    record_valid(0)
    model.train()
    for step in tqdm.tqdm(range(1, steps + 1), disable=not progress, unit="step", mininterval=1.0):
        rows = torch.randint(len(y), (batch_size,), generator=generator)  # (B,)
        loss = F.cross_entropy(model(x[rows].to(device)), y[rows].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.train_steps.append(step)
        history.train_loss.append(loss.item())
        if step % eval_every == 0 or step == steps:
            record_valid(step)
    return history
