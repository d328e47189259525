"""The program a verdict runs: the instructor's notebook with the student's answer cells.

:func:`build_program` takes every code cell of the source except the tests, each answer cell
from the submission (locked cells always from the source, so editing or deleting them changes
nothing); :func:`sources_reached` is the part of the answers a graded function can reach (what
the static rules read); :func:`as_released` tells a submission that attempted nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from coursekit.grading.notebook import (
    answer_cells,
    is_answer,
    is_hidden_test,
    is_visible_test,
    nbgrader_metadata,
    read_notebook,
)

__all__ = ["as_released", "build_program", "sources_reached"]


def build_program(
    source: nbformat.NotebookNode, submission: nbformat.NotebookNode
) -> tuple[list[str], dict[str, str], list[str]]:
    """The cells to run: the source's code cells with each answer cell taken from the submission.

    Test cells, hidden and visible (:mod:`coursekit.grading.notebook`), are left out: the
    verdict comes from here, not from them. Locked cells come from the source, so editing or
    deleting them changes nothing. Returns the cells, the
    answer cells by grade id, and notes for the feedback.
    """
    answers = answer_cells(submission)
    cells, used, notes = [], {}, []
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        if is_answer(cell):
            grade_id = nbgrader_metadata(cell)["grade_id"]
            if grade_id not in answers:
                notes.append(f"answer cell {grade_id!r} is missing from the submission")
            used[grade_id] = answers.get(grade_id, "")
            cells.append(used[grade_id])
        elif not is_hidden_test(cell) and not is_visible_test(cell):
            cells.append(cell.source)
    return cells, used, notes


def _defines(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def sources_reached(name: str, answers: dict[str, str]) -> str:
    """The answer cells that define ``name`` and, transitively, the names it uses.

    Answer cells that define nothing a graded function could use (top-level code only) are
    included for every function: what they run may change what the functions see."""
    definers = {n: src for src in answers.values() for n in _defines(src)}
    seen, todo = set(), [name]
    sources = [src for src in answers.values() if src.strip() and not _defines(src)]
    while todo:
        current = todo.pop()
        src = definers.get(current)
        if src is None or src in sources:
            continue
        sources.append(src)
        try:
            used = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
        except (SyntaxError, RecursionError, ValueError):
            used = set()
        todo += [n for n in used - seen if n in definers]
        seen |= used
    return "\n".join(sources)


def as_released(answers: dict[str, str], release_path: str | Path) -> bool:
    """Whether every answer cell is the released one (whitespace aside)."""
    released = answer_cells(read_notebook(release_path))
    return all(
        answers.get(grade_id, "").split() == text.split() for grade_id, text in released.items()
    )
