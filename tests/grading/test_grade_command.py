"""`coursekit grade` and `coursekit feedback` as an instructor runs them."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from coursekit.grading.autograde import grade_class
from coursekit.grading.notebook import graded_cells, read_notebook
from coursekit.grading.release import run_nbgrader
from tests.grading.course import ROOT

# one xdist group: the module-scoped fixtures run once (make test: --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade-command")]
NAME = "02_recurrent_networks"
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
SOURCE = ROOT / "solutions" / NAME / f"{NAME}.ipynb"


def _notebook(case: str) -> Path:
    return SUBMISSIONS / case / NAME / f"{NAME}.ipynb"


def _coursekit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "coursekit.cli", "--course-dir", str(ROOT), *args]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _grades(path: Path) -> dict[str, dict]:
    with open(path) as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def lms_run(tmp_path_factory):
    """A zip of LMS downloads (one notebook per student, named by student), graded by the CLI."""
    tmp = tmp_path_factory.mktemp("lms")
    archive = tmp / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(_notebook("correct"), f"alice_{NAME}.ipynb")
        zf.write(_notebook("partially_correct"), "bob.ipynb")
        zf.write(_notebook("invalid_json"), f"carol_{NAME}.ipynb")
        zf.write(_notebook("blank"), f"dave-{NAME}.ipynb")
    done = _coursekit("grade", NAME, str(archive), "--workers", "2", "--output", "out", cwd=tmp)
    (tmp / "out" / "grade_stdout.txt").write_text(done.stdout)
    _coursekit("feedback", NAME, "--output", "out", cwd=tmp)
    return tmp / "out"


def test_grade_reads_a_zip_of_lms_downloads(lms_run):
    grades = _grades(lms_run / "grades.csv")
    totals = {s: float(r["total"]) for s, r in grades.items()}
    assert totals == {"alice": 10, "bob": 4, "carol": 0, "dave": 0}
    assert grades["carol"]["status"] == "invalid"
    assert grades["dave"]["status"] == "blank" and "as released" in grades["dave"]["reason"]


def test_the_summary_names_the_students_to_look_at(lms_run):
    summary = (lms_run / "grade_stdout.txt").read_text()
    assert "4 submissions: 2 graded cleanly, 2 to look at" in summary
    lines = summary.splitlines()
    assert any(line.strip().startswith("carol: invalid: ") for line in lines), summary
    assert any(line.strip().startswith("dave: blank: ") for line in lines), summary
    assert not any(line.strip().startswith(("alice:", "bob:")) for line in lines), summary


def test_check_reproduces_the_class_verdict_from_the_lms_file_name(lms_run, tmp_path):
    notebook = tmp_path / f"alice_{NAME}.ipynb"
    shutil.copy(_notebook("partially_correct"), notebook)
    done = _coursekit("check", str(notebook), "--from-run", str(lms_run), "--json", cwd=tmp_path)
    verdict = json.loads(done.stdout)
    run = json.loads((lms_run / "results" / NAME / "_run.json").read_text())
    assert verdict["seed"] == run["seed"] and verdict["points"] == 4


def test_grade_writes_a_gradebook_that_nbgrader_exports(lms_run):
    run_nbgrader(lms_run, "export", f"--db=sqlite:///{lms_run / 'gradebook.db'}", "--to=export.csv")
    exported = _grades_by(lms_run / "export.csv", "student_id")
    assert {s: float(r["score"]) for s, r in exported.items()} == {
        "alice": 10,
        "bob": 4,
        "carol": 0,
        "dave": 0,
    }


def _grades_by(path: Path, key: str) -> dict[str, dict]:
    with open(path) as f:
        return {row[key]: row for row in csv.DictReader(f)}


def test_grade_draws_a_score_figure(lms_run):
    assert (lms_run / f"{NAME}_scores.png").stat().st_size > 1000


def test_feedback_shows_scores_and_reasons_but_no_hidden_tests(lms_run):
    pages = {p.stem: p.read_text() for p in (lms_run / "feedback" / NAME).glob("*.html")}
    assert set(pages) == {"alice", "bob", "carol", "dave"}
    assert "10 / 10 points" in pages["alice"]
    assert "4 / 10 points" in pages["bob"] and "rnn_forward" in pages["bob"]
    for page in pages.values():
        assert "check_function" not in page and "HIDDEN TESTS" not in page
        assert "http://" not in page and "https://" not in page
        assert "seed" not in page.lower()


def test_feedback_lists_the_parts_in_the_notebook_order(lms_run):
    page = (lms_run / "feedback" / NAME / "bob.html").read_text()
    table = page[: page.index("</table>")]
    parts = [g.removesuffix("_hidden") for g, _, _ in graded_cells(read_notebook(SOURCE))]
    positions = [table.index(f"<td>{part}</td>") for part in parts]
    assert positions == sorted(positions) and parts != sorted(parts)


def test_grade_on_a_dask_cluster_gives_the_same_results(tmp_path):
    from dask.distributed import LocalCluster

    submitted = tmp_path / "submitted"
    for case in ("correct", "blank", "partially_correct"):
        shutil.copytree(SUBMISSIONS / case, submitted / case)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        results = grade_class(
            NAME,
            submitted,
            tmp_path / "out",
            course=ROOT,
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert {r["student"]: r["total"] for r in results} == {
        "correct": 10,
        "blank": 0,
        "partially_correct": 4,
    }


def test_grade_refuses_without_the_sandbox_unless_told_to_run_unisolated(tmp_path):
    """No bwrap on PATH: grade and check refuse and say why; --no-isolation warns and records it."""
    import os

    submitted = tmp_path / "submitted"
    shutil.copytree(SUBMISSIONS / "correct", submitted / "correct")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # the venv, without bwrap
    base = [sys.executable, "-m", "coursekit.cli", "--course-dir", str(ROOT)]
    grade = [*base, "grade", NAME, str(submitted), "--workers", "1", "--output", "out"]
    refused = subprocess.run(grade, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "bubblewrap" in refused.stderr and "--no-isolation" in refused.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()
    check = [*base, "check", str(_notebook("correct"))]
    refused = subprocess.run(check, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "bubblewrap" in refused.stderr

    done = subprocess.run(
        [*grade, "--no-isolation"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING: --no-isolation" in done.stderr
    row = _grades(tmp_path / "out" / "grades.csv")["correct"]
    assert (float(row["total"]), row["status"], row["isolation"]) == (10.0, "graded", "none")


def test_check_explains_a_flagged_submission_with_its_rule(tmp_path):
    import json

    case = "attack_kernel_found_without_naming_it"
    done = _coursekit("check", "--json", str(_notebook(case)), cwd=tmp_path)
    verdict = json.loads(done.stdout)
    assert (verdict["status"], verdict["points"], verdict["isolation"]) == (
        "flagged",
        2,
        "bubblewrap",
    )
    assert verdict["flagged"]["rnn_cell_step"] == "forbidden-kernel"
