"""Layer normalisation (层归一化, LayerNorm) and layer-normalised LSTM and GRU cells (chapter 7).

Read first: :func:`layer_norm` (Eq. (7.1)-(7.4), written out) and :func:`layer_norm_backward`
(its gradients by hand, Eq. (7.5)-(7.7)); :class:`LayerNorm` is ``torch.nn.LayerNorm``'s
contract. The layer-normalised LSTM and GRU of Ba, Kiros & Hinton (2016), Eq. (7.8)-(7.13),
are :mod:`coursekit.layernorm_rnn`.

Statistics are over the features of each example, never over the batch: unlike batch norm, a
step needs no other sequences and no running averages, so training and inference compute the
same thing, at every time step and for a batch of one. γ and β are shared by all steps.

Equations (over the last k dims of x, N = their number of elements; the mean and variance are
taken per leading index; row-vector convention, as torch writes it):

    (7.1)  mu = (1/N) sum_j x_j                                  mean
    (7.2)  sigma^2 = (1/N) sum_j (x_j - mu)^2                    biased variance
    (7.3)  x_hat = (x - mu) / sqrt(sigma^2 + eps)                eps inside the square root
    (7.4)  LN(x; γ, β) = γ ⊙ x_hat + β                           γ, β of normalized_shape
    backward, with g = dL/dy and s = 1/sqrt(sigma^2 + eps):
    (7.5)  dβ = sum over leading dims of g,   dγ = sum over leading dims of g ⊙ x_hat
    (7.6)  d_hat = g ⊙ γ
    (7.7)  dx = s (d_hat - mean(d_hat) - x_hat ⊙ mean(d_hat ⊙ x_hat))

Dimension glossary:

    T  time steps        B  batch size      I  input features     H  hidden size
    N  elements normalised together (prod(normalized_shape))      D  directions   L  layers

Tests: tests/test_layernorm.py compares :func:`layer_norm` and :class:`LayerNorm` with
torch.nn.functional.layer_norm / torch.nn.LayerNorm and the manual backward with autograd.
"""

from __future__ import annotations

from collections import namedtuple

import torch
from torch import nn

from coursekit._checks import check_nonnegative

__all__ = [
    "LayerNorm",
    "LayerNormCache",
    "layer_norm",
    "layer_norm_backward",
    "layer_norm_forward",
]

LayerNormCache = namedtuple("LayerNormCache", "x_hat rstd weight has_bias normalized_ndim")
LayerNormCache.__doc__ = """What the backward needs: x_hat, 1/sqrt(sigma^2 + eps) (kept dims),
γ or None, whether there is a β, and k = len(normalized_shape)."""


def _normalized_shape(normalized_shape) -> tuple[int, ...]:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or not all(isinstance(n, int) and n >= 1 for n in shape):
        raise ValueError(f"normalized_shape must be sizes >= 1; got {normalized_shape!r}")
    return shape


def layer_norm_forward(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """:func:`layer_norm` and the :class:`LayerNormCache` that :func:`layer_norm_backward` needs.

    x (..., *normalized_shape), weight and bias normalized_shape or None -> (y like x, cache).
    """
    shape = _normalized_shape(normalized_shape)
    if x.dim() < len(shape) or tuple(x.shape[x.dim() - len(shape) :]) != shape:
        raise ValueError(
            f"x must end in normalized_shape (..., {', '.join(map(str, shape))}); "
            f"got {tuple(x.shape)}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise ValueError(f"{name} must be normalized_shape {shape}; got {tuple(p.shape)}")
    dims = tuple(range(-len(shape), 0))
    mu = x.mean(dim=dims, keepdim=True)  # Eq. (7.1), (..., 1, ..., 1)
    var = (x - mu).square().mean(dim=dims, keepdim=True)  # Eq. (7.2), biased
    rstd = torch.rsqrt(var + eps)  # 1 / sqrt(sigma^2 + eps)
    x_hat = (x - mu) * rstd  # Eq. (7.3)
    y = x_hat if weight is None else x_hat * weight  # Eq. (7.4)
    y = y if bias is None else y + bias
    return y, LayerNormCache(x_hat, rstd, weight, bias is not None, len(shape))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation, Eq. (7.1)-(7.4), over the last len(normalized_shape) dims of x.

    Equal to ``torch.nn.functional.layer_norm`` in values and (autograd) gradients
    (test_layer_norm_matches_torch_functional).
    """
    return layer_norm_forward(x, normalized_shape, weight, bias, eps)[0]


def layer_norm_backward(grad_output, cache):
    """Eq. (7.5)-(7.7) by hand, no autograd: grad_output (like x), the forward's cache
    -> (dx like x, dweight or None, dbias or None). Equal to autograd through
    ``F.layer_norm`` (test_manual_backward_equals_autograd)."""
    x_hat, rstd, weight, has_bias, normalized_ndim = cache
    k = x_hat.dim() - normalized_ndim  # the leading (batch) dims
    dims = tuple(range(k, x_hat.dim()))

    def sum_leading(t):  # sum(dim=()) would sum over every dim
        return t.sum(dim=tuple(range(k))) if k else t

    dbias = sum_leading(grad_output) if has_bias else None  # Eq. (7.5)
    dweight = sum_leading(grad_output * x_hat) if weight is not None else None
    d_hat = grad_output if weight is None else grad_output * weight  # Eq. (7.6)
    mean_d = d_hat.mean(dim=dims, keepdim=True)
    mean_dx = (d_hat * x_hat).mean(dim=dims, keepdim=True)
    dx = rstd * (d_hat - mean_d - x_hat * mean_dx)  # Eq. (7.7)
    return dx, dweight, dbias


class LayerNorm(nn.Module):
    """Eq. (7.1)-(7.4) as a module with ``torch.nn.LayerNorm``'s contract: the same constructor,
    attributes, parameters ``weight`` (ones) and ``bias`` (zeros) of normalized_shape (None
    without elementwise_affine or bias), so state_dicts load both ways.
    forward(x (..., *normalized_shape)) -> like x. Proved by test_layer_norm_module_matches_torch.
    """

    def __init__(
        self,
        normalized_shape,
        eps=1e-5,
        elementwise_affine=True,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        check_nonnegative(eps=eps)
        self.normalized_shape = _normalized_shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        factory = {"device": device, "dtype": dtype}
        affine = {"weight": elementwise_affine, "bias": elementwise_affine and bias}
        for name, present in affine.items():
            p = nn.Parameter(torch.empty(self.normalized_shape, **factory)) if present else None
            self.register_parameter(name, p)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )
