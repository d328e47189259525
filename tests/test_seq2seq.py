"""Specifications of coursekit.seq2seq: the encoder against torch's packed layers, the
teacher-forced decoder against a loop over steps written here with torch's cells, the masked
loss against torch's cross_entropy, greedy decoding against step-by-step argmax.

The attention module is passed in; ``StandInAttention`` below is Bahdanau's additive score
written in a few lines with coursekit.attention's call signature, so these tests do not depend
on that module.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from coursekit.beam_search import expand_for_beams
from coursekit.seq2seq import Decoder, Encoder, Seq2Seq, masked_cross_entropy
from tests.torch_compare import TOLERANCE

F64 = torch.float64
V_SRC, V_TGT, E, H = 13, 11, 5, 4
PAD, BOS, EOS = 0, 1, 2
TORCH_LAYERS = {"gru": nn.GRU, "lstm": nn.LSTM}
TORCH_CELLS = {"gru": nn.GRUCell, "lstm": nn.LSTMCell}


class StandInAttention(nn.Module):
    """e_j = v^T tanh(W q + U k_j), α = softmax over the kept keys, context = Σ_j α_j v_j."""

    def __init__(self, query_size, key_size, hidden_size):
        super().__init__()
        self.W = nn.Linear(query_size, hidden_size, bias=False)
        self.U = nn.Linear(key_size, hidden_size, bias=False)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, query, keys, values, mask=None):
        scores = self.v(torch.tanh(self.W(query)[:, None, :] + self.U(keys))).squeeze(-1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, S)
        return torch.einsum("bs,bsk->bk", weights, values), weights


def padded_batch(lengths, vocab=V_SRC, generator=None):
    """Random ids (B, max length) with real ids (>= 3) before each length and <pad> after."""
    lengths = torch.tensor(lengths)
    ids = torch.randint(3, vocab, (len(lengths), int(lengths.max())), generator=generator)
    ids[torch.arange(ids.shape[1]) >= lengths[:, None]] = PAD
    return ids, lengths


def make_model(cell="gru", attention=False, bidirectional=True, num_layers=1, dec_hidden=6):
    encoder = Encoder(V_SRC, E, H, num_layers, cell=cell, bidirectional=bidirectional)
    K = encoder.output_size
    attn = StandInAttention(dec_hidden, K, 3) if attention else None
    decoder = Decoder(V_TGT, E, dec_hidden, K, num_layers, cell=cell, attention=attn)
    return Seq2Seq(encoder, decoder).to(F64)


CELLS = pytest.mark.parametrize("cell", ["gru", "lstm"])
ATTENTION = pytest.mark.parametrize("attention", [False, True], ids=["fixed c", "attention"])


def close(actual, expected):
    """Equal within DESIGN.md's float64 tolerance (tests/torch_compare.py)."""
    torch.testing.assert_close(actual, expected, **TOLERANCE[F64])


# --- the encoder ----------------------------------------------------------------------------


@CELLS
@pytest.mark.parametrize("num_layers", [1, 2])
def test_encoder_matches_torch_on_packed_sequences(cell, num_layers):
    encoder = Encoder(V_SRC, E, H, num_layers, cell=cell, bidirectional=True).to(F64)
    theirs = TORCH_LAYERS[cell](E, H, num_layers, batch_first=True, bidirectional=True).to(F64)
    theirs.load_state_dict(encoder.rnn.state_dict())
    src, lengths = padded_batch([4, 7, 1, 4, 6])
    ours = encoder(src, lengths)
    packed = pack_padded_sequence(encoder.embedding(src), lengths, True, enforce_sorted=False)
    output, final = theirs(packed)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=src.shape[1])
    final = final if cell == "lstm" else (final,)
    close(ours.outputs, output)  # torch pads with zeros too
    for mine, torch_state in zip(ours.final, final, strict=True):
        close(mine, torch_state)
    assert ours.mask.tolist() == (src != PAD).tolist()
    upstream = torch.randn_like(output)
    grads = [
        torch.autograd.grad((o * upstream).sum() + sum(f.sum() for f in fs), p.parameters())
        for o, fs, p in ((ours.outputs, ours.final, encoder.rnn), (output, final, theirs))
    ]
    for mine, torch_grad in zip(*grads, strict=True):
        close(mine, torch_grad)


