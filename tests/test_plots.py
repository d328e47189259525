"""coursekit.plots: Chinese text in figures is drawn with real glyphs, not empty boxes; the
diagrams of chapters 2-4 draw every part and fit the book's column; setup_chapter sets what it
documents."""

import warnings

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.colors  # noqa: E402
import matplotlib.figure  # noqa: E402
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from coursekit.plots import (  # noqa: E402
    RNN_ARCHITECTURES,
    draw_folded_rnn,
    draw_gru_cell,
    draw_highway_layer,
    draw_lstm_cell,
    draw_rnn_architectures,
    draw_truncated_bptt,
    draw_unrolled_rnn,
    setup_chapter,
    use_cjk_font,
)

CHINESE = "循环神经网络 长短期记忆 门控循环单元 白日依山盡"


def _missing_glyph_warnings(text: str) -> list[str]:
    fig, ax = plt.subplots()
    ax.set_title(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_default_font_cannot_draw_chinese():
    """The reason the helper exists (and proof that the check below can fail)."""
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}):
        assert _missing_glyph_warnings(CHINESE)


def test_cjk_font_draws_every_chinese_glyph():
    with matplotlib.rc_context():
        family = use_cjk_font()
        assert family.startswith("Noto Sans CJK")
        assert _missing_glyph_warnings(CHINESE) == []
        assert _missing_glyph_warnings("bits per character, Eq. (2.1): h_t") == []


