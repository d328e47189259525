"""coursekit.esn against reservoirpy 0.4.2 (a test-only dependency, requirements.txt).

Given the same weight matrices both libraries must give the same states and readout; drawn
with their own generators, their memory capacity and Mackey-Glass error must agree in the
median over ten seeds (memory capacity within 5 %, NRMSE within a factor 1.5), the tolerances
of issue 19.
"""

import statistics

import numpy as np
import pytest
import torch
from reservoirpy.nodes import Reservoir, Ridge
from reservoirpy.observables import memory_capacity as rpy_memory_capacity

from coursekit.data import mackey_glass
from coursekit.esn_models import ESN, memory_capacity, nrmse

SEEDS = range(1, 11)


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("leak_rate", [1.0, 0.3])
def test_same_weights_give_reservoirpys_states_and_readout(leak_rate):
    g = gen(0)
    esn = ESN(
        2, 60, spectral_radius=0.9, bias_scaling=0.5, leak_rate=leak_rate, ridge=1e-2, generator=g
    )
    u = torch.rand(400, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.stack([torch.roll(u[:, 0], 3), u[:, 1] ** 2], dim=1)
    reservoir = Reservoir(
        W=esn.W.numpy(), Win=esn.W_in.numpy(), bias=esn.bias.numpy(), lr=leak_rate
    )
    ridge = Ridge(ridge=1e-2)
    model = reservoir >> ridge
    states = reservoir.run(u.numpy())
    reservoir.reset()
    model.fit(u[:300].numpy(), y[:300].numpy(), warmup=50)
    predicted = model.run(u[300:].numpy())

    ours_states = esn.states(u, state=torch.zeros(60, dtype=torch.float64))
    np.testing.assert_allclose(ours_states.numpy(), states, rtol=0, atol=1e-12)
    esn.fit(u[:300], y[:300], washout=50)
    # the weights agree to the conditioning of the solve (reservoirpy centres XᵀX after
    # summing it, in one pass); the readout's outputs agree to 1e-10
    np.testing.assert_allclose(esn.W_out[:, 0].numpy(), ridge.bias, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(esn.W_out[:, 1:].numpy(), ridge.Wout.T, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(esn.predict(u[300:]).numpy(), predicted, rtol=0, atol=1e-10)


def test_memory_capacity_median_over_ten_seeds_is_within_5_percent_of_reservoirpys():
    ours, theirs = [], []
    for seed in SEEDS:
        esn = ESN(1, 100, spectral_radius=1.0, ridge=1e-4, generator=gen(seed))
        ours.append(memory_capacity(esn, 50, generator=gen(1000 + seed)))
        model = Reservoir(100, sr=1.0, seed=seed) >> Ridge(ridge=1e-4)
        theirs.append(float(rpy_memory_capacity(model, k_max=50, seed=seed)))
    assert statistics.median(ours) == pytest.approx(statistics.median(theirs), rel=0.05)


def test_mackey_glass_nrmse_median_over_ten_seeds_is_within_1_5_times_reservoirpys():
    # the raw series (values 0.2-1.4): its mean drives the reservoir like a bias; centred
    # inputs let some reservoirs of radius 1.25 run on their own, in both libraries
    series = mackey_glass(2101)
    u, y = series[:-1, None], series[1:, None]  # one step ahead
    train, washout = 1500, 100
    ours, theirs = [], []
    for seed in SEEDS:
        esn = ESN(1, 500, spectral_radius=1.25, leak_rate=0.3, ridge=1e-6, generator=gen(seed))
        esn.fit(u[:train], y[:train], washout=washout)
        ours.append(nrmse(esn.predict(u[train:]), y[train:]))
        model = Reservoir(500, lr=0.3, sr=1.25, seed=seed) >> Ridge(ridge=1e-6)
        model.fit(u[:train].numpy(), y[:train].numpy(), warmup=washout)
        theirs.append(nrmse(torch.as_tensor(model.run(u[train:].numpy())), y[train:]))
    ratio = statistics.median(ours) / statistics.median(theirs)
    assert 1 / 1.5 < ratio < 1.5, (ours, theirs)
