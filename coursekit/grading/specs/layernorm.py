"""Grading specs for assignment 7, layer normalisation: three functions of coursekit.layernorm
and coursekit.layernorm_rnn.

``layer_norm`` (Eq. (7.1)-(7.4)) is compared in values and gradients, on inputs of one and
two normalised dims, with and without γ and β, a batch of one, a single feature (x_hat = 0),
inputs far from zero mean and unit variance, and an eps large enough that putting it outside
the square root shows. ``layer_norm_backward`` (Eq. (7.5)-(7.7)) is a backward by hand: its
cache is built here by the reference forward pass and sent as a tuple, and only its values are
compared (``gradients=False``). ``layer_norm_lstm_step`` (Eq. (7.8)-(7.10)) gets torch's
LSTM init scale for the weights, γ around 1 and β around 0, and weights scaled up 10 times
in one case (which layer norm must undo).
"""

from __future__ import annotations

import torch

from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit
from coursekit.layernorm import layer_norm_forward

# -- chapter 7: layer normalisation -----------------------------------------------------------

# torch's normalisation layers and kernels (F.layer_norm, torch.native_layer_norm, ...)
LAYER_NORM_FORBIDDEN = (
    "layer_norm",
    "LayerNorm",
    "native_layer_norm",
    "group_norm",
    "GroupNorm",
    "batch_norm",
    "instance_norm",
    "layer_norm_forward",
)
# and, for the backward by hand, everything that differentiates for you
LAYER_NORM_BACKWARD_FORBIDDEN = (
    *LAYER_NORM_FORBIDDEN,
    "native_layer_norm_backward",
    "layer_norm_backward",
    "backward",
    "grad",
    "autograd",
    "func",
    "vjp",
    "jacobian",
    "run_backward",
)
LN_LSTM_FORBIDDEN = (*LAYER_NORM_FORBIDDEN, "LSTM", "LSTMCell", "lstm_cell", "lstm", "_VF")


def _gamma_beta(b: SpecBuilder, shape, affine: str = "both") -> list[dict]:
    """γ uniform in (0.5, 1.5) and β in (-0.5, 0.5), of `shape`; "weight": no β; "none": neither."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    gamma = torch.rand(shape, generator=b.generator, dtype=torch.float64) + 0.5
    weight = b.given(gamma.numpy()) if affine in ("both", "weight") else lit(None)
    bias = b.tensor(*shape, scale=0.5) if affine == "both" else lit(None)
    return [weight, bias]


def _x(b: SpecBuilder, shape, scale: float = 1.0) -> dict:
    """Uniform in (-scale, scale) plus 0.3 scale, so that the mean is not close to zero."""
    values = (torch.rand(shape, generator=b.generator, dtype=torch.float64) * 2 - 1) * scale
    return b.given((values + 0.3 * scale).numpy())


# label, x shape, normalized_shape (as the caller writes it), affine, x scale, eps
_FORWARD_GRID = [
    ("B=3, N=5", (3, 5), 5, "both", 1.0, None),
    ("T=4, B=2, H=6, normalized_shape [6]", (4, 2, 6), [6], "both", 1.0, None),
    ("(2, 3, 4) over the last two dims", (2, 3, 4), [3, 4], "both", 1.0, None),
    ("batch of 1", (1, 7), 7, "both", 1.0, None),
    ("no γ, no β", (3, 4), 4, "none", 1.0, None),
    ("γ but no β", (3, 4), 4, "weight", 1.0, None),
    ("eps = 0.1", (3, 4), 4, "both", 1.0, 0.1),
    ("one feature (x_hat = 0)", (4, 1), 1, "both", 1.0, None),
    ("badly scaled input (entries in the tens)", (3, 6), 6, "both", 50.0, None),
]


def _layer_norm_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, shape, normalized_shape, affine, scale, eps in _FORWARD_GRID:
        b = SpecBuilder(g)
        x = _x(b, shape, scale)
        weight, bias = _gamma_beta(b, normalized_shape, affine)
        args = [x, lit(normalized_shape), weight, bias] + ([] if eps is None else [lit(eps)])
        cases.append(b.case(label, args))
    return cases


def _layer_norm_backward_cases(g: torch.Generator) -> list[Case]:
    """The cache (x_hat, rstd, γ, has β, k) is built here by the reference forward pass."""
    cases = []
    for label, shape, normalized_shape, affine, scale, eps in _FORWARD_GRID:
        b = SpecBuilder(g)
        x = _x(b, shape, scale)
        weight, bias = _gamma_beta(b, normalized_shape, affine)
        tensors = [
            None if "lit" in a else torch.from_numpy(b.arrays[a["t"]]) for a in (x, weight, bias)
        ]
        y, cache = layer_norm_forward(
            tensors[0], normalized_shape, *tensors[1:], eps=1e-5 if eps is None else eps
        )
        b.arrays["x_hat"], b.arrays["rstd"] = cache.x_hat.numpy(), cache.rstd.numpy()
        cached = [{"t": "x_hat"}, {"t": "rstd"}, weight, lit(cache.has_bias)]
        cached.append(lit(cache.normalized_ndim))
        grad_output = b.tensor(*shape)
        cases.append(b.case(label, [grad_output, {"seq": cached}]))
    return cases


def _layer_norm_lstm_step_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, inputs, hidden, bias, cell_norm, weight_scale, eps in [
        ("B=3, I=4, H=5", 3, 4, 5, True, "both", 1.0, None),
        ("B=1, I=3, H=4 (batch of 1)", 1, 3, 4, True, "both", 1.0, None),
        ("B=2, I=6, H=3, no bias", 2, 6, 3, False, "both", 1.0, None),
        ("B=4, I=2, H=1 (one unit)", 4, 2, 1, True, "both", 1.0, None),
        ("B=2, I=3, H=4, cell norm without γ, β", 2, 3, 4, True, "none", 1.0, None),
        ("B=3, I=3, H=4, weights x10", 3, 3, 4, True, "both", 10.0, None),
        ("B=2, I=3, H=3, eps = 0.01", 2, 3, 3, True, "both", 1.0, 0.01),
    ]:
        b = SpecBuilder(g)
        x = b.tensor(batch, inputs, scale=1.5)
        state = {"seq": [b.tensor(batch, hidden, scale=1.5), b.tensor(batch, hidden, scale=2.0)]}
        params = b.rnn_params(hidden, inputs, bias, gates=4)
        for w in params[:2]:
            b.arrays[w["t"]] *= weight_scale
        norms = [
            {"seq": _gamma_beta(b, 4 * hidden)},
            {"seq": _gamma_beta(b, 4 * hidden)},
            {"seq": _gamma_beta(b, hidden, cell_norm)},
        ]
        args = [x, state, *params, *norms] + ([] if eps is None else [lit(eps)])
        cases.append(b.case(label, args))
    return cases


FUNCTION_SPECS = [
    FunctionSpec(
        "layer_norm", "coursekit.layernorm:layer_norm", _layer_norm_cases, LAYER_NORM_FORBIDDEN
    ),
    FunctionSpec(
        "layer_norm_backward",
        "coursekit.layernorm:layer_norm_backward",
        _layer_norm_backward_cases,
        LAYER_NORM_BACKWARD_FORBIDDEN,
        gradients=False,
    ),
    FunctionSpec(
        "layer_norm_lstm_step",
        "coursekit.layernorm_rnn:layer_norm_lstm_step",
        _layer_norm_lstm_step_cases,
        LN_LSTM_FORBIDDEN,
    ),
]
