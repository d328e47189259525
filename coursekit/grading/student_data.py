"""Student data stays out of the course's repository.

Grades, per-student results, feedback pages (which quote the students' code) and exports are
student data. The course repository ignores ``grading/`` and the usual export names
(``.gitignore``); :func:`warn_if_not_ignored` warns when ``coursekit grade`` or ``feedback``
writes somewhere inside a git work tree that git would pick up with ``git add .``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["not_ignored", "warn_if_not_ignored"]


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git here: nothing to warn about


def not_ignored(path: Path) -> bool:
    """Whether ``path`` lies inside a git work tree and git does not ignore it."""
    folder = path if path.is_dir() else path.parent
    while not folder.is_dir() and folder != folder.parent:  # the nearest folder that exists
        folder = folder.parent
    inside = _git(folder, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.returncode != 0 or inside.stdout.strip() != "true":
        return False
    ignored = _git(folder, "check-ignore", "-q", str(path.resolve()))
    return ignored is not None and ignored.returncode == 1  # 0: ignored, 1: not ignored


def warn_if_not_ignored(path: Path, what: str) -> bool:
    """Print a warning on stderr when ``path`` (holding ``what``) is not ignored by git."""
    if not not_ignored(path):
        return False
    print(
        f"WARNING: {path} ({what}: student data) is inside a git work tree and not ignored; "
        "one `git add .` would put it in the repository. Add it to .gitignore, or write it "
        "elsewhere (--output).",
        file=sys.stderr,
    )
    return True
