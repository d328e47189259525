"""tools/notebooks.py: what it stores, and its --keep-outputs mode; what the chapters show."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import notebooks  # noqa: E402  (tools/ is not a package)

CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
# Comments for the tools, not for the reader: nbval and ruff read cell tags and config instead.
TOOLING_COMMENT = re.compile(r"#\s*(NBVAL_\w+|fmt:\s*(skip|off|on)|noqa\b)")


def _code(source, outputs=()):
    return nbformat.v4.new_code_cell(source, outputs=list(outputs))


def _stream(text):
    return nbformat.v4.new_output("stream", name="stderr", text=text)


def test_progress_bar_redraws_collapse_to_their_last_state():
    bar = "".join(f"\r{k:3d}%|{'#' * (k // 10):10s}|" for k in range(0, 101, 5))
    assert notebooks._collapse_progress(bar + "\ndone\n") == "100%|##########|\ndone\n"


def test_stored_streams_are_coalesced_and_collapsed():
    merged = notebooks._coalesce_streams([_stream("\r 10%"), _stream("\r100%\n")])
    assert [o.text for o in merged] == ["100%\n"]


def test_keep_outputs_matches_cells_by_their_code_not_their_layout():
    shown = _stream("42\n")
    stored = nbformat.v4.new_notebook(
        cells=[_code("print(6 * 7)  # the answer", [shown]), _code("x = 1", [_stream("1\n")])]
    )
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("prose"),
            _code("# the answer, reformatted\nprint(\n    6 * 7\n)"),
            _code("x = 2"),
        ]
    )
    assert notebooks.keep_outputs(nb, stored) == [2]
    assert nb.cells[1].outputs == [shown]
    assert nb.cells[2].outputs == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_code_shows_no_tooling_comments(path):
    nb = nbformat.read(path, as_version=4)
    found = [
        f"cell {i}: {line.strip()}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if TOOLING_COMMENT.search(line)
    ]
    assert not found, "use cell tags (nbval-ignore-output) or config instead:\n" + "\n".join(found)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_stores_no_progress_bar_redraws(path):
    nb = nbformat.read(path, as_version=4)
    redrawn = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream" and re.search(r"\r(?!\n)", out.text)
    ]
    assert not redrawn, f"cells {redrawn} store every redraw of a progress bar"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_quiz_answers_fold_in_one_style(path):
    """Every chapter folds its answers in a {dropdown}, none in a blue admonition."""
    nb = nbformat.read(path, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "{dropdown} Answer" in prose
    assert "{admonition} Answer" not in prose
