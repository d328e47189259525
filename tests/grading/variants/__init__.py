"""Known-wrong answers and cheats, one module per assignment.

Each module defines ``WRONG_VARIANTS`` (answer cell grade id -> {label: replacement source},
at least three per graded function) and ``CHEATS`` (label -> (grade id, replacement source)),
``FOOLS_NBGRADER`` (cheat labels plain nbgrader is shown to reward), ``CALLS_REFERENCE`` (the
label of the cheat that imports coursekit).

A wrong variant is written as a mutation of the solution, ``(label, old, new)``: the correct
answer of its grade id with the one occurrence of ``old`` (a line, or a few contiguous lines)
replaced by ``new``. So each variant shows its bug in one place, and follows the solution when
the solution changes; :func:`mutations` fails loudly when ``old`` no longer occurs exactly once.
"""

from __future__ import annotations

from tests.grading.course import correct_answers

Mutation = tuple[str, str, str]  # (label, old, new)


def mutate(name: str, grade_id: str, label: str, source: str, old: str, new: str) -> str:
    """``source`` with its single occurrence of ``old`` replaced by ``new``.

    Raises ValueError, naming the assignment, grade id and label, when ``old`` occurs other
    than exactly once or when ``new`` equals ``old`` (a variant that is the solution itself).
    """
    where = f"{name}, grade id {grade_id!r}, variant {label!r}"
    if old == new:
        raise ValueError(f"{where}: old and new are the same text, so nothing would change")
    count = source.count(old)
    if count != 1:
        raise ValueError(
            f"{where}: {old!r} occurs {count} times in the correct answer; expected exactly once"
        )
    return source.replace(old, new)


def mutations(
    name: str,
    table: dict[str, list[Mutation]],
    answers: dict[str, str] | None = None,
) -> dict[str, dict[str, str]]:
    """WRONG_VARIANTS (grade id -> {label: full source}) from mutations of the solution.

    ``table`` maps each grade id to its ``(label, old, new)`` mutations; ``answers`` (default:
    the correct answers of assignment ``name``'s source notebook) are the sources mutated.
    """
    answers = correct_answers(name) if answers is None else answers
    variants: dict[str, dict[str, str]] = {}
    for grade_id, rows in table.items():
        if grade_id not in answers:
            raise ValueError(f"{name}: no answer cell with grade id {grade_id!r} in the solution")
        labelled: dict[str, str] = {}
        for label, old, new in rows:
            if label in labelled:
                raise ValueError(f"{name}, grade id {grade_id!r}: label {label!r} given twice")
            labelled[label] = mutate(name, grade_id, label, answers[grade_id], old, new)
        variants[grade_id] = labelled
    return variants


# The assignments' modules use ``mutations``, so they are imported after it is defined.
from tests.grading.variants import (  # noqa: E402
    backpropagation_through_time,
    dropout,
    echo_state_networks,
    gradient_clipping,
    language_models,
    layer_normalisation,
    lstm_and_gru,
    recurrent_networks,
    scheduled_sampling,
    seq2seq_and_attention,
    state_space_models_and_mamba,
)

ASSIGNMENTS = {
    "01_language_models": language_models,
    "02_recurrent_networks": recurrent_networks,
    "03_backpropagation_through_time": backpropagation_through_time,
    "04_lstm_and_gru": lstm_and_gru,
    "05_gradient_clipping": gradient_clipping,
    "06_dropout": dropout,
    "07_layer_normalisation": layer_normalisation,
    "08_scheduled_sampling": scheduled_sampling,
    "09_seq2seq_and_attention": seq2seq_and_attention,
    "10_state_space_models_and_mamba": state_space_models_and_mamba,
    "11_echo_state_networks": echo_state_networks,
}
