"""Truncated backpropagation through time (截断的时间反向传播) (chapter 3).

Full BPTT (:mod:`coursekit.bptt`) keeps every step of a stream and sends gradients all the way
back; on a long stream that is too much memory, and the far gradients vanish or explode anyway.
Read first: :func:`truncated_bptt_step` and :func:`stream_train`, Williams & Peng's
BPTT(k1, k2), Eq. (3.8): every k1 steps, backpropagate through the last k2 only, carrying the
state forward with its graph cut. Then :func:`random_truncation_lengths` (随机截断, Eq. (3.9)),
window lengths drawn at random so that some gradients reach further than any fixed window.
:func:`truncated_bptt_gradients` is BPTT(k1, k2) as a pure function (the graded one of
assignment 3): the gradients every update of :func:`stream_train` would take, by hand, with
:func:`coursekit.bptt.elman_backward` on each window.

Equations (time runs t = 1..N; L is the loss):

    (3.8)  BPTT(k1, k2): every k1 steps, backpropagate the last k1 losses through k2 steps
    (3.9)  P(L = k) = π (1-π)^(k-1),  π = 1/mean_length:  E[L] = mean_length,
           Var[L] = mean_length (mean_length - 1);  E[min(L, M)] = (1 - (1-π)^M) / π

Dimension glossary:

    N  length of a stream      W  length of one truncation window (<= k2)
    B  batch size              I  input features,  H  hidden size,  O  outputs
    U  updates, ceil(N / k1)

Tests: tests/test_bptt.py compares the truncated trainers with a truncated computation built
by hand (one forward pass with one detach) and the lengths with Eq. (3.9).
"""

from __future__ import annotations

import torch

from coursekit._checks import check_nonnegative_int, check_positive_int, detach_state
from coursekit.bptt import elman_backward, elman_forward
from coursekit.clipping import clip_grad_norm_
from coursekit.rnn import rnn_forward

__all__ = [
    "expected_truncation_length",
    "random_truncation_lengths",
    "stream_train",
    "truncated_bptt_gradients",
    "truncated_bptt_step",
]


# ---------------------------------------------------------------------------------------------
# Truncated BPTT, Eq. (3.8).


def _check_truncation(k1, k2):
    check_positive_int(k1=k1, k2=k2)
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
    state, outputs = detach_state(h), []
    if split > 0:
        output, state = model(x[:split], state)  # (split, B, ...)
        outputs.append(output)
    next_h = detach_state(state)
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
    check_nonnegative_int(num=num)
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
