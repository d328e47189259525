"""Which students share answer code: a ranked similarity report over a class's submissions.

``similarity_report(assignment, submissions, output)`` finds the submissions exactly as
``coursekit grade`` does (:func:`coursekit.grading.submissions.discover`), takes from each
notebook only the cells nbgrader marks as answers, in the released template's order, and
compares every pair of students with `copydetect <https://pypi.org/project/copydetect/>`_,
a maintained implementation of MOSS's winnowing fingerprints (Schleimer, Wilkerson and Aiken,
SIGMOD 2003). It writes ``similarity.csv`` (every pair, most similar first) and
``similarity.html`` (the top pairs, each with the two students' code side by side and the shared
passages marked; standalone, no scripts, every piece of student text escaped).

What makes two answers "the same" (the normalisation):

* copydetect tokenises with pygments and replaces every name (variable, attribute, function)
  by one letter, strings by ``S``, and drops comments and whitespace: renaming and reformatting
  change nothing;
* before that, here: the answer code is parsed (``ast``) and written back (``ast.unparse``),
  which drops comments and normalises layout; docstrings, other bare string or constant
  statements and ``print(...)`` calls are removed at any depth; the top-level function and
  class definitions of all answer cells are put in a canonical order, sorted by their
  copydetect-filtered text (blind to names, so renaming a helper cannot move it), after the
  other top-level statements. IPython magics are first rewritten as IPython does; a cell that
  still does not parse is compared as written;
* every fingerprint of the released template's answer cells (the signatures, the
  ``raise NotImplementedError()``), normalised the same way, is boilerplate and ignored.

The score of a pair is the larger of copydetect's two overlap fractions (the share of each
student's fingerprinted code found in the other's): copying is containment, and the larger
fraction stays high when the copy was padded with code of its own, where the mean would be
diluted. Its cost is that a student who wrote very little scores high against anyone who wrote
the same few lines; the CSV gives both fractions and the number of shared tokens to tell the
two apart. A high score is a reason to look, never a verdict.
"""

from __future__ import annotations

import ast
import csv
import html
import io
import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files, defaults
from copydetect.utils import filter_code, get_token_coverage
from IPython.core.inputtransformer2 import TransformerManager
from tqdm import tqdm

from coursekit.grading.notebook import answer_cells, read_notebook
from coursekit.grading.outcomes import bounded, csv_safe
from coursekit.grading.submissions import discover

__all__ = [
    "GUARANTEE",
    "NOISE",
    "Pair",
    "answer_code",
    "compare",
    "fingerprint",
    "normalise",
    "similarity_report",
    "template_boilerplate",
]

# copydetect's thresholds, in characters of filtered code (one character per name or
# operator): a shared passage shorter than NOISE is never reported, one of GUARANTEE or more
# always is; the winnowing window is GUARANTEE - NOISE + 1. copydetect's defaults (25, 25) make
# it 1, every k-gram a fingerprint: answers are a few hundred tokens, so that costs nothing,
# and the report does not change between runs. A window above 1 keeps fewer fingerprints for
# long assignments, but which ones then varies from run to run: copydetect hashes k-grams with
# Python's salted ``hash()`` (set PYTHONHASHSEED to reproduce a run).
NOISE = defaults.NOISE_THRESHOLD
GUARANTEE = defaults.GUARANTEE_THRESHOLD
MAX_CODE_CHARS = 200_000  # of one student's answer code; the rest is not compared


@dataclass(frozen=True)
class Pair:
    """Two students and how much answer code they share (``student_a < student_b``)."""

    student_a: str
    student_b: str
    similarity: float  # max(fraction_a, fraction_b), in [0, 1]
    shared_tokens: int  # copydetect's count of filtered characters shared, in student_a's code
    fraction_a: float  # share of student_a's fingerprinted code found in student_b's
    fraction_b: float


# -- normalisation -----------------------------------------------------------------------------


