"""Write the adversarial suite: real submissions of assignment 2 and what each must score.

    python -m tests.grading.make_submissions      # rewrites tests/grading/submissions/

Each case is a folder of nbgrader's ``submitted/`` tree (``<case>/02_recurrent_networks/``)
holding what a student could really hand in; ``submissions_expected.json`` gives its total, its
status and a phrase its reason must contain ("" : the reason must be empty), and for an attack
the plain wrong answer it may not beat (``baseline``). ``test_adversarial.py`` grades the whole tree with
``coursekit grade`` and checks every line, and that no original file changed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat

from coursekit.grading.notebook import is_answer, is_hidden_test, is_visible_test, nbgrader_metadata
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


# The plain wrong answers every attack is measured against: no attack may score above them.
PLAIN_WRONG = "plain_wrong_rnn_cell_step"
PLAIN_WRONG_JORDAN = "exception"
WRONG_CELL_STEP = "rnn_cell_step: case"  # how a wrong rnn_cell_step's reason begins
ZEROS = (
    "def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, "
    "nonlinearity='tanh'):\n    return torch.zeros(x.shape[0], weight_hh.shape[0])\n"
)

case("correct", {"total": 10, "status": "graded", "reason": ""})
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
case(PLAIN_WRONG, {"total": 2, "status": "graded", "reason": WRONG_CELL_STEP}, rnn_cell_step=ZEROS)
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
    {"total": 10, "status": "graded", "reason": ""},
    setup_extra="import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)\n",
)
case(
    "torch_warnings_on_stderr",
    {"total": 10, "status": "graded", "reason": ""},
    setup_extra="import warnings\nimport torch\nwarnings.warn('a deprecation warning on stderr')\ntorch.tensor(torch.ones(2))\n",
)
# A cheat on rnn_cell_step also costs rnn_forward and the bidirectional part, which use it;
# only jordan_step's 2 points remain. Those that reach for an implementation are flagged.
CHEAT_OUTCOME = {
    "calls the coursekit reference": ("flagged", "rule: calls-reference"),
    "imports the reference under a computed name": ("flagged", "rule: calls-reference"),
    "calls torch.nn.RNNCell": ("flagged", "rule: calls-reference"),
    "wrong answer that disables the checker": ("flagged", "rule: calls-reference"),
    "wrong answer that patches torch.allclose and numpy.testing": ("graded", WRONG_CELL_STEP),
    "wrong answer that blanks the hidden test cells in IPython": ("graded", WRONG_CELL_STEP),
}
for label, (grade_id, source) in CHEATS.items():
    slug = "".join(ch if ch.isalnum() else "_" for ch in label.lower())
    status, reason = CHEAT_OUTCOME[label]
    expected = {"total": 2, "status": status, "reason": reason, "baseline": PLAIN_WRONG}
    CASES[f"cheat_{slug}"] = ({grade_id: source}, expected)
case(
    "writes_to_the_gradebook_and_another_student",
    {"total": 10, "status": "graded", "reason": ""},
    setup_extra=(
        "for target in ['../../../gradebook.db', '/tmp/another-student.ipynb']:\n"
        "    try:\n        open(target, 'w').write('0 points')\n"
        "    except OSError:\n        pass\n"
    ),
)


def attack(name: str, total: float, status: str, reason: str, code: str, **extra) -> None:
    """An attack on rnn_cell_step: ``code`` runs first in its cell, then the plain wrong answer."""
    expected = {"total": total, "status": status, "reason": reason, "baseline": PLAIN_WRONG}
    CASES[name] = ({"rnn_cell_step": code + "\n" + ZEROS, **extra}, expected)


# -- reading what a student must never see: then using it -----------------------------------
attack(
    "attack_reads_the_solutions_through_proc",
    2,
    "graded",
    WRONG_CELL_STEP,
    """
import json, os, sys
found = []
for pid in os.listdir('/proc'):
    for link in ('cwd', 'root'):
        try:
            base = os.readlink(f'/proc/{pid}/{link}')
            found += [os.path.join(d, f) for d, _, fs in os.walk(base) for f in fs
                      if f.endswith('.ipynb') and 'solutions' in d]
        except OSError:
            pass
