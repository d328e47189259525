"""Every assignment through the real nbgrader, and through the verdict outside the kernel.

One course is built once (nbgrader generate_assignment), every submission below is written as
a real .ipynb under submitted/, graded once by `nbgrader autograde`, and once by
`coursekit grade` (the verdict, made outside the kernels). The specification:

* the blank release scores 0 and the source full marks, in both;
* a known-wrong variant of each function (the first; all are proved in process by
  test_checks.py) loses the points of its function, in both, and on honest
  submissions both give the same score to every cell;
* every cheat loses its function's points in the verdict (only the cheats that fool plain
  nbgrader, FOOLS_NBGRADER, go through nbgrader too: the others' nbgrader score is not read);
* the gradebook that `coursekit grade` writes holds exactly the verdict's scores.
"""

from __future__ import annotations

import re

import pytest

from coursekit.grading.autograde import grade_class
from coursekit.grading.notebook import graded_cells, read_notebook
from coursekit.grading.release import assignments
from tests.grading import course
from tests.grading.variants import ASSIGNMENTS

pytestmark = pytest.mark.slow


def _student_id(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


# One xdist group per assignment (make test runs --dist loadgroup): each assignment's class is
# graded once, on one worker, and the assignments spread over the workers.
@pytest.fixture(
    scope="module",
    params=[
        pytest.param(n, marks=pytest.mark.xdist_group(f"roundtrip-{n}"))
        for n in sorted(ASSIGNMENTS)
    ],
)
def assignment(request):
    return request.param


@pytest.fixture(scope="module")
def graded(assignment, tmp_path_factory):
    NAME = assignment
    variants_module = ASSIGNMENTS[NAME]
    root = tmp_path_factory.mktemp("course")
    release = course.make_course(root, NAME)
    answers = course.correct_answers(NAME)
    submissions = {"blank": course.filled(release, {}), "source": course.filled(release, answers)}
    expected_loss = {}
    for grade_id, variants in variants_module.WRONG_VARIANTS.items():
        # Every variant is proved in process over three seeds (test_checks.py); the plumbing
        # through the real nbgrader and the sandbox is the same for each, so one per function.
        for label, source in list(variants.items())[:1]:
            student = _student_id(f"wrong-{grade_id}-{label}")
            submissions[student] = course.filled(release, {**answers, grade_id: source})
            expected_loss[student] = grade_id
    verdict_only = []  # cheats whose nbgrader score no test reads: not worth a kernel each
    for label, (grade_id, source) in variants_module.CHEATS.items():
        student = _student_id(f"cheat-{label}")
        submissions[student] = course.filled(release, {**answers, grade_id: source})
        expected_loss[student] = grade_id
        if label not in variants_module.FOOLS_NBGRADER:
            verdict_only.append(student)
    for student, nb in submissions.items():
        course.submit(root, NAME, student, nb)

    exclude = f"--CourseDirectory.student_id_exclude={','.join(verdict_only)}"
    course.nbgrader(root, "autograde", NAME, "--force", exclude)
    nbgrader_scores = course.nbgrader_scores(root / "gradebook.db", NAME)
    # The verdict, through the instructor's command: `coursekit grade` on the same tree.
    output = root / "coursekit-grade"
    results = grade_class(NAME, root / "submitted", output, course=course.ROOT, progress=False)
    verdicts = {r["student"]: r for r in results}
    assert course.nbgrader_scores(output / "gradebook.db", NAME) == {
        s: r["points"] for s, r in verdicts.items()
    }, "the gradebook written by coursekit grade must hold the verdict's scores"
    return nbgrader_scores, verdicts, expected_loss, _max_points(NAME)


def _verdict_scores(result) -> dict[str, float]:
    return result["points"]


def _max_points(name: str) -> dict[str, float]:
    cells = graded_cells(read_notebook(course.source_notebook(name)))
    return {grade_id: points for grade_id, points, _ in cells}


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_every_graded_function_has_at_least_three_wrong_variants(name):
    cells = graded_cells(read_notebook(course.source_notebook(name)))
    wrong = ASSIGNMENTS[name].WRONG_VARIANTS
    assert set(wrong) == {n for _, _, names in cells for n in names}
    assert all(len(v) >= 3 for v in wrong.values())


def test_every_assignment_has_its_variants():
    assert set(ASSIGNMENTS) == set(assignments(course.ROOT))


def test_blank_release_scores_zero(graded):
    nbgrader_scores, verdicts, _, full = graded
    assert sum(nbgrader_scores["blank"].values()) == 0
    assert verdicts["blank"]["total"] == 0


def test_source_scores_full_marks(graded):
    nbgrader_scores, verdicts, _, full = graded
    assert nbgrader_scores["source"] == full
    assert _verdict_scores(verdicts["source"]) == full
    assert verdicts["source"]["status"] == "graded"


def test_each_wrong_variant_loses_its_function_points(graded):
    nbgrader_scores, verdicts, expected_loss, full = graded
    for student, grade_id in expected_loss.items():
        if not student.startswith("wrong-"):
            continue
        hidden = f"{grade_id}_hidden"
        assert nbgrader_scores[student][hidden] == 0, (
            f"nbgrader gave {student} points for {grade_id}"
        )
        assert _verdict_scores(verdicts[student])[hidden] == 0, f"the verdict gave {student} points"


def test_verdict_equals_nbgrader_on_honest_submissions(graded):
    nbgrader_scores, verdicts, _, full = graded
    for student, verdict in verdicts.items():
        if student.startswith("cheat-"):
            continue
        assert _verdict_scores(verdict) == nbgrader_scores[student], student


def test_every_cheat_loses_its_function_points_in_the_verdict(graded):
    _, verdicts, expected_loss, full = graded
    for student, grade_id in expected_loss.items():
        if student.startswith("cheat-"):
            verdict = verdicts[student]
            assert _verdict_scores(verdict)[f"{grade_id}_hidden"] == 0, (student, verdict)
            assert verdict["total"] < sum(full.values())


def test_in_kernel_checks_alone_are_fooled_by_a_patched_checker(graded, assignment):
    """Why the verdict lives outside the kernel: plain nbgrader gives these wrong answers marks."""
    nbgrader_scores, _, _, full = graded
    for label in ASSIGNMENTS[assignment].FOOLS_NBGRADER:
        grade_id, _ = ASSIGNMENTS[assignment].CHEATS[label]
        hidden = f"{grade_id}_hidden"
        assert nbgrader_scores[_student_id(f"cheat-{label}")][hidden] == full[hidden], label


def test_reference_use_is_named_in_the_verdict(graded, assignment):
    _, verdicts, _, _ = graded
    label = ASSIGNMENTS[assignment].CALLS_REFERENCE
    grade_id, _ = ASSIGNMENTS[assignment].CHEATS[label]
    verdict = verdicts[_student_id(f"cheat-{label}")]
    assert "coursekit" in verdict["functions"][grade_id]
