"""Dropout for recurrent networks (循环神经网络的丢弃法) (chapter 6).

Read first: :func:`dropout_mask` (one inverted Bernoulli mask, Eq. (6.1)), :func:`locked_dropout`
(one mask per sequence, the same at every step, Eq. (6.2); the module :class:`LockedDropout`),
:func:`dropout_lstm_cell_step` (one LSTM step with the masks of Eq. (6.3)), then
:class:`DropoutLSTM`, which puts the masks where Gal & Ghahramani (2016) put them, Eq. (6.3)-(6.5). :func:`embedding_dropout`
drops whole words, Eq. (6.6), and the layers' ``weight_dropout`` is DropConnect on W_hh, Eq. (6.7)
(both from Merity et al. 2018, AWD-LSTM).

Equations (row-vector convention, as torch writes them; ⊙ the elementwise product):

    (6.1)  M = Z / (1 - p),  Z_ij ~ Bernoulli(1 - p)   inverted scaling: E[M] = 1, so E[x ⊙ M] = x
    (6.2)  y_t = x_t ⊙ M  for every t                  locked (variational) dropout, M (B, F)
    (6.3)  h_t = cell(x_t ⊙ M_x, h_{t-1} ⊙ M_h)        Gal & Ghahramani: masks in the recurrence
    (6.4)  y_t = h_t ⊙ M_y                              output dropout, M_y (B, D*H)
    (6.5)  naive (Zaremba et al. 2014; the notes' "Naive Dropout RNN"): (6.3)-(6.4) with M_x,
           M_y drawn afresh at each t and no M_h: only the vertical (non-recurrent) connections
    (6.6)  e = (E ⊙ m)[w],  m (V, 1) ~ (6.1)           embedding dropout: a word is gone everywhere
    (6.7)  W_hh' = W_hh ⊙ M_W,  M_W (G*H, H) ~ (6.1)   DropConnect, one mask per forward pass

The notes write (6.3)-(6.4) as h_t = tanh(W(h_{t-1} ⊙ M1) + U(x_t ⊙ M2)), y_t = V(h_t ⊙ M2),
reusing the input mask M2 at the output. We draw M_y independently of M_x, as Gal & Ghahramani
do (one mask per weight matrix's input: a variational distribution per connection): x_t has I
features and h_t has H, so M2 cannot be one mask unless I = H, and when it can, tying the two
would drop output unit k whenever input feature k is dropped, a correlation with no meaning.

In the recurrence the mask multiplies h_{t-1} only where it enters the product with W_hh: an
LSTM's cell c_{t-1} and a GRU's carried term z_t ⊙ h_{t-1} (Eq. (4.10)) are not masked (Gal &
Ghahramani's LSTM and GRU). Masks redrawn at every step in the recurrence
(``state_dropout_mode="per_step"``) are the bad baseline the notes warn about: the noise
compounds over time, which is why Zaremba et al. left recurrent connections alone.

Dimension glossary:

    T  time steps        B  batch size          I  input features     H  hidden size
    O  width of h_t (H, or an LSTM's proj_size)                      G  gate blocks (1, 4, 3)
    D  directions        L  layers              V  vocabulary size    E  embedding size
    p  dropout rate in [0, 1)

Tests: tests/test_dropout.py checks the masks' statistics against the Bernoulli formulas, the
layers against torch.nn.RNN / LSTM / GRU (no dropout, eval) and against loops over
torch.nn.LSTMCell / RNNCell and a GRU formula written in the test (given masks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_fraction
from coursekit.gru import GRU
from coursekit.lstm import LSTM, lstm_cell_step
from coursekit.rnn import RNN, rnn_cell_step

__all__ = [
    "DropoutGRU",
    "DropoutLSTM",
    "DropoutMasks",
    "DropoutRNN",
    "LockedDropout",
    "dropout_mask",
    "dropout_lstm_cell_step",
    "embedding_dropout",
    "locked_dropout",
    "locked_dropout_mask",
]

_MODES = ("locked", "per_step")


def _check_rate(**values) -> None:
    """Dropout rates in [0, 1): p = 1 would divide by zero in Eq. (6.1)."""
    check_fraction(**values)
    for name, value in values.items():
        if value == 1:
            raise ValueError(f"{name} must be a number in [0, 1); got {value!r}")


def _check_mode(**values) -> None:
    for name, value in values.items():
        if value not in _MODES:
            raise ValueError(f"{name} must be 'locked' or 'per_step'; got {value!r}")


# ---------------------------------------------------------------------------------------------
# Masks.


def dropout_mask(shape, p, generator=None, device=None, dtype=None):
    """An inverted dropout mask, Eq. (6.1): each entry 0 with probability p, else 1 / (1 - p).

    The entries are independent. They are drawn on ``generator``'s device (the CPU without one)
    and moved to ``device``, so one seeded CPU generator gives the same masks on every device.
    """
    _check_rate(p=p)
    dtype = dtype or torch.get_default_dtype()
    where = generator.device if generator is not None else "cpu"
    mask = torch.empty(shape, dtype=dtype, device=where).bernoulli_(1 - p, generator=generator)
    return mask.div_(1 - p).to(device or where)


def locked_dropout_mask(shape, p, generator=None, device=None, dtype=None):
    """The mask of locked dropout, Eq. (6.2): shape (B, F), one row per sequence of the batch,
    applied unchanged at every time step. Entries as :func:`dropout_mask`."""
    if len(shape) != 2:
        raise ValueError(f"shape must be (B, F); got {tuple(shape)}")
    return dropout_mask(shape, p, generator, device, dtype)


def locked_dropout(x, p, mask=None, training=True, batch_first=False, generator=None):
    """Locked dropout, Eq. (6.2), as a function: x (T, B, F) (or (B, T, F) with batch_first)
    -> x ⊙ M with one mask M (B, F) at every t, drawn by :func:`locked_dropout_mask` from
    ``generator`` unless given; x itself when not ``training`` or when p = 0."""
    _check_rate(p=p)
    if x.dim() != 3:
        layout = "(B, T, F)" if batch_first else "(T, B, F)"
        raise ValueError(f"x must be {layout}; got {tuple(x.shape)}")
    if not training or p == 0:
        return x
    B, width = (x.shape[0], x.shape[2]) if batch_first else tuple(x.shape[1:])
    if mask is None:
        mask = locked_dropout_mask((B, width), p, generator, x.device, x.dtype)
    elif tuple(mask.shape) != (B, width):
        raise ValueError(f"mask must be (B, F) = {(B, width)}; got {tuple(mask.shape)}")
    return x * (mask.unsqueeze(1) if batch_first else mask)  # (B, F) over every t


class LockedDropout(nn.Module):
    """Locked (variational) dropout, Eq. (6.2), on (T, B, F) (or (B, T, F) with batch_first).

    forward(x, mask=None) -> :func:`locked_dropout` of x in the module's mode: one mask M (B, F)
    for all t, drawn from ``generator`` unless given; the identity in eval() or when p = 0.
    """

    def __init__(self, p=0.5, *, batch_first=False, generator=None):
        super().__init__()
        _check_rate(p=p)
        self.p, self.batch_first, self.generator = float(p), batch_first, generator

    def forward(self, x, mask=None):
        return locked_dropout(x, self.p, mask, self.training, self.batch_first, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, batch_first={self.batch_first}"


def embedding_dropout(embedding_weight, token_ids, p, generator=None):
    """Embedding dropout, Eq. (6.6): drop whole rows of the embedding matrix (words), scale the
    kept rows by 1 / (1 - p), then look the ids up.

    embedding_weight (V, E), token_ids (any shape) LongTensor -> (*token_ids.shape, E). One mask
    per call: a dropped word is zero at every position of every sequence in the batch
    (Gal & Ghahramani 2016, sec. 4; AWD-LSTM's ``embedded_dropout``).
    """
    if embedding_weight.dim() != 2:
        raise ValueError(f"embedding_weight must be (V, E); got {tuple(embedding_weight.shape)}")
    V = embedding_weight.shape[0]
    mask = dropout_mask((V, 1), p, generator, embedding_weight.device, embedding_weight.dtype)
    return F.embedding(token_ids, embedding_weight * mask)  # (..., E)


@dataclass
class DropoutMasks:
    """The masks of one forward pass of a Dropout{RNN,LSTM,GRU}; None where a rate is 0.

    ``input``, ``state``, ``weight``: one entry per layer and direction, in the order of the
    parameters (l0, l0_reverse, l1, ...): input (B, I_l) locked or (T, B, I_l) per step (I_l = I
    at layer 0, D*O above), state (B, O) or (T, B, O), weight (G*H, O). ``output`` (B, D*O) or
    (T, B, D*O). Per-step masks are indexed by time as the input is read forwards.
    """

    input: list
    state: list
    weight: list
    output: torch.Tensor | None

    def to(self, device):
        def move(m):
            return None if m is None else m.to(device)

        lists = ([move(m) for m in ms] for ms in (self.input, self.state, self.weight))
        return DropoutMasks(*lists, move(self.output))


def _over_time(mask, steps, reverse):
    """A locked (B, F) or per-step (T, B, F) mask as (T, B, F), in the order a direction reads."""
    if mask.dim() == 2:
        return mask.expand(steps, *mask.shape)
    return mask.flip(0) if reverse else mask


# ---------------------------------------------------------------------------------------------
# Layers: torch's RNN / LSTM / GRU with the masks of Eq. (6.3)-(6.7).


class _RecurrentDropout:
    """What the three layers share: the options, drawing and checking masks, applying them.

    A subclass lists this class before its coursekit layer and writes :meth:`_state_masked_loop`
    (the loop over its cell-step function with h_{t-1} ⊙ M_h in the recurrence).
    """

    def __init__(
        self,
        *args,
        input_dropout=0.0,
        state_dropout=0.0,
        output_dropout=0.0,
        weight_dropout=0.0,
        input_output_dropout_mode="locked",
        state_dropout_mode="locked",
        generator=None,
        **kwargs,
    ):
        _check_rate(
            input_dropout=input_dropout,
            state_dropout=state_dropout,
            output_dropout=output_dropout,
            weight_dropout=weight_dropout,
        )
        _check_mode(
            input_output_dropout_mode=input_output_dropout_mode,
            state_dropout_mode=state_dropout_mode,
        )
        super().__init__(*args, **kwargs)
        self.input_dropout, self.state_dropout = float(input_dropout), float(state_dropout)
        self.output_dropout, self.weight_dropout = float(output_dropout), float(weight_dropout)
        self.input_output_dropout_mode = input_output_dropout_mode
        self.state_dropout_mode = state_dropout_mode
        self.generator = generator
        self._masks, self._next_index = None, 0

    def _mask_shapes(self, steps, batch_size):
        """The shapes of :class:`DropoutMasks`' entries, None where the rate is 0."""
        D, O, GH = self.num_directions, self.output_size, self.gates * self.hidden_size  # noqa: E741
        io_time = (steps,) if self.input_output_dropout_mode == "per_step" else ()
        state_time = (steps,) if self.state_dropout_mode == "per_step" else ()
        inputs, states, weights = [], [], []
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else D * O
            for _ in range(D):
                inputs.append((*io_time, batch_size, width) if self.input_dropout else None)
                states.append((*state_time, batch_size, O) if self.state_dropout else None)
                weights.append((GH, O) if self.weight_dropout else None)
        output = (*io_time, batch_size, D * O) if self.output_dropout else None
        return DropoutMasks(inputs, states, weights, output)

    def draw_masks(self, steps, batch_size, *, device=None, dtype=None):
        """Fresh masks for a (T = steps, B = batch_size) input, from ``self.generator``;
        device and dtype default to the parameters'."""
        reference = next(self.parameters())
        device, dtype = device or reference.device, dtype or reference.dtype
        shapes = self._mask_shapes(steps, batch_size)

        def draw(shape, p):
            return None if shape is None else dropout_mask(shape, p, self.generator, device, dtype)

        return DropoutMasks(
            [draw(s, self.input_dropout) for s in shapes.input],
            [draw(s, self.state_dropout) for s in shapes.state],
            [draw(s, self.weight_dropout) for s in shapes.weight],
            draw(shapes.output, self.output_dropout),
        )

    def _check_masks(self, masks, steps, batch_size):
        expected = self._mask_shapes(steps, batch_size)
        for field in ("input", "state", "weight"):
            got = [None if m is None else tuple(m.shape) for m in getattr(masks, field)]
            if got != getattr(expected, field):
                raise ValueError(f"masks.{field} must be {getattr(expected, field)}; got {got}")
        got = None if masks.output is None else tuple(masks.output.shape)
        if got != expected.output:
            raise ValueError(f"masks.output must be {expected.output}; got {got}")

    def forward(self, input, hx=None, masks=None):
        """The layer's forward; in training mode with a nonzero rate, with ``masks`` (drawn by
        :meth:`draw_masks` when None). In eval() every mask is off and ``masks`` is ignored."""
        rates = (self.input_dropout, self.state_dropout, self.output_dropout, self.weight_dropout)
        if not self.training or not any(rates):
            return super().forward(input, hx)
        time_major, batched = self._time_major(input)  # (T, B, I)
        T, B = time_major.shape[:2]
        if masks is None:
            masks = self.draw_masks(T, B, device=input.device, dtype=input.dtype)
        self._check_masks(masks, T, B)
        self._masks, self._next_index = masks, 0
        try:
            output, state = super().forward(input, hx)  # calls _run_layer per layer, direction
        finally:
            self._masks = None
        if masks.output is not None:  # Eq. (6.4), in the output's layout
            mask = masks.output if masks.output.dim() == 3 else masks.output.unsqueeze(0)
            output = output * self._output_layout(mask, batched)
        return output, state

    def _run_layer(self, x, states, weights):
        """x (T, B, I_l) -> (output (T, B, O), final states); the masks of one layer and
        direction, taken in _run_layers' order (layer by layer, forward direction first)."""
        if self._masks is None:
            return super()._run_layer(x, states, weights)
        index = self._next_index
        self._next_index += 1
        reverse = index % self.num_directions == 1  # _run_layers gave this direction x flipped
        masks = self._masks
        if masks.input[index] is not None:  # Eq. (6.3), M_x
            x = x * _over_time(masks.input[index], x.shape[0], reverse)  # (T, B, I_l)
        if masks.weight[index] is not None:  # Eq. (6.7): the parameter itself is unchanged
            weights = (weights[0], weights[1] * masks.weight[index], *weights[2:])
        if masks.state[index] is None:  # no mask in the recurrence: the layer's own (fast) path
            return super()._run_layer(x, states, weights)
        state_mask = _over_time(masks.state[index], x.shape[0], reverse)  # (T, B, O)
        return self._state_masked_loop(x, states, weights, state_mask)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, input_dropout={self.input_dropout}, "
            f"state_dropout={self.state_dropout}, output_dropout={self.output_dropout}, "
            f"weight_dropout={self.weight_dropout}, "
            f"input_output_dropout_mode={self.input_output_dropout_mode!r}, "
            f"state_dropout_mode={self.state_dropout_mode!r}"
        )


