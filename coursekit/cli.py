"""The ``coursekit`` command line: ``coursekit release`` and ``coursekit check``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from coursekit.grading import checks, release


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
    verdict = checks.judge_notebook(submission, source, seed=args.seed)
    if args.json:
        print(
            json.dumps(
                {
                    "notebook": str(submission),
                    "status": verdict.status,
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
    for cell in verdict.cells:
        for name, outcome in cell.functions.items():
            mark = "ok  " if outcome == "ok" else "FAIL"
            detail = "" if outcome == "ok" else f": {outcome}"
            print(f"  {mark} {name} ({cell.points:g}/{cell.max_points:g}){detail}")
    for note in verdict.notes:
        print(f"  note: {note}")
    print(f"  (random cases drawn with seed {verdict.seed}; pass --seed to reproduce)")
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
    p.set_defaults(run=_cmd_check)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
