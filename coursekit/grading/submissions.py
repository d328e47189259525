"""Finding a class's submissions, and staging each one before any student code runs.

Accepted layouts for SUBMISSIONS: nbgrader's ``submitted/`` tree
(``<student>/<assignment>/<assignment>.ipynb``), a folder of notebooks named by student, or a
zip of either. A notebook's file name gives the student id: the assignment's name is removed
from the stem with the separators around it, so an LMS download
``alice_02_recurrent_networks.ipynb`` is ``alice`` and ``alice.ipynb`` is ``alice``; ids are
then made safe (letters, digits, ``_.-``) and a second submission under one id gets a suffix.
Each notebook is read without following links, at most ``MAX_SUBMISSION_BYTES``, copied into a
private staging folder and hashed; grading reads only that copy, and the original is never
written.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from coursekit.grading.outcomes import bounded, safe_student_id

__all__ = ["MAX_SUBMISSION_BYTES", "Submission", "discover"]


@dataclass
class Submission:
    student: str  # made safe once, at discovery (outcomes.safe_student_id)
    path: str | None  # the private staged copy; None when the student handed in no notebook
    problem: str = ""  # what discovery noticed (a wrong file name, a missing notebook)
    original: str | None = None  # where it was found (feedback shows the student's cells)
    sha256: str = ""  # of the staged copy, taken at discovery, before any student code ran
    data: bytes | None = None  # the staged bytes, sent along to graders on other machines


MAX_SUBMISSION_BYTES = 20 << 20
MAX_ZIP_BYTES = 2 << 30


def _safe_extract(archive: Path, target: Path) -> Path:
    """Unzip without letting a member escape ``target`` (no absolute paths, no ``..``)."""
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise ValueError(f"{archive.name} unpacks to more than {MAX_ZIP_BYTES >> 30} GiB")
        for member in members:
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


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file, never through a link, at most MAX_SUBMISSION_BYTES."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        if info.st_size > MAX_SUBMISSION_BYTES:
            raise ValueError(f"{path.name} is larger than {MAX_SUBMISSION_BYTES >> 20} MiB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_SUBMISSION_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_SUBMISSION_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_SUBMISSION_BYTES >> 20} MiB")
    return data


def _found(submissions: Path, assignment: str) -> list[tuple[str, Path | None, str]]:
    """(raw student id, notebook or None, problem) for each entry of the submissions folder."""
    expected = f"{assignment}.ipynb"
    found = []
    for entry in sorted(submissions.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            found.append((entry.name.removesuffix(".ipynb"), None, f"{entry.name} is a link"))
        elif entry.is_dir():  # nbgrader's tree: <student>/<assignment>/<notebook>
            folder = entry / assignment
            folder = folder if folder.is_dir() and not folder.is_symlink() else entry
            notebooks = sorted(folder.glob("*.ipynb"))
            if (folder / expected) in notebooks:
                found.append((entry.name, folder / expected, ""))
            elif len(notebooks) == 1:
                problem = f"the notebook is named {notebooks[0].name}; expected {expected}"
                found.append((entry.name, notebooks[0], problem))
            else:
                what = "no notebook" if not notebooks else f"{len(notebooks)} notebooks"
                found.append((entry.name, None, f"{what} found; expected {expected}"))
        elif entry.suffix == ".ipynb":
            found.append((_student_from_filename(entry.stem, assignment), entry, ""))
        else:
            student = _student_from_filename(entry.stem, assignment)
            found.append((student, None, f"{entry.name} is not a notebook (.ipynb)"))
    return found


def discover(submissions: Path, assignment: str, scratch: Path) -> list[Submission]:
    """The submissions under ``submissions`` (a folder or a zip), one per student.

    Each notebook is copied into a private staging folder under ``scratch`` and hashed now,
    before any student code runs; grading reads only the staged copy. Student ids are made
    safe here (letters, digits, ``_.-``), and ids that collide get a suffix and a note.
    """
    if submissions.is_file() and zipfile.is_zipfile(submissions):
        submissions = _safe_extract(submissions, scratch / "unzipped")
    if not submissions.is_dir():
        raise ValueError(f"{submissions} is neither a folder nor a zip of submissions")
    staging = scratch / "staging"
    staging.mkdir(mode=0o700)
    result: list[Submission] = []
    taken: set[str] = set()
    for raw, notebook, problem in _found(submissions, assignment):
        student = safe_student_id(raw)
        if student != raw:
            problem = "; ".join(
                x for x in [problem, f"student id {bounded(raw, 80)!r} made safe"] if x
            )
        if student in taken:
            n = 2
            while f"{student}_{n}" in taken:
                n += 1
            student = f"{student}_{n}"
            problem = "; ".join(x for x in [problem, "a second submission under this id"] if x)
        taken.add(student)
        if notebook is None:
            result.append(Submission(student, None, problem))
            continue
        try:
            data = _read_regular(notebook)
        except (OSError, ValueError) as exc:
            reason = bounded(exc, 200)
            result.append(Submission(student, None, reason))
            continue
        staged = staging / f"{student}.ipynb"
        staged.write_bytes(data)
        os.chmod(staged, 0o600)
        digest = hashlib.sha256(data).hexdigest()
        result.append(Submission(student, str(staged), problem, str(notebook), digest))
    return result
