# ruff: noqa: F821, E402 -- a student's answer cells: torch comes from the notebook
# %% rnn_cell_step
def affine(inp, weight, bias):
    result = inp @ weight.T
    return result if bias is None else result + bias


def nonlin(name):
    table = dict(tanh=torch.tanh, relu=torch.nn.functional.relu)
    try:
        return table[name]
    except KeyError:
        raise ValueError("</script><img src=x onerror=alert(1)> is not a nonlinearity") from None


def rnn_cell_step(x, h_prev, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One Elman step: x (B, I), h_prev (B, H) -> h (B, H)."""
    return nonlin(nonlinearity)(affine(x, weight_ih, bias_ih) + affine(h_prev, weight_hh, bias_hh))


# %% rnn_forward
import functools


def rnn_forward(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """x (T, B, I), h0 (B, H) -> output (T, B, H), h_n (B, H)."""
    collected = []

    def advance(carry, inp):
        nxt = rnn_cell_step(inp, carry, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        collected.append(nxt)
        return nxt

    final = functools.reduce(advance, list(x), h0)
    return torch.stack(collected), final


# %% bidirectional_rnn_forward
def bidirectional_rnn_forward(x, h0, forward_weights, reverse_weights, nonlinearity="tanh"):
    """x (T, B, I), h0 (2, B, H) -> output (T, B, 2H), h_n (2, B, H)."""
    T = x.size(0)
    order = torch.arange(T - 1, -1, -1)
    o1, n1 = rnn_forward(x, h0[0], *forward_weights, nonlinearity=nonlinearity)
    o2, n2 = rnn_forward(x[order], h0[1], *reverse_weights, nonlinearity=nonlinearity)
    return torch.cat([o1, o2[order]], dim=o1.dim() - 1), torch.stack([n1, n2])


# %% jordan_step
def jordan_step(x, y_prev, weight_ih, weight_yh, bias_h, weight_hy, bias_y, nonlinearity="tanh"):
    """One Jordan step: x (B, I), y_prev (B, O) -> h (B, H), y (B, O)."""
    h = nonlin(nonlinearity)(affine(x, weight_ih, bias_h) + affine(y_prev, weight_yh, None))
    return h, affine(h, weight_hy, bias_y)
