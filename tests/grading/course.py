"""Helpers that build a throwaway nbgrader course around an assignment of the repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nbformat

from coursekit.grading import notebook
from coursekit.grading.release import run_nbgrader

ROOT = Path(__file__).resolve().parents[2]


def source_notebook(name: str) -> Path:
    return ROOT / "solutions" / name / f"{name}.ipynb"


def correct_answers(name: str) -> dict[str, str]:
    """The source's answer cells, markers removed: what a perfect student writes."""
    return notebook.correct_answers(source_notebook(name))


def filled(release: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the given answer cells filled in."""
    return notebook.with_answers(nbformat.read(release, as_version=4), answers)


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    return run_nbgrader(root, *args)


def make_course(tmp: Path, name: str) -> Path:
    """A course folder with the assignment released (and in its gradebook); returns the release."""
    shutil.copytree(ROOT / "solutions" / name, tmp / "solutions" / name)
    nbgrader(tmp, "generate_assignment", name, "--force")
    return tmp / "exercises" / name / f"{name}.ipynb"


def submit(root: Path, name: str, student: str, nb: nbformat.NotebookNode) -> Path:
    path = root / "submitted" / student / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def nbgrader_scores(db: Path, name: str) -> dict[str, dict[str, float]]:
    """student -> {grade cell id -> score} from an nbgrader gradebook."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{db}") as gradebook:
        for submission in gradebook.assignment_submissions(name):
            notebook = gradebook.find_submission_notebook(name, name, submission.student_id)
            scores[submission.student_id] = {g.name: g.score for g in notebook.grades}
    return scores