@CELLS
@pytest.mark.parametrize("bidirectional", [True, False])
def test_encoder_equals_each_sequence_alone(cell, bidirectional):
    encoder = Encoder(V_SRC, E, H, 2, cell=cell, bidirectional=bidirectional).to(F64)
    src, lengths = padded_batch([3, 6, 1, 6, 2])
    together = encoder(src, lengths)
    for b, length in enumerate(lengths.tolist()):
        alone = encoder(src[b : b + 1, :length], lengths[b : b + 1])
        close(together.outputs[b, :length], alone.outputs[0])
        assert (together.outputs[b, length:] == 0).all()
        for mine, single in zip(together.final, alone.final, strict=True):
            close(mine[:, b], single[:, 0])


def test_encoder_ignores_what_the_padding_holds():
    encoder = Encoder(V_SRC, E, H, 1, cell="gru", bidirectional=True).to(F64)
    src, lengths = padded_batch([2, 5, 3])
    other = src.clone()
    pads = src == PAD
    other[pads] = torch.randint(3, V_SRC, (int(pads.sum()),))  # real words where padding was
    a, b = encoder(src, lengths), encoder(other, lengths)
    assert torch.equal(a.outputs, b.outputs) and torch.equal(a.final[0], b.final[0])


def test_encoder_rejects_bad_lengths():
    encoder = Encoder(V_SRC, E, H)
    src, _ = padded_batch([3, 2])
    for lengths in (torch.tensor([3, 0]), torch.tensor([4, 2]), torch.tensor([3])):
        with pytest.raises(ValueError, match="src_lengths"):
            encoder(src, lengths)


# --- the masked loss ------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_masked_cross_entropy_equals_torch_with_ignore_index(reduction):
    B, T, V = 4, 6, 9
    logits = torch.randn(B, T, V, dtype=F64, requires_grad=True)
    targets = torch.randint(1, V, (B, T))
    mask = torch.arange(T) < torch.tensor([6, 2, 4, 1])[:, None]
    ours = masked_cross_entropy(logits, targets, mask, reduction=reduction)
    ignored = targets.masked_fill(~mask, PAD)
    theirs = F.cross_entropy(logits.transpose(1, 2), ignored, ignore_index=PAD, reduction=reduction)
    close(ours, theirs)
    grads = [torch.autograd.grad(loss, logits)[0] for loss in (ours, theirs)]
    close(*grads)


# --- teacher forcing and decoding -----------------------------------------------------------


def hand_written_logits(model, src, lengths, tgt_in, cell):
    """Eq. (9.3)-(9.6) for a one-layer model, written with torch's cells and F.linear."""
    enc, dec = model.encoder, model.decoder
    encoded = enc(src, lengths)
    finals = [torch.cat([part[0], part[1]], dim=-1) for part in encoded.final]  # [h→_m; h←_1]
    summary = finals[0]
    state = [torch.tanh(w(part)) for w, part in zip(model.bridge, finals, strict=True)]
    torch_cell = TORCH_CELLS[cell](dec.rnn.input_size, dec.hidden_size).to(F64)
    torch_cell.load_state_dict({k[:-3]: v for k, v in dec.rnn.state_dict().items()})  # drop _l0
    logits = []
    for t in range(tgt_in.shape[1]):
        embedded = dec.embedding(tgt_in[:, t])
        if dec.attention is None:
            context = summary
        else:
            context, _ = dec.attention(state[0], encoded.outputs, encoded.outputs, encoded.mask)
        x = torch.cat([embedded, context], dim=-1)
        state = [torch_cell(x, state[0])] if cell == "gru" else list(torch_cell(x, tuple(state)))
        o = torch.tanh(dec.hidden_out(torch.cat([state[0], context, embedded], dim=-1)))
        logits.append(F.linear(o, dec.vocab_out.weight, dec.vocab_out.bias))
    return torch.stack(logits, dim=1)


