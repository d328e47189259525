"""Known-wrong answers for assignment 4: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are the plausible ones: the gate blocks in
the wrong order, a gate on the wrong term, a missing tanh, b_hn outside the reset product, z and
1 - z swapped, a peephole on the wrong cell, an off-by-one in time, the wrong final state.
"""

from tests.grading.variants import mutations

NAME = "04_lstm_and_gru"

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = mutations(
    NAME,
    {
        "lstm_cell_step": [
            (
                "gate order i, g, f, o",
                "z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)",
                "z_i, z_g, z_f, z_o = z.chunk(4, dim=-1)",
            ),
            (
                "gate order f, i, g, o",
                "z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)",
                "z_f, z_i, z_g, z_o = z.chunk(4, dim=-1)",
            ),
            (
                "forget gate applied to the new candidate",
                "c = f * c_prev + i * g",
                "c = c_prev + f * g",
            ),
            ("tanh missing on c in h", "h = o * torch.tanh(c)", "h = o * c"),
            ("sigmoid on the candidate", "g = torch.tanh(z_g)", "g = torch.sigmoid(z_g)"),
            ("missing bias_hh", "    if bias_hh is not None:\n        z = z + bias_hh\n", ""),
        ],
        "gru_cell_step": [
            (
                "b_hn outside the reset product",
                "    n = torch.tanh(x_n + r * h_n)\n",
                "    b_hn = 0 if bias_hh is None else bias_hh.chunk(3)[2]\n"
                "    n = torch.tanh(x_n + r * (h_n - b_hn) + b_hn)\n",
            ),
            (
                "z and 1 - z swapped",
                "return (1 - z) * n + z * h_prev",
                "return z * n + (1 - z) * h_prev",
            ),
            (
                "reset applied to h_prev before the product (Cho et al.)",
                "    n = torch.tanh(x_n + r * h_n)\n",
                "    w_hn, b_hn = weight_hh.chunk(3)[2], 0 if bias_hh is None else bias_hh.chunk(3)[2]\n"
                "    n = torch.tanh(x_n + (r * h_prev) @ w_hn.T + b_hn)\n",
            ),
            (
                # both chunks, x's and h's: a consistent z, r, n order
                "gate order z, r, n",
                "x_r, x_z, x_n = from_x.chunk(3, dim=-1)  # (B, H) each\n"
                "    h_r, h_z, h_n = from_h.chunk(3, dim=-1)",
                "x_z, x_r, x_n = from_x.chunk(3, dim=-1)  # (B, H) each\n"
                "    h_z, h_r, h_n = from_h.chunk(3, dim=-1)",
            ),
        ],
        "lstm_forward": [
            (
                "off by one: stores the previous state",
                "        h, c = lstm_cell_step(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)\n"
                "        outputs.append(h)\n",
                "        outputs.append(h)\n"
                "        h, c = lstm_cell_step(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)\n",
            ),
            (
                "c_n is the initial cell state",
                "return torch.stack(outputs), (h, c)",
                "return torch.stack(outputs), (h, state[1])",
            ),
            (
                "the cell state is not carried (c0 at every step)",
                "lstm_cell_step(x_t, (h, c),",
                "lstm_cell_step(x_t, (h, state[1]),",
            ),
            ("returns the cell states as output", "outputs.append(h)", "outputs.append(c)"),
            ("reversed time", "for x_t in x:", "for x_t in x.flip(0):"),
        ],
        "peephole_lstm_step": [
            (
                "output peephole on c_{t-1} instead of c_t",
                "o = torch.sigmoid(z_o + w_co * c)",
                "o = torch.sigmoid(z_o + w_co * c_prev)",
            ),
            (
                "peephole rows of i and f swapped",
                "w_ci, w_cf, w_co = weight_peephole",
                "w_cf, w_ci, w_co = weight_peephole",
            ),
            (
                "no peephole on the output gate",
                "o = torch.sigmoid(z_o + w_co * c)",
                "o = torch.sigmoid(z_o)",
            ),
            (
                # both gates that look at the previous cell, i and f
                "peephole weights multiply h_{t-1} instead of c_{t-1}",
                "i = torch.sigmoid(z_i + w_ci * c_prev)\n"
                "    f = torch.sigmoid(z_f + w_cf * c_prev)",
                "i = torch.sigmoid(z_i + w_ci * h_prev)\n"
                "    f = torch.sigmoid(z_f + w_cf * h_prev)",
            ),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "lstm_cell_step",
        """
from coursekit.lstm import lstm_cell_step
""",
    ),
    "calls torch.nn.LSTMCell": (
        "lstm_cell_step",
        """
def lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    cell = torch.nn.LSTMCell(weight_ih.shape[1], weight_hh.shape[1], bias=bias_ih is not None)
    parameters = {"weight_ih": weight_ih, "weight_hh": weight_hh}
    if bias_ih is not None:
        parameters.update(bias_ih=bias_ih, bias_hh=bias_hh)
    return torch.func.functional_call(cell, parameters, (x, state))
""",
    ),
    "calls torch's GRU cell kernel": (
        "gru_cell_step",
        """
def gru_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return torch.gru_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)
""",
    ),
    "runs torch.nn.LSTM over the sequence": (
        "lstm_forward",
        """
def lstm_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    layer = torch.nn.LSTM(weight_ih.shape[1], weight_hh.shape[1], bias=bias_ih is not None)
    parameters = {"weight_ih_l0": weight_ih, "weight_hh_l0": weight_hh}
    if bias_ih is not None:
        parameters.update(bias_ih_l0=bias_ih, bias_hh_l0=bias_hh)
    h0, c0 = state
    output, (h_n, c_n) = torch.func.functional_call(
        layer, parameters, (x, (h0.unsqueeze(0), c0.unsqueeze(0)))
    )
    return output, (h_n[0], c_n[0])
""",
    ),
}

# No cheat here is shown to fool plain nbgrader (assignment 2 shows those); the reference call:
FOOLS_NBGRADER = ()
CALLS_REFERENCE = "calls the coursekit reference"
