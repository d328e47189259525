"""The evaluation process survives whatever a submission does, and reports why."""

from __future__ import annotations

import time

import numpy as np
import pytest

from coursekit.grading.sandbox import Call, run_sandbox

IDENTITY = "import torch\ndef f(x):\n    return x * 1.0\n"


def _call(function: str = "f") -> Call:
    return Call("c0", function, [{"t": "a0"}], {}, {"a0": np.arange(3.0)}, [np.ones(3)])


def test_evaluates_outputs_and_vector_jacobian_products():
    result = run_sandbox(["import torch\ndef f(x):\n    return x**2\n"], [_call()])
    assert result.status == "ok"
    np.testing.assert_array_equal(result.outputs["c0"]["o0"], np.arange(3.0) ** 2)
    np.testing.assert_array_equal(result.outputs["c0"]["g0"], 2 * np.arange(3.0))  # d(x²)/dx · 1


def test_a_failing_cell_does_not_stop_later_cells():
    result = run_sandbox(["raise RuntimeError('boom')", IDENTITY], [_call()])
    assert "RuntimeError: boom" in result.cell_errors[0]
    assert "c0" in result.outputs


def test_an_infinite_loop_in_a_cell_times_out_and_the_rest_still_runs():
    result = run_sandbox(["while True:\n    pass", IDENTITY], [_call()], cell_timeout=1)
    assert "TimeoutError" in result.cell_errors[0]
    assert "c0" in result.outputs


def test_an_infinite_loop_that_swallows_the_alarm_hits_the_wall_clock_limit():
    loop = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    result = run_sandbox([loop, IDENTITY], [_call()], cell_timeout=1, total_timeout=60)
    assert result.status == "timeout"
    assert "while running this cell" in result.cell_errors[0]
    assert "c0" in result.outputs  # the cell was skipped on a second run; the rest was graded


def test_one_deadline_covers_every_restart():
    """Cells that each swallow the alarm cannot buy a fresh time limit per restart."""
    loop = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    started = time.monotonic()
    result = run_sandbox([loop] * 8, [], cell_timeout=5, total_timeout=15, max_restarts=8)
    assert result.status == "timeout"
    assert time.monotonic() - started < 15 + 5  # the deadline, and the time to kill


@pytest.mark.parametrize(
    "crash, reason",
    [
        ("import os\nos._exit(3)", "exited with code 3"),
        ("import ctypes\nctypes.string_at(0)", "SIGSEGV"),
    ],
)
def test_a_crash_in_a_cell_is_reported_and_the_rest_still_graded(crash, reason):
    result = run_sandbox([IDENTITY, crash], [_call()])
    assert result.status == "crashed" and reason in result.reason
    assert reason in result.cell_errors[1]
    assert "c0" in result.outputs


def test_a_crash_inside_a_graded_call_fails_only_that_call():
    cells = [IDENTITY + "def g(x):\n    import os\n    os._exit(1)\n"]
    calls = [_call("g"), Call("c1", "f", [{"t": "a0"}], {}, {"a0": np.ones(2)}, [np.ones(2)])]
    calls[0].id = "c0"
    result = run_sandbox(cells, calls)
    assert "exited with code 1" in result.errors["c0"]
    assert "c1" in result.outputs


def test_a_process_that_keeps_crashing_gives_up_after_the_restart_limit():
    cells = ["import os\nos._exit(1)"] * 6
    result = run_sandbox(cells, [], max_restarts=2)
    assert result.status == "crashed"
    assert sorted(result.cell_errors) == [0, 1, 2]  # three runs, three culprits recorded


def test_a_memory_bomb_fails_within_the_memory_limit():
    result = run_sandbox(["x = bytearray(50 * 2**30)", IDENTITY], [_call()], memory_bytes=3 << 30)
    assert "MemoryError" in result.cell_errors[0]
    assert "c0" in result.outputs


def test_a_flood_of_printing_is_truncated():
    flood = "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)"
    result = run_sandbox([flood, IDENTITY], [_call()])
    assert result.status == "ok" and len(result.printed) <= 4000
    assert "c0" in result.outputs


@pytest.mark.parametrize(
    "cell",
    [
        "import coursekit",
        "from coursekit.rnn import rnn_cell_step",
        "__import__('course' + 'kit')",
        "import importlib\nimportlib.import_module('coursekit.rnn')",
        "import subprocess\nsubprocess.run(['python3', '-c', 'import coursekit'])",
        "import os\nos.system('true')",
    ],
)
def test_the_reference_and_escape_routes_are_blocked(cell):
    result = run_sandbox([cell], [])
    assert 0 in result.cell_errors, f"{cell!r} was allowed"
    error = result.cell_errors[0]  # refused by the Python guard, or not there at all
    assert "not allowed" in error or "No module named 'coursekit'" in error


def test_reading_coursekit_source_files_is_blocked():
    from coursekit.grading.bubblewrap import PACKAGE_DIR

    result = run_sandbox([f"open({str(PACKAGE_DIR / 'rnn.py')!r}).read()"], [])
    assert "not allowed" in result.cell_errors[0]


def test_a_missing_function_is_a_clear_error():
    result = run_sandbox([IDENTITY], [_call("g")])
    assert result.errors["c0"] == "NameError: g is not defined"


def test_non_tensor_output_is_a_clear_error():
    result = run_sandbox(["def f(x):\n    return 'three'"], [_call()])
    assert "output 0 is a str, not a torch.Tensor" in result.errors["c0"]


def test_dict_arguments_dict_outputs_and_unchecked_gradients():
    cell = "def f(cache):\n    return {'b': cache['x'] * cache['scale'], 'a': None, 'c': 2.5}"
    call = Call(
        "c0",
        "f",
        [{"map": {"x": {"t": "a0"}, "scale": {"lit": 3.0}}}],
        {},
        {"a0": np.ones(2)},
        None,
    )
    result = run_sandbox([cell], [call])
    out = result.outputs["c0"]
    assert int(out["n"]) == 3  # a, b, c in sorted key order; None leaves no array
    assert "o0" not in out
    np.testing.assert_array_equal(out["o1"], [3.0, 3.0])
    assert float(out["o2"]) == 2.5
    assert not any(k.startswith("g") for k in out)


@pytest.mark.parametrize(
    "cell",
    [
        "open({path!r}, 'w').write('0 points')",
        "import os\nos.remove({path!r})",
        "import os\nos.rename({path!r}, {path!r} + '.moved')",
        "import shutil\nshutil.rmtree({folder!r})",
    ],
)
def test_writing_outside_the_working_folder_is_blocked(cell, tmp_path):
    victim = tmp_path / "gradebook.db"
    victim.write_text("precious")
    result = run_sandbox([cell.format(path=str(victim), folder=str(tmp_path))], [])
    assert "not allowed" in result.cell_errors[0]
    assert victim.read_text() == "precious"


def test_writing_inside_the_working_folder_is_allowed():
    result = run_sandbox(
        ["open('scratch.txt', 'w').write('ok')\nassert open('scratch.txt').read() == 'ok'"], []
    )
    assert result.cell_errors == {}
