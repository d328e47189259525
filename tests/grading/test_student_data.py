"""Student data stays out of the course's repository: ignored by default, warned about otherwise."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from coursekit.grading.student_data import not_ignored, warn_if_not_ignored

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_writing_student_data_into_a_repository_that_does_not_ignore_it_is_warned(repo, capsys):
    (repo / "out" / "results").mkdir(parents=True)
    assert warn_if_not_ignored(repo / "out" / "results", "grades")
    assert "not ignored" in capsys.readouterr().err
    (repo / ".gitignore").write_text("out/\n")
    assert not warn_if_not_ignored(repo / "out" / "results", "grades")
    assert not not_ignored(repo / "out" / "feedback" / "not_yet_written")


def test_outside_any_repository_nothing_is_warned(tmp_path):
    assert not not_ignored(tmp_path / "grading")


@pytest.mark.parametrize(
    "path",
    [
        "grading/results/02_recurrent_networks/alice.json",
        "grading/feedback/02_recurrent_networks/alice.html",
        "grading/grades.csv",
        "submitted/alice/02_recurrent_networks/02_recurrent_networks.ipynb",
        "grades_export.csv",
        "gradebook.db",
    ],
)
def test_the_course_repository_ignores_the_instructor_workflow_outputs(path):
    done = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", path])
    assert done.returncode == 0, f"{path} is not ignored"


def test_the_course_repository_still_tracks_the_grading_code():
    done = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "-q", "coursekit/grading/autograde.py"]
    )
    assert done.returncode == 1
