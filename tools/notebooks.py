"""Build the course's notebooks from their text sources, and execute them.

The notebooks are written as jupytext "percent" scripts under ``nbsrc/`` (reviewable diffs,
linted by ruff) and stored as executed ``.ipynb`` files where readers and nbgrader expect them:

    nbsrc/book/NAME.py       ->  book/NAME.ipynb
    nbsrc/solutions/NAME.py  ->  solutions/NAME/NAME.ipynb

Usage (``make notebooks`` runs the first form)::

    python tools/notebooks.py [TARGET ...]     # convert + execute; TARGET e.g. book/02_recurrent_networks
    python tools/notebooks.py --check          # fail if a stored notebook's cells differ from its source

Execution is on CPU (``COURSEKIT_DEVICE=cpu``), in the notebook's own folder, so the stored
outputs are the ones nbval re-creates in CI.
"""

from __future__ import annotations

import argparse
import os
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
    return merged


def cell_sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="e.g. book/02_recurrent_networks (default: all)")
    parser.add_argument(
        "--check", action="store_true", help="only check stored notebooks are in sync"
    )
    parser.add_argument("--no-execute", action="store_true", help="convert without executing")
    args = parser.parse_args(argv)

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
        if not args.no_execute:
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
