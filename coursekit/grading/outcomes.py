"""Outcomes as data: what happened to a submission, decided where it happened.

Every submission ends with one :class:`Status`; a function that lost its points carries a
:class:`Problem` whose ``kind`` says why (``wrong``, ``error``, ``flagged`` with the ``rule``
it broke). Statuses and flags are never read back out of message text. The helpers below
make whatever text does travel safe: bounded in length, free of control characters, unable
to start a spreadsheet formula, and student ids fit for file names.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

__all__ = ["Problem", "Status", "bounded", "csv_safe", "safe_student_id"]


class Status(str, Enum):
    GRADED = "graded"  # every function was judged; points as earned
    FLAGGED = "flagged"  # a function reached for an implementation instead of writing one
    TIMEOUT = "timeout"  # the evaluation ran past the notebook's wall-clock limit
    CRASHED = "crashed"  # the evaluation (or, rarely, the grader on it) died before finishing
    INVALID = "invalid"  # not a notebook, or the evaluation's report broke the schema
    MISSING = "missing"  # no notebook was handed in
    BLANK = "blank"  # a notebook whose every answer cell is as released: nothing attempted


@dataclass(frozen=True)
class Problem:
    """Why a graded function lost its points."""

    kind: str  # "wrong" (judged and different), "error" (could not be judged), "flagged"
    message: str
    rule: str = ""  # for "flagged": the rule broken ("calls-reference", "forbidden-kernel", ...)


def bounded(text: object, limit: int = 500) -> str:
    """``text`` as a printable string of at most ``limit`` characters: its start (where an
    exception names its type) and its end (where a traceback names the line) are kept."""
    text = str(text)
    text = "".join(ch if ch in "\n " or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    if len(text) > limit:
        head = (limit - 1) // 2
        text = text[:head] + "…" + text[-(limit - 1 - head) :]
    return text


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A CSV cell no spreadsheet reads as a formula: text starting with = + - @ tab or CR is
    prefixed with an apostrophe (numbers stay numbers)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_student_id(raw: str) -> str:
    """A student id for file names, CSV cells and the gradebook: letters, digits, ``_.-``,
    starting with a letter or digit, at most 128 characters."""
    ascii_id = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_id)
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned)[:128].rstrip("._-")
    return cleaned or "student"
