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
from pathlib import Path

import pytest

from coursekit.grading.autograde import grade_class
from tests.grading.course import ROOT

pytestmark = pytest.mark.slow
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
EXPECTED = json.loads((SUBMISSIONS.parent / "submissions_expected.json").read_text())
VICTIM = Path("/tmp/another-student.ipynb")


def _hashes() -> dict[str, str]:
    return {
        str(p.relative_to(SUBMISSIONS)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(SUBMISSIONS.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    VICTIM.unlink(missing_ok=True)
    before = _hashes()
    output = tmp_path_factory.mktemp("grading")
    grade_class(
        "02_recurrent_networks",
        SUBMISSIONS,
        output,
        course=ROOT,
        workers=2,
        timeout=25,
        cell_timeout=3,
        memory_bytes=4 << 30,
        progress=False,
    )
    with open(output / "grades.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return rows, before, output


def test_the_batch_grades_every_submission(graded):
    rows, _, _ = graded
    assert set(rows) == set(EXPECTED)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_gets_its_expected_outcome(graded, student):
    rows, _, _ = graded
    row, expected = rows[student], EXPECTED[student]
    assert float(row["total"]) == expected["total"], row
    assert row["status"] == expected["status"], row
    assert expected.get("reason", "") in row["reason"], row


def test_every_outcome_has_a_status_and_every_lost_point_a_reason(graded):
    rows, _, _ = graded
    for row in rows.values():
        assert row["status"]
        if float(row["total"]) < float(row["max"]):
            assert row["reason"], row


def test_originals_are_unchanged(graded):
    _, before, _ = graded
    assert _hashes() == before


def test_nothing_escapes_the_sandbox(graded):
    _, _, output = graded
    assert not VICTIM.exists()
    assert not (ROOT / "gradebook.db").exists()


def test_a_rerun_skips_what_is_graded_and_loses_nothing(graded):
    rows, _, output = graded
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
    rows, _, output = graded
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
