"""Prove an assignment's hidden tests: the solution passes them and every wrong answer fails.

For each graded function the course keeps known-wrong variants (a transposed weight, a missing
bias, the gate order swapped, an off-by-one in time …). This harness runs the source notebook's
program in process — its setup cells and its answer cells, with one answer cell replaced by a
variant — and asks :func:`coursekit.grading.checks.check_function` about every graded function
over several seeds. It is fast (no kernel, no nbgrader), so every variant is proved on every
run of the test suite; ``tests/grading/test_roundtrip.py`` also sends variants through the real
``nbgrader autograde`` and ``coursekit grade``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from coursekit.grading.checks import check_function
from coursekit.grading.notebook import correct_answers, graded_cells, read_notebook, with_answers
from coursekit.grading.program import build_program

__all__ = ["correct_answers", "failures", "run_program", "surviving_variants"]


@contextmanager
def _torch_settings_restored() -> Iterator[None]:
    """Notebook cells may change torch's global settings (the default dtype, threads); the
    checks run under the program's settings, and this process gets its own back afterwards."""
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)


def run_program(source_path: str | Path, **replaced: str) -> dict:
    """Execute the program the grader would build, in this process; returns its namespace."""
    source = read_notebook(source_path)
    submission = with_answers(source, {**correct_answers(source_path), **replaced})
    cells, _, _ = build_program(source, submission)
    namespace: dict = {"__name__": "__main__"}
    for index, cell in enumerate(cells):
        exec(compile(cell, f"<cell {index}>", "exec"), namespace)
    return namespace


def failures(
    source_path: str | Path, seed: int, names: list[str] | None = None, **replaced: str
) -> dict[str, str]:
    """Graded function -> why ``check_function`` rejects it (absent when it passes).

    ``names`` limits the check to those functions (default: every graded function).
    """
    graded = [
        n for _, _, cell_names in graded_cells(read_notebook(source_path)) for n in cell_names
    ]
    found = {}
    with _torch_settings_restored():
        namespace = run_program(source_path, **replaced)
        for name in names or graded:
            try:
                check_function(name, namespace.get(name), seed=seed)
            except AssertionError as exc:
                found[name] = str(exc)
    return found


def surviving_variants(
    source_path: str | Path,
    variants: dict[str, dict[str, str]],
    seeds: tuple[int, ...] = (0, 1, 2),
) -> list[tuple[str, str, int]]:
    """(grade id, label, seed) of every wrong variant that its function's check lets through."""
    survivors = []
    for grade_id, labelled in variants.items():
        for label, source in labelled.items():
            for seed in seeds:
                if not failures(source_path, seed, [grade_id], **{grade_id: source}):
                    survivors.append((grade_id, label, seed))
    return survivors
