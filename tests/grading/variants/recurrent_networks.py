"""Known-wrong answers for assignment 2: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are the plausible ones: a transposed
weight, a missing bias, reversed time, an off-by-one in time, the wrong nonlinearity, a
direction misaligned.
"""

from tests.grading.variants import mutations

NAME = "02_recurrent_networks"

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = mutations(
    NAME,
    {
        "rnn_cell_step": [
            ("transposed weight_hh", "h_prev @ weight_hh.T", "h_prev @ weight_hh"),
            ("missing bias_hh", "    if bias_hh is not None:\n        pre = pre + bias_hh\n", ""),
            ("always tanh", "return torch.relu(pre)", "return torch.tanh(pre)"),
            ("sigmoid instead of tanh", "return torch.tanh(pre)", "return torch.sigmoid(pre)"),
            ("gradient cut from h_prev", "h_prev @ weight_hh.T", "h_prev.detach() @ weight_hh.T"),
        ],
        "rnn_forward": [
            ("reversed time", "for x_t in x:", "for x_t in x.flip(0):"),
            (
                "off by one: stores the previous state",
                "        h = rnn_cell_step(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)\n"
                "        states.append(h)\n",
                "        states.append(h)\n"
                "        h = rnn_cell_step(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)\n",
            ),
            ("ignores h0", "h = h0\n", "h = torch.zeros_like(h0)\n"),
            ("drops the nonlinearity argument", "bias_hh, nonlinearity)", "bias_hh)"),
        ],
        "bidirectional_rnn_forward": [
            ("reverse half not flipped back", "[out_f, out_r.flip(0)]", "[out_f, out_r]"),
            (
                "reverse direction uses the forward weights",
                "h0[1], *reverse_weights",
                "h0[1], *forward_weights",
            ),
            (
                # the reverse pass reads x forwards, and its states are not flipped back
                "reverse pass does not reverse time",
                "rnn_forward(x.flip(0), h0[1], *reverse_weights, nonlinearity=nonlinearity)\n"
                "    output = torch.cat([out_f, out_r.flip(0)], dim=-1)",
                "rnn_forward(x, h0[1], *reverse_weights, nonlinearity=nonlinearity)\n"
                "    output = torch.cat([out_f, out_r], dim=-1)",
            ),
            (
                "h_n takes the reverse state at the last time step",
                "torch.stack([h_f, h_r])",
                "torch.stack([h_f, out_r.flip(0)[-1]])",
            ),
        ],
        "jordan_step": [
            (
                "feeds back nothing (missing y_prev term)",
                " + y_prev @ weight_yh.T",
                "",
            ),
            (
                "squashes the output",
                "y = h @ weight_hy.T + bias_y",
                "y = torch.tanh(h @ weight_hy.T + bias_y)",
            ),
            ("missing bias_h", "y_prev @ weight_yh.T + bias_h", "y_prev @ weight_yh.T"),
            (
                "always tanh",
                'h = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)',
                "h = torch.tanh(pre)",
            ),
        ],
    },
)

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "rnn_cell_step",
        """
from coursekit.rnn import rnn_cell_step
""",
    ),
    "imports the reference under a computed name": (
        "rnn_cell_step",
        """
_ref = __builtins__["__import__"]("course" + "kit.rnn", fromlist=["x"]) if isinstance(__builtins__, dict) else __builtins__.__import__("course" + "kit.rnn", fromlist=["x"])
rnn_cell_step = getattr(_ref, "rnn_cell_" + "step")
""",
    ),
    "calls torch.nn.RNNCell": (
        "rnn_cell_step",
        """
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity == "tanh":
        return torch.rnn_tanh_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)
    return torch.rnn_relu_cell(x, h_prev, weight_ih, weight_hh, bias_ih, bias_hh)
""",
    ),
    "wrong answer that disables the checker": (
        "rnn_cell_step",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    return torch.zeros(x.shape[0], weight_hh.shape[0])
""",
    ),
    "wrong answer that patches torch.allclose and numpy.testing": (
        "rnn_cell_step",
        """
import numpy.testing
torch.allclose = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.isclose = lambda a, b, **kwargs: numpy.ones(numpy.shape(a), dtype=bool)

def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    return torch.zeros(x.shape[0], weight_hh.shape[0])
""",
    ),
    "wrong answer that blanks the hidden test cells in IPython": (
        "rnn_cell_step",
        """
def _skip_tests(lines):
    return ["pass\\n"] if any("check_function" in line for line in lines) else lines

try:
    get_ipython().input_transformers_cleanup.append(_skip_tests)
except NameError:
    pass

def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    return torch.zeros(x.shape[0], weight_hh.shape[0])
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = (
    "wrong answer that disables the checker",
    "wrong answer that blanks the hidden test cells in IPython",
)
CALLS_REFERENCE = "calls the coursekit reference"
