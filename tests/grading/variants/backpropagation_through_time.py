"""Known-wrong answers for assignment 3: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
The mistakes are the plausible ones of BPTT: a transposed weight on the way back, an
off-by-one in time, the gradient not carried back through time, a forgotten input, and for
truncation a window that starts in the wrong place or trains on the wrong losses.
"""

ELMAN_BACKWARD = {
    "transposed weight_hh on the way back": """
def elman_backward(grad_output, grad_h_n, cache):
    x, h0, output = cache["x"], cache["h0"], cache["output"]
    weight_ih, weight_hh = cache["weight_ih"], cache["weight_hh"]
    derivative = 1 - output**2 if cache["nonlinearity"] == "tanh" else (output > 0).double()
    deltas = []
    g = torch.zeros_like(h0) if grad_h_n is None else grad_h_n
    for t in reversed(range(len(output))):
        delta = (g + grad_output[t]) * derivative[t]
        deltas.append(delta)
        g = delta @ weight_hh.T
    deltas = torch.stack(deltas[::-1])
    previous = torch.cat([h0.unsqueeze(0), output[:-1]])
    grad_bias = deltas.sum(dim=(0, 1))
    return {"x": deltas @ weight_ih, "h0": g,
            "weight_ih": torch.einsum("tbh,tbi->hi", deltas, x),
            "weight_hh": torch.einsum("tbh,tbk->hk", deltas, previous),
            "bias_ih": None if cache["bias_ih"] is None else grad_bias,
            "bias_hh": None if cache["bias_hh"] is None else grad_bias}
""",
    "f'(a_t) read off the previous state (off by one in time)": """
def elman_backward(grad_output, grad_h_n, cache):
    x, h0, output = cache["x"], cache["h0"], cache["output"]
    weight_ih, weight_hh = cache["weight_ih"], cache["weight_hh"]
    previous = torch.cat([h0.unsqueeze(0), output[:-1]])
    derivative = 1 - previous**2 if cache["nonlinearity"] == "tanh" else (previous > 0).double()
    deltas = []
    g = torch.zeros_like(h0) if grad_h_n is None else grad_h_n
    for t in reversed(range(len(output))):
        delta = (g + grad_output[t]) * derivative[t]
        deltas.append(delta)
        g = delta @ weight_hh
    deltas = torch.stack(deltas[::-1])
    grad_bias = deltas.sum(dim=(0, 1))
    return {"x": deltas @ weight_ih, "h0": g,
            "weight_ih": torch.einsum("tbh,tbi->hi", deltas, x),
            "weight_hh": torch.einsum("tbh,tbk->hk", deltas, previous),
            "bias_ih": None if cache["bias_ih"] is None else grad_bias,
            "bias_hh": None if cache["bias_hh"] is None else grad_bias}
""",
    "weight_hh gradient pairs delta_t with h_t instead of h_(t-1)": """
def elman_backward(grad_output, grad_h_n, cache):
    x, h0, output = cache["x"], cache["h0"], cache["output"]
    weight_ih, weight_hh = cache["weight_ih"], cache["weight_hh"]
    derivative = 1 - output**2 if cache["nonlinearity"] == "tanh" else (output > 0).double()
    deltas = []
    g = torch.zeros_like(h0) if grad_h_n is None else grad_h_n
    for t in reversed(range(len(output))):
        delta = (g + grad_output[t]) * derivative[t]
        deltas.append(delta)
        g = delta @ weight_hh
    deltas = torch.stack(deltas[::-1])
    grad_bias = deltas.sum(dim=(0, 1))
    return {"x": deltas @ weight_ih, "h0": g,
            "weight_ih": torch.einsum("tbh,tbi->hi", deltas, x),
            "weight_hh": torch.einsum("tbh,tbk->hk", deltas, output),
            "bias_ih": None if cache["bias_ih"] is None else grad_bias,
            "bias_hh": None if cache["bias_hh"] is None else grad_bias}
""",
    "the gradient is not carried back through time": """
def elman_backward(grad_output, grad_h_n, cache):
    x, h0, output = cache["x"], cache["h0"], cache["output"]
    weight_ih, weight_hh = cache["weight_ih"], cache["weight_hh"]
    derivative = 1 - output**2 if cache["nonlinearity"] == "tanh" else (output > 0).double()
    g_last = torch.zeros_like(h0) if grad_h_n is None else grad_h_n
    g = grad_output.clone()
    g[-1] = g[-1] + g_last
    deltas = g * derivative
    previous = torch.cat([h0.unsqueeze(0), output[:-1]])
    grad_bias = deltas.sum(dim=(0, 1))
    return {"x": deltas @ weight_ih, "h0": deltas[0] @ weight_hh,
            "weight_ih": torch.einsum("tbh,tbi->hi", deltas, x),
            "weight_hh": torch.einsum("tbh,tbk->hk", deltas, previous),
            "bias_ih": None if cache["bias_ih"] is None else grad_bias,
            "bias_hh": None if cache["bias_hh"] is None else grad_bias}
""",
    "ignores grad_h_n": """
def elman_backward(grad_output, grad_h_n, cache):
    x, h0, output = cache["x"], cache["h0"], cache["output"]
    weight_ih, weight_hh = cache["weight_ih"], cache["weight_hh"]
    derivative = 1 - output**2 if cache["nonlinearity"] == "tanh" else (output > 0).double()
    deltas = []
    g = torch.zeros_like(h0)
    for t in reversed(range(len(output))):
        delta = (g + grad_output[t]) * derivative[t]
        deltas.append(delta)
        g = delta @ weight_hh
    deltas = torch.stack(deltas[::-1])
    previous = torch.cat([h0.unsqueeze(0), output[:-1]])
    grad_bias = deltas.sum(dim=(0, 1))
    return {"x": deltas @ weight_ih, "h0": g,
            "weight_ih": torch.einsum("tbh,tbi->hi", deltas, x),
            "weight_hh": torch.einsum("tbh,tbk->hk", deltas, previous),
            "bias_ih": None if cache["bias_ih"] is None else grad_bias,
            "bias_hh": None if cache["bias_hh"] is None else grad_bias}
""",
    "always the tanh derivative": """
def elman_backward(grad_output, grad_h_n, cache):
    x, h0, output = cache["x"], cache["h0"], cache["output"]
    weight_ih, weight_hh = cache["weight_ih"], cache["weight_hh"]
    derivative = 1 - output**2
    deltas = []
    g = torch.zeros_like(h0) if grad_h_n is None else grad_h_n
    for t in reversed(range(len(output))):
        delta = (g + grad_output[t]) * derivative[t]
        deltas.append(delta)
        g = delta @ weight_hh
    deltas = torch.stack(deltas[::-1])
    previous = torch.cat([h0.unsqueeze(0), output[:-1]])
    grad_bias = deltas.sum(dim=(0, 1))
    return {"x": deltas @ weight_ih, "h0": g,
            "weight_ih": torch.einsum("tbh,tbi->hi", deltas, x),
            "weight_hh": torch.einsum("tbh,tbk->hk", deltas, previous),
            "bias_ih": None if cache["bias_ih"] is None else grad_bias,
            "bias_hh": None if cache["bias_hh"] is None else grad_bias}
""",
}


