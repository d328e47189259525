"""coursekit.scan: every strategy equals the loop, and the loop equals the recurrence.

The loop itself is checked against h_t written out as a sum, h_t = sum_s (prod_{r=s+1..t} a_r)
b_s (independent of any scan), so "strategy = loop" is not ours-vs-ours.
"""

from __future__ import annotations

import pytest
import torch

from coursekit.scan import (
    STRATEGIES,
    linear_scan,
    scan_blelloch,
    scan_chunked,
    scan_combine,
    scan_loop,
)

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
LENGTHS = [1, 2, 3, 7, 8, 13, 64, 100]


def inputs(batch, length, rest, dtype, h0=False):
    a = (0.5 + 0.5 * torch.rand(batch, length, *rest, dtype=dtype)).requires_grad_()
    b = torch.randn(batch, length, *rest, dtype=dtype, requires_grad=True)
    h = torch.randn(batch, *rest, dtype=dtype, requires_grad=True) if h0 else None
    return a, b, h


def closed_form(a, b, h0):
    """h_t = P_{0..t} h0 + sum_{s<=t} P_{s+1..t} b_s, each product written out."""
    length = a.shape[1]
    out = []
    for t in range(length):
        total = torch.zeros_like(b[:, 0]) if h0 is None else torch.prod(a[:, : t + 1], 1) * h0
        for s in range(t + 1):
            total = total + torch.prod(a[:, s + 1 : t + 1], dim=1) * b[:, s]
        out.append(total)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("h0", [False, True])
def test_loop_matches_closed_form(h0):
    a, b, h = inputs(2, 9, (3,), torch.float64, h0)
    torch.testing.assert_close(scan_loop(a, b, h), closed_form(a, b, h), rtol=0, atol=1e-12)


def grads(fn, a, b, h0, upstream):
    out = fn(a, b, h0)
    leaves = [t for t in (a, b, h0) if t is not None]
    return out, torch.autograd.grad(out, leaves, upstream)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("name", ["blelloch", "chunked", "auto"])
def test_strategies_equal_loop(name, length, dtype):
    a, b, h0 = inputs(2, length, (3, 2), dtype, h0=length % 2 == 1)
    upstream = torch.randn(2, length, 3, 2, dtype=dtype)
    fn = (lambda a, b, h: linear_scan(a, b, h)) if name == "auto" else STRATEGIES[name]
    out, got = grads(fn, a, b, h0, upstream)
    ref, want = grads(scan_loop, a, b, h0, upstream)
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(out, ref, rtol=tol, atol=tol)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("chunk", [1, 3, 4, 16, 50])
def test_chunked_any_chunk_size(chunk):
    a, b, h0 = inputs(2, 37, (4,), torch.float64, h0=True)
    upstream = torch.randn(2, 37, 4, dtype=torch.float64)
    out, got = grads(lambda a, b, h: scan_chunked(a, b, h, chunk=chunk), a, b, h0, upstream)
    ref, want = grads(scan_loop, a, b, h0, upstream)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("length", [1, 5, 16])
def test_blelloch_gradcheck(length):
    a, b, h0 = inputs(2, length, (3,), torch.float64, h0=True)
    assert torch.autograd.gradcheck(scan_blelloch, (a, b, h0))


def test_zero_coefficients_reset_the_state():
    """a_t = 0 forgets everything before t: h_t = b_t (where cumulative products vanish)."""
    a, b, _ = inputs(1, 20, (2,), torch.float64)
    a = a.detach().clone()
    a[:, 10] = 0
    for fn in (scan_blelloch, scan_chunked, linear_scan):
        h = fn(a, b.detach())
        torch.testing.assert_close(h[:, 10], b.detach()[:, 10])
        torch.testing.assert_close(h, scan_loop(a, b.detach()), rtol=1e-10, atol=1e-10)


