# ruff: noqa: F821, E402 -- a student's answer cells: torch comes from the notebook
# %% rnn_cell_step
def _act(values, kind):
    if kind == "tanh":
        return values.tanh()
    elif kind == "relu":
        return values.clamp(min=0)
    raise ValueError(f"bad nonlinearity: {kind}")


def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One Elman step: x (B, I), h_prev (B, H) -> h (B, H)."""
    a = x.mm(weight_ih.t())
    a = a + h_prev.mm(weight_hh.t())
    a = a + (0 if bias_ih is None else bias_ih) + (0 if bias_hh is None else bias_hh)
    return _act(a, nonlinearity)


# %% rnn_forward
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """x (T, B, I), h0 (B, H) -> output (T, B, H), h_n (B, H)."""
    outs = []
    state = h0
    i = 0
    while i < len(x):
        state = rnn_cell_step(x[i], state, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        outs = outs + [state]
        i += 1
    return torch.stack(outs, dim=0), state


# %% bidirectional_rnn_forward
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    """x (T, B, I), h0 (2, B, H) -> output (T, B, 2H), h_n (2, B, H)."""
    w_ih_f, w_hh_f, b_ih_f, b_hh_f = forward_weights
    w_ih_r, w_hh_r, b_ih_r, b_hh_r = reverse_weights
    left, h_left = rnn_forward(x, h0[0], w_ih_f, w_hh_f, b_ih_f, b_hh_f, nonlinearity)
    right, h_right = rnn_forward(
        torch.flip(x, [0]), h0[1], w_ih_r, w_hh_r, b_ih_r, b_hh_r, nonlinearity
    )
    right = torch.flip(right, [0])
    return torch.concat([left, right], dim=2), torch.stack([h_left, h_right], dim=0)


# %% jordan_step
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    """One Jordan step: x (B, I), y_prev (B, O) -> h (B, H), y (B, O)."""
    h = _act(x.mm(weight_ih.t()) + y_prev.mm(weight_yh.t()) + bias_h, nonlinearity)
    y = h.mm(weight_hy.t()) + bias_y
    return h, y
