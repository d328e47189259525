"""Scheduled sampling (计划采样) against exposure bias (训练推理失配) (chapter 8).

Read first: :func:`decode`, the one decoding loop of the chapter. A recurrent decoder is
trained with teacher forcing (教师强制): at step t it is fed the true previous token y_{t-1}.
At inference it is fed its own previous prediction ŷ_{t-1} (free running), so it meets
histories it never saw in training, and one wrong token can derail every token after it
(exposure bias, Ranzato et al. 2016). Scheduled sampling (Bengio et al. 2015) flips a coin
for every token: with probability ε_i, the true token; otherwise the model's prediction,
Eq. (8.1). ε_i falls over training, from teacher forcing towards free running, a curriculum
(课程学习) from easy to hard: :func:`linear_schedule`, :func:`exponential_schedule` and
:func:`inverse_sigmoid_schedule`, Eqs. (8.2)-(8.4) (the paper's §2.4 and Fig. 2).
:func:`per_position_error`, Eq. (8.5), turns exposure bias into a number, and
:func:`exposure_bias` compares a model's free-running and teacher-forced errors position by
position.

Equations (i the training step, t the position in the sequence, ε_i = P(feed the true token)):

    (8.1)  x_t = y_{t-1}  if c_{t} = 1,  else ŷ_{t-1};   c_t ~ Bernoulli(ε_i), per token
           ŷ_{t-1} = argmax_v z_{t-1,v}  (or a draw from softmax(z_{t-1})), z the logits
    (8.2)  ε_i = max(ε_min, k - c·i)                 linear decay: offset k, slope c >= 0
    (8.3)  ε_i = k^i,  0 < k < 1                      exponential decay
    (8.4)  ε_i = k / (k + exp(i / k)),  k >= 1        inverse sigmoid decay; ε_0 = k / (k + 1)
    (8.5)  err_t = (1/B) Σ_b [ŷ_{b,t} != y_{b,t}]    error rate at position t

ε_i = 1 for every i is teacher forcing; ε_i = 0 is free running, which is how the model is
used at test time. The first input x_0 (a start token, or the last token of a prompt) is given,
so there is no coin for it.

The gradient and the choice. The fed token is an integer id: an arg-max or a draw from a
categorical has no derivative, so no gradient flows from step t's loss into step t-1's logits
through the token that was fed (the paper does not back-propagate through that decision
either). The gradient of a scheduled-sampling step is that of teacher forcing on the sequence
that was actually fed, x; the decoder's recurrent state still carries gradient through time
as usual (test_gradient_does_not_flow_through_the_fed_prediction). Differentiable relaxations
(feeding the expected embedding softmax(z)·E, Goyal et al. 2017) are not offered here.

Dimension glossary (batch first: token ids are (B, T), as a data loader gives them):

    B  batch size        T  decoded positions        V  vocabulary size

Tests: tests/test_scheduled_sampling.py (closed forms computed by hand, hand-written
teacher-forced, free-running and coin-flipping loops around a tiny GRU decoder).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from coursekit._checks import (
    check_fraction,
    check_nonnegative,
    check_nonnegative_int,
    describe,
    is_real,
)
from coursekit.sampling import sample_next

__all__ = [
    "Decoded",
    "ExposureBias",
    "choose_inputs",
    "coin_flips",
    "decode",
    "exponential_schedule",
    "exposure_bias",
    "inverse_sigmoid_schedule",
    "linear_schedule",
    "per_position_error",
]


# ---------------------------------------------------------------------------------------------
# The schedules: ε_i, the probability of feeding the true token at training step i.


def linear_schedule(step: int, *, start: float = 1.0, slope: float, minimum: float) -> float:
    """Eq. (8.2): ``max(minimum, start - slope * step)``, the paper's linear decay.

    ``start`` is the paper's offset k and ``slope`` its c (>= 0); ``minimum`` (the paper's ε)
    is the least truth the model is ever given, ``0 <= minimum <= start <= 1``.
    """
    check_nonnegative_int(step=step)
    check_fraction(start=start, minimum=minimum)
    check_nonnegative(slope=slope)
    if minimum > start:
        raise ValueError(f"minimum must be <= start; got minimum={minimum!r}, start={start!r}")
    return max(float(minimum), float(start) - float(slope) * step)


def exponential_schedule(step: int, *, k: float) -> float:
    """Eq. (8.3): ``k ** step`` with ``0 < k < 1``, the paper's exponential decay."""
    check_nonnegative_int(step=step)
    if not is_real(k) or not 0 < k < 1:
        raise ValueError(f"k must be a number in (0, 1); got {k!r}")
    return float(k) ** step