def test_scan_combine_folded_equals_loop():
    """Folding the combine over time, left to right, gives every h_t (and the products of a)."""
    a, b, h0 = inputs(2, 9, (3,), torch.float64, h0=True)
    b = torch.cat([a[:, :1] * h0.unsqueeze(1) + b[:, :1], b[:, 1:]], dim=1)  # h0 folded into b_0
    prefix = (a[:, 0], b[:, 0])
    states, products = [prefix[1]], [prefix[0]]
    for t in range(1, 9):
        prefix = scan_combine(prefix, (a[:, t], b[:, t]))
        states.append(prefix[1])
        products.append(prefix[0])
    torch.testing.assert_close(torch.stack(states, 1), closed_form(a, b, None), rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.stack(products, 1), torch.cumprod(a, 1), rtol=0, atol=1e-12)


def test_scan_combine_is_associative():
    """Associative, not commutative, with (1, 0) neutral, and one case by hand."""
    a, b, _ = inputs(1, 3, (4,), torch.float64)
    x, y, z = ((a[:, t], b[:, t]) for t in range(3))
    left = scan_combine(scan_combine(x, y), z)
    right = scan_combine(x, scan_combine(y, z))
    for got, want in zip(left, right, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    assert not torch.allclose(scan_combine(x, y)[1], scan_combine(y, x)[1])
    identity = (torch.ones(1, 4, dtype=torch.float64), torch.zeros(1, 4, dtype=torch.float64))
    for element in (scan_combine(identity, x), scan_combine(x, identity)):
        torch.testing.assert_close(element[0], x[0], rtol=0, atol=0)
        torch.testing.assert_close(element[1], x[1], rtol=0, atol=0)
    # By hand: h -> 2h + 3, then h -> 5h + 7, is h -> 10h + 22.
    a2, b2 = scan_combine(
        (torch.tensor(2.0), torch.tensor(3.0)), (torch.tensor(5.0), torch.tensor(7.0))
    )
    assert (a2.item(), b2.item()) == (10.0, 22.0)


def test_argument_checks():
    a = torch.rand(2, 4, 3)
    with pytest.raises(ValueError, match="one shape"):
        scan_blelloch(a, torch.rand(2, 5, 3))
    with pytest.raises(ValueError, match="L >= 1"):
        scan_loop(torch.rand(2, 0, 3), torch.rand(2, 0, 3))
    with pytest.raises(ValueError, match="h0 must be"):
        scan_chunked(a, a, torch.rand(3))
    with pytest.raises(ValueError, match="chunk must be"):
        scan_chunked(a, a, chunk=0)
    with pytest.raises(ValueError, match="strategy must be"):
        linear_scan(a, a, strategy="fast")


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["blelloch", "chunked", "auto"])
def test_strategies_equal_loop_on_cuda(name):
    a, b, h0 = (
        t.detach().cuda().requires_grad_() for t in inputs(2, 77, (8, 4), torch.float32, True)
    )
    upstream = torch.randn(2, 77, 8, 4, device="cuda")
    fn = (lambda a, b, h: linear_scan(a, b, h)) if name == "auto" else STRATEGIES[name]
    out, got = grads(fn, a, b, h0, upstream)
    ref, want = grads(scan_loop, a, b, h0, upstream)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("length", [1, 2, 5, 8, 13])
def test_reverse_in_place_scan_runs_the_recurrence_backwards_in_time(length):
    """The backward pass's scan, g_t = A_t g_{t+1} + X_t from g_L = 0, written as a loop."""
    from coursekit.scan import _padded, _scan_in_place_reverse

    A = 0.5 + 0.5 * torch.rand(2, length, 3, dtype=torch.float64)
    X = torch.randn(2, length, 3, dtype=torch.float64)
    expected, g = [], torch.zeros(2, 3, dtype=torch.float64)
    for t in reversed(range(length)):
        g = A[:, t] * g + X[:, t]
        expected.append(g)
    expected = torch.stack(expected[::-1], dim=1)
    got = _scan_in_place_reverse(*_padded(A, X))[:, :length]
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
