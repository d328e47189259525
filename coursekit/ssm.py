"""Linear state-space models (状态空间模型): discretisation, recurrence and convolution (chapter 10).

Read first: the continuous SSM (10.1), zero-order hold (零阶保持) :func:`discretize_zoh`
(10.3)-(10.4), then the same discrete model computed two ways, :func:`ssm_recurrence` (10.5)
and :func:`ssm_convolution` with the kernel :func:`ssm_kernel` (10.6)-(10.7).
:class:`S4DLayer` is a diagonal (S4D-style) layer built from them.

Equations (column vectors; the input u(t) is held constant over each step of length Δ):

    (10.1)  x'(t) = A x(t) + B u(t),    y(t) = C x(t) + D u(t)
    (10.2)  x_k = Ā x_{k-1} + B̄ u_k,    y_k = C x_k + D u_k                 (discrete)
    (10.3)  ZOH:       Ā = exp(ΔA),        B̄ = (ΔA)^{-1} (exp(ΔA) - I) ΔB
    (10.4)  diagonal A (λ_i on the diagonal): Ā_ii = exp(Δλ_i),
            B̄_i = (exp(Δλ_i) - 1) / λ_i · B_i
    (10.5)  bilinear:  Ā = (I - ΔA/2)^{-1} (I + ΔA/2),   B̄ = (I - ΔA/2)^{-1} ΔB
            Euler:     Ā = I + ΔA,                       B̄ = ΔB
    (10.6)  K_j = C Ā^j B̄,   j = 0, 1, ..., L-1                     (the SSM kernel)
    (10.7)  y_k = Σ_{j=0}^{k} K_j u_{k-j} + D u_k                   (a causal convolution)

(10.3) is exact for an input constant over the step; without inverting ΔA it is read off one
matrix exponential, exp([[ΔA, ΔB], [0, 0]]) = [[Ā, B̄], [0, I]] (Van Loan 1978), which is how
:func:`discretize_zoh` computes it. The FFT computes (10.7) in O(L log L):
:func:`fft_convolution` pads to 2L so the circular convolution is the causal one.

Dimension glossary:

    b  batch size         L  sequence length         n  state size (x_k)
    m  input size (u_k)   p  output size (y_k)       d  channels of a layer (one SSM each)

Tests: tests/test_ssm.py checks ZOH against ``torch.linalg.matrix_exp`` and the closed form
(written independently in the test), the convolution against the recurrence, and the FFT
convolution against the direct sum.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from coursekit._checks import check_positive, check_positive_int

__all__ = [
    "S4DLayer",
    "causal_convolution",
    "discretization_error",
    "discretize",
    "discretize_bilinear",
    "discretize_euler",
    "discretize_zoh",
    "discretize_zoh_diagonal",
    "fft_convolution",
    "ssm_convolution",
    "ssm_kernel",
    "ssm_recurrence",
]


def _check_system(A, B):
    n = A.shape[-1]
    if A.dim() != 2 or A.shape[0] != n or B.dim() != 2 or B.shape[0] != n:
        raise ValueError(f"A must be (n, n) and B (n, m); got {tuple(A.shape)}, {tuple(B.shape)}")


# ---------------------------------------------------------------------------------------------
# Discretisation.


def discretize_zoh(A, B, delta):
    """Zero-order hold, Eq. (10.3), for a dense A: A (n, n), B (n, m), step delta > 0 ->
    (Ā (n, n), B̄ (n, m)), both from one matrix exponential of the (n+m)-square block matrix
    (test_zoh_matches_closed_form)."""
    _check_system(A, B)
    check_positive(delta=float(delta))
    n, m = B.shape
    block = A.new_zeros((n + m, n + m))
    block[:n, :n] = delta * A
    block[:n, n:] = delta * B
    expm = torch.linalg.matrix_exp(block)  # [[Ā, B̄], [0, I]]
    return expm[:n, :n], expm[:n, n:]


def discretize_zoh_diagonal(lam, B, delta):
    """Zero-order hold for a diagonal A, Eq. (10.4): lam (..., n) the diagonal (nonzero),
    B (..., n), delta broadcastable (e.g. (..., 1)) -> (Ā (..., n), B̄ (..., n)), elementwise.
    ``expm1`` keeps (exp(Δλ) - 1) accurate for small Δλ (test_zoh_diagonal_matches_dense)."""
    a_bar = torch.exp(delta * lam)
    b_bar = torch.expm1(delta * lam) / lam * B
    return a_bar, b_bar


def discretize_bilinear(A, B, delta):
    """The bilinear (Tustin) rule of Eq. (10.5): (Ā (n, n), B̄ (n, m))."""
    _check_system(A, B)
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    left = eye - delta / 2 * A
    return torch.linalg.solve(left, eye + delta / 2 * A), torch.linalg.solve(left, delta * B)


def discretize_euler(A, B, delta):
    """Forward Euler, Eq. (10.5): (Ā = I + ΔA, B̄ = ΔB)."""
    _check_system(A, B)
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    return eye + delta * A, delta * B


_RULES = {"zoh": discretize_zoh, "bilinear": discretize_bilinear, "euler": discretize_euler}


def discretize(A, B, delta, method="zoh"):
    """Ā, B̄ by ``method``: "zoh" (10.3), "bilinear" or "euler" (10.5)."""
    if method not in _RULES:
        raise ValueError(f"method must be one of {sorted(_RULES)}; got {method!r}")
    return _RULES[method](A, B, delta)


def discretization_error(A, B, steps, method):
    """Largest entry of |Ā - Ā_zoh| and |B̄ - B̄_zoh| at each step size in ``steps``: how far
    each rule is from the exact (for piecewise-constant input) ZOH map. -> list of floats.
    Euler's error shrinks as Δ², the bilinear rule's as Δ³ (test_discretization_error_orders)."""
    errors = []
    for delta in steps:
        a_bar, b_bar = discretize(A, B, delta, method)
        a_zoh, b_zoh = discretize_zoh(A, B, delta)
        errors.append(max((a_bar - a_zoh).abs().max().item(), (b_bar - b_zoh).abs().max().item()))
    return errors


# ---------------------------------------------------------------------------------------------
# The two views of a linear time-invariant SSM.


def ssm_recurrence(a_bar, b_bar, C, D, u, x0=None):
    """Eq. (10.2) as a loop over k: Ā (n, n), B̄ (n, m), C (p, n), D (p, m) or None,
    u (b, L, m), x0 (b, n) or None -> y (b, L, p)."""
    if u.dim() != 3 or u.shape[-1] != b_bar.shape[1]:
        raise ValueError(f"u must be (b, L, m) with m = {b_bar.shape[1]}; got {tuple(u.shape)}")
    x = u.new_zeros((u.shape[0], a_bar.shape[0])) if x0 is None else x0  # (b, n)
    ys = []
    for k in range(u.shape[1]):
        x = x @ a_bar.T + u[:, k] @ b_bar.T  # Eq. (10.2), rows are batch entries
        y = x @ C.T
        if D is not None:
            y = y + u[:, k] @ D.T
        ys.append(y)
    return torch.stack(ys, dim=1)  # (b, L, p)


def ssm_kernel(a_bar, b_bar, C, length):
    """The kernel of Eq. (10.6): K (L, p, m), K_j = C Ā^j B̄, by repeated products."""
    check_positive_int(length=length)
    kernel, power_b = [], b_bar  # Ā^j B̄ (n, m)
    for _ in range(length):
        kernel.append(C @ power_b)
        power_b = a_bar @ power_b
    return torch.stack(kernel)


def causal_convolution(u, kernel):
    """Eq. (10.7) without D, summed directly: u (b, L, m), kernel (L, p, m) -> (b, L, p)."""
    length = u.shape[1]
    out = []
    for k in range(length):
        # Σ_j K_j u_{k-j}: kernel[:k+1] against u reversed up to k
        window = u[:, : k + 1].flip(1)  # (b, k+1, m), u_{k-j} at j
        out.append(torch.einsum("jpm,bjm->bp", kernel[: k + 1], window))
    return torch.stack(out, dim=1)


def fft_convolution(u, kernel):
    """Eq. (10.7) without D by the FFT: u (b, L, m), kernel (L', p, m) with L' >= L ->
    (b, L, p). Zero-padding to 2L makes the circular convolution causal
    (test_fft_convolution_equals_direct)."""
    length = u.shape[1]
    size = 2 * length
    u_f = torch.fft.rfft(u, n=size, dim=1)  # (b, F, m)
    k_f = torch.fft.rfft(kernel[:length], n=size, dim=0)  # (F, p, m)
    y_f = torch.einsum("fpm,bfm->bfp", k_f, u_f)
    return torch.fft.irfft(y_f, n=size, dim=1)[:, :length]


def ssm_convolution(a_bar, b_bar, C, D, u, fft=True):
    """Eq. (10.6)-(10.7): the same y as :func:`ssm_recurrence` (from x0 = 0) computed as a
    convolution with the kernel; ``fft`` chooses :func:`fft_convolution` or the direct sum
    (test_convolution_equals_recurrence)."""
    kernel = ssm_kernel(a_bar, b_bar, C, u.shape[1])  # (L, p, m)
    y = fft_convolution(u, kernel) if fft else causal_convolution(u, kernel)
    return y if D is None else y + u @ D.T


# ---------------------------------------------------------------------------------------------
# A diagonal SSM layer (S4D-style, real diagonal).


class S4DLayer(nn.Module):
    """d independent single-input single-output SSMs with diagonal A (S4D, Gu et al. 2022,
    real diagonal, initialised λ_i = -(i + 1) as S4D-Real does), one per channel.

    For channel c: λ (n,) = -exp(log_neg_lambda), B (n,), C (n,), step Δ_c = exp(log_dt_c);
    ZOH by Eq. (10.4); kernel K_j = Σ_i C_i B̄_i Ā_i^j (Eq. (10.6) with diagonal Ā) and the FFT
    convolution (10.7) plus D u. u (b, L, d) -> y (b, L, d). Equal to running
    :func:`ssm_recurrence` per channel (test_s4d_layer_equals_recurrence).
    """

    def __init__(self, d_model, d_state=16, dt_min=1e-3, dt_max=1e-1, device=None, dtype=None):
        super().__init__()
        check_positive_int(d_model=d_model, d_state=d_state)
        check_positive(dt_min=dt_min, dt_max=dt_max)
        kw = {"device": device, "dtype": dtype}
        lam = torch.arange(1, d_state + 1, **kw).repeat(d_model, 1)  # (d, n), |λ_i| = i + 1
        self.log_neg_lambda = nn.Parameter(torch.log(lam))
        self.B = nn.Parameter(torch.ones(d_model, d_state, **kw))
        self.C = nn.Parameter(torch.randn(d_model, d_state, **kw) / math.sqrt(d_state))
        self.D = nn.Parameter(torch.ones(d_model, **kw))
        log_dt = torch.rand(d_model, **kw) * (math.log(dt_max) - math.log(dt_min))
        self.log_dt = nn.Parameter(log_dt + math.log(dt_min))

    def discretized(self):
        """(Ā (d, n), B̄ (d, n)) by the diagonal ZOH, Eq. (10.4)."""
        lam = -torch.exp(self.log_neg_lambda)
        return discretize_zoh_diagonal(lam, self.B, torch.exp(self.log_dt).unsqueeze(-1))

    def kernel(self, length):
        """K (d, L): K_{c, j} = Σ_i C_ci B̄_ci Ā_ci^j, a Vandermonde product."""
        a_bar, b_bar = self.discretized()
        j = torch.arange(length, device=a_bar.device, dtype=a_bar.dtype)
        powers = torch.exp(torch.log(a_bar).unsqueeze(-1) * j)  # (d, n, L), Ā^j
        return torch.einsum("dn,dnl->dl", self.C * b_bar, powers)

    def forward(self, u):
        if u.dim() != 3 or u.shape[-1] != self.D.shape[0]:
            raise ValueError(
                f"u must be (b, L, d) with d = {self.D.shape[0]}; got {tuple(u.shape)}"
            )
        length = u.shape[1]
        k = self.kernel(length)  # (d, L)
        u_f = torch.fft.rfft(u, n=2 * length, dim=1)  # (b, F, d)
        k_f = torch.fft.rfft(k, n=2 * length, dim=1).T  # (F, d)
        y = torch.fft.irfft(u_f * k_f, n=2 * length, dim=1)[:, :length]
        return y + self.D * u  # Eq. (10.7), channel by channel