def inverse_sigmoid_schedule(step: int, *, k: float) -> float:
    """Eq. (8.4): ``k / (k + exp(step / k))`` with ``k >= 1``, the paper's inverse sigmoid.

    It starts at ``k / (k + 1)`` (not 1), stays near it while ``exp(step / k)`` is small next to
    k, crosses 1/2 at ``step = k ln k`` and then falls like ``k exp(-step / k)``. Computed as
    ``1 / (1 + exp(step / k - ln k))``, which cannot overflow.
    """
    check_nonnegative_int(step=step)
    if not is_real(k) or not k >= 1:
        raise ValueError(f"k must be a number >= 1; got {k!r}")
    x = step / k - math.log(k)
    if x > 700:  # exp would overflow; 1 / (1 + e^x) = e^-x to double precision here
        return math.exp(-x)
    return 1.0 / (1.0 + math.exp(x))


# ---------------------------------------------------------------------------------------------
# One step's choice: a coin per token, Eq. (8.1).


def coin_flips(
    shape, p_true: float, generator: torch.Generator | None = None, *, device=None
) -> torch.Tensor:
    """A bool tensor of ``shape`` whose entries are independently True with probability
    ``p_true``: the coins c_t of Eq. (8.1), one per token.

    Drawn as ``torch.rand(shape, generator=generator) < p_true`` on the generator's device
    (the global generator when None) and returned on ``device`` (default: where they were
    drawn), so a CPU generator gives the same flips for a decoder on any device. ``p_true``
    of exactly 1 or 0 draws nothing: all True (teacher forcing) or all False (free running).
    """
    check_fraction(p_true=p_true)
    draw_device = generator.device if generator is not None else device
    if p_true == 1 or p_true == 0:
        return torch.full(shape, p_true == 1, dtype=torch.bool, device=device or draw_device)
    flips = torch.rand(shape, generator=generator, device=draw_device) < p_true
    return flips if device is None else flips.to(device)


def choose_inputs(
    true_tokens: torch.Tensor, predicted_tokens: torch.Tensor, use_true: torch.Tensor
) -> torch.Tensor:
    """Eq. (8.1) for one step: ``true_tokens`` where ``use_true``, else ``predicted_tokens``.

    Three tensors of one shape (B,): ids, ids and bool coins. The result is an id tensor; it
    carries no gradient to whatever produced ``predicted_tokens``.
    """
    for name, ids in (("true_tokens", true_tokens), ("predicted_tokens", predicted_tokens)):
        if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
            got = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise ValueError(f"{name} must be a LongTensor of token ids; got {got}")
    if not isinstance(use_true, torch.Tensor) or use_true.dtype != torch.bool:
        got = use_true.dtype if isinstance(use_true, torch.Tensor) else type(use_true).__name__
        raise ValueError(f"use_true must be a bool tensor of coin flips; got {got}")
    if not true_tokens.shape == predicted_tokens.shape == use_true.shape:
        raise ValueError(
            "true_tokens, predicted_tokens and use_true must have one shape; got "
            f"{tuple(true_tokens.shape)}, {tuple(predicted_tokens.shape)}, "
            f"{tuple(use_true.shape)}"
        )
    return torch.where(use_true, true_tokens, predicted_tokens)


# ---------------------------------------------------------------------------------------------
# Decoding: teacher forcing, free running and scheduled sampling in one loop.

DecoderStep = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]


class Decoded(NamedTuple):
    """What :func:`decode` returns (batch first)."""

    logits: torch.Tensor  # (B, T, V): z_t, the scores of position t's token (train on these)
    inputs: torch.Tensor  # (B, T): x_t, the ids fed at each step (x_0 = first_input)
    predictions: torch.Tensor  # (B, T): ŷ_t, the arg-max (or draw) of z_t
    use_true: torch.Tensor  # (B, T) bool: the coins, c_t; column 0 (x_0 is given) is True
    state: object  # the decoder's state after the last step


def _check_decode_inputs(first_input, targets):
    if not isinstance(targets, torch.Tensor) or targets.dim() != 2 or targets.dtype != torch.long:
        raise ValueError(
            f"targets must be a (B, T) LongTensor of token ids; got {describe(targets)}"
        )
    if targets.shape[1] == 0:
        raise ValueError(f"targets must have T >= 1 positions; got {tuple(targets.shape)}")
    if (
        not isinstance(first_input, torch.Tensor)
        or first_input.shape != targets.shape[:1]
        or first_input.dtype != torch.long
    ):
        raise ValueError(
            f"first_input must be a ({targets.shape[0]},) LongTensor (B,), one id per "
            f"sequence of targets {tuple(targets.shape)}; got {describe(first_input)}"
        )


