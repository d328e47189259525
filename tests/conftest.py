"""Shared test set-up."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Seed torch, and use one thread: tensors this small gain nothing from threads, and on a
    busy 2-core machine OpenMP's waiting threads made the LSTM tests ten times slower. Every
    test starts from torch's default dtype, whatever an earlier one did."""
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
    torch.set_default_dtype(dtype)