_LAYER_DOC = """``coursekit.{base}`` (``torch.nn.{base}``'s constructor, parameters and state_dict)
    with the masks of Eq. (6.3)-(6.7), in training mode only. Extra keyword-only options:

    input_dropout      M_x on each layer's input x_t, Eq. (6.3)
    state_dropout      M_h on h_{{t-1}} in the recurrence, Eq. (6.3) (Gal & Ghahramani 2016)
    output_dropout     M_y on the last layer's output, Eq. (6.4)
    weight_dropout     DropConnect on weight_hh, one mask per forward pass, Eq. (6.7)
    input_output_dropout_mode  "locked" (one mask per sequence) or "per_step" (Zaremba, (6.5))
    state_dropout_mode         "locked" or "per_step" (the bad baseline)
    generator          a torch.Generator for the masks

    forward(input, hx=None, masks=None): {base}'s forward; ``masks`` (:class:`DropoutMasks`,
    from :meth:`draw_masks`) replaces the drawn ones. torch's ``dropout`` (between layers, per
    element and step) still acts as in torch. Without a state mask the layer runs its own path
    (the fused kernel); with one, a loop over ``{step}``. Proved equal to torch's layer without
    dropout or in eval(), and with given masks to a loop over torch's cell with the masks applied
    by hand, by test_dropout.py (test_with_given_masks_equals_independent_loop).
    """


