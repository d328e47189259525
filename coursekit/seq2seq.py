"""Sequence-to-sequence models (序列到序列模型): an encoder-decoder (编码器-解码器) that
translates, with or without attention (chapter 9).

Read first: :class:`Encoder` (a bidirectional GRU or LSTM over the source, padding never
read), then :meth:`Decoder.step`, one step of Eq. (9.4)-(9.6), then :class:`Seq2Seq`, which
joins them: :meth:`Seq2Seq.forward` trains with teacher forcing (教师强制) and
:func:`masked_cross_entropy`; :meth:`Seq2Seq.greedy_decode` translates; :meth:`Seq2Seq.step`
is the interface a beam search (束搜索) drives (:mod:`coursekit.beam_search`). The recurrent
layers are coursekit's own (:class:`coursekit.GRU`, :class:`coursekit.LSTM`); the attention
module, when there is one, is any of :mod:`coursekit.attention`'s, called as
``attention(query (B, Q), keys (B, S, K), values (B, S, K), mask (B, S)) -> (context (B, K),
weights (B, S))``; where it also has coursekit's ``project_keys``, teacher forcing projects the
keys once per batch instead of once per step.

Equations (x_1..x_m the source words, y_1..y_n the target characters, y_0 = <bos>, E the
embeddings, f a GRU or LSTM step, [a; b] concatenation):

    (9.1)  p(y | x) = Π_t p(y_t | y_<t, x) = Π_t g(y_t | c_t, s_{t-1}, y_{t-1})
    (9.2)  h_j = [h→_j; h←_j],  h→_j = f(h→_{j-1}, E x_j),  h←_j = f(h←_{j+1}, E x_j)
    (9.3)  c = [h→_m; h←_1],   s_0 = tanh(W_b c + b_b)          fixed context, first state
    (9.4)  c_t = Σ_j α_tj h_j,  α_t = softmax_j(score(s_{t-1}, h_j))   context vector (上下文向量)
    (9.5)  s_t = f(s_{t-1}, [E y_{t-1}; c_t])
    (9.6)  g(y_t | c_t, s_{t-1}, y_{t-1}) = softmax(W_v tanh(W_o [s_t; c_t; E y_{t-1}] + b_o) + b_v)

Without attention, c_t = c for every t: Cho et al. (2014)'s decoder, which sees one fixed
summary of the source. With attention, c_t is recomputed at every step from the previous
state s_{t-1}, where Bahdanau et al. (2015) put it; the dot and general scores (Luong et al.
2015) are used in that same place here (Luong queries with s_t, after the step), so that
models differ only in their score. With several layers, s_{t-1} in (9.4) is the top layer's
h. The bridge (9.3) is applied to every layer's final states (and, for an LSTM, with a
second W_b, to the cells); a unidirectional encoder of the decoder's size passes its state on
unchanged instead (Sutskever et al. 2014).

Padding: a batch of sources is padded at the end. A reverse RNN run over the padded batch
would read the padding first and carry it into every h←_j; torch packs the batch
(PackedSequence) to avoid that. :class:`Encoder` runs each group of sources of equal length
on its own, unpadded, and scatters the results back: every sequence is run exactly to its
length, for both directions and every layer, and the outputs at padded places are zeros. With
length-bucketed batches (:func:`coursekit.translation_data.bucket_batches`) a batch has only
a few distinct lengths, so that costs a few calls of the fast layer per batch.

Dimension glossary (batch first):

    B  batch size                  S  source length (padded)     T  target steps
    E  embedding size              H  hidden size                D  directions, 1 or 2
    L  layers                      K  D*H, the encoder's output size (keys, the context)
    V  vocabulary size             N  rows of a beam search's batch, B * beam size

Tests: tests/test_seq2seq.py (torch's packed bidirectional GRU and LSTM, each sequence run
alone, torch's cross_entropy, a hand-written loop over steps, step-by-step argmax).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_fraction, check_positive_int
from coursekit.gru import GRU, gru_cell_step
from coursekit.lstm import LSTM, lstm_cell_step

__all__ = [
    "Decoder",
    "Encoder",
    "EncoderOutput",
    "Seq2Seq",
    "masked_cross_entropy",
]

LAYERS = {"gru": GRU, "lstm": LSTM}


def _check_cell(cell: str) -> None:
    if cell not in LAYERS:
        raise ValueError(f"cell must be one of {sorted(LAYERS)}; got {cell!r}")


class EncoderOutput(NamedTuple):
    """outputs (B, S, K): h_j of Eq. (9.2), zeros at padded places; mask (B, S), True on real
    words; final: the last states in torch's layout, ``(h_n,)`` for a GRU or ``(h_n, c_n)``
    for an LSTM, each (D*L, B, H), h_n[l*D] = h→_m and h_n[l*D + 1] = h←_1 of layer l."""

    outputs: torch.Tensor
    mask: torch.Tensor
    final: tuple[torch.Tensor, ...]


class Encoder(nn.Module):
    """Embeddings and a coursekit GRU or LSTM over the source, Eq. (9.2); padding never read.

    forward(src (B, S) ids, src_lengths (B,)) -> :class:`EncoderOutput`. Each group of
    sources of one length runs through ``self.rnn`` unpadded (see the module docstring), so
    the results equal torch's layer on a packed batch and each sequence run alone
    (test_encoder_matches_torch_on_packed_sequences, test_encoder_equals_each_sequence_alone).
    ``dropout`` acts on the embeddings and between layers, in training mode only.
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        hidden_size,
        num_layers=1,
        cell="gru",
        bidirectional=True,
        dropout=0.0,
        pad_index=0,
    ):
        super().__init__()
        check_positive_int(vocab_size=vocab_size, embedding_dim=embedding_dim)
        check_fraction(dropout=dropout)
        _check_cell(cell)
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.num_directions = 2 if bidirectional else 1
        self.output_size = self.num_directions * hidden_size  # K
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.dropout = nn.Dropout(dropout)
        self.rnn = LAYERS[cell](
            embedding_dim,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )

    def forward(self, src, src_lengths) -> EncoderOutput:
        if src.dim() != 2:
            raise ValueError(f"src must be (B, S) token ids; got shape {tuple(src.shape)}")
        B, S = src.shape
        lengths = torch.as_tensor(src_lengths).to(device=src.device, dtype=torch.long)
        if lengths.shape != (B,) or lengths.min() < 1 or lengths.max() > S:
            raise ValueError(
                f"src_lengths must be (B,) = ({B},) with values in 1..{S}; "
                f"got shape {tuple(lengths.shape)}, values {lengths.tolist()}"
            )
        x = self.dropout(self.embedding(src))  # (B, S, E)
        groups, outputs, finals = [], [], []
        for length in lengths.unique().tolist():
            rows = (lengths == length).nonzero().squeeze(1)  # the sources of this length
            output, final = self.rnn(x[rows, :length])  # (b, length, K), final states
            groups.append(rows)
            outputs.append(F.pad(output, (0, 0, 0, S - length)))  # zeros after the end
            finals.append(final if isinstance(final, tuple) else (final,))
        order = torch.cat(groups)  # the rows in the order they were run
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(B, device=order.device)
        mask = torch.arange(S, device=src.device) < lengths[:, None]  # (B, S)
        final = tuple(torch.cat(parts, dim=1)[:, inverse] for parts in zip(*finals, strict=True))
        return EncoderOutput(torch.cat(outputs)[inverse], mask, final)


