"""`coursekit release --gradebook`: the assignment is in the gradebook before any grading."""

from __future__ import annotations

import shutil

import pytest

from coursekit.grading.notebook import graded_cells, read_notebook
from coursekit.grading.release import release
from tests.grading.course import ROOT

NAME = "05_gradient_clipping"


@pytest.mark.slow
def test_release_registers_the_assignment_and_its_graded_cells(tmp_path):
    shutil.copytree(ROOT / "solutions" / NAME, tmp_path / "solutions" / NAME)
    db = tmp_path / "grading" / "gradebook.db"
    assert release(tmp_path, [NAME], gradebook=db) == 0
    from nbgrader.api import Gradebook

    source = read_notebook(ROOT / "solutions" / NAME / f"{NAME}.ipynb")
    expected = {grade_id: points for grade_id, points, _ in graded_cells(source)}
    with Gradebook(f"sqlite:///{db}") as gradebook:
        notebook = gradebook.find_notebook(NAME, NAME)
        assert {c.name: c.max_score for c in notebook.grade_cells} == expected
    assert (tmp_path / "exercises" / NAME / f"{NAME}.ipynb").exists()
