# ruff: noqa: F821, E402 -- a student's answer cells: torch comes from the notebook
# %% rnn_cell_step
def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One Elman step: x (B, I), h_prev (B, H) -> h (B, H)."""
    # compose the helpers below
    return pick(nonlinearity)(linear(x, weight_ih, bias_ih) + linear(h_prev, weight_hh, bias_hh))


# %% rnn_forward
import functools


def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """x (T, B, I), h0 (B, H) -> output (T, B, H), h_n (B, H)."""
    seen = []

    def step(prev, xt):
        new = rnn_cell_step(xt, prev, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        seen.append(new)  # keep every state
        return new

    last = functools.reduce(step, list(x), h0)
    return torch.stack(seen), last


# %% bidirectional_rnn_forward
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    """x (T, B, I), h0 (2, B, H) -> output (T, B, 2H), h_n (2, B, H)."""
    n = x.size(0)
    idx = torch.arange(n - 1, -1, -1)  # n-1, ..., 0
    fo, fh = rnn_forward(x, h0[0], *forward_weights, nonlinearity=nonlinearity)
    bo, bh = rnn_forward(x[idx], h0[1], *reverse_weights, nonlinearity=nonlinearity)
    return torch.cat([fo, bo[idx]], dim=fo.dim() - 1), torch.stack([fh, bh])


# %% jordan_step
def pick(kind):
    lookup = dict(tanh=torch.tanh, relu=torch.nn.functional.relu)
    try:
        return lookup[kind]
    except KeyError:
        raise ValueError("</script><img src=x onerror=alert(1)> is not a nonlinearity") from None


def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    """One Jordan step: x (B, I), y_prev (B, O) -> h (B, H), y (B, O)."""
    hidden = pick(nonlinearity)(linear(x, weight_ih, bias_h) + linear(y_prev, weight_yh, None))
    return hidden, linear(hidden, weight_hy, bias_y)


def linear(a, w, b):
    # a @ w.T (+ b)
    r = a @ w.T
    return r if b is None else r + b
