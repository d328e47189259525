"""What the recurrent layers share: torch's RNNBase and RNNCellBase, written once.

:class:`StackedRecurrent` is the constructor, parameters, layouts and the layer/direction loop
of ``torch.nn.RNN``, ``LSTM`` and ``GRU``; :class:`RecurrentCell` is the constructor and
parameters of their cells. Neither knows what a cell computes: the subclasses in
:mod:`coursekit.rnn`, :mod:`coursekit.lstm` and :mod:`coursekit.gru` give the number of gate
blocks and run one layer. Parameter names, shapes, order and initialisation are torch's, so
``load_state_dict(torch_layer.state_dict())`` works both ways.

Shapes: G gate blocks (1 RNN, 4 LSTM, 3 GRU), H hidden size, O the width of each direction's
output h_t (H, or an LSTM's proj_size), D directions, L layers, T steps, B batch.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_fraction, check_positive_int


def init_uniform(module: nn.Module, hidden_size: int) -> None:
    """torch's init for every recurrent parameter (and for Linear(H, O)): U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


def check_dropout(dropout, num_layers) -> None:
    """A dropout rate in [0, 1]; torch's warning when it cannot act (one layer)."""
    check_fraction(dropout=dropout)
    if dropout > 0 and num_layers == 1:
        warnings.warn(  # torch's warning, word for word
            "dropout option adds dropout after all but last recurrent layer, so non-zero "
            f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}",
            stacklevel=4,
        )