def decode(
    decoder_step: DecoderStep,
    first_input: torch.Tensor,
    targets: torch.Tensor,
    *,
    p_true: float,
    state=None,
    generator: torch.Generator | None = None,
    sample: bool = False,
) -> Decoded:
    """Run a recurrent decoder over ``T = targets.shape[1]`` positions, feeding it, at each
    step after the first, the true previous token with probability ``p_true`` and its own
    previous prediction otherwise, Eq. (8.1).

    ``decoder_step(token_ids (B,), state) -> (logits (B, V), state)`` is the model (a
    ``GRUCell`` behind an embedding, with a linear readout; ``state=None`` at the start unless
    a ``state`` is given, e.g. after reading a prompt). ``first_input (B,)`` is x_0, the
    given first input; ``targets (B, T)`` are y_0 ... y_{T-1}, the tokens position t should
    predict. Step t feeds x_t and scores y_t; for t >= 1, x_t is ``targets[:, t-1]`` where
    the step's coin (:func:`coin_flips`, fresh for every token and every step) says so and
    ŷ_{t-1} otherwise: the arg-max of step t-1's logits, or with ``sample=True`` a draw from
    their softmax (:func:`coursekit.sampling.sample_next`). ``p_true=1`` is teacher forcing,
    ``p_true=0`` free running; neither draws a coin.

    Random numbers come from ``generator`` (the global one when None), in this order: after
    step t the draw of ŷ_t (only when ``sample``), then step t+1's coins. The predictions are
    taken from detached logits: no gradient flows through the fed token (module docstring).
    Returns :class:`Decoded`; train on ``cross_entropy(logits, targets)``.
    """
    _check_decode_inputs(first_input, targets)
    check_fraction(p_true=p_true)
    B, T = targets.shape
    inputs, fed, logits, predictions, coins = first_input, [], [], [], []
    coin = torch.ones(B, dtype=torch.bool, device=targets.device)  # x_0 is given
    for t in range(T):
        if t > 0:
            coin = coin_flips((B,), p_true, generator, device=targets.device)  # (B,)
            inputs = choose_inputs(targets[:, t - 1], predictions[-1], coin)  # (B,)
        step_logits, state = decoder_step(inputs, state)  # (B, V)
        if step_logits.dim() != 2 or step_logits.shape[0] != B:
            raise ValueError(
                f"decoder_step must return logits (B, V) = ({B}, V); got {tuple(step_logits.shape)}"
            )
        scores = step_logits.detach()
        if not sample:
            prediction = scores.argmax(dim=-1)  # (B,)
        else:
            draw_device = generator.device if generator is not None else scores.device
            prediction = sample_next(scores.to(draw_device), 1.0, None, generator)
            prediction = prediction.to(scores.device)  # (B,)
        fed.append(inputs)
        logits.append(step_logits)
        predictions.append(prediction)
        coins.append(coin)
    return Decoded(
        logits=torch.stack(logits, dim=1),  # (B, T, V)
        inputs=torch.stack(fed, dim=1),  # (B, T)
        predictions=torch.stack(predictions, dim=1),  # (B, T)
        use_true=torch.stack(coins, dim=1),  # (B, T)
        state=state,
    )


# ---------------------------------------------------------------------------------------------
# Exposure bias as a number.


def per_position_error(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Eq. (8.5): the fraction of the batch whose token at position t is wrong.

    predictions, targets (B, T) of ids -> (T,) in torch's default float dtype. Under free
    running, a wrong token at t is fed back, so err_t grows with t when errors compound.
    """
    for name, ids in (("predictions", predictions), ("targets", targets)):
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.is_floating_point():
            got = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise ValueError(f"{name} must be a (B, T) tensor of token ids; got {got}")
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions and targets must both be (B, T); got {tuple(predictions.shape)} "
            f"and {tuple(targets.shape)}"
        )
    wrong = (predictions != targets).to(torch.get_default_dtype())  # (B, T)
    return wrong.mean(dim=0)  # (T,)


class ExposureBias(NamedTuple):
    """Per-position error rates (T,) of one model on one set of sequences."""

    teacher_forced: torch.Tensor  # (T,): fed the true history, as in training
    free_running: torch.Tensor  # (T,): fed its own arg-max predictions, as at test time


def exposure_bias(
    decoder_step: DecoderStep, first_input: torch.Tensor, targets: torch.Tensor, *, state=None
) -> ExposureBias:
    """A model's per-position error, Eq. (8.5), teacher-forced and free-running (greedy), on
    the same ``targets (B, T)`` from the same ``first_input (B,)`` and ``state``, without
    gradients. Position 0 sees the same input either way, so the two agree there; the gap at
    later positions is the exposure bias."""
    with torch.no_grad():
        forced = decode(decoder_step, first_input, targets, p_true=1.0, state=state)
        free = decode(decoder_step, first_input, targets, p_true=0.0, state=state)
    return ExposureBias(
        teacher_forced=per_position_error(forced.predictions, targets),
        free_running=per_position_error(free.predictions, targets),
    )
