"""coursekit.grading.checks and harness: messages, detection of the reference, and the proof
that every assignment's hidden tests pass its solution and reject every known-wrong variant."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from coursekit.grading import harness
from coursekit.grading.checks import (
    ReferenceUsed,
    check_function,
    compare_arrays,
)
from coursekit.grading.notebook import answer_cells
from coursekit.grading.program import as_released
from coursekit.grading.specs import SPECS, spec_for
from coursekit.grading.static import find_forbidden
from coursekit.grading.verdict import judge_notebook
from tests.grading.course import ROOT, correct_answers, source_notebook
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
    """The assignment's program (setup and answer cells, some replaced), run in process."""
    dtype = torch.get_default_dtype()
    try:
        return harness.run_program(source_notebook(assignment), **replaced)
    finally:
        torch.set_default_dtype(dtype)  # the program's setup cell may change it


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
    assert harness.failures(source_notebook(assignment), seed=1, names=[name]) == {}


def test_every_spec_belongs_to_an_assignment():
    assert set(SPECS) == {n for a in ASSIGNMENTS.values() for n in a.WRONG_VARIANTS}


@pytest.mark.parametrize("assignment, grade_id, label", WRONG)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_wrong_variant_fails_its_check(assignment, grade_id, label, seed):
    source = ASSIGNMENTS[assignment].WRONG_VARIANTS[grade_id][label]
    found = harness.failures(source_notebook(assignment), seed, [grade_id], **{grade_id: source})
    assert grade_id in found, f"{label!r} passed the hidden tests of {grade_id} (seed {seed})"


def test_surviving_variants_reports_a_variant_the_tests_miss():
    """The harness itself can fail: a 'variant' that is really correct survives."""
    correct = ANSWERS[RNN]["jordan_step"]
    survivors = harness.surviving_variants(
        source_notebook(RNN), {"jordan_step": {"the solution itself": correct}}, seeds=(0,)
    )
    assert survivors == [("jordan_step", "the solution itself", 0)]


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
        ("f = getattr(torch, 'rnn' + '_tanh_cell')", "'rnn_tanh_cell' (a name in a string)"),
        ("f = getattr(torch, f\"{'rnn_relu'}_cell\")", "'rnn_relu_cell' (a name in a string)"),
        ("f = getattr(torch, name)", "getattr with a computed name"),
        ("m = __builtins__['__import__']('course' + 'kit')", "'coursekit' (a name in a string)"),
        ("import importlib", "importlib"),
        ("f = eval('lambda: 1')", "eval"),
        ("exec(code)", "exec"),
        ("cells = f.__closure__", "__closure__"),
        ("k = torch.ops.aten.rnn_tanh_cell", "torch.ops"),
    ],
)
def test_find_forbidden_names_the_reference(source, found):
    assert found in find_forbidden(source, spec_for("rnn_cell_step"))


def test_messages_that_mention_a_forbidden_name_are_not_flagged():
    source = "raise ValueError('RNN input must be (T, B, I); use torch.tanh')"
    assert find_forbidden(source, spec_for("rnn_cell_step")) == []


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


def test_the_harness_leaves_torch_settings_as_it_found_them():
    """Assignment 2's setup cell sets float64 as torch's default; this process keeps float32."""
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        harness.failures(source_notebook(RNN), seed=0, names=["jordan_step"])
        assert torch.get_default_dtype() == torch.float32
    finally:
        torch.set_default_dtype(dtype)


def test_integer_and_generator_arguments_and_leaf_names():
    from coursekit.grading.checks import _describe_leaves
    from coursekit.grading.evaluate import build_args
    from coursekit.grading.specs import Case

    arrays = {"a0": np.array([1, 0, 2]), "a1": np.ones((3, 2)), "a2": np.array([True, False])}
    args = [
        {"t": "a0", "dtype": "int64"},
        {"map": {"w": {"t": "a1"}}},
        {"t": "a2", "dtype": "bool"},
        {"gen": 7},
    ]
    leaves: list[torch.Tensor] = []
    ids, params, mask, gen = (build_args(a, arrays, leaves) for a in args)
    assert ids.dtype == torch.int64 and not ids.requires_grad and mask.dtype == torch.bool
    assert [leaf is params["w"] for leaf in leaves] == [True]
    expected = torch.rand(4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.rand(4, generator=gen), expected)
    # the names of the gradients' leaves skip the integer and boolean tensors
    assert _describe_leaves(Case("c", args, {}, arrays)) == ["argument 1['w']"]


