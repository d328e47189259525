"""Known-wrong answers for assignment 5: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are the plausible ones of clipping: a
coefficient that is not capped at 1 (so small gradients are scaled up), a norm per tensor
instead of one over all, the wrong norm, value clipping in place of norm clipping, the norm
reported after clipping.
"""

from tests.grading.variants import mutations

NAME = "05_gradient_clipping"

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = mutations(
    NAME,
    {
        "clip_coefficient": [
            (
                "not capped at 1 (scales small gradients up)",
                "return torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)",
                "return max_norm / (total_norm + 1e-6)",
            ),
            ("without the 1e-6", "(total_norm + 1e-6)", "total_norm"),
            ("capped from below instead of above", "max=1.0", "min=1.0"),
            ("ratio upside down", "max_norm / (total_norm + 1e-6)", "total_norm / max_norm"),
        ],
        "clip_grads_by_norm": [
            (
                "clips each tensor by its own norm",
                "return [g * c for g in grads], total",
                "return [g * clip_coefficient(n, max_norm) for g, n in zip(grads, norms)], total",
            ),
            (
                "ignores norm_type (always the 2-norm)",
                "    norms = torch.stack(",
                "    norm_type = 2.0  # whatever the caller asked for\n    norms = torch.stack(",
            ),
            (
                "adds up the per-tensor norms",
                "total = torch.linalg.vector_norm(norms, norm_type)",
                "total = norms.sum()",
            ),
            (
                "coefficient not capped at 1 (scales small gradients up)",
                "c = clip_coefficient(total, max_norm)",
                "c = max_norm / (total + 1e-6)",
            ),
            (
                "clips values instead of the norm",
                "return [g * c for g in grads], total",
                "return [g.clamp(-max_norm, max_norm) for g in grads], total",
            ),
            (
                # c * total is the norm of the clipped gradients
                "returns the norm after clipping",
                "return [g * c for g in grads], total",
                "return [g * c for g in grads], c * total",
            ),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "clip_grads_by_norm",
        """
from coursekit.clipping import clip_grads_by_norm
""",
    ),
    "calls torch.nn.utils.clip_grad_norm_": (
        "clip_grads_by_norm",
        """
def clip_grads_by_norm(grads, max_norm, norm_type=2.0):
    parameters = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(parameters, grads):
        p.grad = g.detach().clone()
    total = torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type)
    return [p.grad for p in parameters], total
""",
    ),
    "wrong answer that disables the checker": (
        "clip_coefficient",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def clip_coefficient(total_norm, max_norm):
    return torch.tensor(1.0)
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = ("wrong answer that disables the checker",)
CALLS_REFERENCE = "calls the coursekit reference"
