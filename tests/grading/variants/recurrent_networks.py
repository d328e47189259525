"""Known-wrong answers for assignment 2: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
The mistakes are the plausible ones: a transposed weight, a missing bias, reversed time, an
off-by-one in time, the wrong nonlinearity, a direction misaligned.
"""

RNN_CELL_STEP = {
    "transposed weight_hh": """
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    pre = x @ weight_ih.T + h_prev @ weight_hh
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
""",
    "missing bias_hh": """
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    pre = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
""",
    "always tanh": """
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    pre = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.tanh(pre)
""",
    "sigmoid instead of tanh": """
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    pre = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.sigmoid(pre) if nonlinearity == "tanh" else torch.relu(pre)
""",
    "gradient cut from h_prev": """
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    pre = x @ weight_ih.T + h_prev.detach() @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
""",
}

RNN_FORWARD = {
    "reversed time": """
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    h, states = h0, []
    for x_t in x.flip(0):
        h = rnn_cell_step(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        states.append(h)
    return torch.stack(states), h
""",
    "off by one: stores the previous state": """
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    h, states = h0, []
    for x_t in x:
        states.append(h)
        h = rnn_cell_step(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    return torch.stack(states), h
""",
    "ignores h0": """
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    h, states = torch.zeros_like(h0), []
    for x_t in x:
        h = rnn_cell_step(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        states.append(h)
    return torch.stack(states), h
""",
    "drops the nonlinearity argument": """
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    h, states = h0, []
    for x_t in x:
        h = rnn_cell_step(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh)
        states.append(h)
    return torch.stack(states), h
""",
}

BIDIRECTIONAL = {
    "reverse half not flipped back": """
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    out_f, h_f = rnn_forward(x, h0[0], *forward_weights, nonlinearity=nonlinearity)
    out_r, h_r = rnn_forward(x.flip(0), h0[1], *reverse_weights, nonlinearity=nonlinearity)
    return torch.cat([out_f, out_r], dim=-1), torch.stack([h_f, h_r])
""",
    "reverse direction uses the forward weights": """
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    out_f, h_f = rnn_forward(x, h0[0], *forward_weights, nonlinearity=nonlinearity)
    out_r, h_r = rnn_forward(x.flip(0), h0[1], *forward_weights, nonlinearity=nonlinearity)
    return torch.cat([out_f, out_r.flip(0)], dim=-1), torch.stack([h_f, h_r])
""",
    "reverse pass does not reverse time": """
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    out_f, h_f = rnn_forward(x, h0[0], *forward_weights, nonlinearity=nonlinearity)
    out_r, h_r = rnn_forward(x, h0[1], *reverse_weights, nonlinearity=nonlinearity)
    return torch.cat([out_f, out_r], dim=-1), torch.stack([h_f, h_r])
""",
    "h_n takes the reverse state at the last time step": """
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    out_f, h_f = rnn_forward(x, h0[0], *forward_weights, nonlinearity=nonlinearity)
    out_r, h_r = rnn_forward(x.flip(0), h0[1], *reverse_weights, nonlinearity=nonlinearity)
    out_r = out_r.flip(0)
    return torch.cat([out_f, out_r], dim=-1), torch.stack([h_f, out_r[-1]])
""",
}

JORDAN_STEP = {
    "feeds back nothing (missing y_prev term)": """
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    pre = x @ weight_ih.T + bias_h
    h = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
    return h, h @ weight_hy.T + bias_y
""",
    "squashes the output": """
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    pre = x @ weight_ih.T + y_prev @ weight_yh.T + bias_h
    h = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
    return h, torch.tanh(h @ weight_hy.T + bias_y)
""",
    "missing bias_h": """
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    pre = x @ weight_ih.T + y_prev @ weight_yh.T
    h = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
    return h, h @ weight_hy.T + bias_y
""",
    "always tanh": """
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    h = torch.tanh(x @ weight_ih.T + y_prev @ weight_yh.T + bias_h)
    return h, h @ weight_hy.T + bias_y
""",
}

# Assignment 2 is the worked example: every variant also goes through the real nbgrader.
ROUNDTRIP_ALL_VARIANTS = True

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = {
    "rnn_cell_step": RNN_CELL_STEP,
    "rnn_forward": RNN_FORWARD,
    "bidirectional_rnn_forward": BIDIRECTIONAL,
    "jordan_step": JORDAN_STEP,
}

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
