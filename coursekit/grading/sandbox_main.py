"""The evaluation process: runs a student's answer cells and evaluates their functions.

Started by :mod:`coursekit.grading.sandbox` as ``python -I sandbox_main.py WORKDIR``; it is a
script, not a coursekit import, so coursekit is never loaded here. Before any student code
runs it installs an audit hook (PEP 578; an audit hook cannot be removed) that refuses to
import coursekit, to open its files, to start processes or to open sockets, so the reference
implementation is out of reach. It then executes the cells, calls the requested functions on
the arrays it is given, and writes outputs and gradients as ``.npz`` files (no pickle).

Nothing here judges: whatever this process writes is compared with the reference in the
grader's own process, so a student who takes this process over gains nothing but the power
to write wrong numbers.
"""

import importlib.util
import json
import os
import signal
import sys
import traceback
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("_coursekit_evaluate", HERE / "evaluate.py")
evaluate_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluate_module)

BLOCKED_EVENTS = (
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "socket.connect",
    "socket.bind",
    "ctypes.dlopen",
)


class CellTimeout(BaseException):
    """Raised by the alarm when one cell or one call runs past its limit."""


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PATH_EVENTS = (
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.truncate",
    "os.chmod",
    "os.chown",
    "os.link",
    "os.symlink",
    "os.mkdir",
    "os.utime",
    "shutil.rmtree",
    "shutil.move",
)


def install_guard(blocked_dir: str, workdir: str, forbidden_modules: list[str]) -> None:
    """Refuse coursekit, new processes, sockets, and any write outside the working folder."""
    blocked = os.path.realpath(blocked_dir) + os.sep
    writable = (os.path.realpath(workdir) + os.sep, "/dev/null")

    def inside_workdir(path) -> bool:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return True  # a file descriptor: opened earlier, under these same rules
        real = os.path.realpath(os.fsdecode(path))
        return real == "/dev/null" or real.startswith(writable[0])

    def guard(event, args):
        if event == "import":
            name = args[0] or ""
            if any(name == m or name.startswith(m + ".") for m in forbidden_modules):
                raise ImportError(f"importing {name} is not allowed in graded code")
        elif event == "open":
            path, mode, flags = args
            if isinstance(path, (str, bytes, os.PathLike)):
                real = os.path.realpath(os.fsdecode(path))
                if real.startswith(blocked):
                    raise PermissionError(f"reading {real} is not allowed in graded code")
            writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & WRITE_FLAGS)
            if writing and not inside_workdir(path):
                raise PermissionError(f"writing {path} is not allowed in graded code")
        elif event in PATH_EVENTS:
            if not all(
                inside_workdir(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))
            ):
                raise PermissionError(f"{event} outside the working folder is not allowed")
        elif event in BLOCKED_EVENTS:
            raise PermissionError(f"{event} is not allowed in graded code")

    sys.addaudithook(guard)


def on_alarm(signum, frame):
    raise CellTimeout()


def describe(exc: BaseException) -> str:
    if isinstance(exc, CellTimeout):
        return "TimeoutError: ran past the time limit"
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()[-2000:]


def main(workdir: str) -> None:
    work = Path(workdir)
    request = json.loads((work / "request.json").read_text())
    calls = request["calls"]
    inputs = {c["id"]: dict(np.load(work / c["arrays"], allow_pickle=False)) for c in calls}
    cotangents = {}
    for c in calls:
        stored = dict(np.load(work / c["cotangents"], allow_pickle=False))
        n = c["n_cotangents"]
        cotangents[c["id"]] = None if n is None else [stored.get(f"c{i}") for i in range(n)]
    results_path = work / "results.json"
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, on_alarm)
    install_guard(request["blocked_dir"], workdir, request["forbidden_modules"])

    progress = work / "progress.txt"

    def mark(what: str) -> None:
        """Say what runs now, so the grader can skip it if the process dies here."""
        progress.write_text(what)

    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    cell_errors = dict(request["skip_cells"])
    for index, source in enumerate(request["cells"]):
        if str(index) in cell_errors:
            continue
        mark(f"cell {index}")
        signal.setitimer(signal.ITIMER_REAL, request["cell_timeout"])
        try:
            exec(compile(source, f"<cell {index}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - a student cell may raise anything
            cell_errors[index] = describe(exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    outcomes = {k: {"error": v} for k, v in request["skip_calls"].items()}
    timed_out: set[str] = set()
    for call in calls:
        if call["id"] in outcomes:
            continue
        if call["function"] in timed_out:
            outcomes[call["id"]] = {"error": "skipped: an earlier case ran past the time limit"}
            continue
        mark(f"call {call['id']}")
        fn = namespace.get(call["function"])
        if not callable(fn):
            outcomes[call["id"]] = {"error": f"NameError: {call['function']} is not defined"}
            continue
        signal.setitimer(signal.ITIMER_REAL, request["call_timeout"])
        try:
            arrays = evaluate_module.evaluate(
                fn, call["args"], call["kwargs"], inputs[call["id"]], cotangents[call["id"]]
            )
            signal.setitimer(signal.ITIMER_REAL, 0)
            np.savez(work / f"{call['id']}_out.npz", **arrays)
            outcomes[call["id"]] = {"ok": True}
        except BaseException as exc:  # noqa: BLE001
            signal.setitimer(signal.ITIMER_REAL, 0)
            outcomes[call["id"]] = {"error": describe(exc)}
            if isinstance(exc, CellTimeout):
                timed_out.add(call["function"])
    results_path.write_text(json.dumps({"cell_errors": cell_errors, "calls": outcomes}))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter shutdown, which student objects could hook


if __name__ == "__main__":
    main(sys.argv[1])