def _is_noise(statement: ast.stmt) -> bool:
    """A docstring or other bare constant, or a ``print(...)`` call used as a statement."""
    if not isinstance(statement, ast.Expr):
        return False
    value = statement.value
    if isinstance(value, ast.Constant):
        return True
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "print"
    )


class _StripNoise(ast.NodeTransformer):
    def generic_visit(self, node):
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list) and body and all(isinstance(s, ast.stmt) for s in body):
                kept = [s for s in body if not _is_noise(s)]
                setattr(node, field, kept or ([] if isinstance(node, ast.Module) else [ast.Pass()]))
        return node


def _order_key(definition: ast.stmt) -> tuple[str, str]:
    text = ast.unparse(definition)
    filtered, _ = filter_code(text, "answer.py", language="python")
    return filtered, text


def normalise(cells: list[str]) -> str:
    """Answer cells as one program: comments, docstrings and prints removed, definitions in
    a canonical order; a cell that does not parse is kept as written, at the end."""
    statements, unparsed = [], []
    for cell in cells:
        try:  # IPython's own rewriting of magics (%time, !ls) into Python, as the kernel does
            source = TransformerManager().transform_cell(cell)
        except Exception:  # a cell IPython cannot rewrite is parsed as written
            source = cell
        try:
            statements.extend(_StripNoise().visit(ast.parse(source)).body)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            unparsed.append(cell)
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    rest = [s for s in statements if not isinstance(s, definitions)]
    defs = [s for s in statements if isinstance(s, definitions)]
    try:
        defs.sort(key=_order_key)
        code = ast.unparse(ast.Module(body=rest + defs, type_ignores=[]))
    except (RecursionError, ValueError, MemoryError):
        return "\n\n".join(cells)[:MAX_CODE_CHARS]
    return "\n\n".join([code, *unparsed]).strip()[:MAX_CODE_CHARS]


def answer_code(notebook, grade_ids: list[str]) -> str:
    """The normalised code of a notebook's answer cells, those of ``grade_ids`` in that order
    (the released template's answer cells; any other cell is not the student's answer)."""
    answers = answer_cells(notebook)
    return normalise([answers[g] for g in grade_ids if answers.get(g, "").strip()])


# -- fingerprints ------------------------------------------------------------------------------


def fingerprint(
    code: str,
    boilerplate: np.ndarray | None = None,
    *,
    noise: int = NOISE,
    guarantee: int = GUARANTEE,
) -> CodeFingerprint:
    """copydetect's winnowed fingerprints of (normalised) Python code, boilerplate removed.

    The boilerplate is removed here, by hash, rather than by copydetect's own ``boilerplate``
    argument: copydetect 0.5.0 matches it with ``np.intersect1d(..., assume_unique=True)`` on
    hashes that can repeat, which also drops occurrences of any passage a student wrote twice."""
    if not 0 < noise <= guarantee:
        raise ValueError(f"need 0 < noise <= guarantee; got noise={noise}, guarantee={guarantee}")
    printed = CodeFingerprint(
        "answer.py", noise, guarantee - noise + 1, language="python", fp=io.StringIO(code)
    )
    ignored = set() if boilerplate is None else {int(h) for h in boilerplate}
    dropped = {h for h in printed.hashes if int(h) in ignored}
    if dropped:
        printed.hashes -= dropped
        for h in dropped:
            del printed.hash_idx[h]
        printed.token_coverage = get_token_coverage(
            printed.hash_idx, printed.k, len(printed.filtered_code)
        )
    return printed


def template_boilerplate(code: str, *, noise: int = NOISE) -> np.ndarray:
    """Every k-gram hash of the template's code (window 1, as copydetect does for boilerplate)."""
    return np.unique(np.array(list(fingerprint(code, noise=noise, guarantee=noise).hashes)))


