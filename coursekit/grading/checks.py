"""Compare a student's function with its coursekit twin: values and gradients.

Two ways in, one comparison:

* :func:`check_function` runs in the notebook's own kernel. It is what the hidden test cells
  call, so plain ``nbgrader autograde`` works and an honest student gets the same marks
  everywhere. It is *not* a verdict one can trust: code in the same kernel can patch it.
* :func:`judge_notebook` is the verdict. It runs in the grader's process: it rebuilds the
  program from the instructor's source notebook and the student's answer cells, evaluates the
  graded functions in a fresh sandboxed process (:mod:`coursekit.grading.sandbox`) on inputs
  drawn here, and compares outputs and gradients with the reference here. Nothing the student
  can reach takes part in the decision (DESIGN.md, "trust nothing the student's kernel can
  reach").

Messages name the case, the output or gradient, the first mismatching index and both values.
A function that uses the implementation it should write (coursekit, or torch's RNN kernels)
fails with a message that says so.
"""

from __future__ import annotations

import inspect
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from coursekit.grading.evaluate import evaluate, is_leaf
from coursekit.grading.notebook import (
    graded_cells,
    read_notebook,
)
from coursekit.grading.outcomes import Problem, Status, bounded
from coursekit.grading.program import as_released, build_program, sources_reached
from coursekit.grading.sandbox import Call, run_sandbox
from coursekit.grading.specs import Case, FunctionSpec, spec_for
from coursekit.grading.static import RULE_KERNEL, find_forbidden, static_violations

__all__ = [
    "ReferenceUsed",
    "check_function",
    "compare_arrays",
    "judge_notebook",
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


def _reference_evaluation(spec: FunctionSpec, case: Case, generator: torch.Generator):
    """The reference's outputs and gradients, and the random cotangents drawn for them."""
    drawn: list[np.ndarray] = []

    def draw(shapes: list[tuple[int, ...] | None]) -> list[np.ndarray | None]:
        drawn.extend(
            None if s is None else torch.randn(s, generator=generator, dtype=torch.float64).numpy()
            for s in shapes
        )
        return drawn

    cotangents = draw if spec.gradients else None
    expected = evaluate(spec.reference_function(), case.args, case.kwargs, case.arrays, cotangents)
    return expected, (drawn if spec.gradients else None)


def _seeded(seed: int | None) -> tuple[int, torch.Generator]:
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
    seed, generator = _seeded(seed)
    for case in spec.make_cases(generator):
        expected, cotangents = _reference_evaluation(spec, case, generator)
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


# -- outside the kernel: the verdict ------------------------------------------------------------


@dataclass
class CellVerdict:
    grade_id: str
    max_points: float
    points: float
    functions: dict[str, str]  # function name -> "ok" or the reason it failed


@dataclass
class NotebookVerdict:
    status: str  # a Status value: "graded", "flagged", "timeout", "crashed", "invalid"
    cells: list[CellVerdict] = field(default_factory=list)
    seed: int = 0
    notes: list[str] = field(default_factory=list)
    reason: str = ""  # why, when the status is not "graded"
    problems: dict[str, Problem] = field(default_factory=dict)  # function -> why it lost points
    isolation: str = "bubblewrap"

    @property
    def points(self) -> float:
        return sum(c.points for c in self.cells)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.cells)

    @property
    def flagged(self) -> dict[str, str]:
        """function -> the rule it broke."""
        return {n: p.rule for n, p in self.problems.items() if p.kind == "flagged"}


