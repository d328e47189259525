"""coursekit.plots: Chinese text in figures is drawn with real glyphs, not empty boxes."""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from coursekit.plots import use_cjk_font  # noqa: E402

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
