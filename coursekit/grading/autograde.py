"""Grade a whole class: ``coursekit grade ASSIGNMENT SUBMISSIONS --workers N``.

Each submission is judged by :func:`coursekit.grading.verdict.judge_notebook` (the verdict made
outside the student's kernel) on a private copy; the original is hashed before and after and
never written. Submissions are graded in parallel, by local workers or on a Dask cluster
(``--scheduler ADDRESS``); every result is saved as it arrives (``results/<student>.json``),
so an interrupted run loses nothing and a rerun grades only what is missing. At the end the
results go into an nbgrader gradebook (``nbgrader export`` and formgrader read it), a
``grades.csv`` and a figure of the score distribution per question.

Which layouts SUBMISSIONS may have, and how a file name becomes a student id: see
:mod:`coursekit.grading.submissions`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from coursekit.grading.bubblewrap import sandbox_problem
from coursekit.grading.notebook import graded_cells, read_notebook
from coursekit.grading.outcomes import Status, bounded, csv_safe
from coursekit.grading.release import ensure_tools_on_path, register_assignment
from coursekit.grading.sandbox import SandboxUnavailable
from coursekit.grading.student_data import warn_if_not_ignored
from coursekit.grading.submissions import Submission, discover
from coursekit.grading.verdict import judge_notebook

__all__ = ["grade_class", "grade_submission", "write_gradebook"]

UNISOLATED_WARNING = (
    "WARNING: --no-isolation: student code runs WITHOUT the OS sandbox, as your own user, "
    "behind a Python audit hook only; it can read and write what you can. grades.csv records "
    "isolation 'none' for every submission graded this way."
)


# -- grading one ------------------------------------------------------------------------------------


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grade_submission(
    submission: Submission,
    source: str,
    seed: int,
    timeout: float = 600.0,
    cell_timeout: float = 60.0,
    memory_bytes: int = 6 << 30,
    isolation: bool = True,
    release: str | None = None,
) -> dict:
    """Grade one submission on a private copy; returns a JSON-able result. Never raises for it:
    any exception while judging it, the grader's own included, becomes its outcome.
    ``release``: the notebook students received (a submission equal to it is ``blank``)."""
    started = time.perf_counter()
    cells = graded_cells(read_notebook(source))
    result = {
        "student": submission.student,
        "file": submission.original or submission.path,
        "seed": seed,
        "max_points": {g: p for g, p, _ in cells},
        "points": {g: 0.0 for g, _, _ in cells},
        "functions": {},
        "flagged": {},
        "notes": [submission.problem] if submission.problem and submission.path else [],
        "isolation": "bubblewrap" if isolation else "none",
        "sha256": submission.sha256,
    }
    if submission.path is None:
        result.update(status=Status.MISSING.value, reason=submission.problem or "no notebook")
        return _finish(result, started)
    try:
        _judge_into(
            result,
            submission,
            source,
            seed,
            timeout,
            cell_timeout,
            memory_bytes,
            isolation,
            release,
        )
    except SandboxUnavailable as exc:
        result.update(status=Status.CRASHED.value, reason=f"no sandbox on this machine: {exc}")
    except Exception as exc:  # noqa: BLE001 - one student's failure never stops the batch
        result["points"] = {g: 0.0 for g, _, _ in cells}
        result.update(
            status=Status.CRASHED.value,
            reason=f"the grader failed on this submission ({type(exc).__name__}: {bounded(exc, 200)})",
        )
    return _finish(result, started)


def _judge_into(
    result, submission, source, seed, timeout, cell_timeout, memory_bytes, isolation, release
):
    data = submission.data if submission.data is not None else Path(submission.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != submission.sha256:
        result.update(
            status=Status.INVALID.value,
            reason="the staged copy changed between discovery and grading; not graded",
        )
        return
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        copy = Path(tmp) / "submission.ipynb"
        copy.write_bytes(data)
        verdict = judge_notebook(
            copy,
            source,
            seed=seed,
            total_timeout=timeout,
            cell_timeout=cell_timeout,
            memory_bytes=memory_bytes,
            isolation=isolation,
            release_path=release,
        )
    result["points"] = {c.grade_id: c.points for c in verdict.cells}
    result["functions"] = {n: m for c in verdict.cells for n, m in c.functions.items()}
    result["flagged"] = verdict.flagged
    result["notes"] += verdict.notes
    failures = [f"{n}: {m}" for n, m in result["functions"].items() if m != "ok"]
    reason = verdict.reason if verdict.status != Status.GRADED.value else "; ".join(failures)
    if submission.original and os.path.isfile(submission.original):
        try:
            if _sha256(submission.original) != submission.sha256:
                result["notes"].append(
                    "the submitted file changed on disk during grading; graded as first found"
                )
        except OSError:
            pass
    result.update(status=verdict.status, reason=reason)


def _finish(result: dict, started: float) -> dict:
    result["total"] = sum(result["points"].values())
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


# -- grading a class ---------------------------------------------------------------------------------


def _write_json(path: Path, data: dict) -> None:
    """Write atomically, so an interrupted run never leaves half a result."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _failed(submission: Submission, exc: BaseException, source: str) -> dict:
    """The outcome of a submission whose grading task itself died (a lost Dask worker)."""
    cells = graded_cells(read_notebook(source))
    return {
        "student": submission.student,
        "file": submission.original,
        "max_points": {g: p for g, p, _ in cells},
        "points": {g: 0.0 for g, _, _ in cells},
        "functions": {},
        "flagged": {},
        "notes": [],
        "status": Status.CRASHED.value,
        "reason": f"its grading task failed ({type(exc).__name__}: {bounded(exc, 200)})",
        "total": 0.0,
    }


