"""Figures of the book: fonts that can draw Chinese.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs and draws empty boxes ("tofu").
:func:`use_cjk_font` finds an installed CJK font (Noto Sans CJK, which `make test` installs
with Debian's fonts-noto-cjk) and puts it first in matplotlib's sans-serif list, keeping DejaVu
Sans behind it for Latin text and symbols. tests/test_plots.py draws Chinese with it and
checks that no glyph is missing.
"""

from __future__ import annotations

import glob

import matplotlib
from matplotlib import font_manager

__all__ = ["CJK_FONT_FILES", "use_cjk_font"]

# Where Debian's and other common packages put Noto Sans CJK (a .ttc holds SC, TC, JP, KR).
CJK_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/Library/Fonts/NotoSansCJK-Regular.ttc",
)


def use_cjk_font(family: str = "Noto Sans CJK SC") -> str:
    """Make matplotlib draw Chinese with ``family``; returns the family name in use.

    Registers the font file with matplotlib even when its font cache predates the font's
    installation. Raises ``RuntimeError`` naming the package to install when none is found.
    """
    found = [f for f in CJK_FONT_FILES if glob.glob(f)]
    found += glob.glob("/usr/share/fonts/**/NotoSansCJK-Regular.ttc", recursive=True)
    if not found:
        raise RuntimeError(
            "no CJK font found for Chinese text in figures: install Debian's fonts-noto-cjk "
            "(make browser-deps does) or another Noto Sans CJK package"
        )
    font_manager.fontManager.addfont(found[0])
    names = {f.name for f in font_manager.fontManager.ttflist}
    if family not in names:
        family = next(n for n in sorted(names) if n.startswith("Noto Sans CJK"))
    fallback = [f for f in matplotlib.rcParams["font.sans-serif"] if f != family]
    matplotlib.rcParams["font.sans-serif"] = [family, *fallback]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False  # the CJK font's minus sign is fine too
    return family
