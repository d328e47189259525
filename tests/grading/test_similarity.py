"""The similarity report on a planted class of assignment 2.

The class: the reference solution and four honest solutions written independently
(``similarity_cases/honest_*.py``, each checked here to be correct), planted copies of each
(``copy_of_*.py``: renamed variables, functions moved between cells and reordered, comments and
prints added; the copy of the reference differs only in whitespace; ``edited_copy_of_chen``
also edits a few lines and rewrites one function), a student who handed in
the blank release and one who handed in nothing.
"""

from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path

import pytest

from coursekit.grading import similarity
from coursekit.grading.notebook import answer_cells, read_notebook
from tests.grading.course import ROOT, correct_answers, filled, submit

# one xdist group: the module-scoped fixtures run once (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("similarity")

NAME = "02_recurrent_networks"
RELEASE = ROOT / "exercises" / NAME / f"{NAME}.ipynb"
CASES = Path(__file__).resolve().parent / "similarity_cases"
HOSTILE = "</script><img src=x onerror=alert(1)>"


def load_case(path: Path) -> dict[str, str]:
    """A case file's answer cells: each starts with a line ``# %% <grade id>``."""
    parts = re.split(r"^# %% (\w+)\n", path.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def only_whitespace_changed(code: str) -> str:
    """Two-space indents, no spaces around ``=`` or after commas, trailing spaces, blank lines."""
    lines = []
    for line in code.splitlines():
        body = line.lstrip(" ")
        indent = "  " * ((len(line) - len(body)) // 4)
        lines += [indent + body.replace(" = ", "=").replace(", ", ",") + "   ", ""]
    return "\n".join(lines) + "\n"


def class_answers() -> dict[str, dict[str, str]]:
    reference = correct_answers(NAME)
    students = {
        "reference": reference,
        "copy_of_reference": {g: only_whitespace_changed(c) for g, c in reference.items()},
    }
    students.update({p.stem: load_case(p) for p in sorted(CASES.glob("*.py"))})
    return students


def family(student: str) -> str:
    """``honest_ana``, ``copy_of_ana`` -> ``ana``: pairs within a family are planted."""
    return student.rsplit("_", 1)[-1]


def is_planted(pair: similarity.Pair) -> bool:
    return family(pair.student_a) == family(pair.student_b)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    for student, answers in class_answers().items():
        submit(root, NAME, student, filled(RELEASE, answers))
    submit(root, NAME, "blank", read_notebook(RELEASE))
    (root / "submitted" / "nobody" / NAME).mkdir(parents=True)
    output = root / "similarity"
    pairs = similarity.similarity_report(
        NAME, root / "submitted", output, course=ROOT, top=100, progress=False
    )
    return pairs, output


def test_the_honest_solutions_are_correct():
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    T, B, I, H, O = 5, 3, 4, 6, 2  # noqa: E741
    x, h0, y_prev = rand(T, B, I), rand(B, H), rand(B, O)
    weights = [rand(H, I), rand(H, H), rand(H), rand(H)]
    reverse = [rand(H, I), rand(H, H), rand(H), rand(H)]
    jordan = [rand(H, I), rand(H, O), rand(H), rand(O, H), rand(O)]
    calls = [
        ("rnn_cell_step", (x[0], h0, *weights)),
        ("rnn_cell_step", (x[0], h0, *weights[:2])),
        ("rnn_forward", (x, h0, *weights)),
        ("bidirectional_rnn_forward", (x, torch.stack([h0, -h0]), weights, reverse)),
        ("jordan_step", (x[0], y_prev, *jordan)),
    ]

    def program(answers):
        namespace = {"torch": torch}
        for code in answers.values():
            exec(code, namespace)
        return namespace

    expected = program(correct_answers(NAME))
    for student, answers in class_answers().items():
        got = program(answers)
        for (name, args), nonlinearity in itertools.product(calls, ["tanh", "relu"]):
            want = expected[name](*args, nonlinearity=nonlinearity)
            have = got[name](*args, nonlinearity=nonlinearity)
            want, have = (v if isinstance(v, tuple) else (v,) for v in (want, have))
            assert all(torch.allclose(a, b) for a, b in zip(have, want, strict=True)), (
                student,
                name,
            )


def test_every_planted_pair_ranks_above_every_honest_pair(report):
    pairs, _ = report
    planted = [p.similarity for p in pairs if is_planted(p)]
    honest = [p.similarity for p in pairs if not is_planted(p)]
    assert len(planted) == 7  # five exact copies; chen's family has three members
    assert min(planted) > max(honest)
    assert all(is_planted(p) for p in pairs[: len(planted)])
    exact = [p for p in pairs if is_planted(p) and "edited" not in p.student_a + p.student_b]
    assert all(p.similarity == 1.0 for p in exact)


def test_the_released_template_is_ignored(report):
    template = read_notebook(RELEASE)
    grade_ids = list(answer_cells(template))
    template_code = similarity.answer_code(template, grade_ids)
    boilerplate = similarity.template_boilerplate(template_code)
    blank = similarity.fingerprint(template_code, boilerplate)
    for student, answers in class_answers().items():
        code = similarity.normalise([answers[g] for g in grade_ids])
        fraction_a, fraction_b, shared, _ = similarity.compare(
            similarity.fingerprint(code, boilerplate), blank
        )
        assert (fraction_a, fraction_b, shared) == (0.0, 0.0, 0), student
    pairs, output = report
    assert all("blank" not in (p.student_a, p.student_b) for p in pairs)
    page = (output / "similarity.html").read_text()
    assert "<li>blank: no answer code beyond the released template</li>" in page


def test_missing_notebooks_are_listed_not_compared(report):
    pairs, output = report
    compared = {s for p in pairs for s in (p.student_a, p.student_b)}
    assert compared == set(class_answers())
    page = (output / "similarity.html").read_text()
    assert re.search(r"<li>nobody: no notebook found", page)


def test_the_csv_lists_every_pair_most_similar_first(report):
    pairs, output = report
    with (output / "similarity.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    n = len(class_answers())
    assert len(rows) == len(pairs) == n * (n - 1) // 2
    assert list(rows[0]) == [
        "student_a",
        "student_b",
        "similarity",
        "shared_tokens",
        "fraction_a",
        "fraction_b",
    ]
    scores = [float(r["similarity"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert [(r["student_a"], r["student_b"]) for r in rows] == [
        (p.student_a, p.student_b) for p in pairs
    ]


def test_the_page_escapes_student_code_and_is_standalone(report):
    _, output = report
    page = (output / "similarity.html").read_text()
    assert HOSTILE not in page and "<img" not in page and "<script" not in page
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)
    assert "<mark>" in page and "href='#pair-1'" in page and "id='pair-1'" in page


def test_normalise_drops_comments_docstrings_prints_and_orders_definitions():
    first = 'def b(x):\n    """Doc."""\n    print(x)  # look\n    return x + 1\n\n\ndef a():\n    pass\n'
    second = "def a():\n    pass\ndef b(x):\n    # comment\n    return x+1\n"
    assert similarity.normalise([first]) == similarity.normalise([second])
    only_print = "def f(x):\n    print(x)\n"
    assert similarity.normalise([only_print]) == "def f(x):\n    pass"


def test_a_cell_with_ipython_magics_is_normalised():
    cell = "%time y = 1\ndef f(x):\n    print(x)  # debug\n    return x\n"
    assert similarity.normalise([cell]).endswith("def f(x):\n    return x")


def test_a_cell_that_does_not_parse_is_compared_as_written():
    broken = "def f(x)\n    return x"
    code = similarity.normalise(["import torch\n", broken])
    assert code == "import torch\n\n" + broken


def test_a_missing_assignment_or_an_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no released template"):
        similarity.similarity_report("99_nothing", tmp_path, tmp_path / "out", course=ROOT)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        similarity.similarity_report(NAME, tmp_path / "empty", tmp_path / "out", course=ROOT)
    with pytest.raises(ValueError, match="no submissions"):
        similarity.similarity_report(NAME, tmp_path / "absent", tmp_path / "out", course=ROOT)


def test_a_passage_written_twice_keeps_its_fingerprints_beside_the_boilerplate():
    code = "def f(x):\n    return torch.tanh(x @ w.T + b)\n\n\ndef g(x):\n    return torch.tanh(x @ w.T + b)\n"
    unrelated = similarity.template_boilerplate("def h():\n    raise NotImplementedError()\n")
    plain, filtered = similarity.fingerprint(code), similarity.fingerprint(code, unrelated)
    assert filtered.hash_idx == plain.hash_idx
    assert filtered.token_coverage == plain.token_coverage


def test_every_k_gram_is_a_fingerprint_by_default_so_runs_agree():
    printed = similarity.fingerprint(similarity.normalise([correct_answers(NAME)["rnn_forward"]]))
    positions = sorted(i for idx in printed.hash_idx.values() for i in idx)
    assert positions == list(range(len(printed.filtered_code) - similarity.NOISE + 1))
