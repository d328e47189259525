"""The ``coursekit`` command line: ``release``, ``check``, ``grade``, ``feedback`` and ``similarity``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from coursekit.grading import release
from coursekit.grading.outcomes import bounded
from coursekit.grading.sandbox import SandboxUnavailable
from coursekit.grading.verdict import judge_notebook

SHOWN = 20  # students to look at, listed after a grading run

NO_ISOLATION_HELP = (
    "run student code without the OS sandbox (bubblewrap) where it cannot run; warned "
    "about on every run and recorded as isolation 'none'"
)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, except where there is none to tell (None, off)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _assignments(course: Path) -> list[str]:
    return sorted(
        p.parent.name for p in (course / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name
    )


def _assignment_of(course: Path, notebook: Path) -> str:
    """The assignment a submitted file belongs to, by the rule ``grade`` uses for LMS
    downloads: its name holds the assignment's (``alice_02_recurrent_networks.ipynb``), or it
    sits in nbgrader's ``<student>/<assignment>/`` folder."""
    known = _assignments(course)
    named = [a for a in known if a in notebook.stem] or [
        a for a in known if a == notebook.parent.name
    ]
    if not named:
        raise SystemExit(
            f"cannot tell which assignment {notebook.name} belongs to (its name holds none of "
            f"{', '.join(known) or 'the assignments under ' + str(course / 'solutions')}); "
            "pass --assignment"
        )
    return max(named, key=len)


def _run_seed(output: Path, assignment: str) -> int:
    run = output / "results" / assignment / "_run.json"
    if not run.is_file():
        raise SystemExit(f"no grading run of {assignment} under {output} ({run} is missing)")
    return int(json.loads(run.read_text())["seed"])


def _cmd_release(args: argparse.Namespace) -> int:
    gradebook = Path(args.gradebook) if args.gradebook else None
    return release.release(
        Path(args.course_dir).resolve(), args.assignments, check=args.check, gradebook=gradebook
    )


