"""The fused fast paths of the LSTM and GRU layers: the same numbers as the readable loops.

:func:`coursekit.lstm.lstm_forward_fast` and :func:`coursekit.gru.gru_forward_fast` check their
arguments and run one of the autograd nodes here (:class:`LSTMLayer`, :class:`GRULayer`); the
readable references they equal are :func:`coursekit.lstm.lstm_forward` and
:func:`coursekit.gru.gru_forward`. Equations are numbered as in those modules (chapter 4).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

# ---------------------------------------------------------------------------------------------
# The fast path: the same numbers, with the work a Python loop need not do taken out of it.
#
# Five things make it fast (benchmarks/lstm.py measures them against torch.nn.LSTM):
# 1. No product is repeated per gate or per step when it can be one. The GRU's input terms
#    x_t W_ih^T + b do not depend on h: one (T*B, I) product for all t before the loop, and inside
#    it only h_{t-1} W_hh^T, one product for the three gates. The LSTM's four gates are one
#    product per step of v_t = [x_t, h_{t-1}] with [W_ih, W_hh], the sigmoid fused into it
#    (point 4), and its weight gradients one product over [x_t, h_{t-1}] for all t.
# 2. One autograd node for the whole layer (torch.autograd.Function) with a hand-written
#    backward. Autograd through the loop would record ~10 nodes per step, and x[t] indexing
#    alone allocates a full-size (T, B, I) gradient per step in backward.
# 3. The backward loop only carries the recurrence: the local derivatives (sigma' = s(1 - s),
#    tanh' = 1 - tanh^2) are computed for all t at once before it, and the weight gradients
#    dW = sum_t dz_t^T v_t are one (4H, T*B) x (T*B, ·) product each after it.
# 4. Few, large kernels per step: the LSTM's gates take one sigmoid (tanh(a) = 2 sigma(2a) - 1,
#    :func:`_tanh_as_sigmoid`; tanh(c) is taken the same way, tanh costing five sigmoids on a
#    (B, H) block), the recurrent products add their other term or apply the sigmoid as they go
#    (oneDNN post-ops, :func:`_multiply_by`'s ``add`` and ``sigmoid``), per-step views are made
#    once before the loop, and buffers are preallocated and written in place (out=, mul_).
# 5. oneDNN, the library torch's own LSTM uses on CPU, for every float32 product large enough
#    (:func:`_multiply_by`, :func:`_multiply_transposed`). On the AMD EPYC (Zen 4, AVX-512)
#    measured on 2026-12-04 its inner product ran at 190-235 GFLOP/s on one thread where
#    torch.mm (MKL) ran at 95-103; on another machine of the same kind on 2026-12-06 at 100
#    against 86, the per-step (32, 256) x (256, 1024) product in 167 us instead of 195.


# oneDNN's call costs ~10 us more than torch.mm's; it pays off from about 2^20 multiply-adds.
_ONEDNN_MIN_MACS = 2**20
# torch's own (private) oneDNN ops, present in its CPU builds; without them: torch.mm.
_HAVE_ONEDNN_LINEAR = hasattr(torch.ops.mkldnn, "_linear_pointwise") and hasattr(
    torch.ops.mkldnn, "_reorder_linear_weight"
)


def _use_onednn(matrix, rows) -> bool:
    return (
        matrix.device.type == "cpu"
        and matrix.dtype == torch.float32
        and _HAVE_ONEDNN_LINEAR
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
        and rows * matrix.numel() >= _ONEDNN_MIN_MACS
    )


def _multiply_by(matrix, rows):
    """Return ``product(a, bias=None, add=None, sigmoid=False) = a @ matrix (+ bias) (+ add)``,
    passed through the sigmoid when ``sigmoid``, for inputs ``a`` of ``rows`` rows: ``bias`` a row
    added to every row, ``add`` a whole matrix (not together with ``sigmoid``).

    On CPU in float32, for products large enough, the right factor is packed once for oneDNN's
    inner product, the library ``torch.nn.LSTM`` itself uses on CPU (point 5 above for what it
    gains), and ``add`` or the sigmoid is fused into it (a "binary add" or an eltwise post-op).
    Elsewhere (float64, CUDA, small products) it is ``torch.mm``/``torch.addmm`` (and
    ``sigmoid_``); the two agree to float32 rounding.
    """
    if _use_onednn(matrix, rows):
        packed = torch.ops.mkldnn._reorder_linear_weight(matrix.t(), rows)  # an (out, in) weight
        linear = torch.ops.mkldnn._linear_pointwise

        def product(a, bias=None, add=None, sigmoid=False):
            if add is None:
                return linear.default(a, packed, bias, "sigmoid" if sigmoid else "none", [], "")
            return linear.binary(a, add, packed, bias, "add")

        return product

    def product(a, bias=None, add=None, sigmoid=False):
        c = _sum_biases(bias, add)
        y = torch.mm(a, matrix) if c is None else torch.addmm(c, a, matrix)
        return y.sigmoid_() if sigmoid else y

    return product


# Fused kernels for the derivatives of sigma and tanh, given their outputs s and y:
# _sigmoid_grad(grad, s) = grad ⊙ s (1 - s),  _tanh_grad(grad, y) = grad ⊙ (1 - y^2).
_sigmoid_grad = torch.ops.aten.sigmoid_backward
_tanh_grad = torch.ops.aten.tanh_backward


def _sum_biases(*biases):
    present = [b for b in biases if b is not None]
    return None if not present else sum(present[1:], present[0])


def _multiply_transposed(a, b):
    """``a^T @ b`` for a (N, M) and b (N, K), the weight gradients' sum over the N = T*B rows:
    oneDNN's inner product on the transposes read in place where :func:`_use_onednn` holds for
    the product (it returns the (K, M) result, so this is its transpose), else ``torch.mm``."""
    if _use_onednn(b, a.shape[1]):
        return torch.ops.mkldnn._linear_pointwise.default(b.t(), a.t(), None, "none", [], "").t()
    return torch.mm(a.t(), b)


def _tanh_as_sigmoid(weight, H):
    """``weight`` with the rows of the candidate g (the third of four blocks of H) doubled:
    then sigma(2a) comes out where tanh(a) = 2 sigma(2a) - 1 is wanted, so one sigmoid over
    all four gates replaces three calls (Eq. (4.1)-(4.4)), and the cell update takes
    i ⊙ (2 s - 1) = 2 i ⊙ s - i (Eq. (4.5))."""
    scale = weight.new_ones(4 * H, *([1] * (weight.dim() - 1)))
    scale[2 * H : 3 * H] = 2.0
    return weight * scale


class LSTMLayer(torch.autograd.Function):
    """One LSTM layer over a whole sequence, as one autograd node: Eq. (4.1)-(4.6) forward, BPTT
    by hand backward. Inputs as :func:`lstm_forward_fast`'s; outputs output, h_n, c_n."""

    @staticmethod
    def forward(ctx, x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr):
        T, B, I = x.shape  # noqa: E741 (the glossary's names)
        H, P = weight_hh.shape[0] // 4, weight_hh.shape[1]
        bias = _sum_biases(bias_ih, bias_hh)
        bias = None if bias is None else _tanh_as_sigmoid(bias, H)
        # Eq. (4.1)-(4.4) for all four gates are one product v_t W^T + b, v_t = [x_t, h_{t-1}]
        # and W = [W_ih, W_hh] with g's rows doubled (see _tanh_as_sigmoid), and oneDNN applies
        # the sigmoid as the product's post-op: gates holds (i, f, s, o) with g = 2 s - 1.
        # inputs holds every v_t; the loop writes h_t into v_{t+1}.
        inputs = x.new_empty(T, B, I + P)
        inputs[:, :, :I] = x
        inputs[0, :, I:] = h0
        step = _multiply_by(_tanh_as_sigmoid(torch.cat([weight_ih, weight_hh], 1), H).t(), B)
        project = None if weight_hr is None else _multiply_by(weight_hr.t(), B)  # (B, H) -> (B, P)
        gates = x.new_empty(T, B, 4 * H)
        output = x.new_empty(T, B, P)
        cells = x.new_empty(T + 1, B, H)  # c_0, c_1, ..., c_T
        cells[0] = c0
        tanh_cells = x.new_empty(T, B, H)
        hidden = output if project is None else x.new_empty(T, B, H)  # o ⊙ tanh(c) (B, H)
        # Per-step views, made once (a view costs as much as a small kernel).
        v, z, c, tc, m = (a.unbind(0) for a in (inputs, gates, cells, tanh_cells, hidden))
        h_next = inputs[1:, :, I:].unbind(0)  # where h_t goes: v_{t+1}'s h part, t < T - 1
        i, f, s, o = (gates[:, :, k * H : (k + 1) * H].unbind(0) for k in range(4))
        for t in range(T):
            z[t].copy_(step(v[t], bias, sigmoid=True))  # Eq. (4.1)-(4.4)
            torch.mul(f[t], c[t], out=c[t + 1]).addcmul_(i[t], s[t], value=2.0).sub_(i[t])  # (4.5)
            # Eq. (4.6) with tanh(c) = 2 sigma(2c) - 1 (on (B, H) tanh costs five sigmoids):
            # tc holds sigma(2c) until after the loop, and h = o + 2 o sigma(2c) - 2 o.
            sc = torch.mul(c[t + 1], 2.0, out=tc[t]).sigmoid_()
            h = torch.addcmul(o[t], o[t], sc, value=2.0, out=m[t]).sub_(o[t], alpha=2.0)
            if project is not None:
                h = project(h)  # (B, P)
                output[t] = h
            if t < T - 1:
                h_next[t].copy_(h)
        tanh_cells.mul_(2.0).sub_(1.0)  # sigma(2c) -> tanh(c)
        ctx.save_for_backward(
            inputs, weight_ih, weight_hh, weight_hr, gates, cells, tanh_cells, hidden
        )
        ctx.has_bias = (bias_ih is not None, bias_hh is not None)
        return output, output[-1].clone(), cells[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_output, d_h_n, d_c_n):
        inputs, weight_ih, weight_hh, weight_hr, gates, cells, tanh_cells, hidden = (
            ctx.saved_tensors
        )
        T, B = inputs.shape[:2]
        H, P, I = weight_hh.shape[0] // 4, weight_hh.shape[1], weight_ih.shape[1]  # noqa: E741
        i, f, s, o = gates.chunk(4, dim=2)  # (T, B, H) each
        g = s.mul(2.0).sub_(1.0)  # the stored sigma(2a) -> g = tanh(a); gates stays as saved
        # Local derivatives, for all t at once. With m_t = o_t ⊙ tanh(c_t) and dm its gradient,
        # dc_t += dm ⊙ o (1 - tanh^2 c_t), and the pre-activation gradients dz_t are
        # dz_i = dc ⊙ g i (1 - i), dz_f = dc ⊙ c_{t-1} f (1 - f), dz_g = dc ⊙ i (1 - g^2),
        # dz_o = dm ⊙ tanh(c_t) o (1 - o). d_gates holds the factors after dc and dm; the loop
        # multiplies them by dc_t and dm_t in place, which leaves dL/dz_t there.
        d_gates = gates.new_empty(T, B, 4, H)
        _sigmoid_grad(g, i, grad_input=d_gates[:, :, 0])
        _sigmoid_grad(cells[:-1], f, grad_input=d_gates[:, :, 1])
        _tanh_grad(i, g, grad_input=d_gates[:, :, 2])
        _sigmoid_grad(tanh_cells, o, grad_input=d_gates[:, :, 3])
        dc_per_dm = _tanh_grad(o, tanh_cells)  # (T, B, H)
        back = _multiply_by(weight_hh, B)  # dz (B, 4H) -> dh_{t-1} (B, P), + the output's
        project_back = None if weight_hr is None else _multiply_by(weight_hr, B)  # (B,P)->(B,H)
        d_h_totals = None if weight_hr is None else d_output.new_empty(T, B, P)
        dz_flat = d_gates.view(T, B, 4 * H).unbind(0)
        dz_ifg, dz_o = d_gates[:, :, :3].unbind(0), d_gates[:, :, 3].unbind(0)
        f_t, dc_dm, d_out = f.unbind(0), dc_per_dm.unbind(0), d_output.unbind(0)
        dh, dc = d_out[T - 1] + d_h_n, d_c_n  # all of dL/dh_T, dL/dc_T
        for t in reversed(range(T)):
            if project_back is None:
                dm = dh
            else:
                d_h_totals[t] = dh
                dm = project_back(dh)  # (B, H)
            dc = torch.addcmul(dc, dm, dc_dm[t])  # all of dL/dc_t
            dz_ifg[t].mul_(dc.unsqueeze(1))  # dz_i, dz_f, dz_g
            dz_o[t].mul_(dm)  # dz_o
            dc = dc * f_t[t]  # dL/dc_{t-1} through Eq. (4.5)
            # all of dL/dh_{t-1}: through Eq. (4.1)-(4.4), and from the output at t-1
            dh = back(dz_flat[t], add=d_out[t - 1] if t > 0 else None)

        # [dW_ih, dW_hh] = sum_t dz_t^T v_t with v_t = [x_t, h_{t-1}]: one product over all T*B
        # rows at once, dz's transpose read in place.
        dz_all = d_gates.view(T * B, 4 * H)
        d_x = d_weight_hr = None
        if ctx.needs_input_grad[0]:
            d_x = _multiply_by(weight_ih, T * B)(dz_all).view(T, B, I)
        d_weight = _multiply_transposed(dz_all, inputs.view(T * B, I + P))  # (4H, I + P)
        d_weight_ih, d_weight_hh = d_weight[:, :I], d_weight[:, I:]
        d_bias = torch.mv(dz_all.t(), dz_all.new_ones(T * B))  # (4H,); twice sum(0)'s speed
        if weight_hr is not None:
            d_weight_hr = torch.mm(d_h_totals.view(T * B, P).t(), hidden.view(T * B, H))  # (P, H)
        has_bias_ih, has_bias_hh = ctx.has_bias
        return (
            d_x,
            dh,
            dc,
            d_weight_ih,
            d_weight_hh,
            d_bias if has_bias_ih else None,
            d_bias if has_bias_hh else None,
            d_weight_hr,
        )


