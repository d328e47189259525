"""One-hot vectors, embeddings, and bag-of-words sentence classifiers (词嵌入, chapter 1).

Read first: :func:`one_hot` and :func:`embed_via_one_hot`, which show Eq. (1.8): multiplying
a one-hot vector by the embedding matrix picks a row, so an embedding layer is a linear layer
on one-hot inputs, computed as a look-up. Then :func:`cbow_forward` (Eq. (1.14)), the
function students write, and the three classifiers of the sentiment example:
:class:`CBOW`, :class:`DeepCBOW` (Eq. (1.15)) and :class:`BagOfNGrams` (Eq. (1.16)).
:func:`train_classifier` trains any of them; :func:`coursekit.data.load_rt_polarity` and
:func:`coursekit.data.rt_polarity_split` give the data (Pang and Lee 2005;
``coursekit/data/README.md``).

Equations (row vectors; x_1, ..., x_L the word ids of a sentence, E the embedding matrix):

    (1.8)  onehot(x) E = E[x]                                    one-hot (独热) vs look-up
    (1.14)  s = (1/L) Σ_t E[x_t],   z = s W^T + b                 CBOW (连续词袋), "sum": no 1/L
    (1.15)  h_0 = s,  h_l = tanh(h_{l-1} W_l^T + b_l),  z = h_D W^T + b     deep CBOW
    (1.16)  z = Σ_{g ∈ n-grams(x)} S[bucket(g)] + b               bag of n-grams, S (K, C)

Padding: a batch of sentences of different lengths is a ``(B, L)`` tensor of ids padded with
``PAD_INDEX`` and a ``(B, L)`` boolean ``mask`` that is True on real tokens; every model takes
``(token_ids, mask)`` and ignores the padded places (so their ids do not matter).

Dimension glossary:

    B  batch size (sentences)          L  longest sentence in the batch (tokens)
    V  vocabulary size                 E  embedding dimension
    C  number of classes               K  number of n-gram hash buckets
    H  hidden size of a deep CBOW layer

Tests: tests/test_embeddings.py (one-hot products, formulas written in the test, a tiny
synthetic task every classifier must fit exactly).
"""

from __future__ import annotations

import copy
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_positive_int
from coursekit.data import UNK, tokenize

__all__ = [
    "CBOW",
    "PAD",
    "PAD_INDEX",
    "BagOfNGrams",
    "ClassifierHistory",
    "DeepCBOW",
    "WordVocab",
    "accuracy",
    "cbow_forward",
    "embed_via_one_hot",
    "ngram_bucket_ids",
    "one_hot",
    "pad_batch",
    "tokenize",
    "train_classifier",
]

PAD = "<pad>"
PAD_INDEX = 0
REDUCTIONS = ("mean", "sum")


# ---------------------------------------------------------------------------------------------
# One-hot vectors and embeddings, Eq. (1.8).


def one_hot(ids: torch.Tensor, vocab_size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """ids (...) long -> one-hot vectors (..., V) of ``dtype``: 1 at ``ids``, 0 elsewhere."""
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"ids must lie in 0..{vocab_size - 1} (vocab_size = {vocab_size}); "
            f"got values in {int(ids.min())}..{int(ids.max())}"
        )
    return F.one_hot(ids, vocab_size).to(dtype)  # (..., V)


