"""Known-wrong answers for assignment 6: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are the plausible ones of dropout in a
recurrent net: no inverted scaling, the keep probability upside down, one mask for the whole
batch, a fresh mask at every time step, dropout left on in evaluation, the mask on the wrong
tensor (the cell state, the new h_t), the given masks' scaling thrown away.
"""

from tests.grading.variants import mutations

NAME = "06_dropout"

DRAW = "mask = locked_dropout_mask((B, F), p, generator, x.device, x.dtype)"

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = mutations(
    NAME,
    {
        "locked_dropout_mask": [
            (
                "no inverted scaling (entries 0 or 1)",
                'return (keep.to(dtype) / (1 - p)).to(device or "cpu")',
                'return keep.to(dtype).to(device or "cpu")',
            ),
            ("keeps with probability p instead of 1 - p", ">= p", "< p"),
            (
                "one mask for the whole batch (every sequence alike)",
                "keep = torch.rand(tuple(shape), generator=generator, dtype=dtype) >= p",
                "keep = torch.rand(shape[1], generator=generator, dtype=dtype) >= p\n"
                "    keep = keep.expand(tuple(shape))",
            ),
            (
                "scales by 1 - p instead of 1 / (1 - p)",
                "keep.to(dtype) / (1 - p)",
                "keep.to(dtype) * (1 - p)",
            ),
        ],
        "locked_dropout": [
            (
                "a fresh mask at every time step",
                DRAW,
                "T = x.shape[1] if batch_first else x.shape[0]\n"
                "        steps = [locked_dropout_mask((B, F), p, generator, x.device, x.dtype)"
                " for _ in range(T)]\n"
                "        return x * torch.stack(steps, dim=1 if batch_first else 0)",
            ),
            ("dropout left on in evaluation", "if not training or p == 0:", "if p == 0:"),
            (
                "no inverted scaling of the drawn mask",
                DRAW,
                DRAW + "\n        mask = (mask != 0).to(x.dtype)",
            ),
            (
                "the (B, F) mask not moved to the batch axis with batch_first",
                "mask.unsqueeze(1) if batch_first else mask",
                "mask",
            ),
        ],
        "dropout_lstm_cell_step": [
            (
                "masks the cell c_{t-1} instead of h_{t-1}",
                "h_prev = h_prev * state_mask",
                "c_prev = c_prev * state_mask",
            ),
            (
                "masks the cell c_{t-1} as well",
                "h_prev = h_prev * state_mask",
                "h_prev, c_prev = h_prev * state_mask, c_prev * state_mask",
            ),
            (
                "also masks the new h_t it returns",
                "return h, c",
                "return (h if state_mask is None else h * state_mask), c",
            ),
            ("the input mask not applied", "x = x * input_mask", "x = x"),
            (
                "throws away the masks' 1 / (1 - p) scaling",
                "h_prev = h_prev * state_mask",
                "h_prev = h_prev * (state_mask != 0)",
            ),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "locked_dropout_mask",
        """
from coursekit.dropout import locked_dropout_mask
""",
    ),
    "calls torch.nn.functional.dropout": (
        "locked_dropout_mask",
        """
def locked_dropout_mask(shape, p, generator=None, device=None, dtype=None):
    ones = torch.ones(tuple(shape), dtype=dtype or torch.get_default_dtype())
    return torch.nn.functional.dropout(ones, p, training=True).to(device or "cpu")
""",
    ),
    "wrong answer that disables the checker": (
        "locked_dropout",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def locked_dropout(x, p, mask=None, training=True, batch_first=False, generator=None):
    return x
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = ("wrong answer that disables the checker",)
CALLS_REFERENCE = "calls the coursekit reference"
