"""Shared test set-up: the seed and thread fixture, the ``gpu`` marker (registered in
pyproject.toml) skipped without CUDA, the ``products`` fixture."""

import math

import pytest
import torch


def pytest_configure(config):
    """Refuse ``--dist loadgroup`` where pytest-xdist cannot keep a group on one worker.

    It does so by adding ``@group`` to the node ids, which pytest-xdist 3.8 writes where pytest
    up to 9.1 keeps them; from pytest 9.2 the write is lost, groups are silently split, and
    every expensive module fixture (a class graded through nbgrader) runs on every worker:
    the suite took half again as long, and nothing said why."""
    if config.getoption("dist", "no") != "loadgroup" or hasattr(config, "workerinput"):
        return
    import xdist

    xdist_version = tuple(int(p) for p in xdist.__version__.split(".")[:2])
    if pytest.version_tuple[:2] >= (9, 2) and xdist_version <= (3, 8):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} with pytest-xdist {xdist.__version__} splits the "
            "xdist_group groups of --dist loadgroup; install pytest<9.2 (requirements.txt)"
        )


def pytest_collection_modifyitems(config, items):
    """Skip every test marked ``gpu`` where torch sees no CUDA device (``pytest -m gpu``
    selects them)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


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


@pytest.fixture(
    params=[
        pytest.param(
            "onednn",
            marks=pytest.mark.skipif(
                not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN"
            ),
        ),
        "torch.mm",
    ]
)
def products(request, monkeypatch):
    """Run the fused kernels' float32 CPU products through oneDNN at any size, or never (the
    two branches of coursekit._fused)."""
    import coursekit._fused  # here, so that a test run that never asks for it never imports it

    threshold = 0 if request.param == "onednn" else math.inf
    monkeypatch.setattr(coursekit._fused, "_ONEDNN_MIN_MACS", threshold)
    return request.param
