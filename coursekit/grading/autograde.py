"""Grade a whole class: ``coursekit grade ASSIGNMENT SUBMISSIONS --workers N``.

Each submission is judged by :func:`coursekit.grading.checks.judge_notebook` (the verdict made
outside the student's kernel) on a private copy; the original is hashed before and after and
never written. Submissions are graded in parallel, by local workers or on a Dask cluster
(``--scheduler ADDRESS``); every result is saved as it arrives (``results/<student>.json``),
so an interrupted run loses nothing and a rerun grades only what is missing. At the end the
results go into an nbgrader gradebook (``nbgrader export`` and formgrader read it), a
``grades.csv`` and a figure of the score distribution per question.

Accepted layouts for SUBMISSIONS: nbgrader's ``submitted/`` tree
(``<student>/<assignment>/<assignment>.ipynb``), a folder of notebooks named by student
(``alice.ipynb``, ``alice_02_recurrent_networks.ipynb``), or a zip of either.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
import warnings
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from coursekit.grading.checks import graded_cells, judge_notebook, read_notebook
from coursekit.grading.release import ensure_tools_on_path, run_nbgrader

__all__ = ["Submission", "discover", "grade_class", "grade_submission", "write_gradebook"]


@dataclass
class Submission:
    student: str
    path: str | None  # None when the student's folder holds no notebook
    problem: str = ""  # what discovery noticed (a wrong file name, a missing notebook)


# -- finding the submissions ----------------------------------------------------------------------


def _safe_extract(archive: Path, target: Path) -> Path:
    """Unzip without letting a member escape ``target`` (no absolute paths, no ``..``)."""
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            destination = (target / member.filename).resolve()
            if not str(destination).startswith(str(target.resolve()) + os.sep):
                raise ValueError(f"{archive.name} holds an unsafe path: {member.filename}")
        zf.extractall(target)
    entries = [p for p in target.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


def _student_from_filename(stem: str, assignment: str) -> str:
    """``alice_02_recurrent_networks`` -> ``alice`` (LMS downloads put the student first)."""
    student = stem.replace(assignment, "")
    return re.sub(r"[\s_\-.]+$|^[\s_\-.]+", "", student) or stem


def discover(submissions: Path, assignment: str, scratch: Path) -> list[Submission]:
    """The submissions under ``submissions`` (a folder or a zip), one per student."""
    if submissions.is_file() and zipfile.is_zipfile(submissions):
        submissions = _safe_extract(submissions, scratch / "unzipped")
    if not submissions.is_dir():
        raise ValueError(f"{submissions} is neither a folder nor a zip of submissions")
    expected = f"{assignment}.ipynb"
    found: list[Submission] = []
    for entry in sorted(submissions.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():  # nbgrader's tree: <student>/<assignment>/<notebook>
            folder = entry / assignment if (entry / assignment).is_dir() else entry
            notebooks = sorted(folder.glob("*.ipynb"))
            if (folder / expected).exists():
                found.append(Submission(entry.name, str(folder / expected)))
            elif len(notebooks) == 1:
                problem = f"the notebook is named {notebooks[0].name}; expected {expected}"
                found.append(Submission(entry.name, str(notebooks[0]), problem))
            else:
                what = "no notebook" if not notebooks else f"{len(notebooks)} notebooks"
                found.append(Submission(entry.name, None, f"{what} found; expected {expected}"))
        elif entry.suffix == ".ipynb":
            found.append(Submission(_student_from_filename(entry.stem, assignment), str(entry)))
        else:
            student = _student_from_filename(entry.stem, assignment)
            found.append(Submission(student, None, f"{entry.name} is not a notebook (.ipynb)"))
    students = [s.student for s in found]
    duplicates = sorted({s for s in students if students.count(s) > 1})
    if duplicates:
        raise ValueError(f"more than one submission for: {', '.join(duplicates)}")
    return found


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
) -> dict:
    """Grade one submission on a private copy; returns a JSON-able result. Never raises for it."""
    started = time.perf_counter()
    cells = graded_cells(read_notebook(source))
    result = {
        "student": submission.student,
        "file": submission.path,
        "seed": seed,
        "max_points": {g: p for g, p, _ in cells},
        "points": {g: 0.0 for g, _, _ in cells},
        "functions": {},
        "notes": [submission.problem] if submission.problem else [],
    }
    if submission.path is None:
        result.update(status="missing", reason=submission.problem)
        return _finish(result, started)
    before = _sha256(submission.path)
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        copy = Path(tmp) / Path(submission.path).name
        shutil.copyfile(submission.path, copy)
        verdict = judge_notebook(
            copy,
            source,
            seed=seed,
            total_timeout=timeout,
            cell_timeout=cell_timeout,
            memory_bytes=memory_bytes,
        )
    result["points"] = {c.grade_id: c.points for c in verdict.cells}
    result["functions"] = {n: m for c in verdict.cells for n, m in c.functions.items()}
    result["notes"] += verdict.notes
    failures = [f"{n}: {m}" for n, m in result["functions"].items() if m != "ok"]
    flagged = [
        f for f in failures + result["notes"] if "may not be called" in f or "not allowed" in f
    ]
    if verdict.status != "graded":
        status = verdict.status.split(":")[0]
        reason = verdict.status
    elif flagged:
        status, reason = "flagged", "; ".join(flagged)
    else:
        status, reason = "graded", "; ".join(failures)
    if _sha256(submission.path) != before:
        status, reason = "tampered", "the submitted file changed while it was graded; " + reason
    result.update(status=status, reason=reason, sha256=before)
    return _finish(result, started)


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


def _run_local(todo, source, seed, workers, limits) -> Iterable[dict]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(grade_submission, s, source, seed, **limits) for s in todo]
        for future in as_completed(futures):
            yield future.result()


def _run_dask(todo, source, seed, scheduler, limits) -> Iterable[dict]:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    with Client(scheduler) as client:
        futures = client.map(grade_submission, todo, source=source, seed=seed, pure=False, **limits)
        for future in dask_completed(futures):
            yield future.result()


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
) -> list[dict]:
    """Grade every submission of ``assignment``; returns all results (old and new)."""
    source = course / "solutions" / assignment / f"{assignment}.ipynb"
    if not source.exists():
        raise ValueError(f"no source notebook {source}; is --course-dir the course's root?")
    results_dir = output / "results" / assignment
    results_dir.mkdir(parents=True, exist_ok=True)
    run_file = results_dir / "_run.json"
    if seed is None:  # one seed per class, so every student meets the same cases
        seed = (
            json.loads(run_file.read_text())["seed"] if run_file.exists() else secrets.randbits(63)
        )
    _write_json(run_file, {"seed": seed, "assignment": assignment})
    limits = {"timeout": timeout, "cell_timeout": cell_timeout, "memory_bytes": memory_bytes}

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
    cells = list(results[0]["max_points"]) if results else []
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *cells, "total", "max", "status", "reason"])
        for r in sorted(results, key=lambda r: r["student"]):
            row = [r["points"].get(c, 0.0) for c in cells]
            reason = "; ".join(x for x in [r.get("reason", "")] + r["notes"] if x)
            max_total = sum(r["max_points"].values())
            writer.writerow([r["student"], *row, r["total"], max_total, r["status"], reason])


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
        _register_assignment(course, assignment, db_url)
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


def _register_assignment(course: Path, assignment: str, db_url: str) -> None:
    """Let nbgrader itself record the assignment, its notebook and its graded cells."""
    with tempfile.TemporaryDirectory(prefix="coursekit-gradebook-") as tmp:
        root = Path(tmp)
        shutil.copytree(course / "solutions" / assignment, root / "solutions" / assignment)
        run_nbgrader(root, "generate_assignment", assignment, "--force", f"--db={db_url}")


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
