"""Chapter 7, §7.5: an LSTM and a layer-normalised LSTM on the adding problem, T = 50.

The task is chapter 4's adding problem (``tools.experiments.adding_problem``): two features per
step, a value in [0, 1] and a marker that is 1 at one step in each half; the target, read after
the last step, is the sum of the two marked values (answering the mean, 1, scores MSE 1/6).
Each model has 32 hidden units and a linear readout of its last state, trained with Adam
(lr 1e-2, gradient norm clipped at 1) for 600 steps on fresh batches of 64. Two models, the
course LSTM (``coursekit.LSTM``) and the LN-LSTM of Ba et al. 2016
(``coursekit.LayerNormLSTM``, Eq. (7.8)-(7.10)), each from two initialisations:

- torch's: every weight and bias uniform in (-1/sqrt(H), 1/sqrt(H));
- the same draw with the weight matrices multiplied by 4 (a poorly scaled initialisation:
  the LSTM's gates start saturated; the LN-LSTM's normalised pre-activations do not change,
  Eq. (7.8) is invariant to a positive rescaling of W_ih and W_hh).

The seed draws the initial weights (the same draw for both initialisations of a model) and the
training batches (the same batches for every model and initialisation); the test set is chapter
4's 1 000 sequences. Logged per seed and setting: the training loss of every step and the test
MSE.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

from coursekit import LSTM, LayerNormLSTM, seed_everything
from tools.experiments.adding_problem import adding_batch, test_set
from tools.experiments.log import rounded, run_seeds

CONFIG = {"length": 50, "hidden_size": 32, "steps": 600, "batch": 64, "lr": 1e-2, "clip": 1.0}
LAYERS = {"LSTM": LSTM, "LN-LSTM": LayerNormLSTM}
SCALES = (1.0, 4.0)  # the weight matrices' initialisation, times torch's


def label(name, scale):
    return f"{name}, init x{scale:g}"


class Regressor(nn.Module):
    """A recurrent layer (its weight matrices scaled by `scale`), then a linear readout."""

    def __init__(self, name, scale=1.0, hidden_size=CONFIG["hidden_size"]):
        super().__init__()
        self.layer, self.head = LAYERS[name](2, hidden_size), nn.Linear(hidden_size, 1)
        with torch.no_grad():
            for p_name, p in self.layer.named_parameters():
                if p_name.startswith("weight_"):  # weight_ih_l0, weight_hh_l0: not the γ
                    p.mul_(scale)

    def forward(self, x):
        output, _ = self.layer(x)  # (T, B, H)
        return self.head(output[-1])  # (B, 1)


def train(model, generator, config=CONFIG):
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


def run(seed: int, config=CONFIG, scales=SCALES) -> dict:
    x_test, y_test = test_set(config["length"])
    results = {}
    for name in LAYERS:
        for scale in scales:
            seed_everything(seed)  # the same initial draw for both scales
            model = Regressor(name, scale, config["hidden_size"])
            losses = train(model, torch.Generator().manual_seed(1000 + seed), config)
            with torch.no_grad():
                test_mse = F.mse_loss(model(x_test), y_test).item()
            results[label(name, scale)] = {
                "model": name,
                "scale": scale,
                "loss": rounded(losses),
                "test_mse": test_mse,
            }
    return {"seed": seed, "models": results}


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