@CELLS
@ATTENTION
def test_teacher_forcing_equals_a_loop_over_steps(cell, attention):
    model = make_model(cell, attention)
    src, lengths = padded_batch([5, 2, 3])
    tgt_in = torch.cat([torch.full((3, 1), BOS), torch.randint(3, V_TGT, (3, 4))], dim=1)
    logits = model(src, lengths, tgt_in)
    assert logits.shape == (3, 5, V_TGT)
    close(logits, hand_written_logits(model, src, lengths, tgt_in, cell))
    state = model.encode(src, lengths)  # the same through step(), the beam-search interface
    for t in range(tgt_in.shape[1]):
        log_probs, state = model.step(tgt_in[:, t], state)
        close(log_probs, F.log_softmax(logits[:, t], dim=-1))


@pytest.mark.parametrize("name", ["AdditiveAttention", "GeneralAttention"])
def test_teacher_forcing_with_projected_keys_equals_the_steps(name):
    """With coursekit's attention, forward projects the keys once (project_keys); step, which
    the test above proves against torch's cells, projects them at every call."""
    from coursekit import attention  # only here: the other tests use StandInAttention

    model = make_model("gru", attention=True)
    K = model.encoder.output_size
    args = (6, K, 3) if name == "AdditiveAttention" else (6, K)
    model.decoder.attention = getattr(attention, name)(*args, dtype=F64)
    src, lengths = padded_batch([5, 2, 3])
    tgt_in = torch.cat([torch.full((3, 1), BOS), torch.randint(3, V_TGT, (3, 4))], dim=1)
    logits = model(src, lengths, tgt_in)
    state = model.encode(src, lengths)
    for t in range(tgt_in.shape[1]):
        log_probs, state = model.step(tgt_in[:, t], state)
        close(log_probs, F.log_softmax(logits[:, t], dim=-1))


@CELLS
def test_two_layer_decoder_steps_equal_its_whole_sequence_layer(cell):
    model = make_model(cell, attention=False, num_layers=2)
    src, lengths = padded_batch([4, 1, 3])
    tgt_in = torch.randint(3, V_TGT, (3, 5))
    logits = model(src, lengths, tgt_in)  # one call of the layer over all 5 steps
    state = model.encode(src, lengths)
    for t in range(5):  # coursekit's cell steps with the same weights, layer by layer
        log_probs, state = model.step(tgt_in[:, t], state)
        close(log_probs, F.log_softmax(logits[:, t], dim=-1))


def test_unidirectional_encoder_of_the_decoders_size_passes_its_state():
    model = make_model("lstm", bidirectional=False, dec_hidden=H)
    assert model.bridge is None
    src, lengths = padded_batch([3, 1])
    state = model.encode(src, lengths)
    encoded = model.encoder(src, lengths)
    close(state[3], encoded.final[0].transpose(0, 1))
    close(state[4], encoded.final[1].transpose(0, 1))


def stepwise_argmax(model, src, lengths, max_length):
    """Greedy decoding of one sentence at a time, through model.step."""
    sentences = []
    for b in range(src.shape[0]):
        state = model.encode(src[b : b + 1, : lengths[b]], lengths[b : b + 1])
        token, out = torch.tensor([BOS]), []
        for _ in range(max_length):
            log_probs, state = model.step(token, state)
            token = log_probs.argmax(dim=-1)
            if token.item() == EOS:
                break
            out.append(token.item())
        sentences.append(out)
    return sentences


