"""Chapter 4, §4.5: an RNN, an LSTM and a GRU on the adding problem, T = 50.

Each input step has two features, a value in [0, 1] and a marker, 1 at exactly two steps
(one in each half of the sequence); the target, read after the last step, is the sum of the
two marked values. Answering the mean, 1, scores MSE Var(u1 + u2) = 1/6. Each model has 32
hidden units and a linear readout of its last state, and is trained with Adam (lr 1e-2,
gradient norm clipped at 1) for 1 200 steps on fresh batches of 64. A fourth model is the
same LSTM with its forget-gate bias started at 1 instead of torch's small random values
(Gers et al. 2000; Jozefowicz et al. 2015), so that it starts out remembering.

The seed draws the initial weights (the same draw for every model; the two LSTMs differ only
in the forget-gate bias) and the training batches (the same batches for every model); the
test set (1 000 sequences) is the same for every seed. Logged per seed and model: the training loss of every step and the test
MSE. The seed-0 models are saved as ``book/data/adding_problem_seed0.pt`` (state dicts),
which chapter 4 loads to look inside the trained LSTM.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

from coursekit import GRU, LSTM, RNN, seed_everything
from tools.experiments.log import DATA, rounded, run_seeds

CONFIG = {"length": 50, "hidden_size": 32, "steps": 1200, "batch": 64, "lr": 1e-2, "clip": 1.0}
LAYERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU, "LSTM, forget bias 1": LSTM}
WEIGHTS = DATA / "adding_problem_seed0.pt"


def adding_batch(generator, steps, batch):
    """x (T, B, 2): a value in [0, 1] and a marker; y (B, 1): the sum of the two marked values."""
    values = torch.rand(steps, batch, generator=generator)
    first = torch.randint(0, steps // 2, (batch,), generator=generator)  # one in each half
    second = torch.randint(steps // 2, steps, (batch,), generator=generator)
    markers = torch.zeros(steps, batch)
    markers[first, torch.arange(batch)] = 1.0
    markers[second, torch.arange(batch)] = 1.0
    x = torch.stack([values, markers], dim=-1)  # (T, B, 2)
    return x, (values * markers).sum(0).unsqueeze(-1)  # (B, 1)


def test_set(length=CONFIG["length"]):
    """The 1 000 test sequences every seed and model is scored on."""
    return adding_batch(torch.Generator().manual_seed(2), length, 1000)


class Regressor(nn.Module):
    """A recurrent layer, then a linear readout of its last hidden state."""

    def __init__(self, name, hidden_size=CONFIG["hidden_size"]):
        super().__init__()
        self.layer, self.head = LAYERS[name](2, hidden_size), nn.Linear(hidden_size, 1)
        if name.endswith("forget bias 1"):
            with torch.no_grad():  # gate order i, f, g, o: the f rows; torch adds both biases
                self.layer.bias_ih_l0[hidden_size : 2 * hidden_size] = 1.0
                self.layer.bias_hh_l0[hidden_size : 2 * hidden_size] = 0.0

    def forward(self, x):
        output, _ = self.layer(x)  # (T, B, H)
        return self.head(output[-1])  # (B, 1)


def train_adding(model, generator, config=CONFIG):
    """Adam on fresh batches from `generator`; returns the training loss of every step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    losses = []
    for _ in range(config["steps"]):
        x, y = adding_batch(generator, config["length"], config["batch"])
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
        optimizer.step()
        losses.append(loss.item())
    return losses


def run(seed: int, config=CONFIG, weights=WEIGHTS) -> dict:
    test_x, test_y = test_set(config["length"])
    results, models = {}, {}
    for name in LAYERS:
        seed_everything(seed)
        models[name] = model = Regressor(name, config["hidden_size"])
        losses = train_adding(model, torch.Generator().manual_seed(1000 + seed), config)
        with torch.no_grad():
            test_mse = F.mse_loss(model(test_x), test_y).item()
        results[name] = {"loss": rounded(losses), "test_mse": test_mse}
    if seed == 0 and weights is not None:
        torch.save({name: m.state_dict() for name, m in models.items()}, weights)
    return {"seed": seed, "models": results}


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
