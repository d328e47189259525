"""Every test a docstring of coursekit cites exists.

The library's docstrings say what proves them ("Proved equal by test_rnn_cell_matches_torch",
"Tests: tests/test_bptt.py ..."). A citation of a test that was renamed or never written is a
promise nobody keeps, so each one is checked here against the test files themselves, read with
``ast``: a cited ``test_name`` must be a test function or method (or a test assigned to that
name) somewhere under tests/, or the name of a test module; a cited ``tests/....py`` must be a
file. Every ``coursekit/**/*.py`` outside ``coursekit/grading`` is read when the tests are
collected, so a module that moves or appears is covered without a list to keep.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

# one xdist group: the module-scoped fixtures run once (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("docstrings")

ROOT = Path(__file__).resolve().parent.parent
COURSEKIT, TESTS = ROOT / "coursekit", ROOT / "tests"

MODULE_CITATION = re.compile(r"\btests/(?:[\w-]+/)*test_\w+\.py(?:::(\w+))?")
NAME_CITATION = re.compile(r"(?<![\w/.])test_\w+")


def docstrings(source):
    """(line, text) of every docstring in ``source``: the module's, each class's and each
    function's; ``line`` is where the string starts."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if node.body and isinstance(node.body[0], ast.Expr):
            value = node.body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield value.lineno, value.value


def citations(text):
    """(offset, cited) for each citation in a docstring: ``tests/....py`` (with an optional
    ``::test_name``) or a bare ``test_name``."""
    found = []
    for match in MODULE_CITATION.finditer(text):
        found.append((match.start(), match.group(0)))
    remainder = MODULE_CITATION.sub(lambda m: " " * len(m.group(0)), text)
    for match in NAME_CITATION.finditer(remainder):
        found.append((match.start(), match.group(0)))
    return sorted(found)


def library_citations():
    """pytest params, one per citation in coursekit (grading left out)."""
    params, seen = [], set()
    for path in sorted(COURSEKIT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[1] == "grading":
            continue
        for line, text in docstrings(path.read_text(encoding="utf-8")):
            for offset, cited in citations(text):
                at = line + text[:offset].count("\n")
                key = (str(relative), at, cited)
                if key not in seen:
                    seen.add(key)
                    params.append(pytest.param(cited, id=f"{relative}:{at}:{cited}"))
    return params


def collectable_names(path):
    """The names pytest can collect as tests from one file: functions and methods named
    test*, and module-level test_ names bound by assignment (a parametrized table)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
            "test"
        ):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(
                t.id for t in node.targets if isinstance(t, ast.Name) and t.id.startswith("test_")
            )
    return names


def index_of_tests():
    """{test module path: the test names in it} for every Python file under tests/."""
    return {path: collectable_names(path) for path in TESTS.rglob("*.py")}


CITATIONS = library_citations()


@pytest.fixture(scope="module")
def index():
    return index_of_tests()


@pytest.mark.parametrize("cited", CITATIONS)
def test_the_cited_test_exists(cited, index):
    if cited.startswith("tests/"):
        module, _, name = cited.partition("::")
        path = ROOT / module
        assert path.is_file(), f"no test module {module}"
        assert not name or name in index[path], f"no test {name} in {module}"
    else:
        modules = {path.stem for path in index}
        assert cited in modules or any(cited in names for names in index.values()), (
            f"no test function, method or module named {cited} under tests/"
        )


# --------------------------------------------------------------------------------------------
# the reader itself, so that a citation it fails to see cannot pass for a citation that exists


def test_citations_are_found_in_every_form_and_nowhere_else():
    text = (
        "Proved by test_alpha. Equal to torch (test_beta_matches_torch).\n"
        "Tests: tests/test_gamma.py compares ..., tests/sub/test_delta.py::test_epsilon;\n"
        "see test_zeta, not latest_value, contest_x or self.test_method."
    )
    assert [cited for _, cited in citations(text)] == [
        "test_alpha",
        "test_beta_matches_torch",
        "tests/test_gamma.py",
        "tests/sub/test_delta.py::test_epsilon",
        "test_zeta",
    ]


def test_docstrings_are_read_from_modules_classes_functions_and_methods():
    source = '"""m test_a"""\nclass K:\n    """k"""\n    def f(self):\n        """f\n\n test_b"""\n'
    found = {text for _, text in docstrings(source)}
    assert found == {"m test_a", "k", "f\n\n test_b"}


def test_test_names_include_methods_and_assigned_tables(tmp_path):
    path = tmp_path / "test_sample.py"
    path.write_text(
        "class TestK:\n    def test_m(self): ...\n"
        "def test_f(): ...\ndef helper(): ...\ntest_table = helper()\n",
        encoding="utf-8",
    )
    assert collectable_names(path) == {"test_m", "test_f", "test_table"}


def test_the_library_cites_tests_at_all():
    # the library cites several dozen tests today; none found would mean the reader is broken
    assert len(CITATIONS) >= 20
