"""What a submission may not write: the static rules, read from its source before it runs.

A graded function must compute what it is asked for, not call the implementation it should
write: coursekit itself, or the torch function that does the job (each spec lists those, its
``forbidden_attributes``). :func:`static_violations` reads a submission's source (never runs
it) and names every place that breaks a rule; the rule names (the ``RULE_*`` constants) are
what a verdict records. Strings that spell a name ("course" + "kit") and code that builds names
or reaches into the interpreter at run time are rules of their own, since they are how one
would hide a call from a reader. What slips past the source is caught where it runs: the
sandbox records calls of forbidden torch kernels (``RULE_KERNEL``).
"""

from __future__ import annotations

import ast
import re

from coursekit.grading.specs import FunctionSpec

__all__ = [
    "RULE_DYNAMIC",
    "RULE_INTROSPECTION",
    "RULE_KERNEL",
    "RULE_REFERENCE",
    "find_forbidden",
    "static_violations",
]

# Rules a submission can break; each flagged function records the one it broke.
RULE_REFERENCE = "calls-reference"  # names coursekit or a forbidden implementation
RULE_DYNAMIC = "dynamic-code"  # builds names or code from strings (importlib, eval, getattr(x, s))
RULE_INTROSPECTION = "introspection"  # reaches into frames, closures or the interpreter
RULE_KERNEL = "forbidden-kernel"  # called a forbidden torch function (caught in the sandbox)
DYNAMIC_NAMES = ("importlib", "__import__", "eval", "exec", "compile", "__builtins__", "globals")
INTROSPECTION_ATTRIBUTES = (
    "__closure__",
    "cell_contents",
    "__globals__",
    "f_globals",
    "f_locals",
    "f_back",
    "_getframe",
    "__subclasses__",
    "get_referents",
    "get_objects",
)


def _folded_string(node: ast.AST) -> str | None:
    """The value of a string built from constants ("rnn_" + "tanh", f"{'course'}kit"), if any."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _folded_string(node.left), _folded_string(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        parts = [
            _folded_string(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values
        ]
        return None if None in parts else "".join(parts)
    return None


def static_violations(source: str, spec: FunctionSpec) -> dict[str, list[str]]:
    """rule -> the names in ``source`` that break it (see the RULE_* constants)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, set[str]] = {}

    def hit(rule: str, what: str) -> None:
        found.setdefault(rule, set()).add(what)

    forbidden = set(spec.forbidden_attributes)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id == "coursekit":
                hit(RULE_REFERENCE, node.id)
            elif node.id in DYNAMIC_NAMES or node.id == "gc":
                hit(RULE_DYNAMIC, node.id)
        elif isinstance(node, ast.Attribute):
            if node.attr in forbidden:
                hit(RULE_REFERENCE, node.attr)
            elif node.attr in INTROSPECTION_ATTRIBUTES:
                hit(RULE_INTROSPECTION, node.attr)
            elif node.attr in ("__import__", "import_module"):
                hit(RULE_DYNAMIC, node.attr)
            elif node.attr in ("ops", "_C") and isinstance(node.value, ast.Name):
                if node.value.id == "torch":
                    hit(RULE_INTROSPECTION, f"torch.{node.attr}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "coursekit":
                    hit(RULE_REFERENCE, alias.name)
                elif top in ("importlib", "gc", "inspect"):
                    hit(RULE_DYNAMIC, alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            top = module.split(".")[0]
            if top == "coursekit":
                hit(RULE_REFERENCE, module)
            elif top in ("importlib", "gc", "inspect"):
                hit(RULE_DYNAMIC, module)
            for alias in node.names:
                if alias.name in forbidden:
                    hit(RULE_REFERENCE, alias.name)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) > 1:
                if _folded_string(node.args[1]) is None:
                    hit(RULE_DYNAMIC, f"{node.func.id} with a computed name")
        text = _folded_string(node) if isinstance(node, (ast.BinOp, ast.JoinedStr)) else None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        # a string that is a name ("course" + "kit.rnn", "rnn_tanh_cell"), not a message
        if text and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", text):
            parts = set(text.split("."))
            if "coursekit" in parts:
                hit(RULE_REFERENCE, f"{text!r} (a name in a string)")
            elif parts & forbidden:
                hit(RULE_REFERENCE, f"{text!r} (a name in a string)")
            elif "__import__" in parts:
                hit(RULE_DYNAMIC, f"{text!r} (a name in a string)")
    return {rule: sorted(names) for rule, names in found.items()}


def find_forbidden(source: str, spec: FunctionSpec) -> list[str]:
    """Names in ``source`` that reach an implementation of ``spec`` instead of writing one,
    or build names and code at run time (every rule of :func:`static_violations`)."""
    return sorted({n for names in static_violations(source, spec).values() for n in names})
