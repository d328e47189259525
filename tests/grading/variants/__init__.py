"""Known-wrong answers and cheats, one module per assignment.

Each module defines ``WRONG_VARIANTS`` (answer cell grade id -> {label: replacement source},
at least three per graded function) and ``CHEATS`` (label -> (grade id, replacement source)).
"""

from tests.grading.variants import recurrent_networks

ASSIGNMENTS = {"02_recurrent_networks": recurrent_networks}
