"""Grading specs for assignment 11, echo state networks: four functions of coursekit.esn.

``scale_to_spectral_radius`` (Eq. (11.4)) is compared in values only (the gradient of a
largest |eigenvalue| is not defined where two tie, as a complex pair's do): random matrices,
which are not symmetric and so have complex eigenvalues, one whose dominant eigenvalue is
negative, a rotation whose eigenvalues are all imaginary, a 1 x 1 matrix. ``reservoir_step``
(Eq. (11.1)) and ``collect_states`` are compared in values and gradients (input, state, every
weight), with leak rates away from 1/2 (so a leak on the wrong term shows), with and without
bias, a given start state and washouts from 0 to T - 1. ``ridge_readout`` (Eq. (11.3)) is
judged by :func:`compare_readout`: by what ``W_out`` outputs on the training states and on the
midpoints of consecutive states, not by its entries, since two exact solvers of the same
ill-conditioned system (the normal equations and the centred solve of the reference) agree
in what the readout outputs but not digit for digit in its weights. The cases include several
outputs, β = 0 on full-rank states, large β (where a penalised bias or a misplaced β shows),
the states of a real reservoir driven by a sine, and two nearly equal state columns, whose
Gram matrix is so ill-conditioned that an explicit inverse loses the outputs' digits.
"""

from __future__ import annotations

import numpy as np
import torch

from coursekit.esn import collect_states, input_matrix, reservoir_matrix
from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit

# -- chapter 11: echo state networks ----------------------------------------------------------

ESN_FORBIDDEN = (
    "scale_to_spectral_radius",
    "reservoir_matrix",
    "reservoir_step",
    "run_reservoir",
    "collect_states",
    "ridge_readout",
    "Reservoir",
    "Ridge",
    "ESN",
)
# a ready-made least-squares solver is the readout's whole job
READOUT_FORBIDDEN = (*ESN_FORBIDDEN, "lstsq", "pinv", "pinverse")

# The readout's outputs are compared with this tolerance, relative to the targets' scale.
# Measured over 40 seeds against the reference: a solve of the normal equations is off by at
# most 3e-8 on the near-duplicate case and 1.5e-7 on the reservoir's states, a QR solve of
# the stacked ridge system by 8e-9 and 1.1e-7; an explicit inverse by at least 3.1e-5 on
# the near-duplicate case. 3e-6 lies between, with a margin of 10 or more on each side.
READOUT_RTOL = 3e-6


def _scale_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, n, radius in [
        ("N=5, ρ=0.9", 5, 0.9),
        ("N=12, ρ=1.25", 12, 1.25),
        ("N=1, ρ=0.5", 1, 0.5),
        ("N=8, ρ=0.3", 8, 0.3),
    ]:
        b = SpecBuilder(g)
        cases.append(b.case(label, [b.tensor(n, n, scale=2.0), lit(radius)]))
    for label, matrix, radius in [
        ("diag(-3, 1, 0.5): the dominant eigenvalue is negative", np.diag([-3.0, 1.0, 0.5]), 0.9),
        ("2 x a rotation by 90°: eigenvalues ±2i", [[0.0, -2.0], [2.0, 0.0]], 0.8),
        ("triangular, eigenvalues -1.5 and 0.7", [[-1.5, 1.0], [0.0, 0.7]], 0.95),
    ]:
        b = SpecBuilder(g)
        cases.append(b.case(label, [b.given(matrix), lit(radius)]))
    return cases


def _reservoir(b: SpecBuilder, n: int, i: int, bias: bool, radius: float) -> list[dict]:
    """W_in (N, I), W (N, N) with entries scaled so that ρ(W) is near ``radius``, bias or None."""
    W_in = b.tensor(n, i, scale=1.0)
    W = b.tensor(n, n, scale=radius * 1.7 / n**0.5)  # ρ of a uniform(-a, a) matrix ~ a √(N/3)
    return [W_in, W, b.tensor(n, scale=0.5) if bias else lit(None)]


def _step_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, n, i, bias, leak in [
        ("N=5, I=3, α=0.3", 5, 3, True, 0.3),
        ("N=4, I=2, α=1 (classic), no bias", 4, 2, False, 1.0),
        ("N=1, I=1, α=0.8", 1, 1, True, 0.8),
        ("N=6, I=1, α=0.1", 6, 1, True, 0.1),
        ("N=3, I=4, α=0.65, no bias", 3, 4, False, 0.65),
    ]:
        b = SpecBuilder(g)
        u, x = b.tensor(i, scale=1.5), b.tensor(n, scale=0.9)
        cases.append(b.case(label, [u, x, *_reservoir(b, n, i, bias, 1.2), lit(leak)]))
    return cases


def _collect_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, t, n, i, bias, leak, washout, start in [
        ("T=6, N=4, I=2, α=0.5, washout 2, a given start", 6, 4, 2, True, 0.5, 2, True),
        ("T=8, N=5, I=1, α=1, no bias, washout 3, zero start", 8, 5, 1, False, 1.0, 3, False),
        ("T=1, N=3, I=2, α=0.3, no washout", 1, 3, 2, True, 0.3, 0, True),
        ("T=5, N=1, I=3, α=0.7, no washout, a given start", 5, 1, 3, True, 0.7, 0, True),
        ("T=7, N=3, I=2, α=0.2, washout 6 (one state left)", 7, 3, 2, True, 0.2, 6, True),
        ("T=10, N=6, I=2, α=0.9, washout 4, zero start", 10, 6, 2, True, 0.9, 4, False),
    ]:
        b = SpecBuilder(g)
        inputs = b.tensor(t, i, scale=1.5)
        W_in, W, bias_arg = _reservoir(b, n, i, bias, 0.9)
        state = b.tensor(n, scale=0.9) if start else lit(None)
        args = [inputs, W_in, W, bias_arg, lit(leak), lit(washout), state]
        cases.append(b.case(label, args))
    return cases


