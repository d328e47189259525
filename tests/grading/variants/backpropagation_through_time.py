"""Known-wrong answers for assignment 3: each must lose the points of its function.

Every entry replaces one answer cell (by its nbgrader grade id) of the released notebook; the
other answer cells get the correct solution, so each variant is wrong in exactly one place.
Each variant is a mutation ``(label, old, new)`` of the solution's answer (see
``tests.grading.variants.mutations``). The mistakes are the plausible ones of BPTT: a
transposed weight on the way back, an off-by-one in time, the gradient not carried back
through time, a forgotten input, and for truncation a window that starts in the wrong place
or trains on the wrong losses.
"""

from tests.grading.variants import mutations

NAME = "03_backpropagation_through_time"

# grade id of the answer cell -> {label: replacement source}
WRONG_VARIANTS = mutations(
    NAME,
    {
        "elman_backward": [
            (
                "transposed weight_hh on the way back",
                "g = delta @ weight_hh",
                "g = delta @ weight_hh.T",
            ),
            (
                # both branches of f'(a_t), tanh and relu, read h_{t-1} instead of h_t
                "f'(a_t) read off the previous state (off by one in time)",
                '    if cache["nonlinearity"] == "tanh":\n'
                "        derivative = 1 - output * output  # f'(a_t) from h_t, (T, B, H)\n"
                "    else:\n"
                "        derivative = (output > 0).to(output.dtype)\n",
                "    before = torch.cat([h0.unsqueeze(0), output[:-1]])  # h_0 .. h_{T-1}\n"
                '    if cache["nonlinearity"] == "tanh":\n'
                "        derivative = 1 - before * before\n"
                "    else:\n"
                "        derivative = (before > 0).to(before.dtype)\n",
            ),
            (
                "weight_hh gradient pairs delta_t with h_t instead of h_(t-1)",
                '"tbh,tbk->hk", deltas, previous',
                '"tbh,tbk->hk", deltas, output',
            ),
            (
                # only grad_h_n (at the last step) is added to dL/dh_t; h_{t+1}'s share is dropped
                "the gradient is not carried back through time",
                "g = g + grad_output[t]",
                "g = grad_output[t] + (g if t == len(output) - 1 else 0)",
            ),
            (
                "ignores grad_h_n",
                "g = torch.zeros_like(h0) if grad_h_n is None else grad_h_n",
                "g = torch.zeros_like(h0)",
            ),
            (
                "always the tanh derivative",
                "derivative = (output > 0).to(output.dtype)",
                "derivative = 1 - output * output",
            ),
        ],
        "truncated_bptt_gradients": [
            ("backpropagates through k1 steps only (ignores k2)", "max(0, done + k1 - k2)", "done"),
            (
                "no truncation: backpropagates to the start of the stream",
                "max(0, done + k1 - k2)",
                "0",
            ),
            (
                # the window's states, and the state its backward pass starts from, from h0
                "restarts every window from h0 instead of the true state",
                "torch.stack(states[cut + 1 : end + 1])  # the window's states, from h_cut on\n"
                "        cache = {\n"
                '            "x": x[cut:end],\n'
                '            "h0": states[cut],\n',
                "elman_forward(x[cut:end], h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)[0]\n"
                "        cache = {\n"
                '            "x": x[cut:end],\n'
                '            "h0": h0,\n',
            ),
            (
                "trains on the losses of the whole window, not the last k1 steps",
                "        trained = window[done - cut :]",
                "        done = cut  # the first step whose loss counts\n"
                "        trained = window[done - cut :]",
            ),
            (
                "the short last window ends k2 steps back from the end of the stream",
                "max(0, done + k1 - k2)",
                "max(0, min(done + k1, len(x)) - k2)",
            ),
        ],
    },
)

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
