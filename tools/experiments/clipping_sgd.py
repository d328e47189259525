"""Chapter 5, §5.3: plain SGD on chapter 2's char-RNN, with and without gradient clipping.

The char-RNN (64 tanh units, 32-dimensional embeddings) is trained on Tiny Shakespeare with
plain SGD for 400 steps on random windows of 50 characters, batches of 32, in these settings:

- learning rate 4, no clipping, and learning rate 4 with the gradient norm clipped to
  0.5, 1, 2 or 5: does clipping save a run that a high learning rate breaks, and how much
  does the threshold matter?
- learning rate 8, with and without clipping at 1: the same question further out;
- learning rates 0.5, 1 and 2 without clipping: is a lower learning rate an alternative?

The seed draws the initial weights and the training windows (the same for every setting of
a seed). Logged per seed and setting: the loss (bits/char) and the gradient norm before
clipping at every step, and the validation loss on 20 000 characters.
"""

from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F

from coursekit import CharRNN, clip_grad_norm_, seed_everything
from coursekit.data import Vocab, load_tiny_shakespeare, random_windows, split_text
from coursekit.train import evaluate_language_model
from tools.experiments.log import rounded, run_seeds

CONFIG = {"embedding_dim": 32, "hidden_size": 64, "steps": 400, "seq_len": 50, "batch": 32}
# (learning rate, max_norm or None): the label of each setting is "lr 4, clip 1" etc.
SETTINGS = [(4.0, None)] + [(4.0, c) for c in (0.5, 1.0, 2.0, 5.0)]
SETTINGS += [(8.0, None), (8.0, 1.0)] + [(lr, None) for lr in (0.5, 1.0, 2.0)]


def label(lr, clip):
    return f"lr {lr:g}, " + ("no clipping" if clip is None else f"clip {clip:g}")


def corpus():
    """Training ids, 20 000 validation ids and the vocabulary size."""
    train_text, valid_text, _ = split_text(load_tiny_shakespeare(), (0.9, 0.05, 0.05))
    vocab = Vocab(train_text)
    return vocab.encode(train_text), vocab.encode(valid_text)[:20_000], len(vocab)


def train_with_sgd(train_ids, vocab_size, lr, clip, seed, config=CONFIG):
    """Plain SGD on the char-RNN; returns the model, the loss (bits/char) and gradient norm per step."""
    seed_everything(seed)
    model = CharRNN(vocab_size, config["embedding_dim"], config["hidden_size"])
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(1000 + seed)  # the same windows in every setting
    losses, norms = [], []
    for _ in range(config["steps"]):
        x, y = random_windows(train_ids, config["seq_len"], config["batch"], generator)  # (T, B)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        # with max_norm = inf, clip_grad_norm_ only measures the norm
        norms.append(clip_grad_norm_(model.parameters(), math.inf if clip is None else clip).item())
        optimizer.step()
        losses.append(loss.item() / math.log(2))
    return model, losses, norms


def run(seed: int, config=CONFIG, settings=SETTINGS) -> dict:
    train_ids, valid_ids, vocab_size = corpus()
    results = {}
    for lr, clip in settings:
        model, losses, norms = train_with_sgd(train_ids, vocab_size, lr, clip, seed, config)
        valid = evaluate_language_model(model, valid_ids, 50, 32) / math.log(2)
        results[label(lr, clip)] = {
            "lr": lr,
            "clip": clip,
            "loss": rounded(losses),
            "grad_norm": rounded(norms),
            "valid_bits": valid,
        }
    return {"seed": seed, "settings": results}


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
