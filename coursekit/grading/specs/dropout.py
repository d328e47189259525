"""Grading specs for assignment 6, dropout for recurrent networks: three functions of
coursekit.dropout.

``dropout_lstm_cell_step`` is deterministic given its masks: its values and the gradients with
respect to every float input (the masks too) are compared with the reference. The two others
draw at random, so they are judged by the distribution of their draws, as chapter 1's sampler
is (:mod:`coursekit.grading.specs.language_models`): a correct answer may use ``bernoulli_``,
``torch.rand(...) < 1 - p`` or anything else that draws independent Bernoulli entries.

``locked_dropout_mask(shape, p, generator)`` (Eq. (6.1), (6.2)) is judged by
:func:`compare_mask`: the shape; every entry 0 or 1 / (1 - p); the fraction kept within six
standard errors ``6 sqrt(p (1 - p) / n)`` of 1 - p; and independence between neighbouring rows
(sequences) and neighbouring columns (features): the fraction of entries that agree with their
neighbour within six standard errors of (1 - p)^2 + p^2. With n >= 12 000 entries per
statistic a correct answer fails one such test with probability about 2e-9 (the normal tail
beyond six standard errors; the binomial tail is of the same order at these n), so the four
tests of a case and the cases together fail a correct answer with probability below 1e-7.

``locked_dropout(x, p, mask, training, batch_first, generator)`` is compared element-wise (values
and gradients) where the case gives the mask or turns dropout off (eval, p = 0), and by
:func:`compare_locked` where it draws: the ratio output / x (x is kept away from 0) must be one
mask, the same at every time step, whose entries pass :func:`compare_mask`'s tests.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from coursekit.grading.specs import Case, FunctionSpec, SpecBuilder, lit
from coursekit.grading.specs.lstm import LSTM_FORBIDDEN

# -- chapter 6: dropout for recurrent networks ----------------------------------------------

DROPOUT_FORBIDDEN = (
    "dropout",
    "dropout_",
    "Dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "native_dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "LockedDropout",
    "DropoutLSTM",
)

SIGMAS = 6.0  # the allowance of every frequency test, in standard errors


def _frequency_problem(what: str, hits: np.ndarray, expected: float) -> str | None:
    """None when the mean of the 0/1 array ``hits`` is within SIGMAS standard errors of
    ``expected`` (a binomial proportion), else a message."""
    n = hits.size
    if n == 0:
        return None
    allowance = SIGMAS * np.sqrt(expected * (1 - expected) / n) + 1e-12
    frequency = float(hits.mean())
    if abs(frequency - expected) > allowance:
        return (
            f"{what} is {frequency:.4f} over {n} entries; expected {expected:.4f} "
            f"(allowed ±{allowance:.4f})"
        )
    return None


def mask_problem(mask: np.ndarray, p: float) -> str | None:
    """What is wrong with a drawn (B, F) inverted dropout mask of rate p, or None."""
    scale = 1.0 / (1.0 - p)
    kept = np.isclose(mask, scale, rtol=1e-6, atol=0)
    bad = ~(kept | (mask == 0))
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        return (
            f"entry {index} is {mask[index]:.6g}; every entry of the mask is 0 (dropped) or "
            f"1 / (1 - p) = {scale:.6g} (kept), Eq. (6.1)"
        )
    problem = _frequency_problem("the fraction of entries kept", kept, 1 - p)
    if problem:
        return problem
    agree = (1 - p) ** 2 + p**2
    for axis, what in ((0, "sequences (rows)"), (1, "features (columns)")):
        if mask.shape[axis] < 2:
            continue
        first = np.take(kept, range(mask.shape[axis] - 1), axis=axis)
        second = np.take(kept, range(1, mask.shape[axis]), axis=axis)
        problem = _frequency_problem(
            f"the fraction of neighbouring {what} that agree (kept or dropped alike)",
            first == second,
            agree,
        )
        if problem:
            return problem + "; the entries must be independent"
    return None


def _literal(case: Case, name: str, position: int, default):
    if name in case.kwargs:
        return case.kwargs[name]["lit"]
    if len(case.args) > position:
        return case.args[position]["lit"]
    return default


def _one_output(got: dict, shape: tuple) -> tuple[np.ndarray | None, str | None]:
    if int(got.get("n", -1)) != 1 or "o0" not in got:
        return None, f"returned {int(got.get('n', -1))} output(s); expected one tensor"
    out = np.asarray(got["o0"])
    if out.shape != tuple(shape):
        return None, f"the output has shape {tuple(out.shape)}; expected {tuple(shape)}"
    return out, None


def compare_mask(case: Case, got: dict, expected: dict) -> str | None:
    """Judge ``locked_dropout_mask``'s draw by its distribution (see the module doc)."""
    shape = tuple(_literal(case, "shape", 0, None))
    p = _literal(case, "p", 1, None)
    mask, problem = _one_output(got, shape)
    return problem or mask_problem(mask, p)


def compare_locked(case: Case, got: dict, expected: dict) -> str | None:
    """Element-wise where the case fixes the answer; by the drawn mask's distribution where
    ``locked_dropout`` draws (a generator and no mask, in training, p > 0)."""
    if "generator" not in case.kwargs:
        from coursekit.grading.checks import compare_evaluations  # checks imports specs

        return compare_evaluations(LOCKED_DROPOUT_EXACT, case, got, expected)
    x = case.arrays[case.args[0]["t"]]
    p = _literal(case, "p", 1, None)
    batch_first = _literal(case, "batch_first", 4, False)
    out, problem = _one_output(got, x.shape)
    if problem:
        return problem
    ratio = out / x  # x is at least 0.5 in size
    if batch_first:
        ratio = ratio.transpose(1, 0, 2)  # (T, B, F)
    changed = ~np.isclose(ratio, ratio[0], rtol=1e-6, atol=0)
    if changed.any():
        t, b, f = (int(i) for i in np.argwhere(changed)[0])
        return (
            f"the mask differs between time steps 0 and {t} (sequence {b}, feature {f}): "
            f"locked dropout uses one mask (B, F) at every step, Eq. (6.2)"
        )
    return mask_problem(ratio[0], p)


