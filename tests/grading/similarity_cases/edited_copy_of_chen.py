# ruff: noqa: F821, E402 -- a student's answer cells: torch comes from the notebook
# %% rnn_cell_step
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    # planted: honest_chen's code, renamed and lightly edited, with jordan_step rewritten
    z = torch.einsum("bi,hi->bh", x, weight_ih) + torch.einsum("bj,hj->bh", h_prev, weight_hh)
    if bias_hh is not None:
        z += bias_hh.unsqueeze(0)
    if bias_ih is not None:
        z += bias_ih.unsqueeze(0)
    match nonlinearity:
        case "tanh":
            return torch.tanh(z)
        case "relu":
            return torch.where(z > 0, z, torch.zeros_like(z))
        case _:
            raise ValueError(nonlinearity)


# %% rnn_forward
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    memory = [h0]
    for inp in x.unbind(0):
        nxt = rnn_cell_step(inp, memory[-1], weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        memory.append(nxt)
    stacked = torch.stack(memory[1:])
    return stacked, stacked[-1]


# %% bidirectional_rnn_forward
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    both = []
    for k, params in enumerate([forward_weights, reverse_weights]):
        seq_in = x if k == 0 else x.flip(dims=(0,))
        seq_out, final = rnn_forward(seq_in, h0[k], *params, nonlinearity=nonlinearity)
        print("direction", k)
        both.append((seq_out if k == 0 else seq_out.flip(dims=(0,)), final))
    return torch.cat([pair[0] for pair in both], -1), torch.stack([pair[1] for pair in both])


# %% jordan_step
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    joint = torch.cat([x, y_prev], dim=1) @ torch.cat([weight_ih, weight_yh], dim=1).T + bias_h
    h_new = joint.tanh() if nonlinearity == "tanh" else joint.relu()
    return h_new, torch.addmm(bias_y, h_new, weight_hy.T)
