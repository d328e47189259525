"""The evaluation process: runs a student's answer cells and evaluates their functions.

Started by :mod:`coursekit.grading.sandbox` as ``python -I sandbox_main.py REQUEST_DIR FD``,
inside the OS sandbox (bubblewrap) where coursekit does not exist. It is a script, not a
coursekit import; ``evaluate.py`` is copied next to it and loaded by path. In order, before
any student code runs, it:

1. sets its own resource limits (memory, CPU time, file size, open files, processes): they
   are set here, in the child, and inherited by everything the student starts;
2. replaces the torch functions the graded functions may not call (``forbidden`` in the
   request: ``rnn_tanh_cell``, ``clip_grad_norm_`` …) by stubs that, while such a function is
   being evaluated, report the call and raise; whatever name the student spells them by, the
   object they reach is the stub;
3. installs an audit hook (PEP 578) that refuses coursekit, new processes, sockets and writes
   outside the working folder: a second, Python-level fence behind the OS one.

It then executes the cells, calls the requested functions on the arrays it is given, and
reports on file descriptor FD, one JSON object per line (the schema is in ``sandbox.py``).
Nothing here judges: the grader compares what it reads back with the reference, so a student
who takes this process over gains nothing but the power to write wrong numbers.
"""

import json
import os
import resource
import sys
from pathlib import Path

REQUEST_DIR = Path(sys.argv[1])
REPORT_FD = int(sys.argv[2])
REQUEST = json.loads((REQUEST_DIR / "request.json").read_text())


def set_limits(limits: dict) -> None:
    """Soft and hard limits alike, so student code cannot raise them again."""
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


set_limits(REQUEST["limits"])

import base64  # noqa: E402 - after the limits, which cover everything that follows
import importlib.util  # noqa: E402
import signal  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

_spec = importlib.util.spec_from_file_location("_grading_evaluate", REQUEST_DIR / "evaluate.py")
evaluate_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluate_module)

MESSAGE_CHARS = 2000  # the grader cuts again; this keeps the report small


def send(message: dict) -> None:
    """One line of the report. Written with os.write: no buffer for student code to hold."""
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(REPORT_FD, data) :]


class CellTimeout(BaseException):
    """Raised by the alarm when one cell or one call runs past its limit."""


class ForbiddenCall(BaseException):
    """Raised by a stub: the graded function called an implementation it must write."""


# -- 2. forbidden torch functions -----------------------------------------------------------------


def _namespaces() -> list:
    import torch.nn.functional
    import torch.nn.utils
    import torch.nn.utils.clip_grad

    spaces = [torch, torch._C._VariableFunctions, torch._VF, torch.nn.functional]
    spaces += [torch.nn.utils, torch.nn.utils.clip_grad, torch.autograd, torch.Tensor]
    spaces += [torch._C.TensorBase, torch.ops.aten]
    return spaces


def _stub(name: str, original, now: dict):
    def stub(*args, **kwargs):
        if name in now["forbidden"]:
            send({"forbidden": name, "call": now["call"]})
            raise ForbiddenCall(f"{name} may not be called by this function")
        return original(*args, **kwargs)

    stub.__name__ = getattr(original, "__name__", name)
    return stub


def install_stubs(names: list[str], now: dict) -> None:
    """Every torch function of a forbidden name, wherever it lives, becomes its stub.

    A stub raises only while ``now["forbidden"]`` names it: a function may be forbidden to
    one graded function (``backward`` to a hand-written BPTT) and needed by another.
    """
    for space in _namespaces():
        for name in names:
            try:
                original = getattr(space, name)
            except Exception:  # noqa: BLE001 - torch.ops raises its own errors for unknown ops
                continue
            if callable(original) and not isinstance(original, type):
                try:
                    setattr(space, name, _stub(name, original, now))
                except (AttributeError, TypeError):
                    pass


# -- 3. the Python-level fence ---------------------------------------------------------------------

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
    "os.kill",
    "os.killpg",
    "signal.pthread_kill",
)
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
    writable = os.path.realpath(workdir) + os.sep

    def inside_workdir(path) -> bool:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return True  # a file descriptor: opened earlier, under these same rules
        real = os.path.realpath(os.fsdecode(path))
        return real == "/dev/null" or real.startswith(writable)

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


