"""Chapter 1, §1.6: the fixed-window MLP language model on Tiny Shakespeare, five seeds.

Chapter 1's model and training, seed by seed, but shorter: a context of 8 characters (a
9-gram model), 32-dimensional embeddings, one tanh layer of 512 units, trained with Adam
(lr 2e-3) on 2 000 steps (chapter 1 trains one seed for 8 000) of 256 random (context,
next character) pairs of the training text, so that five seeds fit in a few minutes of one
core. The text is chapter 1's split of Tiny Shakespeare (90 / 5 / 5 %, contiguous), the
vocabulary that of the training text. The seed draws the initial weights and the training pairs. Logged per seed:
the validation bits per character every 200 steps, and the final validation and test
bits per character.
"""

from __future__ import annotations

import math
import sys

import torch

from coursekit import (
    MLPLanguageModel,
    evaluate_mlp_language_model,
    seed_everything,
    train_mlp_language_model,
)
from coursekit.data import Vocab, load_tiny_shakespeare, split_text
from tools.experiments.log import rounded, run_seeds

CONFIG = {
    "context_size": 8,
    "embedding_dim": 32,
    "hidden_size": 512,
    "steps": 2000,
    "batch_size": 256,
    "lr": 2e-3,
}


def shakespeare():
    """Chapter 1's vocabulary (of the training text) and (train, valid, test) ids."""
    train_text, valid_text, test_text = split_text(load_tiny_shakespeare())
    vocab = Vocab(train_text)
    return vocab, [vocab.encode(t) for t in (train_text, valid_text, test_text)]


def run(seed: int, config=CONFIG, data=None) -> dict:
    vocab, (train_ids, valid_ids, test_ids) = data or shakespeare()
    seed_everything(seed)
    model = MLPLanguageModel(
        len(vocab), config["context_size"], config["embedding_dim"], config["hidden_size"]
    )
    history = train_mlp_language_model(
        model,
        train_ids,
        valid_ids,
        steps=config["steps"],
        batch_size=config["batch_size"],
        lr=config["lr"],
        generator=torch.Generator().manual_seed(seed),
        progress=False,
    )
    bits = 1 / math.log(2)
    return {
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "valid_steps": history.valid_steps,
        "valid_bits": rounded(history.valid_bits),
        "test_bits": evaluate_mlp_language_model(model, test_ids) * bits,
    }


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
