"""Chapter 6: a char-LSTM that overfits a small slice of Tiny Shakespeare, with five kinds of dropout.

The model is chapter 4's char-LSTM made small and trained on too little text: 32-dimensional
character embeddings, :class:`coursekit.DropoutLSTM` with 128 units, a linear readout over the
66 symbols of chapter 2's vocabulary. It is trained on the first 20 000 characters of the
training text only (chapter 2's 90 / 5 / 5 % split), for 600 steps of Adam (lr 3e-3, random
windows of 64 characters, 32 per step, gradient norm clipped at 1): about 60 passes over the
slice, so that without help it overfits. The variants differ only in the masks of Eq. (6.2)-(6.7)
(``coursekit.dropout``); the rate is 0.3 on the input and the output (``p``) and 0.5 in the
recurrence (``p_recurrent``: the state mask, or the weight mask):

- ``none``: no dropout;
- ``Zaremba``: per-step masks on the input x_t and the output h_t, nothing in the recurrence
  (Eq. (6.5), Zaremba et al. 2014);
- ``per-step state``: Zaremba plus a fresh mask on h_{t-1} at every step (the bad baseline);
- ``variational``: one mask per sequence on the input, the output and h_{t-1}
  (Gal & Ghahramani 2016);
- ``weight drop``: locked masks on the input and output and DropConnect on W_hh, one mask per
  forward pass (Eq. (6.7), AWD-LSTM).

The seed draws the initial weights (the same for every variant), the training windows and the
masks. Logged per seed and variant, every 50 steps (bits per character, the model in eval
mode): the loss on the training slice and on the first 10 000 characters of the validation
text; after the last step, the test bits per character on the whole shared test text (32
contiguous columns, the state carried from window to window), as in ``char_models``.
"""

from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F

from coursekit import CharLM, DropoutLSTM, seed_everything
from coursekit.data import random_windows
from coursekit.train import evaluate_language_model
from tools.experiments.char_models import shakespeare
from tools.experiments.log import rounded, run_seeds

CONFIG = {
    "embedding_dim": 32,
    "hidden_size": 128,
    "train_chars": 20_000,
    "valid_chars": 10_000,
    "steps": 600,
    "seq_len": 64,
    "batch_size": 32,
    "lr": 3e-3,
    "clip": 1.0,
    "eval_every": 50,
    "p": 0.3,
    "p_recurrent": 0.5,
}
VARIANTS = ("none", "Zaremba", "per-step state", "variational", "weight drop")


def dropout_options(variant, p, p_recurrent):
    """The DropoutLSTM keyword arguments of a variant: rate p on the input and output,
    p_recurrent on h_{t-1} or W_hh."""
    if variant == "none":
        return {}
    if variant in ("Zaremba", "per-step state"):
        options = {
            "input_dropout": p,
            "output_dropout": p,
            "input_output_dropout_mode": "per_step",
        }
        if variant == "per-step state":
            options |= {"state_dropout": p_recurrent, "state_dropout_mode": "per_step"}
        return options
    options = {"input_dropout": p, "output_dropout": p}  # locked
    key = "state_dropout" if variant == "variational" else "weight_dropout"
    return options | {key: p_recurrent}


def dropout_lm(variant, vocab_size, config=CONFIG, generator=None):
    """The char-LSTM of one variant; ``generator`` draws its masks."""
    E, H = config["embedding_dim"], config["hidden_size"]
    options = dropout_options(variant, config["p"], config["p_recurrent"])
    return CharLM(vocab_size, E, DropoutLSTM(E, H, generator=generator, **options))


def train(model, train_ids, valid_ids, config, generator):
    """Adam on random windows of ``train_ids``; eval-mode bits/char on both texts every
    ``eval_every`` steps (step 0 included)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    steps, train_bits, valid_bits = [], [], []
    vocab_size = model.vocab_size
    for step in range(config["steps"] + 1):
        if step % config["eval_every"] == 0:
            steps.append(step)
            for ids, curve in ((train_ids, train_bits), (valid_ids, valid_bits)):
                loss = evaluate_language_model(model, ids, config["seq_len"], 32)
                curve.append(loss / math.log(2))
        if step == config["steps"]:
            break
        x, y = random_windows(train_ids, config["seq_len"], config["batch_size"], generator)
        logits, _ = model(x)  # (T, B, V), dropout on: model.train()
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
        optimizer.step()
    return steps, train_bits, valid_bits


def run(seed: int, config=CONFIG, data=None, variants=VARIANTS) -> dict:
    vocab, (train_ids, valid_ids, test_ids) = data or shakespeare()
    train_ids = train_ids[: config["train_chars"]]
    valid_ids = valid_ids[: config["valid_chars"]]
    results = {}
    for variant in variants:
        seed_everything(seed)
        masks = torch.Generator().manual_seed(2000 + seed)
        model = dropout_lm(variant, len(vocab), config, masks)
        windows = torch.Generator().manual_seed(1000 + seed)
        steps, train_bits, valid_bits = train(model, train_ids, valid_ids, config, windows)
        test_loss = evaluate_language_model(model, test_ids, config["seq_len"], 32)
        results[variant] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "steps": steps,
            "train_bits": rounded(train_bits),
            "valid_bits": rounded(valid_bits),
            "test_bits": test_loss / math.log(2),
        }
    return {"seed": seed, "models": results}


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
