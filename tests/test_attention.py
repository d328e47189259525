"""Specifications of coursekit.attention (chapter 9).

On the other side of every assertion: torch.nn.functional.scaled_dot_product_attention (values
and gradients, float64, masks included), Eqs. (9.7)-(9.12) written out as loops over the query
i and the key j with math.exp, or torch.autograd.gradcheck. Where we differ from torch on
purpose (a fully masked row) the test says so.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from coursekit.attention import (
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    additive_score,
    attend,
    dot_score,
    general_score,
    masked_softmax,
    scaled_dot_product_attention,
)
from tests.torch_compare import (
    DTYPES,
    F64,
    assert_all_close,
    forward_and_grads,
    raises_table,
    zeros,
)

B, Tq, Tk, Q, K, Dv, H = 3, 4, 6, 5, 7, 2, 8
LENGTHS = [6, 4, 1]  # the real keys of each source; the rest is padding


def padding_mask(lengths=LENGTHS, width=Tk):
    """(B, Tk) True at the first lengths[b] positions (real tokens), False at padding."""
    return torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]


def inputs(query_dims=2, query_size=Q, key_size=K, dtype=F64):
    shape = (B, query_size) if query_dims == 2 else (B, Tq, query_size)
    return (
        torch.randn(shape, dtype=dtype),
        torch.randn(B, Tk, key_size, dtype=dtype),
        torch.randn(B, Tk, Dv, dtype=dtype),
    )


def softmax_and_context_loop(e, values, mask):
    """Eqs. (9.11)-(9.12) for one source, written out: e[i][j] plain floats (one row per
    query), values (Tk, Dv), mask (Tk,) bool -> (context (n_queries, Dv), α (n_queries, Tk))."""
    alphas, contexts = [], []
    for row in e:
        kept = [j for j in range(len(row)) if mask[j]]
        total = sum(math.exp(row[j]) for j in kept)
        alpha = [math.exp(row[j]) / total if mask[j] else 0.0 for j in range(len(row))]
        contexts.append([sum(alpha[j] * float(values[j, d]) for j in kept) for d in range(Dv)])
        alphas.append(alpha)
    return torch.tensor(contexts, dtype=F64), torch.tensor(alphas, dtype=F64)


def as_queries(query):
    """(B, Q) -> (B, 1, Q); (B, Tq, Q) unchanged: the loops below take rows of queries."""
    return query[:, None] if query.dim() == 2 else query


def squeeze_like(query, context, weights):
    return (context[:, 0], weights[:, 0]) if query.dim() == 2 else (context, weights)


# --------------------------------------------------------------------------------------------
# The three score forms against loops over i and j: Eqs. (9.7)-(9.9), with (9.11)-(9.12)


@pytest.mark.parametrize("query_dims", [2, 3], ids=["one-query", "Tq-queries"])
def test_additive_score_equals_a_loop_over_the_formula(query_dims):
    attention = AdditiveAttention(Q, K, H, dtype=F64)
    query, keys, values = inputs(query_dims)
    mask = padding_mask()
    contexts, alphas = [], []
    W, U, w = (p.detach() for p in (attention.W, attention.U, attention.w))
    for b in range(B):
        e = [
            [float(w @ torch.tanh(W @ s + U @ keys[b, j])) for j in range(Tk)]  # Eq. (9.7)
            for s in as_queries(query)[b]
        ]
        context, alpha = softmax_and_context_loop(e, values[b], mask[b])
        contexts.append(context)
        alphas.append(alpha)
    expected = squeeze_like(query, torch.stack(contexts), torch.stack(alphas))
    actual = attention(query, keys, values, mask)
    assert_all_close(actual, expected)


@pytest.mark.parametrize("query_dims", [2, 3], ids=["one-query", "Tq-queries"])
def test_dot_and_general_scores_equal_loops_over_the_formulas(query_dims):
    query, keys, values = inputs(query_dims, query_size=K)
    general = GeneralAttention(Q, K, dtype=F64)
    query_q = inputs(query_dims)[0]
    mask = padding_mask()
    for attention, q, score in (
        (DotAttention(), query, lambda s, h: float(s @ h)),  # Eq. (9.8)
        (general, query_q, lambda s, h: float(s @ general.W.detach() @ h)),  # Eq. (9.9)
    ):
        contexts, alphas = [], []
        for b in range(B):
            e = [[score(s, keys[b, j]) for j in range(Tk)] for s in as_queries(q)[b]]
            context, alpha = softmax_and_context_loop(e, values[b], mask[b])
            contexts.append(context)
            alphas.append(alpha)
        expected = squeeze_like(q, torch.stack(contexts), torch.stack(alphas))
        assert_all_close(attention(q, keys, values, mask), expected)


def test_functional_scores_equal_the_modules():
    query, keys, values = inputs(3)
    additive, general = AdditiveAttention(Q, K, H, dtype=F64), GeneralAttention(Q, K, dtype=F64)
    mask = padding_mask()
    with torch.no_grad():
        for module, scores in (
            (additive, additive_score(query, keys, additive.W, additive.U, additive.w)),
            (general, general_score(query, keys, general.W)),
        ):
            # the softmax of the functional score, by hand (no padding here: mask all True)
            expected = torch.softmax(scores, dim=-1)
            assert_all_close([module(query, keys, values)[1]], [expected])
            assert_all_close(attend(scores, values, mask), module(query, keys, values, mask))
        q = torch.randn(B, Tq, K, dtype=F64)
        assert_all_close([dot_score(q, keys)], [torch.einsum("bik,bjk->bij", q, keys)])


@pytest.mark.parametrize("name", ["additive", "dot", "scaled dot", "general"])
def test_projected_keys_give_the_same_attention(name):
    """A decoder projects the keys once and passes them to every step; the keys it is given
    are then ignored, so a wrong projection would show."""
    size = K if "dot" in name else Q
    query, keys, values = inputs(2, query_size=size)
    module = {
        "additive": lambda: AdditiveAttention(Q, K, H, dtype=F64),
        "dot": DotAttention,
        "scaled dot": lambda: DotAttention(scaled=True),
        "general": lambda: GeneralAttention(Q, K, dtype=F64),
    }[name]()
    mask = padding_mask()
    expected = module(query, keys, values, mask)
    projected = module.project_keys(keys)
    got = module(query, torch.zeros_like(keys), values, mask, projected_keys=projected)
    assert_all_close(got, expected)


def test_a_batch_of_queries_equals_one_query_at_a_time():
    query, keys, values = inputs(3)
    mask = padding_mask()
    for attention in (AdditiveAttention(Q, K, H, dtype=F64), GeneralAttention(Q, K, dtype=F64)):
        context, weights = attention(query, keys, values, mask)
        for i in range(Tq):
            assert_all_close(
                (context[:, i], weights[:, i]), attention(query[:, i], keys, values, mask)
            )


def test_scaled_dot_attention_module_equals_torch_with_a_key_padding_mask():
    query, keys, values = inputs(3, query_size=K)
    mask = padding_mask()

    def reference(q, k, v):  # torch's bool attn_mask: True = take part, as our mask
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, :])

    def ours(q, k, v):
        return DotAttention(scaled=True)(q, k, v, mask)[0]

    assert_all_close(
        forward_and_grads(ours, query, keys, values),
        forward_and_grads(reference, query, keys, values),
    )


# --------------------------------------------------------------------------------------------
# Masking: padded keys get weight exactly 0, and nothing about them reaches the output


MODULES = {
    "additive": lambda: AdditiveAttention(Q, K, H, dtype=F64),
    "dot": lambda: DotAttention(),
    "general": lambda: GeneralAttention(Q, K, dtype=F64),
}


def query_for(name, query_dims=2):
    return inputs(query_dims, query_size=K if name == "dot" else Q)[0]


@pytest.mark.parametrize("name", MODULES)
def test_padded_keys_get_weight_exactly_zero_and_the_rest_sum_to_one(name):
    _, keys, values = inputs()
    mask = padding_mask()
    _, weights = MODULES[name]()(query_for(name, 3), keys, values, mask)
    assert torch.all(weights.masked_select(~mask[:, None, :]) == 0.0)
    assert_all_close([weights.sum(-1)], [torch.ones(B, Tq, dtype=F64)])


@pytest.mark.parametrize("name", MODULES)
def test_outputs_do_not_depend_on_padded_values(name):
    attention = MODULES[name]()
    query = query_for(name)
    _, keys, values = inputs()
    mask = padding_mask()
    changed_keys, changed_values = keys.clone(), values.clone()
    changed_keys[~mask] = torch.randn(int((~mask).sum()), K, dtype=F64) * 100
    changed_values[~mask] = float("nan")  # not even a nan at padding is read
    before = attention(query, keys, values, mask)
    after = attention(query, changed_keys, changed_values, mask)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("name", MODULES)
def test_padded_keys_and_values_get_zero_gradient(name):
    attention = MODULES[name]()
    query = query_for(name, 3)
    _, keys, values = inputs()
    keys.requires_grad_()
    values.requires_grad_()
    mask = padding_mask()
    context, weights = attention(query, keys, values, mask)
    (context.sum() + (weights * torch.randn_like(weights)).sum()).backward()
    assert torch.all(keys.grad[~mask] == 0.0) and torch.all(values.grad[~mask] == 0.0)
    assert keys.grad[mask].abs().sum() > 0 and values.grad[mask].abs().sum() > 0


def test_masked_softmax_equals_softmax_over_the_kept_positions():
    scores = torch.randn(B, Tq, Tk, dtype=F64)
    mask = padding_mask()[:, None, :]
    weights = masked_softmax(scores, mask)
    for b, n in enumerate(LENGTHS):
        assert_all_close([weights[b, :, :n]], [torch.softmax(scores[b, :, :n], dim=-1)])
        assert torch.all(weights[b, :, n:] == 0.0)
    # along another dim, and -inf scores count as masked
    scores[:, 1, :] = -math.inf
    column = masked_softmax(scores, dim=1)
    assert_all_close([column[:, [0, 2, 3]]], [torch.softmax(scores[:, [0, 2, 3]], dim=1)])
    assert torch.all(column[:, 1] == 0.0)


# --------------------------------------------------------------------------------------------
# A fully masked row: zeros and zero gradients, never nan


def test_fully_masked_row_gives_zeros_and_zero_gradient():
    scores = torch.randn(B, Tk, dtype=F64, requires_grad=True)
    mask = padding_mask()
    mask[1] = False  # source 1 has no real key at all
    weights = masked_softmax(scores, mask)
    assert torch.all(weights[1] == 0.0)
    weights.backward(torch.randn_like(weights))
    assert torch.all(scores.grad[1] == 0.0) and torch.isfinite(scores.grad).all()
    for name, make in MODULES.items():
        query, (_, keys, values) = query_for(name).requires_grad_(), inputs()
        context, alpha = make()(query, keys, values, mask)
        assert torch.all(context[1] == 0.0) and torch.all(alpha[1] == 0.0)
        (grad,) = torch.autograd.grad(context.sum() + alpha.sum(), [query])
        assert torch.all(grad[1] == 0.0) and torch.isfinite(grad).all(), name


def test_fully_masked_row_where_torch_documents_nan_we_give_zeros():
    # torch's documented reference code takes softmax over a row of -inf: nan. Its 2.5+ CPU
    # kernels return zeros instead; ours gives zeros everywhere, and matches torch elsewhere.
    q, k, v = (torch.randn(2, 3, n, dtype=F64) for n in (4, 4, 5))
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1] = False
    documented = torch.softmax((q @ k.transpose(-2, -1)).masked_fill(~mask, -math.inf), -1) @ v
    assert torch.isnan(documented[:, 1]).all()
    ours = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.all(ours[:, 1] == 0.0)
    assert torch.isnan(theirs[:, 1]).all() or torch.all(theirs[:, 1] == 0.0)
    assert_all_close([ours[:, [0, 2]]], [theirs[:, [0, 2]]])
    # the same through a float mask of -inf
    float_mask = torch.zeros(3, 3, dtype=F64).masked_fill(~mask, -math.inf)
    assert torch.all(scaled_dot_product_attention(q, k, v, attn_mask=float_mask)[:, 1] == 0.0)


# --------------------------------------------------------------------------------------------
# scaled_dot_product_attention == torch's, Eqs. (9.10) and (9.13)

N, heads, L, S, E, Ev = 2, 3, 4, 6, 5, 7


def sdpa_case(name):
    """(q, k, v, keyword arguments) for one mask case."""
    q = torch.randn(N, heads, L, E, dtype=F64)
    k, v = torch.randn(N, heads, S, E, dtype=F64), torch.randn(N, heads, S, Ev, dtype=F64)
    bool_mask = torch.rand(N, 1, L, S) < 0.7
    bool_mask[..., 0] = True  # every row keeps a key (torch's nan-free case)
    cases = {
        "no-mask": {},
        "bool-L-S": {"attn_mask": bool_mask[0, 0]},
        "bool-broadcast-over-heads": {"attn_mask": bool_mask},
        "float": {"attn_mask": torch.randn(L, S, dtype=F64)},
        "float-with-minus-inf": {
            "attn_mask": torch.randn(N, 1, L, S, dtype=F64).masked_fill(~bool_mask, -math.inf)
        },
        "causal": {"is_causal": True},
        "scale": {"scale": 0.3},
        "causal-and-scale": {"is_causal": True, "scale": 2.0},
    }
    return q, k, v, cases[name]


SDPA_CASES = [
    "no-mask",
    "bool-L-S",
    "bool-broadcast-over-heads",
    "float",
    "float-with-minus-inf",
    "causal",
    "scale",
    "causal-and-scale",
]


@pytest.mark.parametrize("case", SDPA_CASES)
@DTYPES
def test_scaled_dot_product_attention_matches_torch(case, dtype):
    q, k, v, kwargs = sdpa_case(case)
    q, k, v = (t.to(dtype) for t in (q, k, v))
    if kwargs.get("attn_mask") is not None and kwargs["attn_mask"].is_floating_point():
        kwargs["attn_mask"] = kwargs["attn_mask"].to(dtype)

    def ours(q, k, v):
        return scaled_dot_product_attention(q, k, v, **kwargs)

    def reference(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **kwargs)

    assert_all_close(forward_and_grads(ours, q, k, v), forward_and_grads(reference, q, k, v), dtype)


@pytest.mark.parametrize(("queries", "keys"), [(3, 5), (5, 3)], ids=["L<S", "L>S"])
def test_causal_mask_is_the_top_left_lower_triangle_like_torch(queries, keys):
    q, k, v = (
        torch.randn(queries, E, dtype=F64),
        torch.randn(keys, E, dtype=F64),
        torch.randn(keys, Ev, dtype=F64),
    )
    output, weights = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    for i in range(queries):
        assert torch.all(weights[i, i + 1 :] == 0.0)
    assert_all_close([output], [F.scaled_dot_product_attention(q, k, v, is_causal=True)])


def test_float_mask_gradient_matches_torch():
    q, k, v, kwargs = sdpa_case("float")
    mask = kwargs["attn_mask"]

    def ours(q, k, v, m):
        return scaled_dot_product_attention(q, k, v, attn_mask=m)

    def reference(q, k, v, m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)

    assert_all_close(
        forward_and_grads(ours, q, k, v, mask), forward_and_grads(reference, q, k, v, mask)
    )


def test_returned_weights_are_the_softmax_of_the_scaled_scores():
    q, k, v, _ = sdpa_case("no-mask")
    output, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(E), dim=-1)
    assert_all_close([weights, output], [expected, expected @ v])


# --------------------------------------------------------------------------------------------
# gradcheck in float64


def test_attention_modules_pass_gradcheck():
    mask = padding_mask()
    for name, make in MODULES.items():
        attention = make()
        query, keys, values = (t.requires_grad_() for t in (query_for(name, 3), *inputs()[1:]))
        params = list(attention.parameters())

        def function(query, keys, values, *params, attention=attention):
            return attention(query, keys, values, mask)

        assert torch.autograd.gradcheck(function, (query, keys, values, *params)), name


def test_masked_softmax_and_sdpa_pass_gradcheck_with_a_fully_masked_row():
    scores = torch.randn(B, Tq, Tk, dtype=F64, requires_grad=True)
    mask = padding_mask()[:, None, :].expand(B, Tq, Tk).clone()
    mask[0, 2] = False
    assert torch.autograd.gradcheck(lambda s: masked_softmax(s, mask), (scores,))
    q, k, v, _ = sdpa_case("no-mask")
    bool_mask = torch.rand(L, S) < 0.5
    bool_mask[1] = False
    tensors = tuple(t.requires_grad_() for t in (q, k, v))
    assert torch.autograd.gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=bool_mask), tensors
    )


# --------------------------------------------------------------------------------------------
# construction, dtype, errors


def test_parameters_have_the_formula_shapes_and_linear_init_bounds():
    additive = AdditiveAttention(Q, K, 100)
    assert [(n, tuple(p.shape)) for n, p in additive.named_parameters()] == [
        ("W", (100, Q)),
        ("U", (100, K)),
        ("w", (100,)),
    ]
    for p, fan_in in ((additive.W, Q), (additive.U, K), (additive.w, 100)):
        assert 0.9 / math.sqrt(fan_in) < p.abs().max() <= 1 / math.sqrt(fan_in)
    general = GeneralAttention(Q, 100)
    assert tuple(general.W.shape) == (Q, 100)
    assert general.W.abs().max() <= 1 / math.sqrt(100)
    assert list(DotAttention().parameters()) == []


def test_outputs_follow_the_input_dtype():
    query, keys, values = inputs(dtype=torch.float32)
    context, weights = AdditiveAttention(Q, K, H)(query, keys, values, padding_mask())
    assert context.dtype == weights.dtype == torch.float32


def _bool(*shape):
    return torch.ones(shape, dtype=torch.bool)


test_bad_arguments_raise_value_errors = raises_table(
    {
        "keys-rank": (
            lambda: DotAttention()(zeros(B, K), zeros(B, K), zeros(B, Tk, Dv)),
            r"keys must be \(B, Tk, K\); got \(3, 7\)",
        ),
        "values-length": (
            lambda: DotAttention()(zeros(B, K), zeros(B, Tk, K), zeros(B, 2, Dv)),
            r"values must be \(B, Tk, Dv\) with B, Tk = 3, 6",
        ),
        "query-batch": (
            lambda: DotAttention()(zeros(2, K), zeros(B, Tk, K), zeros(B, Tk, Dv)),
            r"query must be \(B, Q\) or \(B, Tq, Q\) with B = 3; got \(2, 7\)",
        ),
        "mask-dtype": (
            lambda: DotAttention()(zeros(B, K), zeros(B, Tk, K), zeros(B, Tk, Dv), zeros(B, Tk)),
            r"mask must be a \(3, 6\) bool tensor \(B, Tk\), True = keep; got \(3, 6\) torch.float64",
        ),
        "mask-shape": (
            lambda: DotAttention()(
                zeros(B, K), zeros(B, Tk, K), zeros(B, Tk, Dv), _bool(B, Tq, Tk)
            ),
            r"mask must be a \(3, 6\) bool tensor",
        ),
        "dot-sizes": (
            lambda: DotAttention()(zeros(B, Q), zeros(B, Tk, K), zeros(B, Tk, Dv)),
            r"dot attention needs query size Q = key size K",
        ),
        "additive-query-size": (
            lambda: AdditiveAttention(Q, K, H)(zeros(B, 2), zeros(B, Tk, K), zeros(B, Tk, Dv)),
            r"query size must be 5; got \(3, 2\)",
        ),
        "general-key-size": (
            lambda: GeneralAttention(Q, K)(zeros(B, Q), zeros(B, Tk, 2), zeros(B, Tk, Dv)),
            r"key size must be 7; got \(3, 6, 2\)",
        ),
        "hidden-size": (
            lambda: AdditiveAttention(Q, K, 0),
            r"hidden_size must be an integer >= 1; got 0",
        ),
        "masked-softmax-mask": (
            lambda: masked_softmax(zeros(B, Tk), zeros(B, Tk)),
            r"mask must be a bool tensor \(True = keep\)",
        ),
        "attend-scores": (
            lambda: attend(zeros(Tk), zeros(B, Tk, Dv)),
            r"scores must be \(B, Tk\) or \(B, Tq, Tk\); got \(6,\)",
        ),
        "attend-length": (
            lambda: attend(zeros(B, 2), zeros(B, Tk, Dv)),
            r"scores must end in Tk = 6",
        ),
        "sdpa-sizes": (
            lambda: scaled_dot_product_attention(zeros(L, E), zeros(S, E + 1), zeros(S, Ev)),
            r"must agree in E and S",
        ),
        "sdpa-causal-and-mask": (
            lambda: scaled_dot_product_attention(
                zeros(L, E), zeros(S, E), zeros(S, Ev), attn_mask=_bool(L, S), is_causal=True
            ),
            r"attn_mask must be None when is_causal=True",
        ),
    }
)


# --------------------------------------------------------------------------------------------
# device


@pytest.mark.gpu
@DTYPES
def test_on_cuda_matches_the_cpu(dtype):
    query, keys, values = inputs(3, dtype=dtype)
    mask = padding_mask()
    mask[2] = False  # a fully masked row on the GPU too
    attention = AdditiveAttention(Q, K, H, dtype=dtype)
    expected = attention(query, keys, values, mask)
    on_cuda = attention.to("cuda")(*(t.to("cuda") for t in (query, keys, values, mask)))
    assert on_cuda[0].device.type == "cuda"
    assert_all_close([t.cpu() for t in on_cuda], expected, dtype)
    q, k, v, kwargs = sdpa_case("causal")
    q, k, v = (t.to(dtype) for t in (q, k, v))
    ours = scaled_dot_product_attention(*(t.to("cuda") for t in (q, k, v)), **kwargs)
    assert_all_close([ours.cpu()], [F.scaled_dot_product_attention(q, k, v, **kwargs)], dtype)