# -- running -----------------------------------------------------------------------------------------


def on_alarm(signum, frame):
    raise CellTimeout()


def describe(exc: BaseException) -> dict:
    if isinstance(exc, CellTimeout):
        return {"type": "TimeoutError", "message": "ran past the time limit"}
    try:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    except BaseException:  # noqa: BLE001 - a student exception's __str__ may raise
        text = ""
    return {"type": type(exc).__name__[:100], "message": text[-MESSAGE_CHARS:]}


MAX_ELEMENTS = 1 << 22  # the grader refuses more (report.MAX_ELEMENTS); say so plainly


def encode(arrays: dict[str, np.ndarray]) -> dict:
    if sum(np.size(a) for a in arrays.values()) > MAX_ELEMENTS:
        raise ValueError(f"the outputs hold more than {MAX_ELEMENTS} numbers: too large")
    encoded = {}
    for key, value in arrays.items():
        array = np.asarray(value).copy(order="C")
        encoded[key] = {
            "dtype": array.dtype.name,
            "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode(),
        }
    return encoded


def main() -> None:
    request = REQUEST
    calls = request["calls"]
    inputs, cotangents = {}, {}
    for c in calls:
        inputs[c["id"]] = dict(np.load(REQUEST_DIR / c["arrays"], allow_pickle=False))
        stored = dict(np.load(REQUEST_DIR / c["cotangents"], allow_pickle=False))
        n = c["n_cotangents"]
        cotangents[c["id"]] = None if n is None else [stored.get(f"c{i}") for i in range(n)]
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, on_alarm)
    now = {"call": None, "forbidden": frozenset()}  # the graded call in progress
    install_stubs(sorted({name for c in calls for name in c["forbidden"]}), now)
    if request["python_guard"]:
        install_guard(request["blocked_dir"], os.getcwd(), request["forbidden_modules"])
    sys.modules["__main__"] = type(sys)("__main__")  # this script's globals out of easy reach

    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    for index, source in enumerate(request["cells"]):
        if str(index) in request["skip_cells"]:
            continue
        send({"progress": ["cell", index]})
        signal.setitimer(signal.ITIMER_REAL, request["cell_timeout"])
        try:
            exec(compile(source, f"<cell {index}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - a student cell may raise anything
            signal.setitimer(signal.ITIMER_REAL, 0)
            send({"cell": index, "error": describe(exc)})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    timed_out: set[str] = set()
    for call in calls:
        if call["id"] in request["skip_calls"]:
            continue
        if call["function"] in timed_out:
            error = {"type": "TimeoutError", "message": "skipped: an earlier case timed out"}
            send({"call": call["id"], "error": error})
            continue
        send({"progress": ["call", call["id"]]})
        fn = namespace.get(call["function"])
        if not callable(fn):
            error = {"type": "NameError", "message": f"{call['function']} is not defined"}
            send({"call": call["id"], "error": error})
            continue

        def guarded(*args, _fn=fn, _call=call, **kwargs):
            now.update(call=_call["id"], forbidden=frozenset(_call["forbidden"]))
            try:
                return _fn(*args, **kwargs)
            finally:
                now.update(call=None, forbidden=frozenset())

        signal.setitimer(signal.ITIMER_REAL, request["call_timeout"])
        try:
            arrays = evaluate_module.evaluate(
                guarded, call["args"], call["kwargs"], inputs[call["id"]], cotangents[call["id"]]
            )
            signal.setitimer(signal.ITIMER_REAL, 0)
            send({"call": call["id"], "arrays": encode(arrays)})
        except BaseException as exc:  # noqa: BLE001
            signal.setitimer(signal.ITIMER_REAL, 0)
            send({"call": call["id"], "error": describe(exc)})
            if isinstance(exc, CellTimeout):
                timed_out.add(call["function"])
    send({"done": True})
    sys.stdout.flush()
    os._exit(0)  # skip interpreter shutdown, which student objects could hook


if __name__ == "__main__":
    main()