def _cmd_check(args: argparse.Namespace) -> int:
    submission, course = Path(args.notebook), Path(args.course_dir)
    assignment = args.assignment or _assignment_of(course, submission)
    source = course / "solutions" / assignment / f"{assignment}.ipynb"
    if not source.is_file():
        raise SystemExit(f"no source notebook {source}; is --course-dir the course's root?")
    release = course / "exercises" / assignment / f"{assignment}.ipynb"
    seed = _run_seed(Path(args.from_run), assignment) if args.from_run else args.seed
    if args.no_isolation:
        from coursekit.grading.autograde import UNISOLATED_WARNING

        print(UNISOLATED_WARNING, file=sys.stderr)
    verdict = judge_notebook(
        submission,
        source,
        seed=seed,
        isolation=not args.no_isolation,
        release_path=release if release.is_file() else None,
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
    print(f"  (random cases drawn with seed {verdict.seed}; --seed {verdict.seed} reproduces them)")
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
    look = sorted((r for r in results if r["status"] != "graded"), key=lambda r: r["student"])
    output = Path(args.output)
    print(
        f"{len(results)} submissions: {len(results) - len(look)} graded cleanly, {len(look)} "
        f"to look at; see {output / 'grades.csv'} and {output / 'gradebook.db'}"
    )
    for r in look[:SHOWN]:
        print(f"  {r['student']}: {r['status']}: {bounded(r.get('reason', ''), 150)}")
    if len(look) > SHOWN:
        print(f"  ... and {len(look) - SHOWN} more (the status column of grades.csv)")
    return 0


def _cmd_feedback(args: argparse.Namespace) -> int:
    from coursekit.grading.feedback import write_feedback

    pages = write_feedback(args.assignment, Path(args.output), Path(args.course_dir))
    print(
        f"wrote {len(pages)} feedback pages under {Path(args.output) / 'feedback' / args.assignment}"
    )
    return 0


def _cmd_similarity(args: argparse.Namespace) -> int:
    from coursekit.grading.similarity import similarity_report

    output = Path(args.output)
    pairs = similarity_report(
        args.assignment, Path(args.submissions), output, Path(args.course_dir), top=args.top
    )
    print(f"compared {len(pairs)} pairs: {output / 'similarity.csv'}, {output / 'similarity.html'}")
    for pair in pairs[:5]:
        print(f"  {pair.similarity:.2f}  {pair.student_a} ~ {pair.student_b}")
    return 0


def main(argv: list[str] | None = None) -> int:
    formatter = _Help
    parser = argparse.ArgumentParser(
        prog="coursekit",
        description="Tools for the Sequence Models course.",
        formatter_class=formatter,
    )
    parser.add_argument("--course-dir", default=".", help="the course's root folder")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, formatter_class=formatter)

    p = command("release", "generate exercises/ from solutions/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment names (none: all in solutions/)")
    p.add_argument("--check", action="store_true", help="fail if exercises/ is not in sync")
    p.add_argument(
        "--gradebook",
        metavar="DB",
        help="also register each assignment in this nbgrader gradebook file, the one `grade "
        "--output DIR` fills (DIR/gradebook.db), so formgrader lists it before any grading",
    )
    p.set_defaults(run=_cmd_release)

    p = command(
        "check", "grade one submitted notebook outside the student's kernel and explain the result"
    )
    p.add_argument(
        "notebook",
        help="the submitted .ipynb; its name tells the assignment, as for grade "
        "(alice_02_recurrent_networks.ipynb, or .../02_recurrent_networks/<any>.ipynb)",
    )
    p.add_argument("--assignment", help="the assignment, when the file name does not tell it")
    p.add_argument("--seed", type=int, help="seed for the random cases (none: a fresh one)")
    p.add_argument(
        "--from-run",
        metavar="OUTPUT",
        help="use the seed of the grading run whose --output was OUTPUT: the class's verdict",
    )
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--no-isolation", action="store_true", help=NO_ISOLATION_HELP)
    p.set_defaults(run=_cmd_check)

    p = command("grade", "grade a whole class in parallel, outside the students' kernels")
    p.add_argument("assignment", help="assignment name, e.g. 02_recurrent_networks")
    p.add_argument(
        "submissions",
        help="nbgrader's submitted/ tree, a folder of notebooks named by student "
        "(alice.ipynb, alice_02_recurrent_networks.ipynb: the student id is the name without "
        "the assignment), or a zip of either",
    )
    p.add_argument("--output", default=".", help="where grades.csv, gradebook.db and results/ go")
    p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="local parallel workers"
    )
    p.add_argument("--scheduler", help="address of a Dask scheduler to grade on instead")
    p.add_argument("--force", action="store_true", help="regrade submissions already graded")
    p.add_argument(
        "--seed",
        type=int,
        help="seed for the random cases (none: the run's, or a new one per class)",
    )
    p.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    p.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell and per call")
    p.add_argument("--memory-gb", type=float, default=6, help="memory limit per notebook, GiB")
    p.add_argument("--no-isolation", action="store_true", help=NO_ISOLATION_HELP)
    p.set_defaults(run=_cmd_grade)

    p = command("feedback", "per-student HTML feedback pages from a grading run")
    p.add_argument("assignment", help="assignment name, as given to grade")
    p.add_argument("--output", default=".", help="the --output folder of `coursekit grade`")
    p.set_defaults(run=_cmd_feedback)

    p = command("similarity", "rank pairs of students by shared answer code (CSV and HTML report)")
    p.add_argument("assignment", help="assignment name, e.g. 02_recurrent_networks")
    p.add_argument(
        "submissions",
        help="as for grade: nbgrader's submitted/ tree, a folder of notebooks, or a zip",
    )
    p.add_argument("--output", default=".", help="where similarity.csv and similarity.html go")
    p.add_argument("--top", type=int, default=50, help="pairs shown side by side in the HTML")
    p.set_defaults(run=_cmd_similarity)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SandboxUnavailable as exc:
        print(f"coursekit {args.command}: cannot grade safely: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a wrong argument or folder, said in a sentence
        print(f"coursekit {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
