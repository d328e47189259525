"""Reading what the evaluation process reports: hostile input, checked before it is believed.

Everything here treats the report as written by the student's code (it may be): each line is
checked against the schema below before anything in it is used, an array's dtype, shape,
element count and encoded length before any memory is spent on it, and the first broken line
ends the report (the evaluation is then "invalid", with the line and the reason).
:func:`read_lines` applies lines to a :class:`ReportState`; :mod:`coursekit.grading.sandbox`
feeds it what it reads from the pipe.

The report: lines of JSON, one object each, exactly one of these keys (anything else makes the report invalid from that line on)::

    {"progress": ["cell", <index>] | ["call", <call id>]}   what runs now
    {"cell": <index>, "error": ERROR}                        a cell raised
    {"call": <call id>, "error": ERROR}                      a graded call raised
    {"call": <call id>, "arrays": {KEY: ARRAY}}              a graded call's results
    {"forbidden": <name>, "call": <call id> | null}          a forbidden function was called
    {"done": true}                                           the end

    ERROR = {"type": str, "message": str}   (cut to ERROR_CHARS)
    KEY   = "n" | "o<i>" | "g<i>"           (evaluate.py: count, outputs, gradients)
    ARRAY = {"dtype": one of ARRAY_DTYPES, "shape": [int] (at most 8 dims),
             "data": base64 of the C-order bytes}

Before decoding an array the dtype, the shape, the element count (at most ``MAX_ELEMENTS``
per call) and the encoded length are checked. (The sandbox reads the whole report only up to
its ``REPORT_BYTES``.)
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from coursekit.grading.outcomes import bounded

if TYPE_CHECKING:
    from coursekit.grading.sandbox import Call

ERROR_CHARS = 500  # of each error message kept
MAX_ELEMENTS = 1 << 22  # array elements per call (32 MiB of float64)
ARRAY_DTYPES = ("float64", "float32", "int64", "int32", "bool")
ARRAY_KEY = re.compile(r"^(n|[og]\d{1,4})$")

__all__ = ["MAX_ELEMENTS", "ReportState", "decode_arrays", "read_lines"]


@dataclass
class ReportState:
    """What the reports of all runs of one evaluation established."""

    cells: set[int]
    calls: dict[str, Call]
    cell_errors: dict[int, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    forbidden: dict[str, str] = field(default_factory=dict)
    forbidden_in_cells: list[str] = field(default_factory=list)
    progress: tuple | None = None
    done: bool = False
    printed: bytes = b""
    lines: int = 0


def read_lines(lines: list[bytes], state: ReportState) -> str | None:
    """Apply each line of the report to ``state``; a broken one ends it: returns why."""
    for line in lines:
        state.lines += 1
        try:
            _apply(json.loads(line), state)
        except (ValueError, TypeError, KeyError, RecursionError, binascii.Error) as exc:
            return bounded(f"line {state.lines} of the evaluation's report is invalid: {exc}", 200)
    return None


def _error_text(error) -> str:
    if not isinstance(error, dict):
        raise TypeError("an error must be an object")
    kind, message = error.get("type"), error.get("message")
    if not isinstance(kind, str) or not isinstance(message, str):
        raise TypeError("an error needs a type and a message, both strings")
    text = message if kind in message else f"{kind}: {message}"
    return bounded(text, ERROR_CHARS)


def _apply(message, state: ReportState) -> None:
    if not isinstance(message, dict) or len(message) > 2:
        raise TypeError("each line must be an object of at most two keys")
    if "progress" in message:
        kind, key = message["progress"]
        if (kind, type(key)) not in (("cell", int), ("call", str)):
            raise ValueError("unknown progress")
        if (kind == "cell" and key not in state.cells) or (
            kind == "call" and key not in state.calls
        ):
            raise KeyError(f"no such {kind}")
        state.progress = (kind, key)
    elif "forbidden" in message:
        name, call = message["forbidden"], message.get("call")
        if not isinstance(name, str) or not (call is None or call in state.calls):
            raise TypeError("a forbidden call names a function and a known call")
        if call is None:
            state.forbidden_in_cells.append(bounded(name, 100))
        else:
            state.forbidden.setdefault(call, bounded(name, 100))
    elif "cell" in message:
        index = message["cell"]
        if type(index) is not int or index not in state.cells:
            raise KeyError("no such cell")
        state.cell_errors.setdefault(index, _error_text(message["error"]))
    elif "call" in message:
        call = message["call"]
        if not isinstance(call, str) or call not in state.calls:
            raise KeyError("no such call")
        if call in state.outputs or call in state.errors:
            return  # the first word on a call stands
        if "arrays" in message:
            state.outputs[call] = decode_arrays(message["arrays"])
        else:
            state.errors[call] = _error_text(message["error"])
    elif list(message) == ["done"] and message["done"] is True:
        state.done = True
    else:
        raise ValueError("unknown message")


def decode_arrays(arrays) -> dict[str, np.ndarray]:
    """Decode a call's arrays, checking everything before any memory is spent on them."""
    if not isinstance(arrays, dict) or len(arrays) > 512:
        raise TypeError("arrays must be an object of at most 512 entries")
    decoded, elements = {}, 0
    for key, entry in arrays.items():
        if not ARRAY_KEY.match(key) or not isinstance(entry, dict):
            raise ValueError(f"bad array entry {bounded(key, 20)!r}")
        dtype, shape, data = entry.get("dtype"), entry.get("shape"), entry.get("data")
        if dtype not in ARRAY_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(ARRAY_DTYPES)}")
        if not isinstance(shape, list) or len(shape) > 8:
            raise ValueError("shape must be a list of at most 8 sizes")
        if not all(type(s) is int and 0 <= s <= MAX_ELEMENTS for s in shape):
            raise ValueError("sizes must be integers in range")
        if key == "n" and (shape or dtype != "int64"):
            raise ValueError("n must be a single int64")
        count = math.prod(shape)
        elements += count
        if elements > MAX_ELEMENTS:
            raise ValueError(f"more than {MAX_ELEMENTS} elements")
        size = count * np.dtype(dtype).itemsize
        if not isinstance(data, str) or len(data) != 4 * ((size + 2) // 3):
            raise ValueError("data does not have the length its shape and dtype need")
        raw = base64.b64decode(data, validate=True)
        decoded[key] = np.frombuffer(raw, dtype=dtype).reshape(shape).astype(np.float64)
    return decoded