class Decoder(nn.Module):
    """The decoder of Eq. (9.4)-(9.6): embeddings, a coursekit GRU or LSTM whose input is
    [E y_{t-1}; c_t], and the output layer; ``attention=None`` keeps c_t = c (Eq. (9.3)).

    ``context_size`` is K, the encoder's output size. :meth:`step` is one step;
    :meth:`forward` runs a whole teacher-forced target: without attention the context is the
    same at every step, so the whole sequence goes through ``self.rnn`` in one call; with
    attention it loops over the steps of Eq. (9.4)-(9.5) and applies the readout (9.6) once
    (test_teacher_forcing_equals_a_loop_over_steps).
    The recurrent state ``rnn_state`` is a tuple in torch's layout: ``(h,)`` or ``(h, c)``,
    each (L, B, H). ``dropout`` acts on the embeddings and on tanh(W_o ...), in training.
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        hidden_size,
        context_size,
        num_layers=1,
        cell="gru",
        attention=None,
        output_size=None,
        dropout=0.0,
        pad_index=0,
    ):
        super().__init__()
        check_positive_int(vocab_size=vocab_size, embedding_dim=embedding_dim)
        check_positive_int(context_size=context_size)
        check_fraction(dropout=dropout)
        _check_cell(cell)
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.context_size = context_size
        output_size = hidden_size if output_size is None else output_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.rnn = LAYERS[cell](
            embedding_dim + context_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.attention = attention
        self.hidden_out = nn.Linear(hidden_size + context_size + embedding_dim, output_size)
        self.vocab_out = nn.Linear(output_size, vocab_size)  # W_o and W_v of Eq. (9.6)
        self.dropout = nn.Dropout(dropout)

    def _rnn_step(self, x, rnn_state):
        """Eq. (9.5) for one step through every layer, with ``self.rnn``'s own weights.

        x (B, E + K), rnn_state ((L, B, H), ...) -> the new state, same layout.
        """
        new = []
        for layer in range(self.num_layers):
            weights = self.rnn.layer_weights(layer)
            state = tuple(part[layer] for part in rnn_state)  # (B, H) each
            if self.cell == "gru":
                state = (gru_cell_step(x, state[0], *weights),)
            else:
                state = lstm_cell_step(x, state, *weights)
            new.append(state)
            x = state[0]
            if layer < self.num_layers - 1 and self.rnn.dropout > 0 and self.training:
                x = F.dropout(x, p=self.rnn.dropout, training=True)
        return tuple(torch.stack(parts) for parts in zip(*new, strict=True))  # (L, B, H)

    def _readout(self, s, context, embedded):
        """The logits of Eq. (9.6): s (..., H), context (..., K), embedded (..., E) -> (..., V)."""
        hidden = torch.tanh(self.hidden_out(torch.cat([s, context, embedded], dim=-1)))
        return self.vocab_out(self.dropout(hidden))

    def _context(self, rnn_state, memory, memory_mask, summary, projected_keys=None):
        """c_t of Eq. (9.4) (or c, without attention) and the weights α_t (or None)."""
        if self.attention is None:
            return summary, None  # c_t = c
        query = rnn_state[0][-1]  # s_{t-1}, the top layer's h (B, H)
        if projected_keys is None:
            return self.attention(query, memory, memory, memory_mask)
        return self.attention(query, memory, memory, memory_mask, projected_keys=projected_keys)

    def step(self, y_prev, rnn_state, memory, memory_mask, summary):
        """One step of Eq. (9.4)-(9.6).

        y_prev (B,) ids, rnn_state (h (L, B, H),) or (h, c), memory (B, S, K) the encoder's
        outputs, memory_mask (B, S), summary (B, K) the fixed context c of Eq. (9.3)
        -> (logits (B, V), new rnn_state, attention weights (B, S) or None).
        """
        embedded = self.dropout(self.embedding(y_prev))  # (B, E)
        context, weights = self._context(rnn_state, memory, memory_mask, summary)
        rnn_state = self._rnn_step(torch.cat([embedded, context], dim=-1), rnn_state)
        return self._readout(rnn_state[0][-1], context, embedded), rnn_state, weights

    def forward(self, tgt_in, rnn_state, memory, memory_mask, summary):
        """Teacher forcing: tgt_in (B, T) = <bos> y_1 .. y_{T-1} -> (logits (B, T, V), final
        rnn_state, attention weights (B, T, S) or None).

        The same as :meth:`step` at every t, but faster: the embeddings, the keys' part of
        the score and the readout (9.6) are computed once for all steps; only the recurrence
        and the attention it queries loop over t."""
        embedded = self.dropout(self.embedding(tgt_in))  # (B, T, E)
        if self.attention is None:
            context = summary[:, None, :].expand(-1, tgt_in.shape[1], -1)  # (B, T, K)
            hx = rnn_state if self.cell == "lstm" else rnn_state[0]
            output, final = self.rnn(torch.cat([embedded, context], dim=-1), hx)  # (B, T, H)
            final = final if isinstance(final, tuple) else (final,)
            return self._readout(output, context, embedded), final, None
        project = getattr(self.attention, "project_keys", None)  # coursekit's modules have it
        projected_keys = None if project is None else project(memory)
        states, contexts, weights = [], [], []
        for t in range(tgt_in.shape[1]):
            context, step_weights = self._context(
                rnn_state, memory, memory_mask, summary, projected_keys
            )
            rnn_state = self._rnn_step(torch.cat([embedded[:, t], context], dim=-1), rnn_state)
            states.append(rnn_state[0][-1])  # s_t (B, H)
            contexts.append(context)
            weights.append(step_weights)
        states, contexts = torch.stack(states, dim=1), torch.stack(contexts, dim=1)  # (B, T, .)
        logits = self._readout(states, contexts, embedded)
        return logits, rnn_state, torch.stack(weights, dim=1)


def masked_cross_entropy(logits, targets, mask, reduction="mean"):
    """-log g(y_t | ...) of Eq. (9.6), summed over the real places of a padded batch.

    logits (B, T, V), targets (B, T) ids, mask (B, T) True where scored -> a scalar: the
    mean over the mask's True places (``reduction="mean"``, per token) or their sum
    (``"sum"``). Equal to ``F.cross_entropy(..., ignore_index=pad)`` with the padding at the
    masked places (test_masked_cross_entropy_equals_torch_with_ignore_index).
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum'; got {reduction!r}")
    if logits.shape[:-1] != targets.shape or targets.shape != mask.shape:
        raise ValueError(
            f"logits (B, T, V), targets (B, T) and mask (B, T) must agree; got "
            f"{tuple(logits.shape)}, {tuple(targets.shape)}, {tuple(mask.shape)}"
        )
    log_probs = F.log_softmax(logits, dim=-1)  # (B, T, V)
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    total = (nll * mask).sum()
    return total / mask.sum() if reduction == "mean" else total


