"""Specifications of coursekit.grading.notebook: the course's reading of nbgrader's conventions
agrees with what `nbgrader generate_assignment` itself produced (the committed exercises/)."""

from __future__ import annotations

import nbformat
import pytest

from coursekit.grading.notebook import (
    answer_cells,
    correct_answers,
    graded_cells,
    is_answer,
    is_hidden_test,
    is_visible_test,
    nbgrader_metadata,
    read_notebook,
    with_answers,
    without_hidden_tests,
    without_solution_markers,
)
from coursekit.grading.release import assignments
from tests.grading.course import ROOT, source_notebook

ASSIGNMENTS = assignments(ROOT)


def _released(name: str) -> nbformat.NotebookNode:
    return read_notebook(ROOT / "exercises" / name / f"{name}.ipynb")


def _by_grade_id(nb) -> dict:
    return {nbgrader_metadata(c)["grade_id"]: c for c in nb.cells if nbgrader_metadata(c)}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_hidden_tests_are_removed_as_nbgrader_removes_them(name):
    released = _by_grade_id(_released(name))
    hidden = [c for c in read_notebook(source_notebook(name)).cells if is_hidden_test(c)]
    assert hidden
    for cell in hidden:
        grade_id = nbgrader_metadata(cell)["grade_id"]
        assert without_hidden_tests(cell) == released[grade_id].source, grade_id
        assert "HIDDEN TESTS" not in without_hidden_tests(cell)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_correct_answers_drop_exactly_the_marker_lines(name):
    sources = answer_cells(read_notebook(source_notebook(name)))
    answers = correct_answers(source_notebook(name))
    assert answers.keys() == sources.keys() and answers
    for grade_id, answer in answers.items():
        dropped = [
            line for line in sources[grade_id].splitlines() if line not in answer.splitlines()
        ]
        assert [line.strip() for line in dropped] == ["### BEGIN SOLUTION", "### END SOLUTION"]
        compile(answer, grade_id, "exec")  # still a program


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_answer_has_its_visible_and_hidden_tests(name):
    source = read_notebook(source_notebook(name))
    answers = [nbgrader_metadata(c)["grade_id"] for c in source.cells if is_answer(c)]
    visible = {nbgrader_metadata(c)["grade_id"] for c in source.cells if is_visible_test(c)}
    graded = {grade_id: names for grade_id, _, names in graded_cells(source)}
    assert answers
    for grade_id in answers:
        assert f"{grade_id}_visible" in visible
        assert graded[f"{grade_id}_hidden"] == [grade_id]
    released = _released(name)
    assert [nbgrader_metadata(c)["grade_id"] for c in released.cells if is_answer(c)] == answers


def test_marker_lines_are_recognised_with_any_indentation():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    assert without_solution_markers(source) == "def f(x):\n    return x\n"


def test_malformed_cells_are_not_answers():
    nb = nbformat.v4.new_notebook()
    good = nbformat.v4.new_code_cell(
        "x = 1", metadata={"nbgrader": {"solution": True, "grade_id": "f"}}
    )
    markdown = nbformat.v4.new_markdown_cell(
        "x", metadata={"nbgrader": {"solution": True, "grade_id": "g"}}
    )
    wrong_id = nbformat.v4.new_code_cell(
        "y", metadata={"nbgrader": {"solution": True, "grade_id": 3}}
    )
    listed = nbformat.v4.new_code_cell("z", metadata={"nbgrader": ["solution"]})
    duplicate = nbformat.v4.new_code_cell(
        "x = 2", metadata={"nbgrader": {"solution": True, "grade_id": "f"}}
    )
    nb.cells = [good, markdown, wrong_id, listed, duplicate]
    assert answer_cells(nb) == {"f": "x = 1"}
    filled = with_answers(nb, {"f": "x = 3", "g": "changed"})
    assert [c.source for c in filled.cells] == ["x = 3", "x", "y", "z", "x = 3"]
    assert nb.cells[0].source == "x = 1"  # the original is not changed
    assert not any(f("not a cell") for f in (is_answer, is_hidden_test, is_visible_test))
