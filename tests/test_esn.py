"""Specifications of coursekit.esn (chapter 11) and of coursekit.data.mackey_glass.

The other side of each assertion is an independent formula: numpy's eigenvalues and least
squares, a direct loop written here, the definition of the squared correlation, a much finer
integration step. tests/test_esn_reservoirpy.py compares with reservoirpy.
"""

import numpy as np
import pytest
import torch

from coursekit.data import mackey_glass
from coursekit.esn import (
    collect_states,
    input_matrix,
    readout,
    reservoir_matrix,
    ridge_readout,
    run_reservoir,
    scale_to_spectral_radius,
    spectral_radius,
)
from coursekit.esn_models import ESN, DeepESN, memory_capacity


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("rho", [0.5, 0.95, 1.3])
def test_reservoir_matrix_has_the_requested_spectral_radius(rho):
    W = reservoir_matrix(80, spectral_radius=rho, connectivity=0.2, generator=gen())
    assert np.abs(np.linalg.eigvals(W.numpy())).max() == pytest.approx(rho, rel=1e-10)
    assert spectral_radius(W) == pytest.approx(rho, rel=1e-10)


def test_reservoir_matrix_has_about_the_requested_density():
    W = reservoir_matrix(200, connectivity=0.1, generator=gen())
    assert (W != 0).double().mean().item() == pytest.approx(0.1, abs=0.01)


def test_scaling_by_the_spectral_radius_is_not_scaling_by_the_largest_singular_value():
    W0 = torch.randn(30, 30, generator=gen(), dtype=torch.float64)
    W = scale_to_spectral_radius(W0, 0.9)
    assert np.linalg.norm(W.numpy(), 2) > 1.0 > 0.9  # σ_max of a random matrix exceeds ρ
    assert torch.allclose(W / W0, torch.full_like(W, (W / W0)[0, 0].item()))


def test_input_matrix_entries_are_plus_or_minus_the_input_scaling():
    W_in = input_matrix(500, 3, input_scaling=0.7, connectivity=0.3, generator=gen())
    values = set(W_in.unique().tolist())
    assert values == {-0.7, 0.0, 0.7}
    assert (W_in != 0).double().mean().item() == pytest.approx(0.3, abs=0.03)


def direct_states(u, W_in, W, bias, alpha, x0):
    """Eq. (11.1) written out entry by entry with numpy."""
    x, states = x0.copy(), []
    for t in range(len(u)):
        x = (1 - alpha) * x + alpha * np.tanh(W_in @ u[t] + W @ x + bias)
        states.append(x)
    return np.array(states)


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_run_reservoir_follows_the_leaky_update(alpha):
    g = gen(1)
    W = reservoir_matrix(20, generator=g)
    W_in = input_matrix(20, 2, connectivity=1.0, generator=g)
    bias = torch.rand(20, generator=g, dtype=torch.float64)
    u = torch.rand(15, 2, generator=g, dtype=torch.float64)
    x0 = torch.rand(20, generator=g, dtype=torch.float64)
    ours = run_reservoir(u, W_in, W, bias, alpha, x0)
    expected = direct_states(u.numpy(), W_in.numpy(), W.numpy(), bias.numpy(), alpha, x0.numpy())
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-12)


def test_leak_rate_one_is_the_classic_esn():
    g = gen(2)
    W, W_in = reservoir_matrix(10, generator=g), input_matrix(10, 1, connectivity=1.0, generator=g)
    u = torch.rand(8, 1, generator=g, dtype=torch.float64)
    x, classic = torch.zeros(10, dtype=torch.float64), []
    for t in range(8):
        x = torch.tanh(W_in @ u[t] + W @ x)
        classic.append(x)
    assert torch.allclose(run_reservoir(u, W_in, W, None, 1.0), torch.stack(classic), atol=1e-14)


def test_collect_states_drops_exactly_the_washout():
    g = gen(3)
    W, W_in = reservoir_matrix(10, generator=g), input_matrix(10, 1, connectivity=1.0, generator=g)
    u = torch.rand(30, 1, generator=g, dtype=torch.float64)
    full = run_reservoir(u, W_in, W)
    kept = collect_states(u, W_in, W, washout=7)
    assert kept.shape == (23, 10) and torch.equal(kept, full[7:])
    with pytest.raises(ValueError, match="washout"):
        collect_states(u, W_in, W, washout=30)


