"""Write the adversarial suite: real submissions of assignment 2 and what each must score.

    python -m tests.grading.make_submissions      # rewrites tests/grading/submissions/

Each case is a folder of nbgrader's ``submitted/`` tree (``<case>/02_recurrent_networks/``)
holding what a student could really hand in; ``submissions_expected.json`` gives its total, its status
and a phrase its reason must contain. ``test_adversarial.py`` grades the whole tree with
``coursekit grade`` and checks every line, and that no original file changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat

from tests.grading.course import ROOT, correct_answers, filled
from tests.grading.variants.recurrent_networks import CHEATS, WRONG_VARIANTS

NAME = "02_recurrent_networks"
HERE = Path(__file__).resolve().parent / "submissions"
RELEASE = ROOT / "exercises" / NAME / f"{NAME}.ipynb"

# Points: rnn_cell_step 2, rnn_forward 3, bidirectional_rnn_forward 3 (uses rnn_forward),
# jordan_step 2.
CASES: dict[str, tuple[dict, dict]] = {}  # case -> (answers replaced, expected)


def case(name: str, expected: dict, **answers: str) -> None:
    CASES[name] = (answers, expected)


case("correct", {"total": 10, "status": "graded"})
case(
    "partially_correct",
    {"total": 4, "status": "graded", "reason": "rnn_forward"},
    rnn_forward=WRONG_VARIANTS["rnn_forward"]["off by one: stores the previous state"],
)
case(
    "syntax_error",
    {"total": 4, "status": "graded", "reason": "SyntaxError"},
    rnn_forward="def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity='tanh')\n    return x\n",
)
case(
    "exception",
    {"total": 8, "status": "graded", "reason": "ZeroDivisionError"},
    jordan_step="def jordan_step(*args, **kwargs):\n    return 1 / 0\n",
)
case(
    "infinite_loop",
    {"total": 4, "status": "graded", "reason": "TimeoutError"},
    rnn_forward="def rnn_forward(*args, **kwargs):\n    while True:\n        pass\n",
)
case(
    "infinite_loop_that_swallows_the_alarm",
    {"total": 8, "status": "timeout", "reason": "timeout"},
    jordan_step="while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n",
)
case(
    "kernel_crash_os_exit",
    {"total": 8, "status": "crashed", "reason": "ended without reporting"},
    jordan_step="import os\nos._exit(0)\n",
)
case(
    "kernel_crash_segfault",
    {"total": 8, "status": "crashed", "reason": "SIGSEGV"},
    jordan_step="def jordan_step(*args, **kwargs):\n    import ctypes\n    return ctypes.string_at(0)\n",
)
case(
    "memory_bomb",
    {"total": 8, "status": "graded", "reason": "MemoryError"},
    jordan_step="def jordan_step(*args, **kwargs):\n    return bytearray(64 * 2**30)\n",
)
case(
    "hundred_megabytes_of_output",
    {"total": 10, "status": "graded"},
    setup_extra="import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)\n",
)
case(
    "torch_warnings_on_stderr",
    {"total": 10, "status": "graded"},
    setup_extra="import warnings\nimport torch\nwarnings.warn('a deprecation warning on stderr')\ntorch.tensor(torch.ones(2))\n",
)
# A cheat on rnn_cell_step also costs rnn_forward and the bidirectional part, which use it;
# only jordan_step's 2 points remain. Those that reach for an implementation are flagged.
CHEAT_STATUS = {
    "calls the coursekit reference": "flagged",
    "imports the reference under a computed name": "flagged",
    "calls torch.nn.RNNCell": "flagged",
    "wrong answer that disables the checker": "flagged",
    "wrong answer that patches torch.allclose and numpy.testing": "graded",
    "wrong answer that blanks the hidden test cells in IPython": "graded",
}
for label, (grade_id, source) in CHEATS.items():
    slug = "".join(ch if ch.isalnum() else "_" for ch in label.lower())
    CASES[f"cheat_{slug}"] = ({grade_id: source}, {"total": 2, "status": CHEAT_STATUS[label]})
case(
    "writes_to_the_gradebook_and_another_student",
    {"total": 10, "status": "graded", "reason": ""},
    setup_extra=(
        "for target in ['../../../gradebook.db', '/tmp/another-student.ipynb']:\n"
        "    try:\n        open(target, 'w').write('0 points')\n"
        "    except OSError:\n        pass\n"
    ),
)


def _with_setup_extra(nb: nbformat.NotebookNode, code: str) -> None:
    """Append code to the first answer cell (students write anything in their cells)."""
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = code + "\n" + cell.source


def _edited_locked_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Edit the setup cell, and delete every visible-test and hidden-test cell."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "setup":
            cell.source = "import torch\ntorch.set_default_dtype(torch.float16)\ntorch = None\n"
    nb.cells = [
        c
        for c in nb.cells
        if not c.metadata.get("nbgrader", {}).get("grade_id", "").endswith(("_visible", "_hidden"))
    ]
    return nb


def main() -> None:
    answers = correct_answers(NAME)
    if HERE.exists():
        shutil.rmtree(HERE)
    expected_all = {}

    def write(
        student: str,
        nb: nbformat.NotebookNode | None,
        expected: dict,
        raw: str | None = None,
        filename: str = f"{NAME}.ipynb",
    ) -> None:
        folder = HERE / student / NAME
        folder.mkdir(parents=True)
        if raw is not None:
            (folder / filename).write_text(raw)
        else:
            nbformat.write(nb, folder / filename)
        expected_all[student] = expected

    write(
        "blank",
        filled(RELEASE, {}),
        {"total": 0, "status": "graded", "reason": "NotImplementedError"},
    )
    for student, (replaced, expected) in CASES.items():
        extra = replaced.pop("setup_extra", None)
        nb = filled(RELEASE, {**answers, **replaced})
        if extra:
            _with_setup_extra(nb, extra)
        write(student, nb, expected)

    write(
        "edited_locked_and_deleted_test_cells",
        _edited_locked_cells(filled(RELEASE, answers)),
        {"total": 10, "status": "graded"},
    )
    nb = filled(RELEASE, answers)
    nb.cells = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "jordan_step"
    ]
    write("deleted_answer_cell", nb, {"total": 8, "status": "graded", "reason": "missing"})
    write(
        "invalid_json",
        None,
        {"total": 0, "status": "invalid", "reason": "not a valid notebook"},
        raw='{"cells": [ this is not json',
    )
    write("empty_file", None, {"total": 0, "status": "invalid", "reason": "empty"}, raw="")
    write(
        "wrong_file_name",
        filled(RELEASE, answers),
        {"total": 10, "status": "graded", "reason": "named my_homework.ipynb"},
        filename="my_homework.ipynb",
    )
    (HERE.parent / "submissions_expected.json").write_text(
        json.dumps(expected_all, indent=1, sort_keys=True) + "\n"
    )
    print(f"wrote {len(expected_all)} submissions under {HERE}")


if __name__ == "__main__":
    main()
