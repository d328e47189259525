"""Chapter 3, §3.4-3.5: learning y_t = x_(t-6) with BPTT(4, 4), BPTT(4, 8) and random windows.

Random bits x_t in {-1, +1}; the target is the bit six steps back. A 16-unit Elman network
(float64, Adam, lr 1e-2) reads one stream of 3 000 steps (16 streams in a batch) once, under
three truncation schedules with about the same number of updates:

- BPTT(4, 4): an update every 4 steps, backpropagated 4 steps deep: no loss is ever linked
  to the input 6 steps before it;
- BPTT(4, 8): an update every 4 steps, 8 deep: twice the backward cost;
- random windows of geometric length, mean 4 (Eq. (3.9)): the cost of BPTT(4, 4).

The seed draws the network's initial weights, the training stream and the window lengths;
the test stream (500 steps of 64 streams) is the same for every seed. Logged per seed and
schedule: the loss of every update, the stream position it was taken at, the test error.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from coursekit import ElmanRNN, random_truncation_lengths, seed_everything, stream_train
from coursekit.truncated_bptt import truncated_bptt_step
from tools.experiments.log import rounded, run_seeds

CONFIG = {"delay": 6, "hidden_size": 16, "steps": 3000, "batch": 16, "lr": 1e-2, "mean_length": 4}
SCHEDULES = ("BPTT(4, 4)", "BPTT(4, 8)", "random, mean 4")


def delay_task(steps, batch, delay, generator):
    """Random bits x (steps, batch, 1) in {-1, +1} and targets y_t = x_(t-delay) (0 before)."""
    x = 2 * torch.randint(0, 2, (steps, batch, 1), generator=generator).double() - 1
    y = torch.zeros_like(x)
    y[delay:] = x[:-delay]
    return x, y


def test_error(model, delay):
    """Mean squared error on 500 fresh steps of 64 streams; predicting 0 scores 1."""
    x, y = delay_task(500, 64, delay, torch.Generator().manual_seed(123))
    with torch.no_grad():
        prediction, _ = model(x)
    return F.mse_loss(prediction[delay:], y[delay:]).item()


def train_random_windows(model, optimizer, x, y, mean_length, generator):
    """Consecutive windows of geometric length: each is one update with k1 = k2 = L."""
    lengths = random_truncation_lengths(mean_length, len(x), generator)
    start, h, losses, ends = 0, None, [], []
    for length in lengths.tolist():
        if start >= len(x):
            break
        end = min(start + length, len(x))
        loss, h = truncated_bptt_step(
            model, optimizer, x[start:end], y[start:end], h, end - start, end - start, F.mse_loss
        )
        losses.append(loss)
        ends.append(end)
        start = end
    return losses, ends


def run(seed: int, config=CONFIG) -> dict:
    delay = config["delay"]
    x, y = delay_task(
        config["steps"], config["batch"], delay, torch.Generator().manual_seed(1000 + seed)
    )
    results = {}
    for schedule in SCHEDULES:
        seed_everything(seed)  # the same initial weights for every schedule of this seed
        model = ElmanRNN(1, config["hidden_size"], 1).double()
        optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
        if schedule.startswith("random"):
            generator = torch.Generator().manual_seed(2000 + seed)
            losses, ends = train_random_windows(
                model, optimizer, x, y, config["mean_length"], generator
            )
        else:
            k1, k2 = (int(k) for k in schedule[5:-1].split(", "))
            losses, _ = stream_train(model, optimizer, x, y, k1, k2, F.mse_loss)
            ends = [k1 * (j + 1) for j in range(len(losses))]
        results[schedule] = {
            "position": ends,
            "loss": rounded(losses),
            "test_error": test_error(model, delay),
        }
    return {"seed": seed, "schedules": results}


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
