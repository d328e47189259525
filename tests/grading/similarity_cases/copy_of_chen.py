# ruff: noqa: F821, E402 -- a student's answer cells: torch comes from the notebook
# %% rnn_cell_step
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    # my own implementation with einsum
    pre = torch.einsum("bi,hi->bh", x, weight_ih) + torch.einsum("bj,hj->bh", h_prev, weight_hh)
    print(pre.shape)  # debugging
    if bias_ih is not None:
        pre = pre + bias_ih.unsqueeze(0)  # broadcast over the batch
    if bias_hh is not None:
        pre = pre + bias_hh.unsqueeze(0)
    match nonlinearity:
        case "tanh":
            return torch.tanh(pre)
        case "relu":
            return torch.where(pre > 0, pre, torch.zeros_like(pre))
        case _:
            raise ValueError(nonlinearity)


# %% rnn_forward
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    states = [h0]  # states[0] is the initial state
    for xt in x.unbind(0):
        states.append(
            rnn_cell_step(xt, states[-1], weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        )
        print("len", len(states))
    y = torch.stack(states[1:])
    return y, y[-1]


# %% bidirectional_rnn_forward
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    # loop over the two directions
    res = []
    for d, ws in enumerate([forward_weights, reverse_weights]):
        xs = x if d == 0 else x.flip(dims=(0,))
        y, hn = rnn_forward(xs, h0[d], *ws, nonlinearity=nonlinearity)
        print(d, y.shape, hn.shape)
        res.append((y if d == 0 else y.flip(dims=(0,)), hn))
    return torch.cat([q[0] for q in res], -1), torch.stack([q[1] for q in res])


# %% jordan_step
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    act = torch.tanh if nonlinearity == "tanh" else torch.relu  # pick the nonlinearity
    hh = act(
        torch.einsum("bi,hi->bh", x, weight_ih)
        + torch.einsum("bo,ho->bh", y_prev, weight_yh)
        + bias_h
    )
    yy = torch.einsum("bh,oh->bo", hh, weight_hy) + bias_y
    print("jordan", hh.shape, yy.shape)
    return hh, yy
