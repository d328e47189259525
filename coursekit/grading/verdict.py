"""The verdict on a submission, made in the grader's process, outside any student kernel.

:func:`judge_notebook` rebuilds the program from the instructor's source notebook and the
student's answer cells (:mod:`coursekit.grading.program`), evaluates the graded functions in a
fresh sandboxed process (:mod:`coursekit.grading.sandbox`) on inputs drawn here, and compares
outputs and gradients with the reference here (:mod:`coursekit.grading.checks`). Nothing the
student can reach takes part in the decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from coursekit.grading.checks import compare_evaluations, reference_evaluation, seeded
from coursekit.grading.notebook import graded_cells, read_notebook
from coursekit.grading.outcomes import Problem, Status, bounded
from coursekit.grading.program import as_released, build_program, sources_reached
from coursekit.grading.sandbox import Call, run_sandbox
from coursekit.grading.specs import spec_for
from coursekit.grading.static import RULE_KERNEL, static_violations

__all__ = ["CellVerdict", "NotebookVerdict", "judge_notebook"]


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
    seed, generator = seeded(seed)
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
                reference, cotangents = reference_evaluation(spec, case, generator)
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
