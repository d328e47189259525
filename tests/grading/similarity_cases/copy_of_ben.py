# ruff: noqa: F821, E402 -- a student's answer cells: torch comes from the notebook
# %% rnn_cell_step
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One Elman step: x (B, I), h_prev (B, H) -> h (B, H)."""
    print("x", x.shape, "h", h_prev.shape)
    pre = x.mm(weight_ih.t())
    pre = pre + h_prev.mm(weight_hh.t())
    print("pre", pre)
    pre = pre + (0 if bias_ih is None else bias_ih) + (0 if bias_hh is None else bias_hh)
    return activate(pre, nonlinearity)


# %% rnn_forward
def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """x (T, B, I), h0 (B, H) -> output (T, B, H), h_n (B, H)."""
    hist = []
    cur = h0
    n = 0
    while n < len(x):
        cur = rnn_cell_step(x[n], cur, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        print(f"step {n}: {cur.norm()}")
        hist = hist + [cur]
        n += 1
    return torch.stack(hist, dim=0), cur


# %% bidirectional_rnn_forward
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    """x (T, B, I), h0 (2, B, H) -> output (T, B, 2H), h_n (2, B, H)."""
    a1, a2, a3, a4 = forward_weights
    c1, c2, c3, c4 = reverse_weights
    print("forward")
    fw, h_fw = rnn_forward(x, h0[0], a1, a2, a3, a4, nonlinearity)
    print("backward")
    bw, h_bw = rnn_forward(torch.flip(x, [0]), h0[1], c1, c2, c3, c4, nonlinearity)
    bw = torch.flip(bw, [0])
    return torch.concat([fw, bw], dim=2), torch.stack([h_fw, h_bw], dim=0)


# %% jordan_step
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    """One Jordan step: x (B, I), y_prev (B, O) -> h (B, H), y (B, O)."""
    hid = activate(x.mm(weight_ih.t()) + y_prev.mm(weight_yh.t()) + bias_h, nonlinearity)
    print(hid)
    out = hid.mm(weight_hy.t()) + bias_y
    return hid, out


def activate(t, how):
    if how == "tanh":
        return t.tanh()
    elif how == "relu":
        return t.clamp(min=0)
    raise ValueError(f"bad nonlinearity: {how}")