for top in ('/', '/work', '/home', '/root', '/tmp'):
    for d, dirs, fs in os.walk(top):
        if d.count('/') > 5:
            dirs[:] = []
        found += [os.path.join(d, f) for f in fs if f.endswith('.ipynb') and 'solutions' in d]
for path in found:
    cells = json.load(open(path))['cells']
    code = ''.join(''.join(c['source']) for c in cells if 'def rnn_cell_step' in ''.join(c['source']))
    open('/submission/stolen.py', 'w').write('import torch\\n' + code)
    sys.path.insert(0, '/submission')
    from stolen import rnn_cell_step as _stolen
""",
)
attack(
    "attack_reads_coursekit_through_a_directory_descriptor",
    2,
    "graded",
    WRONG_CELL_STEP,
    """
import os, sys
for d in list(sys.path):
    try:
        names = os.listdir(d)
    except OSError:
        continue
    for name in names:
        if name.startswith('__editable__') and name.endswith('finder.py'):
            text = open(os.path.join(d, name)).read()
            start = text.index("MAPPING")
            package = text[start:].split("'")[3]
            fd = os.open(package, os.O_RDONLY | os.O_DIRECTORY)
            source = os.read(os.open('rnn.py', os.O_RDONLY, dir_fd=fd), 1 << 20).decode()
            open('/submission/ck.py', 'w').write(source)
""",
)
attack(
    "attack_reads_another_submission",
    2,
    "graded",
    WRONG_CELL_STEP,
    """
import os
theirs = []
for pid in os.listdir('/proc'):
    try:
        args = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')
        theirs += [a.decode() for a in args if a.endswith(b'.ipynb')]
    except OSError:
        pass
for d in ('..', '../..', '/tmp', '/var/tmp'):
    try:
        theirs += [os.path.join(d, f) for f in os.listdir(d)]
    except OSError:
        pass
stolen = [open(p).read() for p in theirs if os.path.isfile(p)]
""",
)
# -- changing what others get ------------------------------------------------------------------
attack(
    "attack_overwrites_a_classmate_and_the_grader_source",
    2,
    "graded",
    WRONG_CELL_STEP,
    """
import glob, os
targets = glob.glob('/**/correct/**/*.ipynb', recursive=True)
targets += glob.glob('/**/coursekit/grading/*.py', recursive=True)
targets += ['../../correct/02_recurrent_networks/02_recurrent_networks.ipynb']
for target in targets:
    try:
        with open(target, 'a') as f:
            f.write('# 0 points for you')
    except OSError:
        pass
""",
)
attack(
    "attack_leaves_a_process_behind_to_rewrite_the_grades",
    2,
    "graded",
    WRONG_CELL_STEP,
    """
import ctypes, time
libc = ctypes.pythonapi  # loaded long ago: no new dlopen for the guard to see
if libc.fork() == 0:
    libc.setsid()
    if libc.fork() == 0:
        for _ in range(600):
            for path in ('/tmp/grades.csv', '../grades.csv', '/work/grades.csv'):
                try:
                    open(path, 'w').write('student,total\\ncorrect,0\\n')
                except OSError:
                    pass
            time.sleep(0.1)
    libc._exit(0)
""",
)
attack(
    "attack_kills_the_grader",
    2,
    "graded",
    WRONG_CELL_STEP,
    """
import ctypes, os
ctypes.pythonapi.kill(os.getppid(), 9)
ctypes.pythonapi.kill(-1, 9)
""",
)
# -- taking the batch down ----------------------------------------------------------------------
FIND_REPORT = """
import os, stat
def _report_pipes():
    pipes = []
    for fd in map(int, os.listdir('/proc/self/fd')):
        try:
            if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode):
                pipes.append(fd)
        except OSError:
            pass
    return pipes
