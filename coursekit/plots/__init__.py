"""Figures of the book: the chapters' set-up, fonts that can draw Chinese, and the diagrams.

Three modules, one import: ``from coursekit.plots import ...`` finds everything here.
:mod:`coursekit.plots.setup` (set-up, fonts), :mod:`coursekit.plots.cells` (cell diagrams),
:mod:`coursekit.plots.unrolled` (an RNN in time).

:func:`setup_chapter` is called in the first code cell of every chapter: one CPU thread for
torch, a font for Chinese labels, and the device to put models on.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs and draws empty boxes ("tofu").
:func:`use_cjk_font` finds an installed CJK font (Noto Sans CJK, which `make test` installs
with Debian's fonts-noto-cjk) and puts it first in matplotlib's sans-serif list, keeping DejaVu
Sans behind it for Latin text and symbols. tests/test_plots.py draws Chinese with it and
checks that no glyph is missing.

:func:`draw_lstm_cell` (Eqs. (4.1)-(4.6)), :func:`draw_gru_cell` (Eqs. (4.7)-(4.10)) and
:func:`draw_highway_layer` (Srivastava et al., 2015) draw one step of each as a diagram: gates
are boxes (orange for a sigmoid, blue for a tanh layer), elementwise operations are circles,
and the state that carries information forward runs along the top. All three are
:func:`_draw_diagram` on a table of nodes and edges, so each layout can be read as data.

Chapter 2's diagrams of an RNN in time: :func:`draw_folded_rnn` (Eq. (2.1) as a loop),
:func:`draw_unrolled_rnn` (one copy of the cell per step, the same weights in each, §2.4) and
:func:`draw_rnn_architectures` (many-to-one, one-to-many and the two many-to-many shapes,
§2.5, laid out in :data:`RNN_ARCHITECTURES`). Chapter 3's :func:`draw_truncated_bptt` draws
the schedule of BPTT(k1, k2), Eq. (3.8). Every figure is at most 7 in wide: the book's text
column is about 700 px, at matplotlib's 100 dpi.
"""

from __future__ import annotations

from coursekit.plots.cells import draw_gru_cell, draw_highway_layer, draw_lstm_cell
from coursekit.plots.setup import CJK_FONT_FILES, setup_chapter, use_cjk_font
from coursekit.plots.unrolled import (
    RNN_ARCHITECTURES,
    draw_folded_rnn,
    draw_rnn_architectures,
    draw_truncated_bptt,
    draw_unrolled_rnn,
)

__all__ = [
    "CJK_FONT_FILES",
    "RNN_ARCHITECTURES",
    "draw_folded_rnn",
    "draw_gru_cell",
    "draw_highway_layer",
    "draw_lstm_cell",
    "draw_rnn_architectures",
    "draw_truncated_bptt",
    "draw_unrolled_rnn",
    "setup_chapter",
    "use_cjk_font",
]
