"""Specifications of coursekit.tcn.

Each test names one behaviour. The references: torch's Conv1d padded on both sides and cropped
on the right (locuslab/TCN's Chomp1d), the convolution sum written out here, the receptive
field formula of Bai et al. (2018), and torch.nn.LSTM / GRU for the hybrids.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from coursekit import TCN, TCNGRU, TCNLSTM, CausalConv1d, TemporalBlock
from tests.torch_compare import raises_table

B, C, T = 4, 3, 20
F64 = torch.float64


def receptive_field_formula(kernel_size, levels):
    """Bai et al. (2018): two convolutions per block, dilation 2^l at level l."""
    return 1 + 2 * (kernel_size - 1) * (2**levels - 1)


def gradient_support(model, x, t):
    """The input time steps that output step t depends on (a nonzero gradient), as a range."""
    x = x.clone().requires_grad_()
    model(x)[..., t].sum().backward()
    steps = x.grad.abs().sum(dim=tuple(range(x.dim() - 1))).nonzero().flatten().tolist()
    return range(steps[0], steps[-1] + 1) if steps else range(0)


# --------------------------------------------------------------------------------------------
# CausalConv1d


@pytest.mark.parametrize("kernel_size", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2, 4])
def test_causal_conv_equals_torch_conv_padded_both_sides_then_cropped(kernel_size, dilation):
    ours = CausalConv1d(C, 5, kernel_size, dilation).double()
    padding = (kernel_size - 1) * dilation
    reference = torch.nn.Conv1d(C, 5, kernel_size, padding=padding, dilation=dilation).double()
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(B, C, T, dtype=F64)

    def run(module, crop):
        x_ = x.clone().requires_grad_()
        y = module(x_)
        y = y[..., : y.shape[-1] - crop]  # Chomp1d: drop the right padding's outputs
        upstream = torch.linspace(-1, 1, y.numel(), dtype=F64).reshape(y.shape)
        return [y, *torch.autograd.grad(y, [x_, *module.parameters()], upstream)]

    for actual, expected in zip(run(ours, 0), run(reference, padding), strict=True):
        torch.testing.assert_close(actual, expected, atol=1e-12, rtol=0)


def test_causal_conv_matches_the_sum_written_out():
    k, d = 3, 2
    conv = CausalConv1d(C, 2, k, d).double()
    x = torch.randn(B, C, T, dtype=F64)
    W, b = conv.weight, conv.bias  # (2, C, k), (2,)
    expected = torch.zeros(B, 2, T, dtype=F64)
    for t in range(T):
        expected[:, :, t] = b
        for j in range(k):
            source = t - (k - 1 - j) * d
            if source >= 0:
                expected[:, :, t] += x[:, :, source] @ W[:, :, j].T
    torch.testing.assert_close(conv(x), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize(("kernel_size", "dilation"), [(2, 1), (3, 2), (4, 3)])
def test_causal_conv_receptive_field_is_k_minus_one_times_d_plus_one(kernel_size, dilation):
    conv = CausalConv1d(C, 2, kernel_size, dilation).double()
    t = T - 1
    assert conv.receptive_field == (kernel_size - 1) * dilation + 1
    expected = range(t - conv.receptive_field + 1, t + 1)
    assert gradient_support(conv, torch.randn(B, C, T, dtype=F64), t) == expected


def test_causal_conv_keeps_the_length_and_accepts_unbatched_input():
    conv = CausalConv1d(C, 5, 3, dilation=4)
    x = torch.randn(C, T)
    assert conv(x).shape == (5, T)
    torch.testing.assert_close(conv(x), conv(x.unsqueeze(0))[0])


# --------------------------------------------------------------------------------------------
# causality: perturbing x at t' changes nothing before t', for every module


def make_hybrid(cls):
    model = cls(C, [4, 4], hidden_size=5, output_size=2, kernel_size=3).double()
    return model, lambda x: x.permute(2, 0, 1), lambda y: y.permute(1, 2, 0)  # (B,C,T)<->(T,B,·)


CAUSAL_MODELS = {
    "conv": lambda: (CausalConv1d(C, 4, 3, 2).double(), None, None),
    "block": lambda: (TemporalBlock(C, 4, 3, 2).double(), None, None),
    "tcn": lambda: (TCN(C, [4, 4, 4], kernel_size=3).double(), None, None),
    "tcn-lstm": lambda: make_hybrid(TCNLSTM),
    "tcn-gru": lambda: make_hybrid(TCNGRU),
}


@pytest.mark.parametrize("make", list(CAUSAL_MODELS.values()), ids=list(CAUSAL_MODELS))
@pytest.mark.parametrize("changed_step", [0, 7, T - 1])
def test_perturbing_a_step_changes_no_earlier_output(make, changed_step):
    model, to_input, to_bct = make()
    to_input = to_input or (lambda x: x)
    to_bct = to_bct or (lambda y: y)
    x = torch.randn(B, C, T, dtype=F64)
    changed = x.clone()
    changed[:, :, changed_step] += 1.0
    before, after = to_bct(model(to_input(x))), to_bct(model(to_input(changed)))  # (B, ·, T)
    torch.testing.assert_close(
        after[..., :changed_step], before[..., :changed_step], atol=0, rtol=0
    )
    assert not torch.allclose(after[..., changed_step], before[..., changed_step])


# --------------------------------------------------------------------------------------------
# TemporalBlock and TCN


def functional_block(block, x, k, d):
    """Bai et al.'s residual block without dropout, from torch.nn.functional: two causal
    convolutions (left padding (k - 1) d) with ReLUs, plus x or its 1x1 projection, then ReLU."""

    def causal(v, conv):
        return F.conv1d(F.pad(v, ((k - 1) * d, 0)), conv.weight, conv.bias, dilation=d)

    y = torch.relu(causal(torch.relu(causal(x, block.conv1)), block.conv2))
    if block.downsample is None:
        return torch.relu(y + x)
    return torch.relu(y + F.conv1d(x, block.downsample.weight, block.downsample.bias))


@pytest.mark.parametrize(("in_channels", "out_channels"), [(C, 5), (5, 5)])
def test_temporal_block_matches_functional_composition(in_channels, out_channels):
    block = TemporalBlock(in_channels, out_channels, 3, 2).double()
    x = torch.randn(B, in_channels, T, dtype=F64)
    assert (block.downsample is None) == (in_channels == out_channels)
    torch.testing.assert_close(block(x), functional_block(block, x, 3, 2), atol=1e-12, rtol=0)


def test_temporal_block_dropout_acts_in_training_only():
    block = TemporalBlock(C, 4, 2, 1, dropout=0.5).double()
    x = torch.randn(B, C, T, dtype=F64)
    expected = functional_block(block, x, 2, 1)  # no dropout
    torch.testing.assert_close(block.eval()(x), expected, atol=1e-12, rtol=0)
    assert not torch.allclose(block.train()(x), expected)


def test_tcn_dilations_double_per_block_and_channels_follow_the_list():
    model = TCN(C, [8, 8, 6], kernel_size=3)
    assert [block.conv1.dilation[0] for block in model.blocks] == [1, 2, 4]
    assert [block.conv2.dilation[0] for block in model.blocks] == [1, 2, 4]
    assert [block.conv1.out_channels for block in model.blocks] == [8, 8, 6]
    assert model(torch.randn(B, C, T)).shape == (B, 6, T)
    assert model(torch.randn(C, T)).shape == (6, T)


@pytest.mark.parametrize("kernel_size", [2, 3])
@pytest.mark.parametrize("levels", [1, 2, 3])
def test_tcn_receptive_field_equals_the_formula(kernel_size, levels):
    model = TCN(C, [4] * levels, kernel_size=kernel_size)
    assert model.receptive_field == receptive_field_formula(kernel_size, levels)


@pytest.mark.parametrize(("kernel_size", "levels"), [(2, 2), (3, 2), (2, 3)])
def test_tcn_receptive_field_equals_the_support_of_the_gradient(kernel_size, levels):
    model = TCN(C, [6] * levels, kernel_size=kernel_size).double()
    R = receptive_field_formula(kernel_size, levels)
    x = torch.randn(16, C, R + 10, dtype=F64)  # long enough that the window fits
    t = x.shape[-1] - 1
    assert gradient_support(model, x, t) == range(t - R + 1, t + 1)


def test_tcn_gradient_reaches_every_parameter():
    model = TCN(C, [4, 5], kernel_size=2)
    model(torch.randn(B, C, T)).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# --------------------------------------------------------------------------------------------
# TCN-LSTM and TCN-GRU


@pytest.mark.parametrize(("cls", "torch_cls"), [(TCNLSTM, torch.nn.LSTM), (TCNGRU, torch.nn.GRU)])
def test_hybrid_equals_its_composition(cls, torch_cls):
    model = cls(C, [4, 6], hidden_size=5, output_size=2, kernel_size=3).double()
    recurrent = torch_cls(6, 5, dtype=F64)
    recurrent.load_state_dict(model.recurrent.state_dict())
    x = torch.randn(T, B, C, dtype=F64)  # (T, B, I)
    features = model.tcn(x.permute(1, 2, 0)).permute(2, 0, 1)  # (T, B, 6)
    expected = model.head(recurrent(features)[0])
    torch.testing.assert_close(model(x), expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("cls", [TCNLSTM, TCNGRU])
def test_hybrid_shapes_batched_and_unbatched(cls):
    model = cls(C, [4, 4], hidden_size=5, output_size=2)
    assert model(torch.randn(T, B, C)).shape == (T, B, 2)
    x = torch.randn(T, C)
    assert model(x).shape == (T, 2)
    torch.testing.assert_close(model(x), model(x.unsqueeze(1))[:, 0])


@pytest.mark.parametrize("cls", [TCNLSTM, TCNGRU])
def test_hybrid_gradient_reaches_every_parameter(cls):
    model = cls(C, [4, 4], hidden_size=5, output_size=2)
    model(torch.randn(T, B, C))[-1].square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# --------------------------------------------------------------------------------------------
# errors for people


ERROR_CASES = {
    "conv-channels": (
        lambda: CausalConv1d(C, 4, 2)(torch.zeros(B, 5, T)),
        r"x must be \(B, C, T\) or \(C, T\) unbatched, with C = 3 and T >= 1; got \(4, 5, 20\)",
    ),
    "conv-kernel": (lambda: CausalConv1d(C, 4, 0), r"kernel_size must be an integer >= 1; got 0"),
    "tcn-layout": (
        lambda: TCN(C, [4])(torch.zeros(T, B, C)),
        r"x must be \(B, C, T\) or \(C, T\) unbatched, with C = 3 and T >= 1; got \(20, 4, 3\)",
    ),
    "tcn-no-blocks": (lambda: TCN(C, []), r"channels must list at least one block"),
    "tcn-channel": (lambda: TCN(C, [4, 0]), r"channels must be an integer >= 1; got 0"),
    "hybrid-input": (
        lambda: TCNLSTM(C, [4], 5, 2)(torch.zeros(B, C, T)),
        r"x must be \(T, B, I\) or \(T, I\) unbatched, with I = 3 and T >= 1; got \(4, 3, 20\)",
    ),
    "hybrid-output-size": (
        lambda: TCNGRU(C, [4], 5, 0),
        r"output_size must be an integer >= 1; got 0",
    ),
}


test_bad_input_raises_value_error_naming_the_expected_shape = raises_table(ERROR_CASES)
