"""Known-wrong answers for assignment 7: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are the plausible ones of layer norm:
statistics over the batch instead of the features, the unbiased variance, eps outside the
square root, γ and β swapped; in the backward, a dropped path through the mean or the
variance; in the LN-LSTM, the cell normalised after the tanh, one norm over the sum of the
two products, the normalised cell carried on.
"""

from tests.grading.variants import mutations

NAME = "07_layer_normalisation"

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = mutations(
    NAME,
    {
        "layer_norm": [
            (
                "normalises over the batch (dim 0) instead of the features",
                "dims = tuple(range(-len(normalized_shape), 0))",
                "dims = (0,)",
            ),
            (
                "unbiased variance (divides by N - 1)",
                "var = ((x - mu) ** 2).mean(dim=dims, keepdim=True)",
                "var = x.var(dim=dims, keepdim=True, unbiased=True)",
            ),
            ("eps outside the square root", "torch.sqrt(var + eps)", "(torch.sqrt(var) + eps)"),
            (
                "γ and β swapped",
                "y = x_hat if weight is None else x_hat * weight  # Eq. (7.4)\n"
                "    return y if bias is None else y + bias",
                "y = x_hat if bias is None else x_hat * bias\n"
                "    return y if weight is None else y + weight",
            ),
        ],
        "layer_norm_backward": [
            (
                "drops the path through the variance",
                "dx = rstd * (d_hat - mean_d - x_hat * mean_dx)",
                "dx = rstd * (d_hat - mean_d)",
            ),
            (
                "drops the path through the mean",
                "dx = rstd * (d_hat - mean_d - x_hat * mean_dx)",
                "dx = rstd * (d_hat - x_hat * mean_dx)",
            ),
            ("forgets the factor 1/sqrt(var + eps)", "dx = rstd * (", "dx = ("),
            (
                "dγ without x_hat",
                "(grad_output * x_hat).sum(dim=lead)",
                "grad_output.sum(dim=lead)",
            ),
            (
                "forgets γ in d_hat",
                "d_hat = grad_output if weight is None else grad_output * weight",
                "d_hat = grad_output",
            ),
        ],
        "layer_norm_lstm_step": [
            (
                "normalises the cell after the tanh",
                "h = o * torch.tanh(layer_norm(c, H, *norm_cell, eps))",
                "h = o * layer_norm(torch.tanh(c), H, *norm_cell, eps)",
            ),
            (
                "one norm over the sum of the two products",
                "z = layer_norm(x @ weight_ih.T, 4 * H, *norm_ih, eps)\n"
                "    z = z + layer_norm(h_prev @ weight_hh.T, 4 * H, *norm_hh, eps)",
                "z = layer_norm(x @ weight_ih.T + h_prev @ weight_hh.T, 4 * H, *norm_ih, eps)",
            ),
            (
                "carries the normalised cell",
                "return h, c",
                "return h, layer_norm(c, H, *norm_cell, eps)",
            ),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "layer_norm",
        """
from coursekit.layernorm import layer_norm
""",
    ),
    "backward by autograd": (
        "layer_norm_backward",
        """
def layer_norm_backward(grad_output, cache):
    x_hat, rstd, weight, has_bias, k = cache
    dims = tuple(range(x_hat.dim() - k, x_hat.dim()))
    x = (x_hat / rstd).detach().requires_grad_(True)
    w = None if weight is None else weight.detach().requires_grad_(True)
    b = torch.zeros(x.shape[x.dim() - k :], requires_grad=True) if has_bias else None
    mu = x.mean(dim=dims, keepdim=True)
    y = (x - mu) * rstd
    y = y if w is None else y * w
    y = y if b is None else y + b
    y.backward(grad_output)
    return x.grad, None if w is None else w.grad, None if b is None else b.grad
""",
    ),
    "wrong answer that disables the checker": (
        "layer_norm_lstm_step",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def layer_norm_lstm_step(x, state, *args, **kwargs):
    return state
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = ("wrong answer that disables the checker",)
CALLS_REFERENCE = "calls the coursekit reference"
