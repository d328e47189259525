"""tests.grading.variants.mutations: each wrong variant is the solution with one fragment
replaced, and a mutation that no longer matches the solution exactly once fails loudly."""

from __future__ import annotations

import ast

import pytest

from tests.grading.course import correct_answers
from tests.grading.variants import ASSIGNMENTS, mutate, mutations

ANSWERS = {name: correct_answers(name) for name in ASSIGNMENTS}
WRONG = [
    (name, grade_id, label)
    for name, module in sorted(ASSIGNMENTS.items())
    for grade_id, variants in module.WRONG_VARIANTS.items()
    for label in variants
]
SOURCE = {"f": "def f(x):\n    y = x + 1\n    return y + 1\n"}


def test_a_mutation_replaces_its_fragment():
    variants = mutations("toy", {"f": [("minus", "y = x + 1", "y = x - 1")]}, answers=SOURCE)
    assert variants == {"f": {"minus": "def f(x):\n    y = x - 1\n    return y + 1\n"}}


def test_a_mutation_whose_old_text_is_absent_names_where():
    table = {"f": [("times", "x * 2", "x * 3")]}
    with pytest.raises(ValueError) as caught:
        mutations("toy", table, answers=SOURCE)
    message = str(caught.value)
    assert "toy" in message and "'f'" in message and "'times'" in message
    assert "occurs 0 times" in message


def test_a_mutation_whose_old_text_occurs_twice_names_where():
    with pytest.raises(ValueError, match=r"toy, grade id 'f', variant 'twice'.*occurs 2 times"):
        mutations("toy", {"f": [("twice", "+ 1", "+ 2")]}, answers=SOURCE)


def test_a_mutation_that_changes_nothing_is_refused():
    with pytest.raises(ValueError, match="nothing would change"):
        mutate("toy", "f", "same", SOURCE["f"], "y = x + 1", "y = x + 1")


def test_a_mutation_of_an_unknown_grade_id_is_refused():
    with pytest.raises(ValueError, match="no answer cell with grade id 'g'"):
        mutations("toy", {"g": [("minus", "y = x + 1", "y = x - 1")]}, answers=SOURCE)


def test_a_label_given_twice_is_refused():
    rows = [("minus", "y = x + 1", "y = x - 1"), ("minus", "return y + 1", "return y")]
    with pytest.raises(ValueError, match="label 'minus' given twice"):
        mutations("toy", {"f": rows}, answers=SOURCE)


@pytest.mark.parametrize("name, grade_id, label", WRONG)
def test_every_variant_is_the_solution_changed_in_one_place(name, grade_id, label):
    correct = ANSWERS[name][grade_id]
    variant = ASSIGNMENTS[name].WRONG_VARIANTS[grade_id][label]
    assert variant != correct
    # still a program that defines the graded function
    tree = ast.parse(variant)
    assert grade_id in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    # the lines that differ are one contiguous block, and a small one
    a, b = correct.splitlines(), variant.splitlines()
    same = min(len(a), len(b))
    start = next((i for i in range(same) if a[i] != b[i]), same)
    end = next((i for i in range(same - start) if a[-1 - i] != b[-1 - i]), same - start)
    changed = max(len(a) - start - end, len(b) - start - end)
    assert 1 <= changed <= 5, f"{label!r} rewrites {changed} lines of the solution"


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_the_variants_of_a_function_are_distinct(name):
    for grade_id, variants in ASSIGNMENTS[name].WRONG_VARIANTS.items():
        sources = list(variants.values())
        assert len(set(sources)) == len(sources), f"{name} {grade_id}: two variants coincide"