@CELLS
@ATTENTION
def test_greedy_decode_equals_stepwise_argmax(cell, attention):
    model = make_model(cell, attention)
    with torch.no_grad():  # make <eos> likely enough that some sentences end early
        model.decoder.vocab_out.bias[EOS] += 1.5
    src, lengths = padded_batch([5, 2, 3, 1, 4, 4, 2, 5])
    expected = stepwise_argmax(model, src, lengths, max_length=7)
    tokens, found, *_ = model.greedy_decode(src, lengths, max_length=7)
    assert found.tolist() == [len(s) for s in expected]
    assert tokens.shape == (8, max(len(s) for s in expected))
    for row, sentence in zip(tokens.tolist(), expected, strict=True):
        assert row == sentence + [PAD] * (tokens.shape[1] - len(sentence))


class CountingDecoder(Decoder):
    """Writes 3, 4, 5, ... and then <eos> once it has written as many tokens as the source
    has words; it counts from the token it was given (<bos>: none written yet)."""

    def step(self, y_prev, rnn_state, memory, memory_mask, summary):
        written = torch.where(y_prev == BOS, 0, y_prev - 2)  # (B,)
        token = torch.where(written >= memory_mask.sum(1), EOS, 3 + written)
        return F.one_hot(token, V_TGT).to(summary.dtype), rnn_state, None


def test_greedy_decode_stops_each_sentence_at_its_own_eos():
    encoder = Encoder(V_SRC, E, H, bidirectional=False)
    model = Seq2Seq(encoder, CountingDecoder(V_TGT, E, H, H)).to(F64)
    src, lengths = padded_batch([3, 1, 6, 2])
    tokens, found = model.greedy_decode(src, lengths, max_length=5)
    assert found.tolist() == [3, 1, 5, 2]  # the 6-word source is cut at max_length
    assert tokens.tolist() == [
        [3, 4, 5, PAD, PAD],
        [3, PAD, PAD, PAD, PAD],
        [3, 4, 5, 6, 7],
        [3, 4, PAD, PAD, PAD],
    ]
    tokens, found = model.greedy_decode(src[:2], lengths[:2], max_length=5)
    assert tokens.shape == (2, 3) and found.tolist() == [3, 1]  # as wide as the longest


def test_greedy_decode_returns_attention_weights_on_real_words_only():
    model = make_model("gru", attention=True)
    src, lengths = padded_batch([5, 2, 3])
    tokens, found, weights = model.greedy_decode(src, lengths, 6, return_attention=True)
    assert weights.shape == (*tokens.shape, src.shape[1])
    for b, length in enumerate(lengths.tolist()):
        steps = weights[b, : found[b]]
        close(steps.sum(-1), torch.ones(found[b].item(), dtype=F64))
        assert (steps[:, length:] == 0).all() and (weights[b, found[b] :] == 0).all()
    assert make_model("gru").greedy_decode(src, lengths, 6, return_attention=True)[2] is None


@CELLS
@ATTENTION
def test_gradients_reach_every_parameter(cell, attention):
    model = make_model(cell, attention, num_layers=2)
    src, lengths = padded_batch([5, 2, 3])
    tgt_out = torch.randint(3, V_TGT, (3, 4))
    tgt_in = torch.cat([torch.full((3, 1), BOS), tgt_out[:, :-1]], dim=1)
    mask = torch.arange(4) < torch.tensor([4, 2, 3])[:, None]
    masked_cross_entropy(model(src, lengths, tgt_in), tgt_out, mask).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    for embedding in (model.encoder.embedding, model.decoder.embedding):
        assert (embedding.weight.grad[PAD] == 0).all()  # padding is never read


# --- the beam-search interface --------------------------------------------------------------


