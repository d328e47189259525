"""Grading specs for assignment 10, state-space models and Mamba: four functions of
coursekit.ssm, coursekit.mamba and coursekit.scan, each compared in values and gradients.

``discretize_zoh_diagonal`` (Eq. (10.4)): negative diagonals (and one positive, an unstable
mode), a float step, a 0-dim step, one step per channel from 1e-3 to 2 (so Euler and Mamba's
ΔB part from the exact hold at every size), and the S4D-Real diagonal λ_i = -i with Mamba's
small steps. ``ssm_kernel`` (Eq. (10.6)): dense, non-symmetric Ā (a transposed Ā shows), of
spectral radius below one, with several inputs and outputs, one state, and length 1.
``selective_scan`` (Eq. (10.10)-(10.15)): B and C one per step, shared by the channels
(mamba-ssm's usual layout), every option on and off (D, the gate z, delta_bias, the softplus,
the last state), one channel, one state, length 1, and a Mamba-sized case (A = -(1..n), the
bias the inverse softplus of steps in [1e-3, 0.1]). ``scan_combine`` (Eq. (10.21)): pairs of
every shape from 0-dim to (b, d, n), with decays in (0, 1), negative and zero coefficients.

The tolerances are the default ones (rtol 1e-7, atol 1e-9). Measured over 40 seeds, values
and gradients: the solution equals the reference to the last bit (the same formulas in the same
order); other honest answers stay far inside, at most this fraction of the tolerance
(|got - expected| / (atol + rtol |expected|)): exp(Δλ) - 1 for expm1 1e-6, the dense ZOH of
each row by one matrix_exp 9e-3 (2.4e-10 absolute), matrix_power for each Ā^j 1e-6, powers of
Ā applied to C from the left 4e-6, the scan as selective_scan_ref writes it (einsum, softplus
as log1p(exp)) 2e-7, the scan in closed form from cumulative sums of ΔA 6e-7. Every wrong
variant of tests/grading/variants/state_space_models_and_mamba.py misses, on every seed, by
3e7 times the tolerance or more (the closest: the exact ZOH input term in the scan, 0.97
absolute; Δ not softplus-ed overflows).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit

# -- chapter 10: state-space models and Mamba -------------------------------------------------

SSM_FORBIDDEN = (
    "discretize",
    "discretize_zoh",
    "discretize_zoh_diagonal",
    "discretize_euler",
    "discretize_bilinear",
    "ssm_kernel",
    "ssm_convolution",
    "ssm_recurrence",
    "S4DLayer",
)
SCAN_FORBIDDEN = (
    *SSM_FORBIDDEN,
    "selective_scan",
    "selective_scan_fast",
    "selective_scan_ref",
    "selective_scan_fn",
    "mamba_inner_fn",
    "MambaMixer",
    "MambaBlock",
    "pscan",
    "PScan",
    "linear_scan",
    "scan_loop",
    "scan_blelloch",
    "scan_chunked",
    "scan_combine",
    "BlellochScan",
)


def _uniform(g: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
    return (low + (high - low) * torch.rand(shape, generator=g, dtype=torch.float64)).numpy()


def _log_uniform(g: torch.Generator, shape: tuple[int, ...], low: float, high: float):
    return np.exp(_uniform(g, shape, math.log(low), math.log(high)))


def _zoh_cases(g: torch.Generator) -> list[Case]:
    cases = []
    b = SpecBuilder(g)
    lam, B = b.given(_uniform(g, (4,), -3.0, -0.1)), b.tensor(4, scale=2.0)
    cases.append(b.case("n=4, Δ=0.1 (a float)", [lam, B, lit(0.1)]))
    b = SpecBuilder(g)
    lam, B = b.given(_uniform(g, (1,), -2.0, -0.5)), b.tensor(1, scale=2.0)
    cases.append(b.case("n=1, Δ=1.5 (a float)", [lam, B, lit(1.5)]))
    b = SpecBuilder(g)
    lam, B = b.given(_uniform(g, (2, 3), -2.0, -0.2)), b.tensor(2, 3, scale=2.0)
    cases.append(b.case("d=2, n=3, Δ a 0-dim tensor", [lam, B, b.given(_uniform(g, (), 0.2, 0.9))]))
    b = SpecBuilder(g)
    lam, B = b.given(_uniform(g, (3, 5), -3.0, -0.1)), b.tensor(3, 5, scale=2.0)
    steps = b.given(np.array([[1e-3], [0.3], [2.0]]) * _uniform(g, (3, 1), 0.8, 1.2))
    cases.append(b.case("d=3, n=5, one Δ per channel (3, 1), from 1e-3 to 2", [lam, B, steps]))
    b = SpecBuilder(g)
    values = _uniform(g, (2, 3), -2.0, -0.2)
    values[1, 1] = _uniform(g, (), 0.3, 1.0)  # an unstable mode: ZOH holds for λ > 0 too
    steps = b.given(_uniform(g, (2, 1), 0.1, 1.0))
    args = [b.given(values), b.tensor(2, 3, scale=2.0), steps]
    cases.append(b.case("d=2, n=3, one positive λ (an unstable mode), Δ (2, 1)", args))
    b = SpecBuilder(g)
    lam = b.given(-np.tile(np.arange(1.0, 17.0), (4, 1)))  # S4D-Real: λ_i = -i
    steps = b.given(_log_uniform(g, (4, 1), 1e-3, 0.1))  # Mamba's range of Δ
    args = [lam, b.tensor(4, 16, scale=1.0), steps]
    cases.append(b.case("d=4, n=16, λ_i = -i (S4D-Real), Δ in [1e-3, 0.1] (Mamba's)", args))
    return cases


def _kernel_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, n, m, p, length in [
        ("n=4, m=2, p=3, L=10", 4, 2, 3, 10),
        ("n=1, m=1, p=1, L=1", 1, 1, 1, 1),
        ("n=3, m=1, p=1, L=16 (one input, one output)", 3, 1, 1, 16),
        ("n=5, m=2, p=2, L=7", 5, 2, 2, 7),
        ("n=2, m=3, p=1, L=2", 2, 3, 1, 2),
    ]:
        b = SpecBuilder(g)
        a_bar = b.tensor(n, n, scale=0.9 * 1.7 / n**0.5)  # ρ(Ā) near 0.9 (uniform entries)
        args = [a_bar, b.tensor(n, m, scale=1.5), b.tensor(p, n, scale=1.5), lit(length)]
        cases.append(b.case(label, args))
    return cases


def _scan_case(g, label, batch, d, n, length, *, D, z, bias, softplus, last) -> Case:
    b = SpecBuilder(g)
    u = b.tensor(batch, d, length, scale=1.5)
    if softplus:
        delta = b.given(_uniform(g, (batch, d, length), -2.0, 1.0))  # raw, before softplus
    else:
        delta = b.given(_uniform(g, (batch, d, length), 0.05, 1.0))  # Δ itself, positive
    A = b.given(-_uniform(g, (d, n), 0.2, 2.0))
    args = [u, delta, A, b.tensor(batch, n, length), b.tensor(batch, n, length, scale=1.5)]
    kwargs = {
        "D": b.tensor(d, scale=1.5) if D else lit(None),
        "z": b.tensor(batch, d, length, scale=2.0) if z else lit(None),
        "delta_bias": b.tensor(d, scale=0.5) if bias else lit(None),
        "delta_softplus": lit(softplus),
        "return_last_state": lit(last),
    }
    return b.case(label, args, **kwargs)


def _selective_scan_cases(g: torch.Generator) -> list[Case]:
    cases = [
        _scan_case(g, "b=2, d=3, n=4, L=6, every option", 2, 3, 4, 6,
                   D=True, z=True, bias=True, softplus=True, last=False),
        _scan_case(g, "b=1, d=1, n=1, L=1, D, softplus", 1, 1, 1, 1,
                   D=True, z=False, bias=False, softplus=True, last=False),
        _scan_case(g, "b=2, d=4, n=2, L=5, no D, no z, softplus, the last state", 2, 4, 2, 5,
                   D=False, z=False, bias=False, softplus=True, last=True),
        _scan_case(g, "b=1, d=2, n=3, L=8, Δ given (no softplus), D, z", 1, 2, 3, 8,
                   D=True, z=True, bias=False, softplus=False, last=False),
        _scan_case(g, "b=3, d=2, n=5, L=4, bias and softplus, z, the last state", 3, 2, 5, 4,
                   D=False, z=True, bias=True, softplus=True, last=True),
        _scan_case(g, "b=2, d=3, n=2, L=3, bias without softplus, D", 2, 3, 2, 3,
                   D=True, z=False, bias=True, softplus=False, last=False),
    ]  # fmt: skip
    # Mamba's own sizes and initialisation: A = -(1, ..., n), Δ = softplus(δ + bias) with the
    # bias the inverse softplus of steps in [1e-3, 0.1] and δ small.
    b = SpecBuilder(g)
    batch, d, n, length = 2, 5, 16, 12
    steps = _log_uniform(g, (d,), 1e-3, 0.1)
    args = [
        b.tensor(batch, d, length, scale=1.5),
        b.tensor(batch, d, length, scale=0.5),
        b.given(-np.tile(np.arange(1.0, n + 1), (d, 1))),
        b.tensor(batch, n, length),
        b.tensor(batch, n, length),
    ]
    kwargs = {
        "D": b.given(np.ones(d)),
        "z": b.tensor(batch, d, length, scale=2.0),
        "delta_bias": b.given(steps + np.log(-np.expm1(-steps))),  # softplus⁻¹(steps)
        "delta_softplus": lit(True),
        "return_last_state": lit(False),
    }
    label = "b=2, d=5, n=16, L=12, Mamba's initialisation (A = -(1..n), Δ near [1e-3, 0.1])"
    cases.append(b.case(label, args, **kwargs))
    return cases


def _combine_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, shape, low in [
        ("0-dim pieces, decays in (0, 1)", (), 0.0),
        ("(3,) pieces, decays in (0, 1)", (3,), 0.0),
        ("(2, 4, 3) pieces (b, d, n), a in (-1, 1)", (2, 4, 3), -1.0),
        ("(5,) pieces, a in (-2, 2)", (5,), -2.0),
    ]:
        b = SpecBuilder(g)
        high = -low if low < 0 else 1.0
        a_1, a_2 = b.given(_uniform(g, shape, low, high)), b.given(_uniform(g, shape, low, high))
        left = {"seq": [a_1, b.tensor(*shape, scale=2.0)]}
        right = {"seq": [a_2, b.tensor(*shape, scale=2.0)]}
        cases.append(b.case(label, [left, right]))
    b = SpecBuilder(g)
    a_1 = _uniform(g, (4,), 0.2, 1.0)
    a_2 = _uniform(g, (4,), 0.2, 1.0)
    a_2[1] = 0.0  # a reset: the later piece forgets the earlier
    left = {"seq": [b.given(a_1), b.tensor(4, scale=2.0)]}
    right = {"seq": [b.given(a_2), b.tensor(4, scale=2.0)]}
    cases.append(b.case("(4,) pieces, one a_2 = 0 (a reset)", [left, right]))
    return cases


FUNCTION_SPECS = [
    FunctionSpec(
        "discretize_zoh_diagonal",
        "coursekit.ssm:discretize_zoh_diagonal",
        _zoh_cases,
        SSM_FORBIDDEN,
    ),
    FunctionSpec("ssm_kernel", "coursekit.ssm:ssm_kernel", _kernel_cases, SSM_FORBIDDEN),
    FunctionSpec(
        "selective_scan", "coursekit.mamba:selective_scan", _selective_scan_cases, SCAN_FORBIDDEN
    ),
    FunctionSpec("scan_combine", "coursekit.scan:scan_combine", _combine_cases, SCAN_FORBIDDEN),
]
