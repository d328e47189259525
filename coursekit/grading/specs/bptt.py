"""Grading specs for assignment 3, backpropagation through time: ``elman_backward``
(coursekit.bptt) and ``truncated_bptt_gradients`` (coursekit.truncated_bptt).

Both return gradients, so their own gradients are not compared (``gradients=False``): the
values are. ``elman_backward`` is BPTT by hand, so calling autograd in it is calling an
implementation of what it asks for; ``truncated_bptt_gradients`` may use autograd or the
student's ``elman_backward``, as long as it truncates where BPTT(k1, k2) does.
"""

from __future__ import annotations

import torch

from coursekit.bptt import elman_forward
from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit

# -- chapter 3: backpropagation through time ------------------------------------------------

# autograd in every spelling: Tensor.backward, torch.autograd.grad, torch.func, and the
# engine call they all end in (caught by the in-kernel tripwire under any name)
BACKWARD_FORBIDDEN = (
    "backward",
    "grad",
    "autograd",
    "func",
    "vjp",
    "jacobian",
    "run_backward",
    "RNN",
    "RNNCell",
    "rnn_tanh",
    "rnn_relu",
    "_VF",
)
TRUNCATION_FORBIDDEN = ("stream_train", "truncated_bptt_step", "RNN", "rnn_tanh", "rnn_relu", "_VF")


def _array(b: SpecBuilder, name: str) -> torch.Tensor | None:
    return None if name is None else torch.from_numpy(b.arrays[name])


def _elman_backward_cases(g: torch.Generator) -> list[Case]:
    """The cache is built here, by the reference forward pass, and sent as a dict argument."""
    cases = []
    for label, steps, batch, inputs, hidden, nonlinearity, bias, grad_h_n in [
        ("T=5, B=3, I=4, H=5, tanh, grad_h_n", 5, 3, 4, 5, "tanh", True, True),
        ("T=1, B=1 (edge case), tanh", 1, 1, 3, 4, "tanh", True, True),
        ("T=6, B=2, relu, no bias, grad_h_n None", 6, 2, 3, 4, "relu", False, False),
        ("T=4, B=2, relu, grad_h_n", 4, 2, 2, 3, "relu", True, True),
        ("T=30, B=2 (long sequence), tanh, grad_h_n None", 30, 2, 3, 3, "tanh", True, False),
    ]:
        b = SpecBuilder(g)
        x, h0 = b.tensor(steps, batch, inputs, scale=1.5), b.tensor(batch, hidden)
        params = b.rnn_params(hidden, inputs, bias)
        names = ["x", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        cache = dict(zip(names, [x, h0, *params], strict=True))
        tensors = {k: _array(b, v.get("t")) for k, v in cache.items()}
        with torch.no_grad():
            output, _ = elman_forward(**tensors, nonlinearity=nonlinearity)
        b.arrays["output"] = output.numpy()
        cache.update(nonlinearity=lit(nonlinearity), output={"t": "output"})
        grad_output = b.tensor(steps, batch, hidden)
        grad_h_n_arg = b.tensor(batch, hidden) if grad_h_n else lit(None)
        cases.append(b.case(label, [grad_output, grad_h_n_arg, {"map": cache}]))
    return cases


def _truncated_bptt_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, steps, batch, k1, k2, nonlinearity, bias in [
        ("N=10, B=2, k1=2, k2=5 (overlapping windows)", 10, 2, 2, 5, "tanh", True),
        ("N=10, B=3, k1=3, k2=4 (short last update)", 10, 3, 3, 4, "tanh", True),
        ("N=9, B=2, k1=3, k2=3 (disjoint windows), relu", 9, 2, 3, 3, "relu", True),
        ("N=8, B=1, k1=1, k2=3 (an update every step), no bias", 8, 1, 1, 3, "tanh", False),
        ("N=6, B=2, k1=2, k2=20 (k2 longer than the stream)", 6, 2, 2, 20, "tanh", True),
        ("N=1, B=1 (edge case)", 1, 1, 1, 1, "tanh", True),
        ("N=12, B=2, k1=4, k2=6, relu, no bias", 12, 2, 4, 6, "relu", False),
    ]:
        inputs, hidden, outputs = 3, 4, 2
        b = SpecBuilder(g)
        x = b.tensor(steps, batch, inputs, scale=1.5)
        y = b.tensor(steps, batch, outputs)
        h0 = b.tensor(batch, hidden)
        readout = [b.tensor(outputs, hidden, scale=hidden**-0.5)]
        readout.append(b.tensor(outputs, scale=hidden**-0.5) if bias else lit(None))
        args = [x, y, h0, *b.rnn_params(hidden, inputs, bias), *readout, lit(k1), lit(k2)]
        cases.append(b.case(label, args, nonlinearity=lit(nonlinearity)))
    return cases


FUNCTION_SPECS = [
    FunctionSpec(
        "elman_backward",
        "coursekit.bptt:elman_backward",
        _elman_backward_cases,
        BACKWARD_FORBIDDEN,
        gradients=False,
    ),
    FunctionSpec(
        "truncated_bptt_gradients",
        "coursekit.truncated_bptt:truncated_bptt_gradients",
        _truncated_bptt_cases,
        TRUNCATION_FORBIDDEN,
        gradients=False,
    ),
]
