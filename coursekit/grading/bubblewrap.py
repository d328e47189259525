"""The OS sandbox student code runs in: bubblewrap's command line, and whether it runs here.

The sandbox (bubblewrap, Debian package ``bubblewrap``): fresh user, PID, network, IPC, UTS,
cgroup and mount namespaces; uid and gid 65534 with no capabilities and no way to create
further user namespaces; a new session (no terminal); a file system that holds only ``/usr``
(and its ``/bin``, ``/lib`` links), a few files of ``/etc`` that the dynamic loader reads and
the Python installation, all read-only; the request folder, read-only, at ``/request``; one
writable folder, ``/submission``, a tmpfs capped at ``work_bytes``; its own ``/proc`` (its own
processes only) and a minimal ``/dev``; an environment of seven variables. coursekit's
package folder is hidden even where the Python installation holds it. The evaluation and
everything it starts live in the PID namespace, which dies with its first process: when the
grader kills the sandbox (``SIGKILL`` to its process group) at the end of every run, no
process of it survives. Resource limits are set by the evaluation process itself, before
anything else runs (``sandbox_main.py``), and are inherited by all it starts.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = [
    "PACKAGE_DIR",
    "REQUEST_DIR",
    "WORK_DIR",
    "environment",
    "sandbox_command",
    "sandbox_problem",
]

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the coursekit package
WORK_DIR = "/submission"  # the only writable folder inside the sandbox
REQUEST_DIR = "/request"
SANDBOX_UID = 65534  # nobody


def _python_roots() -> list[str]:
    """The folders of the Python installation the evaluation needs (venv and base), outermost."""
    roots = {
        os.path.realpath(p)
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    roots.add(os.path.dirname(os.path.realpath(sys.executable)))
    roots |= {p for p in (os.path.abspath(sys.prefix), os.path.abspath(sys.base_prefix))}
    roots = {r for r in roots if r != "/" and not r.startswith("/usr/")}
    ordered = sorted(roots)
    return [r for r in ordered if not any(r.startswith(o + os.sep) for o in ordered if o != r)]


def sandbox_command(request_dir: Path, work_bytes: int, argv: list[str]) -> list[str]:
    """The bubblewrap command line that runs ``argv`` in the sandbox (see the module doc)."""
    command = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
    ]
    command += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    command += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    command += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            command += ["--ro-bind", str(path), str(path)]
    for etc in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives"):
        command += ["--ro-bind-try", f"/etc/{etc}", f"/etc/{etc}"]
    for root in _python_roots():
        command += ["--ro-bind", root, root]
    package = str(PACKAGE_DIR)
    if package.startswith("/usr/") or any(package.startswith(r + os.sep) for r in _python_roots()):
        command += ["--tmpfs", package, "--remount-ro", package]  # installed: hide it
    command += ["--ro-bind", str(request_dir), REQUEST_DIR]
    command += ["--proc", "/proc", "--dev", "/dev"]
    command += ["--size", str(work_bytes), "--perms", "0700", "--tmpfs", WORK_DIR]
    command += ["--remount-ro", "/", "--chdir", WORK_DIR, "--clearenv"]
    for key, value in environment(WORK_DIR).items():
        command += ["--setenv", key, value]
    return [*command, "--", *argv]


def environment(work: str) -> dict[str, str]:
    """All the evaluation sees of an environment: nothing of the grader's."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": work,
        "TMPDIR": work,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


@functools.cache
def sandbox_problem() -> str | None:
    """None when the sandbox runs here; else what is missing and how to get it."""
    if not sys.platform.startswith("linux"):
        return (
            f"the OS sandbox needs Linux (bubblewrap); this is {sys.platform}. Grade on a Linux "
            "machine, or pass --no-isolation to run student code unisolated"
        )
    if shutil.which("bwrap") is None:
        return (
            "bubblewrap (bwrap) is not installed; it runs student code in an OS sandbox. "
            "Install it: `make sandbox-deps` or `apt-get install bubblewrap` as root "
            "(Fedora: `dnf install bubblewrap`), or pass --no-isolation to run unisolated"
        )
    with tempfile.TemporaryDirectory(prefix="coursekit-probe-") as tmp:
        argv = [sys.executable, "-I", "-c", "import numpy, torch"]
        try:
            done = subprocess.run(
                sandbox_command(Path(tmp), 1 << 20, argv),
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=300,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap did not start: {exc}"
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return (
            f"bubblewrap cannot create its sandbox here ({said[-1] if said else done.returncode}). "
            "Unprivileged user namespaces may be disabled: on Ubuntu 23.10 and later AppArmor "
            "restricts them (kernel.apparmor_restrict_unprivileged_userns); see the README, "
            "'The trust model', for how to allow bwrap. Or pass --no-isolation to run unisolated"
        )
    return None
