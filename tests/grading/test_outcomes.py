"""What the grader makes of hostile text and hostile reports (fast: no sandbox is started)."""

from __future__ import annotations

import base64
import csv
import json

import numpy as np
import pytest

from coursekit.grading.autograde import write_grades_csv
from coursekit.grading.outcomes import bounded, csv_safe, safe_student_id
from coursekit.grading.report import MAX_ELEMENTS, ReportState, decode_arrays, read_lines
from coursekit.grading.sandbox import Call


@pytest.mark.parametrize("text", ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_never_start_a_formula(text):
    assert csv_safe(text) == "'" + text


def test_csv_safe_keeps_numbers_and_plain_text():
    assert csv_safe(-1.5) == -1.5
    assert csv_safe("rnn_forward: case 1") == "rnn_forward: case 1"


def test_grades_csv_escapes_every_text_cell(tmp_path):
    result = {
        "student": "=HYPERLINK(1)",
        "max_points": {"a": 2.0},
        "points": {"a": 0.0},
        "total": 0.0,
        "status": "graded",
        "reason": "-x",
        "notes": [],
        "isolation": "bubblewrap",
    }
    write_grades_csv(tmp_path / "grades.csv", [result])
    with open(tmp_path / "grades.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", "a", "total", "max", "status", "isolation", "reason"]
    assert rows[1][0] == "'=HYPERLINK(1)" and rows[1][-1] == "'-x"


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("alice", "alice"),
        ("=1+2", "1_2"),
        ("../../etc/passwd", "etc_passwd"),
        ("José Núñez", "Jose_Nunez"),
        ("...", "student"),
        ("a" * 200, "a" * 128),
    ],
)
def test_student_ids_are_made_safe(raw, safe):
    assert safe_student_id(raw) == safe


def test_bounded_keeps_both_ends_and_drops_control_characters():
    text = bounded("RuntimeError: " + "x" * 1000 + "\x1b[31mthe end", 50)
    assert len(text) == 50 and "\x1b" not in text
    assert text.startswith("RuntimeError") and text.endswith("the end")


# -- the report ------------------------------------------------------------------------------------


def _array(values: np.ndarray, **override) -> dict:
    entry = {
        "dtype": values.dtype.name,
        "shape": list(values.shape),
        "data": base64.b64encode(values.tobytes()).decode(),
    }
    return {**entry, **override}


def test_a_well_formed_array_is_decoded():
    values = np.arange(6.0).reshape(2, 3)
    decoded = decode_arrays({"o0": _array(values), "n": _array(np.asarray(1))})
    np.testing.assert_array_equal(decoded["o0"], values)
    assert int(decoded["n"]) == 1


@pytest.mark.parametrize(
    "entry, why",
    [
        (_array(np.arange(3.0), dtype="object"), "dtype"),
        (_array(np.arange(3.0), dtype="complex128"), "dtype"),
        (_array(np.arange(3.0), shape=[1 << 20, 1 << 20]), "elements"),
        (_array(np.arange(3.0), shape=[-3]), "range"),
        (_array(np.arange(3.0), shape=[4]), "length"),
        (_array(np.arange(3.0), shape="3"), "shape"),
        (_array(np.arange(3.0), data="!" * 32), "base64"),
    ],
)
def test_a_malformed_array_is_refused_before_it_is_decoded(entry, why):
    with pytest.raises(Exception, match=why):
        decode_arrays({"o0": entry})


def test_too_many_elements_over_all_arrays_are_refused():
    half = np.zeros(MAX_ELEMENTS // 2 + 1, dtype=bool)
    with pytest.raises(ValueError, match="elements"):
        decode_arrays({"o0": _array(half), "o1": _array(half)})


def _state() -> ReportState:
    call = Call("f-0", "f", [], {}, {}, None)
    return ReportState(cells={0, 1}, calls={"f-0": call})


@pytest.mark.parametrize(
    "line",
    [
        b"[1, 2, 3]",
        b'"text"',
        b"not json",
        b'{"call": "g-0", "error": {"type": "E", "message": "m"}}',
        b'{"cell": 7, "error": {"type": "E", "message": "m"}}',
        b'{"cell": 0, "error": "a string"}',
        b'{"progress": ["shell", 0]}',
        b'{"done": 1}',
        b"[" * 100000 + b"]" * 100000,
    ],
)
def test_a_line_outside_the_schema_makes_the_report_invalid(line):
    assert "invalid" in read_lines([line], _state())


def test_the_first_word_on_a_call_stands_and_errors_are_bounded():
    state = _state()
    error = {"type": "RuntimeError", "message": "RuntimeError: " + "x" * 10000}
    lines = [json.dumps({"call": "f-0", "error": error}).encode()]
    lines.append(json.dumps({"call": "f-0", "arrays": {}}).encode())
    assert read_lines(lines, state) is None
    assert "f-0" not in state.outputs and len(state.errors["f-0"]) <= 500


def test_an_installed_coursekit_is_hidden_inside_the_python_installation(monkeypatch, tmp_path):
    """pip install . puts coursekit in site-packages, which the sandbox mounts: it is masked."""
    import sys

    from coursekit.grading import bubblewrap

    installed = f"{sys.prefix}/lib/python3.11/site-packages/coursekit"
    monkeypatch.setattr(bubblewrap, "PACKAGE_DIR", type(bubblewrap.PACKAGE_DIR)(installed))
    command = bubblewrap.sandbox_command(tmp_path, 1 << 20, ["python"])
    python_bind = command.index(sys.prefix if sys.prefix in command else sys.base_prefix)
    mask = [i for i in range(len(command) - 1) if command[i : i + 2] == ["--tmpfs", installed]]
    assert mask and mask[0] > python_bind  # mounted over the installation, after it


def test_the_sandbox_command_shares_nothing_writable_but_its_capped_tmpfs(tmp_path):
    from coursekit.grading.bubblewrap import WORK_DIR, sandbox_command

    command = sandbox_command(tmp_path, 12345, ["python"])
    assert "--bind" not in command and "--dev-bind" not in command
    assert command[command.index("--size") + 1 : command.index("--size") + 5] == [
        "12345",
        "--perms",
        "0700",
        "--tmpfs",
    ]
    assert command[command.index("--size") + 5] == WORK_DIR
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--clearenv"):
        assert flag in command
    assert command[command.index("--uid") + 1] == "65534"
