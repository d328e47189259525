"""Temporal convolutional networks (时间卷积网络, TCN) and the TCN-LSTM / TCN-GRU hybrids (chapter 4).

Read first: :class:`CausalConv1d` (a dilated convolution that only looks back), then
:class:`TemporalBlock` (two of them with a residual connection) and :class:`TCN` (blocks with
dilations 1, 2, 4, ...). Bai, Kolter & Koltun (2018), "An empirical evaluation of generic
convolutional and recurrent networks for sequence modeling", and their reference code
locuslab/TCN; NOTE: without its weight normalisation, with torch's default conv init.
:class:`TCNLSTM` and :class:`TCNGRU` are the serial hybrids of the lecture notes: the TCN
extracts local patterns (并行, 感受野可控), the LSTM/GRU models the long-range order.

Equations (x zero for t < 0; k the kernel size, d the dilation, W (C_out, C_in, k)):

    causal dilated convolution   y_t = b + sum_{j=0}^{k-1} W[:, :, j] x_{t - (k-1-j) d}
    temporal block               y = ReLU(x' + F(x)),  F = (conv, ReLU, dropout) twice,
                                 x' = x, or a 1x1 convolution when the channel count changes
    receptive field              a conv: (k-1) d + 1; a block: 2 (k-1) d + 1;
                                 a TCN of L blocks, d = 2^l:  R = 1 + 2 (k-1) (2^L - 1)

Dimension glossary:

    B  batch size                          T  time steps
    C  channels (C_in, C_out)              I  input features per step (= C_in of the first block)
    H  hidden size of the LSTM/GRU         O  output features per step

Layouts: the convolutions use torch's (B, C, T); the hybrids take (T, B, I) like the
recurrent layers and convert internally.

Tests: tests/test_tcn.py (causality, receptive field against the formula and against the
gradient's support, equality with torch's padded-and-cropped Conv1d, shapes, gradient flow).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_positive_int
from coursekit.gru import GRU
from coursekit.lstm import LSTM

__all__ = ["TCN", "TCNGRU", "TCNLSTM", "CausalConv1d", "TemporalBlock"]


def _check_channels(x, channels, name="x") -> None:
    if x.dim() not in (2, 3) or x.shape[-2] != channels or x.shape[-1] == 0:
        raise ValueError(
            f"{name} must be (B, C, T) or (C, T) unbatched, with C = {channels} and T >= 1; "
            f"got {tuple(x.shape)}"
        )


class CausalConv1d(nn.Conv1d):
    """A dilated 1-D convolution padded on the left only: y_t depends on x_{<= t}.

    Parameters ``weight`` (C_out, C_in, k) and ``bias`` (C_out,), as ``torch.nn.Conv1d``'s.
    forward(x (B, C_in, T) or (C_in, T)) -> (B, C_out, T): the same length, shifted so that
    output t sees inputs t - (k-1) d, ..., t. Equal to locuslab/TCN's padded-then-cropped
    Conv1d (test_causal_conv_equals_torch_conv_padded_both_sides_then_cropped).
    """

    def __init__(self, in_channels, out_channels, kernel_size, dilation=1):
        check_positive_int(kernel_size=kernel_size, dilation=dilation)
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left_padding = (kernel_size - 1) * dilation

    @property
    def receptive_field(self) -> int:
        return self.left_padding + 1

    def forward(self, x):
        _check_channels(x, self.in_channels)
        return super().forward(F.pad(x, (self.left_padding, 0)))  # (B, C_in, (k-1)d + T) -> T


class TemporalBlock(nn.Module):
    """Two causal dilated convolutions, each followed by ReLU and dropout, plus a residual.

    forward(x (B, C_in, T)) -> ReLU(residual(x) + F(x)) (B, C_out, T); residual is a 1x1
    ``nn.Conv1d`` when C_in != C_out (attribute ``downsample``), else the identity (None).
    Proved by test_temporal_block_matches_functional_composition.
    """

    def __init__(self, in_channels, out_channels, kernel_size, dilation, dropout=0.0):
        super().__init__()
        self.conv1 = CausalConv1d(in_channels, out_channels, kernel_size, dilation)
        self.conv2 = CausalConv1d(out_channels, out_channels, kernel_size, dilation)
        self.dropout = nn.Dropout(dropout)
        self.downsample = (
            nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None
        )

    @property
    def receptive_field(self) -> int:
        return self.conv1.receptive_field + self.conv2.receptive_field - 1

    def forward(self, x):
        y = self.dropout(torch.relu(self.conv1(x)))  # (B, C_out, T)
        y = self.dropout(torch.relu(self.conv2(y)))  # (B, C_out, T)
        residual = x if self.downsample is None else self.downsample(x)  # (B, C_out, T)
        return torch.relu(y + residual)


class TCN(nn.Module):
    """A temporal convolutional network: ``len(channels)`` blocks, block l with dilation 2^l.

    forward(x (B, I, T) or (I, T)) -> (B, channels[-1], T). ``receptive_field`` is
    R = 1 + 2 (k-1) (2^L - 1): output t depends on x_{t-R+1}, ..., x_t and on nothing later
    (test_tcn_receptive_field_equals_the_support_of_the_gradient).
    """

    def __init__(self, input_size, channels, kernel_size=2, dropout=0.0):
        super().__init__()
        channels = list(channels)
        if not channels:
            raise ValueError("channels must list at least one block's channel count; got []")
        check_positive_int(input_size=input_size, kernel_size=kernel_size)
        for c in channels:
            check_positive_int(channels=c)
        self.input_size, self.channels, self.kernel_size = input_size, channels, kernel_size
        sizes = [input_size, *channels]
        self.blocks = nn.ModuleList(
            TemporalBlock(sizes[level], sizes[level + 1], kernel_size, 2**level, dropout)
            for level in range(len(channels))
        )

    @property
    def receptive_field(self) -> int:
        return 1 + sum(block.receptive_field - 1 for block in self.blocks)

    def forward(self, x):
        _check_channels(x, self.input_size)
        for block in self.blocks:
            x = block(x)  # (B, C_l, T)
        return x


class _TCNRecurrent(nn.Module):
    """TCN features -> a recurrent layer -> a linear head at every step (the serial hybrid)."""

    recurrent_class = LSTM

    def __init__(
        self, input_size, tcn_channels, hidden_size, output_size, kernel_size=2, dropout=0.0
    ):
        super().__init__()
        check_positive_int(output_size=output_size)
        self.input_size = input_size
        self.tcn = TCN(input_size, tcn_channels, kernel_size, dropout)
        self.recurrent = self.recurrent_class(self.tcn.channels[-1], hidden_size)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        if x.dim() not in (2, 3) or x.shape[-1] != self.input_size or x.shape[0] == 0:
            raise ValueError(
                f"x must be (T, B, I) or (T, I) unbatched, with I = {self.input_size} and "
                f"T >= 1; got {tuple(x.shape)}"
            )
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)  # (T, 1, I)
        features = self.tcn(x.permute(1, 2, 0))  # (T, B, I) -> (B, I, T) -> (B, C, T)
        hidden, _ = self.recurrent(features.permute(2, 0, 1))  # (T, B, C) -> (T, B, H)
        y = self.head(hidden)  # (T, B, O)
        return y if batched else y.squeeze(1)


class TCNLSTM(_TCNRecurrent):
    """TCN-LSTM: a :class:`TCN` extracts local features, a :class:`coursekit.LSTM` reads them.

    forward(x (T, B, I) or (T, I)) -> y (T, B, O): a prediction at every step, causal (y_t
    depends on x_{<= t}); take y[-1] for a sequence-level target. Submodules ``tcn``,
    ``recurrent`` (LSTM(channels[-1], H)), ``head`` (Linear(H, O)).
    Proved by test_hybrid_equals_its_composition.
    """

    recurrent_class = LSTM


class TCNGRU(_TCNRecurrent):
    """TCN-GRU: :class:`TCNLSTM` with a :class:`coursekit.GRU` in place of the LSTM."""

    recurrent_class = GRU