@pytest.mark.parametrize("ridge", [0.0, 1e-6, 1e-2, 10.0])
def test_ridge_readout_matches_lstsq_on_the_augmented_system(ridge):
    g = gen(4)
    states = torch.rand(60, 12, generator=g, dtype=torch.float64) * 2 - 1
    targets = torch.rand(60, 3, generator=g, dtype=torch.float64)
    X = np.hstack([np.ones((60, 1)), states.numpy()])
    # penalise every column but the bias: stack sqrt(β) I under the weight columns
    penalty = np.sqrt(ridge) * np.eye(13)[1:]
    A = np.vstack([X, penalty])
    B = np.vstack([targets.numpy(), np.zeros((12, 3))])
    expected = np.linalg.lstsq(A, B, rcond=None)[0].T  # (O, N + 1)
    ours = ridge_readout(states, targets, ridge)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-9, atol=1e-10)


def test_ridge_readout_survives_an_ill_conditioned_gram_matrix():
    # two nearly equal state columns: XᵀX has a condition number near 1e16, the inverse is useless
    g = gen(5)
    base = torch.rand(200, 5, generator=g, dtype=torch.float64)
    states = torch.cat([base, base[:, :1] + 1e-9 * torch.rand(200, 1, generator=g)], dim=1)
    W_true = torch.rand(1, 7, generator=g, dtype=torch.float64)
    targets = readout(states, W_true)
    W_out = ridge_readout(states, targets, 1e-10)
    assert torch.allclose(readout(states, W_out), targets, atol=1e-7)


def test_readout_adds_the_bias_column():
    W_out = torch.tensor([[0.5, 1.0, -2.0]], dtype=torch.float64)
    states = torch.tensor([[1.0, 1.0], [0.0, 3.0]], dtype=torch.float64)
    assert readout(states, W_out).flatten().tolist() == [-0.5, -5.5]


def test_echo_state_property_initial_states_are_forgotten_when_sigma_max_is_below_one():
    # σ_max(W) < 1 makes the update a contraction: any two starts converge under one input
    g = gen(6)
    W0 = torch.randn(50, 50, generator=g, dtype=torch.float64)
    W = W0 * 0.95 / torch.linalg.matrix_norm(W0, 2)
    W_in = input_matrix(50, 1, connectivity=1.0, generator=g)
    u = torch.rand(300, 1, generator=g, dtype=torch.float64) * 2 - 1
    a = run_reservoir(u, W_in, W, state=torch.ones(50, dtype=torch.float64))
    b = run_reservoir(u, W_in, W, state=-torch.ones(50, dtype=torch.float64))
    distance = (a - b).norm(dim=1)
    # the bound of a contraction: |Δx_t| <= 0.95^t |Δx_0|
    bound = 0.95 ** torch.arange(1, 301, dtype=torch.float64) * (2 * 50**0.5)
    assert (distance <= bound + 1e-12).all() and distance[-1] < 1e-6


def test_without_input_a_spectral_radius_above_one_keeps_two_starts_apart():
    # with u = 0, ρ > 1 makes the zero state unstable: a small start does not die out
    W = reservoir_matrix(50, spectral_radius=1.5, connectivity=0.2, generator=gen(7))
    W_in = torch.zeros(50, 1, dtype=torch.float64)
    x0 = 1e-3 * torch.randn(50, generator=gen(8), dtype=torch.float64)
    states = run_reservoir(torch.zeros(200, 1, dtype=torch.float64), W_in, W, state=x0)
    assert states[-1].norm() > 100 * x0.norm()


def test_memory_capacity_is_the_sum_of_squared_correlations_and_at_most_k_max():
    esn = ESN(1, 30, spectral_radius=0.9, ridge=1e-6, generator=gen(9))
    per_delay = memory_capacity(esn, 20, generator=gen(10), per_delay=True)
    total = memory_capacity(
        ESN(1, 30, spectral_radius=0.9, ridge=1e-6, generator=gen(9)), 20, generator=gen(10)
    )
    assert per_delay.shape == (20,) and ((per_delay >= 0) & (per_delay <= 1 + 1e-12)).all()
    assert total == pytest.approx(per_delay.sum().item(), rel=1e-12)
    assert per_delay[0] > 0.9 > per_delay[-1]  # the last input is remembered, u_{t-20} is not
    # the definition: r² of the readout of u_{t-1} with its target, recomputed with numpy
    u = (torch.rand(200, generator=gen(10), dtype=torch.float64) * 1.6 - 0.8).numpy()
    esn = ESN(1, 30, spectral_radius=0.9, ridge=1e-6, generator=gen(9))
    train = 180 - 40
    esn.fit(u[20 : 20 + train, None], u[19 : 19 + train, None], washout=20)
    prediction = esn.predict(u[20 + train :, None]).numpy()[:, 0]
    r = np.corrcoef(prediction, u[19 + train : 199])[0, 1]
    assert per_delay[0].item() == pytest.approx(r**2, rel=1e-6)