class DropoutRNN(_RecurrentDropout, RNN):
    __doc__ = _LAYER_DOC.format(base="RNN", step="rnn_cell_step")

    def _state_masked_loop(self, x, states, weights, state_mask):
        h, outputs = states[0], []
        for x_t, m_t in zip(x, state_mask, strict=True):  # (B, I_l), (B, H)
            h = rnn_cell_step(x_t, h * m_t, *weights, self.nonlinearity)
            outputs.append(h)
        return torch.stack(outputs), (h,)  # (T, B, H), ((B, H),)


def dropout_lstm_cell_step(
    x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None, input_mask=None, state_mask=None
):
    """One LSTM step with the masks of Eq. (6.3): ``lstm_cell_step(x ⊙ M_x, (h ⊙ M_h, c))``.

    x (B, I), state = (h_prev (B, H), c_prev (B, H)), weights and biases as
    :func:`coursekit.lstm.lstm_cell_step`, input_mask M_x (B, I) and state_mask M_h (B, H) or None
    (no mask) -> (h (B, H), c (B, H)). The cell c_{t-1} is not masked (Gal & Ghahramani's LSTM);
    the caller keeps the masks of one sequence the same at every step.
    """
    h_prev, c_prev = state
    if input_mask is not None:
        x = x * input_mask  # (B, I)
    if state_mask is not None:
        h_prev = h_prev * state_mask  # (B, H), only where it meets W_hh
    return lstm_cell_step(x, (h_prev, c_prev), weight_ih, weight_hh, bias_ih, bias_hh)