"""
attack(
    "attack_forges_a_report_of_the_wrong_type",
    0,
    "invalid",
    "report is invalid",
    FIND_REPORT + "for fd in _report_pipes():\n    os.write(fd, b'[1, 2, 3]\\n')\n",
)
attack(
    "attack_forges_an_array_that_claims_a_terabyte",
    0,
    "invalid",
    "elements",
    FIND_REPORT
    + "import json\nfor fd in _report_pipes():\n    os.write(fd, json.dumps({'call': 'rnn_cell_step-0', "
    "'arrays': {'o0': {'dtype': 'float64', 'shape': [1 << 20, 1 << 20], 'data': ''}}}).encode() + b'\\n')\n",
)
attack(
    "attack_returns_something_that_is_not_a_number_array",
    2,
    "graded",
    "not a torch.Tensor",
    "",
    rnn_cell_step="def rnn_cell_step(*args, **kwargs):\n    return {'h': object()}\n",
)
CASES["attack_returns_a_stride_zero_tensor_of_half_a_gigabyte"] = (
    {
        "jordan_step": (
            "def jordan_step(*args, **kwargs):\n"
            "    return torch.zeros(1, dtype=torch.float64).expand(8192, 8192)\n"
        )
    },
    {"total": 8, "status": "graded", "reason": "too large", "baseline": PLAIN_WRONG_JORDAN},
)
attack(
    "attack_fifo_and_links_in_the_work_folder",
    2,
    "graded",
    WRONG_CELL_STEP,
    """
import os
for name in ('printed.txt', 'results.json', 'progress.txt'):
    try:
        os.mkfifo(name)
    except OSError:
        pass
for name, target in (('rnn_cell_step-0_out.npz', '/dev/zero'), ('request.json', '/proc/self/mem')):
    try:
        os.symlink(target, name)
    except OSError:
        pass
""",
)
attack(
    "attack_fills_the_work_folder",
    2,
    "graded",
    WRONG_CELL_STEP,
    """
try:
    with open('/submission/fill', 'wb') as f:
        for _ in range(128):
            f.write(b'x' * (16 << 20))
except OSError:
    pass
