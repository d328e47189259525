"""Backpropagation through time (时间反向传播, BPTT) for the Elman RNN (chapter 3).

Read first: :func:`elman_forward` (it is :func:`coursekit.rnn.rnn_forward`, keeping what the
backward pass needs) and :func:`elman_backward`, the whole of BPTT by hand in one loop that runs
backwards in time, Eqs. (3.2)-(3.4). Then the reason BPTT is hard: :func:`step_jacobians` gives
every ∂h_t/∂h_{t-1} (Eq. (3.5)), :func:`jacobian_norms` the norm of their products (Eq. (3.6)),
and :func:`spectral_bound` the bound (σ_max·γ)^(t-s) on it (Eq. (3.7)), which shrinks or grows
geometrically in the distance t - s: vanishing (梯度消失) and exploding (梯度爆炸) gradients.
Last, the cure by truncation (截断): :func:`truncated_bptt_step` and :func:`stream_train`
(Williams & Peng's BPTT(k1, k2), Eq. (3.8)) and :func:`random_truncation_lengths` (随机截断,
Eq. (3.9)).
:func:`truncated_bptt_gradients` is BPTT(k1, k2) as a pure function (the graded one of
assignment 3): the gradients every update of :func:`stream_train` would take, by hand.

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
    (3.8)  BPTT(k1, k2): every k1 steps, backpropagate the last k1 losses through k2 steps
    (3.9)  P(L = k) = π (1-π)^(k-1),  π = 1/mean_length:  E[L] = mean_length,
           Var[L] = mean_length (mean_length - 1);  E[min(L, M)] = (1 - (1-π)^M) / π

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

    T  time steps (window length for truncation)      B  batch size
    I  input features per step                         H  hidden size
    D  distances t - s (1..T) in :func:`jacobian_norms`
    N  length of a stream in :func:`stream_train`     W  length of one truncation window (<= k2)

Tests: tests/test_bptt.py compares elman_backward with autograd, step_jacobians with
torch.autograd.functional.jacobian, the norms with the bound, and the truncated trainers with
a truncated computation built by hand (one forward pass with one detach).
"""

from __future__ import annotations

import torch

from coursekit.clipping import clip_grad_norm_
from coursekit.rnn import rnn_forward

