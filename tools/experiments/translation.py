"""Chapter 9: English -> Chinese translation with and without attention, five seeds.

Three models on the book's fixed split of the cmn-eng pairs (:func:`coursekit.cmn_eng_split`:
21,251 train, 1,119 dev, 1,240 test pairs, Chinese in simplified characters; English words
and Chinese characters, each vocabulary the training tokens seen at least twice). Every model
has the same bidirectional-GRU encoder and GRU decoder (:class:`coursekit.Seq2Seq`); they
differ only in the context the decoder reads at each step, Eq. (9.3)-(9.4):

- ``no attention``: the fixed context c = [h→_m; h←_1] (Cho et al. 2014);
- ``additive``: Bahdanau et al. (2015)'s score v^T tanh(W s_{t-1} + U h_j);
- ``dot``: Luong et al. (2015)'s s_{t-1}^T h_j, used in the same place as the additive score
  (queried by s_{t-1}). ``general`` (s_{t-1}^T W h_j) can be trained with ``--models``; it is
  not in the log.

Training: teacher forcing, the masked per-token cross-entropy, Adam, the gradient norm
clipped at 1, length-bucketed batches of 128 reshuffled every epoch; a fixed number of steps
per model (``CONFIG["steps"]``), set so that each model trains for about 240 s on one core of
the machine the log was made on (the attention models take longer per step, so they get fewer
steps). The seed draws the initial weights, the dropout masks and the batch order. Every
``eval_every`` steps the dev BLEU of greedy translations is logged; at the end, the test BLEU
(greedy, all 1,240 test pairs) and the test loss. BLEU is sacrebleu's corpus BLEU with its
``zh`` tokeniser (:func:`coursekit.translation_data.bleu_zh`), one reference per pair;
``<unk>`` is dropped from the hypotheses. Logged per seed and model: the number of
parameters, the training seconds, the mean training loss and the dev BLEU every
``eval_every`` steps, the test loss, BLEU and length ratio (characters of the translations
over those of the references), the test BLEU by source length (``LENGTH_BUCKETS``), the test
BLEU and length ratio of beam search (``BEAMS``: beam 5 with the length penalty α of Eq.
(9.15) at 0, 0.6 and 1), and the greedy translations of ten test pairs (``SAMPLES``). The seed-0 models are saved as
``book/data/translation_seed0.pt`` (float16 state dicts, one per model).

Run it with ``.venv/bin/python -m tools.experiments.translation``; ``--steps N`` trains every
model for N steps instead (a smoke test) and ``--weights PATH`` saves the seed-0 weights
elsewhere (``--weights none``: not at all).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import torch

from coursekit import seed_everything
from coursekit.beam_search import beam_search
from coursekit.clipping import clip_grad_norm_
from coursekit.seq2seq import Decoder, Encoder, Seq2Seq, masked_cross_entropy
from coursekit.translation_data import (
    UNK,
    TokenVocab,
    bleu_zh,
    bucket_batches,
    cmn_eng_split,
    detokenize_chinese,
    encode_pairs,
    tokenize_chinese,
    tokenize_english,
)
from tools.experiments.log import DATA, rounded, run_seeds

CONFIG = {
    "min_count": 2,
    "embedding_dim": 64,
    "encoder_hidden": 64,  # per direction: the keys and the context are 128 wide
    "decoder_hidden": 128,
    "output_size": 64,  # tanh(W_o [s_t; c_t; E y_{t-1}]) of Eq. (9.6)
    "attention_hidden": 64,  # the additive score's W and U
    "dropout": 0.2,
    "batch_size": 128,
    "lr": 3e-3,
    "clip": 1.0,
    "steps": {"no attention": 3600, "additive": 2800, "dot": 2800, "general": 2800},
    "eval_every": 500,
    "max_length": 60,  # greedy decoding stops here (the longest target has 44 characters)
}
MODELS = ("no attention", "additive", "dot", "general")
LOGGED = MODELS[:3]  # the models a plain run trains
WEIGHTS = DATA / "translation_seed0.pt"
SAMPLES = range(0, 1240, 124)  # the test pairs whose translations the log keeps
# source lengths in words (punctuation included) of the BLEU-by-length table; the test split
# has 240, 234, 256, 220, 186 and 104 pairs in them
LENGTH_BUCKETS = ((1, 5), (6, 6), (7, 7), (8, 8), (9, 10), (11, 99))
BEAMS = ((5, 0.0), (5, 0.6), (5, 1.0))  # (beam size, length penalty α) of the beam results


def datasets(config=CONFIG):
    """The split, the two vocabularies (training tokens seen ``min_count`` times) and the
    encoded pairs of every part."""
    split = cmn_eng_split()
    english = TokenVocab([tokenize_english(p.english) for p in split["train"]], config["min_count"])
    chinese = TokenVocab([tokenize_chinese(p.chinese) for p in split["train"]], config["min_count"])
    encoded = {part: encode_pairs(pairs, english, chinese) for part, pairs in split.items()}
    return split, english, chinese, encoded


def attention_module(name, config=CONFIG):
    """The decoder's attention for model ``name`` (None without); coursekit.attention is
    imported only when a model needs it."""
    if name == "no attention":
        return None
    attention = importlib.import_module("coursekit.attention")
    query, key = config["decoder_hidden"], 2 * config["encoder_hidden"]
    if name == "additive":
        return attention.AdditiveAttention(query, key, config["attention_hidden"])
    if name == "dot":
        return attention.DotAttention()
    if name == "general":
        return attention.GeneralAttention(query, key)
    raise ValueError(f"model must be one of {MODELS}; got {name!r}")


def build_model(name, source_size, target_size, config=CONFIG):
    """The bidirectional-GRU encoder and GRU decoder of model ``name``."""
    encoder = Encoder(
        source_size,
        config["embedding_dim"],
        config["encoder_hidden"],
        bidirectional=True,
        dropout=config["dropout"],
    )
    decoder = Decoder(
        target_size,
        config["embedding_dim"],
        config["decoder_hidden"],
        encoder.output_size,
        attention=attention_module(name, config),
        output_size=config["output_size"],
        dropout=config["dropout"],
    )
    return Seq2Seq(encoder, decoder)


def translate(model, examples, target_vocab, config=CONFIG, batch_size=128, beam=None):
    """Translations of ``examples`` (in their order) as strings, <unk> dropped: greedy, or
    with ``beam=(K, α)`` by :func:`coursekit.beam_search.beam_search` with beam size K and
    length penalty α, Eq. (9.15)."""
    model.eval()
    hypotheses = [""] * len(examples)
    with torch.no_grad():
        for batch in bucket_batches(examples, batch_size):
            if beam is None:
                tokens, lengths = model.greedy_decode(
                    batch.src, batch.src_lengths, config["max_length"]
                )
            else:
                size, alpha = beam
                state = model.encode(batch.src, batch.src_lengths)
                eos, limit = model.eos_index, config["max_length"]
                found = beam_search(model.step, state, model.bos_index, eos, size, limit, alpha)
                last = found.tokens.gather(1, (found.lengths - 1).clamp(min=0)[:, None])[:, 0]
                tokens, lengths = found.tokens, found.lengths - (last == eos).long()  # no <eos>
            for row, i in enumerate(batch.index.tolist()):
                words = target_vocab.decode(tokens[row, : lengths[row]])
                hypotheses[i] = detokenize_chinese(w for w in words if w != UNK)
    model.train()
    return hypotheses


def length_ratio(hypotheses, references):
    """Characters in the hypotheses over characters in the references (< 1: too short)."""
    return sum(map(len, hypotheses)) / sum(map(len, references))


def bleu_by_length(hypotheses, references, lengths, buckets=LENGTH_BUCKETS):
    """Corpus BLEU of the pairs whose source has ``lo <= length <= hi`` words, per bucket."""
    scores = {}
    for lo, hi in buckets:
        picked = [i for i, n in enumerate(lengths) if lo <= n <= hi]
        hyps, refs = [hypotheses[i] for i in picked], [references[i] for i in picked]
        scores[f"{lo}-{hi}"] = {"pairs": len(picked), "bleu": round(bleu_zh(hyps, refs), 2)}
    return scores


def evaluate_loss(model, examples, batch_size=128):
    """The teacher-forced cross-entropy per target token (nats) over ``examples``."""
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for batch in bucket_batches(examples, batch_size):
            logits = model(batch.src, batch.src_lengths, batch.tgt_in)
            total += masked_cross_entropy(logits, batch.tgt_out, batch.tgt_mask, "sum").item()
            tokens += int(batch.tgt_mask.sum())
    model.train()
    return total / tokens


def train(model, data, steps, seed, config=CONFIG):
    """Adam for ``steps`` steps; returns the logged curves and the training seconds."""
    split, _, chinese, encoded = data
    references = {part: [p.chinese for p in split[part]] for part in ("dev", "test")}
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    generator = torch.Generator().manual_seed(1000 + seed)
    batches, losses, window, dev_bleu, seconds = [], [], [], [], 0.0
    model.train()
    for step in range(1, steps + 1):
        if not batches:  # a new epoch, in a new order
            batches = bucket_batches(encoded["train"], config["batch_size"], generator=generator)
        batch = batches.pop()
        started = time.perf_counter()
        logits = model(batch.src, batch.src_lengths, batch.tgt_in)
        loss = masked_cross_entropy(logits, batch.tgt_out, batch.tgt_mask)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), config["clip"])
        optimizer.step()
        seconds += time.perf_counter() - started
        window.append(loss.item())
        if step % config["eval_every"] == 0 or step == steps:
            losses.append(sum(window) / len(window))  # the mean training loss since the last
            window = []
            hypotheses = translate(model, encoded["dev"], chinese, config)
            dev_bleu.append(round(bleu_zh(hypotheses, references["dev"]), 2))
    test = encoded["test"]
    hypotheses = translate(model, test, chinese, config)
    source_lengths = [len(tokenize_english(p.english)) for p in split["test"]]
    beams = {}
    for beam in BEAMS:
        beamed = translate(model, test, chinese, config, beam=beam)
        beams[f"beam {beam[0]}, alpha {beam[1]}"] = {
            "bleu": round(bleu_zh(beamed, references["test"]), 2),
            "length_ratio": round(length_ratio(beamed, references["test"]), 4),
        }
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "train_seconds": round(seconds, 1),
        "seconds_per_step": round(seconds / steps, 4),
        "logged_at": [min(k * config["eval_every"], steps) for k in range(1, len(losses) + 1)],
        "train_loss": rounded(losses),
        "dev_bleu": dev_bleu,
        "test_loss": round(evaluate_loss(model, test), 4),
        "test_bleu": round(bleu_zh(hypotheses, references["test"]), 2),
        "test_length_ratio": round(length_ratio(hypotheses, references["test"]), 4),
        "test_bleu_by_source_length": bleu_by_length(
            hypotheses, references["test"], source_lengths
        ),
        "test_beam": beams,
        "test_samples": {str(i): hypotheses[i] for i in SAMPLES},
    }


def run(seed, config=CONFIG, models=LOGGED, weights=WEIGHTS, steps=None, data=None):
    data = data or datasets(config)
    _, english, chinese, _ = data
    results, trained = {}, {}
    for name in models:
        seed_everything(seed)
        model = build_model(name, len(english), len(chinese), config)
        results[name] = train(model, data, steps or config["steps"][name], seed, config)
        trained[name] = model
    if seed == 0 and weights is not None:
        torch.save(
            {name: {k: v.half() for k, v in m.state_dict().items()} for name, m in trained.items()},
            weights,
        )
    sizes = {"source_vocab": len(english), "target_vocab": len(chinese)}
    return {"seed": seed, **sizes, "models": results}


def main(argv=None):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--models", nargs="+", default=list(LOGGED), choices=MODELS)
    parser.add_argument("--weights", default=str(WEIGHTS))
    known, rest = parser.parse_known_args(argv)
    weights = None if known.weights == "none" else Path(known.weights)
    data = datasets(CONFIG)

    def one_seed(seed):
        return run(seed, CONFIG, tuple(known.models), weights, known.steps, data)

    return run_seeds(sys.modules[__name__], one_seed, CONFIG, rest)


if __name__ == "__main__":
    main()
