"""Backpropagation through time (时间反向传播, BPTT) for the Elman RNN (chapter 3).

Read first: :func:`elman_forward` (it is :func:`coursekit.rnn.rnn_forward`, keeping what the
backward pass needs) and :func:`elman_backward`, the whole of BPTT by hand in one loop that runs
backwards in time, Eqs. (3.2)-(3.4). Then the reason BPTT is hard: :func:`step_jacobians` gives
every ∂h_t/∂h_{t-1} (Eq. (3.5)), :func:`jacobian_norms` the norm of their products (Eq. (3.6)),
and :func:`spectral_bound` the bound (σ_max·γ)^(t-s) on it (Eq. (3.7)), which shrinks or grows
geometrically in the distance t - s: vanishing (梯度消失) and exploding (梯度爆炸) gradients.
The cure by truncation (截断), BPTT(k1, k2) and random truncation, is
:mod:`coursekit.truncated_bptt`, built on :func:`elman_forward` and :func:`elman_backward`.

Equations (row-vector convention, as torch and coursekit.rnn write them; time runs t = 1..T,
``x[t-1]`` is x_t, ``output[t-1]`` is h_t, ``h0`` is h_0; f is tanh or relu; L is any loss
computed from the states):

    (3.1)  a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,   h_t = f(a_t)      Eq. (2.1)
    (3.2)  g_t = ∂L/∂h_t = grad_output_t + δ_{t+1} W_hh        (g_T adds grad_h_n; δ_{T+1} = 0)
    (3.3)  δ_t = ∂L/∂a_t = g_t ⊙ f'(a_t),  f'(a_t) = 1 - h_t² (tanh) or 1[h_t > 0] (relu)
    (3.4)  ∂L/∂W_hh = Σ_t δ_t^T h_{t-1}     ∂L/∂W_ih = Σ_t δ_t^T x_t     ∂L/∂x_t = δ_t W_ih
           ∂L/∂b_ih = ∂L/∂b_hh = Σ_t Σ_batch δ_t                      ∂L/∂h_0 = δ_1 W_hh
    (3.5)  ∂h_t/∂h_{t-1} = diag(f'(a_t)) W_hh            (entry [i, j] = ∂h_{t,i} / ∂h_{t-1,j})
    (3.6)  ∂h_t/∂h_s = diag(f'(a_t)) W_hh · diag(f'(a_{t-1})) W_hh ··· diag(f'(a_{s+1})) W_hh
    (3.7)  ‖∂h_t/∂h_s‖₂ ≤ Π_k ‖diag(f'(a_k))‖₂ ‖W_hh‖₂ ≤ (γ σ_max)^(t-s)

Notes on the lecture notes. (i) They write the Jacobian as W^T diag(f'(·)), for column vectors
and the transposed ("denominator") layout; Eq. (3.5) is the same matrix transposed, in the
layout ``torch.autograd.functional.jacobian`` returns. A matrix and its transpose have the same
singular values, so the norms and the bound are the same. (ii) σ_max is the largest SINGULAR
value of W_hh, its spectral norm ‖W_hh‖₂ (one set of notes says "largest eigenvalue"; that is
imprecise). The bound needs the norm: W = [[0, 10], [0, 0]] has only the eigenvalue 0, yet a
linear RNN with it multiplies a gradient by up to ‖W‖₂ = 10 in one step. The spectral radius
decides only the eventual rate, ‖W^d‖^(1/d) -> max |eigenvalue| as d grows. (iii) γ bounds
|f'|: 1 for tanh and relu, 1/4 for the sigmoid (:data:`DERIVATIVE_BOUND`). For a linear RNN
(f' = 1) and W_hh = σ·(orthogonal), every product has norm exactly σ^(t-s): the bound is
attained.

Dimension glossary:

    T  time steps                                      B  batch size
    I  input features per step                         H  hidden size
    D  distances t - s (1..T) in :func:`jacobian_norms`

Tests: tests/test_bptt.py compares elman_backward with autograd, step_jacobians with
torch.autograd.functional.jacobian and the norms with the bound.
"""

from __future__ import annotations

import torch

from coursekit._checks import check_positive_int
from coursekit.rnn import rnn_forward

__all__ = [
    "DERIVATIVE_BOUND",
    "elman_backward",
    "elman_forward",
    "gradient_norm_vs_distance",
    "jacobian_norms",
    "spectral_bound",
    "step_jacobians",
]

#: γ in Eq. (3.7): the largest |f'(a)| of each activation.
DERIVATIVE_BOUND = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25}


def _shape_error(name: str, expected: str, tensor) -> ValueError:
    return ValueError(f"{name} must be {expected}; got {tuple(tensor.shape)}")