def embed_via_one_hot(ids: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
    """Eq. (1.8) the slow way: ``one_hot(ids) @ embedding``, equal to ``embedding[ids]``.

    ids (...) long, embedding (V, E) -> (..., E). The product costs O(V·E) per token where the
    look-up costs O(E); that is why embedding layers look rows up
    (test_one_hot_product_equals_row_lookup).
    """
    return one_hot(ids, embedding.shape[0], embedding.dtype) @ embedding  # (..., V) @ (V, E)


# ---------------------------------------------------------------------------------------------
# Words, vocabulary, batches.


class WordVocab:
    """A word vocabulary: ``<pad>`` (id 0), ``<unk>`` (id 1), then every word seen at least
    ``min_freq`` times, by descending count and then alphabetically (deterministic).

    ``encode(tokens)`` never fails: unknown words map to ``unk_index``.
    """

    def __init__(self, sentences: Iterable[Sequence[str]], min_freq: int = 1):
        check_positive_int(min_freq=min_freq)
        counts = Counter(word for sentence in sentences for word in sentence)
        kept = [w for w, c in counts.items() if c >= min_freq and w not in (PAD, UNK)]
        self.itos: list[str] = [PAD, UNK] + sorted(kept, key=lambda w: (-counts[w], w))
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        self.pad_index, self.unk_index = PAD_INDEX, self.stoi[UNK]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def __repr__(self) -> str:
        return f"WordVocab(size={len(self)})"

    def encode(self, tokens: Sequence[str]) -> torch.Tensor:
        """A list of L words -> LongTensor (L,)."""
        return torch.tensor([self.stoi.get(w, self.unk_index) for w in tokens], dtype=torch.long)


def pad_batch(
    sequences: Sequence[torch.Tensor], pad_index: int = PAD_INDEX
) -> tuple[torch.Tensor, torch.Tensor]:
    """B 1-D id tensors of lengths L_b -> ids (B, L) padded with ``pad_index``, mask (B, L).

    ``L = max L_b``; ``mask[b, t]`` is True for ``t < L_b``. Empty sentences are allowed (their
    row is all padding; the models then see a zero sum).
    """
    if len(sequences) == 0:
        raise ValueError("pad_batch needs at least one sequence; got none")
    lengths = torch.tensor([len(s) for s in sequences])  # (B,)
    width = max(int(lengths.max()), 1)
    ids = torch.full((len(sequences), width), pad_index, dtype=torch.long)  # (B, L)
    for b, s in enumerate(sequences):
        ids[b, : len(s)] = s
    mask = torch.arange(width)[None, :] < lengths[:, None]  # (B, L)
    return ids, mask


def _check_batch(token_ids: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if token_ids.dim() != 2:
        raise ValueError(f"token_ids must be (B, L); got shape {tuple(token_ids.shape)}")
    if mask is None:
        return torch.ones_like(token_ids, dtype=torch.bool)
    if mask.shape != token_ids.shape:
        raise ValueError(
            f"mask must have token_ids' shape {tuple(token_ids.shape)}; got {tuple(mask.shape)}"
        )
    return mask


def _pool(vectors: torch.Tensor, mask: torch.Tensor, reduction: str) -> torch.Tensor:
    """vectors (B, L, E), mask (B, L) -> the sum or the mean over real tokens (B, E)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    weights = mask.to(vectors.dtype)  # (B, L)
    total = torch.einsum("ble,bl->be", vectors, weights)  # (B, E)
    if reduction == "sum":
        return total
    return total / weights.sum(dim=1, keepdim=True).clamp(min=1)  # empty sentence: 0


# ---------------------------------------------------------------------------------------------
# Classifiers, Eqs. (1.14)-(1.16).


def cbow_forward(token_ids, mask, embedding, weight, bias, reduction: str = "mean"):
    """Eq. (1.14): average (or sum) the embeddings of a sentence's words, then a linear layer.

    token_ids (B, L) long, mask (B, L) bool or None (no padding), embedding (V, E),
    weight (C, E), bias (C,) or None -> logits (B, C). Padded places (mask False) are left
    out of the sum and of the count L. Equal to a loop over sentences written in the test
    (test_cbow_forward_matches_per_sentence_formula).
    """
    mask = _check_batch(token_ids, mask)
    sentence = _pool(embedding[token_ids], mask, reduction)  # (B, L, E) -> (B, E)
    return F.linear(sentence, weight, bias)  # (B, C)


class CBOW(nn.Module):
    """Continuous bag of words (Eq. (1.14)): ``forward(token_ids (B, L), mask) -> (B, C)``.

    Parameters ``embedding.weight (V, E)``, ``output.weight (C, E)``, ``output.bias (C,)``.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, num_classes: int, reduction="mean"):
        super().__init__()
        _pool(torch.zeros(1, 1, 1), torch.ones(1, 1, dtype=torch.bool), reduction)  # validate
        self.reduction = reduction
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.output = nn.Linear(embedding_dim, num_classes)

    def forward(self, token_ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return cbow_forward(
            token_ids, mask, self.embedding.weight, self.output.weight, self.output.bias,
            self.reduction,
        )  # fmt: skip


class DeepCBOW(nn.Module):
    """Deep CBOW (Eq. (1.15)): the CBOW average, then tanh layers of ``hidden_sizes``, then C.

    ``forward(token_ids (B, L), mask) -> logits (B, C)``. The hidden layers can learn
    combinations of words ("not" with "good") that a sum of word vectors cannot express.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        num_classes: int,
        hidden_sizes: Sequence[int] = (64, 64),
        reduction: str = "mean",
        dropout: float = 0.0,
    ):
        super().__init__()
        _pool(torch.zeros(1, 1, 1), torch.ones(1, 1, dtype=torch.bool), reduction)  # validate
        self.reduction = reduction
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        sizes = [embedding_dim, *hidden_sizes]
        self.hidden = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(sizes[-1], num_classes)

    def forward(self, token_ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = _check_batch(token_ids, mask)
        h = _pool(self.embedding(token_ids), mask, self.reduction)  # (B, E)
        for layer in self.hidden:
            h = torch.tanh(layer(self.dropout(h)))  # (B, H_l)
        return self.output(self.dropout(h))  # (B, C)


def ngram_bucket_ids(tokens: Sequence[str], n: int, num_buckets: int) -> torch.Tensor:
    """The hash buckets of every word m-gram of ``tokens``, m = 1..n: LongTensor (G,).

    An m-gram is joined with spaces and hashed with CRC-32 (``zlib.crc32`` of its UTF-8
    bytes, the same on every machine and run, unlike Python's salted ``hash``) modulo
    ``num_buckets``. Different n-grams may share a bucket (the hashing trick).
    """
    check_positive_int(n=n)
    grams = [
        " ".join(tokens[i : i + m]) for m in range(1, n + 1) for i in range(len(tokens) - m + 1)
    ]
    return torch.tensor(
        [zlib.crc32(g.encode("utf-8")) % num_buckets for g in grams], dtype=torch.long
    )


class BagOfNGrams(nn.Module):
    """Bag of n-grams (Eq. (1.16)): every n-gram bucket has a score per class; add them up.

    ``forward(bucket_ids (B, G), mask) -> logits (B, C)``, where ``bucket_ids`` come from
    :func:`ngram_bucket_ids` (padded with :func:`pad_batch`). With ``reduction="sum"`` this
    is logistic regression on n-gram counts; ``"mean"`` divides by the number of n-grams.
    Parameters ``scores.weight (K, C)`` (zero at start) and ``bias (C,)``.
    """

    def __init__(self, num_ngram_buckets: int, num_classes: int, reduction: str = "sum"):
        super().__init__()
        _pool(torch.zeros(1, 1, 1), torch.ones(1, 1, dtype=torch.bool), reduction)  # validate
        self.reduction = reduction
        self.scores = nn.Embedding(num_ngram_buckets, num_classes)
        nn.init.zeros_(self.scores.weight)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, bucket_ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = _check_batch(bucket_ids, mask)
        return _pool(self.scores(bucket_ids), mask, self.reduction) + self.bias  # (B, C)


# ---------------------------------------------------------------------------------------------
# Training and evaluation.

Dataset = tuple[Sequence[torch.Tensor], torch.Tensor]  # (B sequences of ids, labels (B,))


@dataclass
class ClassifierHistory:
    """Per-epoch mean train loss (nats), train and dev accuracy; ``best_epoch`` (1-based) is the
    epoch of the highest dev accuracy, whose parameters the model holds after training."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    dev_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0


def _check_dataset(name: str, data: Dataset) -> tuple[list[torch.Tensor], torch.Tensor]:
    sequences, labels = data
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.dim() != 1 or len(sequences) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"{name} must be (sequences, labels) with one label per sequence; "
            f"got {len(sequences)} sequences and labels of shape {tuple(labels.shape)}"
        )
    return list(sequences), labels


def _batches(sequences, labels, batch_size: int, order: torch.Tensor):
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size].tolist()
        ids, mask = pad_batch([sequences[i] for i in rows])  # (B, L) each
        yield ids, mask, labels[rows]


@torch.no_grad()
def accuracy(model: nn.Module, data: Dataset, batch_size: int = 512) -> float:
    """The fraction of ``data = (sequences, labels)`` whose argmax logit is the label."""
    sequences, labels = _check_dataset("data", data)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = 0
    for ids, mask, y in _batches(sequences, labels, batch_size, torch.arange(len(labels))):
        logits = model(ids.to(device), mask.to(device))  # (B, C)
        correct += (logits.argmax(dim=-1).cpu() == y).sum().item()
    model.train(was_training)
    return correct / len(labels)


def train_classifier(
    model: nn.Module,
    train: Dataset,
    dev: Dataset | None = None,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    generator: torch.Generator,
    weight_decay: float = 0.0,
) -> ClassifierHistory:
    """Adam on the cross-entropy of shuffled minibatches (``generator`` shuffles each epoch).

    ``train`` and ``dev`` are ``(sequences, labels)``: a list of 1-D id tensors and a
    LongTensor (B,). After each epoch the train and dev accuracies are recorded; at the end the
    model gets back the parameters of the epoch with the best dev accuracy (early stopping;
    the last epoch when there is no dev set).
    """
    sequences, labels = _check_dataset("train", train)
    check_positive_int(epochs=epochs)
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = ClassifierHistory()
    best_state, best_dev = None, -1.0
    for epoch in range(1, epochs + 1):
        model.train()
        total, count = 0.0, 0
        order = torch.randperm(len(labels), generator=generator)
        for ids, mask, y in _batches(sequences, labels, batch_size, order):
            ids, mask, y = ids.to(device), mask.to(device), y.to(device)
            loss = F.cross_entropy(model(ids, mask), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(y), count + len(y)
        history.train_loss.append(total / count)
        history.train_accuracy.append(accuracy(model, train))
        if dev is not None:
            history.dev_accuracy.append(accuracy(model, dev))
            if history.dev_accuracy[-1] > best_dev:
                best_dev, history.best_epoch = history.dev_accuracy[-1], epoch
                best_state = copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = epochs
    return history
