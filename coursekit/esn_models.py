"""The echo state network models of chapter 11, built on ``coursekit.esn``'s functions.

:class:`ESN`: a reservoir, Eq. (11.1), with a ridge readout, Eqs. (11.2)-(11.3): teacher-forced
``fit``, one-step ``predict`` and closed-loop ``generate``, Eq. (11.6). :class:`DeepESN`: a
stack of reservoirs, Eq. (11.8). :func:`memory_capacity`, Eq. (11.7), in reservoirpy 0.4.2's
protocol, and :func:`nrmse`. The equations and the dimension glossary are ``coursekit.esn``'s
(T time, I input, N units per layer, O outputs, L layers, K = k_max).

Tests: tests/test_esn.py and tests/test_esn_reservoirpy.py.
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
from coursekit.esn import (
    _as_series,
    _generator,
    input_matrix,
    readout,
    reservoir_matrix,
    reservoir_step,
    ridge_readout,
    run_reservoir,
)

__all__ = ["ESN", "DeepESN", "memory_capacity", "nrmse"]


def nrmse(prediction, target) -> float:
    """Root mean squared error divided by the target's standard deviation (population std):
    1 means no better than predicting the mean. Both of the same number of entries (``(T,)``
    and ``(T, 1)`` are both read as T values)."""
    prediction, target = torch.as_tensor(prediction), torch.as_tensor(target)
    if prediction.numel() != target.numel() or prediction.squeeze().shape != target.squeeze().shape:
        raise ValueError(
            f"prediction and target must have the same shape; got {tuple(prediction.shape)} "
            f"and {tuple(target.shape)}"
        )
    prediction, target = prediction.reshape(target.shape), target
    return float(((prediction - target) ** 2).mean().sqrt() / target.std(correction=0))


# ---------------------------------------------------------------------------------------------
# The ESN and the deep ESN.


class ESN:
    """A reservoir (Eq. (11.1)) with a ridge readout (Eqs. (11.2)-(11.3)).

    Draws ``W`` (spectral radius ``spectral_radius``, density ``connectivity``), ``W_in``
    (±``input_scaling``, density ``input_connectivity``) and a bias (uniform in
    ±``bias_scaling``; 0 gives none) from ``generator``, in that order. Pass ``weights=(W_in, W,
    bias)`` to use given matrices instead. Every tensor it makes follows ``device`` (or the
    given weights).
    """

    def __init__(
        self,
        input_size: int,
        units: int,
        *,
        spectral_radius: float = 0.9,
        connectivity: float = 0.1,
        input_scaling: float = 1.0,
        input_connectivity: float = 0.1,
        bias_scaling: float = 0.0,
        leak_rate: float = 1.0,
        ridge: float = 1e-6,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
        device=None,
        weights=None,
    ):
        check_fraction(leak_rate=leak_rate)
        check_positive(leak_rate=leak_rate)
        check_nonnegative(ridge=ridge, bias_scaling=bias_scaling)
        self.leak_rate, self.ridge = leak_rate, ridge
        if weights is not None:
            self.W_in, self.W, self.bias = weights
        else:
            generator = _generator(generator)
            self.W = reservoir_matrix(
                units,
                spectral_radius=spectral_radius,
                connectivity=connectivity,
                generator=generator,
                dtype=dtype,
                device=device,
            )
            self.W_in = input_matrix(
                units,
                input_size,
                input_scaling=input_scaling,
                connectivity=input_connectivity,
                generator=generator,
                dtype=dtype,
                device=device,
            )
            self.bias = None
            if bias_scaling > 0:
                draw = torch.rand(units, generator=generator, dtype=torch.float64) * 2 - 1
                self.bias = (bias_scaling * draw).to(dtype=dtype, device=device)
        self.W_out = None
        self.state = None

    @property
    def units(self) -> int:
        return self.W.shape[0]

    def states(self, inputs, state=None):
        """Teacher-forced states ``(T, N)`` from ``state`` (default: where it last stopped)."""
        state = self.state if state is None else state
        states = run_reservoir(inputs, self.W_in, self.W, self.bias, self.leak_rate, state)
        self.state = states[-1]
        return states

    def fit(self, inputs, targets, washout: int = 0, state=None) -> ESN:
        """Collect the states for ``inputs (T, I)`` (from zeros unless ``state``), drop the
        first ``washout`` and fit ``W_out`` to ``targets (T, O)`` by Eq. (11.3)."""
        check_nonnegative_int(washout=washout)
        self._forget_state()
        states = self.states(inputs, state)  # (T, N), or DeepESN's (T, L·N) or (T, N)
        targets = _as_series(targets, None, "targets")
        self.W_out = ridge_readout(states[washout:], targets[washout:], self.ridge)
        return self

    def predict(self, inputs, state=None):
        """One-step outputs ``(T, O)`` for ``inputs (T, I)``, continuing from the last state."""
        self._check_fitted()
        return readout(self.states(inputs, state), self.W_out)

    def generate(self, steps: int, first_input) -> torch.Tensor:
        """Eq. (11.6): closed loop for ``steps`` steps from ``first_input (I,)`` -> ``(steps, O)``.

        Each output is the next input (so O must equal I); the reservoir continues from its
        current state (run ``predict`` on a warm-up segment first).
        """
        check_nonnegative_int(steps=steps)
        self._check_fitted()
        u = torch.as_tensor(first_input, dtype=self.W.dtype, device=self.W.device).reshape(-1)
        x = self.W.new_zeros(self.units) if self.state is None else self.state
        outputs = []
        for _ in range(steps):
            x = reservoir_step(u, x, self.W_in, self.W, self.bias, self.leak_rate)
            u = readout(x[None], self.W_out)[0]  # (O,) = the next input
            outputs.append(u)
        self.state = x
        return torch.stack(outputs) if outputs else self.W.new_zeros(0, self.W_out.shape[0])

    def _forget_state(self):
        self.state = None

    def _check_fitted(self):
        if self.W_out is None:
            raise ValueError("the readout is not trained yet: call fit first")


class DeepESN(ESN):
    """Eq. (11.8): ``layers`` reservoirs in a stack, layer l driven by layer l-1's state.

    The readout reads the concatenated states of all layers (``readout_from="all"``, size
    L·N) or the top layer's only (``"top"``). Layer l > 1's input weights are drawn with
    ``input_connectivity`` over its N inputs. Same arguments as :class:`ESN` otherwise.
    """

    def __init__(self, input_size: int, units: int, layers: int, *, readout_from="all", **kwargs):
        check_positive_int(layers=layers)
        if readout_from not in ("all", "top"):
            raise ValueError(f"readout_from must be 'all' or 'top'; got {readout_from!r}")
        generator = _generator(kwargs.pop("generator", None))
        self.layers = [
            ESN(input_size if layer == 0 else units, units, generator=generator, **kwargs)
            for layer in range(layers)
        ]
        self.readout_from = readout_from
        self.leak_rate, self.ridge = self.layers[0].leak_rate, self.layers[0].ridge
        self.W, self.W_out = self.layers[0].W, None

    def states(self, inputs, state=None):
        if state is not None:
            for layer, s in zip(self.layers, state.split(self.layers[0].units), strict=True):
                layer.state = s
        per_layer = []
        for layer in self.layers:
            inputs = layer.states(inputs)  # (T, N): the next layer's input
            per_layer.append(inputs)
        return torch.cat(per_layer, dim=1) if self.readout_from == "all" else per_layer[-1]

    def _forget_state(self):
        for layer in self.layers:
            layer.state = None

    def generate(self, steps: int, first_input) -> torch.Tensor:
        raise NotImplementedError("closed-loop generation is implemented for ESN only")


# ---------------------------------------------------------------------------------------------
# Memory capacity.


def memory_capacity(
    esn: ESN, k_max: int, *, generator: torch.Generator | None = None, per_delay: bool = False
):
    """Eq. (11.7): Jaeger's memory capacity, reservoirpy's protocol.

    Input u i.i.d. uniform in [-0.8, 0.8], ``10 k_max`` steps; output k (k = 1..K) is trained
    to give u_{t-k} on the first 80 % of the series (the first ``k_max`` steps washed out)
    and scored on the last 20 %, continuing the state, as the squared correlation between
    output and target. Returns the sum, or the K values with ``per_delay``. ``esn`` is refit.
    """
    check_positive_int(k_max=k_max)
    generator = _generator(generator)
    length, test = 10 * k_max, round(10 * k_max * 0.2)
    u = torch.rand(length, generator=generator, dtype=torch.float64) * 1.6 - 0.8  # (10 K,)
    u = u.to(dtype=esn.W.dtype, device=esn.W.device)
    # the sliding window of reservoirpy: rows t = K .. 10 K - 1, column k - 1 holds u_{t-k}
    inputs = u[k_max:]  # (9 K,)
    targets = torch.stack([u[k_max - k : length - k] for k in range(1, k_max + 1)], dim=1)
    train = inputs.shape[0] - test
    esn.fit(inputs[:train, None], targets[:train], washout=k_max)
    prediction = esn.predict(inputs[train:, None])  # (test, K)
    truth = targets[train:]
    p, y = prediction - prediction.mean(0), truth - truth.mean(0)
    r2 = (p * y).sum(0) ** 2 / ((p * p).sum(0) * (y * y).sum(0))  # (K,)
    return r2 if per_delay else float(r2.sum())
