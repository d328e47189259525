"""Stored notebooks match their sources, the release matches solutions/, and exercises run.

nbval itself re-executes book/ and solutions/ (second pytest run of `make test`); here each
released exercise is filled in with the source's solutions and run under nbval too, since its
stored outputs are empty by design (`--nbval-lax`: it must run without errors).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.notebook import is_answer
from coursekit.grading.release import assignments, stale_files
from tests.grading.course import correct_answers, filled

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = assignments(ROOT)


def test_there_is_at_least_one_assignment():
    assert ASSIGNMENTS


def test_stored_notebooks_match_their_sources():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "notebooks.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_is_in_sync_with_solutions(name):
    assert stale_files(ROOT, name) == []


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_contains_no_solution_or_hidden_test(name):
    text = (ROOT / "exercises" / name / f"{name}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "check_function"):
        assert marker not in text


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_exercise_with_solutions_filled_in_passes_nbval(name, tmp_path):
    release = ROOT / "exercises" / name / f"{name}.ipynb"
    notebook = tmp_path / f"{name}.ipynb"
    nbformat.write(filled(release, correct_answers(name)), notebook)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-q",
            str(notebook),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_answer_cell_of_the_release_is_a_stub(name):
    nb = nbformat.read(ROOT / "exercises" / name / f"{name}.ipynb", as_version=4)
    answers = [c for c in nb.cells if is_answer(c)]
    assert answers
    for cell in answers:
        assert "# YOUR CODE HERE\n" in cell.source and "raise NotImplementedError()" in cell.source
