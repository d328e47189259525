# ruff: noqa: F821, E402 -- a student's answer cells: torch comes from the notebook
# %% rnn_cell_step
# planted copy of honest_ana: every local name changed, comments added
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Elman cell."""
    funcs = {"tanh": torch.tanh, "relu": torch.relu}  # the two allowed activations
    if nonlinearity not in funcs:
        raise ValueError("unknown nonlinearity " + str(nonlinearity))
    # input part plus recurrent part
    acc = torch.matmul(x, weight_ih.t()) + torch.matmul(h_prev, weight_hh.t())
    for bb in (bias_ih, bias_hh):
        if bb is not None:
            acc += bb  # add the bias
    return funcs[nonlinearity](acc)


# %% rnn_forward
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Run the cell over time."""
    length = x.shape[0]  # T
    result = torch.empty(length, h0.shape[0], h0.shape[1], dtype=h0.dtype)
    state = h0
    for step in range(length):
        # one step
        state = rnn_cell_step(x[step], state, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        result[step] = state
    return result, state


# %% bidirectional_rnn_forward
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    rev = torch.stack([x[j] for j in reversed(range(len(x)))])  # reversed input
    out_a, last_a = rnn_forward(x, h0[0], *forward_weights, nonlinearity=nonlinearity)
    out_b, last_b = rnn_forward(rev, h0[1], *reverse_weights, nonlinearity=nonlinearity)
    out_b_fixed = torch.stack([out_b[j] for j in reversed(range(len(out_b)))])
    return torch.cat((out_a, out_b_fixed), 2), torch.stack((last_a, last_b))


# %% jordan_step
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    pre_act = torch.matmul(x, weight_ih.t()) + torch.matmul(y_prev, weight_yh.t()) + bias_h
    if nonlinearity == "relu":
        hh = torch.relu(pre_act)
    else:
        hh = torch.tanh(pre_act)
    return hh, torch.matmul(hh, weight_hy.t()) + bias_y
