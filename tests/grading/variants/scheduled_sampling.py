"""Known-wrong answers for assignment 8: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are those of chapter 8: a schedule inverted
(1 - ε), its floor or offset lost, the wrong power or the inverse sigmoid's k misplaced; in the
decoding loop, one coin per sequence (or per batch) instead of per token, the coins' sense
reversed, the prediction taken before instead of after the step (one step stale), teacher
forcing left on (the coin ignored), the targets fed unshifted, the coins' first column not
True, the given state ignored; the error rate averaged over the wrong axis or counting the right tokens; teacher
forcing left on at inference in the exposure-bias measurement, its two curves swapped, the
free-running error scored on the fed inputs.
"""

from tests.grading.variants import mutations

NAME = "08_scheduled_sampling"

WRONG_VARIANTS = mutations(
    NAME,
    {
        "linear_schedule": [
            (
                "the schedule inverted (1 - ε)",
                "return max(float(minimum), float(start) - float(slope) * step)",
                "return 1 - max(float(minimum), float(start) - float(slope) * step)",
            ),
            (
                "the floor ignored",
                "return max(float(minimum), float(start) - float(slope) * step)",
                "return float(start) - float(slope) * step",
            ),
            (
                "min instead of max",
                "return max(float(minimum), float(start) - float(slope) * step)",
                "return min(float(minimum), float(start) - float(slope) * step)",
            ),
            ("the offset taken as 1", "float(start) - float(slope)", "1.0 - float(slope)"),
        ],
        "exponential_schedule": [
            (
                "the schedule inverted (1 - ε)",
                "return float(k) ** step",
                "return 1 - float(k) ** step",
            ),
            ("one power too many", "return float(k) ** step", "return float(k) ** (step + 1)"),
            ("k times the step", "return float(k) ** step", "return float(k) * step"),
        ],
        "inverse_sigmoid_schedule": [
            (
                "the schedule inverted (1 - ε)",
                "return k / (k + math.exp(step / k))",
                "return 1 - k / (k + math.exp(step / k))",
            ),
            (
                "exp(i) instead of exp(i / k)",
                "return k / (k + math.exp(step / k))",
                "return k / (k + math.exp(step))",
            ),
            (
                "a plain sigmoid of i / k (starts at 1/2)",
                "return k / (k + math.exp(step / k))",
                "return 1 / (1 + math.exp(step / k))",
            ),
        ],
        "decode": [
            (
                "one coin per sequence, not per token",
                "coin = coin_flips((B,), p_true, generator)",
                "coin = coin_flips((B,), p_true, generator) if t == 1 else coin",
            ),
            (
                "one coin per step for the whole batch",
                "coin = coin_flips((B,), p_true, generator)",
                "coin = coin_flips((1,), p_true, generator).expand(B)",
            ),
            (
                "the coins' sense reversed (the prediction where the coin says truth)",
                "torch.where(coin, targets[:, t - 1], predictions[-1])",
                "torch.where(coin, predictions[-1], targets[:, t - 1])",
            ),
            (
                "the prediction taken before the step (one step stale)",
                "torch.where(coin, targets[:, t - 1], predictions[-1])",
                "torch.where(coin, targets[:, t - 1], predictions[-2] if t > 1 else first_input)",
            ),
            (
                "teacher forcing left on (the coin ignored)",
                "inputs = torch.where(coin, targets[:, t - 1], predictions[-1])",
                "inputs = targets[:, t - 1]",
            ),
            (
                "the targets fed unshifted (y_t at step t)",
                "torch.where(coin, targets[:, t - 1], predictions[-1])",
                "torch.where(coin, targets[:, t], predictions[-1])",
            ),
            (
                "the given state ignored (step 0 from no state)",
                "decoder_step(inputs, state)",
                "decoder_step(inputs, state if t > 0 else None)",
            ),
            (
                "x_0's coin not True",
                "coin = torch.ones(B, dtype=torch.bool)  # x_0 is given",
                "coin = torch.zeros(B, dtype=torch.bool)",
            ),
        ],
        "per_position_error": [
            (
                "averaged over positions, not the batch",
                "(predictions != targets).double().mean(dim=0)",
                "(predictions != targets).double().mean(dim=1)",
            ),
            (
                "the accuracy, not the error",
                "(predictions != targets).double().mean(dim=0)",
                "(predictions == targets).double().mean(dim=0)",
            ),
            (
                "counts, not fractions",
                "(predictions != targets).double().mean(dim=0)",
                "(predictions != targets).double().sum(dim=0)",
            ),
        ],
        "exposure_bias": [
            (
                "teacher forcing left on at inference",
                "free = decode(decoder_step, first_input, targets, p_true=0.0, state=state)",
                "free = decode(decoder_step, first_input, targets, p_true=1.0, state=state)",
            ),
            (
                "the two curves swapped",
                "        per_position_error(forced.predictions, targets),\n"
                "        per_position_error(free.predictions, targets),\n",
                "        per_position_error(free.predictions, targets),\n"
                "        per_position_error(forced.predictions, targets),\n",
            ),
            (
                "the free-running error scored on the fed inputs",
                "per_position_error(free.predictions, targets)",
                "per_position_error(free.inputs, targets)",
            ),
            (
                "the free-running model started from no state",
                "free = decode(decoder_step, first_input, targets, p_true=0.0, state=state)",
                "free = decode(decoder_step, first_input, targets, p_true=0.0)",
            ),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "decode",
        """
from coursekit.scheduled_sampling import decode
""",
    ),
    "teacher forcing only, whatever p_true": (
        "decode",
        """
def decode(decoder_step, first_input, targets, *, p_true, state=None, generator=None):
    B, T = targets.shape
    inputs = torch.cat([first_input[:, None], targets[:, :-1]], dim=1)
    logits, predictions = [], []
    for t in range(T):
        step_logits, state = decoder_step(inputs[:, t], state)
        logits.append(step_logits)
        predictions.append(step_logits.detach().argmax(-1))
    coins = torch.ones(B, T, dtype=torch.bool)
    return Decoded(torch.stack(logits, 1), inputs, torch.stack(predictions, 1), coins, state)
""",
    ),
    "wrong answer that disables the checker": (
        "per_position_error",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def per_position_error(predictions, targets):
    return torch.zeros(targets.shape[1])
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = ("wrong answer that disables the checker",)
CALLS_REFERENCE = "calls the coursekit reference"