def _run_local(todo, source, seed, workers, limits) -> Iterable[dict]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(grade_submission, s, source, seed, **limits): s for s in todo}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001
                yield _failed(futures[future], exc, source)


def _run_dask(todo, source, seed, scheduler, limits) -> Iterable[dict]:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    for submission in todo:  # the staged bytes travel with the task: no shared staging folder
        if submission.path is not None:
            submission.data = Path(submission.path).read_bytes()
    with Client(scheduler) as client:
        futures = client.map(grade_submission, todo, source=source, seed=seed, pure=False, **limits)
        owners = dict(zip(futures, todo, strict=True))
        for future in dask_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001
                yield _failed(owners[future], exc, source)


def grade_class(
    assignment: str,
    submissions: Path,
    output: Path,
    *,
    course: Path = Path("."),
    workers: int = 2,
    scheduler: str | None = None,
    force: bool = False,
    seed: int | None = None,
    timeout: float = 600.0,
    cell_timeout: float = 60.0,
    memory_bytes: int = 6 << 30,
    progress: bool = True,
    isolation: bool = True,
) -> list[dict]:
    """Grade every submission of ``assignment``; returns all results (old and new).

    Raises :class:`SandboxUnavailable` when the OS sandbox cannot run here, unless
    ``isolation`` is False (``--no-isolation``: warned about, and recorded in grades.csv).
    """
    source = course / "solutions" / assignment / f"{assignment}.ipynb"
    if not source.exists():
        raise ValueError(f"no source notebook {source}; is --course-dir the course's root?")
    if isolation and not scheduler and (problem := sandbox_problem()):
        raise SandboxUnavailable(problem)
    if not isolation:
        print(UNISOLATED_WARNING, file=sys.stderr)
    results_dir = output / "results" / assignment
    results_dir.mkdir(parents=True, exist_ok=True)
    warn_if_not_ignored(output / "results", "grades and results")
    run_file = results_dir / "_run.json"
    if seed is None:  # one seed per class, so every student meets the same cases
        seed = (
            json.loads(run_file.read_text())["seed"] if run_file.exists() else secrets.randbits(63)
        )
    _write_json(run_file, {"seed": seed, "assignment": assignment})
    release = course / "exercises" / assignment / f"{assignment}.ipynb"
    limits = {
        "timeout": timeout,
        "cell_timeout": cell_timeout,
        "memory_bytes": memory_bytes,
        "isolation": isolation,
        "release": str(release) if release.exists() else None,
    }

    with tempfile.TemporaryDirectory(prefix="coursekit-submissions-") as scratch:
        found = discover(Path(submissions), assignment, Path(scratch))
        todo = [s for s in found if force or not (results_dir / f"{s.student}.json").exists()]
        runner = (
            _run_dask(todo, str(source), seed, scheduler, limits)
            if scheduler
            else _run_local(todo, str(source), seed, workers, limits)
        )
        failures = 0
        bar = tqdm(total=len(todo), desc=f"grading {assignment}", unit="nb", disable=not progress)
        for result in runner:
            _write_json(results_dir / f"{result['student']}.json", result)
            failures += result["status"] != "graded"
            bar.update()
            bar.set_postfix(not_clean=failures)
        bar.close()
    results = [
        json.loads(p.read_text())
        for p in sorted(results_dir.glob("*.json"))
        if p.name != "_run.json"
    ]
    write_grades_csv(output / "grades.csv", results)
    write_gradebook(course, assignment, output / "gradebook.db", results)
    plot_score_distribution(output / f"{assignment}_scores.png", assignment, results)
    return results


