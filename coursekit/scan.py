"""The first-order linear recurrence and three ways to compute it (chapter 10).

A selective SSM (:mod:`coursekit.mamba`) spends its time in one recurrence, elementwise over a
state of any shape:

    (10.20)  h_t = a_t ⊙ h_{t-1} + b_t,      t = 0, ..., L-1,   h_{-1} = h0 (default 0)

Read first: :func:`scan_loop`, the recurrence as a Python loop (the reference). The others
compute the same numbers:

* :func:`scan_blelloch`, a work-efficient parallel scan (Blelloch 1990). Each step is an affine
  map h -> a h + b; maps compose associatively,

      (10.21)  (a_2, b_2) • (a_1, b_1) = (a_2 a_1, a_2 b_1 + b_2)     (apply 1, then 2)

  (:func:`scan_combine`), so the prefix compositions can be built as a tree
  (:func:`_scan_in_place`): an up-sweep of log2 L levels composes neighbouring blocks of 1,
  2, 4, ... steps, and a down-sweep of log2 L levels composes each half-block with the
  complete prefix before it, until every position holds the composition of all steps up to
  it, applied to h_{-1} = 0: h_t. About 2L combines in 2 log2 L vectorised steps, against L
  dependent steps for the loop. Lengths that are not powers of two are padded with the
  identity map (1, 0). Its backward is written by hand (:class:`BlellochScan`): the gradient
  of (10.20) is itself a linear recurrence, run backwards in time,

      (10.22)  g_t = dl/dh_t + a_{t+1} ⊙ g_{t+1}   (g_{L-1} = dl/dh_{L-1})
      (10.23)  dl/db_t = g_t,      dl/da_t = g_t ⊙ h_{t-1}

  computed by the parallel scan mirrored in time (:func:`_scan_in_place_reverse`), in place,
  with no reversed copies.
* :func:`scan_chunked`: cut time into chunks of ``chunk`` steps, scan every chunk from zero in
  parallel (:func:`scan_blelloch` on all chunks at once), then carry the state across chunks
  in a short sequential loop: with P_t the product of a within the chunk up to t,

      (10.24)  h_t = h_t^local + P_t ⊙ h_{end of previous chunk}

* :func:`linear_scan` with ``strategy="auto"`` picks one by size and device (see ``_choose``).

Dimension glossary (the time axis is dim 1, as in mambapy's ``pscan``):

    b  batch size            L  sequence length (time steps)
    *  any trailing state dimensions (Mamba: d channels x n state, (b, L, d, n))

Tests: tests/test_scan.py checks every strategy against :func:`scan_loop` (values and
gradients, float32 within 1e-5 and float64 within 1e-10, lengths 1 and not powers of two) and
the hand-written backward with ``torch.autograd.gradcheck``; benchmarks/scan.py times them.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from coursekit._checks import check_positive_int

__all__ = [
    "STRATEGIES",
    "BlellochScan",
    "linear_scan",
    "scan_blelloch",
    "scan_chunked",
    "scan_combine",
    "scan_loop",
]


def _check(a, b, h0):
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise ValueError("a and b must be tensors (b, L, *)")
    if a.shape != b.shape or a.dim() < 2 or a.shape[1] == 0:
        raise ValueError(
            f"a and b must have one shape (b, L, *) with L >= 1; got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    if h0 is not None and (h0.shape[0] != a.shape[0] or h0.shape[1:] != a.shape[2:]):
        raise ValueError(f"h0 must be (b, *) = {(a.shape[0], *a.shape[2:])}; got {tuple(h0.shape)}")


def _fold_initial_state(a, b, h0):
    """h0 enters (10.20) only through h_0 = a_0 h0 + b_0: fold it into b_0 (differentiably)."""
    if h0 is None:
        return b
    first = a[:, :1] * h0.unsqueeze(1) + b[:, :1]  # (b, 1, *)
    return torch.cat([first, b[:, 1:]], dim=1)


# ---------------------------------------------------------------------------------------------
# The reference: the text of the chapter.


def scan_loop(a, b, h0=None):
    """Eq. (10.20) as a Python loop over t, differentiated by autograd.

    a, b (b, L, *), h0 (b, *) or None (zeros) -> h (b, L, *), every h_t.
    """
    _check(a, b, h0)
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0  # (b, *)
    states = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]  # Eq. (10.20)
        states.append(h)
    return torch.stack(states, dim=1)  # (b, L, *)


# ---------------------------------------------------------------------------------------------
# The parallel scan.


def scan_combine(left, right):
    """The combine step of the parallel scan, Eq. (10.21): two consecutive pieces of (10.20)
    composed into one.

    left = (a_1, b_1) the earlier piece, right = (a_2, b_2) the later one (tensors of one
    shape, or broadcastable) -> (a_2 ⊙ a_1, a_2 ⊙ b_1 + b_2), the affine map
    h -> a_2 ⊙ (a_1 ⊙ h + b_1) + b_2 that applies the earlier piece, then the later. It is
    associative, so prefixes can be combined in any grouping (the tree of
    :func:`_scan_in_place`, which applies it to whole blocks in place), but not commutative:
    the order of time matters in the b part. The identity map (1, 0) is neutral. Folding it
    over t = 0, 1, ... in time order gives (a_0 ⊙ ... ⊙ a_t, h_t) from h_{-1} = 0
    (test_scan_combine_folded_equals_loop, test_scan_combine_is_associative).
    """
    a_1, b_1 = left
    a_2, b_2 = right
    return a_2 * a_1, a_2 * b_1 + b_2


def _power_of_two(length):
    return 1 << (length - 1).bit_length()  # the next power of two >= length


def _buffer(x, size, fill):
    """x (b, T, *) copied into a new (b, size, *) buffer, size >= T, the rest set to fill
    (each element written once: no fill of the whole buffer first)."""
    out = x.new_empty((x.shape[0], size, *x.shape[2:]))
    out[:, : x.shape[1]] = x
    out[:, x.shape[1] :] = fill
    return out


def _padded(a, b):
    """a, b (b, L, *) copied into (b, 2^k, *) buffers (2^k >= L), padded with the identity
    map (1, 0), which leaves every state after it unchanged."""
    size = _power_of_two(a.shape[1])
    return _buffer(a, size, 1.0), _buffer(b, size, 0.0)


def _blocks(A, X, s):
    """Views (b, 2^k / 2s, 2s, *) of the buffers: block j covers positions [2sj, 2sj + 2s)."""
    shape = (A.shape[0], A.shape[1] // (2 * s), 2 * s, *A.shape[2:])
    return A.view(shape), X.view(shape)


def _scan_in_place(A, X):
    """The inclusive scan of (10.20) from h_{-1} = 0 on (b, 2^k, *) buffers, in place and
    without autograd: afterwards X[:, t] = h_t (A is overwritten)."""
    size = A.shape[1]
    # Up-sweep: the last position of each block of 2s composes its two halves, (10.21); then
    # position p holds the composition over the lowbit(p + 1) steps ending at p.
    s = 1
    while s < size:
        Av, Xv = _blocks(A, X, s)
        Xv[:, :, 2 * s - 1] += Av[:, :, 2 * s - 1] * Xv[:, :, s - 1]
        Av[:, :, 2 * s - 1] *= Av[:, :, s - 1]
        s *= 2
    # Down-sweep: each block's first half ends at position 2sj + s - 1, which still holds only
    # its half; the block before it ends at 2sj - 1, which is complete (an inclusive prefix
    # from t = 0) from the level above. Compose the two, from the coarsest level down.
    s = size // 4
    while s >= 1:
        Av, Xv = _blocks(A, X, s)
        Xv[:, 1:, s - 1] += Av[:, 1:, s - 1] * Xv[:, :-1, 2 * s - 1]
        s //= 2
    return X


def _scan_in_place_reverse(A, X):
    """:func:`_scan_in_place` mirrored in time (position p <-> 2^k - 1 - p): the same
    recurrence backwards, X[:, t] = A_t ⊙ X[:, t+1] + X_t from X[:, 2^k] = 0, each block's
    first position used where the forward scan uses its last, so a backward pass needs no
    flipped copies."""
    size = A.shape[1]
    s = 1
    while s < size:  # up-sweep: each block's first position composes its two halves
        Av, Xv = _blocks(A, X, s)
        Xv[:, :, 0] += Av[:, :, 0] * Xv[:, :, s]
        Av[:, :, 0] *= Av[:, :, s]
        s *= 2
    s = size // 4
    while s >= 1:  # down-sweep: the second half's first position takes the next block's
        Av, Xv = _blocks(A, X, s)
        Xv[:, :-1, s] += Av[:, :-1, s] * Xv[:, 1:, 0]
        s //= 2
    return X


class BlellochScan(torch.autograd.Function):
    """Eq. (10.20) from h_{-1} = 0 by :func:`_scan_in_place`, backward by (10.22)-(10.23).

    First derivatives only (the backward is not itself differentiable).
    """

    @staticmethod
    def forward(ctx, a, b):
        length = a.shape[1]
        h = _scan_in_place(*_padded(a, b))[:, :length]
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        a, h = ctx.saved_tensors
        length = a.shape[1]
        # (10.22), a scan backwards in time: g_t = a_{t+1} ⊙ g_{t+1} + dl/dh_t, with no
        # a_L (g_L = 0): the coefficients are a shifted one step, 0 at the end.
        size = _power_of_two(length)
        A = _buffer(a[:, 1:], size, 1.0)  # a_1 .. a_{L-1}, then the identity (1, 0) ...
        A[:, length - 1] = 0  # ... but no a_L: 0 there (g_L = 0 either way)
        X = _buffer(grad_h, size, 0.0)
        g = _scan_in_place_reverse(A, X)[:, :length]  # (b, L, *)
        grad_a = torch.empty_like(a)
        grad_a[:, 0] = 0  # h_{-1} = 0
        torch.mul(g[:, 1:], h[:, :-1], out=grad_a[:, 1:])  # (10.23)
        return grad_a, g


def scan_blelloch(a, b, h0=None):
    """:func:`scan_loop`'s arguments and result by the work-efficient parallel scan.

    a, b (b, L, *), h0 (b, *) or None -> h (b, L, *). Equal to :func:`scan_loop`
    (test_strategies_equal_loop, test_blelloch_gradcheck).
    """
    _check(a, b, h0)
    return BlellochScan.apply(a, _fold_initial_state(a, b, h0))


def scan_chunked(a, b, h0=None, chunk=64):
    """:func:`scan_loop`'s result: parallel within chunks of ``chunk`` steps, Eq. (10.24)
    sequentially across them.

    a, b (b, L, *), h0 (b, *) or None -> h (b, L, *). Equal to :func:`scan_loop`
    (test_strategies_equal_loop, test_chunked_any_chunk_size).
    """
    _check(a, b, h0)
    check_positive_int(chunk=chunk)
    b = _fold_initial_state(a, b, h0)
    batch, length, rest = a.shape[0], a.shape[1], a.shape[2:]
    chunks = -(-length // chunk)
    pad = chunks * chunk - length
    if pad:  # pad with the identity map (1, 0) to whole chunks
        a = torch.cat([a, a.new_ones((batch, pad, *rest))], dim=1)
        b = torch.cat([b, b.new_zeros((batch, pad, *rest))], dim=1)
    a_c = a.reshape(batch * chunks, chunk, *rest)  # (b K, c, *)
    b_c = b.reshape(batch * chunks, chunk, *rest)
    local = BlellochScan.apply(a_c, b_c).view(batch, chunks, chunk, *rest)  # zero start
    # P_t, the product of a within the chunk, is the same recurrence from h_{-1} = 1 with
    # b = 0 (torch.cumprod gives the same values, but its backward was 3x slower than a scan).
    ones = torch.ones_like(a_c[:, 0])
    products = scan_blelloch(a_c, torch.zeros_like(a_c), ones).view(batch, chunks, chunk, *rest)
    carry = torch.zeros_like(local[:, 0, 0])  # (b, *): the state before the chunk
    carries = []
    for k in range(chunks):  # sequential across chunks: K steps, not L
        carries.append(carry)
        carry = local[:, k, -1] + products[:, k, -1] * carry  # Eq. (10.24) at the chunk's end
    before = torch.stack(carries, dim=1).unsqueeze(2)  # (b, K, 1, *)
    h = local + products * before  # Eq. (10.24)
    return h.reshape(batch, chunks * chunk, *rest)[:, :length]


# ---------------------------------------------------------------------------------------------
# Choosing a strategy.

STRATEGIES = {"loop": scan_loop, "blelloch": scan_blelloch, "chunked": scan_chunked}

# The threshold, measured by benchmarks/scan.py (2026-12-04, one thread of a 2-core x86-64
# machine with AVX-512, forward + backward, medians of 9 rounds): at L = 8 the loop took 0.19
# ms and the parallel scan 0.23, at L = 16 0.41 and 0.33 (b = 1, d = 16, n = 4); from L = 16
# on the scan wins and the gap grows with L (L = 4096: 392 ms against 2.0). The chunked scan,
# which does two scans (the local states and the products P_t) and a loop over chunks, was
# 2-20x slower than the whole-sequence scan at every size measured on CPU (b*L*d*n from 512
# to 2^25), so ``auto`` does not choose it there. No GPU was measured: on CUDA ``auto``
# makes the same choice, untuned.
_LOOP_MAX_LENGTH = 8


def _choose(a):
    """The strategy ``auto`` runs for inputs shaped like ``a`` (b, L, *): the loop up to
    ``_LOOP_MAX_LENGTH`` steps, the parallel scan beyond."""
    return "loop" if a.shape[1] <= _LOOP_MAX_LENGTH else "blelloch"


def linear_scan(a, b, h0=None, strategy="auto"):
    """Eq. (10.20) by ``strategy``: "loop", "blelloch", "chunked" or "auto" (by the length L,
    ``_choose``). a, b (b, L, *), h0 (b, *) or None -> h (b, L, *)."""
    if strategy == "auto":
        _check(a, b, h0)
        strategy = _choose(a)
    if strategy not in STRATEGIES:
        raise ValueError(
            f"strategy must be 'auto' or one of {sorted(STRATEGIES)}; got {strategy!r}"
        )
    return STRATEGIES[strategy](a, b, h0)
