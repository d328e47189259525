"""Grading specs for assignment 8, scheduled sampling: six functions of
coursekit.scheduled_sampling.

The schedules (Eqs. (8.2)-(8.4)) are compared as numbers at steps from 0 to past the point
where the linear floor binds, over random offsets, slopes, floors and k (the inverse sigmoid's k
from 1, where it starts at 1/2, to 2000); no gradients. ``decode`` (Eq. (8.1)) runs random
Elman decoders (an ``{"elman_step": ...}`` argument of :mod:`coursekit.grading.evaluate`: V up
to 7 tokens, H up to 5 units, weights large enough that the arg-max changes from step to step)
under teacher forcing, free running and p_true = 0.3, 0.5 and 0.8 with a seeded generator,
from no state and from a given one, with T = 1; its five outputs are compared (the fed ids,
the arg-max predictions and the coins exactly, as ids), and the gradient of the logits and
the final state with respect to every weight and the initial state. ``per_position_error``
(Eq. (8.5)) gets id tables with a known share of wrong entries (none, all, some);
``exposure_bias`` the decoders of ``decode``, one case with B = 128 from a given state of
scale 2: its curves are shares of the batch, and with B = 8 and a state of scale 1 a free
run started from no state instead of the given one left both curves unchanged on 3 of 10
seeds; with this case no state variant survived 600 seeds.

Tolerances: the default (rtol 1e-7, atol 1e-9). An honest answer computes the same formulas
in another order: ``k / (k + exp(i / k))`` against the reference's
``1 / (1 + exp(i / k - ln k))`` differs by at most 2.4e-15 relative, 5e-9 of the tolerance,
over 2000 random (i, k) with k in [1, 2000] and i / k <= 30 (the cases stay within that). The
fed ids depend on arg-maxes of continuous random logits, which two honest answers could only
order differently if two logits were within a few ulps of each other. Every wrong variant of
tests/grading/variants/scheduled_sampling.py fails its check on each of the seeds the tests
use (tests/grading/test_checks.py).
"""

from __future__ import annotations

import math

import torch

from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit

# (not "decode": a C method of that name, bytes.decode, may run inside torch or Python)
SS_FORBIDDEN = (
    "exposure_bias",
    "per_position_error",
    "linear_schedule",
    "exponential_schedule",
    "inverse_sigmoid_schedule",
    "choose_inputs",
)


def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))


def _linear_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, step in [("step 0", 0), ("step 37", 37), ("step 480", 480), ("step 5000", 5000)]:
        start, minimum = _uniform(g, 0.6, 1.0), _uniform(g, 0.0, 0.3)
        slope = _uniform(g, 5e-4, 2e-3)
        kwargs = {"start": lit(start), "slope": lit(slope), "minimum": lit(minimum)}
        cases.append(
            SpecBuilder(g).case(f"{label}, random start, slope, floor", [lit(step)], **kwargs)
        )
    kwargs = {"slope": lit(_uniform(g, 1e-3, 2e-3)), "minimum": lit(0.0)}
    cases.append(SpecBuilder(g).case("step 300, start left at 1, floor 0", [lit(300)], **kwargs))
    kwargs = {"start": lit(0.9), "slope": lit(0.0), "minimum": lit(0.1)}
    cases.append(SpecBuilder(g).case("slope 0 (a constant 0.9)", [lit(123)], **kwargs))
    return cases


def _exponential_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, step in [("step 0", 0), ("step 1", 1), ("step 64", 64), ("step 900", 900)]:
        k = _uniform(g, 0.99, 0.9999)
        cases.append(SpecBuilder(g).case(f"{label}, k in (0.99, 0.9999)", [lit(step)], k=lit(k)))
    k = _uniform(g, 0.2, 0.8)
    cases.append(SpecBuilder(g).case("step 5, k in (0.2, 0.8)", [lit(5)], k=lit(k)))
    return cases


def _inverse_sigmoid_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, low, high, step in [
        ("step 0, k in (10, 200)", 10.0, 200.0, 0),
        ("step 250, k in (10, 200)", 10.0, 200.0, 250),
        ("step 3000, k in (100, 2000)", 100.0, 2000.0, 3000),
        ("step 7, k in (1, 3)", 1.0, 3.0, 7),
    ]:
        k = _uniform(g, low, high)
        cases.append(SpecBuilder(g).case(label, [lit(step)], k=lit(k)))
    cases.append(SpecBuilder(g).case("step 0, k = 1 (starts at 1/2)", [lit(0)], k=lit(1.0)))
    return cases


