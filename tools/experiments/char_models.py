"""Chapters 2 and 4: a char-RNN, a char-LSTM and a char-GRU on Tiny Shakespeare.

The three models have about 100 000 parameters each: 64-dimensional character embeddings, a
recurrent layer (256 tanh units for the RNN, chapter 2's :class:`coursekit.CharRNN`; 128 LSTM
units; 150 GRU units) and a linear readout over the 66 symbols. They are trained as chapter 2
§2.7 trains its char-RNN (:func:`coursekit.train.train_language_model`: Adam, lr 3e-3, random
windows of 64 characters, 32 per step, gradient norm clipped at 1) but for 400 steps instead
of 2 500, so that five seeds of three models fit in a quarter of an hour of one CPU core:
these are early-training numbers, not what the models reach when trained to convergence.

The text is chapter 2's split of Tiny Shakespeare (90 / 5 / 5 %, contiguous). The seed draws
the initial weights and the training windows (the same windows for every model). Logged per
seed and model: the training loss of every step and the validation loss every 100 steps (bits
per character), and the test bits per character after the last step, scored like the
validation text (32 contiguous columns, the state carried from window to window).
"""

from __future__ import annotations

import math
import sys

import torch

from coursekit import GRU, LSTM, CharLM, CharRNN, seed_everything
from coursekit.data import Vocab, load_tiny_shakespeare, split_text
from coursekit.train import evaluate_language_model, train_language_model
from tools.experiments.log import rounded, run_seeds

CONFIG = {
    "embedding_dim": 64,
    "hidden_size": {"RNN": 256, "LSTM": 128, "GRU": 150},
    "steps": 400,
    "seq_len": 64,
    "batch_size": 32,
    "lr": 3e-3,
    "clip": 1.0,
    "eval_every": 100,
}
MODELS = ("RNN", "LSTM", "GRU")


def shakespeare():
    """Chapter 2's vocabulary and (train, valid, test) ids of Tiny Shakespeare."""
    text = load_tiny_shakespeare()
    vocab = Vocab(text)
    return vocab, [vocab.encode(part) for part in split_text(text, (0.9, 0.05, 0.05))]


def char_model(name, vocab_size, config=CONFIG):
    """The char-RNN of chapter 2, or the same embedding and readout around an LSTM or GRU."""
    E, H = config["embedding_dim"], config["hidden_size"][name]
    if name == "RNN":
        return CharRNN(vocab_size, embedding_dim=E, hidden_size=H)
    return CharLM(vocab_size, E, {"LSTM": LSTM, "GRU": GRU}[name](E, H))


def run(seed: int, config=CONFIG, data=None) -> dict:
    vocab, (train_ids, valid_ids, test_ids) = data or shakespeare()
    results = {}
    for name in MODELS:
        seed_everything(seed)
        model = char_model(name, len(vocab), config)
        history = train_language_model(
            model,
            train_ids,
            valid_ids,
            steps=config["steps"],
            seq_len=config["seq_len"],
            batch_size=config["batch_size"],
            lr=config["lr"],
            clip=config["clip"],
            generator=torch.Generator().manual_seed(seed),
            eval_every=config["eval_every"],
            progress=False,
        )
        test_loss = evaluate_language_model(model, test_ids, config["seq_len"], 32)
        results[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_bits": rounded(history.train_bits),
            "valid_steps": history.valid_steps,
            "valid_bits": rounded(history.valid_bits),
            "test_bits": test_loss / math.log(2),
        }
    return {"seed": seed, "models": results}


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
