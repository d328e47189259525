"""Generate the students' release (``exercises/``) from the source (``solutions/``) with nbgrader.

``coursekit release`` runs nbgrader's own ``generate_assignment`` for every assignment in
``solutions/`` (solutions replaced by stubs, hidden tests removed, outputs cleared, checksums
of locked cells recorded) into ``exercises/``. ``coursekit release --check`` generates into a
temporary folder and fails when the committed ``exercises/`` differs, so a release can never
go stale silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = [
    "assignments",
    "generate",
    "register_assignment",
    "release",
    "run_nbgrader",
    "stale_files",
]


def assignments(course: Path) -> list[str]:
    """The assignment names: the folders of ``solutions/`` that hold a notebook."""
    source = course / "solutions"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def ensure_tools_on_path() -> None:
    """nbgrader runs ``alembic`` by name: put this environment's bin folder first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def run_nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run an nbgrader command on the course at ``root`` (our folder names); raise if it fails."""
    ensure_tools_on_path()
    command = [
        sys.executable,
        "-m",
        "nbgrader",
        *args,
        f"--CourseDirectory.root={root}",
        "--CourseDirectory.source_directory=solutions",
        "--CourseDirectory.release_directory=exercises",
    ]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def generate(course: Path, name: str, release_dir: Path) -> None:
    """Run ``nbgrader generate_assignment`` for ``name`` from ``course`` into ``release_dir``."""
    with tempfile.TemporaryDirectory(prefix="coursekit-release-") as tmp:
        # A private course root keeps nbgrader's gradebook and logs out of the repository.
        root = Path(tmp)
        shutil.copytree(course / "solutions" / name, root / "solutions" / name)
        run_nbgrader(
            root,
            "generate_assignment",
            name,
            "--force",
            "--no-db",
            "--ClearOutput.enabled=True",
        )
        if release_dir.exists():
            shutil.rmtree(release_dir)
        shutil.copytree(root / "exercises" / name, release_dir)


def register_assignment(course: Path, name: str, db_url: str) -> None:
    """Let nbgrader itself record the assignment, its notebook and its graded cells in the
    gradebook at ``db_url`` (what formgrader lists, and what ``coursekit grade`` fills)."""
    with tempfile.TemporaryDirectory(prefix="coursekit-gradebook-") as tmp:
        root = Path(tmp)
        shutil.copytree(course / "solutions" / name, root / "solutions" / name)
        run_nbgrader(root, "generate_assignment", name, "--force", f"--db={db_url}")


def _contents(folder: Path) -> dict[str, object]:
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = str(path.relative_to(folder))
        files[key] = json.loads(path.read_text()) if path.suffix == ".ipynb" else path.read_bytes()
    return files


def stale_files(course: Path, name: str) -> list[str]:
    """Files of ``exercises/<name>`` that differ from a fresh release (empty when in sync)."""
    committed = course / "exercises" / name
    with tempfile.TemporaryDirectory(prefix="coursekit-release-check-") as tmp:
        fresh = Path(tmp) / name
        generate(course, name, fresh)
        want = _contents(fresh)
    have = _contents(committed) if committed.exists() else {}
    return sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))


def release(
    course: Path, names: list[str] | None = None, check: bool = False, gradebook: Path | None = None
) -> int:
    """Generate (or, with ``check``, verify) the release; returns a process exit code. With
    ``gradebook`` (an nbgrader gradebook file), each released assignment is registered there."""
    names = names or assignments(course)
    unknown = sorted(set(names) - set(assignments(course)))
    if unknown:
        print(f"no such assignment in solutions/: {', '.join(unknown)}", file=sys.stderr)
        return 2
    problems = 0
    for name in names:
        if check:
            stale = stale_files(course, name)
            if stale:
                problems += 1
                print(f"exercises/{name} is stale: {', '.join(stale)}", file=sys.stderr)
            else:
                print(f"exercises/{name} is in sync with solutions/{name}")
        else:
            generate(course, name, course / "exercises" / name)
            print(f"released solutions/{name} -> exercises/{name}")
            if gradebook is not None:
                gradebook.parent.mkdir(parents=True, exist_ok=True)
                register_assignment(course, name, f"sqlite:///{gradebook.resolve()}")
                print(f"registered {name} in {gradebook}")
    if problems:
        print(
            "run `coursekit release` (or `make notebooks`) and commit exercises/", file=sys.stderr
        )
    return 1 if problems else 0
