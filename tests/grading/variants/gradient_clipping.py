"""Known-wrong answers for assignment 5: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
The mistakes are the plausible ones of clipping: a coefficient that is not capped at 1 (so
small gradients are scaled up), a norm per tensor instead of one over all, the wrong norm,
value clipping in place of norm clipping, the norm reported after clipping.
"""

CLIP_COEFFICIENT = {
    "not capped at 1 (scales small gradients up)": """
def clip_coefficient(total_norm, max_norm):
    return max_norm / (torch.as_tensor(total_norm) + 1e-6)
""",
    "without the 1e-6": """
def clip_coefficient(total_norm, max_norm):
    return torch.clamp(max_norm / torch.as_tensor(total_norm), max=1.0)
""",
    "capped from below instead of above": """
def clip_coefficient(total_norm, max_norm):
    return torch.clamp(max_norm / (torch.as_tensor(total_norm) + 1e-6), min=1.0)
""",
    "ratio upside down": """
def clip_coefficient(total_norm, max_norm):
    return torch.clamp(torch.as_tensor(total_norm) / max_norm, max=1.0)
""",
}

CLIP_GRADS_BY_NORM = {
    "clips each tensor by its own norm": """
def clip_grads_by_norm(grads, max_norm, norm_type=2.0):
    norms = [torch.linalg.vector_norm(g, norm_type) for g in grads]
    total = torch.linalg.vector_norm(torch.stack(norms), norm_type)
    return [g * clip_coefficient(n, max_norm) for g, n in zip(grads, norms)], total
""",
    "ignores norm_type (always the 2-norm)": """
def clip_grads_by_norm(grads, max_norm, norm_type=2.0):
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    c = clip_coefficient(total, max_norm)
    return [g * c for g in grads], total
""",
    "adds up the per-tensor norms": """
def clip_grads_by_norm(grads, max_norm, norm_type=2.0):
    total = sum(torch.linalg.vector_norm(g, norm_type) for g in grads)
    c = clip_coefficient(total, max_norm)
    return [g * c for g in grads], total
""",
    "coefficient not capped at 1 (scales small gradients up)": """
def clip_grads_by_norm(grads, max_norm, norm_type=2.0):
    norms = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])
    total = torch.linalg.vector_norm(norms, norm_type)
    return [g * max_norm / (total + 1e-6) for g in grads], total
""",
    "clips values instead of the norm": """
def clip_grads_by_norm(grads, max_norm, norm_type=2.0):
    norms = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])
    total = torch.linalg.vector_norm(norms, norm_type)
    return [g.clamp(-max_norm, max_norm) for g in grads], total
""",
    "returns the norm after clipping": """
def clip_grads_by_norm(grads, max_norm, norm_type=2.0):
    norms = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])
    c = clip_coefficient(torch.linalg.vector_norm(norms, norm_type), max_norm)
    clipped = [g * c for g in grads]
    total = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g, norm_type) for g in clipped]), norm_type
    )
    return clipped, total
""",
}

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = {
    "clip_coefficient": CLIP_COEFFICIENT,
    "clip_grads_by_norm": CLIP_GRADS_BY_NORM,
}

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