# -- outputs -----------------------------------------------------------------------------------------


def write_grades_csv(path: Path, results: list[dict]) -> None:
    """One row per student; no cell can start a spreadsheet formula (outcomes.csv_safe)."""
    cells = list(dict.fromkeys(c for r in results for c in r["max_points"]))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *cells, "total", "max", "status", "isolation", "reason"])
        for r in sorted(results, key=lambda r: r["student"]):
            row = [r["points"].get(c, 0.0) for c in cells]
            reason = bounded("; ".join(x for x in [r.get("reason", "")] + r["notes"] if x), 2000)
            max_total = sum(r["max_points"].values())
            isolation = r.get("isolation", "none")
            cells_out = [r["student"], *row, r["total"], max_total, r["status"], isolation, reason]
            writer.writerow([csv_safe(c) for c in cells_out])


def write_gradebook(course: Path, assignment: str, db: Path, results: list[dict]) -> None:
    """Record the scores in an nbgrader gradebook, creating the assignment from the source."""
    from nbgrader.api import Gradebook, MissingEntry

    ensure_tools_on_path()
    db_url = f"sqlite:///{db.resolve()}"
    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
            known = True
        except MissingEntry:
            known = False
    if not known:
        register_assignment(course, assignment, db_url)
    notebook = assignment
    with Gradebook(db_url) as gradebook, warnings.catch_warnings():
        # nbgrader's own SQLAlchemy usage warns about autoflush when creating submissions
        warnings.simplefilter("ignore", category=Warning)
        for result in results:
            gradebook.update_or_create_student(result["student"])
            gradebook.update_or_create_submission(assignment, result["student"])
            for grade_id, points in result["points"].items():
                grade = gradebook.find_grade(grade_id, notebook, assignment, result["student"])
                grade.auto_score = points
            gradebook.db.commit()


def plot_score_distribution(path: Path, assignment: str, results: list[dict]) -> None:
    """One histogram per graded cell: how many students earned how many points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not results:
        return
    cells = list(results[0]["max_points"])
    fig, axes = plt.subplots(1, len(cells), figsize=(3.2 * len(cells), 3), squeeze=False)
    for ax, cell in zip(axes[0], cells, strict=True):
        maximum = results[0]["max_points"][cell]
        earned = [r["points"].get(cell, 0.0) for r in results]
        values = sorted({0.0, maximum, *earned})
        ax.bar([f"{v:g}" for v in values], [earned.count(v) for v in values], color="#4c72b0")
        ax.set_title(cell.removesuffix("_hidden"), fontsize=9)
        ax.set_xlabel(f"points (of {maximum:g})")
    axes[0][0].set_ylabel("students")
    fig.suptitle(f"{assignment}: {len(results)} submissions")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
