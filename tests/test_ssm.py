"""coursekit.ssm against closed forms written here, torch.linalg and the recurrence."""

from __future__ import annotations

import pytest
import torch

from coursekit.ssm import (
    S4DLayer,
    causal_convolution,
    discretization_error,
    discretize,
    discretize_zoh,
    discretize_zoh_diagonal,
    fft_convolution,
    ssm_convolution,
    ssm_kernel,
    ssm_recurrence,
)

F64 = torch.float64


def stable_system(n=4, m=2, p=3):
    """A random A with eigenvalues in the left half-plane, and B, C, D."""
    M = torch.randn(n, n, dtype=F64)
    A = -(M @ M.T) / n - 0.5 * torch.eye(n, dtype=F64) + 0.3 * (M - M.T)
    return (
        A,
        torch.randn(n, m, dtype=F64),
        torch.randn(p, n, dtype=F64),
        torch.randn(p, m, dtype=F64),
    )


def test_zoh_matches_closed_form():
    """Ā = exp(ΔA), B̄ = (ΔA)^{-1}(exp(ΔA) - I)ΔB with an explicit inverse."""
    A, B, _, _ = stable_system()
    delta = 0.3
    a_bar, b_bar = discretize_zoh(A, B, delta)
    expm = torch.linalg.matrix_exp(delta * A)
    eye = torch.eye(4, dtype=F64)
    torch.testing.assert_close(a_bar, expm, rtol=1e-12, atol=1e-12)
    want = torch.linalg.inv(delta * A) @ (expm - eye) @ (delta * B)
    torch.testing.assert_close(b_bar, want, rtol=1e-10, atol=1e-10)


def test_zoh_is_exact_for_constant_input():
    """For u constant, x(Δ) = exp(ΔA) x0 + ∫_0^Δ exp(sA) ds B u: integrate by a fine
    trapezoid rule over s and compare."""
    A, B, _, _ = stable_system()
    delta, u, x0 = 0.5, torch.randn(2, dtype=F64), torch.randn(4, dtype=F64)
    s = torch.linspace(0, delta, 4001, dtype=F64)
    integrand = torch.linalg.matrix_exp(s[:, None, None] * A)  # (S, n, n)
    integral = torch.trapezoid(integrand, s, dim=0)
    x_exact = torch.linalg.matrix_exp(delta * A) @ x0 + integral @ B @ u
    a_bar, b_bar = discretize_zoh(A, B, delta)
    torch.testing.assert_close(a_bar @ x0 + b_bar @ u, x_exact, rtol=1e-7, atol=1e-7)


def test_zoh_diagonal_matches_dense():
    lam = -torch.rand(5, dtype=F64) * 3 - 0.1
    B = torch.randn(5, dtype=F64)
    a_bar, b_bar = discretize_zoh_diagonal(lam, B, 0.2)
    torch.testing.assert_close(a_bar, torch.exp(0.2 * lam))
    # the closed form (exp(Δλ) - 1)/λ · B, and the dense ZOH on diag(λ)
    torch.testing.assert_close(b_bar, (torch.exp(0.2 * lam) - 1) / lam * B)
    dense_a, dense_b = discretize_zoh(torch.diag(lam), B[:, None], 0.2)
    torch.testing.assert_close(torch.diag(dense_a), a_bar, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dense_b[:, 0], b_bar, rtol=1e-12, atol=1e-12)


def test_bilinear_and_euler_formulas():
    A, B, _, _ = stable_system()
    eye = torch.eye(4, dtype=F64)
    a_bar, b_bar = discretize(A, B, 0.1, "bilinear")
    inv = torch.linalg.inv(eye - 0.05 * A)
    torch.testing.assert_close(a_bar, inv @ (eye + 0.05 * A))
    torch.testing.assert_close(b_bar, inv @ (0.1 * B))
    a_bar, b_bar = discretize(A, B, 0.1, "euler")
    torch.testing.assert_close(a_bar, eye + 0.1 * A)
    torch.testing.assert_close(b_bar, 0.1 * B)
    with pytest.raises(ValueError, match="method must be"):
        discretize(A, B, 0.1, "rk4")


def test_discretization_error_orders():
    """Halving Δ divides Euler's error by ~4 (local error O(Δ²)) and bilinear's by ~8 (O(Δ³))."""
    A, B, _, _ = stable_system()
    euler = discretization_error(A, B, [0.01, 0.005], "euler")
    bilinear = discretization_error(A, B, [0.01, 0.005], "bilinear")
    assert 3.5 < euler[0] / euler[1] < 4.5
    assert 7 < bilinear[0] / bilinear[1] < 9


def test_kernel_is_c_a_power_b():
    A, B, C, _ = stable_system()
    a_bar, b_bar = discretize_zoh(A, B, 0.1)
    K = ssm_kernel(a_bar, b_bar, C, 6)
    for j in range(6):
        torch.testing.assert_close(K[j], C @ torch.linalg.matrix_power(a_bar, j) @ b_bar)


@pytest.mark.parametrize("fft", [False, True])
def test_convolution_equals_recurrence(fft):
    A, B, C, D = stable_system()
    a_bar, b_bar = discretize_zoh(A, B, 0.1)
    u = torch.randn(2, 23, 2, dtype=F64)
    torch.testing.assert_close(
        ssm_convolution(a_bar, b_bar, C, D, u, fft=fft),
        ssm_recurrence(a_bar, b_bar, C, D, u),
        rtol=1e-10,
        atol=1e-10,
    )


def test_fft_convolution_equals_direct():
    u = torch.randn(3, 50, 2, dtype=F64)
    K = torch.randn(50, 4, 2, dtype=F64)
    torch.testing.assert_close(
        fft_convolution(u, K), causal_convolution(u, K), rtol=1e-10, atol=1e-10
    )
    # against torch's conv1d (a cross-correlation, so the kernel is flipped), one channel
    u1, k1 = u[:1, :, 0], K[:, 0, 0]
    direct = torch.nn.functional.conv1d(
        torch.nn.functional.pad(u1[:, None], (49, 0)), k1.flip(0)[None, None]
    )[:, 0]
    torch.testing.assert_close(fft_convolution(u[:1, :, :1], K[:, :1, :1])[..., 0], direct)


def test_s4d_layer_equals_recurrence():
    layer = S4DLayer(3, 5, dtype=F64)
    with torch.no_grad():
        layer.B.normal_()
    u = torch.randn(2, 17, 3, dtype=F64)
    y = layer(u)
    lam = -torch.exp(layer.log_neg_lambda)
    for c in range(3):
        dt = torch.exp(layer.log_dt[c]).item()
        a_bar, b_bar = discretize_zoh(torch.diag(lam[c]), layer.B[c][:, None], dt)
        want = ssm_recurrence(
            a_bar, b_bar, layer.C[c][None], layer.D[c].reshape(1, 1), u[..., c : c + 1]
        )
        torch.testing.assert_close(y[..., c : c + 1], want, rtol=1e-10, atol=1e-10)
    y.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_argument_checks():
    with pytest.raises(ValueError, match="A must be"):
        discretize_zoh(torch.zeros(3, 2), torch.zeros(3, 1), 0.1)
    with pytest.raises(ValueError, match="delta must be"):
        discretize_zoh(torch.zeros(3, 3), torch.zeros(3, 1), 0.0)
    with pytest.raises(ValueError, match="u must be"):
        S4DLayer(3)(torch.zeros(2, 4, 5))
