"""Known-wrong answers and cheats, one module per assignment.

Each module defines ``WRONG_VARIANTS`` (answer cell grade id -> {label: replacement source},
at least three per graded function) and ``CHEATS`` (label -> (grade id, replacement source)),
``FOOLS_NBGRADER`` (cheat labels plain nbgrader is shown to reward), ``CALLS_REFERENCE`` (the
label of the cheat that imports coursekit) and, optionally, ``ROUNDTRIP_ALL_VARIANTS = True``
to send every variant (not one per function) through the real nbgrader.
"""

from tests.grading.variants import (
    backpropagation_through_time,
    gradient_clipping,
    language_models,
    lstm_and_gru,
    recurrent_networks,
)

ASSIGNMENTS = {
    "01_language_models": language_models,
    "02_recurrent_networks": recurrent_networks,
    "03_backpropagation_through_time": backpropagation_through_time,
    "04_lstm_and_gru": lstm_and_gru,
    "05_gradient_clipping": gradient_clipping,
}
