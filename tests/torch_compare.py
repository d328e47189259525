"""The comparison toolkit of the layer tests.

- ``TOLERANCE`` (DESIGN.md's 1e-10 in float64, 1e-5 in float32) and :func:`assert_all_close`;
- :func:`make_pair`: our layer and torch's with torch's parameters copied in by name;
  :func:`forward_and_grads`: the output tensors of one forward pass and the gradients of a
  random upstream gradient with respect to every input and parameter, what the two sides of a
  pair are compared on; :func:`assert_same_parameters` (names, order, shapes);
- inputs: :func:`sequence`, :func:`initial_state`, :func:`cell_weights` (torch's layout),
  :func:`layer_weights` (read out of a torch layer), :func:`zeros`, :func:`to_device`;
- error tables: :func:`raises_table` (a parametrized test over ``{id: (make_error, message)}``)
  and :func:`assert_raises`;
- what RNN, LSTM and GRU share with torch.nn.RNN / LSTM / GRU (:class:`RecurrentLayerSpecs`,
  with the option grid :data:`GRID` and the errors :data:`LAYER_ERRORS`) and what their cells
  share with torch's cells (:class:`CellSpecs`, :data:`CELL_CASES`, :data:`CELL_ERRORS`): a
  test file subclasses them as ``Test...`` and names the two classes;
  :func:`assert_runs_the_fast_path_by_default` for the layers that have a fused path.

Nothing here computes an expected value: every helper builds inputs or runs both sides, and
torch's layer (or a formula in the test) stands on the other side of every assertion. The
``gpu`` marker and the ``products`` fixture live in conftest.py.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

T, B, I, H = 5, 3, 4, 6  # noqa: E741 (the glossary's names: steps, batch, input, hidden)
F64, F32 = torch.float64, torch.float32

# DESIGN.md: equal to torch within 1e-10 in float64 and 1e-5 in float32.
TOLERANCE = {
    torch.float64: {"atol": 1e-10, "rtol": 0.0},
    torch.float32: {"atol": 1e-5, "rtol": 0.0},
}

DTYPES = pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])


def assert_all_close(actual, expected, dtype=torch.float64):
    """Pairwise torch.testing.assert_close; a None on one side must be None on the other."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        if e is None:
            assert a is None
        else:
            torch.testing.assert_close(a, e, **TOLERANCE[dtype])


# --------------------------------------------------------------------------------------------
# pairs, and what they are compared on


def make_pair(ours_cls, torch_cls, *args, dtype=F64, ours_only=None, **kwargs):
    """``ours_cls(*args, **kwargs)`` and ``torch_cls(*args, **kwargs)`` in ``dtype``, torch's
    parameters copied into ours by name (strict: the same names and shapes on both sides).
    ``ours_only`` holds our constructor's own arguments (``fast``)."""
    reference = torch_cls(*args, dtype=dtype, **kwargs)
    ours = ours_cls(*args, dtype=dtype, **(ours_only or {}), **kwargs)
    ours.load_state_dict(reference.state_dict())
    return ours, reference


def tensors_of(value):
    """The tensors in a (nested) output or input, in order: a tensor, a tuple or list, None."""
    if value is None:
        return []
    if isinstance(value, torch.Tensor):
        return [value]
    return [t for v in value for t in tensors_of(v)]


def forward_and_grads(function, *inputs, seed=1):
    """``function(*inputs)``'s output tensors, then the gradients of a random upstream gradient
    (drawn from ``seed``) with respect to every floating-point input tensor and, for a module,
    every parameter in ``parameters()`` order.

    An input may be a tensor, a tuple of tensors (an LSTM's state) or None; each tensor is
    cloned, so the caller's inputs are never touched and the two sides of a comparison read the
    same values."""
    leaves = []

    def leaf(value):
        if value is None:
            return None
        if not isinstance(value, torch.Tensor):
            return type(value)(leaf(v) for v in value)
        value = value.detach().clone()
        if value.is_floating_point():
            leaves.append(value.requires_grad_())
        return value

    outputs = tensors_of(function(*[leaf(v) for v in inputs]))
    generator = torch.Generator().manual_seed(seed)
    upstream = [
        torch.randn(t.shape, generator=generator, dtype=t.dtype).to(t.device) for t in outputs
    ]
    parameters = list(function.parameters()) if isinstance(function, torch.nn.Module) else []
    grads = torch.autograd.grad(outputs, [*leaves, *parameters], upstream)
    return [*outputs, *grads]