class Seq2Seq(nn.Module):
    """An :class:`Encoder` and a :class:`Decoder`, joined by the bridge of Eq. (9.3).

    The decoder state, as :meth:`encode` returns it and :meth:`step` takes it, is one tuple of
    tensors, each with the batch as first dimension (so a beam search can reorder its rows):
    ``(memory (B, S, K), memory_mask (B, S), summary (B, K), h (B, L, H))``, and an LSTM's
    ``c (B, L, H)`` last. The encoder and decoder must use the same cell and number of
    layers, and ``decoder.context_size`` must be ``encoder.output_size``.
    """

    def __init__(self, encoder: Encoder, decoder: Decoder, pad_index=0, bos_index=1, eos_index=2):
        super().__init__()
        if encoder.cell != decoder.cell or encoder.num_layers != decoder.num_layers:
            raise ValueError(
                "encoder and decoder must have the same cell and num_layers; got "
                f"{encoder.cell!r}/{decoder.cell!r}, {encoder.num_layers}/{decoder.num_layers}"
            )
        if decoder.context_size != encoder.output_size:
            raise ValueError(
                f"decoder.context_size must be encoder.output_size = {encoder.output_size}; "
                f"got {decoder.context_size}"
            )
        self.encoder, self.decoder = encoder, decoder
        self.pad_index, self.bos_index, self.eos_index = pad_index, bos_index, eos_index
        passes = encoder.num_directions == 1 and encoder.hidden_size == decoder.hidden_size
        parts = 2 if encoder.cell == "lstm" else 1
        self.bridge = (
            None
            if passes
            else nn.ModuleList(
                nn.Linear(encoder.output_size, decoder.hidden_size) for _ in range(parts)
            )
        )

    def encode(self, src, src_lengths):
        """Run the encoder and build the decoder's first state (see the class docstring)."""
        encoded = self.encoder(src, src_lengths)
        L, D, H = self.encoder.num_layers, self.encoder.num_directions, self.encoder.hidden_size
        B = src.shape[0]
        per_layer = [  # (L, B, D*H): [h→; h←] of each layer, Eq. (9.3)
            part.view(L, D, B, H).permute(0, 2, 1, 3).reshape(L, B, D * H) for part in encoded.final
        ]
        summary = per_layer[0][-1]  # c = [h→_m; h←_1] of the top layer (B, K)
        if self.bridge is None:
            recurrent = per_layer
        else:
            recurrent = [
                torch.tanh(w(part)) for w, part in zip(self.bridge, per_layer, strict=True)
            ]
        recurrent = [part.transpose(0, 1) for part in recurrent]  # (B, L, H) each
        return (encoded.outputs, encoded.mask, summary, *recurrent)

    @staticmethod
    def _rnn_state(state):
        return tuple(part.transpose(0, 1) for part in state[3:])  # (L, B, H) each

    def forward(self, src, src_lengths, tgt_in):
        """Teacher forcing, Eq. (9.1): src (B, S), src_lengths (B,), tgt_in (B, T) (<bos>
        first) -> logits (B, T, V) of y_1 .. y_T; score them with :func:`masked_cross_entropy`."""
        memory, mask, summary, *_ = state = self.encode(src, src_lengths)
        logits, _, _ = self.decoder(tgt_in, self._rnn_state(state), memory, mask, summary)
        return logits

    def _step(self, tokens, state):
        memory, mask, summary = state[:3]
        logits, rnn_state, weights = self.decoder.step(
            tokens, self._rnn_state(state), memory, mask, summary
        )
        new_state = (memory, mask, summary, *(part.transpose(0, 1) for part in rnn_state))
        return F.log_softmax(logits, dim=-1), new_state, weights

    def step(self, tokens, state):
        """One decoding step for a beam search: tokens (N,) the previous ids, state (a tuple
        as :meth:`encode` returns it, first dims N; :func:`coursekit.beam_search.expand_for_beams` makes N = B*K)
        -> (log_probs (N, V), new state, same layout)."""
        log_probs, new_state, _ = self._step(tokens, state)
        return log_probs, new_state

    @torch.no_grad()
    def greedy_decode(self, src, src_lengths, max_length, return_attention=False):
        """Translate by taking the most probable token at every step, from <bos> until <eos>
        or ``max_length`` tokens.

        src (B, S), src_lengths (B,) -> (tokens (B, T'), lengths (B,)): the tokens before
        <eos> (it is not included), padded with ``pad_index`` after each sentence's end;
        T' is the longest length, at most ``max_length``; a sentence with no <eos> has length
        ``max_length``. ``return_attention=True`` also returns the weights (B, T', S) (zeros
        after the end; None without attention). Equal to step-by-step argmax through
        :meth:`step` (test_greedy_decode_equals_stepwise_argmax).
        """
        check_positive_int(max_length=max_length)
        state = self.encode(src, src_lengths)
        B = src.shape[0]
        tokens = torch.full((B,), self.bos_index, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        lengths = torch.full((B,), max_length, dtype=torch.long, device=src.device)
        out, weights = [], []
        for t in range(max_length):
            log_probs, state, step_weights = self._step(tokens, state)
            tokens = log_probs.argmax(dim=-1)  # (B,)
            ended = (tokens == self.eos_index) & ~done
            lengths[ended] = t
            done = done | ended
            out.append(tokens.masked_fill(done, self.pad_index))
            if step_weights is not None:
                weights.append(step_weights.masked_fill(done[:, None], 0.0))
            if bool(done.all()):
                break
        width = int(lengths.max())
        result = torch.stack(out, dim=1)[:, :width]  # (B, T')
        if not return_attention:
            return result, lengths
        attention = torch.stack(weights, dim=1)[:, :width] if weights else None
        return result, lengths, attention