# ---------------------------------------------------------------------------------------------
# The GRU: the same recipe (hoisted input projection, one autograd node, local derivatives for
# all t at once, weight gradients as one product each) applied to Eq. (4.7)-(4.10).


class GRULayer(torch.autograd.Function):
    """One GRU layer over a whole sequence as one autograd node; outputs output, h_n."""

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih, bias_hh):
        T, B, I = x.shape  # noqa: E741 (the glossary's names)
        H = weight_hh.shape[1]
        # The input terms of Eq. (4.7)-(4.9) for all t at once: (T, B, 3H), blocks r, z, n.
        x_terms = _multiply_by(weight_ih.t(), T * B)(x.reshape(T * B, I), bias_ih)
        x_terms = x_terms.view(T, B, 3 * H)
        recurrent = _multiply_by(weight_hh.t(), B)  # h (B, H) -> (B, 3H)
        gates = x.new_empty(T, B, 3 * H)  # r, z, n after their nonlinearities
        h_n_terms = x.new_empty(T, B, H)  # h_{t-1} W_hn^T + b_hn, the reset product's factor
        output = x.new_empty(T, B, H)
        h = h0
        for t in range(T):
            h_terms = recurrent(h, bias_hh)  # (B, 3H)
            a = gates[t]  # (B, 3H)
            torch.add(x_terms[t, :, : 2 * H], h_terms[:, : 2 * H], out=a[:, : 2 * H]).sigmoid_()
            r, z, n = a.chunk(3, dim=1)  # Eq. (4.7), (4.8); n is filled next
            h_n_terms[t] = h_terms[:, 2 * H :]
            torch.addcmul(x_terms[t, :, 2 * H :], r, h_n_terms[t], out=n).tanh_()  # Eq. (4.9)
            h = torch.lerp(n, h, z, out=output[t])  # n + z ⊙ (h - n), Eq. (4.10)
        ctx.save_for_backward(x, h0, weight_ih, weight_hh, gates, h_n_terms, output)
        ctx.has_bias = (bias_ih is not None, bias_hh is not None)
        return output, output[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_output, d_h_n):
        x, h0, weight_ih, weight_hh, gates, h_n_terms, output = ctx.saved_tensors
        T, B, I = x.shape  # noqa: E741 (the glossary's names)
        H = weight_hh.shape[1]
        r, z, n = gates.chunk(3, dim=2)  # (T, B, H) each
        h_prev = torch.cat([h0.unsqueeze(0), output[:-1]])  # h_{t-1} for every t (T, B, H)
        # Every pre-activation gradient is dh_t ⊙ (a local factor); the factors for all t at once:
        # dz-pre = dh (h_{t-1} - n) z (1 - z); dn-pre = dh (1 - z)(1 - n^2);
        # dr-pre = dn-pre (h W_hn^T + b_hn) r (1 - r); d(h W_hn^T + b_hn) = dn-pre r.
        # The loop multiplies them by dh_t in place, which leaves the gradients there.
        d_x_terms = x.new_empty(T, B, 3, H)  # -> dL/d(x W_ih^T + b_ih), blocks r, z, n
        _tanh_grad(1 - z, n, grad_input=d_x_terms[:, :, 2])
        _sigmoid_grad(d_x_terms[:, :, 2] * h_n_terms, r, grad_input=d_x_terms[:, :, 0])
        _sigmoid_grad(h_prev - n, z, grad_input=d_x_terms[:, :, 1])
        d_h_terms = d_x_terms.clone()  # -> dL/d(h W_hh^T + b_hh): the same but for n's block
        d_h_terms[:, :, 2] *= r
        recurrent_back = _multiply_by(weight_hh, B)  # (B, 3H) -> (B, H)
        dx_t, dh_t, dh_flat = d_x_terms.unbind(0), d_h_terms.unbind(0), d_h_terms.view(T, B, 3 * H)
        z_t, d_out, dh_flat = z.unbind(0), d_output.unbind(0), dh_flat.unbind(0)
        dh = d_h_n
        for t in reversed(range(T)):
            dh = d_out[t] + dh  # all of dL/dh_t
            dx_t[t].mul_(dh.unsqueeze(1))
            dh_t[t].mul_(dh.unsqueeze(1))
            # dL/dh_{t-1}: through the gates, and directly through z ⊙ h_{t-1} in Eq. (4.10)
            dh = torch.addcmul(recurrent_back(dh_flat[t]), dh, z_t[t])

        d_x_all = d_x_terms.view(T * B, 3 * H)
        d_h_all = d_h_terms.view(T * B, 3 * H)
        d_x = None
        if ctx.needs_input_grad[0]:
            d_x = _multiply_by(weight_ih, T * B)(d_x_all).view(T, B, I)
        # dW = sum_t d_t^T v_t, one product each over all T*B rows (transposes read in place)
        d_weight_ih = _multiply_transposed(d_x_all, x.reshape(T * B, I))  # (3H, I)
        d_weight_hh = _multiply_transposed(d_h_all, h_prev.view(T * B, H))  # (3H, H)
        has_bias_ih, has_bias_hh = ctx.has_bias
        d_bias_ih = d_x_all.sum(0) if has_bias_ih else None
        d_bias_hh = d_h_all.sum(0) if has_bias_hh else None
        return d_x, dh, d_weight_ih, d_weight_hh, d_bias_ih, d_bias_hh