""",
)
attack(
    "attack_leaks_the_environment_in_its_error",
    2,
    "graded",
    "RuntimeError",
    "",
    rnn_cell_step=(
        "import os\n"
        "def rnn_cell_step(*args, **kwargs):\n"
        "    raise RuntimeError(repr(dict(os.environ)) + '=' * 100000)\n"
    ),
)
attack(
    "attack_swallows_the_alarm_in_every_answer_cell",
    0,
    "timeout",
    "timeout",
    "",
    **{
        grade_id: "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n"
        for grade_id in ("rnn_cell_step", "rnn_forward", "bidirectional_rnn_forward", "jordan_step")
    },
)
CASES["attack_stops_itself"] = (
    {"jordan_step": "import ctypes\nctypes.pythonapi.kill(ctypes.pythonapi.getpid(), 19)\n"},
    {"total": 8, "status": "timeout", "reason": "timeout", "baseline": PLAIN_WRONG_JORDAN},
)
CASES["attack_closes_the_report_pipe"] = (
    {"jordan_step": "import os\nos.closerange(3, 1024)\n"},
    {"total": 8, "status": "crashed", "reason": "exited with code", "baseline": PLAIN_WRONG_JORDAN},
)
# -- calling the reference by another spelling --------------------------------------------------
attack(
    "attack_kernel_under_a_computed_name",
    2,
    "flagged",
    "rule: calls-reference",
    "",
    rnn_cell_step=(
        "def rnn_cell_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity='tanh'):\n"
        "    if nonlinearity == 'tanh':\n"
        "        return getattr(torch, 'rnn' + '_tanh_cell')(x, h, w_ih, w_hh, b_ih, b_hh)\n"
        "    return getattr(torch, f\"{'rnn_relu'}_cell\")(x, h, w_ih, w_hh, b_ih, b_hh)\n"
    ),
)
attack(
    "attack_kernel_under_a_name_built_at_run_time",
    2,
    "flagged",
    "rule: dynamic-code",
    "",
    rnn_cell_step=(
        "def rnn_cell_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity='tanh'):\n"
        "    return getattr(torch, 'rnn_' + nonlinearity + '_cell')(x, h, w_ih, w_hh, b_ih, b_hh)\n"
    ),
)
attack(
    "attack_kernel_found_without_naming_it",
    2,
    "flagged",
    "rule: forbidden-kernel",
    "",
    rnn_cell_step=(
        "_kernels = {k[4:-5]: v for k, v in vars(torch).items() if k.startswith('rnn') and k.endswith('cell')}\n"
        "def rnn_cell_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity='tanh'):\n"
        "    return _kernels[nonlinearity](x, h, w_ih, w_hh, b_ih, b_hh)\n"
    ),
)
attack(
    "attack_eval_of_a_string",
    2,
    "flagged",
    "rule: dynamic-code",
    "",
    rnn_cell_step=("rnn_cell_step = eval('lambda *a, **k: torch.zeros(1)')\n"),
)
attack(
    "attack_importlib",
    2,
    "flagged",
    "rule: calls-reference",
    "",
    rnn_cell_step=(
        "import importlib\n"
        "rnn_cell_step = importlib.import_module('course' + 'kit.rnn').rnn_cell_step\n"
    ),
)


def _with_setup_extra(nb: nbformat.NotebookNode, code: str) -> None:
    """Append code to the first answer cell (students write anything in their cells)."""
    cell = next(c for c in nb.cells if is_answer(c))
    cell.source = code + "\n" + cell.source


def _edited_locked_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Edit the setup cell, and delete every visible-test and hidden-test cell."""
    for cell in nb.cells:
        if nbgrader_metadata(cell).get("grade_id") == "setup":
            cell.source = "import torch\ntorch.set_default_dtype(torch.float16)\ntorch = None\n"
    nb.cells = [c for c in nb.cells if not (is_visible_test(c) or is_hidden_test(c))]
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
        as_student: str | None = None,
    ) -> None:
        folder = HERE / student / NAME
        folder.mkdir(parents=True)
        if raw is not None:
            (folder / filename).write_text(raw)
        else:
            nbformat.write(nb, folder / filename)
        expected_all[as_student or student] = expected

    write(
        "blank",
        filled(RELEASE, {}),
        {"total": 0, "status": "blank", "reason": "as released"},
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
        {"total": 10, "status": "graded", "reason": ""},
    )
    nb = filled(RELEASE, answers)
    nb.cells = [c for c in nb.cells if nbgrader_metadata(c).get("grade_id") != "jordan_step"]
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
    write(
        "=1+2",  # a file name that a spreadsheet would run as a formula
        filled(RELEASE, answers),
        {"total": 10, "status": "graded", "reason": "made safe"},
        as_student="1_2",
    )
    nb = filled(RELEASE, answers)
    for cell in nb.cells:
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if grade_id == "jordan_step":
            cell.metadata["nbgrader"] = ["solution", "jordan_step"]  # a list, not a dict
        elif cell.cell_type == "markdown":
            cell.metadata["nbgrader"] = {"grade_id": 12, "grade": "yes", "points": "all"}
    write(
        "attack_nbgrader_metadata_of_the_wrong_type",
        None,
        {"total": 8, "status": "graded", "reason": "missing", "baseline": PLAIN_WRONG_JORDAN},
        raw=json.dumps(nb, indent=1),
    )
    link = HERE / "attack_submits_a_link_to_the_solutions" / NAME / f"{NAME}.ipynb"
    link.parent.mkdir(parents=True)
    link.symlink_to(os.path.relpath(ROOT / "solutions" / NAME / f"{NAME}.ipynb", link.parent))
    expected_all["attack_submits_a_link_to_the_solutions"] = {
        "total": 0,
        "status": "missing",
        "reason": "symbolic links",
    }
    (HERE.parent / "submissions_expected.json").write_text(
        json.dumps(expected_all, indent=1, sort_keys=True) + "\n"
    )
    print(f"wrote {len(expected_all)} submissions under {HERE}")


if __name__ == "__main__":
    main()