def assert_same_parameters(ours, reference):
    """The same parameter names, in the same order, with the same shapes."""
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]


# --------------------------------------------------------------------------------------------
# inputs


def sequence(batched=True, batch_first=False, dtype=F64, size=I, steps=T, batch=B):
    """A random input: (T, B, I), (B, T, I) with batch_first, or (T, I) unbatched."""
    if not batched:
        return torch.randn(steps, size, dtype=dtype)
    shape = (batch, steps, size) if batch_first else (steps, batch, size)
    return torch.randn(shape, dtype=dtype)


def initial_state(num_layers=1, bidirectional=False, batched=True, dtype=F64, size=H, batch=B):
    """A random state of a stacked layer: (D*num_layers, B, size), or (D*num_layers, size)."""
    layers = (2 if bidirectional else 1) * num_layers
    return torch.randn((layers, batch, size) if batched else (layers, size), dtype=dtype)


def cell_weights(gates, input_size=I, hidden_size=H, bias=True, proj_size=0):
    """weight_ih, weight_hh, bias_ih, bias_hh[, weight_hr] as torch lays them out, in float64,
    for a cell of ``gates`` blocks of rows (RNN 1, GRU 3, LSTM 4)."""
    recurrent = proj_size or hidden_size
    weights = [
        torch.randn(gates * hidden_size, input_size, dtype=F64),
        torch.randn(gates * hidden_size, recurrent, dtype=F64) / recurrent,
        torch.randn(gates * hidden_size, dtype=F64) if bias else None,
        torch.randn(gates * hidden_size, dtype=F64) if bias else None,
    ]
    if proj_size:
        weights.append(torch.randn(proj_size, hidden_size, dtype=F64) / hidden_size)
    return weights


def to_device(value, device):
    """A tensor, or a tuple of tensors (an LSTM's state), moved to ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    return type(value)(to_device(v, device) for v in value)


def layer_weights(module, suffix="_l0", names=("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
    """A torch layer's weights of one layer and direction (None where it has none)."""
    return [getattr(module, name + suffix, None) for name in names]


def sigmoid(v):
    """The logistic function written out, for formulas that should not call torch.sigmoid."""
    return 1 / (1 + torch.exp(-v))


def zeros(*shape, dtype=F64):
    """A tensor of zeros: the bad inputs of the error tables."""
    return torch.zeros(shape, dtype=dtype)


