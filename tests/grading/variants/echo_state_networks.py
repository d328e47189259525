"""Known-wrong answers for assignment 11: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are the plausible ones of an ESN: scaling
by the largest singular value (or the largest real eigenvalue) instead of the spectral
radius; the leak on the wrong term or inside the tanh, the bias outside it; the washout kept
or off by one, the state recorded before its update, the given start ignored; in the
readout, the bias penalised, β added to every entry of XᵀX or scaled by T, and an explicit
inverse on ill-conditioned states.
"""

from tests.grading.variants import mutations

NAME = "11_echo_state_networks"

WRONG_VARIANTS = mutations(
    NAME,
    {
        "scale_to_spectral_radius": [
            (
                "scales by the largest singular value",
                "torch.linalg.eigvals(W).abs().max()",
                "torch.linalg.svdvals(W).max()",
            ),
            (
                "the largest real eigenvalue instead of the largest modulus",
                "torch.linalg.eigvals(W).abs().max()",
                "torch.linalg.eigvals(W).real.max()",
            ),
            (
                "the ratio upside down",
                "W * (spectral_radius / current)",
                "W * (current / spectral_radius)",
            ),
            ("forgets the target radius (ρ = 1)", "W * (spectral_radius / current)", "W / current"),
        ],
        "reservoir_step": [
            (
                "the leak on the wrong term",
                "(1 - leak_rate) * x + leak_rate * torch.tanh(pre)",
                "leak_rate * x + (1 - leak_rate) * torch.tanh(pre)",
            ),
            (
                "the leak inside the tanh",
                "(1 - leak_rate) * x + leak_rate * torch.tanh(pre)",
                "torch.tanh((1 - leak_rate) * x + leak_rate * pre)",
            ),
            (
                "the bias outside the tanh",
                "    if bias is not None:\n"
                "        pre = pre + bias\n"
                "    return (1 - leak_rate) * x + leak_rate * torch.tanh(pre)",
                "    new = (1 - leak_rate) * x + leak_rate * torch.tanh(pre)\n"
                "    return new if bias is None else new + bias",
            ),
            ("the recurrent weights transposed", "W @ x", "W.T @ x"),
        ],
        "collect_states": [
            ("keeps the washout", "torch.stack(states)[washout:]", "torch.stack(states)"),
            (
                "drops one state too many",
                "torch.stack(states)[washout:]",
                "torch.stack(states)[washout + 1 :]",
            ),
            (
                "records the state before its update",
                "        x = reservoir_step(u, x, W_in, W, bias, leak_rate)\n"
                "        states.append(x)  # the state after reading u",
                "        states.append(x)\n"
                "        x = reservoir_step(u, x, W_in, W, bias, leak_rate)",
            ),
            (
                "ignores the given start state",
                "x = W.new_zeros(W.shape[0]) if state is None else state",
                "x = W.new_zeros(W.shape[0])",
            ),
        ],
        "ridge_readout": [
            ("penalises the bias too", "ridge * D", "ridge * torch.eye(N + 1)"),
            ("adds β to every entry of XᵀX", "X.T @ X + ridge * D", "X.T @ X + ridge"),
            ("scales β by T", "ridge * D", "ridge * T * D"),
            (
                "no bias: a column of zeros",
                "torch.ones(T, 1, dtype=states.dtype)",
                "torch.zeros(T, 1, dtype=states.dtype)",
            ),
            (
                "an explicit inverse",
                "torch.linalg.solve(X.T @ X + ridge * D, X.T @ targets)",
                "torch.linalg.inv(X.T @ X + ridge * D) @ (X.T @ targets)",
            ),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "ridge_readout",
        """
from coursekit.esn import ridge_readout
""",
    ),
    "least squares by lstsq": (
        "ridge_readout",
        """
def ridge_readout(states, targets, ridge=0.0):
    T, N = states.shape
    X = torch.cat([torch.ones(T, 1), states], dim=1)
    rows = torch.cat([X, ridge**0.5 * torch.eye(N + 1)[1:]])
    padded = torch.cat([targets, torch.zeros(N, targets.shape[1])])
    return torch.linalg.lstsq(rows, padded).solution.T
""",
    ),
    "wrong answer that disables the checker": (
        "reservoir_step",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def reservoir_step(u, x, W_in, W, bias=None, leak_rate=1.0):
    return x
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = ("wrong answer that disables the checker",)
CALLS_REFERENCE = "calls the coursekit reference"
