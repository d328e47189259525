"""nbgrader's notebook conventions, in one place.

What a cell is (an answer, a visible test, a hidden test, anything else), the grade-id rules,
how a notebook is read without trusting it, and the marker text: the checks build the program
from these, the feedback page shows them, ``coursekit grade`` takes the points from them, and
the tests use them to fill in and take apart notebooks. Nothing else in the course looks at
nbgrader metadata or marker lines.

The course's rules, on top of nbgrader's:

* an **answer** cell is a code cell with ``solution: true``; its grade id is the name of the
  function it defines (``rnn_cell_step``);
* its **visible tests** follow in a read-only cell with grade id ``<name>_visible`` that is not
  a grade cell (the student runs it; it carries no points); a read-only demo that calls the
  student's functions (assignment 9's ``scaling_demo_visible``) takes the suffix too, so that
  the grader does not run it;
* its **hidden tests** are a grade cell ``<name>_hidden`` whose hidden region calls
  ``check_function("<name>", <name>)``; the cell's points are the function's.

Marker lines are nbgrader's own: the solution delimiters of its ``ClearSolutions``
preprocessor, and hidden tests are removed by its ``ClearHiddenTests`` preprocessor, so the
course and ``nbgrader generate_assignment`` can never disagree about what a marker is.
"""

from __future__ import annotations

import copy
import os
import re
import stat
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from coursekit.grading.outcomes import bounded

__all__ = [
    "HIDDEN_SUFFIX",
    "MAX_NOTEBOOK_BYTES",
    "VISIBLE_SUFFIX",
    "answer_cells",
    "correct_answers",
    "graded_cells",
    "is_answer",
    "is_hidden_test",
    "is_visible_test",
    "nbgrader_metadata",
    "read_notebook",
    "with_answers",
    "without_hidden_tests",
    "without_solution_markers",
]

VISIBLE_SUFFIX = "_visible"
HIDDEN_SUFFIX = "_hidden"
MAX_NOTEBOOK_BYTES = 20 << 20
# The graded function a hidden-test cell checks: check_function("name", ...).
HIDDEN_CHECK = re.compile(r"check_function\(\s*[\"'](\w+)[\"']")


# -- reading -----------------------------------------------------------------------------------


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook, raising ``ValueError`` with a plain reason when it is not one."""
    path = Path(path)
    try:
        # never through a link, never a FIFO or device, never more than the cap
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ValueError(f"{path.name} is not a regular file")
            data = f.read(MAX_NOTEBOOK_BYTES + 1)
        if len(data) > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"{path.name} is larger than {MAX_NOTEBOOK_BYTES >> 20} MiB")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path.name}: {bounded(exc, 200)}") from None
    if not text.strip():
        raise ValueError(f"{path.name} is empty")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for bad JSON and bad schema
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path.name} is not a valid notebook: {bounded(first, 200)}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path.name} is not a valid notebook: it has no list of cells")
    return nb


# -- what a cell is ----------------------------------------------------------------------------


def nbgrader_metadata(cell) -> dict:
    """A cell's nbgrader metadata, or {} when it is absent or not what nbgrader writes."""
    if not isinstance(cell, dict):
        return {}
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    if not isinstance(meta, dict):
        return {}
    if "grade_id" in meta and not isinstance(meta["grade_id"], str):
        return {}
    return meta


def _source(cell) -> str | None:
    """A cell's source as one string, or None when it is not text (a hostile notebook)."""
    source = cell.get("source", "") if isinstance(cell, dict) else None
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    return source if isinstance(source, str) else None


def is_answer(cell) -> bool:
    """A code cell the student writes: ``solution: true`` with a grade id."""
    meta = nbgrader_metadata(cell)
    return bool(meta.get("solution")) and cell.get("cell_type") == "code" and "grade_id" in meta


def is_visible_test(cell) -> bool:
    """The read-only test cell after an answer (grade id ``<name>_visible``)."""
    return nbgrader_metadata(cell).get("grade_id", "").endswith(VISIBLE_SUFFIX)


def is_hidden_test(cell) -> bool:
    """A grade cell that is not an answer: its hidden region holds the graded checks."""
    meta = nbgrader_metadata(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def graded_cells(source: nbformat.NotebookNode) -> list[tuple[str, float, list[str]]]:
    """(grade_id, points, function names) for each hidden-test cell of a source notebook."""
    cells = []
    for cell in source.cells:
        if is_hidden_test(cell):
            names = HIDDEN_CHECK.findall(cell.source)
            if names:
                meta = nbgrader_metadata(cell)
                cells.append((meta["grade_id"], float(meta.get("points", 0)), names))
    return cells


def answer_cells(submission: nbformat.NotebookNode) -> dict[str, str]:
    """The submission's answer cells by grade id; anything malformed is simply not an answer.

    The first cell with a grade id wins (a student's duplicate changes nothing)."""
    answers = {}
    for cell in submission.cells:
        source = _source(cell)
        if is_answer(cell) and source is not None:
            answers.setdefault(nbgrader_metadata(cell)["grade_id"], source)
    return answers


# -- markers -----------------------------------------------------------------------------------


def without_solution_markers(source: str) -> str:
    """An answer cell's source with nbgrader's solution delimiter lines removed (the solution
    itself kept): what a perfect student would have written."""
    clear = ClearSolutions()
    markers = (clear.begin_solution_delimeter, clear.end_solution_delimeter)
    lines = source.splitlines(keepends=True)
    return "".join(line for line in lines if not any(m in line for m in markers))


def without_hidden_tests(cell) -> str:
    """A test cell's source as the student sees it: nbgrader's ``ClearHiddenTests`` applied."""
    cleared = copy.deepcopy(cell)
    ClearHiddenTests().preprocess_cell(cleared, {}, 0)
    return cleared.source


def correct_answers(source_path: str | Path) -> dict[str, str]:
    """The source's answer cells by grade id, markers removed."""
    answers = answer_cells(read_notebook(source_path))
    return {grade_id: without_solution_markers(text) for grade_id, text in answers.items()}


def with_answers(notebook: nbformat.NotebookNode, answers: dict[str, str]):
    """A copy of ``notebook`` with the answer cells named in ``answers`` replaced."""
    filled = copy.deepcopy(notebook)
    for cell in filled.cells:
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if is_answer(cell) and grade_id in answers:
            cell.source = answers[grade_id]
    return filled
