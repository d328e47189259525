"""Grading throughput: serial `nbgrader autograde` against `coursekit grade`, in one run.

    .venv/bin/python benchmarks/grading.py [--submissions 40] [--workers 2]

Generates N submissions of assignment 2 (correct, blank and known-wrong answers in turn) in
a throwaway course, then times, on the same files:
  1. `nbgrader autograde` (serial: one kernel after another),
  2. `coursekit grade --workers 1` (its per-submission cost with no parallelism),
  3. `coursekit grade --workers 1 --no-isolation` (the same without the OS sandbox),
  4. `coursekit grade --workers W` (with the sandbox, as instructors run it).
Prints seconds per submission for each, the throughput ratio of (4) over (1), and what the
sandbox adds per submission: (2) - (3), and bubblewrap's own start-up on an empty program.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coursekit.grading.autograde import grade_class  # noqa: E402
from coursekit.grading.sandbox import run_sandbox  # noqa: E402
from tests.grading import course  # noqa: E402
from tests.grading.variants.recurrent_networks import WRONG_VARIANTS  # noqa: E402

NAME = "02_recurrent_networks"


def make_submissions(root: Path, count: int) -> None:
    release = course.make_course(root, NAME)
    answers = course.correct_answers(NAME)
    kinds = [answers, {}] + [
        {**answers, grade_id: source}
        for grade_id, variants in WRONG_VARIANTS.items()
        for source in variants.values()
    ]
    for i in range(count):
        course.submit(root, NAME, f"student{i:03d}", course.filled(release, kinds[i % len(kinds)]))


def timed(label: str, work, count: int) -> float:
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    print(f"{label:<40} {seconds:7.1f} s   {seconds / count:5.2f} s per submission", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    n = args.submissions
    print(f"{n} submissions of {NAME}; {os.cpu_count()} CPU cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="coursekit-bench-") as tmp:
        root = Path(tmp)
        make_submissions(root, n)
        submitted = root / "submitted"
        serial = timed(
            "nbgrader autograde (serial)",
            lambda: course.nbgrader(root, "autograde", NAME, "--force"),
            n,
        )
        one = timed(
            "coursekit grade --workers 1",
            lambda: grade_class(
                NAME, submitted, root / "one", course=ROOT, workers=1, progress=False
            ),
            n,
        )
        bare = timed(
            "coursekit grade --workers 1 --no-isolation",
            lambda: grade_class(
                NAME,
                submitted,
                root / "bare",
                course=ROOT,
                workers=1,
                progress=False,
                isolation=False,
            ),
            n,
        )
        parallel = timed(
            f"coursekit grade --workers {args.workers}",
            lambda: grade_class(
                NAME, submitted, root / "par", course=ROOT, workers=args.workers, progress=False
            ),
            n,
        )
    runs = 5
    start = time.perf_counter()
    for _ in range(runs):
        run_sandbox(["pass"], [], isolation=False)
    plain = (time.perf_counter() - start) / runs
    start = time.perf_counter()
    for _ in range(runs):
        run_sandbox(["pass"], [])
    boxed = (time.perf_counter() - start) / runs
    print(
        f"throughput ratio, coursekit --workers {args.workers} (sandboxed) / serial nbgrader: "
        f"{serial / parallel:.2f}"
    )
    print(
        f"per-submission cost, coursekit --workers 1 / nbgrader: {one / serial:.2f} (<= 1 is no worse)"
    )
    print(
        f"parallel speed-up of coursekit itself (workers {args.workers} vs 1): {one / parallel:.2f}"
    )
    print(
        f"sandbox overhead per submission: {(one - bare) / n:+.2f} s "
        f"({one / bare:.2f}x the unisolated cost); an empty evaluation takes {boxed:.2f} s "
        f"sandboxed, {plain:.2f} s unisolated"
    )


if __name__ == "__main__":
    main()
