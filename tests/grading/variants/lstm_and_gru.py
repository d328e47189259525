"""Known-wrong answers for assignment 4: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
The mistakes are the plausible ones: the gate blocks in the wrong order, a gate on the wrong
term, a missing tanh, b_hn outside the reset product, z and 1 - z swapped, a peephole on the
wrong cell, an off-by-one in time, the wrong final state.
"""

LSTM_CELL_STEP = {
    "gate order i, g, f, o": """
def lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h_prev, c_prev = state
    z = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    z_i, z_g, z_f, z_o = z.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
    c = f * c_prev + i * g
    return o * torch.tanh(c), c
""",
    "gate order f, i, g, o": """
def lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h_prev, c_prev = state
    z = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    z_f, z_i, z_g, z_o = z.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
    c = f * c_prev + i * g
    return o * torch.tanh(c), c
""",
    "forget gate applied to the new candidate": """
def lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h_prev, c_prev = state
    z = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
    c = c_prev + f * g
    return o * torch.tanh(c), c
""",
    "tanh missing on c in h": """
def lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h_prev, c_prev = state
    z = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
    c = f * c_prev + i * g
    return o * c, c
""",
    "sigmoid on the candidate": """
def lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h_prev, c_prev = state
    z = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    i, f, g, o = torch.sigmoid(z).chunk(4, dim=-1)
    c = f * c_prev + i * g
    return o * torch.tanh(c), c
""",
    "missing bias_hh": """
def lstm_cell_step(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h_prev, c_prev = state
    z = x @ weight_ih.T + h_prev @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
    c = f * c_prev + i * g
    return o * torch.tanh(c), c
""",
}

GRU_CELL_STEP = {
    "b_hn outside the reset product": """
def gru_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    x_r, x_z, x_n = (x @ weight_ih.T + (0 if bias_ih is None else bias_ih)).chunk(3, dim=-1)
    h_r, h_z, h_n = (h_prev @ weight_hh.T).chunk(3, dim=-1)
    b_r, b_z, b_n = (0, 0, 0) if bias_hh is None else bias_hh.chunk(3)
    r = torch.sigmoid(x_r + h_r + b_r)
    z = torch.sigmoid(x_z + h_z + b_z)
    n = torch.tanh(x_n + r * h_n + b_n)
    return (1 - z) * n + z * h_prev
""",
    "z and 1 - z swapped": """
def gru_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    x_r, x_z, x_n = (x @ weight_ih.T + (0 if bias_ih is None else bias_ih)).chunk(3, dim=-1)
    h_r, h_z, h_n = (h_prev @ weight_hh.T + (0 if bias_hh is None else bias_hh)).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return z * n + (1 - z) * h_prev
""",
    "reset applied to h_prev before the product (Cho et al.)": """
def gru_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    x_r, x_z, x_n = (x @ weight_ih.T + (0 if bias_ih is None else bias_ih)).chunk(3, dim=-1)
    w_hr, w_hz, w_hn = weight_hh.chunk(3)
    b_r, b_z, b_n = (0, 0, 0) if bias_hh is None else bias_hh.chunk(3)
    r = torch.sigmoid(x_r + h_prev @ w_hr.T + b_r)
    z = torch.sigmoid(x_z + h_prev @ w_hz.T + b_z)
    n = torch.tanh(x_n + (r * h_prev) @ w_hn.T + b_n)
    return (1 - z) * n + z * h_prev
""",
    "gate order z, r, n": """
def gru_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    x_z, x_r, x_n = (x @ weight_ih.T + (0 if bias_ih is None else bias_ih)).chunk(3, dim=-1)
    h_z, h_r, h_n = (h_prev @ weight_hh.T + (0 if bias_hh is None else bias_hh)).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h_prev
""",
}

