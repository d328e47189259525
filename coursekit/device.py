"""Where tensors live, and how runs are made repeatable.

Every module in coursekit is device-agnostic: tensors follow their inputs and nothing calls
``.cuda()``. Chapters and training loops ask :func:`default_device` once and move the model
there; :func:`seed_everything` makes a run repeatable on the same machine.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["default_device", "seed_everything"]


def default_device() -> torch.device:
    """CUDA when a GPU is visible, else the CPU.

    Setting the environment variable ``COURSEKIT_DEVICE`` (``cpu``, ``cuda``, ``cuda:1`` …)
    overrides the choice, which is how the book is executed on CPU even where a GPU exists.
    """
    name = os.environ.get("COURSEKIT_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python's, NumPy's and torch's generators (CPU and every GPU).

    With ``deterministic=True`` torch is also asked to use deterministic kernels where it has
    them, so a run on the same machine reproduces bit for bit; the book's stored outputs rely
    on it. Returns a fresh CPU :class:`torch.Generator` seeded with ``seed``, for code that
    takes an explicit generator (sampling, data shuffling).
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int; got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)
