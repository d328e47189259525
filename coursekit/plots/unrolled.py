"""An RNN in time (chapters 2 and 3): folded, unrolled, the four architectures, BPTT(k1, k2)."""

from __future__ import annotations

from matplotlib import patches as mpatches

__all__ = [
    "RNN_ARCHITECTURES",
    "draw_folded_rnn",
    "draw_rnn_architectures",
    "draw_truncated_bptt",
    "draw_unrolled_rnn",
]

# ---------------------------------------------------------------------------------------------
# An RNN in time (chapter 2). Each step is a column DX apart: its input x below, its state h in
# the middle, its output y on top; the arrows of one colour are one weight matrix.

_RNN_FILL = {"x": "#cfe2f3", "h": "#fce5cd", "y": "#d9ead3", "s": "#ead1dc", "h0": "white"}
_RNN_WEIGHT = {"W_ih": "#3d85c6", "W_hh": "#e69138", "V": "#6aa84f", "feedback": "#999999"}
_DX = 1.6  # horizontal distance between time steps
_RNN_YLIM = (-0.45, 2.45)


def _rnn_box(ax, x: float, y: float, text: str, fill: str) -> None:
    patch = mpatches.FancyBboxPatch(
        (x - 0.4, y - 0.27), 0.8, 0.54, boxstyle="round,pad=0.03", fc=fill, ec="black"
    )
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=11)


def _rnn_arrow(ax, start, end, color, label=None, label_at=None, **style) -> None:
    # the arrow ax.annotate would draw, as a patch of its own (the tests count them)
    ax.add_patch(
        mpatches.FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=10, color=color, lw=1.8, **style
        )
    )
    if label:
        ax.text(*label_at, label, color=color, fontsize=8, ha="center", va="center")


def draw_folded_rnn(ax=None):
    """Eq. (2.1) drawn as a loop: x_t into h_t (W_ih), h_t back into itself (W_hh), h_t out to
    y_t (V). Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.6, 2.3))
    _rnn_box(ax, 0, 0, "$x_t$", _RNN_FILL["x"])
    _rnn_box(ax, 0, 1, "$h_t$", _RNN_FILL["h"])
    _rnn_box(ax, 0, 2, "$y_t$", _RNN_FILL["y"])
    _rnn_arrow(ax, (0, 0.3), (0, 0.7), _RNN_WEIGHT["W_ih"], "$W_{ih}$", (0.36, 0.5))
    _rnn_arrow(ax, (0, 1.3), (0, 1.7), _RNN_WEIGHT["V"], "$V$", (0.25, 1.5))
    _rnn_arrow(  # out of h_t's right side and back
        ax,
        (0.43, 1.12),
        (0.43, 0.88),
        _RNN_WEIGHT["W_hh"],
        "$W_{hh}$",
        (1.05, 1.0),
        connectionstyle="arc,angleA=0,angleB=0,armA=20,armB=20,rad=5",
    )
    ax.set(xlim=(-0.6, 1.4), ylim=_RNN_YLIM, aspect="equal")
    ax.set_title("folded: a loop", fontsize=11)
    ax.axis("off")
    return ax.figure


def draw_unrolled_rnn(
    steps: int = 5,
    ax=None,
    *,
    states: list[str] | None = None,
    inputs: dict[int, str] | None = None,
    outputs: dict[int, str] | None = None,
    weight_labels: bool = True,
    feedback: bool = False,
    width: int | None = None,
    title: str | None = "unrolled in time: the same $W_{ih}$, $W_{hh}$ and $V$ at every step",
):
    """An RNN unrolled in time (§2.4): h_0, then one copy of the cell per step. Returns the
    figure.

    By default ``steps`` states h_1..h_T, each with an input x_t and an output y_t. ``states``
    (TeX labels of steps 1..T, without $; one starting with "s" is drawn pink, a decoder's
    state), ``inputs`` and ``outputs`` ({step: label}, step 0 being h_0) draw any other
    architecture. ``weight_labels`` writes W_ih, W_hh and V beside the arrows; ``feedback``
    adds dashed arrows from each output into the next step (a generator reading its own
    output); ``width`` reserves room for that many steps, so that panels line up.
    """
    import matplotlib.pyplot as plt

    if states is None:
        states = [f"h_{t}" for t in range(1, steps + 1)]
    if inputs is None:
        inputs = {t: f"x_{t}" for t in range(1, len(states) + 1)}
    if outputs is None:
        outputs = {t: f"y_{t}" for t in range(1, len(states) + 1)}
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 2.3))
    _rnn_box(ax, 0, 1, "$h_0$", _RNN_FILL["h0"])
    for t in range(len(states) + 1):
        x = t * _DX
        if t > 0:
            fill = _RNN_FILL["s" if states[t - 1].startswith("s") else "h"]
            _rnn_box(ax, x, 1, f"${states[t - 1]}$", fill)
            _rnn_arrow(
                ax,
                (x - _DX + 0.43, 1),
                (x - 0.43, 1),
                _RNN_WEIGHT["W_hh"],
                weight_labels and "$W_{hh}$",
                (x - 0.5 * _DX, 1.22),
            )
        if t in inputs:
            _rnn_box(ax, x, 0, f"${inputs[t]}$", _RNN_FILL["x"])
            _rnn_arrow(
                ax,
                (x, 0.3),
                (x, 0.7),
                _RNN_WEIGHT["W_ih"],
                weight_labels and "$W_{ih}$",
                (x + 0.36, 0.5),
            )
        if t in outputs:
            _rnn_box(ax, x, 2, f"${outputs[t]}$", _RNN_FILL["y"])
            _rnn_arrow(
                ax,
                (x, 1.3),
                (x, 1.7),
                _RNN_WEIGHT["V"],
                weight_labels and "$V$",
                (x + 0.25, 1.5),
            )
            if feedback and t < len(states):
                _rnn_arrow(
                    ax,
                    (x + 0.43, 1.9),
                    (x + _DX - 0.2, 1.3),
                    _RNN_WEIGHT["feedback"],
                    linestyle="--",
                )
    ax.set(xlim=(-0.6, (width or len(states)) * _DX + 0.6), ylim=_RNN_YLIM, aspect="equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    return ax.figure


# The four shapes of §2.5: (title, states, inputs, outputs, feedback), as draw_unrolled_rnn
# takes them. A generator (one-to-many, the decoder) feeds each output back in.
_FOUR = range(1, 5)
RNN_ARCHITECTURES = (
    (
        "many-to-one: the sentiment of a sentence",
        [f"h_{t}" for t in _FOUR],
        {t: f"x_{t}" for t in _FOUR},
        {4: "y"},
        False,
    ),
    (
        "one-to-many: a caption for an image",
        [f"h_{t}" for t in _FOUR],
        {0: "x"},
        {t: f"y_{t}" for t in _FOUR},
        True,
    ),
    (
        "many-to-many, aligned: tagging, language models",
        [f"h_{t}" for t in _FOUR],
        {t: f"x_{t}" for t in _FOUR},
        {t: f"y_{t}" for t in _FOUR},
        False,
    ),
    (
        "many-to-many, unaligned: encoder (orange), decoder (pink)",
        ["h_1", "h_2", "h_3", "s_1", "s_2"],
        {1: "x_1", 2: "x_2", 3: "x_3"},
        {4: "y_1", 5: "y_2"},
        True,
    ),
)


def draw_rnn_architectures():
    """The four RNN architectures of §2.5, one unrolled network per row, in
    :data:`RNN_ARCHITECTURES`' order (many-to-one, one-to-many, many-to-many aligned and
    unaligned). Returns the figure, 7 in wide."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(RNN_ARCHITECTURES), 1, figsize=(7.0, 9.0))
    for ax, (title, states, inputs, outputs, feedback) in zip(axes, RNN_ARCHITECTURES, strict=True):
        draw_unrolled_rnn(
            ax=ax,
            states=states,
            inputs=inputs,
            outputs=outputs,
            weight_labels=False,
            feedback=feedback,
            width=5,
            title=title,
        )
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Truncated BPTT (chapter 3)