def test_esn_learns_one_step_mackey_glass_and_generates_in_closed_loop():
    series = mackey_glass(1600)
    series = (series - series.mean()) / series.std()
    esn = ESN(1, 200, spectral_radius=1.1, leak_rate=0.3, ridge=1e-7, generator=gen(11))
    esn.fit(series[:1000, None], series[1:1001, None], washout=100)
    prediction = esn.predict(series[1000:1500, None])  # continues from the training state
    error = (prediction[:, 0] - series[1001:1501]).pow(2).mean().sqrt()
    assert error < 0.05
    # closed loop from the state after 1500 steps: the first 20 outputs follow the series
    generated = esn.generate(20, series[1500:1501])
    assert generated.shape == (20, 1)
    assert (generated[:, 0] - series[1501:1521]).abs().max() < 0.1


def test_deep_esn_stacks_reservoirs_and_reads_from_all_layers_or_the_top():
    deep = DeepESN(1, 15, 3, spectral_radius=0.9, generator=gen(12))
    u = torch.rand(40, 1, generator=gen(13), dtype=torch.float64)
    states = deep.states(u)
    assert states.shape == (40, 45)
    first = run_reservoir(u, deep.layers[0].W_in, deep.layers[0].W)
    second = run_reservoir(first, deep.layers[1].W_in, deep.layers[1].W)
    assert torch.allclose(states[:, :15], first) and torch.allclose(states[:, 15:30], second)
    top = DeepESN(1, 15, 3, readout_from="top", generator=gen(12))
    assert torch.allclose(top.states(u), states[:, 30:])


def test_bad_arguments_raise_value_errors_that_name_them():
    with pytest.raises(ValueError, match="units"):
        reservoir_matrix(0)
    with pytest.raises(ValueError, match="square"):
        spectral_radius(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="leak_rate"):
        ESN(1, 5, leak_rate=1.5)
    with pytest.raises(ValueError, match="same T"):
        ridge_readout(torch.zeros(5, 2), torch.zeros(4, 1), 1.0)


def test_mackey_glass_rk4_has_fourth_order_accuracy_and_agrees_with_a_fine_step():
    fine = mackey_glass(201, dt=0.0125)
    errors = [(mackey_glass(201, dt=dt) - fine).abs().max().item() for dt in (0.5, 0.25)]
    assert 12 < errors[0] / errors[1] < 20  # halving the step divides the error by 2^4
    assert (mackey_glass(201) - fine).abs().max() < 1e-8


def test_mackey_glass_agrees_with_an_independent_euler_integration():
    # explicit Euler with a step of 0.001 (first order: error about 1e-3 over 50 time units)
    tau, h, T = 17.0, 0.001, 50
    d = round(tau / h)
    x = np.empty(round(T / h) + 1)
    x[0] = 1.2
    for i in range(len(x) - 1):
        lag = x[i - d] if i >= d else 1.2
        x[i + 1] = x[i] + h * (0.2 * lag / (1 + lag**10) - 0.1 * x[i])
    np.testing.assert_allclose(mackey_glass(T + 1).numpy(), x[:: round(1 / h)], atol=2e-3)


def test_mackey_glass_is_chaotic_but_bounded():
    series = mackey_glass(3000)
    assert series.shape == (3000,) and series.dtype == torch.float64
    assert 0.2 < series[500:].min() < series[500:].max() < 1.5


@pytest.mark.gpu
def test_esn_runs_on_the_gpu_and_matches_the_cpu():
    cpu = ESN(1, 50, generator=gen(14))
    gpu = ESN(1, 50, weights=(cpu.W_in.cuda(), cpu.W.cuda(), None), ridge=cpu.ridge)
    u = torch.rand(100, 1, generator=gen(15), dtype=torch.float64)
    y = torch.roll(u, 2, 0)
    cpu.fit(u, y, washout=10)
    gpu.fit(u.cuda(), y.cuda(), washout=10)
    assert gpu.W_out.device.type == "cuda"
    torch.testing.assert_close(gpu.W_out.cpu(), cpu.W_out, rtol=1e-8, atol=1e-9)
