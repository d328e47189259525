"""Evaluate one function on given inputs: its outputs and the gradients of a fixed cotangent.

This module is the only grading code that runs beside student code. It imports nothing from
coursekit (the sandbox loads it by path, before coursekit is blocked), and it decides nothing:
it returns numbers, and the comparison with the reference happens in the grader's process
(:mod:`coursekit.grading.checks`).

Arguments travel as a small JSON-able structure whose leaves name arrays:

    {"t": "a0"}                  a float64 tensor from the array store (gradients are taken)
    {"t": "a0", "dtype": "int64"} a tensor of another dtype (token ids, masks): no gradient
    {"seq": [<arg>, ...]}        a tuple of arguments (e.g. a 4-tuple of weights)
    {"lit": <json value>}        a literal: a string, a number, None
    {"gen": <seed>}              a fresh ``torch.Generator`` seeded with ``seed`` (sampling)
    {"elman_step": [E, W, U, c]} a decoder step ``step(ids (B,), h) -> (logits (B, V), h)`` of an
                                 Elman cell, h = tanh(E[ids] + h W^T), logits = h U^T + c, the
                                 state zeros (B, H) when None (chapter 8's ``decode``): E (V, H),
                                 W (H, H), U (V, H), c (V,) are arguments, so gradients reach them
    {"elman_log_step": [E, W, U, c]} the same decoder step returning log_softmax of its logits,
                                 ``step(ids, h) -> (log_probs (B, V), h)``: the next-token
                                 log-probabilities a beam search takes (chapter 9); E may
                                 have more rows than U (ids fed but never produced: <bos>)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["build_args", "evaluate", "flatten_outputs", "is_leaf"]


def is_leaf(spec: Any) -> bool:
    """Whether a tensor argument is differentiable: float64 and not marked ``"grad": False``."""
    return spec.get("dtype", "float64") == "float64" and spec.get("grad", True)


def build_args(spec: Any, arrays: dict[str, np.ndarray], leaves: list[torch.Tensor]) -> Any:
    """Turn an argument structure into Python values; differentiable leaves go into ``leaves``."""
    if "t" in spec:
        tensor = torch.from_numpy(np.array(arrays[spec["t"]], dtype=spec.get("dtype", "float64")))
        if is_leaf(spec):
            tensor.requires_grad_(True)
            leaves.append(tensor)
        return tensor
    if "seq" in spec:
        return tuple(build_args(item, arrays, leaves) for item in spec["seq"])
    if "map" in spec:
        return {key: build_args(item, arrays, leaves) for key, item in spec["map"].items()}
    if "lit" in spec:
        return spec["lit"]
    if "gen" in spec:
        return torch.Generator().manual_seed(int(spec["gen"]))
    if "elman_step" in spec:
        return _elman_step(*(build_args(item, arrays, leaves) for item in spec["elman_step"]))
    if "elman_log_step" in spec:
        step = _elman_step(*(build_args(item, arrays, leaves) for item in spec["elman_log_step"]))
        return _log_probabilities(step)
    raise ValueError(f"unknown argument spec {spec!r}")


def _elman_step(embedding, weight_hh, weight_out, bias_out):
    """The decoder step of an ``{"elman_step": ...}`` argument (module docstring)."""

    def step(ids, state):
        if state is None:
            state = embedding.new_zeros(ids.shape[0], embedding.shape[1])
        state = torch.tanh(embedding[ids] + state @ weight_hh.T)  # (B, H)
        return state @ weight_out.T + bias_out, state  # (B, V), (B, H)

    return step


def _log_probabilities(step):
    """``step`` with its logits turned into log-probabilities (an ``elman_log_step``)."""

    def log_step(ids, state):
        logits, state = step(ids, state)
        return torch.log_softmax(logits, dim=-1), state  # (B, V)

    return log_step


def flatten_outputs(result: Any) -> list[Any]:
    """A tensor or number, or a (nested) tuple/list/dict of them, as a flat list.

    Dicts are flattened in sorted key order; ``None`` entries stay (an absent gradient, say).
    """
    if isinstance(result, (tuple, list)):
        return [leaf for item in result for leaf in flatten_outputs(item)]
    if isinstance(result, dict):
        return [leaf for key in sorted(result) for leaf in flatten_outputs(result[key])]
    return [result]


def _as_array(i: int, out: Any) -> np.ndarray | None:
    if out is None:
        return None
    if isinstance(out, torch.Tensor):
        return out.detach().cpu().double().numpy()
    if isinstance(out, (bool, int, float, np.number)):
        return np.asarray(out, dtype=np.float64)
    raise TypeError(f"output {i} is a {type(out).__name__}, not a torch.Tensor")


def evaluate(
    fn: Any,
    args: list[Any],
    kwargs: dict[str, Any],
    arrays: dict[str, np.ndarray],
    cotangents: list[np.ndarray] | Callable[[list[tuple[int, ...]]], list[np.ndarray]] | None,
) -> dict[str, np.ndarray]:
    """Call ``fn``; return ``{"n": number of outputs, "o0": output 0, …, "g0": grad of leaf 0, …}``.

    The gradients are vector–Jacobian products with the given ``cotangents`` (one per output),
    so a single backward pass checks every input's gradient. ``cotangents`` may be a function
    of the output shapes that draws them (the grader's side does this), or None when the
    function's gradients are not checked. ``None`` outputs and leaves that receive no gradient
    are absent from the result. Raises whatever ``fn`` raises, or ``TypeError`` for an output
    that is not a tensor or a number.
    """
    leaves: list[torch.Tensor] = []
    call_args = [build_args(a, arrays, leaves) for a in args]
    call_kwargs = {k: build_args(v, arrays, leaves) for k, v in kwargs.items()}
    with torch.enable_grad():
        outputs = flatten_outputs(fn(*call_args, **call_kwargs))
    result = {"n": np.asarray(len(outputs))}
    for i, out in enumerate(outputs):
        array = _as_array(i, out)
        if array is not None:
            result[f"o{i}"] = array
    if callable(cotangents):
        cotangents = cotangents([tuple(o.shape) if o is not None else None for o in outputs])
    pairs = [
        (out, torch.from_numpy(cot).to(out.dtype))
        for out, cot in zip(outputs, cotangents or [], strict=False)
        if isinstance(out, torch.Tensor)
        and out.requires_grad
        and cot is not None
        and tuple(out.shape) == cot.shape
    ]
    if pairs and leaves:
        grads = torch.autograd.grad(
            [o for o, _ in pairs], leaves, [c for _, c in pairs], allow_unused=True
        )
        for i, grad in enumerate(grads):
            if grad is not None:
                result[f"g{i}"] = grad.detach().cpu().double().numpy()
    return result
