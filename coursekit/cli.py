"""The ``coursekit`` command line: ``release``, ``check``, ``grade`` and ``feedback``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from coursekit.grading import checks, release
from coursekit.grading.sandbox import SandboxUnavailable

NO_ISOLATION_HELP = (
    "run student code without the OS sandbox (bubblewrap) where it cannot run; warned "
    "about on every run and recorded as isolation 'none'"
)


def _find_source(course: Path, submission: Path) -> Path:
    """The source notebook with the submission's file name, e.g. solutions/02_x/02_x.ipynb."""
    candidates = sorted((course / "solutions").glob(f"*/{submission.name}"))
    if len(candidates) != 1:
        raise SystemExit(
            f"cannot tell which assignment {submission.name} belongs to; pass --source "
            f"(found {len(candidates)} source notebooks with that name under {course / 'solutions'})"
        )
    return candidates[0]


def _cmd_release(args: argparse.Namespace) -> int:
    return release.release(Path(args.course_dir).resolve(), args.assignments, check=args.check)


def _cmd_check(args: argparse.Namespace) -> int:
    submission = Path(args.notebook)
    source = Path(args.source) if args.source else _find_source(Path(args.course_dir), submission)
    if args.no_isolation:
        from coursekit.grading.autograde import UNISOLATED_WARNING

        print(UNISOLATED_WARNING, file=sys.stderr)
    verdict = checks.judge_notebook(
        submission, source, seed=args.seed, isolation=not args.no_isolation
    )
    if args.json:
        print(
            json.dumps(
                {
                    "notebook": str(submission),
                    "status": verdict.status,
                    "reason": verdict.reason,
                    "flagged": verdict.flagged,
                    "isolation": verdict.isolation,
                    "points": verdict.points,
                    "max_points": verdict.max_points,
                    "seed": verdict.seed,
                    "cells": [vars(c) for c in verdict.cells],
                    "notes": verdict.notes,
                },
                indent=2,
            )
        )
        return 0
    print(f"{submission}: {verdict.status}, {verdict.points:g} / {verdict.max_points:g} points")
    if verdict.reason:
        print(f"  reason: {verdict.reason}")
    for cell in verdict.cells:
        for name, outcome in cell.functions.items():
            mark = "ok  " if outcome == "ok" else "FAIL"
            detail = "" if outcome == "ok" else f": {outcome}"
            print(f"  {mark} {name} ({cell.points:g}/{cell.max_points:g}){detail}")
    for note in verdict.notes:
        print(f"  note: {note}")
    print(f"  (random cases drawn with seed {verdict.seed}; pass --seed to reproduce)")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from coursekit.grading.autograde import grade_class

    results = grade_class(
        args.assignment,
        Path(args.submissions),
        Path(args.output),
        course=Path(args.course_dir),
        workers=args.workers,
        scheduler=args.scheduler,
        force=args.force,
        seed=args.seed,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        memory_bytes=int(args.memory_gb * 2**30),
        isolation=not args.no_isolation,
    )
    clean = sum(r["status"] == "graded" for r in results)
    print(
        f"{len(results)} submissions: {clean} graded cleanly, {len(results) - clean} with a "
        f"status to read; see {Path(args.output) / 'grades.csv'} and gradebook.db"
    )
    return 0


def _cmd_feedback(args: argparse.Namespace) -> int:
    from coursekit.grading.feedback import write_feedback

    pages = write_feedback(args.assignment, Path(args.output), Path(args.course_dir))
    print(
        f"wrote {len(pages)} feedback pages under {Path(args.output) / 'feedback' / args.assignment}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="coursekit", description="Tools for the Sequence Models course."
    )
    parser.add_argument("--course-dir", default=".", help="the course's root folder (default: .)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("release", help="generate exercises/ from solutions/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all in solutions/)")
    p.add_argument("--check", action="store_true", help="fail if exercises/ is not in sync")
    p.set_defaults(run=_cmd_release)

    p = commands.add_parser(
        "check",
        help="grade one submitted notebook outside the student's kernel and explain the result",
    )
    p.add_argument("notebook", help="the submitted .ipynb")
    p.add_argument("--source", help="the source notebook (default: solutions/*/<same name>)")
    p.add_argument("--seed", type=int, help="seed for the random cases (default: fresh)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--no-isolation", action="store_true", help=NO_ISOLATION_HELP)
    p.set_defaults(run=_cmd_check)

    p = commands.add_parser("grade", help="grade a whole class in parallel, outside the kernels")
    p.add_argument("assignment", help="assignment name, e.g. 02_recurrent_networks")
    p.add_argument(
        "submissions", help="nbgrader's submitted/ tree, a folder of notebooks, or a zip"
    )
    p.add_argument("--output", default=".", help="where grades.csv, gradebook.db and results/ go")
    p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="local parallel workers"
    )
    p.add_argument("--scheduler", help="address of a Dask scheduler to grade on instead")
    p.add_argument("--force", action="store_true", help="regrade submissions already graded")
    p.add_argument("--seed", type=int, help="seed for the random cases (default: one per class)")
    p.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    p.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell and per call")
    p.add_argument("--memory-gb", type=float, default=6, help="memory limit per notebook")
    p.add_argument("--no-isolation", action="store_true", help=NO_ISOLATION_HELP)
    p.set_defaults(run=_cmd_grade)

    p = commands.add_parser("feedback", help="per-student HTML feedback from a grading run")
    p.add_argument("assignment")
    p.add_argument("--output", default=".", help="the --output folder of `coursekit grade`")
    p.set_defaults(run=_cmd_feedback)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SandboxUnavailable as exc:
        print(f"coursekit {args.command}: cannot grade safely: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
