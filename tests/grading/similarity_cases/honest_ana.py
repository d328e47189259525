# ruff: noqa: F821, E402 -- a student's answer cells: torch comes from the notebook
# %% rnn_cell_step
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One Elman step: x (B, I), h_prev (B, H) -> h (B, H)."""
    activations = {"tanh": torch.tanh, "relu": torch.relu}
    if nonlinearity not in activations:
        raise ValueError("unknown nonlinearity " + str(nonlinearity))
    total = torch.matmul(x, weight_ih.t()) + torch.matmul(h_prev, weight_hh.t())
    for b in (bias_ih, bias_hh):
        if b is not None:
            total += b
    return activations[nonlinearity](total)


# %% rnn_forward
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """x (T, B, I), h0 (B, H) -> output (T, B, H), h_n (B, H)."""
    steps = x.shape[0]
    out = torch.empty(steps, h0.shape[0], h0.shape[1], dtype=h0.dtype)
    h = h0
    for t in range(steps):
        h = rnn_cell_step(x[t], h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        out[t] = h
    return out, h


# %% bidirectional_rnn_forward
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    """x (T, B, I), h0 (2, B, H) -> output (T, B, 2H), h_n (2, B, H)."""
    backwards = torch.stack([x[i] for i in reversed(range(len(x)))])
    fwd_out, fwd_last = rnn_forward(x, h0[0], *forward_weights, nonlinearity=nonlinearity)
    bwd_out, bwd_last = rnn_forward(backwards, h0[1], *reverse_weights, nonlinearity=nonlinearity)
    bwd_aligned = torch.stack([bwd_out[i] for i in reversed(range(len(bwd_out)))])
    return torch.cat((fwd_out, bwd_aligned), 2), torch.stack((fwd_last, bwd_last))


# %% jordan_step
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    """One Jordan step: x (B, I), y_prev (B, O) -> h (B, H), y (B, O)."""
    z = torch.matmul(x, weight_ih.t()) + torch.matmul(y_prev, weight_yh.t()) + bias_h
    if nonlinearity == "relu":
        hidden = torch.relu(z)
    else:
        hidden = torch.tanh(z)
    return hidden, torch.matmul(hidden, weight_hy.t()) + bias_y
