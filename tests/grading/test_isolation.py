"""The OS sandbox isolates on its own: every probe here runs with the Python guard switched
off (``python_guard=False``), so only bubblewrap stands between the student and the machine.

Each probe is a cell that records what it managed to reach in ``REACHED`` and a graded
function ``f`` that returns how many things it reached; a control probe shows the same code
does reach what it may (its own work folder), so a probe that silently failed cannot pass.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from coursekit.grading.bubblewrap import PACKAGE_DIR
from coursekit.grading.sandbox import Call, run_sandbox
from tests.grading.course import ROOT, source_notebook

pytestmark = pytest.mark.slow


def _reached(probe: str, tmp_path: Path, isolation: bool = True) -> list[str]:
    """Run ``probe`` (which appends to REACHED) in the sandbox; return what it reached."""
    cell = "import os, socket, sys\nREACHED = []\n" + probe
    function = "def f(x):\n    return x * 0 + len(REACHED)\n"
    calls = [Call("c0", "f", [{"t": "a0"}], {}, {"a0": np.zeros(1)}, None)]
    result = run_sandbox(
        [cell, function], calls, python_guard=False, cell_timeout=30, isolation=isolation
    )
    assert result.status == "ok", (result.reason, result.cell_errors)
    assert not result.cell_errors, result.cell_errors
    count = int(result.outputs["c0"]["o0"][0])
    return [result.printed] if count else []


def _secret_paths(tmp_path: Path) -> list[str]:
    other = tmp_path / "submitted" / "bob" / "02_recurrent_networks.ipynb"
    other.parent.mkdir(parents=True)
    other.write_text("{}")
    return [
        str(ROOT / "README.md"),
        str(ROOT / "nbgrader_config.py"),
        str(ROOT / "coursekit"),
        str(source_notebook("02_recurrent_networks")),
        str(ROOT / "solutions"),
        str(PACKAGE_DIR),
        str(PACKAGE_DIR / "rnn.py"),
        str(other),
        str(other.parent),
        f"/proc/{os.getpid()}/cwd",
        f"/proc/{os.getpid()}/environ",
        f"/proc/{os.getpid()}/cmdline",
        f"/proc/{os.getppid()}/cwd",
    ]


TRY_EACH_PATH = """
for path in PATHS:
    for attempt in (os.listdir, lambda p: open(p, 'rb').read(1), os.stat):
        try:
            attempt(path)
            REACHED.append(path)
            print('reached', path)
        except OSError:
            pass
"""


def test_the_control_probe_reaches_its_own_folder(tmp_path):
    probe = "PATHS = ['/submission', '/usr/bin']\n" + TRY_EACH_PATH
    assert _reached(probe, tmp_path), "the probe reached nothing, not even its work folder"


def test_without_the_sandbox_the_same_probe_reaches_the_course(tmp_path):
    """The probe below is not vacuous: unisolated, it reads the course and the solutions."""
    probe = f"PATHS = {_secret_paths(tmp_path)[:4]!r}\n" + TRY_EACH_PATH
    assert _reached(probe, tmp_path, isolation=False)


def test_course_solutions_coursekit_other_submissions_and_grader_proc_are_unreachable(tmp_path):
    probe = f"PATHS = {_secret_paths(tmp_path)!r}\n" + TRY_EACH_PATH
    assert _reached(probe, tmp_path) == []


def test_the_course_folder_shows_at_most_the_python_environment_inside_it(tmp_path):
    """The venv may live in the course folder (``make`` puts it in .venv): only it is there."""
    import sys

    venv = Path(sys.prefix).resolve()
    allowed = [venv.relative_to(ROOT).parts[0]] if venv.is_relative_to(ROOT) else []
    probe = f"""
try:
    names = os.listdir({str(ROOT)!r})
except OSError:
    names = []
if set(names) - set({allowed!r}):
    REACHED.append(str(names)); print('course folder holds', names)
"""
    assert _reached(probe, tmp_path) == []


DESCRIPTOR_TRICKS = """
# every open descriptor, and every directory reachable upwards from one
for fd in os.listdir('/proc/self/fd'):
    try:
        target = os.readlink(f'/proc/self/fd/{fd}')
    except OSError:
        continue
    if not (target.startswith(('pipe:', '/dev/', 'anon_inode:', '/proc/'))):
        REACHED.append(target); print('descriptor to', target)
# climbing out of the root through '..' on a directory descriptor
fd = os.open('/', os.O_RDONLY)
for _ in range(20):
    up = os.open('..', os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = up
names = set(os.listdir(fd))
if names != set(os.listdir('/')):
    REACHED.append(str(names)); print('above the root', names)
# processes: only the sandbox's own, none of the grader's
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        cmdline = open(f'/proc/{pid}/cmdline', 'rb').read()
    except OSError:
        continue
    if b'pytest' in cmdline:
        REACHED.append(pid); print('process', pid, cmdline[:200])
if os.environ.get('COURSEKIT_PLANTED_SECRET'):
    REACHED.append('environment'); print('environment', dict(os.environ))
"""


def test_descriptors_root_escapes_processes_and_environment_show_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_PLANTED_SECRET", "s3cr3t-do-not-leak")
    assert _reached(DESCRIPTOR_TRICKS, tmp_path) == []


NETWORK = """
interfaces = [name for _, name in socket.if_nameindex()]
if interfaces != ['lo']:
    REACHED.append(str(interfaces)); print('interfaces', interfaces)
for address in [('1.1.1.1', 53), ('8.8.8.8', 443), ('127.0.0.1', 22)]:
    try:
        socket.create_connection(address, timeout=2).close()
        REACHED.append(str(address)); print('connected', address)
    except OSError:
        pass
"""


def test_the_network_cannot_be_reached(tmp_path):
    assert _reached(NETWORK, tmp_path) == []


MARKER = "987.654321"
GRANDCHILD = f"""
import time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv('/usr/bin/sleep', ['sleep', '{MARKER}'])
    os._exit(0)
time.sleep(1)
alive = [p for p in os.listdir('/proc') if p.isdigit()
         and b'{MARKER}' in open(f'/proc/{{p}}/cmdline', 'rb').read()]
if alive:  # the grandchild runs inside: REACHED counts it, so the test sees the fork worked
    REACHED.append('grandchild started')
"""


def _host_processes_with(marker: str) -> list[str]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def test_a_forked_grandchild_does_not_survive_the_evaluation(tmp_path):
    assert _reached(GRANDCHILD, tmp_path), "the grandchild did not start inside"
    time.sleep(1)
    assert _host_processes_with(MARKER) == []


def test_the_work_folder_is_size_capped(tmp_path):
    probe = """
try:
    with open('/submission/big', 'wb') as f:
        for _ in range(64):
            f.write(b'x' * (16 << 20))
    REACHED.append('wrote 1 GiB')
except OSError:
    pass
"""
    assert _reached(probe, tmp_path) == []


def test_the_root_and_the_python_installation_are_read_only(tmp_path):
    import sys

    probe = f"""
for path in ['/x', '/usr/x', {sys.prefix + "/x"!r}, '/request/x', {str(PACKAGE_DIR / "x")!r}]:
    try:
        open(path, 'w').write('x')
        REACHED.append(path); print('wrote', path)
    except OSError:
        pass
"""
    assert _reached(probe, tmp_path) == []
