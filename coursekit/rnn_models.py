"""Models built on the recurrent layers: character language models and a sentence classifier.

:class:`CharRNN` is chapter 2's character-level language model (embedding, :class:`RNN`,
readout); :class:`CharLM` is the same over any recurrent layer (chapter 4's char-LSTM and
char-GRU). Both generate text through :func:`coursekit.sampling.generate`, with the arguments
every language model of the course takes (``prefix``, ``length``, ``temperature``, ``top_k``,
``generator``). :class:`RNNClassifier` is the sentence classifier of chapter 2's note 003
(多对一): the final state, or the mean of the states, of an RNN over the words.

Equation (row-vector convention, as torch writes it):

    (2.9)  z = h_L W^T + b,  or  z = ((1/L) Σ_t h_t) W^T + b           RNNClassifier pooling

Dimension glossary: T time steps, B batch size, E embedding size, H hidden size, L layers
(CharRNN) or words (RNNClassifier), V vocabulary size, C classes.

Tests: tests/test_rnn.py compares each model with torch.nn's embedding, layer and linear
composed by hand; tests/test_generation.py specifies generation against torch.multinomial.
"""

from __future__ import annotations

import torch
from torch import nn

from coursekit._checks import check_positive_int
from coursekit.rnn import RNN
from coursekit.sampling import check_prefix, generate

__all__ = ["CharLM", "CharRNN", "RNNClassifier"]


class _GeneratingLM(nn.Module):
    """A language model over a recurrent layer: forward(tokens (T, B), state) -> (logits
    (T, B, V), state); ``vocab_size`` and ``output_layer`` set by the subclass."""

    @torch.no_grad()
    def generate(self, prefix, length, *, temperature=1.0, top_k=None, generator=None):
        """Read ``prefix`` (ids, a list or 1-D tensor), then draw ``length`` new ids -> list[int].

        The prefix is read once and the hidden state carries over from it (warm start), so
        nothing is re-read; each id is :func:`coursekit.sampling.sample_next` of the last
        logits (``temperature = 0`` is greedy, ``top_k`` keeps the k most likely, ``generator``
        may live on another device). The prefix is not part of the result. Runs in eval mode
        (no dropout) and restores the mode. Proved by test_recurrent_lm_generate_matches_rereading_loop.
        """
        prefix = check_prefix(prefix, self.vocab_size)
        device = self.output_layer.weight.device

        def step(new_ids, state):
            tokens = torch.tensor(new_ids, dtype=torch.long, device=device).unsqueeze(1)  # (n, 1)
            logits, state = self(tokens, state)  # (n, 1, V)
            return logits[-1, 0], state

        was_training = self.training
        self.eval()
        try:
            return generate(
                step, prefix, length, temperature=temperature, top_k=top_k, generator=generator
            )
        finally:
            self.train(was_training)


class CharRNN(_GeneratingLM):
    """A character-level language model: embedding -> :class:`RNN` -> linear over the vocabulary.

    forward(tokens (T, B) long, h0 (L, B, H) or None) -> logits (T, B, V), h_n (L, B, H);
    unbatched tokens (T,) give (T, V), (L, H). :meth:`generate` generates text.
    Proved by test_char_rnn_forward_matches_manual_composition.
    """

    def __init__(
        self, vocab_size, embedding_dim, hidden_size, num_layers=1, nonlinearity="tanh", dropout=0.0
    ):
        super().__init__()
        check_positive_int(vocab_size=vocab_size, embedding_dim=embedding_dim)
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = RNN(embedding_dim, hidden_size, num_layers, nonlinearity, dropout=dropout)
        self.output_layer = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, h0=None):
        hidden, h_n = self.rnn(self.embedding(tokens), h0)  # (T, B, E) -> (T, B, H)
        return self.output_layer(hidden), h_n  # (T, B, V), (L, B, H)


class CharLM(_GeneratingLM):
    """A character-level language model over a given recurrent layer: embedding -> layer -> linear.

    ``CharLM(V, E, LSTM(E, H))`` is a char-LSTM, ``CharLM(V, E, GRU(E, H))`` a char-GRU; with
    ``RNN(E, H)`` it computes what :class:`CharRNN` computes. The layer must take time-major
    input (T, B, E) and a state, return ``(output (T, B, H), state)`` and have ``hidden_size``
    (any of coursekit's or torch's RNN, LSTM and GRU). forward(tokens (T, B) long, state or
    None) -> logits (T, B, V), state (the layer's: h_n, or (h_n, c_n) for an LSTM).
    :meth:`generate` generates text. Proved by test_char_lm_matches_torch_embedding_layer_linear.
    """

    def __init__(self, vocab_size, embedding_dim, layer):
        super().__init__()
        check_positive_int(vocab_size=vocab_size, embedding_dim=embedding_dim)
        if getattr(layer, "batch_first", False):
            raise ValueError("layer must be time-major (batch_first=False)")
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.layer = layer
        self.output_layer = nn.Linear(layer.hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        hidden, state = self.layer(self.embedding(tokens), state)  # (T, B, E) -> (T, B, H)
        return self.output_layer(hidden), state  # (T, B, V)


POOLINGS = ("last", "mean")


class RNNClassifier(nn.Module):
    """A sentence classifier (多对一, note 003): embed the words, run an :class:`~coursekit.rnn.RNN`, pool, score.

    forward(token_ids (B, L) long, mask (B, L) bool or None) -> logits (B, C), the batch and
    mask of :func:`coursekit.embeddings.pad_batch` (padding at the end, mask True on words).
    ``pooling="last"`` scores the hidden state after the last word of each sentence, h_{L_b};
    ``"mean"`` scores the mean of the states over its words, (1/L_b) Σ_t h_t. Padding after
    the last word never reaches either (the RNN runs forwards), and an empty sentence
    pools to zeros. Proved by test_rnn_classifier_matches_torch_rnn_on_each_sentence.
    """

    def __init__(self, vocab_size, embedding_dim, hidden_size, num_classes, pooling="last"):
        super().__init__()
        check_positive_int(vocab_size=vocab_size, embedding_dim=embedding_dim)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}")
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = RNN(embedding_dim, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, num_classes)

    def forward(self, token_ids, mask=None):
        if token_ids.dim() != 2:
            raise ValueError(f"token_ids must be (B, L); got shape {tuple(token_ids.shape)}")
        if mask is None:
            mask = torch.ones_like(token_ids, dtype=torch.bool)
        elif mask.shape != token_ids.shape:
            raise ValueError(
                f"mask must have token_ids' shape {tuple(token_ids.shape)}; got {tuple(mask.shape)}"
            )
        hidden, _ = self.rnn(self.embedding(token_ids))  # (B, L, E) -> (B, L, H)
        weights = mask.to(hidden.dtype)  # (B, L)
        lengths = weights.sum(dim=1)  # (B,)
        if self.pooling == "mean":
            sentence = torch.einsum("blh,bl->bh", hidden, weights) / lengths.clamp(min=1)[:, None]
        else:
            last = (lengths.long() - 1).clamp(min=0)  # (B,) index of each sentence's last word
            sentence = hidden[torch.arange(len(last)), last] * (lengths > 0)[:, None]  # (B, H)
        return self.output(sentence)  # (B, C)