def compare(a: CodeFingerprint, b: CodeFingerprint):
    """(fraction_a, fraction_b, shared tokens, (slices_a, slices_b)) for two fingerprints;
    slices are 2xN arrays of [start, end) character spans of the shared code in each."""
    shared, (fraction_a, fraction_b), slices = compare_files(a, b)
    return _unit(fraction_a), _unit(fraction_b), int(shared), slices


def _unit(x) -> float:
    return float(min(max(x, 0.0), 1.0))


# -- the report --------------------------------------------------------------------------------


def _released_answers(course: Path, assignment: str) -> tuple[list[str], str]:
    """The template's answer grade ids in order, and its normalised answer code."""
    release = course / "exercises" / assignment / f"{assignment}.ipynb"
    if not release.is_file():
        raise ValueError(
            f"no released template {release}: is {assignment!r} an assignment? "
            "(run `coursekit release` first)"
        )
    template = read_notebook(release)
    grade_ids = list(answer_cells(template))
    if not grade_ids:
        raise ValueError(f"{release} has no answer cells (nbgrader solution cells)")
    return grade_ids, answer_code(template, grade_ids)


def similarity_report(
    assignment: str,
    submissions: Path,
    output: Path,
    course: Path = Path("."),
    top: int = 50,
    *,
    noise: int = NOISE,
    guarantee: int = GUARANTEE,
    progress: bool = True,
) -> list[Pair]:
    """Compare every pair of students' answer code; write ``similarity.csv`` (all pairs) and
    ``similarity.html`` (the ``top`` pairs side by side) under ``output``; return the pairs,
    most similar first. Students without a notebook or without answer code beyond the template
    are listed in the page, not compared."""
    submissions, output, course = Path(submissions), Path(output), Path(course)
    grade_ids, template_code = _released_answers(course, assignment)
    if not submissions.exists():
        raise ValueError(f"no submissions at {submissions}")
    if submissions.is_dir() and not any(p for p in submissions.iterdir() if p.name[0] != "."):
        raise ValueError(f"{submissions} is empty: no submissions to compare")
    boilerplate = template_boilerplate(template_code, noise=noise)

    prints: dict[str, CodeFingerprint] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="coursekit-similarity-") as scratch:
        found = discover(submissions, assignment, Path(scratch))
        for sub in tqdm(found, desc="fingerprinting", unit="nb", disable=not progress):
            if sub.path is None:
                skipped[sub.student] = sub.problem or "no notebook handed in"
                continue
            try:
                code = answer_code(read_notebook(sub.path), grade_ids)
            except ValueError as exc:
                skipped[sub.student] = bounded(exc, 200)
                continue
            printed = fingerprint(code, boilerplate, noise=noise, guarantee=guarantee)
            if not code.strip():
                skipped[sub.student] = "no answer code"
            elif not printed.hashes:
                skipped[sub.student] = "no answer code beyond the released template"
            else:
                prints[sub.student] = printed
    if not found:
        raise ValueError(f"no submissions of {assignment} found in {submissions}")

    pairs = []
    students = sorted(prints)
    total = len(students) * (len(students) - 1) // 2
    for a, b in tqdm(
        itertools.combinations(students, 2),
        total=total,
        desc="comparing",
        unit="pair",
        disable=not progress,
    ):
        fraction_a, fraction_b, shared, _ = compare(prints[a], prints[b])
        pairs.append(Pair(a, b, max(fraction_a, fraction_b), shared, fraction_a, fraction_b))
    pairs.sort(key=lambda p: (-p.similarity, -p.shared_tokens, p.student_a, p.student_b))

    output.mkdir(parents=True, exist_ok=True)
    _write_csv(output / "similarity.csv", pairs)
    page = _render(assignment, pairs, prints, skipped, top, noise, guarantee)
    (output / "similarity.html").write_text(page, encoding="utf-8")
    return pairs


