"""One small training loop for character- and word-level language models.

Every chapter that trains a language model uses this loop, so the chapters can talk about the
model and not about the bookkeeping. Read :func:`train_language_model` first.

The model contract: ``model(x)`` takes token ids ``x`` of shape ``(T, B)`` and returns either
the logits ``(T, B, V)`` or a tuple ``(logits, state)``. A model that returns a state must also
accept it back as ``model(x, state)``; :func:`evaluate_language_model` then carries the state
from one window to the next, so a long text is scored as one unbroken sequence.

Losses are cross-entropies in nats per token (natural log); ``History`` converts to bits
(divide by ln 2), the unit the book reports for characters.

Dimensions: ``T`` window length (time), ``B`` batch, ``V`` vocabulary size, ``N`` tokens per
batch column after :func:`coursekit.data.batchify`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
import tqdm

from coursekit._checks import check_ids, check_positive, check_positive_int
from coursekit.data import batchify, bptt_windows, random_windows

__all__ = ["History", "evaluate_language_model", "train_language_model"]


@dataclass
class History:
    """Losses recorded by :func:`train_language_model`, in nats per token.

    ``train_loss[i]`` is the mean loss of the minibatch at step ``train_steps[i]`` (before that
    step's update); ``valid_loss[j]`` is the loss on the validation ids after
    ``valid_steps[j]`` updates (step 0 is the untrained model).
    """

    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    valid_steps: list[int] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)

    @property
    def train_bits(self) -> list[float]:
        return [loss / math.log(2) for loss in self.train_loss]

    @property
    def valid_bits(self) -> list[float]:
        return [loss / math.log(2) for loss in self.valid_loss]


def _logits_and_state(output):
    """Split a model's output into (logits (T, B, V), state or None)."""
    if isinstance(output, tuple):
        return output[0], output[1]
    return output, None


def _loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction
    )


@torch.no_grad()
def evaluate_language_model(
    model: torch.nn.Module, ids: torch.Tensor, seq_len: int, batch_size: int
) -> float:
    """Mean cross-entropy (nats per token) of predicting ``ids[t + 1]`` from ``ids[: t + 1]``.

    The ids are laid out as ``batch_size`` contiguous columns (:func:`coursekit.data.batchify`
    drops the few tokens that do not fill the last row) and read in windows of ``seq_len``;
    a model that returns a state gets it back for the next window, so with ``batch_size=1``
    the result is the loss of one pass over the whole text. The model is put in eval mode and
    restored to its previous mode afterwards.
    """
    check_positive_int(seq_len=seq_len, batch_size=batch_size)
    check_ids("ids", ids, min_length=2 * batch_size)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for x, y in bptt_windows(batchify(ids, batch_size), seq_len):  # (T, B) each
        x, y = x.to(device), y.to(device)
        logits, state = _logits_and_state(model(x) if state is None else model(x, state))
        total += _loss(logits, y, reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count


def train_language_model(
    model: torch.nn.Module,
    train_ids: torch.Tensor,
    valid_ids: torch.Tensor | None = None,
    *,
    steps: int,
    seq_len: int,
    batch_size: int,
    lr: float,
    clip: float | None = None,
    generator: torch.Generator,
    eval_every: int | None = None,
    eval_batch_size: int = 32,
    progress: bool = True,
) -> History:
    """Train ``model`` to predict the next token with Adam; return the recorded losses.

    Each step draws ``batch_size`` windows of ``seq_len + 1`` tokens at random positions of
    ``train_ids`` (:func:`coursekit.data.random_windows`, driven by ``generator``), runs the
    model from its default initial state, and takes one Adam step on the mean cross-entropy.
    ``clip`` rescales the gradient to at most that global norm first (chapter 5).

    With ``valid_ids``, the validation loss (:func:`evaluate_language_model`) is recorded
    before training, every ``eval_every`` steps (default: ten times per run) and after the last
    step. The progress bar (plain ``tqdm`` on stderr) shows an exponentially weighted running mean
    of the train loss and the latest validation loss.
    Tensors go to the device of the model's parameters. The same seeds give the same history.
    """
    check_positive_int(
        steps=steps, seq_len=seq_len, batch_size=batch_size, eval_batch_size=eval_batch_size
    )
    if eval_every is not None:
        check_positive_int(eval_every=eval_every)
    check_positive(lr=lr, clip=clip)
    check_ids("train_ids", train_ids, min_length=seq_len + 1)
    if valid_ids is not None:
        check_ids("valid_ids", valid_ids, min_length=2 * eval_batch_size)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    eval_every = eval_every or max(1, steps // 10)
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()

    def record_valid(step: int) -> None:
        if valid_ids is not None:
            history.valid_steps.append(step)
            history.valid_loss.append(
                evaluate_language_model(model, valid_ids, seq_len, eval_batch_size)
            )

    record_valid(0)
    model.train()
    running = None
    bar = tqdm.tqdm(range(1, steps + 1), disable=not progress, unit="step", mininterval=1.0)
    for step in bar:
        x, y = random_windows(train_ids, seq_len, batch_size, generator)  # (T, B) each
        x, y = x.to(device), y.to(device)
        logits, _ = _logits_and_state(model(x))  # (T, B, V)
        loss = _loss(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()

        history.train_steps.append(step)
        history.train_loss.append(loss.item())
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % eval_every == 0 or step == steps:
            record_valid(step)
            model.train()
        if progress and (step % 10 == 0 or step == steps):
            postfix = {"loss": f"{running:.3f}"}
            if history.valid_loss:
                postfix["valid"] = f"{history.valid_loss[-1]:.3f}"
            bar.set_postfix(postfix, refresh=False)
    return history