def _decoder(b: SpecBuilder, vocab: int, hidden: int) -> dict:
    """An Elman decoder step whose arg-max moves: embedding and readout of scale 1.5."""
    return {
        "elman_step": [
            b.tensor(vocab, hidden, scale=1.5),
            b.tensor(hidden, hidden, scale=1.0 / math.sqrt(hidden)),
            b.tensor(vocab, hidden, scale=1.5),
            b.tensor(vocab, scale=0.5),
        ]
    }


def _decoding_case(g, label, batch, length, vocab, hidden, p_true, with_state) -> Case:
    b = SpecBuilder(g)
    step = _decoder(b, vocab, hidden)
    args = [step, b.ids(vocab, batch), b.ids(vocab, batch, length)]
    kwargs = {
        "p_true": lit(p_true),
        "state": b.tensor(batch, hidden) if with_state else lit(None),
        "generator": b.generator_argument(),
    }
    return b.case(label, args, **kwargs)


DECODE_SHAPES = [
    # label, B, T, V, H, p_true, a given state
    ("teacher forcing, B=4, T=6, V=5, H=3", 4, 6, 5, 3, 1.0, False),
    ("free running, B=5, T=7, V=6, H=4", 5, 7, 6, 4, 0.0, False),
    ("p_true=0.5, B=16, T=6, V=7, H=5", 16, 6, 7, 5, 0.5, False),
    ("p_true=0.3, B=12, T=5, V=6, H=4, a given state", 12, 5, 6, 4, 0.3, True),
    ("p_true=0.8, B=10, T=8, V=5, H=3", 10, 8, 5, 3, 0.8, False),
    ("free running, B=6, T=6, V=7, H=5, a given state", 6, 6, 7, 5, 0.0, True),
    ("p_true=0.5, B=1, T=1, V=4, H=2 (one step: no coin)", 1, 1, 4, 2, 0.5, False),
]


def _decode_cases(g: torch.Generator) -> list[Case]:
    return [_decoding_case(g, *shape) for shape in DECODE_SHAPES]


def _exposure_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, length, vocab, hidden, with_state in [
        ("B=20, T=6, V=5, H=4", 20, 6, 5, 4, False),
        ("B=8, T=5, V=7, H=5, a given state", 8, 5, 7, 5, True),
        ("B=128, T=6, V=5, H=4, a given state", 128, 6, 5, 4, True),
        ("B=1, T=1, V=4, H=2", 1, 1, 4, 2, False),
    ]:
        b = SpecBuilder(g)
        args = [
            _decoder(b, vocab, hidden),
            b.ids(vocab, batch),
            b.ids(vocab, batch, length),
        ]
        state = b.tensor(batch, hidden, scale=2.0) if with_state else lit(None)
        cases.append(b.case(label, args, state=state))
    return cases


def _error_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for label, batch, length, share in [
        ("B=8, T=5, about a third wrong", 8, 5, 1 / 3),
        ("B=3, T=4, none wrong", 3, 4, 0.0),
        ("B=5, T=2, all wrong", 5, 2, 1.0),
        ("B=1, T=6, half wrong", 1, 6, 0.5),
        ("B=10, T=1, about a fifth wrong", 10, 1, 0.2),
    ]:
        b = SpecBuilder(g)
        targets = torch.randint(9, (batch, length), generator=g)
        wrong = torch.rand(batch, length, generator=g) < share
        predictions = torch.where(wrong, (targets + 1) % 9, targets)
        args = [
            b.given(predictions.numpy(), dtype="int64"),
            b.given(targets.numpy(), dtype="int64"),
        ]
        cases.append(b.case(label, args))
    return cases


def _schedule(name: str, make_cases) -> FunctionSpec:
    return FunctionSpec(
        name,
        f"coursekit.scheduled_sampling:{name}",
        make_cases,
        SS_FORBIDDEN,
        gradients=False,
    )


FUNCTION_SPECS = [
    _schedule("linear_schedule", _linear_cases),
    _schedule("exponential_schedule", _exponential_cases),
    _schedule("inverse_sigmoid_schedule", _inverse_sigmoid_cases),
    FunctionSpec("decode", "coursekit.scheduled_sampling:decode", _decode_cases, SS_FORBIDDEN),
    FunctionSpec(
        "per_position_error",
        "coursekit.scheduled_sampling:per_position_error",
        _error_cases,
        SS_FORBIDDEN,
        gradients=False,
    ),
    FunctionSpec(
        "exposure_bias",
        "coursekit.scheduled_sampling:exposure_bias",
        _exposure_cases,
        SS_FORBIDDEN,
        gradients=False,
    ),
]