_TBPTT_FILL = {"through": "#fce5cd", "trained": "#e69138"}


def draw_truncated_bptt(k1: int = 3, k2: int = 5, steps: int = 12, ax=None):
    """The schedule of BPTT(k1, k2), Eq. (3.8), on a stream of ``steps`` steps: one row per
    update, every k1 steps. A row's dark bar is the k1 losses it trains on, its light bar the
    earlier steps (k2 - k1 of them) the gradient is propagated back through. Returns the
    figure."""
    import matplotlib.pyplot as plt

    if not 1 <= k1 <= k2:
        raise ValueError(f"BPTT(k1, k2) needs 1 <= k1 <= k2; got k1={k1}, k2={k2}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 2.6))
    for j, done in enumerate(range(0, steps, k1)):
        end, cut = min(done + k1, steps), max(0, done + k1 - k2)
        bar = {"edgecolor": "black", "height": 0.6}
        ax.barh(j, done - cut, left=cut, color=_TBPTT_FILL["through"], **bar)
        ax.barh(j, end - done, left=done, color=_TBPTT_FILL["trained"], **bar)
        ax.text(
            steps + 0.2,
            j,
            f"update {j}: losses {done}..{end - 1}, gradient back to step {cut}",
            va="center",
            fontsize=8,
        )
    ax.set(xlim=(0, steps + 8), xticks=range(steps + 1), yticks=[], xlabel="step of the stream")
    ax.invert_yaxis()
    legend = [
        mpatches.Patch(fc=_TBPTT_FILL["through"], ec="black", label="backpropagated through only"),
        mpatches.Patch(fc=_TBPTT_FILL["trained"], ec="black", label="losses trained on"),
    ]
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=8, ncol=2)
    ax.set_title(
        f"BPTT($k_1 = {k1}$, $k_2 = {k2}$): one gradient step every {k1} steps, {k2} steps deep",
        fontsize=11,
    )
    return ax.figure
