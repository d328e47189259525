"""The README's instructor commands, run as written, on a copy of the course with a small class.

The commands are read from the README's first code block under "For instructors", so the
test follows the README when it changes; each must exit 0, and each output the README names
must be there and say what the README says.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.grading.course import ROOT

# one xdist group: the module-scoped fixtures run once (make test: --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("readme-workflow")]
NAME = "02_recurrent_networks"
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## For instructors") :].split("```")[1]
    commands = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [c for c in commands if c and not c.startswith("#")]


def _argv(command: str) -> list[str]:
    tool, *args = shlex.split(command)
    module = {"coursekit": "coursekit.cli", "nbgrader": "nbgrader"}[tool]
    return [sys.executable, "-m", module, *args]


def _notebook(case: str) -> Path:
    return SUBMISSIONS / case / NAME / f"{NAME}.ipynb"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course with assignment NAME, a submitted/ tree of three students (carol copied alice), and
    alice's notebook as an LMS download; then every README command, in order."""
    root = tmp_path_factory.mktemp("course")
    for part in ("solutions", "exercises"):  # the one assignment: `release` then releases it
        shutil.copytree(ROOT / part / NAME, root / part / NAME)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for student, case in (("alice", "correct"), ("bob", "partially_correct"), ("carol", "correct")):
        folder = root / "submitted" / student / NAME
        folder.mkdir(parents=True)
        shutil.copy(_notebook(case), folder / f"{NAME}.ipynb")
    shutil.copy(_notebook("partially_correct"), root / f"alice_{NAME}.ipynb")
    outputs = {}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in readme_commands():
        done = subprocess.run(_argv(command), cwd=root, capture_output=True, text=True, env=env)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        outputs[command.split()[1]] = done.stdout
    return root, outputs


def test_the_readme_lists_the_whole_workflow():
    tools = [" ".join(c.split()[:2]) for c in readme_commands()]
    for step in ("release", "grade", "feedback", "similarity", "export", "check"):
        assert any(t.endswith(step) for t in tools), (step, tools)


def test_grade_writes_what_the_readme_says(course):
    root, outputs = course
    grading = root / "grading"
    for path in ("grades.csv", "gradebook.db", f"{NAME}_scores.png", f"results/{NAME}/_run.json"):
        assert (grading / path).exists(), path
    with open(grading / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert {s: float(r["total"]) for s, r in rows.items()} == {"alice": 10, "bob": 4, "carol": 10}
    assert "3 submissions: 3 graded cleanly, 0 to look at" in outputs["grade"]


def test_feedback_export_and_similarity_write_what_the_readme_says(course):
    root, _ = course
    grading = root / "grading"
    assert {p.stem for p in (grading / "feedback" / NAME).glob("*.html")} == {
        "alice",
        "bob",
        "carol",
    }
    with open(grading / "grades_export.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["assignment"] == NAME]
        exported = {r["student_id"]: float(r["score"]) for r in rows}
    assert exported == {"alice": 10, "bob": 4, "carol": 10}
    with open(grading / "similarity.csv") as f:
        top = next(csv.DictReader(f))
    assert {top["student_a"], top["student_b"]} == {"alice", "carol"}
    assert (grading / "similarity.html").stat().st_size > 0


def test_check_gives_the_class_verdict_for_an_lms_download(course):
    root, outputs = course
    seed = json.loads((root / "grading" / "results" / NAME / "_run.json").read_text())["seed"]
    assert "4 / 10 points" in outputs["check"] and f"seed {seed}" in outputs["check"]


def test_the_release_in_the_copy_is_the_committed_one(course):
    root, _ = course
    assert (root / "exercises" / NAME / f"{NAME}.ipynb").read_bytes() == (
        ROOT / "exercises" / NAME / f"{NAME}.ipynb"
    ).read_bytes()
