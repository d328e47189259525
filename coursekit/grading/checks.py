"""Compare a student's function with its coursekit twin: values and gradients.

Two ways in, one comparison:

* :func:`check_function` runs in the notebook's own kernel. It is what the hidden test cells
  call, so plain ``nbgrader autograde`` works and an honest student gets the same marks
  everywhere. It is *not* a verdict one can trust: code in the same kernel can patch it.
* :func:`coursekit.grading.verdict.judge_notebook` is the verdict, made in the grader's
  process with the comparison of this module (DESIGN.md, "trust nothing the student's kernel
  can reach").

This module is imported by every hidden test cell, in every student's kernel, so it imports
only what the comparison needs: torch, numpy and the specs, never nbformat or nbgrader (whose
import costs more than the checks themselves; the import contract in pyproject.toml keeps it so).

Messages name the case, the output or gradient, the first mismatching index and both values.
A function that uses the implementation it should write (coursekit, or torch's RNN kernels)
fails with a message that says so.
"""

from __future__ import annotations

import inspect
import secrets
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from coursekit.grading.evaluate import evaluate, is_leaf
from coursekit.grading.specs import Case, FunctionSpec, spec_for
from coursekit.grading.static import find_forbidden

__all__ = [
    "ReferenceUsed",
    "check_function",
    "compare_arrays",
    "compare_evaluations",
    "reference_evaluation",
    "seeded",
]


class ReferenceUsed(AssertionError):
    """The submission called the implementation it was asked to write."""


# -- comparison ------------------------------------------------------------------------------


def compare_arrays(
    what: str, got: np.ndarray, expected: np.ndarray, rtol: float, atol: float
) -> str | None:
    """None when equal within tolerance, else a message with the first mismatching index."""
    got = np.asarray(got)
    if got.shape != expected.shape:
        return f"{what} has shape {tuple(got.shape)}; expected {tuple(expected.shape)}"
    # nan where the reference has nan (a non-finite gradient, say) counts as equal
    close = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got - expected)[~close]
    finite = diff[np.isfinite(diff)]
    worst = float(finite.max()) if finite.size else float("nan")
    return (
        f"{what} differs at index {index}: got {got[index]:.6g}, expected {expected[index]:.6g} "
        f"({int((~close).sum())} of {close.size} entries differ; max |diff| {worst:.3g})"
    )


def _describe_leaves(case: Case) -> list[str]:
    """Human names of the differentiable leaves, in the order evaluate() collects them."""
    names: list[str] = []

    def walk(spec: Any, label: str) -> None:
        if "t" in spec:
            if is_leaf(spec):
                names.append(label)
        elif "seq" in spec:
            for i, item in enumerate(spec["seq"]):
                walk(item, f"{label}[{i}]")
        elif "map" in spec:
            for key, item in spec["map"].items():
                walk(item, f"{label}[{key!r}]")
        elif "elman_step" in spec or "elman_log_step" in spec:
            weights = spec.get("elman_step", spec.get("elman_log_step"))
            for name, item in zip(("E", "W", "U", "c"), weights, strict=True):
                walk(item, f"{label} (the decoder's {name})")

    for i, arg in enumerate(case.args):
        walk(arg, f"argument {i}")
    for key, arg in case.kwargs.items():
        walk(arg, key)
    return names


def compare_evaluations(
    spec: FunctionSpec, case: Case, got: dict[str, np.ndarray], expected: dict[str, np.ndarray]
) -> str | None:
    """Compare outputs first, then the gradient with respect to every input (or ``spec.compare``)."""
    if spec.compare is not None:
        return spec.compare(case, got, expected)
    leaves = _describe_leaves(case)
    if int(got.get("n", -1)) != int(expected["n"]):
        return f"returned {int(got.get('n', -1))} output(s); expected {int(expected['n'])}"
    for key in sorted(k for k in expected if k.startswith("o")):
        if key not in got:
            return f"output {key[1:]} is missing"
        problem = compare_arrays(f"output {key[1:]}", got[key], expected[key], spec.rtol, spec.atol)
        if problem:
            return problem
    for key in sorted(k for k in expected if k.startswith("g")):
        what = f"the gradient with respect to {leaves[int(key[1:])]}"
        if key not in got:
            return f"no gradient reaches {leaves[int(key[1:])]} (is the computation detached?)"
        problem = compare_arrays(what, got[key], expected[key], spec.rtol, spec.atol)
        if problem:
            return problem
    return None


_DEFAULT_DTYPE_LOCK = threading.Lock()


