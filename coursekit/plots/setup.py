"""The chapters' set-up and a font that can draw Chinese: see :mod:`coursekit.plots`."""

from __future__ import annotations

import glob

import matplotlib
import torch
from matplotlib import font_manager

from coursekit.device import default_device

__all__ = [
    "CJK_FONT_FILES",
    "setup_chapter",
    "use_cjk_font",
]

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


def setup_chapter() -> torch.device:
    """The set-up every chapter runs in its first code cell; returns the device for models.

    - ``torch.set_num_threads(1)``: the book's models and matrices are small, so one thread is
      about as fast as several, never stalls on a busy machine, and gives the same
      floating-point results whatever the machine's core count (the stored outputs that nbval
      compares rely on it; the Makefile also sets ``OMP_NUM_THREADS=1``).
    - :func:`use_cjk_font`: any figure of the book may have Chinese labels, and all figures
      are drawn in the same font.
    - returns :func:`coursekit.default_device`: CUDA if there is a GPU, unless
      ``COURSEKIT_DEVICE`` says otherwise (the book is executed with ``cpu``).

    What is particular to a chapter (chapter 3's float64 default, say) stays in the chapter.
    """
    torch.set_num_threads(1)
    use_cjk_font()
    return default_device()