def test_an_elman_step_argument_is_the_cell_written_out_and_its_weights_are_leaves():
    from coursekit.grading.checks import _describe_leaves
    from coursekit.grading.evaluate import build_args
    from coursekit.grading.specs import Case

    g = torch.Generator().manual_seed(0)
    E, W, U, c = (torch.randn(shape, generator=g, dtype=torch.float64) for shape in
                  [(3, 2), (2, 2), (3, 2), (3,)])  # fmt: skip
    arrays = {f"a{i}": t.numpy() for i, t in enumerate((E, W, U, c))}
    arg = {"elman_step": [{"t": f"a{i}"} for i in range(4)]}
    leaves: list[torch.Tensor] = []
    step = build_args(arg, arrays, leaves)
    ids = torch.tensor([2, 0])
    logits, h = step(ids, None)  # from h = 0: h = tanh(E[ids])
    h_expected = torch.tanh(E[ids])
    torch.testing.assert_close(h, h_expected)
    torch.testing.assert_close(logits, h_expected @ U.T + c)
    logits, h2 = step(torch.tensor([1, 1]), h)
    h2_expected = torch.tanh(E[[1, 1]] + h_expected @ W.T)
    torch.testing.assert_close(h2, h2_expected)
    torch.testing.assert_close(logits, h2_expected @ U.T + c)
    assert len(leaves) == 4 and all(leaf.requires_grad for leaf in leaves)
    names = _describe_leaves(Case("c", [arg], {}, arrays))
    assert names == [f"argument 0 (the decoder's {n})" for n in "EWUc"]


def test_an_elman_log_step_argument_gives_the_cells_log_probabilities():
    from coursekit.grading.checks import _describe_leaves
    from coursekit.grading.evaluate import build_args
    from coursekit.grading.specs import Case

    g = torch.Generator().manual_seed(1)
    # E has a row more than U: id 3 is fed (as <bos>) but never produced
    E, W, U, c = (torch.randn(shape, generator=g, dtype=torch.float64) for shape in
                  [(4, 2), (2, 2), (3, 2), (3,)])  # fmt: skip
    arrays = {f"a{i}": t.numpy() for i, t in enumerate((E, W, U, c))}
    arg = {"elman_log_step": [{"t": f"a{i}"} for i in range(4)]}
    leaves: list[torch.Tensor] = []
    step = build_args(arg, arrays, leaves)
    log_probs, h = step(torch.tensor([3, 3]), None)  # from h = 0
    h_expected = torch.tanh(E[[3, 3]])
    torch.testing.assert_close(h, h_expected)
    torch.testing.assert_close(log_probs, torch.log_softmax(h_expected @ U.T + c, dim=-1))
    log_probs, h2 = step(torch.tensor([0, 2]), h)
    h2_expected = torch.tanh(E[[0, 2]] + h_expected @ W.T)
    torch.testing.assert_close(h2, h2_expected)
    logits = h2_expected @ U.T + c
    torch.testing.assert_close(log_probs, logits - logits.logsumexp(dim=-1, keepdim=True))
    assert len(leaves) == 4 and all(leaf.requires_grad for leaf in leaves)
    names = _describe_leaves(Case("c", [arg], {}, arrays))
    assert names == [f"argument 0 (the decoder's {n})" for n in "EWUc"]


def test_the_reference_runs_under_float64_whatever_the_graders_default_dtype():
    # chapter 8's coins are torch.rand draws of the default dtype: a reference evaluated under
    # float32 would flip other coins than the student's float64 kernel
    from coursekit.grading.checks import reference_evaluation, seeded
    from coursekit.grading.specs import spec_for

    spec = spec_for("decode")
    results = {}
    dtype = torch.get_default_dtype()
    try:
        for default in (torch.float32, torch.float64):
            torch.set_default_dtype(default)
            _, generator = seeded(3)
            case = spec.make_cases(generator)[2]  # p_true = 0.5: coins are drawn
            results[default] = reference_evaluation(spec, case, generator)[0]
            assert torch.get_default_dtype() == default  # restored
    finally:
        torch.set_default_dtype(dtype)
    got, expected = results[torch.float32], results[torch.float64]
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])


def _release(name: str) -> Path:
    return ROOT / "exercises" / name / f"{name}.ipynb"


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENTS))
def test_a_submission_as_released_is_blank_and_not_run(assignment, tmp_path):
    release = nbformat.read(_release(assignment), as_version=4)
    for cell in release.cells:  # re-indented, but still what was released
        cell.source = cell.source.replace("\n", "\n\n") + "\n"
    path = tmp_path / "blank.ipynb"
    nbformat.write(release, path)
    verdict = judge_notebook(path, source_notebook(assignment), release_path=_release(assignment))
    assert verdict.status == "blank" and verdict.points == 0 and "as released" in verdict.reason
    assert {m for c in verdict.cells for m in c.functions.values()} == {"not attempted"}


def test_one_attempted_answer_is_not_blank():
    answers = dict(answer_cells(nbformat.read(_release(RNN), as_version=4)))
    assert as_released(answers, _release(RNN))
    first = next(iter(answers))
    assert not as_released({**answers, first: ANSWERS[RNN][first]}, _release(RNN))
    assert not as_released({k: v for k, v in answers.items() if k != first}, _release(RNN))