def assert_runs_the_fast_path_by_default(monkeypatch, cls, module, name):
    """``cls`` calls ``module.<name>`` (its fast path) once per layer and direction, and never
    once ``fast`` is False: the loop is the readable reference, the fast path the default."""
    calls = []
    fast = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(name)
        return fast(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    ours = cls(I, H, num_layers=2, bidirectional=True)
    ours(sequence(dtype=F32))
    assert calls == [name] * 4  # two layers, two directions
    ours.fast = False
    ours(sequence(dtype=F32))
    assert calls == [name] * 4


# --------------------------------------------------------------------------------------------
# error-case tables


def assert_raises(make_error, message, exception=ValueError):
    """``make_error()`` raises ``exception`` with a message that ``message`` matches."""
    with pytest.raises(exception, match=message):
        make_error()


def raises_table(cases, exception=ValueError):
    """A test over ``cases = {id: (make_error, message)}``: each call raises ``exception`` with
    a message that ``message`` (a regular expression) matches. Assign it to a ``test_`` name."""

    @pytest.mark.parametrize(("make_error", "message"), list(cases.values()), ids=list(cases))
    def test(make_error, message):
        assert_raises(make_error, message, exception)

    return test


# --------------------------------------------------------------------------------------------
# what RNN, LSTM and GRU share with torch's layers

GRID_CASES = [
    {"dtype": dt, "num_layers": L, "bidirectional": bi, "batch_first": bf, "bias": b, "batched": bt}
    for dt, L, bi, bf, b, bt in itertools.product(
        [F64, F32], [1, 2, 3], [False, True], [False, True], [True, False], [True, False]
    )
]
GRID = pytest.mark.parametrize(
    "case",
    GRID_CASES,
    ids=[
        f"L{c['num_layers']}-{'bi' if c['bidirectional'] else 'uni'}-"
        f"{'bf' if c['batch_first'] else 'tf'}-{'bias' if c['bias'] else 'nobias'}-"
        f"{'batched' if c['batched'] else 'unbatched'}-{str(c['dtype'])[6:]}"
        for c in GRID_CASES
    ],
)


# the errors every stacked layer raises alike: ``make_error(cls)`` -> the regular expression
LAYER_ERRORS = {
    "rank": (
        lambda cls: cls(8, H)(zeros(5)),
        r"input must be \(T, B, I\) or \(T, I\) unbatched, with I = 8 \(batch_first=False\); "
        r"got \(5,\)",
    ),
    "feature-size": (
        lambda cls: cls(8, H)(zeros(3, 4, 5)),
        r"input must be \(T, B, I\) .* I = 8 .*got \(3, 4, 5\)",
    ),
    "batch-first-layout": (
        lambda cls: cls(8, H, batch_first=True)(zeros(3, 4, 5)),
        r"input must be \(B, T, I\) or \(T, I\) unbatched, with I = 8 \(batch_first=True\); "
        r"got \(3, 4, 5\)",
    ),
    "empty-sequence": (lambda cls: cls(I, H)(zeros(0, B, I)), r"T >= 1; got \(0, 3, 4\)"),
    "hidden-size-zero": (lambda cls: cls(I, 0), r"hidden_size must be an integer >= 1; got 0"),
    "hidden-size-negative": (
        lambda cls: cls(I, -3),
        r"hidden_size must be an integer >= 1; got -3",
    ),
    "num-layers": (
        lambda cls: cls(I, H, num_layers=0),
        r"num_layers must be an integer >= 1; got 0",
    ),
    "dropout-above-one": (
        lambda cls: cls(I, H, 2, dropout=1.5),
        r"dropout must be a number in \[0, 1\]; got 1.5",
    ),
    "dropout-negative": (
        lambda cls: cls(I, H, 2, dropout=-0.1),
        r"dropout must be a number in \[0, 1\]; got -0.1",
    ),
}

# the errors every cell raises alike
CELL_ERRORS = {
    "cell-rank": (
        lambda cls: cls(I, H)(zeros(T, B, I)),
        r"input must be \(B, I\) or \(I,\) unbatched, with I = 4; got \(5, 3, 4\)",
    ),
    "cell-feature-size": (lambda cls: cls(I, H)(zeros(B, 7)), r"with I = 4; got \(3, 7\)"),
    "cell-hidden-size": (lambda cls: cls(I, 0), r"hidden_size must be an integer >= 1; got 0"),
}


class RecurrentLayerSpecs:
    """The contract a stacked recurrent layer shares with its torch twin.

    A subclass sets ``ours`` and ``reference`` (the classes) and may override the fixtures
    ``options`` (constructor arguments both sides take, e.g. RNN's nonlinearity, LSTM's
    proj_size) and ``path`` (ours alone, e.g. ``{"fast": False}``), and :meth:`state` (an
    LSTM's is a pair). Its grid test calls :meth:`assert_matches_torch`."""

    ours: type
    reference: type

    @pytest.fixture
    def options(self):
        return {}

    @pytest.fixture
    def path(self):
        return {}

    def pair(self, options, path=None, dtype=F64, **kwargs):
        return make_pair(
            self.ours, self.reference, I, H, dtype=dtype, ours_only=path, **options, **kwargs
        )

    def state(self, options, num_layers, bidirectional, batched, dtype=F64):
        return initial_state(num_layers, bidirectional, batched, dtype)

    def assert_matches_torch(self, case, options, path):
        """Values, final states and every gradient over one case of :data:`GRID`."""
        case = dict(case)
        dtype, batched = case.pop("dtype"), case.pop("batched")
        ours, reference = self.pair(options, path, dtype, **case)
        x = sequence(batched, case["batch_first"], dtype)
        hx = self.state(options, case["num_layers"], case["bidirectional"], batched, dtype)
        expected = forward_and_grads(reference, x, hx)
        assert_all_close(forward_and_grads(ours, x, hx), expected, dtype)

    @pytest.mark.parametrize("bidirectional", [False, True])
    @pytest.mark.parametrize("batch_first", [False, True])
    @pytest.mark.parametrize("batched", [True, False])
    def test_without_hx_matches_torch_zero_initial_state(
        self, options, path, bidirectional, batch_first, batched
    ):
        kwargs = {"num_layers": 2, "bidirectional": bidirectional, "batch_first": batch_first}
        ours, reference = self.pair(options, path, **kwargs)
        x = sequence(batched, batch_first)
        assert_all_close(forward_and_grads(ours, x, None), forward_and_grads(reference, x, None))

    @pytest.mark.parametrize("num_layers", [1, 2, 3])
    @pytest.mark.parametrize("bidirectional", [False, True])
    @pytest.mark.parametrize("bias", [True, False])
    def test_parameter_names_order_and_shapes_match_torch(
        self, options, num_layers, bidirectional, bias
    ):
        kwargs = {"bias": bias, "bidirectional": bidirectional, **options}
        ours = self.ours(I, H, num_layers, **kwargs)
        assert_same_parameters(ours, self.reference(I, H, num_layers, **kwargs))

    def test_torch_loads_our_state_dict(self, options):
        ours = self.ours(I, H, num_layers=2, bidirectional=True, **options)
        reference = self.reference(I, H, num_layers=2, bidirectional=True, **options)
        reference.load_state_dict(ours.state_dict())  # strict
        x = torch.randn(T, B, I)
        assert_all_close(tensors_of(ours(x)), tensors_of(reference(x)), F32)

    def test_init_is_uniform_within_one_over_sqrt_hidden_like_torch(self, options):
        bound = 1 / math.sqrt(100)
        for name, p in self.ours(I, 100, 2, bidirectional=True, **options).named_parameters():
            # within the bound, and spread over the whole interval, not zeros
            assert 0.9 * bound < p.abs().max() <= bound, name

    def test_constructor_dtype_sets_parameter_dtype(self, options):
        ours = self.ours(I, H, num_layers=2, dtype=F64, **options)
        assert all(p.dtype == F64 for p in ours.parameters())

    def test_outputs_follow_input_dtype(self, options, path):
        ours = self.ours(I, H, **options, **path).double()
        assert all(t.dtype == F64 for t in tensors_of(ours(sequence())))

    def test_without_grad_matches_torch(self, options, path):
        ours, reference = self.pair(options, path, num_layers=2, bidirectional=True)
        x = sequence()
        with torch.no_grad():
            assert_all_close(tensors_of(ours(x)), tensors_of(reference(x)))

    # dropout

    def test_eval_mode_with_dropout_matches_torch_eval_mode(self, options, path):
        ours, reference = self.pair(options, path, num_layers=3, dropout=0.5, bidirectional=True)
        x = sequence()
        assert_all_close(tensors_of(ours.eval()(x)), tensors_of(reference.eval()(x)))

    def test_train_mode_dropout_between_layers_changes_output(self, options):
        ours, _ = self.pair(options, num_layers=2, dropout=0.5)
        x = sequence()
        assert not torch.allclose(ours.train()(x)[0], ours.eval()(x)[0])

    def test_dropout_one_in_training_zeroes_next_layer_input_like_torch(self, options, path):
        # p = 1 is deterministic: every layer but the first sees zeros, in torch as in ours.
        ours, reference = self.pair(options, path, num_layers=3, dropout=1.0, bidirectional=True)
        x = sequence()
        assert_all_close(tensors_of(ours.train()(x)), tensors_of(reference.train()(x)))

    def test_dropout_with_one_layer_warns_like_torch_and_changes_nothing(self, options):
        with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
            reference = self.reference(I, H, dropout=0.5, dtype=F64, **options)
        with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
            ours = self.ours(I, H, dropout=0.5, dtype=F64, **options)
        ours.load_state_dict(reference.state_dict())
        x = sequence()
        assert_all_close(tensors_of(ours.train()(x)), tensors_of(reference.eval()(x)))

    @pytest.mark.parametrize(
        ("make_error", "message"), list(LAYER_ERRORS.values()), ids=list(LAYER_ERRORS)
    )
    def test_bad_input_raises_value_error_naming_the_expected_shape(self, make_error, message):
        assert_raises(lambda: make_error(self.ours), message)

    # device

    @pytest.mark.gpu
    @DTYPES
    def test_on_cuda_matches_torch_on_cuda(self, options, path, dtype):
        kwargs = {"num_layers": 2, "bidirectional": True, "batch_first": True}
        ours, reference = (m.to("cuda") for m in self.pair(options, path, dtype, **kwargs))
        x = sequence(batch_first=True, dtype=dtype).to("cuda")
        hx = to_device(self.state(options, 2, True, True, dtype), "cuda")
        actual, expected = forward_and_grads(ours, x, hx), forward_and_grads(reference, x, hx)
        assert actual[0].device.type == "cuda"
        # cuDNN's float32 sums in another order: allow float32's rounding, as the CPU tests do
        assert_all_close([t.cpu() for t in actual], [t.cpu() for t in expected], dtype)


class CellSpecs:
    """The contract a cell (RNNCell, LSTMCell, GRUCell) shares with torch's: a subclass sets
    ``ours`` and ``reference`` and may override ``options`` and :meth:`state`; its test that
    the cell matches torch calls :meth:`assert_matches_torch`."""

    ours: type
    reference: type

    @pytest.fixture
    def options(self):
        return {}

    def state(self, batched):
        return torch.randn((B, H) if batched else (H,), dtype=F64)

    def assert_matches_torch(self, options, batched, bias, given_hx):
        """Values and every gradient, batched or not, with and without a given state."""
        ours, reference = make_pair(self.ours, self.reference, I, H, bias=bias, **options)
        x = torch.randn((B, I) if batched else (I,), dtype=F64)
        hx = self.state(batched) if given_hx else None
        assert_all_close(forward_and_grads(ours, x, hx), forward_and_grads(reference, x, hx))

    def test_cell_parameter_names_and_shapes_match_torch(self, options):
        assert_same_parameters(self.ours(I, H, **options), self.reference(I, H, **options))

    @pytest.mark.parametrize(
        ("make_error", "message"), list(CELL_ERRORS.values()), ids=list(CELL_ERRORS)
    )
    def test_bad_input_raises_value_error_naming_the_expected_shape(self, make_error, message):
        assert_raises(lambda: make_error(self.ours), message)


CELL_CASES = pytest.mark.parametrize(
    ("batched", "bias", "given_hx"),
    list(itertools.product([True, False], repeat=3)),
    ids=[
        f"{'batched' if bt else 'unbatched'}-{'bias' if b else 'nobias'}-{'hx' if h else 'nohx'}"
        for bt, b, h in itertools.product([True, False], repeat=3)
    ],
)
