"""The tolerances every torch-equivalence test uses, and the comparison built on them."""

import torch

# DESIGN.md: equal to torch within 1e-10 in float64 and 1e-5 in float32.
TOLERANCE = {
    torch.float64: {"atol": 1e-10, "rtol": 0.0},
    torch.float32: {"atol": 1e-5, "rtol": 0.0},
}


def assert_all_close(actual, expected, dtype=torch.float64):
    """Pairwise torch.testing.assert_close; a None on one side must be None on the other."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        if e is None:
            assert a is None
        else:
            torch.testing.assert_close(a, e, **TOLERANCE[dtype])