def _sine_reservoir_states(g: torch.Generator) -> np.ndarray:
    """States (250, 40) of a leaky reservoir driven by a noisy sine, the washout dropped:
    strongly correlated columns, so XᵀX is ill-conditioned (cond ~1e10 and more)."""
    W = reservoir_matrix(40, spectral_radius=0.95, connectivity=0.2, generator=g)
    W_in = input_matrix(40, 1, input_scaling=0.5, connectivity=0.5, generator=g)
    steps = torch.arange(300, dtype=torch.float64)
    noise = 0.01 * torch.randn(300, generator=g, dtype=torch.float64)
    inputs = (torch.sin(steps * 2 * torch.pi / 30) + noise)[:, None]  # (300, 1)
    return collect_states(inputs, W_in, W, leak_rate=0.3, washout=50).numpy()


def _readout_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, t, n, o, ridge in [
        ("T=30, N=5, O=2, β=0.1", 30, 5, 2, 0.1),
        ("T=20, N=3, O=1, β=0 (least squares)", 20, 3, 1, 0.0),
        ("T=25, N=4, O=3, β=10", 25, 4, 3, 10.0),
        ("T=40, N=6, O=1, β=1000 (the bias must survive)", 40, 6, 1, 1000.0),
        ("T=12, N=8, O=2, β=0.001", 12, 8, 2, 0.001),
        ("T=2, N=1, O=1, β=0 (a line through two points)", 2, 1, 1, 0.0),
    ]:
        b = SpecBuilder(g)
        states = torch.rand(t, n, generator=g, dtype=torch.float64) * 2 - 0.5  # mean ~0.5
        mixing = torch.randn(n, o, generator=g, dtype=torch.float64)
        noise = 0.1 * torch.randn(t, o, generator=g, dtype=torch.float64)
        targets = 1.5 + states @ mixing + noise  # a bias of 1.5 to fit
        args = [b.given(states.numpy()), b.given(targets.numpy()), lit(ridge)]
        cases.append(b.case(label, args))
    b = SpecBuilder(g)
    states = _sine_reservoir_states(g)
    targets = np.stack([np.roll(states[:, 0], -1), states[:, 1] ** 2], axis=1)
    args = [b.given(states), b.given(targets), lit(1e-8)]
    cases.append(b.case("states of a reservoir driven by a sine (ill-conditioned), β=1e-8", args))
    b = SpecBuilder(g)
    states = _near_duplicate_states(g)
    targets = np.stack([2 * states[:, 0] + 1, np.sin(states[:, 1])], axis=1)
    args = [b.given(states), b.given(targets), lit(1e-10)]
    cases.append(b.case("two nearly equal state columns and an offset one, β=1e-10", args))
    return cases


def _near_duplicate_states(g: torch.Generator) -> np.ndarray:
    """States (200, 8): six uniform columns, one equal to the first up to 1e-6 (two units
    carrying the same signal) and one of scale 1000 with an offset of 5. XᵀX + βD has a
    condition number near 1e17: a solve keeps the outputs to ~1e-8, an inverse to ~1e-4."""
    states = torch.rand(200, 6, generator=g, dtype=torch.float64)
    twin = states[:, :1] + 1e-6 * torch.rand(200, 1, generator=g, dtype=torch.float64)
    return torch.cat([states, twin, states[:, 1:2] * 1e3 + 5], dim=1).numpy()


def compare_readout(case: Case, got: dict, expected: dict) -> str | None:
    """``W_out`` judged by its outputs: on the training states and on the midpoints of
    consecutive states, within READOUT_RTOL of the targets' largest magnitude."""
    from coursekit.grading.checks import compare_arrays  # checks imports specs

    if int(got.get("n", -1)) != 1 or "o0" not in got:
        return f"returned {int(got.get('n', -1))} output(s); expected one, W_out"
    states = case.arrays[case.args[0]["t"]]
    targets = case.arrays[case.args[1]["t"]]
    W_out, reference = np.asarray(got["o0"]), expected["o0"]
    if W_out.shape != reference.shape:
        return (
            f"W_out has shape {tuple(W_out.shape)}; expected {tuple(reference.shape)} "
            "(O, N + 1), column 0 the bias"
        )
    midpoints = (states[:-1] + states[1:]) / 2 if len(states) > 1 else states
    atol = READOUT_RTOL * max(1.0, float(np.abs(targets).max()))
    for where, points in [("the training states", states), ("new states", midpoints)]:
        augmented = np.concatenate([np.ones((len(points), 1)), points], axis=1)
        with np.errstate(all="ignore"):
            outputs = augmented @ W_out.T
        problem = compare_arrays(
            f"the readout's output on {where}", outputs, augmented @ reference.T, 0.0, atol
        )
        if problem:
            return problem
    return None


FUNCTION_SPECS = [
    FunctionSpec(
        "scale_to_spectral_radius",
        "coursekit.esn:scale_to_spectral_radius",
        _scale_cases,
        ESN_FORBIDDEN,
        gradients=False,
    ),
    FunctionSpec("reservoir_step", "coursekit.esn:reservoir_step", _step_cases, ESN_FORBIDDEN),
    FunctionSpec("collect_states", "coursekit.esn:collect_states", _collect_cases, ESN_FORBIDDEN),
    FunctionSpec(
        "ridge_readout",
        "coursekit.esn:ridge_readout",
        _readout_cases,
        READOUT_FORBIDDEN,
        gradients=False,
        compare=compare_readout,
    ),
]