LSTM_FORWARD = {
    "off by one: stores the previous state": """
def lstm_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    outputs = []
    for x_t in x:
        outputs.append(h)
        h, c = lstm_cell_step(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)
    return torch.stack(outputs), (h, c)
""",
    "c_n is the initial cell state": """
def lstm_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    outputs = []
    for x_t in x:
        h, c_next = lstm_cell_step(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)
        c = c_next
        outputs.append(h)
    return torch.stack(outputs), (h, state[1])
""",
    "the cell state is not carried (c0 at every step)": """
def lstm_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    outputs = []
    for x_t in x:
        h, c = lstm_cell_step(x_t, (h, state[1]), weight_ih, weight_hh, bias_ih, bias_hh)
        outputs.append(h)
    return torch.stack(outputs), (h, c)
""",
    "returns the cell states as output": """
def lstm_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    outputs = []
    for x_t in x:
        h, c = lstm_cell_step(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)
        outputs.append(c)
    return torch.stack(outputs), (h, c)
""",
    "reversed time": """
def lstm_forward(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    outputs = []
    for x_t in x.flip(0):
        h, c = lstm_cell_step(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)
        outputs.append(h)
    return torch.stack(outputs), (h, c)
""",
}

PEEPHOLE_LSTM_STEP = {
    "output peephole on c_{t-1} instead of c_t": """
def peephole_lstm_step(x, state, weight_ih, weight_hh, weight_peephole, bias=None):
    h_prev, c_prev = state
    w_ci, w_cf, w_co = weight_peephole
    z = x @ weight_ih.T + h_prev @ weight_hh.T + (0 if bias is None else bias)
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i = torch.sigmoid(z_i + w_ci * c_prev)
    f = torch.sigmoid(z_f + w_cf * c_prev)
    o = torch.sigmoid(z_o + w_co * c_prev)
    c = f * c_prev + i * torch.tanh(z_g)
    return o * torch.tanh(c), c
""",
    "peephole rows of i and f swapped": """
def peephole_lstm_step(x, state, weight_ih, weight_hh, weight_peephole, bias=None):
    h_prev, c_prev = state
    w_cf, w_ci, w_co = weight_peephole
    z = x @ weight_ih.T + h_prev @ weight_hh.T + (0 if bias is None else bias)
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i = torch.sigmoid(z_i + w_ci * c_prev)
    f = torch.sigmoid(z_f + w_cf * c_prev)
    c = f * c_prev + i * torch.tanh(z_g)
    o = torch.sigmoid(z_o + w_co * c)
    return o * torch.tanh(c), c
""",
    "no peephole on the output gate": """
def peephole_lstm_step(x, state, weight_ih, weight_hh, weight_peephole, bias=None):
    h_prev, c_prev = state
    w_ci, w_cf, w_co = weight_peephole
    z = x @ weight_ih.T + h_prev @ weight_hh.T + (0 if bias is None else bias)
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i = torch.sigmoid(z_i + w_ci * c_prev)
    f = torch.sigmoid(z_f + w_cf * c_prev)
    c = f * c_prev + i * torch.tanh(z_g)
    o = torch.sigmoid(z_o)
    return o * torch.tanh(c), c
""",
    "peephole weights multiply h_{t-1} instead of c_{t-1}": """
def peephole_lstm_step(x, state, weight_ih, weight_hh, weight_peephole, bias=None):
    h_prev, c_prev = state
    w_ci, w_cf, w_co = weight_peephole
    z = x @ weight_ih.T + h_prev @ weight_hh.T + (0 if bias is None else bias)
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    i = torch.sigmoid(z_i + w_ci * h_prev)
    f = torch.sigmoid(z_f + w_cf * h_prev)
    c = f * c_prev + i * torch.tanh(z_g)
    o = torch.sigmoid(z_o + w_co * c)
    return o * torch.tanh(c), c
""",
}

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = {
    "lstm_cell_step": LSTM_CELL_STEP,
    "gru_cell_step": GRU_CELL_STEP,
    "lstm_forward": LSTM_FORWARD,
    "peephole_lstm_step": PEEPHOLE_LSTM_STEP,
}

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
