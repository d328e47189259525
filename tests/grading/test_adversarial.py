"""The adversarial suite: real submissions, each with the outcome it must get from `coursekit grade`.

The submissions live in tests/grading/submissions/ (written by make_submissions.py, committed);
submissions_expected.json says each one's total, status and a phrase its reason must contain. The whole
batch is graded once, in parallel, by the real command's code path; it must finish, give every
case its outcome, leave every original byte-for-byte unchanged, and let nothing escape.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from coursekit.grading.autograde import grade_class
from coursekit.grading.feedback import write_feedback
from coursekit.grading.notebook import is_hidden_test, read_notebook, without_hidden_tests
from tests.grading.course import ROOT

# one xdist group: the module-scoped fixtures run once (make test: --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
EXPECTED = json.loads((SUBMISSIONS.parent / "submissions_expected.json").read_text())
VICTIM = Path("/tmp/another-student.ipynb")
TIMEOUT = 40  # seconds per notebook, restarts included
PLANTED = "planted-secret-0d9f2c7e"  # an environment variable of the grader's
# What the run must leave byte-identical: the course as graded and the grader itself.
GUARDED = [ROOT / "solutions", ROOT / "exercises", ROOT / "coursekit", ROOT / "nbgrader_config.py"]


def _tree_hashes(*roots: Path) -> dict[str, str]:
    files = []
    for root in roots:
        files += [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
        if "__pycache__" not in p.parts
    }


def _hashes() -> dict[str, str]:
    return {
        str(p.relative_to(SUBMISSIONS)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(SUBMISSIONS.rglob("*"))
        if p.is_file()
    }


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _started_by_another_test_run(pid: int) -> bool:
    """Whether a pytest process other than this one is an ancestor of ``pid`` (a parallel
    worker's own evaluation, alive and legitimate); an orphan has no such ancestor."""
    parent = _parent(pid)
    while parent and parent != os.getpid():
        try:
            if b"pytest" in Path(f"/proc/{parent}/cmdline").read_bytes():
                return True
        except OSError:
            return False
        parent = _parent(parent)
    return False


def _evaluations_alive() -> list[str]:
    """Every evaluation process on the machine (even one that escaped this process's tree)
    except those a parallel test worker is running right now."""
    alive = []
    for entry in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"sandbox_main.py" in cmdline and not _started_by_another_test_run(int(entry)):
            alive.append(entry)
    return alive


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    VICTIM.unlink(missing_ok=True)
    before = _hashes()
    guarded_before = _tree_hashes(*GUARDED)
    output = tmp_path_factory.mktemp("grading")
    os.environ["COURSEKIT_TEST_PLANTED"] = PLANTED
    try:
        grade_class(
            "02_recurrent_networks",
            SUBMISSIONS,
            output,
            course=ROOT,
            workers=2,
            timeout=TIMEOUT,
            cell_timeout=3,
            memory_bytes=4 << 30,
            progress=False,
        )
        write_feedback("02_recurrent_networks", output, ROOT)
    finally:
        del os.environ["COURSEKIT_TEST_PLANTED"]
    after_exit = {name: (output / name).read_bytes() for name in ("grades.csv", "gradebook.db")}
    alive = sorted(set(_descendants(os.getpid())) | set(map(int, _evaluations_alive())))
    with open(output / "grades.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return {
        "rows": rows,
        "before": before,
        "guarded_before": guarded_before,
        "output": output,
        "after_exit": after_exit,
        "alive": alive,
    }


def test_the_batch_grades_every_submission(graded):
    assert set(graded["rows"]) == set(EXPECTED)


def test_every_expected_outcome_names_its_reason():
    assert all("reason" in e and "status" in e and "total" in e for e in EXPECTED.values())
    assert len([s for s in EXPECTED if s.startswith("attack_")]) >= 15


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_gets_its_expected_outcome(graded, student):
    row, expected = graded["rows"][student], EXPECTED[student]
    assert float(row["total"]) == expected["total"], row
    assert row["status"] == expected["status"], row
    if expected["reason"]:
        assert expected["reason"] in row["reason"], row
    else:
        assert row["reason"] == "", row
    assert row["isolation"] == "bubblewrap", row


@pytest.mark.parametrize("student", sorted(s for s in EXPECTED if "baseline" in EXPECTED[s]))
def test_no_attack_beats_the_plain_wrong_answer(graded, student):
    rows = graded["rows"]
    baseline = EXPECTED[student]["baseline"]
    assert float(rows[student]["total"]) <= float(rows[baseline]["total"]), rows[student]


def test_every_outcome_has_a_status_and_every_lost_point_a_reason(graded):
    for row in graded["rows"].values():
        assert row["status"]
        if float(row["total"]) < float(row["max"]):
            assert row["reason"], row


def test_no_grades_csv_cell_starts_a_formula(graded):
    with open(graded["output"] / "grades.csv", newline="") as f:
        for row in csv.reader(f):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_every_submission_kept_its_deadline(graded):
    results = graded["output"] / "results" / "02_recurrent_networks"
    for path in results.glob("*.json"):
        if path.name != "_run.json":
            assert json.loads(path.read_text())["seconds"] < TIMEOUT + 20, path.name


def test_originals_are_unchanged(graded):
    assert _hashes() == graded["before"]


def test_the_course_and_coursekit_are_unchanged(graded):
    assert _tree_hashes(*GUARDED) == graded["guarded_before"]


def test_nothing_escapes_the_sandbox(graded):
    assert not VICTIM.exists()
    assert not (ROOT / "gradebook.db").exists()


def test_no_process_started_by_the_run_is_alive(graded):
    assert graded["alive"] == []


def test_grades_and_gradebook_do_not_change_after_the_grader_exits(graded):
    time.sleep(3)
    for name, content in graded["after_exit"].items():
        assert (graded["output"] / name).read_bytes() == content, name


def _hidden_test_lines() -> list[str]:
    source = read_notebook(
        ROOT / "solutions" / "02_recurrent_networks" / "02_recurrent_networks.ipynb"
    )
    lines = []
    for cell in filter(is_hidden_test, source.cells):
        shown = set(without_hidden_tests(cell).splitlines())
        hidden = [line for line in cell.source.splitlines() if line not in shown]
        lines += [line.strip() for line in hidden if len(line.strip()) > 12]
    assert lines, "the source has hidden tests to look for"
    return lines


def test_no_output_holds_the_hidden_tests_or_the_graders_environment(graded):
    secrets = [PLANTED, "BEGIN HIDDEN TESTS", "BEGIN SOLUTION", *_hidden_test_lines()]
    for path in sorted(graded["output"].rglob("*")):
        if path.is_file() and path.suffix in (".csv", ".json", ".html"):
            text = path.read_text(errors="replace")
            for secret in secrets:
                assert secret not in text, (path.name, secret)


def test_a_rerun_skips_what_is_graded_and_loses_nothing(graded):
    rows, output = graded["rows"], graded["output"]
    results = output / "results" / "02_recurrent_networks"
    stamps = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    again = grade_class("02_recurrent_networks", SUBMISSIONS, output, course=ROOT, progress=False)
    assert {r["student"]: r["total"] for r in again} == {
        s: float(r["total"]) for s, r in rows.items()
    }
    assert {
        p.name: p.stat().st_mtime_ns for p in results.glob("*.json") if p.name != "_run.json"
    } == {k: v for k, v in stamps.items() if k != "_run.json"}


def test_an_interrupted_run_is_completed_by_the_next_one(graded):
    """As if a run had been killed before these two were graded: the rerun grades only them."""
    rows, output = graded["rows"], graded["output"]
    results = output / "results" / "02_recurrent_networks"
    for student in ("correct", "partially_correct"):
        (results / f"{student}.json").unlink()
    stamps = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json") if p.name != "_run.json"}
    again = grade_class("02_recurrent_networks", SUBMISSIONS, output, course=ROOT, progress=False)
    assert {r["student"]: r["total"] for r in again} == {
        s: float(r["total"]) for s, r in rows.items()
    }
    untouched = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json") if p.name in stamps}
    assert untouched == stamps