def _mask(b: SpecBuilder, shape: tuple, p: float) -> dict:
    """A given inverted mask (0 or 1 / (1 - p)), drawn from the case's generator."""
    kept = torch.rand(shape, generator=b.generator, dtype=torch.float64) >= p
    return b.given((kept.double() / (1 - p)).numpy())


def _away_from_zero(b: SpecBuilder, shape: tuple) -> dict:
    """Values in ±[0.5, 1.5): a ratio output / x reads the mask exactly."""
    size = torch.rand(shape, generator=b.generator, dtype=torch.float64) + 0.5
    sign = torch.randint(0, 2, shape, generator=b.generator).double() * 2 - 1
    return b.given((size * sign).numpy())


def _locked_dropout_mask_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for shape, p in [
        ((300, 200), 0.5),
        ((200, 150), 0.2),
        ((150, 160), 0.7),
        ((1, 24_000), 0.4),
        ((24_000, 1), 0.3),
        ((5, 7), 0.0),
    ]:
        b = SpecBuilder(g)
        label = f"(B, F) = {shape}, p = {p}, a seeded generator"
        cases.append(b.case(label, [lit(list(shape)), lit(p)], generator=b.generator_argument()))
    return cases


def _locked_dropout_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for T, B, F, p, batch_first in [
        (5, 3, 4, 0.5, False),
        (1, 2, 3, 0.3, False),
        (4, 1, 6, 0.6, False),
        (6, 3, 5, 0.25, True),
    ]:
        b = SpecBuilder(g)
        shape = (B, T, F) if batch_first else (T, B, F)
        x, mask = b.tensor(*shape), _mask(b, (B, F), p)
        label = f"x {shape}, batch_first={batch_first}, p = {p}, a given mask (B, F)"
        kwargs = {"batch_first": lit(True)} if batch_first else {}
        cases.append(b.case(label, [x, lit(p), mask], **kwargs))
    b = SpecBuilder(g)
    x, mask = b.tensor(4, 3, 5), _mask(b, (3, 5), 0.5)
    label = "x (4, 3, 5), p = 0.5, a given mask, training=False: the identity"
    cases.append(b.case(label, [x, lit(0.5), mask], training=lit(False)))
    b = SpecBuilder(g)
    label = "x (4, 3, 5), p = 0.5, no mask, training=False: the identity"
    cases.append(b.case(label, [b.tensor(4, 3, 5), lit(0.5)], training=lit(False)))
    b = SpecBuilder(g)
    label = "x (3, 2, 4), p = 0: the identity"
    cases.append(b.case(label, [b.tensor(3, 2, 4), lit(0.0)]))
    for shape, p, batch_first in [((6, 200, 80), 0.5, False), ((120, 5, 100), 0.3, True)]:
        b = SpecBuilder(g)
        kwargs = {"generator": b.generator_argument()}
        if batch_first:
            kwargs["batch_first"] = lit(True)
        label = f"x {shape}, batch_first={batch_first}, p = {p}, masks drawn from a generator"
        cases.append(b.case(label, [_away_from_zero(b, shape), lit(p)], **kwargs))
    return cases


def _dropout_lstm_cell_step_cases(g: torch.Generator) -> list[Case]:
    cases = []
    for B, I, H, bias, masked in [  # noqa: E741
        (3, 4, 5, True, "both"),
        (2, 3, 3, True, "both"),  # I = H: swapped masks have the right shapes
        (1, 6, 4, True, "both"),
        (4, 2, 3, False, "both"),
        (3, 5, 4, True, "input"),
        (3, 4, 6, True, "state"),
        (2, 3, 4, True, "neither"),
    ]:
        b = SpecBuilder(g)
        x, h, c = b.tensor(B, I), b.tensor(B, H), b.tensor(B, H)
        weights = b.rnn_params(H, I, bias, gates=4)
        kwargs = {}
        if masked in ("input", "both"):
            kwargs["input_mask"] = _mask(b, (B, I), 0.4)
        if masked in ("state", "both"):
            kwargs["state_mask"] = _mask(b, (B, H), 0.3)
        label = f"(B, I, H) = ({B}, {I}, {H}), bias={bias}, masks: {masked}"
        cases.append(b.case(label, [x, {"seq": [h, c]}, *weights], **kwargs))
    return cases


LOCKED_DROPOUT_EXACT = FunctionSpec(
    "locked_dropout",
    "coursekit.dropout:locked_dropout",
    _locked_dropout_cases,
    DROPOUT_FORBIDDEN,
)

FUNCTION_SPECS = [
    FunctionSpec(
        "locked_dropout_mask",
        "coursekit.dropout:locked_dropout_mask",
        _locked_dropout_mask_cases,
        DROPOUT_FORBIDDEN,
        gradients=False,
        compare=compare_mask,
    ),
    dataclasses.replace(LOCKED_DROPOUT_EXACT, compare=compare_locked),
    FunctionSpec(
        "dropout_lstm_cell_step",
        "coursekit.dropout:dropout_lstm_cell_step",
        _dropout_lstm_cell_step_cases,
        DROPOUT_FORBIDDEN + LSTM_FORBIDDEN,
    ),
]
