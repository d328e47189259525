"""Grading specs for assignment 5, gradient clipping: two functions of coursekit.clipping.

Both are pure functions of gradients (no autograd through them), so only their values are
compared (``gradients=False``). The cases cover many parameter sets (a 0-dim tensor among
them), the norm types 2, 1, inf and 3, ``max_norm`` above, at and below the total norm, zero
gradients, and non-finite gradients (nan, ±inf), where the reference does what torch does.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit

# -- chapter 5: gradient clipping -----------------------------------------------------------

CLIPPING_FORBIDDEN = (
    "clip_grad_norm_",
    "clip_grad_norm",
    "clip_grads_with_norm_",
    "get_total_norm",
    "clip_grads_by_norm",
    "clip_coefficient",
    "_foreach_norm",
    "_foreach_mul_",
    "_foreach_mul",
)

NORM_TYPES = (2.0, 1.0, math.inf, 3.0)
SHAPES = [(), (5,), (3, 4), (2, 3, 2), (7, 1), (1,)]


def _total_norm(arrays: list[np.ndarray], norm_type: float) -> float:
    flat = np.concatenate([a.reshape(-1) for a in arrays])
    if norm_type == math.inf:
        return float(np.abs(flat).max())
    return float((np.abs(flat) ** norm_type).sum() ** (1 / norm_type))


def _gradient_list(b: SpecBuilder, count: int) -> list[dict]:
    """``count`` gradients of the shapes above, each of a random order of magnitude."""
    grads = []
    for shape in SHAPES[:count]:
        exponent = int(torch.randint(-2, 3, (), generator=b.generator))
        grads.append(b.tensor(*shape, scale=10.0**exponent))
    return grads


def _clip_grads_by_norm_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for k, norm_type in enumerate(NORM_TYPES):
        for factor, what in [(0.2, "clips"), (5.0, "leaves alone")]:
            b = SpecBuilder(g)
            grads = _gradient_list(b, 3 + (k + int(factor > 1)) % 4)
            total = _total_norm([b.arrays[a["t"]] for a in grads], norm_type)
            label = (
                f"{len(grads)} tensors, norm_type={norm_type}, max_norm {factor} x total ({what})"
            )
            cases.append(b.case(label, [{"seq": grads}, lit(factor * total), lit(norm_type)]))
    b = SpecBuilder(g)
    grads = _gradient_list(b, 4)
    total = _total_norm([b.arrays[a["t"]] for a in grads], 2.0)
    cases.append(b.case("max_norm equal to the total norm", [{"seq": grads}, lit(total)]))
    b = SpecBuilder(g)
    cases.append(b.case("one tensor, default norm_type", [{"seq": [b.tensor(4, 3)]}, lit(0.1)]))
    b = SpecBuilder(g)
    zeros = [b.given(np.zeros(shape)) for shape in SHAPES[:3]]
    cases.append(b.case("zero gradients", [{"seq": zeros}, lit(1.0), lit(2.0)]))
    # non-finite gradients: the reference's outputs hold nan, compared as equal where expected
    for bad, norm_type in [
        (math.nan, 2.0),
        (math.inf, 2.0),
        (-math.inf, 1.0),
        (math.inf, math.inf),
    ]:
        b = SpecBuilder(g)
        grads = _gradient_list(b, 3)
        b.arrays[grads[2]["t"]][0, 1] = bad
        label = f"a non-finite gradient ({bad}), norm_type={norm_type}"
        cases.append(b.case(label, [{"seq": grads}, lit(1.0), lit(norm_type)]))
    return cases


def _clip_coefficient_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, total, max_norm in [
        ("total above max_norm", 10.0, 1.0),
        ("total below max_norm (capped at 1)", 0.5, 1.0),
        ("total equal to max_norm", 2.0, 2.0),
        ("zero total", 0.0, 2.0),
        ("small total above max_norm", 1e-3, 1e-4),
        ("small total below max_norm", 1e-4, 1e-3),
        ("infinite total", math.inf, 1.0),
    ]:
        b = SpecBuilder(g)
        cases.append(b.case(label, [b.given(total), lit(max_norm)]))
    for i in range(3):  # random totals around max_norm
        b = SpecBuilder(g)
        total = float(torch.rand((), generator=g, dtype=torch.float64)) * 4
        max_norm = float(torch.rand((), generator=g, dtype=torch.float64)) * 4 + 1e-3
        cases.append(b.case(f"random total {i + 1}", [b.given(total), lit(max_norm)]))
    b = SpecBuilder(g)
    cases.append(b.case("nan total", [b.given(math.nan), lit(1.0)]))
    return cases


FUNCTION_SPECS = [
    FunctionSpec(
        "clip_coefficient",
        "coursekit.clipping:clip_coefficient",
        _clip_coefficient_cases,
        CLIPPING_FORBIDDEN,
        gradients=False,
    ),
    FunctionSpec(
        "clip_grads_by_norm",
        "coursekit.clipping:clip_grads_by_norm",
        _clip_grads_by_norm_cases,
        CLIPPING_FORBIDDEN,
        gradients=False,
    ),
]
