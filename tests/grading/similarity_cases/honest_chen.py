# ruff: noqa: F821, E402 -- a student's answer cells: torch comes from the notebook
# %% rnn_cell_step
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One Elman step: x (B, I), h_prev (B, H) -> h (B, H)."""
    s = torch.einsum("bi,hi->bh", x, weight_ih) + torch.einsum("bj,hj->bh", h_prev, weight_hh)
    if bias_ih is not None:
        s = s + bias_ih.unsqueeze(0)
    if bias_hh is not None:
        s = s + bias_hh.unsqueeze(0)
    match nonlinearity:
        case "tanh":
            return torch.tanh(s)
        case "relu":
            return torch.where(s > 0, s, torch.zeros_like(s))
        case _:
            raise ValueError(nonlinearity)


# %% rnn_forward
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """x (T, B, I), h0 (B, H) -> output (T, B, H), h_n (B, H)."""
    hs = [h0]
    for frame in x.unbind(0):
        hs.append(
            rnn_cell_step(frame, hs[-1], weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        )
    seq = torch.stack(hs[1:])
    return seq, seq[-1]


# %% bidirectional_rnn_forward
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    """x (T, B, I), h0 (2, B, H) -> output (T, B, 2H), h_n (2, B, H)."""
    results = []
    for direction, weights in enumerate([forward_weights, reverse_weights]):
        inputs = x if direction == 0 else x.flip(dims=(0,))
        seq, last = rnn_forward(inputs, h0[direction], *weights, nonlinearity=nonlinearity)
        results.append((seq if direction == 0 else seq.flip(dims=(0,)), last))
    return torch.cat([r[0] for r in results], -1), torch.stack([r[1] for r in results])


# %% jordan_step
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    """One Jordan step: x (B, I), y_prev (B, O) -> h (B, H), y (B, O)."""
    f = torch.tanh if nonlinearity == "tanh" else torch.relu
    hidden = f(
        torch.einsum("bi,hi->bh", x, weight_ih)
        + torch.einsum("bo,ho->bh", y_prev, weight_yh)
        + bias_h
    )
    output = torch.einsum("bh,oh->bo", hidden, weight_hy) + bias_y
    return hidden, output