class DropoutLSTM(_RecurrentDropout, LSTM):
    __doc__ = _LAYER_DOC.format(base="LSTM", step="lstm_cell_step")

    def _state_masked_loop(self, x, states, weights, state_mask):
        (h, c), outputs = states, []
        weight_hr = weights[4] if len(weights) > 4 else None
        for x_t, m_t in zip(x, state_mask, strict=True):  # (B, I_l), (B, O)
            h, c = dropout_lstm_cell_step(x_t, (h, c), *weights[:4], state_mask=m_t)
            if weight_hr is not None:
                h = F.linear(h, weight_hr)  # (B, H) -> (B, P)
            outputs.append(h)
        return torch.stack(outputs), (h, c)  # (T, B, O), ((B, O), (B, H))


class DropoutGRU(_RecurrentDropout, GRU):
    __doc__ = _LAYER_DOC.format(
        base="GRU", step="Eq. (4.7)-(4.10) with the mask in the products only"
    )

    def _state_masked_loop(self, x, states, weights, state_mask):
        weight_ih, weight_hh, bias_ih, bias_hh = weights
        h, outputs = states[0], []
        for x_t, m_t in zip(x, state_mask, strict=True):  # (B, I_l), (B, H)
            # gru_cell_step uses h_{t-1} in the product and in Eq. (4.10); only the product
            # sees the mask, so the step is written out here.
            x_r, x_z, x_n = F.linear(x_t, weight_ih, bias_ih).chunk(3, dim=-1)  # (B, H) each
            h_r, h_z, h_n = F.linear(h * m_t, weight_hh, bias_hh).chunk(3, dim=-1)
            r = torch.sigmoid(x_r + h_r)  # Eq. (4.7)
            z = torch.sigmoid(x_z + h_z)  # Eq. (4.8)
            n = torch.tanh(x_n + r * h_n)  # Eq. (4.9)
            h = (1 - z) * n + z * h  # Eq. (4.10), the unmasked h_{t-1}
            outputs.append(h)
        return torch.stack(outputs), (h,)  # (T, B, H), ((B, H),)