@pytest.mark.parametrize(
    ("draw", "labels"),
    [
        (draw_lstm_cell, ["$f_t$\nσ", "$i_t$\nσ", "$g_t$\ntanh", "$o_t$\nσ", "$c_t$", "$h_t$"]),
        (draw_gru_cell, ["$z_t$\nσ", "$r_t$\nσ", "$n_t$\ntanh", "1−", "$h_t$"]),
        (draw_highway_layer, ["$T(x)$\nσ", "$H(x)$\nlayer", "1−", "$y$"]),
    ],
)
def test_cell_diagram_draws_every_part_with_real_glyphs(draw, labels):
    """The diagrams of chapter 4: a figure with each gate and state labelled, no missing glyph."""
    fig = draw()
    assert isinstance(fig, matplotlib.figure.Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert [label for label in labels if label not in texts] == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    assert [str(w.message) for w in caught] == []


def test_cell_diagram_draws_into_the_axes_it_is_given():
    fig, (left, right) = plt.subplots(1, 2)
    assert draw_gru_cell(ax=right) is fig
    assert len(left.texts) == 0 and len(right.texts) > 0
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Chapter 2's RNN diagrams and chapter 3's truncated-BPTT schedule


def _boxes(ax) -> list:
    return [p for p in ax.patches if isinstance(p, matplotlib.patches.FancyBboxPatch)]


def _arrows(ax) -> list:
    return [p for p in ax.patches if isinstance(p, matplotlib.patches.FancyArrowPatch)]


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _draws_without_warnings(fig) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_unrolled_rnn_has_a_state_input_and_output_per_step(steps):
    fig = draw_unrolled_rnn(steps)
    ax = fig.axes[0]
    assert len(_boxes(ax)) == 1 + 3 * steps  # h_0, then x_t, h_t, y_t
    assert len(_arrows(ax)) == 3 * steps  # W_ih, W_hh and V at every step
    texts = _texts(ax)
    for t in range(1, steps + 1):
        assert {f"$h_{t}$", f"$x_{t}$", f"$y_{t}$"} <= set(texts)
    assert "$h_0$" in texts
    # the same three matrices at every step: that is the point of the figure
    assert [texts.count(w) for w in ("$W_{ih}$", "$W_{hh}$", "$V$")] == [steps] * 3
    assert f"$h_{{{steps + 1}}}$" not in texts
    plt.close(fig)


def test_unrolled_rnn_without_weight_labels_and_with_feedback():
    fig = draw_unrolled_rnn(4, weight_labels=False, feedback=True)
    ax = fig.axes[0]
    assert not {"$W_{ih}$", "$W_{hh}$", "$V$"} & set(_texts(ax))
    dashed = [a for a in _arrows(ax) if a.get_linestyle() == "--"]
    assert len(dashed) == 3  # y_t into step t + 1, for t = 1..3
    assert len(_arrows(ax)) == 3 * 4 + 3
    plt.close(fig)


def test_unrolled_rnn_takes_any_architecture():
    fig = draw_unrolled_rnn(
        states=["h_1", "h_2", "s_1"], inputs={1: "x_1", 2: "x_2"}, outputs={3: "y_1"}
    )
    ax = fig.axes[0]
    assert len(_boxes(ax)) == 1 + 3 + 2 + 1
    pink = [b for b in _boxes(ax) if matplotlib.colors.to_hex(b.get_facecolor()) == "#ead1dc"]
    assert len(pink) == 1  # a decoder's state is drawn apart from the encoder's
    plt.close(fig)


def test_folded_rnn_is_one_cell_with_a_loop():
    fig = draw_folded_rnn()
    ax = fig.axes[0]
    assert len(_boxes(ax)) == 3 and len(_arrows(ax)) == 3
    assert {"$x_t$", "$h_t$", "$y_t$", "$W_{ih}$", "$W_{hh}$", "$V$"} <= set(_texts(ax))
    plt.close(fig)


def test_rnn_architectures_draws_one_row_per_architecture():
    fig = draw_rnn_architectures()
    assert [ax.get_title() for ax in fig.axes] == [a[0] for a in RNN_ARCHITECTURES]
    assert [title.split(":")[0] for title, *_ in RNN_ARCHITECTURES] == [
        "many-to-one",
        "one-to-many",
        "many-to-many, aligned",
        "many-to-many, unaligned",
    ]
    for ax, (_, states, inputs, outputs, _) in zip(fig.axes, RNN_ARCHITECTURES, strict=True):
        assert len(_boxes(ax)) == 1 + len(states) + len(inputs) + len(outputs)
    plt.close(fig)


@pytest.mark.parametrize(("k1", "k2", "steps"), [(3, 5, 12), (2, 2, 7), (1, 4, 5)])
def test_truncated_bptt_draws_one_row_per_update(k1, k2, steps):
    fig = draw_truncated_bptt(k1, k2, steps)
    ax = fig.axes[0]
    starts = range(0, steps, k1)
    bars = [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]
    assert len(bars) == 2 * len(starts)  # backpropagated through, trained on
    through, trained = bars[0::2], bars[1::2]
    assert [b.get_width() for b in trained] == [min(k1, steps - s) for s in starts]
    assert [b.get_width() for b in through] == [min(k2 - k1, s) for s in starts]
    cuts = [max(0, s + k1 - k2) for s in starts]
    assert _texts(ax)[-1] == (
        f"update {len(starts) - 1}: losses {starts[-1]}..{steps - 1}, "
        f"gradient back to step {cuts[-1]}"
    )
    plt.close(fig)


def test_truncated_bptt_needs_k1_at_most_k2():
    with pytest.raises(ValueError, match="k1 <= k2"):
        draw_truncated_bptt(k1=5, k2=3)


def _unrolled_with_chinese_title():
    return draw_unrolled_rnn(3, title="按时间展开的循环神经网络")


@pytest.mark.parametrize(
    "draw",
    [
        draw_unrolled_rnn,
        draw_folded_rnn,
        draw_rnn_architectures,
        draw_truncated_bptt,
        _unrolled_with_chinese_title,
    ],
)
def test_diagram_fits_the_column_and_draws_every_glyph(draw):
    """At most 7 in wide (the book's ~700 px column at 100 dpi), no missing glyph."""
    with matplotlib.rc_context():
        use_cjk_font()
        fig = draw()
        assert fig.get_figwidth() <= 7.0
        assert _draws_without_warnings(fig) == []


def test_default_font_cannot_draw_the_chinese_title():
    """The check above can fail: without use_cjk_font the Chinese title is tofu."""
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}):
        messages = _draws_without_warnings(_unrolled_with_chinese_title())
    assert any("missing from font" in m for m in messages)


@pytest.mark.parametrize("draw", [draw_unrolled_rnn, draw_folded_rnn, draw_truncated_bptt])
def test_rnn_diagram_draws_into_the_axes_it_is_given(draw):
    fig, (left, right) = plt.subplots(1, 2)
    assert draw(ax=right) is fig
    assert len(left.patches) == 0 and len(right.patches) > 0
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# setup_chapter


def test_setup_chapter_sets_one_thread_the_cjk_font_and_returns_the_device(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setenv("COURSEKIT_DEVICE", "cpu")
    try:
        torch.set_num_threads(2)
        with matplotlib.rc_context({"font.sans-serif": ["DejaVu Sans"]}):
            device = setup_chapter()
            assert matplotlib.rcParams["font.sans-serif"][0].startswith("Noto Sans CJK")
            assert matplotlib.rcParams["font.family"] == ["sans-serif"]
            assert _missing_glyph_warnings(CHINESE) == []
        assert torch.get_num_threads() == 1
        assert device == torch.device("cpu")
        monkeypatch.setenv("COURSEKIT_DEVICE", "cuda:1")
        assert setup_chapter() == torch.device("cuda:1")  # the variable decides, as documented
    finally:
        torch.set_num_threads(threads)
