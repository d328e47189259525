"""The grader's side of the evaluation process (see ``sandbox_main.py`` for the other side).

:func:`run_sandbox` writes a request into a fresh temporary folder, starts
``python -I sandbox_main.py`` there with a memory limit and a wall-clock limit, and reads back
only plain data: JSON and ``.npz`` arrays loaded with ``allow_pickle=False``. Whatever
happens inside (an exception, an infinite loop, ``os._exit``, a segfault, a memory bomb,
100 MB of printing) becomes an error string in the result; this process never raises for it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import coursekit

RUNNER = Path(__file__).with_name("sandbox_main.py")
PACKAGE_DIR = Path(coursekit.__file__).resolve().parent
OUTPUT_TAIL = 4000  # characters of the student's printing kept for messages


@dataclass
class Call:
    """One evaluation: ``function(*args, **kwargs)`` on ``arrays``, backward with ``cotangents``."""

    id: str
    function: str
    args: list
    kwargs: dict
    arrays: dict[str, np.ndarray]
    cotangents: list[np.ndarray | None] | None  # None: the gradients are not checked


@dataclass
class SandboxResult:
    status: str  # "ok", or why the process did not finish cleanly
    cell_errors: dict[int, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    printed: str = ""


def _limit_memory(memory_bytes: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _exit_reason(returncode: int) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return f"crashed: the evaluation process was killed by {name}"
    return f"crashed: the evaluation process exited with code {returncode} before finishing"


def run_sandbox(
    cells: list[str],
    calls: list[Call],
    *,
    cell_timeout: float = 60.0,
    call_timeout: float = 60.0,
    total_timeout: float = 600.0,
    memory_bytes: int = 6 << 30,
    forbidden_modules: tuple[str, ...] = ("coursekit",),
    max_restarts: int = 3,
) -> SandboxResult:
    """Run ``cells`` in a fresh process, then evaluate ``calls``; never raises for student faults."""
    with tempfile.TemporaryDirectory(prefix="coursekit-sandbox-") as tmp:
        work = Path(tmp)
        request = {
            "cells": cells,
            "calls": [],
            "cell_timeout": cell_timeout,
            "call_timeout": call_timeout,
            "blocked_dir": str(PACKAGE_DIR),
            "forbidden_modules": list(forbidden_modules),
        }
        for call in calls:
            np.savez(work / f"{call.id}_in.npz", **call.arrays)
            cotangents = {f"c{i}": c for i, c in enumerate(call.cotangents or []) if c is not None}
            np.savez(work / f"{call.id}_cot.npz", **cotangents)
            request["calls"].append(
                {
                    "id": call.id,
                    "function": call.function,
                    "args": call.args,
                    "kwargs": call.kwargs,
                    "arrays": f"{call.id}_in.npz",
                    "cotangents": f"{call.id}_cot.npz",
                    "n_cotangents": None if call.cotangents is None else len(call.cotangents),
                }
            )
        # A cell or call that kills the process (os._exit, a segfault, an endless loop that
        # swallows the alarm) is recorded and skipped, and the rest runs again, so the other
        # questions are still graded.
        request["skip_cells"], request["skip_calls"] = {}, {}
        first_failure = None
        for _ in range(max_restarts + 1):
            (work / "request.json").write_text(json.dumps(request))
            status = _run_once(work, total_timeout, memory_bytes)
            if status == "ok":
                break
            first_failure = first_failure or status
            progress = work / "progress.txt"
            kind, _, key = (progress.read_text() if progress.exists() else "").partition(" ")
            reason = f"{status} (while running this {kind})"
            if kind == "cell" and key not in request["skip_cells"]:
                request["skip_cells"][key] = reason
            elif kind == "call" and key not in request["skip_calls"]:
                request["skip_calls"][key] = reason
                function = next(c.function for c in calls if c.id == key)
                for other in calls:  # its other cases would most likely crash too
                    if other.function == function and other.id != key:
                        request["skip_calls"].setdefault(
                            other.id, "skipped: an earlier case crashed"
                        )
            else:
                break  # it died outside any cell or call: nothing left to skip
        result = SandboxResult(status=first_failure or status, printed=_tail(work / "printed.txt"))
        results_file = work / "results.json"
        try:
            reported = json.loads(results_file.read_text()) if results_file.exists() else {}
        except ValueError:
            reported = {}
        if "MemoryError" in result.printed and result.status != "ok":
            result.status = "memory: the evaluation ran out of its memory limit"
        cell_errors = {**request["skip_cells"], **reported.get("cell_errors", {})}
        result.cell_errors = {int(k): str(v) for k, v in cell_errors.items()}
        for call in calls:
            outcome = reported.get("calls", {}).get(call.id)
            if call.id in request["skip_calls"]:
                outcome = {"error": request["skip_calls"][call.id]}
            if not isinstance(outcome, dict):
                result.errors[call.id] = f"not evaluated ({result.status})"
            elif outcome.get("ok"):
                try:
                    with np.load(work / f"{call.id}_out.npz", allow_pickle=False) as data:
                        result.outputs[call.id] = {k: data[k] for k in data.files}
                except (OSError, ValueError) as exc:
                    result.errors[call.id] = f"unreadable result ({exc})"
            else:
                result.errors[call.id] = str(outcome.get("error", "unknown error"))[:2000]
        return result


def _run_once(work: Path, total_timeout: float, memory_bytes: int) -> str:
    """Run the evaluation process once in ``work``; returns "ok" or why it did not finish."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    (work / "results.json").unlink(missing_ok=True)
    with open(work / "printed.txt", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(RUNNER), str(work)],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_limit_memory(memory_bytes),
            start_new_session=True,
        )
        try:
            proc.wait(timeout=total_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return f"timeout: the evaluation ran past {total_timeout:.0f} s"
    if proc.returncode != 0:
        return _exit_reason(proc.returncode)
    if not (work / "results.json").exists():
        return "crashed: the evaluation process ended without reporting"
    return "ok"


def _tail(path: Path) -> str:
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - OUTPUT_TAIL))
        return f.read().decode("utf-8", "replace")
