"""The grader's side of the evaluation process (see ``sandbox_main.py`` for the other side).

:func:`run_sandbox` writes a request into a private folder, starts ``python -I
sandbox_main.py`` inside an OS sandbox (bubblewrap, :mod:`coursekit.grading.bubblewrap`) and reads back
what it reports. Whatever happens inside (an exception, an infinite loop, ``os._exit``, a
segfault, a memory bomb, 100 MB of printing, a forged or oversized report) becomes a status
and a reason in the result; this process never raises for it and never blocks on it.

The sandbox itself (what it lets the evaluation see, and its limits) is
:mod:`coursekit.grading.bubblewrap`.

The request (``/request/request.json``, written here, read there)::

    {"cells": [str], "cell_timeout": s, "call_timeout": s, "limits": {RLIMIT_*: int},
     "python_guard": bool, "blocked_dir": str, "forbidden_modules": [str],
     "skip_cells": {"<index>": reason}, "skip_calls": {"<call id>": reason},
     "calls": [{"id": str, "function": str, "args": [...], "kwargs": {...},
                "arrays": "<id>_in.npz", "cotangents": "<id>_cot.npz",
                "n_cotangents": int | null, "forbidden": [str]}]}

The report: lines of JSON on a pipe (file descriptor ``FD``), read and checked by
:mod:`coursekit.grading.report` up to ``REPORT_BYTES`` (the printed output only as its last
``OUTPUT_TAIL`` bytes). Nothing is read back from any file the evaluation could write.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coursekit.grading.bubblewrap import (
    PACKAGE_DIR,
    REQUEST_DIR,
    environment,
    sandbox_command,
    sandbox_problem,
)
from coursekit.grading.report import ReportState, read_lines

RUNNER = Path(__file__).with_name("sandbox_main.py")
EVALUATE = Path(__file__).with_name("evaluate.py")
OUTPUT_TAIL = 4000  # bytes of the student's printing kept for messages
REPORT_BYTES = 64 << 20  # the most a report may be

__all__ = [
    "Call",
    "SandboxResult",
    "SandboxUnavailable",
    "run_sandbox",
]


class SandboxUnavailable(RuntimeError):
    """The OS sandbox cannot run on this machine; the message says what is missing."""


@dataclass
class Call:
    """One evaluation: ``function(*args, **kwargs)`` on ``arrays``, backward with ``cotangents``."""

    id: str
    function: str
    args: list
    kwargs: dict
    arrays: dict[str, np.ndarray]
    cotangents: list[np.ndarray | None] | None  # None: the gradients are not checked
    forbidden: tuple[str, ...] = ()  # torch functions this call may not use


@dataclass
class SandboxResult:
    status: str  # "ok", "timeout", "crashed" or "invalid" (the report broke the schema)
    reason: str = ""  # why, when the status is not "ok"
    cell_errors: dict[int, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    forbidden: dict[str, str] = field(default_factory=dict)  # call id -> forbidden name called
    forbidden_in_cells: list[str] = field(default_factory=list)
    printed: str = ""
    isolation: str = "bubblewrap"  # or "none"


# -- running it -----------------------------------------------------------------------------------


def _limits(memory_bytes: int, total_timeout: float, work_bytes: int, isolated: bool) -> dict:
    limits = {
        "RLIMIT_AS": memory_bytes,
        "RLIMIT_CORE": 0,
        "RLIMIT_CPU": int(math.ceil(total_timeout)) + 5,
        "RLIMIT_FSIZE": work_bytes,
        "RLIMIT_NOFILE": 512,
    }
    if isolated:  # outside a user namespace it would count the grader's own processes
        limits["RLIMIT_NPROC"] = 256
    return limits


def run_sandbox(
    cells: list[str],
    calls: list[Call],
    *,
    cell_timeout: float = 60.0,
    call_timeout: float = 60.0,
    total_timeout: float = 600.0,
    memory_bytes: int = 6 << 30,
    work_bytes: int = 256 << 20,
    forbidden_modules: tuple[str, ...] = ("coursekit",),
    max_restarts: int = 3,
    isolation: bool = True,
    python_guard: bool = True,
) -> SandboxResult:
    """Run ``cells`` in a fresh sandbox, then evaluate ``calls``; never raises for student faults.

    ``total_timeout`` is one wall-clock deadline for everything, restarts included.
    ``isolation=False`` runs without the OS sandbox (a plain child process with the Python
    guard); ``python_guard=False`` leaves the OS sandbox alone (the isolation tests use it).
    Raises :class:`SandboxUnavailable` when isolation is asked for and cannot run.
    """
    if isolation and (problem := sandbox_problem()):
        raise SandboxUnavailable(problem)
    deadline = time.monotonic() + total_timeout
    # a cell or call whose own alarm did not stop it (it swallowed the exception) is killed
    stall_limit = {"cell": 2 * cell_timeout + 1, "call": 2 * call_timeout + 1}
    state = ReportState(cells={i for i in range(len(cells))}, calls={c.id: c for c in calls})
    with tempfile.TemporaryDirectory(prefix="coursekit-sandbox-") as tmp:
        request_dir, work = Path(tmp) / "request", Path(tmp) / "work"
        request_dir.mkdir()
        work.mkdir()
        shutil.copyfile(RUNNER, request_dir / "sandbox_main.py")
        shutil.copyfile(EVALUATE, request_dir / "evaluate.py")
        request = {
            "cells": cells,
            "calls": [],
            "cell_timeout": cell_timeout,
            "call_timeout": call_timeout,
            "limits": _limits(memory_bytes, total_timeout, work_bytes, isolation),
            "python_guard": python_guard,
            "blocked_dir": str(PACKAGE_DIR),
            "forbidden_modules": list(forbidden_modules),
            "skip_cells": {},
            "skip_calls": {},
        }
        for call in calls:
            np.savez(request_dir / f"{call.id}_in.npz", **call.arrays)
            cotangents = {f"c{i}": c for i, c in enumerate(call.cotangents or []) if c is not None}
            np.savez(request_dir / f"{call.id}_cot.npz", **cotangents)
            request["calls"].append(
                {
                    "id": call.id,
                    "function": call.function,
                    "args": call.args,
                    "kwargs": call.kwargs,
                    "arrays": f"{call.id}_in.npz",
                    "cotangents": f"{call.id}_cot.npz",
                    "n_cotangents": None if call.cotangents is None else len(call.cotangents),
                    "forbidden": list(call.forbidden),
                }
            )
        # A cell or call that kills the process (os._exit, a segfault, an endless loop that
        # swallows the alarm) is recorded and skipped, and the rest runs again, so the other
        # questions are still graded; calls already answered are not run again.
        first_failure: tuple[str, str] | None = None
        for _ in range(max_restarts + 1):
            request["skip_calls"] = {
                k: "" for k in state.calls if k in state.errors or k in state.outputs
            }
            (request_dir / "request.json").write_text(json.dumps(request))
            state.progress = None
            status, reason = _run_once(
                request_dir, work, deadline, stall_limit, work_bytes, state, isolation
            )
            if status == "ok":
                break
            first_failure = first_failure or (status, reason)
            if status in ("invalid",) or time.monotonic() >= deadline:
                break
            kind, key = state.progress or (None, None)
            why = f"{status}: {reason} (while running this {kind})"
            if kind == "cell" and str(key) not in request["skip_cells"]:
                request["skip_cells"][str(key)] = why
                state.cell_errors.setdefault(key, why)
            elif kind == "call" and key not in state.errors:
                state.errors[key] = why
                function = state.calls[key].function
                for other in calls:  # its other cases would most likely crash too
                    if other.function == function and other.id not in state.outputs:
                        state.errors.setdefault(other.id, "skipped: an earlier case crashed")
            else:
                break  # it died outside any cell or call: nothing left to skip
        status, reason = first_failure or (status, reason)
    result = SandboxResult(
        status=status,
        reason=reason,
        cell_errors=dict(state.cell_errors),
        outputs=state.outputs,
        forbidden=state.forbidden,
        forbidden_in_cells=state.forbidden_in_cells,
        printed=state.printed.decode("utf-8", "replace"),
        isolation="bubblewrap" if isolation else "none",
    )
    for call in calls:
        if call.id in state.errors:
            result.errors[call.id] = state.errors[call.id]
        elif call.id not in state.outputs:
            result.errors[call.id] = (
                f"not evaluated ({status}: {reason})"
                if reason
                else ("not evaluated (the evaluation ended without reporting it)")
            )
    return result


def _run_once(
    request_dir: Path,
    work: Path,
    deadline: float,
    stall_limit: dict[str, float],
    work_bytes: int,
    state: ReportState,
    isolated: bool,
) -> tuple[str, str]:
    """Run the evaluation once; returns ("ok", "") or (status, reason).

    It is killed at ``deadline``, or when one cell or call has run ``stall_limit`` seconds
    (its own alarm having failed to stop it), so that a restart can skip it."""
    report_read, report_write = os.pipe()
    out_read, out_write = os.pipe()
    runner_dir = REQUEST_DIR if isolated else str(request_dir)
    argv = [sys.executable, "-I", f"{runner_dir}/sandbox_main.py", runner_dir, str(report_write)]
    if isolated:
        command, env, cwd = sandbox_command(request_dir, work_bytes, argv), {}, None
    else:
        command, env, cwd = argv, environment(str(work)), work
    state.done = False
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_write,
            stderr=out_write,
            pass_fds=(report_write,),
            start_new_session=True,
        )
    finally:
        os.close(report_write)
        os.close(out_write)
    pending = bytearray()  # the report's unfinished line
    received = 0
    problem: tuple[str, str] | None = None
    progress_at = None  # when the cell or call now running began
    selector = selectors.DefaultSelector()
    try:
        for fd in (report_read, out_read):
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        exited_at = None
        while selector.get_map() and problem is None:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and (state.done or now - exited_at > 2):
                break  # whatever else holds the pipes open is killed below
            if now >= deadline:
                problem = ("timeout", "the evaluation ran past the notebook's time limit")
                break
            kind = state.progress[0] if state.progress else "cell"
            if progress_at is not None and now - progress_at > stall_limit[kind]:
                problem = ("timeout", f"a {kind} ran on past its time limit, ignoring the alarm")
                break
            for key, _ in selector.select(min(deadline - now, 0.5)):
                try:
                    data = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(key.fd)
                elif key.fd == out_read:
                    state.printed = (state.printed + data)[-OUTPUT_TAIL:]
                else:
                    received += len(data)
                    if received > REPORT_BYTES:
                        limit = REPORT_BYTES >> 20
                        problem = ("invalid", f"the evaluation reported more than {limit} MiB")
                        break
                    pending += data
                    *lines, rest = bytes(pending).split(b"\n")
                    pending = bytearray(rest)
                    before = state.progress
                    invalid = read_lines(lines, state)
                    if invalid:
                        problem = ("invalid", invalid)
                        break
                    if state.progress is not before:
                        progress_at = time.monotonic()
                    if state.done:
                        progress_at = None
    finally:
        selector.close()
        _kill(proc)
        os.close(report_read)
        os.close(out_read)
    if problem:
        return problem
    if proc.returncode != 0:
        return "crashed", _exit_reason(proc.returncode, isolated)
    if not state.done:
        return "crashed", "the evaluation process ended without reporting"
    return "ok", ""


def _kill(proc: subprocess.Popen) -> None:
    """The sandbox and everything in it: its PID namespace dies with its first process."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _exit_reason(returncode: int, isolated: bool) -> str:
    signum = -returncode if returncode < 0 else returncode - 128 if isolated else 0
    if 0 < signum < 65:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return f"the evaluation process was killed by {name}"
    return f"the evaluation process exited with code {returncode} before finishing"
