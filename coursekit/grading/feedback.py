"""Per-student HTML feedback: scores, messages, and the student's own work — no hidden tests.

``coursekit feedback ASSIGNMENT`` reads the results that ``coursekit grade`` saved and writes
``feedback/<assignment>/<student>.html``. The page shows the student's cells as submitted
(locked cells as released), the total, and each graded part's points and the reason it failed,
in the notebook's order. The hidden tests' source never appears: graded cells are shown as
their released (stripped) version; nor does the class's seed (with the public course code, a
student who knew it could compute the hidden cases before resubmitting).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from coursekit.grading.notebook import (
    answer_cells,
    graded_cells,
    is_answer,
    is_hidden_test,
    nbgrader_metadata,
    read_notebook,
    without_hidden_tests,
)
from coursekit.grading.student_data import warn_if_not_ignored

__all__ = ["write_feedback"]

STYLE = """
body { font-family: sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.45; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .3rem .6rem; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; }
.ok { color: #1a7f37; } .fail { color: #cf222e; } .note { color: #6e7781; }
"""


def _cells_shown(source_path: Path, submission_path: str | None) -> list[tuple[str, str]]:
    """(kind, text) for each cell: the student's answers, everything else as released."""
    source = read_notebook(source_path)
    answers = {}
    if submission_path:
        try:
            answers = answer_cells(read_notebook(submission_path))
        except ValueError:
            pass  # an unreadable notebook: the reason is in the results
    shown = []
    for cell in source.cells:
        if is_answer(cell):
            shown.append(("answer", answers.get(nbgrader_metadata(cell)["grade_id"], "(missing)")))
        elif is_hidden_test(cell):
            shown.append(("tests", without_hidden_tests(cell).strip()))
        else:
            shown.append((cell.cell_type, cell.source))
    return shown


def render(result: dict, source_path: Path) -> str:
    e = html.escape
    rows = []
    in_order = [g for g, _, _ in graded_cells(read_notebook(source_path))]  # the notebook's order
    order = [g for g in in_order if g in result["max_points"]]
    order += [g for g in result["max_points"] if g not in order]
    for grade_id in order:
        maximum = result["max_points"][grade_id]
        points = result["points"].get(grade_id, 0.0)
        name = grade_id.removesuffix("_hidden")
        message = result["functions"].get(name, result.get("reason", "")) or ""
        css = "ok" if points == maximum else "fail"
        text = "passed" if message == "ok" else message
        rows.append(
            f"<tr><td>{e(name)}</td><td class='{css}'>{points:g} / {maximum:g}</td><td>{e(text)}</td></tr>"
        )
    total_max = sum(result["max_points"].values())
    notes = "".join(f"<li class='note'>{e(n)}</li>" for n in result["notes"] if n)
    cells = []
    for kind, text in _cells_shown(source_path, result.get("file")):
        if kind == "markdown":
            cells.append(f"<div>{e(text)}</div>".replace("\n", "<br>"))
        elif text.strip():
            label = {"answer": "your answer", "tests": "tests"}.get(kind, "")
            cells.append(
                f"<p class='note'>{label}</p><pre>{e(text)}</pre>"
                if label
                else f"<pre>{e(text)}</pre>"
            )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback: {e(result["student"])}</title>
<style>{STYLE}</style></head><body>
<h1>Feedback for {e(result["student"])}</h1>
<p><strong>{result["total"]:g} / {total_max:g} points</strong> — status: {e(result["status"])}</p>
<table><tr><th>part</th><th>points</th><th>result</th></tr>{"".join(rows)}</table>
<ul>{notes}</ul>
<p class="note">Hidden tests compared your functions with the reference on random inputs
(values and gradients).</p>
<h2>Your notebook</h2>
{"".join(cells)}
</body></html>
"""


def write_feedback(assignment: str, output: Path, course: Path = Path(".")) -> list[Path]:
    """Write one HTML page per graded student; returns the paths written."""
    source = course / "solutions" / assignment / f"{assignment}.ipynb"
    results_dir = output / "results" / assignment
    if not results_dir.is_dir():
        raise ValueError(f"no results in {results_dir}: run `coursekit grade {assignment}` first")
    target = output / "feedback" / assignment
    target.mkdir(parents=True, exist_ok=True)
    warn_if_not_ignored(target, "feedback pages quoting students' code")
    written = []
    for path in sorted(results_dir.glob("*.json")):
        if path.name == "_run.json":
            continue
        result = json.loads(path.read_text())
        page = target / f"{result['student']}.html"
        page.write_text(render(result, source), encoding="utf-8")
        written.append(page)
    return written
