"""Gradient clipping (梯度裁剪) and the gradient cliff of a one-unit RNN (chapter 5).

Read first: :func:`clip_grads_by_norm`, the whole algorithm as a pure function on a list of
gradients (Eqs. (5.2)-(5.4)); :func:`clip_grad_norm_` applies it in place to ``.grad`` with
exactly ``torch.nn.utils.clip_grad_norm_``'s contract. The second half is Pascanu et al.'s
(2013) picture of why clipping is needed: a recurrent net with one unit and two parameters
whose loss surface has a cliff (梯度悬崖, a high-curvature wall) where one gradient step
without clipping throws the parameters far away (:func:`one_unit_rnn_loss`,
:func:`loss_surface`, :func:`gradient_descent_path`).

Equations (g_i the gradient of parameter i, flattened; p the norm type):

    (5.2)  ‖g‖_p = ‖(‖g_1‖_p, ..., ‖g_n‖_p)‖_p                 total norm, as one long vector
           (p = inf: the largest |entry|)
    (5.3)  c = min(1, max_norm / (‖g‖_p + 1e-6))               clip coefficient, never above 1
    (5.4)  g_i ← c · g_i                                        norm clipping keeps the direction
    (5.5)  g_i ← clamp(g_i, -clip_value, clip_value)            value clipping (changes direction)
    (5.1)  x_t = w σ(x_{t-1}) + b,   L(w, b) = (x_T - target)²  Pascanu et al.'s one-unit RNN

Pascanu, Mikolov and Bengio (2013) ("On the difficulty of training recurrent neural
networks", Eq. (8) and Sec. 3.3) write the one-unit net as x_t = w σ(x_{t-1}) + b, σ the
logistic sigmoid, no input, trained to reach a target after 50 steps. It is the Elman form
h_t = σ(w h_{t-1} + b) seen through h_t = σ(x_t): the same dynamics, with the loss read on
the pre-activation x_T. The defaults here (x0 = 0.5, T = 50, target = 0.7) are ours.

Where 1e-6 comes from: torch adds it to the total norm so that zero gradients give c = 1,
not a division by zero; we keep it so the numbers equal torch's. With a non-finite total
norm torch neither skips nor repairs anything: c is nan (or 0 for inf) and the gradients
become nan (or 0, and nan where they were inf); we do the same, or raise with
``error_if_nonfinite=True``.

Dimension glossary:

    P  number of parameter tensors (the list of gradients)
    G  grid points along w (columns) / along b (rows) in :func:`loss_surface`
    N  points on a gradient-descent path (steps + 1)

Tests: tests/test_clipping.py compares clip_grad_norm_ / clip_grad_value_ with torch.nn.utils
on many parameter sets, and the cliff helpers with a direct scalar loop.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterable

import torch

from coursekit._checks import check_nonnegative_int, check_positive_int

__all__ = [
    "clip_coefficient",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_by_norm",
    "gradient_descent_path",
    "loss_surface",
    "one_unit_rnn_loss",
    "total_grad_norm",
]

_NONFINITE_MESSAGE = (  # torch's message, word for word
    "The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
    "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
    "anyway, set `error_if_nonfinite=False`"
)


def _as_list(tensors) -> list[torch.Tensor]:
    return [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)


# ---------------------------------------------------------------------------------------------
# Norm clipping as pure functions: the text of the chapter.


@torch.no_grad()
def total_grad_norm(grads: Iterable[torch.Tensor] | torch.Tensor, norm_type: float = 2.0):
    """Eq. (5.2): the p-norm of all gradients seen as one long vector -> a 0-dim tensor.

    The norm of the per-tensor norms equals the norm of the concatenation (for p = inf too).
    An empty list gives ``tensor(0.)``, like torch. Equal to the total norm that
    ``torch.nn.utils.clip_grad_norm_`` returns (test_clip_grad_norm_matches_torch).
    """
    grads = _as_list(grads)
    norm_type = float(norm_type)
    if not grads:
        return torch.tensor(0.0)
    device = grads[0].device
    norms = [torch.linalg.vector_norm(g, norm_type).to(device) for g in grads]  # P x ()
    return torch.linalg.vector_norm(torch.stack(norms), norm_type)  # (P,) -> ()


@torch.no_grad()
def clip_coefficient(total_norm, max_norm: float) -> torch.Tensor:
    """Eq. (5.3): ``min(1, max_norm / (total_norm + 1e-6))`` as a tensor.

    Capped at 1 so that clipping only ever shrinks a gradient. nan in, nan out; inf in, 0 out.
    """
    total_norm = torch.as_tensor(total_norm)
    return torch.clamp(float(max_norm) / (total_norm + 1e-6), max=1.0)


@torch.no_grad()
def clip_grads_by_norm(grads: list[torch.Tensor], max_norm: float, norm_type: float = 2.0):
    """Norm clipping without side effects: ``grads`` (P tensors) -> (clipped grads, total norm).

    Eqs. (5.2)-(5.4): every gradient is multiplied by the same coefficient, so the update keeps
    its direction and its total norm becomes at most ``max_norm``. The inputs are not changed;
    the results are new tensors of the same shapes, dtypes and devices. The graded function of
    assignment 5; equal to what ``torch.nn.utils.clip_grad_norm_`` leaves in ``.grad``
    (test_clip_grads_by_norm_matches_torch).
    """
    grads = _as_list(grads)
    total = total_grad_norm(grads, norm_type)  # ()
    coefficient = clip_coefficient(total, max_norm)  # ()
    return [g * coefficient.to(g.device) for g in grads], total


# ---------------------------------------------------------------------------------------------
# torch's in-place contract.


@torch.no_grad()
def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite=False):
    """Clip the gradients of ``parameters`` in place to total norm ``max_norm``; return the norm.

    ``torch.nn.utils.clip_grad_norm_``'s contract (without its ``foreach`` switch):
    ``parameters`` is a tensor or an iterable of tensors (a generator is read once; an empty
    generator warns like torch); parameters whose ``.grad`` is None are skipped; ``norm_type``
    2, 1, inf or any p; returns the total norm before clipping (Eq. (5.2)) as a 0-dim tensor;
    multiplies every ``.grad`` by Eq. (5.3). With ``error_if_nonfinite=True`` a nan or inf total
    norm raises torch's RuntimeError before anything is changed.
    Proved equal by test_clip_grad_norm_matches_torch and the non-finite tests.
    """
    if isinstance(parameters, types.GeneratorType):
        parameters = list(parameters)
        if not parameters:
            warnings.warn(
                "`parameters` is an empty generator, no gradient clipping will occur.",
                stacklevel=3,
            )
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    total = total_grad_norm(grads, norm_type)
    if error_if_nonfinite and not torch.isfinite(total):
        raise RuntimeError(_NONFINITE_MESSAGE.format(norm_type=float(norm_type)))
    coefficient = clip_coefficient(total, max_norm)
    for g in grads:
        g.mul_(coefficient.to(g.device))
    return total


@torch.no_grad()
def clip_grad_value_(parameters, clip_value: float) -> None:
    """Eq. (5.5): clamp every entry of every ``.grad`` to ``[-clip_value, clip_value]``, in place.

    ``torch.nn.utils.clip_grad_value_``'s contract: a tensor or an iterable; parameters without
    a gradient are skipped; nan stays nan. Unlike Eq. (5.4) it changes the gradient's direction.
    Proved equal by test_clip_grad_value_matches_torch.
    """
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.clamp_(min=-clip_value, max=clip_value)


# ---------------------------------------------------------------------------------------------
# The cliff: Pascanu et al.'s one-unit RNN, Eq. (5.1).


def one_unit_rnn_loss(w, b, x0: float = 0.5, T: int = 50, target: float = 0.7) -> torch.Tensor:
    """Eq. (5.1): run ``x_t = w σ(x_{t-1}) + b`` from ``x0`` for ``T`` steps; ``(x_T - target)²``.

    ``w`` and ``b`` are numbers or tensors of any broadcastable shapes (a whole grid at once);
    the loss has their broadcast shape, float64 unless a tensor argument says otherwise.
    Differentiable in ``w`` and ``b``. Checked against a scalar loop written with ``math`` in
    test_loss_surface_matches_a_direct_loop.
    """
    check_positive_int(T=T)
    w = torch.as_tensor(w, dtype=_float_dtype(w, b))
    b = torch.as_tensor(b, dtype=w.dtype, device=w.device)
    x = torch.full(
        torch.broadcast_shapes(w.shape, b.shape), float(x0), dtype=w.dtype, device=w.device
    )
    for _ in range(T):
        x = w * torch.sigmoid(x) + b  # broadcast shape of (w, b)
    return (x - target) ** 2


def _float_dtype(*values) -> torch.dtype:
    dtypes = [v.dtype for v in values if isinstance(v, torch.Tensor) and v.is_floating_point()]
    return dtypes[0] if dtypes else torch.float64


@torch.no_grad()
def loss_surface(ws, bs, x0: float = 0.5, T: int = 50, target: float = 0.7) -> torch.Tensor:
    """The loss of Eq. (5.1) on the grid ``ws (G_w,) × bs (G_b,)`` -> ``(G_b, G_w)``.

    Rows follow b and columns follow w, the layout ``matplotlib``'s ``contour(ws, bs, Z)``
    expects. One vectorised run of :func:`one_unit_rnn_loss` (no loop over grid points).
    """
    ws, bs = torch.as_tensor(ws), torch.as_tensor(bs)
    if ws.dim() != 1 or bs.dim() != 1:
        raise ValueError(
            f"ws and bs must be 1-D grids (G_w,) and (G_b,); got {tuple(ws.shape)} and {tuple(bs.shape)}"
        )
    return one_unit_rnn_loss(ws[None, :], bs[:, None], x0, T, target)  # (G_b, G_w)


def gradient_descent_path(
    start,
    lr: float,
    steps: int,
    clip: float | None = None,
    x0: float = 0.5,
    T: int = 50,
    target: float = 0.7,
) -> torch.Tensor:
    """Plain gradient descent on Eq. (5.1) from ``start = (w, b)`` -> the path ``(steps + 1, 2)``.

    Row k is (w, b) after k steps (row 0 is the start), float64. With ``clip`` each gradient
    is first norm-clipped to ``clip`` (Eqs. (5.3)-(5.4), via :func:`clip_grads_by_norm`), so
    no step is longer than ``lr * clip``; without it a step taken on the cliff's wall is
    ``lr`` times the wall's huge slope. A non-finite gradient stops nothing: the path then
    carries nan, as training would.
    """
    check_nonnegative_int(steps=steps)
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be None or a number > 0; got {clip!r}")
    point = torch.as_tensor(start, dtype=torch.float64).clone()
    if point.shape != (2,):
        raise ValueError(f"start must be (w, b), shape (2,); got {tuple(point.shape)}")
    path = [point]
    for _ in range(steps):
        point = point.detach().requires_grad_()
        (grad,) = torch.autograd.grad(one_unit_rnn_loss(point[0], point[1], x0, T, target), point)
        if clip is not None:
            (grad,), _ = clip_grads_by_norm([grad], clip)
        point = (point - lr * grad).detach()  # (2,)
        path.append(point)
    return torch.stack(path)  # (N, 2)