def judge_notebook(
    submission_path: str | Path,
    source_path: str | Path,
    *,
    seed: int | None = None,
    total_timeout: float = 600.0,
    cell_timeout: float = 60.0,
    memory_bytes: int = 6 << 30,
    isolation: bool = True,
    release_path: str | Path | None = None,
) -> NotebookVerdict:
    """Grade a submission against the instructor's source notebook, outside any student kernel.

    Never raises for a faulty submission: an unreadable notebook, a crash or a timeout is a
    ``status`` and ``reason`` in the verdict and zero points for what could not be checked.
    With ``release_path`` (the notebook students received), a submission whose every answer
    cell is as released is ``blank`` and is not run.
    Raises :class:`~coursekit.grading.sandbox.SandboxUnavailable` when ``isolation`` is asked
    for and the OS sandbox cannot run here.
    """
    source = read_notebook(source_path)  # the instructor's: an error here is ours and should raise
    seed, generator = _seeded(seed)
    cells = graded_cells(source)
    verdict = NotebookVerdict(status=Status.GRADED.value, seed=seed)
    verdict.isolation = "bubblewrap" if isolation else "none"
    try:
        submission = read_notebook(submission_path)
    except ValueError as exc:
        verdict.status, verdict.reason = Status.INVALID.value, str(exc)
        verdict.cells = [CellVerdict(g, p, 0.0, dict.fromkeys(n, str(exc))) for g, p, n in cells]
        return verdict
    program, answers, verdict.notes = build_program(source, submission)
    if release_path is not None and as_released(answers, release_path):
        verdict.status = Status.BLANK.value
        verdict.reason = "every answer cell is as released: nothing was attempted"
        verdict.cells = [
            CellVerdict(g, p, 0.0, dict.fromkeys(n, "not attempted")) for g, p, n in cells
        ]
        return verdict

    calls, expected, problems = [], {}, {}
    for _, _, names in cells:
        for name in names:
            spec = spec_for(name)
            violations = static_violations(sources_reached(name, answers), spec)
            if violations:
                rule, found = next(iter(sorted(violations.items())))
                what = ", ".join(n for names_ in violations.values() for n in names_)
                message = f"uses {bounded(what, 300)}: write it yourself (rule: {rule})"
                problems[name] = Problem("flagged", message, rule)
                continue
            for i, case in enumerate(spec.make_cases(generator)):
                reference, cotangents = _reference_evaluation(spec, case, generator)
                call_id = f"{name}-{i}"
                expected[call_id] = (spec, case, reference)
                calls.append(
                    Call(
                        call_id,
                        name,
                        case.args,
                        case.kwargs,
                        case.arrays,
                        cotangents,
                        spec.forbidden_attributes,
                    )
                )

    result = run_sandbox(
        program,
        calls,
        cell_timeout=cell_timeout,
        call_timeout=cell_timeout,
        total_timeout=total_timeout,
        memory_bytes=memory_bytes,
        isolation=isolation,
    )
    if result.status != "ok":
        verdict.status = {
            "timeout": Status.TIMEOUT,
            "crashed": Status.CRASHED,
            "invalid": Status.INVALID,
        }[result.status].value
        verdict.reason = f"{result.status}: {result.reason}"
    for index, error in sorted(result.cell_errors.items()):
        last = error.strip().splitlines()[-1] if error.strip() else ""
        verdict.notes.append(f"cell {index} raised {last}")
    for call_id, (spec, case, reference) in expected.items():
        if spec.name in problems:
            continue
        if call_id in result.forbidden:
            message = f"calls {result.forbidden[call_id]}: write it yourself (rule: {RULE_KERNEL})"
            problems[spec.name] = Problem("flagged", message, RULE_KERNEL)
        elif call_id in result.errors:
            problems[spec.name] = Problem("error", f"case {case.label}: {result.errors[call_id]}")
        else:
            try:
                problem = compare_evaluations(spec, case, result.outputs[call_id], reference)
            except Exception as exc:  # noqa: BLE001 - hostile outputs: any failure is theirs
                problem = f"its results could not be compared ({type(exc).__name__})"
            if problem:
                problems[spec.name] = Problem("wrong", f"case {case.label}: {problem}")
    verdict.problems = problems
    if verdict.status == Status.GRADED.value and verdict.flagged:
        verdict.status = Status.FLAGGED.value
        verdict.reason = "; ".join(f"{n}: {problems[n].message}" for n in verdict.flagged)
    for grade_id, points, names in cells:
        functions = {n: problems[n].message if n in problems else "ok" for n in names}
        earned = points if all(n not in problems for n in names) else 0.0
        verdict.cells.append(CellVerdict(grade_id, points, earned, functions))
    return verdict
