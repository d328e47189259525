"""The argument checks every module of the library shares.

Each raises ``ValueError`` naming the argument, what it must be and what it got, so that a
student's mistake reads as a sentence ("hidden_size must be an integer >= 1; got 0"). They
take keyword arguments, so one call checks several values by name:
``check_positive_int(input_size=input_size, hidden_size=hidden_size)``.
"""

from __future__ import annotations

import numbers

import torch


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive_int(**values) -> None:
    """Sizes, counts and lengths that must be whole numbers >= 1."""
    for name, value in values.items():
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")


def check_nonnegative_int(**values) -> None:
    """Counts that may be zero (a generation length, a number of draws)."""
    for name, value in values.items():
        if not _is_int(value) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0; got {value!r}")


def check_positive(**values) -> None:
    """Real numbers that must be > 0 (a learning rate, a clipping threshold); None is allowed
    and means "not used"."""
    for name, value in values.items():
        if value is not None and (not is_real(value) or not value > 0):
            raise ValueError(f"{name} must be positive; got {value!r}")


def check_nonnegative(**values) -> None:
    """Real numbers that must be >= 0 (a smoothing constant)."""
    for name, value in values.items():
        if not is_real(value) or not value >= 0:
            raise ValueError(f"{name} must be >= 0; got {value!r}")


def check_fraction(**values) -> None:
    """Probabilities and rates in [0, 1] (a dropout rate)."""
    for name, value in values.items():
        if not is_real(value) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}")


def describe(value) -> str:
    """What an error message says was given: a tensor's shape and dtype, else the type."""
    if isinstance(value, torch.Tensor):
        return f"{tuple(value.shape)} {value.dtype}"
    return type(value).__name__


def check_ids(name: str, ids, min_length: int = 0) -> None:
    """A 1-D LongTensor of token ids (L,) with at least ``min_length`` of them."""
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.dtype != torch.long:
        raise ValueError(f"{name} must be a 1-D LongTensor of token ids (L,); got {describe(ids)}")
    if len(ids) < min_length:
        raise ValueError(f"{name} needs at least {min_length} tokens; got {len(ids)}")


def detach_state(state):
    """Cut the graph behind a recurrent state: a tensor, a tuple of tensors (an LSTM's (h, c))
    or None, returned in the same structure."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)
