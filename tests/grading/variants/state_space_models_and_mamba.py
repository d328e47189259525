"""Known-wrong answers for assignment 10: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are the plausible ones of chapter 10: Euler
instead of the zero-order hold, the exact Ā with Euler's B̄ = ΔB, the division by λ forgotten
or by Δλ, no Δ in the exponent; a kernel off by one power, Ā transposed or raised entry by
entry, the kernel reversed in time; in the selective scan, Δ not softplus-ed, the bias added
after the softplus, B and C swapped, the D skip forgotten or added after the gate, the gate
missing or a sigmoid, the output read from the state before its update, the exact ZOH input
term instead of Mamba's Δ B; the combine applied in the wrong order, multiplying the b's,
not carrying b_1 through a_2, adding the a's.
"""

from tests.grading.variants import mutations

NAME = "10_state_space_models_and_mamba"

WRONG_VARIANTS = mutations(
    NAME,
    {
        "discretize_zoh_diagonal": [
            (
                "Euler instead of ZOH",
                "    a_bar = torch.exp(delta * lam)  # Eq. (10.4)\n"
                "    b_bar = torch.expm1(delta * lam) / lam * B  # (exp(Δλ) - 1) / λ · B",
                "    a_bar = 1 + delta * lam\n    b_bar = delta * B",
            ),
            (
                "the exact Ā but Euler's B̄ = ΔB",
                "torch.expm1(delta * lam) / lam * B",
                "delta * B",
            ),
            (
                "forgets to divide by λ",
                "torch.expm1(delta * lam) / lam * B",
                "torch.expm1(delta * lam) * B",
            ),
            (
                "divides by Δλ (the Δ of ΔB kept)",
                "torch.expm1(delta * lam) / lam * B",
                "torch.expm1(delta * lam) / (delta * lam) * B",
            ),
            ("no Δ in the exponent", "torch.exp(delta * lam)", "torch.exp(lam)"),
        ],
        "ssm_kernel": [
            (
                "off by one power: starts at C Ā B̄",
                "power_b = b_bar  # Ā^j B̄ (n, m), from j = 0",
                "power_b = a_bar @ b_bar",
            ),
            ("Ā transposed", "power_b = a_bar @ power_b", "power_b = a_bar.T @ power_b"),
            (
                "Ā^j entry by entry instead of a matrix power",
                "    for _ in range(length):\n"
                "        kernel.append(C @ power_b)  # K_j (p, m), Eq. (10.6)\n"
                "        power_b = a_bar @ power_b",
                "    for j in range(length):\n        kernel.append(C @ a_bar**j @ b_bar)",
            ),
            ("the kernel reversed in time", "torch.stack(kernel)", "torch.stack(kernel[::-1])"),
        ],
        "selective_scan": [
            (
                "Δ not softplus-ed",
                "    if delta_softplus:\n        delta = F.softplus(delta)  # Eq. (10.10)\n",
                "",
            ),
            (
                "the Δ bias added after the softplus",
                "    if delta_bias is not None:\n"
                "        delta = delta + delta_bias[:, None]  # (b, d, L)\n"
                "    if delta_softplus:\n"
                "        delta = F.softplus(delta)  # Eq. (10.10)\n",
                "    if delta_softplus:\n"
                "        delta = F.softplus(delta)\n"
                "    if delta_bias is not None:\n"
                "        delta = delta + delta_bias[:, None]\n",
            ),
            (
                "B and C swapped",
                "        h = a_bar * h + dt * B[:, None, :, t] * u[:, :, t, None]  # Eq. (10.12)-(10.13)\n"
                "        ys.append((h * C[:, None, :, t]).sum(-1))  # <C_t, h_t>, (b, d)",
                "        h = a_bar * h + dt * C[:, None, :, t] * u[:, :, t, None]\n"
                "        ys.append((h * B[:, None, :, t]).sum(-1))",
            ),
            (
                "the D skip forgotten",
                "    if D is not None:\n        y = y + D[:, None] * u  # the skip, Eq. (10.14)\n",
                "",
            ),
            (
                "the z gate missing",
                "    if z is not None:\n        y = y * F.silu(z)  # the gate, Eq. (10.15)\n",
                "",
            ),
            ("the gate a sigmoid, not SiLU", "F.silu(z)", "torch.sigmoid(z)"),
            (
                "the D skip added after the gate",
                "    if D is not None:\n"
                "        y = y + D[:, None] * u  # the skip, Eq. (10.14)\n"
                "    if z is not None:\n"
                "        y = y * F.silu(z)  # the gate, Eq. (10.15)\n",
                "    if z is not None:\n"
                "        y = y * F.silu(z)\n"
                "    if D is not None:\n"
                "        y = y + D[:, None] * u\n",
            ),
            (
                "the output read from the state before its update",
                "        h = a_bar * h + dt * B[:, None, :, t] * u[:, :, t, None]  # Eq. (10.12)-(10.13)\n"
                "        ys.append((h * C[:, None, :, t]).sum(-1))  # <C_t, h_t>, (b, d)",
                "        ys.append((h * C[:, None, :, t]).sum(-1))\n"
                "        h = a_bar * h + dt * B[:, None, :, t] * u[:, :, t, None]",
            ),
            (
                "the exact ZOH input term instead of Mamba's Δ B",
                "h = a_bar * h + dt * B[:, None, :, t]",
                "h = a_bar * h + (a_bar - 1) / A * B[:, None, :, t]",
            ),
            ("no Δ in Ā", "torch.exp(dt * A)", "torch.exp(A)"),
        ],
        "scan_combine": [
            (
                "the combine applied in the wrong order",
                "a_2 * a_1, a_2 * b_1 + b_2",
                "a_1 * a_2, a_1 * b_2 + b_1",
            ),
            ("multiplies the b's", "a_2 * a_1, a_2 * b_1 + b_2", "a_2 * a_1, b_2 * b_1"),
            ("b_1 not carried through a_2", "a_2 * a_1, a_2 * b_1 + b_2", "a_2 * a_1, b_1 + b_2"),
            ("adds the a's", "a_2 * a_1, a_2 * b_1 + b_2", "a_2 + a_1, a_2 * b_1 + b_2"),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "selective_scan",
        """
from coursekit.mamba import selective_scan
""",
    ),
    "the recurrence by mambapy's pscan": (
        "selective_scan",
        """
def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False):
    from mambapy.pscan import pscan

    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    dt = delta.transpose(1, 2).unsqueeze(-1)  # (b, L, d, 1)
    a = torch.exp(dt * A)  # (b, L, d, n)
    b = dt * B.transpose(1, 2).unsqueeze(2) * u.transpose(1, 2).unsqueeze(-1)
    h = pscan(a, b)  # (b, L, d, n)
    y = (h * C.transpose(1, 2).unsqueeze(2)).sum(-1).transpose(1, 2)
    if D is not None:
        y = y + D[:, None] * u
    if z is not None:
        y = y * F.silu(z)
    return (y, h[:, -1]) if return_last_state else y
""",
    ),
    "wrong answer that disables the checker": (
        "ssm_kernel",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def ssm_kernel(a_bar, b_bar, C, length):
    return torch.zeros(length, C.shape[0], b_bar.shape[1])
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = ("wrong answer that disables the checker",)
CALLS_REFERENCE = "calls the coursekit reference"
