"""Chapter 8: teacher forcing against scheduled sampling, digit-string reversal, T = 8.

The task: a source of 8 random digits is read by a GRU decoder (fed as given, never replaced),
then a separator is fed and the decoder must write the source backwards, one digit per step,
each step fed the previous output digit (Eq. (8.1)). A free-running error at one position
changes what the decoder is fed at the next, so errors can compound; the true sequence is
fixed by the source, so the error rate at position t is always against the same answer.
The decoder is an embedding (16), a ``torch.nn.GRUCell`` (64 units) and a linear readout over
11 tokens (10 digits and the separator), trained with Adam (lr 1e-2, gradient norm clipped
at 1) for 1 500 steps on fresh batches of 64 by :func:`coursekit.decode`, with the
cross-entropy of every output position. Four settings of ε_i = P(feed the true digit):

- teacher forcing, ε_i = 1;
- the three decays of Bengio et al. 2015, Eqs. (8.2)-(8.4), each crossing 1/2 halfway
  through training: linear (start 1, slope 1/1500, minimum 0), exponential (k = 0.5^(1/750))
  and inverse sigmoid (k ln k = 750, k ≈ 150).

A replaced digit is a draw from the softmax of the previous step's logits, as in the paper
(``sample=True``); the coins and the draws come from their own seeded generator. The seed
draws the initial weights (the same draw for every setting), the training batches (the same
batches for every setting) and the coins; the test set (1 000 sources) is the same for every
seed. Logged per seed and setting: the training loss of every step; every 100 steps ε_i and
the test set's mean teacher-forced and free-running (greedy) error (Eq. (8.5)); at the end
both per-position error curves and, free running, the fraction of test sequences reversed
without an error and the error rate at the positions after a sequence's first error against
that at the positions before any (errors that cluster after a first one are compounding).
"""

from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

from coursekit import (
    decode,
    exponential_schedule,
    exposure_bias,
    inverse_sigmoid_schedule,
    linear_schedule,
    seed_everything,
)
from tools.experiments.log import rounded, run_seeds

CONFIG = {
    "length": 8,
    "embedding_size": 16,
    "hidden_size": 64,
    "steps": 1500,
    "batch": 64,
    "lr": 1e-2,
    "clip": 1.0,
    "sample": True,
    "eval_every": 100,
    "test_size": 1000,
}
DIGITS = 10
SEPARATOR = 10  # the token fed after the source: "now write it backwards"
VOCAB_SIZE = 11
SETTINGS = ("teacher forcing", "linear", "exponential", "inverse sigmoid")


def inverse_sigmoid_k(half_step: float) -> float:
    """The k >= 1 with k ln k = half_step, where Eq. (8.4) crosses 1/2 (Newton's method)."""
    if half_step <= 0:
        return 1.0
    k = max(half_step / math.log(half_step + math.e), 1.0)
    for _ in range(50):
        k = max(k - (k * math.log(k) - half_step) / (math.log(k) + 1), 1.0)
    return k


def schedule(setting: str, steps: int):
    """ε_i as a function of the training step i: each decay crosses 1/2 at i = steps / 2."""
    half = steps / 2
    if setting == "teacher forcing":
        return lambda i: 1.0
    if setting == "linear":
        return lambda i: linear_schedule(i, slope=1 / steps, minimum=0.0)
    if setting == "exponential":
        k = 0.5 ** (1 / half)
        return lambda i: exponential_schedule(i, k=k)
    if setting == "inverse sigmoid":
        k = inverse_sigmoid_k(half)
        return lambda i: inverse_sigmoid_schedule(i, k=k)
    raise ValueError(f"unknown setting {setting!r}; expected one of {SETTINGS}")


def reversal_batch(generator, length, batch):
    """source (B, T) random digits, first_input (B,) the separator, targets (B, T) the source
    backwards."""
    source = torch.randint(DIGITS, (batch, length), generator=generator)
    return source, torch.full((batch,), SEPARATOR), source.flip(1)