class RecurrentCell(nn.Module):
    """torch's RNNCellBase: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,).

    Subclasses call ``super().__init__(gates=G, ...)`` and write ``forward`` with
    :meth:`_check_input` and :meth:`_initial_state`.
    """

    def __init__(self, *, gates, input_size, hidden_size, bias, device, dtype):
        super().__init__()
        check_positive_int(input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory = {"device": device, "dtype": dtype}
        G, H = gates, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(G * H, H, **factory))
        for name in ("bias_ih", "bias_hh"):
            self.register_parameter(
                name, nn.Parameter(torch.empty(G * H, **factory)) if bias else None
            )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_uniform(self, self.hidden_size)

    def _check_input(self, input) -> tuple[int, ...]:
        """input (B, I) or (I,) -> the shape of a state, (B, H) or (H,)."""
        if input.dim() not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"input must be (B, I) or (I,) unbatched, with I = {self.input_size}; "
                f"got {tuple(input.shape)}"
            )
        return (*input.shape[:-1], self.hidden_size)

    def _initial_state(self, hx, input):
        """hx (B, H) or (H,) as the input is batched or not; zeros when None."""
        expected = self._check_input(input)
        if hx is None:
            return input.new_zeros(expected)
        if tuple(hx.shape) != expected:
            raise ValueError(
                f"hx must be (B, H) or (H,) unbatched = {expected}; got {tuple(hx.shape)}"
            )
        return hx

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class StackedRecurrent(nn.Module):
    """torch's RNNBase: constructor, parameters, layouts and the layer/direction loop.

    Subclasses call ``super().__init__(gates=G, ...)`` (every argument by keyword) and write
    ``forward`` with :meth:`_time_major`, :meth:`_check_state`, :meth:`_run_layers` and
    :meth:`_output_layout`. ``output_size`` is the width O of each direction's h_t (the
    hidden size unless a subclass projects it); a subclass with more per-layer weights
    extends :meth:`_parameter_shapes`.
    """

    def __init__(
        self,
        *,
        gates,
        input_size,
        hidden_size,
        num_layers,
        bias,
        batch_first,
        dropout,
        bidirectional,
        device,
        dtype,
        output_size=None,
    ):
        super().__init__()
        check_positive_int(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        check_dropout(dropout, num_layers)
        self.gates = gates
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.output_size = hidden_size if output_size is None else output_size
        factory = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else self.num_directions * self.output_size
            for suffix in self._suffixes():
                for name, shape in self._parameter_shapes(layer_input).items():
                    self.register_parameter(
                        f"{name}_l{layer}{suffix}", nn.Parameter(torch.empty(shape, **factory))
                    )
        self.reset_parameters()

    def _parameter_shapes(self, layer_input: int) -> dict[str, tuple[int, ...]]:
        """One layer and direction's parameters in torch's order: name -> shape."""
        GH = self.gates * self.hidden_size
        shapes = {"weight_ih": (GH, layer_input), "weight_hh": (GH, self.output_size)}
        if self.bias:
            shapes.update(bias_ih=(GH,), bias_hh=(GH,))
        return shapes

    def _weight_names(self) -> tuple[str, ...]:
        """The names :meth:`layer_weights` returns, missing ones (no bias) as None."""
        return ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        init_uniform(self, self.hidden_size)

    def layer_weights(self, layer: int, suffix: str = ""):
        """(weight_ih, weight_hh, bias_ih, bias_hh, ...) of one layer and direction (suffix ""
        or "_reverse"); missing ones are None."""
        return tuple(
            getattr(self, f"{name}_l{layer}{suffix}", None) for name in self._weight_names()
        )

    def _time_major(self, input):
        """input as documented -> (T, B, I), and whether it was batched."""
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"input must be {layout} or (T, I) unbatched, with I = {self.input_size} "
                f"(batch_first={self.batch_first}); got {tuple(input.shape)}"
            )
        batched = input.dim() == 3
        if not batched:
            input = input.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            input = input.transpose(0, 1)  # (B, T, I) -> (T, B, I)
        if input.shape[0] == 0:
            raise ValueError(
                f"input must be {layout} or (T, I) with T >= 1; got {tuple(input.shape)}"
            )
        return input, batched

    def _check_state(self, name, state, symbol, size, input, batched):
        """An initial state as (D*L, B, size), zeros when None; ``symbol`` names size.

        input: the (T, B, I) input; an unbatched input's state is (D*L, size) and gets B = 1.
        """
        DL, B = self.num_directions * self.num_layers, input.shape[1]
        if state is None:
            return input.new_zeros(DL, B, size)
        expected = (DL, B, size) if batched else (DL, size)
        if tuple(state.shape) != expected:
            which = (
                f"(D*num_layers, B, {symbol})"
                if batched
                else f"(D*num_layers, {symbol}) for unbatched input"
            )
            raise ValueError(f"{name} must be {which} = {expected}; got {tuple(state.shape)}")
        return state if batched else state.unsqueeze(1)  # (D*L, B, size)

    def _run_layers(self, input, states, run_layer):
        """Layers bottom-up (each reads the one below), directions side by side.

        input (T, B, I); states: a tuple of (D*L, B, ·) initial states; run_layer(x, states of
        one layer and direction, weights) -> (output (T, B, O), final states tuple).
        -> output (T, B, D*O), final states, each (D*L, B, ·). Dropout on every layer's output
        but the last, in training mode only.
        """
        D = self.num_directions
        layer_input, finals = input, []
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes()):
                index = layer * D + direction
                x = layer_input.flip(0) if suffix else layer_input  # reverse reads x[T-1] first
                output, last = run_layer(
                    x, tuple(s[index] for s in states), self.layer_weights(layer, suffix)
                )
                outputs.append(output.flip(0) if suffix else output)  # aligned in time
                finals.append(last)
            output = torch.cat(outputs, dim=-1) if D == 2 else outputs[0]  # (T, B, D*O)
            if layer < self.num_layers - 1 and self.dropout > 0 and self.training:
                output = F.dropout(output, p=self.dropout, training=True)
            layer_input = output
        return layer_input, tuple(torch.stack(f) for f in zip(*finals, strict=True))

    def _output_layout(self, output, batched):
        if not batched:
            return output.squeeze(1)  # (T, D*O)
        return output.transpose(0, 1) if self.batch_first else output

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bias={self.bias}, batch_first={self.batch_first}, dropout={self.dropout}, "
            f"bidirectional={self.bidirectional}"
        )
