"""coursekit.grading.checks: messages, detection of the reference, and the fast variant harness."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit.grading.checks import ReferenceUsed, check_function, compare_arrays, find_forbidden
from coursekit.grading.specs import SPECS, spec_for
from tests.grading.course import correct_answers
from tests.grading.variants import ASSIGNMENTS

ANSWERS = {name: correct_answers(name) for name in ASSIGNMENTS}
RNN = "02_recurrent_networks"
WRONG = [
    (name, grade_id, label)
    for name, module in sorted(ASSIGNMENTS.items())
    for grade_id, variants in module.WRONG_VARIANTS.items()
    for label in variants
]


def _namespace(assignment: str, **replaced: str) -> dict:
    """Execute an assignment's answers (some replaced) the way a notebook would."""
    namespace = {"torch": torch}
    for grade_id, source in {**ANSWERS[assignment], **replaced}.items():
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    return namespace


def test_compare_arrays_reports_first_mismatch_and_both_values():
    expected = np.zeros((2, 3))
    got = expected.copy()
    got[1, 2] = 0.5
    message = compare_arrays("output 0", got, expected, rtol=1e-7, atol=1e-9)
    assert "index (1, 2)" in message and "got 0.5" in message and "expected 0" in message


def test_compare_arrays_reports_shape_mismatch():
    message = compare_arrays("output 0", np.zeros((2, 3)), np.zeros((3, 2)), 1e-7, 1e-9)
    assert message == "output 0 has shape (2, 3); expected (3, 2)"


def test_compare_arrays_accepts_rounding_differences():
    a = np.random.default_rng(0).normal(size=(4, 5))
    assert compare_arrays("x", a * (1 + 1e-12), a, rtol=1e-7, atol=1e-9) is None


@pytest.mark.parametrize(
    "assignment, name", [(a, n) for a in sorted(ASSIGNMENTS) for n in ASSIGNMENTS[a].WRONG_VARIANTS]
)
def test_the_assignment_solution_passes_every_case(assignment, name):
    check_function(name, _namespace(assignment)[name], seed=1)


def test_every_spec_belongs_to_an_assignment():
    assert set(SPECS) == {n for a in ASSIGNMENTS.values() for n in a.WRONG_VARIANTS}


@pytest.mark.parametrize("assignment, grade_id, label", WRONG)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_wrong_variant_fails_its_check(assignment, grade_id, label, seed):
    source = ASSIGNMENTS[assignment].WRONG_VARIANTS[grade_id][label]
    wrong = _namespace(assignment, **{grade_id: source})[grade_id]
    with pytest.raises(AssertionError):
        check_function(grade_id, wrong, seed=seed)


def test_a_wrong_gradient_is_named():
    variant = ASSIGNMENTS[RNN].WRONG_VARIANTS["rnn_cell_step"]["gradient cut from h_prev"]
    wrong = _namespace(RNN, rnn_cell_step=variant)
    with pytest.raises(AssertionError, match="gradient"):
        check_function("rnn_cell_step", wrong["rnn_cell_step"], seed=0)


def test_calling_the_reference_is_caught_in_the_kernel():
    from coursekit.rnn import rnn_cell_step

    def answer(*args, **kwargs):
        return rnn_cell_step(*args, **kwargs)

    with pytest.raises(ReferenceUsed, match="rnn_cell_step"):
        check_function("rnn_cell_step", answer, seed=0)


def test_calling_torch_rnn_kernels_is_caught_in_the_kernel():
    def answer(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
        cell = torch.rnn_tanh_cell if nonlinearity == "tanh" else torch.rnn_relu_cell
        return cell(x, h, w_ih, w_hh, b_ih, b_hh)

    with pytest.raises(ReferenceUsed):
        check_function("rnn_cell_step", answer, seed=0)


@pytest.mark.parametrize(
    "source, found",
    [
        ("from coursekit.rnn import rnn_cell_step", "coursekit.rnn"),
        ("import coursekit", "coursekit"),
        ("m = __import__('x')", "__import__"),
        ("cell = torch.nn.RNNCell(3, 4)", "RNNCell"),
        ("h = torch.rnn_tanh_cell(x, h, a, b)", "rnn_tanh_cell"),
    ],
)
def test_find_forbidden_names_the_reference(source, found):
    assert found in find_forbidden(source, spec_for("rnn_cell_step"))


def test_find_forbidden_allows_tensor_code():
    assert find_forbidden(ANSWERS[RNN]["rnn_cell_step"], spec_for("rnn_cell_step")) == []


def test_unknown_function_is_a_clear_error():
    with pytest.raises(ValueError, match="no grading spec for 'lstm_step'"):
        spec_for("lstm_step")


def test_compare_arrays_treats_matching_non_finite_values_as_equal():
    expected = np.array([np.nan, np.inf, -np.inf, 1.0])
    assert compare_arrays("x", expected.copy(), expected, 1e-7, 1e-9) is None
    message = compare_arrays("x", np.array([0.0, np.inf, -np.inf, 1.0]), expected, 1e-7, 1e-9)
    assert "index (0,)" in message and "got 0" in message and "expected nan" in message