def test_expand_for_beams_repeats_each_row_beam_size_times():
    state = (torch.arange(6.0).view(3, 2), torch.tensor([True, False, True]))
    expanded = expand_for_beams(state, 4)
    for part, original in zip(expanded, state, strict=True):
        assert part.shape[0] == 12
        for row in range(12):
            assert torch.equal(part[row], original[row // 4])
    assert torch.equal(expand_for_beams(state[0], 2)[1], state[0][0])


@CELLS
def test_step_on_expanded_state_repeats_the_batch_result(cell):
    model = make_model(cell, attention=True)
    src, lengths = padded_batch([5, 2])
    state = model.encode(src, lengths)
    tokens = torch.tensor([BOS, BOS])
    log_probs, new_state = model.step(tokens, state)
    beams, beam_state = model.step(tokens.repeat_interleave(3), expand_for_beams(state, 3))
    close(beams, log_probs.repeat_interleave(3, dim=0))
    assert len(beam_state) == len(new_state) and all(s.shape[0] == 6 for s in beam_state)


def test_seq2seq_rejects_parts_that_do_not_fit():
    encoder = Encoder(V_SRC, E, H, cell="gru")
    with pytest.raises(ValueError, match="same cell"):
        Seq2Seq(encoder, Decoder(V_TGT, E, 6, 2 * H, cell="lstm"))
    with pytest.raises(ValueError, match="context_size"):
        Seq2Seq(encoder, Decoder(V_TGT, E, 6, H))
    with pytest.raises(ValueError, match="cell must be"):
        Encoder(V_SRC, E, H, cell="rnn")


@pytest.mark.parametrize("kind", ["additive", "dot", "general"])
def test_decoder_runs_coursekit_attention_modules(kind):
    from coursekit.attention import AdditiveAttention, DotAttention, GeneralAttention

    K = 2 * H  # dot attention needs the decoder state as wide as the keys
    attention = {
        "additive": lambda: AdditiveAttention(K, K, 3),
        "dot": DotAttention,
        "general": lambda: GeneralAttention(K, K),
    }[kind]()
    encoder = Encoder(V_SRC, E, H, cell="gru", bidirectional=True)
    model = Seq2Seq(encoder, Decoder(V_TGT, E, K, K, attention=attention)).to(F64)
    src, lengths = padded_batch([5, 2, 3])
    tgt_in = torch.cat([torch.full((3, 1), BOS), torch.randint(3, V_TGT, (3, 4))], dim=1)
    close(model(src, lengths, tgt_in), hand_written_logits(model, src, lengths, tgt_in, "gru"))
    tokens, found = model.greedy_decode(src, lengths, max_length=6)
    expected = stepwise_argmax(model, src, lengths, max_length=6)
    assert found.tolist() == [len(s) for s in expected]
    assert [row[: len(s)] for row, s in zip(tokens.tolist(), expected, strict=True)] == expected


@CELLS
def test_coursekit_beam_search_drives_step(cell):
    from coursekit.beam_search import beam_search

    model = make_model(cell, attention=True)
    with torch.no_grad():
        model.decoder.vocab_out.bias[EOS] += 1.0
    src, lengths = padded_batch([5, 2, 3, 1])
    tokens, found = model.greedy_decode(src, lengths, max_length=6)
    one = beam_search(model.step, model.encode(src, lengths), BOS, EOS, 1, 6, pad=PAD)
    for b in range(4):  # the search counts <eos> in its lengths; greedy_decode does not
        ended = int(one.lengths[b]) - (int(found[b]) < 6)
        assert ended == found[b] and one.tokens[b, :ended].tolist() == tokens[b, :ended].tolist()
    wide = beam_search(model.step, model.encode(src, lengths), BOS, EOS, 4, 6, pad=PAD)
    for b in range(4):  # each best score is the teacher-forced log-probability of its tokens
        y = wide.tokens[b : b + 1, : wide.lengths[b]]
        tgt_in = torch.cat([torch.tensor([[BOS]]), y[:, :-1]], dim=1)
        log_probs = F.log_softmax(model(src[b : b + 1], lengths[b : b + 1], tgt_in), dim=-1)
        close(wide.scores[b], log_probs[0].gather(1, y[0, :, None]).sum())