def test_set(config=CONFIG):
    """The test sources every seed and setting is scored on."""
    return reversal_batch(
        torch.Generator().manual_seed(12345), config["length"], config["test_size"]
    )


class Decoder(nn.Module):
    """Embedding -> GRUCell -> Linear; ``step`` is :func:`coursekit.decode`'s decoder_step."""

    def __init__(self, config=CONFIG):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB_SIZE, config["embedding_size"])
        self.cell = nn.GRUCell(config["embedding_size"], config["hidden_size"])
        self.readout = nn.Linear(config["hidden_size"], VOCAB_SIZE)

    def step(self, ids, h):
        h = self.cell(self.embedding(ids), h)  # (B, H)
        return self.readout(h), h  # (B, V)

    def read(self, source):
        """The state after reading ``source (B, T)``, every digit fed as given."""
        h = None
        for t in range(source.shape[1]):
            _, h = self.step(source[:, t], h)
        return h


def evaluate(model, test):
    """Per-position teacher-forced and free-running error on the test set, and three numbers
    of free running: the fraction of sequences entirely right, and the error rate at the
    positions after a first error against that at the positions before any (compounding)."""
    source, first, targets = test
    with torch.no_grad():
        state = model.read(source)
        bias = exposure_bias(model.step, first, targets, state=state)
        free = decode(model.step, first, targets, p_true=0.0, state=state).predictions
    wrong = free != targets  # (B, T)
    after, before = error_after_and_before_a_first_error(wrong)
    summary = {
        "free_running_sequences_right": (~wrong).all(1).double().mean().item(),
        "free_running_error_after_an_error": after,
        "free_running_error_before_any_error": before,
    }
    return bias, summary


def error_after_and_before_a_first_error(wrong):
    """``wrong (B, T)`` bool -> (error rate at the positions that follow an earlier error of
    their sequence, error rate at the positions that do not); 0.0 where there are none."""
    earlier = (wrong.cumsum(1) - wrong.long()) > 0  # (B, T): an error before position t

    def rate(chosen):
        return chosen.double().mean().item() if chosen.numel() else 0.0

    return rate(wrong[earlier]), rate(wrong[~earlier])


def train(model, setting, seed, config=CONFIG):
    """Train ``model`` under ``setting``'s ε_i; returns the losses and the evaluation curve."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    batches = torch.Generator().manual_seed(1000 + seed)
    coins = torch.Generator().manual_seed(2000 + seed)
    p_true, test = schedule(setting, config["steps"]), test_set(config)
    losses, curve = [], []
    for i in range(config["steps"]):
        source, first, targets = reversal_batch(batches, config["length"], config["batch"])
        decoded = decode(
            model.step,
            first,
            targets,
            p_true=p_true(i),
            state=model.read(source),
            generator=coins,
            sample=config["sample"],
        )
        loss = F.cross_entropy(decoded.logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
        optimizer.step()
        losses.append(loss.item())
        if (i + 1) % config["eval_every"] == 0:
            bias = evaluate(model, test)[0]
            curve.append(
                {
                    "step": i + 1,
                    "p_true": p_true(i),
                    "teacher_forced": bias.teacher_forced.mean().item(),
                    "free_running": bias.free_running.mean().item(),
                }
            )
    return losses, curve


def run(seed: int, config=CONFIG, settings=SETTINGS) -> dict:
    results = {}
    for setting in settings:
        seed_everything(seed)  # the same initial draw for every setting
        model = Decoder(config)
        losses, curve = train(model, setting, seed, config)
        bias, summary = evaluate(model, test_set(config))
        results[setting] = {
            "loss": rounded(losses),
            "curve": curve,
            "teacher_forced": rounded(bias.teacher_forced.tolist()),
            "free_running": rounded(bias.free_running.tolist()),
            **summary,
        }
    return {"seed": seed, "settings": results}


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
