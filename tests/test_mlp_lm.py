"""Specifications of coursekit.mlp_lm.

References: Eqs. (1.9)–(1.11) written out here one example at a time (a loop, explicit
concatenation), one-hot matrix products in place of look-ups, and torch's cross_entropy.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from coursekit.mlp_lm import (
    MLPLanguageModel,
    context_windows,
    evaluate_mlp_language_model,
    mlp_lm_forward,
    train_mlp_language_model,
)

V, N_CTX, E, H, B = 7, 3, 4, 5, 6


def random_parameters(dtype=torch.float64):
    return (
        torch.randn(V, E, dtype=dtype),
        torch.randn(H, N_CTX * E, dtype=dtype),
        torch.randn(H, dtype=dtype),
        torch.randn(V, H, dtype=dtype),
        torch.randn(V, dtype=dtype),
    )


def test_mlp_lm_forward_matches_manual_computation():
    embedding, weight_h, bias_h, weight_out, bias_out = random_parameters()
    context = torch.randint(V, (B, N_CTX))
    expected = []
    for row in context:  # one example at a time, Eqs. (1.9)-(1.11)
        e = torch.cat([embedding[i] for i in row])  # (nE,)
        h = torch.tanh(weight_h @ e + bias_h)  # (H,)
        expected.append(weight_out @ h + bias_out)  # (V,)
    logits = mlp_lm_forward(context, embedding, weight_h, bias_h, weight_out, bias_out)
    torch.testing.assert_close(logits, torch.stack(expected), atol=1e-10, rtol=0)


def test_mlp_lm_forward_with_one_hot_products_equals_lookup():
    embedding, weight_h, bias_h, weight_out, bias_out = random_parameters()
    context = torch.randint(V, (B, N_CTX))
    one_hot = F.one_hot(context, V).double()  # (B, n, V)
    e = (one_hot @ embedding).reshape(B, N_CTX * E)  # (B, nE)
    expected = torch.tanh(e @ weight_h.T + bias_h) @ weight_out.T + bias_out
    logits = mlp_lm_forward(context, embedding, weight_h, bias_h, weight_out, bias_out)
    torch.testing.assert_close(logits, expected, atol=1e-10, rtol=0)


def test_module_forward_equals_functional_with_its_parameters():
    model = MLPLanguageModel(V, N_CTX, E, H).double()
    context = torch.randint(V, (B, N_CTX))
    expected = mlp_lm_forward(
        context,
        model.embedding.weight,
        model.hidden.weight,
        model.hidden.bias,
        model.output.weight,
        model.output.bias,
    )
    torch.testing.assert_close(model(context), expected)
    assert model(context).shape == (B, V)


def test_module_gradients_match_manual_computation():
    model = MLPLanguageModel(V, N_CTX, E, H).double()
    context = torch.randint(V, (B, N_CTX))
    targets = torch.randint(V, (B,))
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]
    embedding, weight_h, bias_h, weight_out, bias_out = params
    e = torch.stack([torch.cat([embedding[i] for i in row]) for row in context])
    logits = torch.tanh(e @ weight_h.T + bias_h) @ weight_out.T + bias_out
    expected = torch.autograd.grad(F.cross_entropy(logits, targets), params)
    actual = torch.autograd.grad(F.cross_entropy(model(context), targets), model.parameters())
    for a, b in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_context_windows_pairs_each_window_with_the_next_id():
    ids = torch.arange(10, 16)  # 6 ids
    x, y = context_windows(ids, 3)
    assert x.tolist() == [[10, 11, 12], [11, 12, 13], [12, 13, 14]]
    assert y.tolist() == [13, 14, 15]


def test_context_windows_rejects_short_streams_and_bad_ids():
    with pytest.raises(ValueError, match="more than context_size = 3 ids; got 3"):
        context_windows(torch.arange(3), 3)
    with pytest.raises(ValueError, match=r"1-D LongTensor of token ids \(L,\); got \(2, 2\)"):
        context_windows(torch.zeros(2, 2, dtype=torch.long), 1)


def test_forward_rejects_wrong_context_size():
    model = MLPLanguageModel(V, N_CTX, E, H)
    with pytest.raises(ValueError, match=r"\(B, context_size\) = \(B, 3\); got \(2, 4\)"):
        model(torch.zeros(2, 4, dtype=torch.long))


def test_functional_rejects_mismatched_hidden_weight():
    embedding, weight_h, bias_h, weight_out, bias_out = random_parameters()
    with pytest.raises(ValueError, match=r"weight_h must be \(H, K·E\) = \(H, 8\)"):
        mlp_lm_forward(
            torch.zeros(1, 2, dtype=torch.long), embedding, weight_h, bias_h, weight_out, bias_out
        )


def test_constructor_rejects_non_positive_sizes():
    with pytest.raises(ValueError, match="context_size must be an integer >= 1; got 0"):
        MLPLanguageModel(V, 0, E, H)


def test_evaluate_is_mean_torch_cross_entropy_over_all_pairs():
    model = MLPLanguageModel(V, N_CTX, E, H)
    ids = torch.randint(V, (50,))
    x, y = context_windows(ids, N_CTX)
    expected = F.cross_entropy(model(x), y).item()
    assert evaluate_mlp_language_model(model, ids, batch_size=8) == pytest.approx(expected)


def test_training_lowers_the_loss_on_a_repetitive_text():
    ids = torch.tensor([0, 1, 2, 3, 4, 5, 6] * 20)  # each token determines the next
    model = MLPLanguageModel(V, 2, 8, 16)
    before = evaluate_mlp_language_model(model, ids)
    history = train_mlp_language_model(
        model, ids, ids, steps=150, batch_size=16, lr=0.03,
        generator=torch.Generator().manual_seed(0), progress=False,
    )  # fmt: skip
    after = evaluate_mlp_language_model(model, ids)
    assert after < 0.05 < before
    assert history.valid_loss[0] == pytest.approx(before) and history.valid_loss[-1] == after


def test_training_is_deterministic_with_seeds():
    ids = torch.randint(V, (60,))
    losses = []
    for _ in range(2):
        torch.manual_seed(3)
        model = MLPLanguageModel(V, N_CTX, E, H)
        history = train_mlp_language_model(
            model, ids, steps=5, batch_size=4, lr=0.01,
            generator=torch.Generator().manual_seed(0), progress=False,
        )  # fmt: skip
        losses.append(history.train_loss)
    assert losses[0] == losses[1]


def test_generate_greedy_continues_the_learned_cycle():
    ids = torch.tensor([0, 1, 2, 3, 4, 5, 6] * 20)
    model = MLPLanguageModel(V, 2, 8, 16)
    train_mlp_language_model(
        model, ids, steps=150, batch_size=16, lr=0.03,
        generator=torch.Generator().manual_seed(0), progress=False,
    )  # fmt: skip
    assert model.generate([2, 3], 6, temperature=0) == [4, 5, 6, 0, 1, 2]