def _truncated(
    cut: str = "max(0, done + k1 - k2)", start: str = "states[cut]", first: str = "done"
) -> str:
    """The correct truncated_bptt_gradients with one piece replaced: where the window starts
    (``cut``), the state it starts from (``start``), the first step whose loss counts."""
    return f"""
def truncated_bptt_gradients(x, y, h0, weight_ih, weight_hh, bias_ih, bias_hh, weight_out,
                             bias_out, k1, k2, nonlinearity="tanh"):
    f = torch.tanh if nonlinearity == "tanh" else torch.relu

    def run(xs, h):
        hs = []
        for x_t in xs:
            pre = x_t @ weight_ih.T + h @ weight_hh.T
            if bias_ih is not None:
                pre = pre + bias_ih + bias_hh
            h = f(pre)
            hs.append(h)
        return torch.stack(hs)

    N = len(x)
    states = torch.cat([h0.unsqueeze(0), run(x, h0)])
    rows = []
    for done in range(0, N, k1):
        end = min(done + k1, N)
        cut = {cut}
        first = {first}
        window = run(x[cut:end], {start})
        cache = dict(x=x[cut:end], h0={start}, weight_ih=weight_ih, weight_hh=weight_hh,
                     bias_ih=bias_ih, bias_hh=bias_hh, nonlinearity=nonlinearity, output=window)
        trained = window[first - cut:]
        error = trained @ weight_out.T - y[first:end]
        if bias_out is not None:
            error = error + bias_out
        grad_output = torch.zeros_like(window)
        grad_output[first - cut:] = 2 * error @ weight_out
        grads = elman_backward(grad_output, None, cache)
        grads["weight_out"] = torch.einsum("tbo,tbh->oh", 2 * error, trained)
        grads["bias_out"] = None if bias_out is None else 2 * error.sum(dim=(0, 1))
        grads["loss"] = (error * error).sum()
        rows.append(grads)
    keys = ["loss", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_out", "bias_out"]
    return {{k: None if rows[0][k] is None else torch.stack([r[k] for r in rows]) for k in keys}}
"""