def _derivative_from_state(h: torch.Tensor, nonlinearity: str) -> torch.Tensor:
    """f'(a_t) from h_t = f(a_t) (Eq. (3.3)): 1 - h² for tanh, 1[h > 0] for relu.

    The same values autograd uses: torch's tanh backward reads the output too, and relu's
    derivative at 0 is 0.
    """
    if nonlinearity == "tanh":
        return 1 - h * h
    if nonlinearity == "relu":
        return (h > 0).to(h.dtype)
    raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")


# ---------------------------------------------------------------------------------------------
# BPTT by hand: the text of the chapter.


def elman_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Eq. (3.1) over a sequence, keeping what :func:`elman_backward` needs.

    x (T, B, I), h0 (B, H), weight_ih (H, I), weight_hh (H, H), biases (H,) or None
    -> output (T, B, H) (every h_t, the same as :func:`coursekit.rnn.rnn_forward`), cache.
    ``cache`` is a plain dict: the inputs under their argument names, ``"nonlinearity"`` and
    ``"output"``. The states suffice: f'(a_t) is read off h_t (Eq. (3.3)).
    """
    if x.dim() != 3 or x.shape[0] == 0:
        raise _shape_error("x", "(T, B, I) with T >= 1", x)
    T, B, I = x.shape  # noqa: E741 (the glossary's names)
    if weight_hh.dim() != 2 or weight_hh.shape[0] != weight_hh.shape[1]:
        raise _shape_error("weight_hh", "(H, H)", weight_hh)
    H = weight_hh.shape[0]
    expected = {
        "h0": (h0, (B, H), "(B, H)"),
        "weight_ih": (weight_ih, (H, I), "(H, I)"),
        "bias_ih": (bias_ih, (H,), "(H,) or None"),
        "bias_hh": (bias_hh, (H,), "(H,) or None"),
    }
    for name, (tensor, shape, layout) in expected.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise _shape_error(name, f"{layout} = {shape} for x {tuple(x.shape)}", tensor)
    output, _ = rnn_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    cache = {
        "x": x,
        "h0": h0,
        "weight_ih": weight_ih,
        "weight_hh": weight_hh,
        "bias_ih": bias_ih,
        "bias_hh": bias_hh,
        "nonlinearity": nonlinearity,
        "output": output,  # (T, B, H)
    }
    return output, cache


def elman_backward(grad_output, grad_h_n, cache):
    """BPTT by hand, Eqs. (3.2)-(3.4): the gradients of L given ∂L/∂output and ∂L/∂h_n.

    grad_output (T, B, H) = ∂L/∂output (the losses' gradients at every step), grad_h_n (B, H)
    or None = ∂L/∂h_n (h_n is output[-1], so it adds to the last step), cache from
    :func:`elman_forward` -> dict with keys "x", "h0", "weight_ih", "weight_hh", "bias_ih",
    "bias_hh" (the bias entries None when the forward pass had no bias).
    Equal to autograd through :func:`elman_forward` (test_elman_backward_matches_autograd).
    """
    x, h0, output = cache["x"], cache["h0"], cache["output"]
    weight_ih, weight_hh = cache["weight_ih"], cache["weight_hh"]
    if tuple(grad_output.shape) != tuple(output.shape):
        raise _shape_error("grad_output", f"(T, B, H) = {tuple(output.shape)}", grad_output)
    if grad_h_n is not None and tuple(grad_h_n.shape) != tuple(h0.shape):
        raise _shape_error("grad_h_n", f"(B, H) = {tuple(h0.shape)} or None", grad_h_n)
    derivative = _derivative_from_state(output, cache["nonlinearity"])  # f'(a_t), (T, B, H)

    deltas = torch.empty_like(output)  # δ_t for every t, (T, B, H)
    grad_x = torch.empty_like(x)  # (T, B, I)
    g = torch.zeros_like(h0) if grad_h_n is None else grad_h_n  # from above h_T, (B, H)
    for t in reversed(range(output.shape[0])):
        g = g + grad_output[t]  # Eq. (3.2): ∂L/∂h_t, (B, H)
        deltas[t] = g * derivative[t]  # Eq. (3.3): ∂L/∂a_t, (B, H)
        grad_x[t] = deltas[t] @ weight_ih  # (B, H) @ (H, I) -> (B, I)
        g = deltas[t] @ weight_hh  # the part of ∂L/∂h_{t-1} that comes through h_t, (B, H)

    previous = torch.cat([h0.unsqueeze(0), output[:-1]])  # h_{t-1} for every t, (T, B, H)
    grad_bias = deltas.sum(dim=(0, 1))  # (H,)
    return {
        "x": grad_x,
        "h0": g,  # δ_1 W_hh
        "weight_ih": torch.einsum("tbh,tbi->hi", deltas, x),  # Σ_t δ_t^T x_t, (H, I)
        "weight_hh": torch.einsum("tbh,tbk->hk", deltas, previous),  # Σ_t δ_t^T h_{t-1}, (H, H)
        "bias_ih": None if cache["bias_ih"] is None else grad_bias,
        "bias_hh": None if cache["bias_hh"] is None else grad_bias.clone(),
    }


# ---------------------------------------------------------------------------------------------
# Why long-range gradients vanish or explode.


def step_jacobians(output, cache):
    """Eq. (3.5) at every step: ``J[t-1, b] = ∂h_t/∂h_{t-1} = diag(f'(a_t)) W_hh`` -> (T, B, H, H).

    output (T, B, H) and cache from :func:`elman_forward`. Entry [i, j] is ∂h_{t,i}/∂h_{t-1,j}
    (rows index h_t), the layout of ``torch.autograd.functional.jacobian``; the notes'
    W^T diag(f') is its transpose. Equal to autograd (test_step_jacobians_match_autograd).
    """
    if output.dim() != 3 or output.shape[-1] != cache["weight_hh"].shape[0]:
        raise _shape_error("output", f"(T, B, H) with H = {cache['weight_hh'].shape[0]}", output)
    derivative = _derivative_from_state(output, cache["nonlinearity"])  # (T, B, H)
    return derivative.unsqueeze(-1) * cache["weight_hh"]  # (T, B, H, 1) * (H, H) -> (T, B, H, H)


def jacobian_norms(jacobians):
    """Spectral norms of the products Eq. (3.6), counted back from the last step.

    jacobians (T, B, H, H) from :func:`step_jacobians` -> (D = T, B): entry [d-1, b] is
    ‖∂h_T/∂h_{T-d}‖₂ = ‖J_T J_{T-1} ··· J_{T-d+1}‖₂ for d = 1..T, the factor by which a
    gradient arriving at h_T can grow or shrink on its way back d steps.
    Equal to the norm of autograd's Jacobian of h_T w.r.t. h_{T-d}
    (test_jacobian_norms_match_the_norm_of_autograds_jacobian_of_h_T_wrt_earlier_states).
    """
    if jacobians.dim() != 4 or jacobians.shape[-1] != jacobians.shape[-2]:
        raise _shape_error("jacobians", "(T, B, H, H)", jacobians)
    product = torch.eye(jacobians.shape[-1], dtype=jacobians.dtype, device=jacobians.device)
    norms = []
    for jacobian in jacobians.flip(0):  # J_T first, (B, H, H)
        product = product @ jacobian  # ∂h_T/∂h_{T-d}, (B, H, H)
        norms.append(torch.linalg.matrix_norm(product, ord=2))  # (B,)
    return torch.stack(norms)  # (D, B)


def gradient_norm_vs_distance(weight_hh, steps, h0=None, nonlinearity="tanh"):
    """‖∂h_T/∂h_{T-d}‖₂ for d = 1..steps in the input-free RNN h_t = f(h_{t-1} W_hh^T).

    weight_hh (H, H), h0 (B, H) (default zeros (1, H)) -> (steps, B), entry [d-1, b] for
    distance d, as :func:`jacobian_norms`. From h0 = 0 a tanh net stays at 0, where f' = 1: the
    products are then W_hh^d exactly, the linear case. Start from a random h0 to see saturation
    (f' < 1) pull the norm below the bound of Eq. (3.7). (relu has f'(0) = 0: start it elsewhere.)
    """
    if weight_hh.dim() != 2 or weight_hh.shape[0] != weight_hh.shape[1]:
        raise _shape_error("weight_hh", "(H, H)", weight_hh)
    check_positive_int(steps=steps)
    H = weight_hh.shape[0]
    if h0 is None:
        h0 = weight_hh.new_zeros(1, H)
    x = weight_hh.new_zeros(steps, h0.shape[0], 1)  # no input, (T, B, 1)
    output, cache = elman_forward(
        x, h0, weight_hh.new_zeros(H, 1), weight_hh, nonlinearity=nonlinearity
    )
    return jacobian_norms(step_jacobians(output, cache))  # (D, B)


def spectral_bound(weight_hh, gamma=1.0, distances=None):
    """Eq. (3.7): ``(σ_max · γ) ** (t - s)`` for each distance -> float64 (D,) on W_hh's device.

    σ_max = ‖W_hh‖₂, the largest singular value (not the largest eigenvalue; see the module
    docstring); γ bounds |f'| (:data:`DERIVATIVE_BOUND`). ``distances`` is an int n (meaning
    1..n) or a sequence of distances; it is required.
    """
    if distances is None:
        raise TypeError("spectral_bound() missing required argument: 'distances'")
    if weight_hh.dim() != 2 or weight_hh.shape[0] != weight_hh.shape[1]:
        raise _shape_error("weight_hh", "(H, H)", weight_hh)
    if isinstance(distances, int) and not isinstance(distances, bool):
        distances = torch.arange(1, distances + 1)
    distances = torch.as_tensor(distances, dtype=torch.float64, device=weight_hh.device)  # (D,)
    sigma_max = torch.linalg.matrix_norm(weight_hh.detach().double(), ord=2)  # ‖W_hh‖₂
    return (sigma_max * gamma) ** distances