def _write_csv(path: Path, pairs: list[Pair]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["student_a", "student_b", "similarity", "shared_tokens", "fraction_a", "fraction_b"]
        )
        for p in pairs:
            writer.writerow(
                [
                    csv_safe(p.student_a),
                    csv_safe(p.student_b),
                    f"{p.similarity:.4f}",
                    p.shared_tokens,
                    f"{p.fraction_a:.4f}",
                    f"{p.fraction_b:.4f}",
                ]
            )


# -- HTML --------------------------------------------------------------------------------------

STYLE = """
body { font-family: sans-serif; margin: 2rem; line-height: 1.45; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .3rem .6rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .85rem; }
mark { background: #ffd33d; } .note { color: #6e7781; }
"""


def _highlighted(code: str, slices) -> str:
    """``code`` HTML-escaped, with the [start, end) spans in ``slices`` inside <mark>."""
    e = html.escape
    spans = [] if len(slices) == 0 or np.size(slices) == 0 else np.asarray(slices, int).T
    out, at = [], 0
    for start, end in sorted((max(int(s), 0), min(int(t), len(code))) for s, t in spans):
        start = max(start, at)
        if end <= start:
            continue
        out += [e(code[at:start]), "<mark>", e(code[start:end]), "</mark>"]
        at = end
    out.append(e(code[at:]))
    return "".join(out)


def _render(assignment, pairs, prints, skipped, top, noise, guarantee) -> str:
    e = html.escape
    shown = pairs[: max(top, 0)]
    rows, sections = [], []
    for rank, p in enumerate(shown, 1):
        rows.append(
            f"<tr><td class='num'>{rank}</td><td>{e(p.student_a)}</td><td>{e(p.student_b)}</td>"
            f"<td class='num'><a href='#pair-{rank}'>{p.similarity:.0%}</a></td>"
            f"<td class='num'>{p.fraction_a:.0%}</td><td class='num'>{p.fraction_b:.0%}</td>"
            f"<td class='num'>{p.shared_tokens}</td></tr>"
        )
        a, b = prints[p.student_a], prints[p.student_b]
        *_, (slices_a, slices_b) = compare(a, b)
        sections.append(
            f"<section id='pair-{rank}'><h2>{rank}. {e(p.student_a)} and {e(p.student_b)}: "
            f"{p.similarity:.0%}</h2><div class='pair'>"
            f"<div><h3>{e(p.student_a)} ({p.fraction_a:.0%} shared)</h3>"
            f"<pre>{_highlighted(a.raw_code, slices_a)}</pre></div>"
            f"<div><h3>{e(p.student_b)} ({p.fraction_b:.0%} shared)</h3>"
            f"<pre>{_highlighted(b.raw_code, slices_b)}</pre></div>"
            "</div><p><a href='#top'>back to the ranking</a></p></section>"
        )
    found = f", and is certain to be found from {guarantee}" if guarantee > noise else ""
    missing = "".join(
        f"<li>{e(student)}: {e(reason)}</li>" for student, reason in sorted(skipped.items())
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Similarity: {e(assignment)}</title>
<style>{STYLE}</style></head><body id="top">
<h1>Answer-code similarity: {e(assignment)}</h1>
<p>{len(prints)} students compared, {len(pairs)} pairs; the {len(shown)} most similar are
shown. The similarity of a pair is the larger of the two shares of each student's answer code
found in the other's (copydetect's winnowing fingerprints: a shared passage counts from {noise}
characters of normalised code, each name one character{found}), after removing comments,
docstrings and prints, putting the functions in one order, replacing names, and ignoring the
released template. A high score is a reason to read the two notebooks, not a verdict.</p>
<table><tr><th>rank</th><th>student</th><th>student</th><th>similarity</th>
<th>share of first</th><th>share of second</th><th>shared tokens</th></tr>{"".join(rows)}</table>
<h2>Not compared</h2><ul>{missing or "<li class='note'>none</li>"}</ul>
<p class="note">Code below is the answer code as compared (normalised); shared passages are
marked.</p>
{"".join(sections)}
</body></html>
"""
