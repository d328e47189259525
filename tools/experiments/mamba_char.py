"""Chapter 10, §10.10: a character-level Mamba on Tiny Shakespeare, beside chapter 4's LSTM.

The model is :class:`coursekit.MambaCharLM`: 80-dimensional character embeddings, two
:class:`coursekit.MambaBlock` (expansion 2, so 160 channels inside, state size 16, conv width
4), a final RMSNorm and a linear readout over the symbols; about 108 000 parameters, as many as
the char-RNN, char-LSTM and char-GRU of ``char_models`` (103 600 to 112 100). It is trained and
scored exactly as they are: the same text split, the same training budget and optimiser (the
``char_models`` settings below are copied from that script's ``CONFIG``: Adam, lr 3e-3, 400
steps of 32 random windows of 64 characters, gradient norm clipped at 1), the same windows for
a given seed, and the test text read as 32 contiguous columns with the state carried from
window to window (the Mamba's state: each block's last conv inputs and its SSM state).

Logged per seed: the parameter count, the training loss of every step and the validation loss
every 100 steps (bits per character), and the test bits per character after the last step.
"""

from __future__ import annotations

import math
import sys

import torch

from coursekit import MambaCharLM, seed_everything
from coursekit.train import evaluate_language_model, train_language_model
from tools.experiments import char_models
from tools.experiments.log import rounded, run_seeds

SHARED = ("steps", "seq_len", "batch_size", "lr", "clip", "eval_every")
CONFIG = {
    "d_model": 80,
    "layers": 2,
    "d_state": 16,
    "expand": 2,
    "d_conv": 4,
    **{key: char_models.CONFIG[key] for key in SHARED},
}


def mamba_model(vocab_size, config=CONFIG):
    return MambaCharLM(
        vocab_size,
        config["d_model"],
        config["layers"],
        d_state=config["d_state"],
        expand=config["expand"],
        d_conv=config["d_conv"],
    )


def run(seed: int, config=CONFIG, data=None) -> dict:
    vocab, (train_ids, valid_ids, test_ids) = data or char_models.shakespeare()
    seed_everything(seed)
    model = mamba_model(len(vocab), config)
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
    return {
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_bits": rounded(history.train_bits),
        "valid_steps": history.valid_steps,
        "valid_bits": rounded(history.valid_bits),
        "test_bits": test_loss / math.log(2),
    }


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