__all__ = [
    "DERIVATIVE_BOUND",
    "elman_backward",
    "elman_forward",
    "expected_truncation_length",
    "gradient_norm_vs_distance",
    "jacobian_norms",
    "random_truncation_lengths",
    "spectral_bound",
    "step_jacobians",
    "stream_train",
    "truncated_bptt_gradients",
    "truncated_bptt_step",
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
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1; got {steps!r}")
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


# ---------------------------------------------------------------------------------------------
# Truncated BPTT, Eq. (3.8).


def _detach(state):
    """Cut the graph behind a hidden state: a tensor, a tuple of tensors (LSTM's (h, c)), None."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(_detach(s) for s in state)


def _check_truncation(k1, k2):
    for name, value in (("k1", k1), ("k2", k2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    if k1 > k2:
        raise ValueError(f"k1 must be <= k2 (every k1 steps, backpropagate k2); got {k1} > {k2}")


def truncated_bptt_step(model, optimizer, x, y, h, k1, k2, loss_fn, clip=None):
    """One update of BPTT(k1, k2) (Eq. (3.8)) on a window; -> (loss as a float, next h).

    The window ``x, y (W, B, ...)``, W <= k2, holds the last W steps up to now, and ``h`` is
    the state before ``x[0]`` (None: the model's default). The model runs from ``h`` with
    its graph cut (detached), so gradients flow back through the W steps of the window and no
    further. The loss is ``loss_fn(output, targets)`` on the last ``min(k1, W)`` steps only; then
    ``optimizer.zero_grad()``, backward, optional norm clipping to ``clip``, ``optimizer.step()``.

    Contract for ``model``: ``model(x, h) -> (output (W, B, ...), h_n)``, time first (torch's
    RNN/LSTM/GRU, coursekit.RNN, CharRNN). The returned state is the one the next window starts
    from, k1 steps after this one's start when W = k2 (the state after step ``W + k1 - k2``),
    detached. With k1 = k2 = W this is the usual truncated BPTT on disjoint windows.
    NOTE: the k2 - k1 steps a window shares with the previous one are recomputed with the
    current weights; Williams & Peng keep the stored states. The two agree while the weights do
    not change (test_stream_train_matches_hand_built_truncation records gradients with an
    optimizer that changes no weight).
    """
    _check_truncation(k1, k2)
    W = len(x)
    if not 1 <= W <= k2 or len(y) != W:
        raise ValueError(
            f"x and y must be windows (W, B, ...) of the same length 1 <= W <= k2 = {k2}; "
            f"got {len(x)} and {len(y)}"
        )
    split = max(W + k1 - k2, 0)  # the next window starts after x[split - 1]
    state, outputs = _detach(h), []
    if split > 0:
        output, state = model(x[:split], state)  # (split, B, ...)
        outputs.append(output)
    next_h = _detach(state)
    if split < W:
        output, state = model(x[split:], state)  # the graph runs on through state
        outputs.append(output)
    output = torch.cat(outputs)  # (W, B, ...)
    n = min(k1, W)
    loss = loss_fn(output[W - n :], y[W - n :])
    optimizer.zero_grad()
    loss.backward()
    if clip is not None:
        clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), next_h


def stream_train(model, optimizer, x, y, k1, k2, loss_fn, h0=None, clip=None):
    """Train on one long stream with BPTT(k1, k2) -> (losses, one float per update; h_n).

    ``x, y (N, B, ...)``: inputs and targets, time first (for a language model
    ``x = data[:-1], y = data[1:]`` of a ``batchify``-ed stream). Update j trains on the losses
    of steps [j·k1, (j+1)·k1) and backpropagates to the state at step max(0, (j+1)·k1 - k2),
    which the previous update handed on detached (:func:`truncated_bptt_step`). The hidden
    state is carried across the whole stream; the graph never is. When k1 does not divide N the
    last update covers the N mod k1 remaining steps from where a full one would start.
    ``h_n`` is the state after the last step, detached (after the last update, the steps its
    window shares with no later one are run again without a graph); pass it as ``h0`` to go on.
    Randomised truncation: call :func:`truncated_bptt_step` with k1 = k2 = L_i for lengths
    from :func:`random_truncation_lengths`.
    """
    _check_truncation(k1, k2)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"x and y must be streams (N, B, ...) of the same length N >= 1; got {len(x)} and {len(y)}"
        )
    losses, h, start, done = [], h0, 0, 0  # h is the state before x[start]
    while done < len(x):
        end = min(done + k1, len(x))
        n = end - done  # steps whose losses this update trains on: k1, or fewer at the end
        # (n, k2 - k1 + n) is (k1, k2) except for a short last update, whose window starts where
        # a full one would and whose next state is not needed
        loss, h = truncated_bptt_step(
            model, optimizer, x[start:end], y[start:end], h, n, k2 - k1 + n, loss_fn, clip
        )
        losses.append(loss)
        start, done = max(0, end + k1 - k2), end
    if start < len(x):  # h is the state before x[start]; run on to the end of the stream
        with torch.no_grad():
            _, h = model(x[start:], h)
    return losses, h


# ---------------------------------------------------------------------------------------------
# Randomised truncation, Eq. (3.9).


def random_truncation_lengths(mean_length, num, generator, max_length=None):
    """``num`` random window lengths with mean ``mean_length`` -> int64 tensor (num,).

    The design (memoryless truncation): walking back from the loss, each further step is cut
    with probability π = 1/mean_length, so L is geometric on {1, 2, ...}: Eq. (3.9),
    E[L] = mean_length, Var[L] = mean_length·(mean_length - 1). ``max_length`` caps L (memory),
    and the mean becomes :func:`expected_truncation_length`. Drawn from ``generator`` only,
    so a seeded generator gives the same lengths.
    Why random: a fixed window never sees a dependency longer than itself; random lengths
    sometimes do. Tallec & Ollivier (2017) make the truncated gradient unbiased by cutting at
    random like this and scaling the gradient that survives k steps back (which needs a window
    of at least k + 1 steps) by 1/P(L >= k + 1) = (1-π)^-k; this module draws the lengths only and leaves that reweighting out.
    """
    if (
        isinstance(mean_length, bool)
        or not isinstance(mean_length, (int, float))
        or not mean_length >= 1
    ):
        raise ValueError(f"mean_length must be a number >= 1; got {mean_length!r}")
    if isinstance(num, bool) or not isinstance(num, int) or num < 0:
        raise ValueError(f"num must be an integer >= 0; got {num!r}")
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise ValueError(f"max_length must be None or an integer >= 1; got {max_length!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    # inverse CDF: P(L > k) = (1-π)^k, so L = 1 + floor(log U / log(1-π)) for U uniform on (0, 1]
    u = 1 - torch.rand(num, generator=generator, dtype=torch.float64, device=generator.device)
    log_keep = torch.log1p(torch.tensor(-1.0 / mean_length, dtype=torch.float64))  # -inf if π = 1
    lengths = 1 + torch.floor(torch.log(u) / log_keep.to(u.device)).long()  # (num,)
    return lengths if max_length is None else lengths.clamp(max=max_length)


def expected_truncation_length(mean_length, max_length=None) -> float:
    """E[min(L, M)] for L from :func:`random_truncation_lengths`, Eq. (3.9).

    Without a cap, ``mean_length``. With cap M: Σ_{k=1..M} P(L >= k) = Σ_{k=0..M-1} (1-π)^k
    = (1 - (1-π)^M) / π, π = 1/mean_length.
    """
    if max_length is None:
        return float(mean_length)
    pi = 1.0 / mean_length
    return (1.0 - (1.0 - pi) ** max_length) / pi


# ---------------------------------------------------------------------------------------------
# BPTT(k1, k2) as a pure function: the graded function of assignment 3.


def truncated_bptt_gradients(
    x,
    y,
    h0,
    weight_ih,
    weight_hh,
    bias_ih,
    bias_hh,
    weight_out,
    bias_out,
    k1,
    k2,
    nonlinearity="tanh",
):
    """The loss and the gradients of every update of BPTT(k1, k2), Eq. (3.8), weights held fixed.

    The model is an Elman network (Eq. (3.1)) with a linear readout ŷ_t = h_t W_out^T + b_out
    (Eq. (2.2)); update j trains on the squared error Σ (ŷ_t - y_t)² of the steps
    [j·k1, min((j+1)·k1, N)) (summed over steps, batch and outputs) and backpropagates it to
    step max(0, (j+1)·k1 - k2) and no further, through :func:`elman_backward` on that window
    with a zero gradient at the window's steps before j·k1. The window starts from the true
    state of the stream there. x (N, B, I), y (N, B, O), h0 (B, H), weight_ih (H, I),
    weight_hh (H, H), bias_ih, bias_hh (H,) or None, weight_out (O, H), bias_out (O,) or None
    -> dict: "loss" (U,) and the gradients "weight_ih" (U, H, I), "weight_hh" (U, H, H),
    "bias_ih", "bias_hh" (U, H), "weight_out" (U, O, H), "bias_out" (U, O) (None where that
    bias is None), row j for update j; U = ceil(N / k1).
    What :func:`stream_train` hands each optimizer step while the weights do not change
    (test_truncated_bptt_gradients_equal_stream_train_with_fixed_weights). The graded function
    of assignment 3.
    """
    _check_truncation(k1, k2)
    if x.dim() != 3 or y.dim() != 3 or len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"x and y must be streams (N, B, I) and (N, B, O) of the same length N >= 1; "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    N = len(x)
    output, _ = rnn_forward(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    states = torch.cat([h0.unsqueeze(0), output])  # h_0 .. h_N, (N + 1, B, H)
    rows = []
    for done in range(0, N, k1):
        end, cut = min(done + k1, N), max(0, done + k1 - k2)
        window, cache = elman_forward(
            x[cut:end], states[cut], weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity
        )  # (W, B, H), W = end - cut
        trained = window[done - cut :]  # the steps whose losses count, (n, B, H)
        error = trained @ weight_out.T - y[done:end]  # ŷ_t - y_t, (n, B, O)
        if bias_out is not None:
            error = error + bias_out
        grad_output = torch.zeros_like(window)
        grad_output[done - cut :] = 2 * error @ weight_out  # ∂L/∂h_t through the readout, (n, B, H)
        grads = elman_backward(grad_output, None, cache)
        grads["weight_out"] = torch.einsum("tbo,tbh->oh", 2 * error, trained)  # (O, H)
        grads["bias_out"] = None if bias_out is None else 2 * error.sum(dim=(0, 1))  # (O,)
        grads["loss"] = (error * error).sum()
        rows.append(grads)
    keys = ["loss", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_out", "bias_out"]
    return {
        key: None if rows[0][key] is None else torch.stack([row[key] for row in rows])
        for key in keys
    }
