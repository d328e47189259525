"""Build the course's notebooks from their text sources, and execute them.

The notebooks are written as jupytext "percent" scripts under ``nbsrc/`` (reviewable diffs,
linted by ruff) and stored as executed ``.ipynb`` files where readers and nbgrader expect them:

    nbsrc/book/NAME.py       ->  book/NAME.ipynb
    nbsrc/solutions/NAME.py  ->  solutions/NAME/NAME.ipynb

Usage (``make notebooks`` runs the first form)::

    python tools/notebooks.py [TARGET ...]     # convert + execute; TARGET e.g. book/02_recurrent_networks
    python tools/notebooks.py --check          # fail if a stored notebook's cells differ from its source
    python tools/notebooks.py --keep-outputs TARGET   # convert, reuse the stored outputs, no kernel
    python tools/notebooks.py --keep-outputs --execute-until 12 TARGET   # ... but run cells 0-12

Execution is on CPU (``COURSEKIT_DEVICE=cpu``), in the notebook's own folder, so the stored
outputs are the ones nbval re-creates in CI.

``--keep-outputs`` is for edits that cannot change what a cell prints (prose, a reformatted or
re-commented code cell): each code cell whose code is the same Python as a stored cell's (the
same syntax tree, so layout, comments and string splitting do not count) keeps that cell's
outputs; any other code cell is listed and left without outputs until the notebook is executed.
With ``--execute-until N`` the cells 0..N are executed afresh (in order, in one kernel, as a full
run would execute them) and only the cells after N keep stored outputs: a chapter whose later
sections are being rewritten can take the new outputs of its earlier ones.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import os
import re
import sys
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def targets() -> dict[str, tuple[Path, Path]]:
    """Map each target name to (source script, stored notebook)."""
    found = {}
    for src in sorted((ROOT / "nbsrc" / "book").glob("*.py")):
        found[f"book/{src.stem}"] = (src, ROOT / "book" / f"{src.stem}.ipynb")
    for src in sorted((ROOT / "nbsrc" / "solutions").glob("*.py")):
        found[f"solutions/{src.stem}"] = (src, ROOT / "solutions" / src.stem / f"{src.stem}.ipynb")
    return found


def convert(src: Path) -> nbformat.NotebookNode:
    """Read a percent script as a notebook with clean, stable metadata."""
    nb = jupytext.read(src, fmt="py:percent")
    nb.metadata = nbformat.NotebookNode(kernelspec=KERNELSPEC, language_info={"name": "python"})
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("lines_to_next_cell", None)
        cell.id = f"cell-{i:03d}"  # stable ids keep rebuilds diff-free
    return nb


def execute(nb: nbformat.NotebookNode, folder: Path) -> None:
    os.environ.setdefault("COURSEKIT_DEVICE", "cpu")
    # One thread: small models gain nothing from more, and results then do not depend on
    # the machine's core count (nbval re-executes with the same setting, see the Makefile).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    client = NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        record_timing=False,  # no timestamps: a rebuild changes only what really changed
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    for cell in nb.cells:  # one output per stream, however the kernel happened to chunk it
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)


def _collapse_progress(text: str) -> str:
    """Keep what a terminal would show: the last redraw of each line a progress bar rewrote.

    tqdm redraws its bar with carriage returns, thousands of times over a long run; the
    stored notebook (and the page) need only the final state.
    """
    return re.sub(r"[^\n]*\r(?!\n)", "", text)


def _coalesce_streams(outputs: list) -> list:
    merged: list = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (
            out.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == out.name
        ):
            previous.text += out.text
        else:
            merged.append(out)
    for out in merged:
        if out.output_type == "stream":
            out.text = _collapse_progress(out.text)
    return merged


def _code_key(source: str) -> str:
    """What a code cell computes, ignoring layout and comments (its syntax tree)."""
    try:
        return ast.dump(ast.parse(source))
    except SyntaxError:  # IPython magics and the like: compare the text itself
        return source


def keep_outputs(nb: nbformat.NotebookNode, stored: nbformat.NotebookNode) -> list[int]:
    """Copy the outputs of ``stored``'s code cells into the matching cells of ``nb``.

    Cells are matched in order by `_code_key`; returns the indices of the code cells of
    ``nb`` that found no match (they are left without outputs).
    """
    # what the kernel reported when the stored outputs were made
    if "language_info" in stored.metadata:
        nb.metadata.language_info = stored.metadata.language_info
    new = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    old = [c for c in stored.cells if c.cell_type == "code"]
    matcher = difflib.SequenceMatcher(
        a=[_code_key(c.source) for c in old],
        b=[_code_key(nb.cells[i].source) for i in new],
        autojunk=False,
    )
    matched = set()
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            cell = nb.cells[new[block.b + k]]
            cell.outputs = old[block.a + k].get("outputs", [])
            cell.execution_count = old[block.a + k].get("execution_count")
            matched.add(new[block.b + k])
    return [i for i in new if i not in matched]


def cell_sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="e.g. book/02_recurrent_networks (default: all)")
    parser.add_argument(
        "--check", action="store_true", help="only check stored notebooks are in sync"
    )
    parser.add_argument("--no-execute", action="store_true", help="convert without executing")
    parser.add_argument(
        "--keep-outputs",
        action="store_true",
        help="convert without executing, keeping the stored outputs of unchanged code cells",
    )
    parser.add_argument(
        "--execute-until",
        type=int,
        metavar="N",
        help="with --keep-outputs: execute cells 0..N, keep stored outputs after N",
    )
    args = parser.parse_args(argv)
    if args.execute_until is not None and not args.keep_outputs:
        parser.error("--execute-until goes with --keep-outputs")

    known = targets()
    chosen = args.targets or list(known)
    unknown = [t for t in chosen if t not in known]
    if unknown:
        parser.error(f"unknown target(s) {unknown}; known: {sorted(known)}")

    stale = []
    for name in chosen:
        src, dst = known[name]
        nb = convert(src)
        if args.check:
            if not dst.exists() or cell_sources(nbformat.read(dst, as_version=4)) != cell_sources(
                nb
            ):
                stale.append(f"{dst.relative_to(ROOT)} is out of date with {src.relative_to(ROOT)}")
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if args.keep_outputs:
            if not dst.exists():
                parser.error(f"--keep-outputs: {dst.relative_to(ROOT)} has no stored outputs")
            missing = keep_outputs(nb, nbformat.read(dst, as_version=4))
            if args.execute_until is not None:
                print(f"executing cells 0-{args.execute_until} of {name} ...", flush=True)
                head = copy.deepcopy(nb)
                head.cells = head.cells[: args.execute_until + 1]
                execute(head, dst.parent)
                nb.cells[: len(head.cells)] = head.cells
                nb.metadata = head.metadata
                missing = [i for i in missing if i > args.execute_until]
            for i in missing:
                first = nb.cells[i].source.splitlines()[:1] or [""]
                print(f"{name}: cell {i} changed, execute it to fill its output: {first[0]!r}")
        elif not args.no_execute:
            print(f"executing {name} ...", flush=True)
            execute(nb, dst.parent)
        nbformat.write(nb, dst)
        print(f"wrote {dst.relative_to(ROOT)}")
    for line in stale:
        print(line, file=sys.stderr)
    if stale:
        print("run `make notebooks` to rebuild them", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