def reference_evaluation(spec: FunctionSpec, case: Case, generator: torch.Generator):
    """The reference's outputs and gradients, and the random cotangents drawn for them.

    The reference runs under float64 as torch's default dtype, as the student's function does
    (every assignment's setup cell sets it), whatever this process's default: what a function
    draws from a generator (``torch.rand`` of the default dtype, say chapter 8's coins) depends
    on it."""
    drawn: list[np.ndarray] = []

    def draw(shapes: list[tuple[int, ...] | None]) -> list[np.ndarray | None]:
        drawn.extend(
            None if s is None else torch.randn(s, generator=generator, dtype=torch.float64).numpy()
            for s in shapes
        )
        return drawn

    cotangents = draw if spec.gradients else None
    # The default dtype is global to the process and `coursekit grade` runs submissions in
    # threads: without the lock, two overlapping evaluations could restore each other's float64
    # and leave it as the process default.
    with _DEFAULT_DTYPE_LOCK:
        dtype = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            expected = evaluate(
                spec.reference_function(), case.args, case.kwargs, case.arrays, cotangents
            )
        finally:
            torch.set_default_dtype(dtype)
    return expected, (drawn if spec.gradients else None)


def seeded(seed: int | None) -> tuple[int, torch.Generator]:
    seed = secrets.randbits(63) if seed is None else seed
    return seed, torch.Generator().manual_seed(seed)


def _function_sources(fn: Any) -> str:
    """The source of ``fn`` and of the functions it reaches through its globals."""
    seen, sources, todo = set(), [], [fn]
    while todo:
        f = todo.pop()
        code = getattr(f, "__code__", None)
        if code is None or code in seen:
            continue
        seen.add(code)
        try:
            sources.append(inspect.getsource(f))
        except (OSError, TypeError):
            pass
        names = set(code.co_names)
        for const in code.co_consts:
            if inspect.iscode(const):
                names |= set(const.co_names)
        todo += [f.__globals__[n] for n in names if inspect.isfunction(f.__globals__.get(n))]
    return "\n".join(sources)


class _ReferenceTripwire:
    """A profiler that notices calls into coursekit's models or torch's RNN kernels."""

    def __init__(self, spec: FunctionSpec):
        self.grading = str(Path(__file__).resolve().parent)
        self.package = str(Path(self.grading).parent)  # coursekit
        self.builtins = set(spec.forbidden_attributes)
        self.hit: str | None = None

    def __call__(self, frame, event, arg):
        if self.hit:
            return
        if event == "call":
            filename = frame.f_code.co_filename
            if filename.startswith(self.package) and not filename.startswith(self.grading):
                self.hit = f"{frame.f_code.co_name} in {Path(filename).name}"
            elif filename.endswith("torch/nn/modules/rnn.py"):
                self.hit = f"torch.nn.{frame.f_code.co_name}"
        elif event == "c_call" and getattr(arg, "__name__", "") in self.builtins:
            self.hit = f"torch's {arg.__name__}"


# -- in the kernel ------------------------------------------------------------------------------


def check_function(name: str, fn: Any, seed: int | None = None) -> None:
    """Raise ``AssertionError`` unless ``fn`` equals coursekit's ``name`` on every case.

    Called by the hidden test cells. Cases are random float64 inputs drawn from ``seed``
    (a fresh seed when None, so answers cannot be tabulated in advance).
    """
    spec = spec_for(name)
    if not callable(fn):
        raise AssertionError(f"{name} is not a function (got {type(fn).__name__})")
    forbidden = find_forbidden(_function_sources(fn), spec)
    if forbidden:
        raise ReferenceUsed(
            f"{name} uses {', '.join(forbidden)}: implement it yourself instead of calling an implementation"
        )
    seed, generator = seeded(seed)
    for case in spec.make_cases(generator):
        expected, cotangents = reference_evaluation(spec, case, generator)
        tripwire = _ReferenceTripwire(spec)
        previous = sys.getprofile()
        sys.setprofile(tripwire)
        try:
            got = evaluate(fn, case.args, case.kwargs, case.arrays, cotangents)
        except Exception as exc:
            raise AssertionError(
                f"{name}, case {case.label}: raised {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            sys.setprofile(previous)
        if tripwire.hit:
            raise ReferenceUsed(f"{name} calls {tripwire.hit}: implement it yourself")
        problem = compare_evaluations(spec, case, got, expected)
        if problem:
            raise AssertionError(f"{name}, case {case.label}: {problem} [seed {seed}]")