TRUNCATED_BPTT_GRADIENTS = {
    "backpropagates through k1 steps only (ignores k2)": _truncated(cut="done"),
    "no truncation: backpropagates to the start of the stream": _truncated(cut="0", start="h0"),
    "restarts every window from h0 instead of the true state": _truncated(start="h0"),
    "trains on the losses of the whole window, not the last k1 steps": _truncated(first="cut"),
    "the short last window ends k2 steps back from the end of the stream": _truncated(
        cut="max(0, end - k2)"
    ),
}

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = {
    "elman_backward": ELMAN_BACKWARD,
    "truncated_bptt_gradients": TRUNCATED_BPTT_GRADIENTS,
}

# Answers that try to get the marks without doing the work. Each must lose its function's
# points in the verdict (judge_notebook), whatever plain nbgrader makes of it.
CHEATS = {
    "calls the coursekit reference": (
        "elman_backward",
        """
from coursekit.bptt import elman_backward
""",
    ),
    "uses autograd instead of BPTT by hand": (
        "elman_backward",
        """
def elman_backward(grad_output, grad_h_n, cache):
    names = ["x", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    leaves = {k: cache[k].detach().requires_grad_() for k in names if cache[k] is not None}
    with torch.enable_grad():
        output, _ = elman_forward(**leaves, nonlinearity=cache["nonlinearity"])
        extra = 0 if grad_h_n is None else (output[-1] * grad_h_n).sum()
        grads = torch.autograd.grad((output * grad_output).sum() + extra, list(leaves.values()))
    result = dict.fromkeys(names)
    result.update(zip(leaves, grads))
    return result
""",
    ),
    "wrong answer that disables the checker": (
        "truncated_bptt_gradients",
        """
import coursekit.grading.checks as _checks
_checks.check_function = lambda *args, **kwargs: None

def truncated_bptt_gradients(x, y, h0, weight_ih, weight_hh, bias_ih, bias_hh, weight_out,
                             bias_out, k1, k2, nonlinearity="tanh"):
    return {}
""",
    ),
}

# Cheats that plain nbgrader (in-kernel checks) is shown to reward, and the plain reference call.
FOOLS_NBGRADER = ("wrong answer that disables the checker",)
CALLS_REFERENCE = "calls the coursekit reference"
