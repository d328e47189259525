"""coursekit.plots: Chinese text in figures is drawn with real glyphs, not empty boxes; the cell
diagrams of chapter 4 draw every part."""

import warnings

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.figure  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from coursekit.plots import (  # noqa: E402
    draw_gru_cell,
    draw_highway_layer,
    draw_lstm_cell,
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
