"""Specifications of coursekit.embeddings.

References: one-hot matrix products written out here, per-sentence formulas (a loop over the
real tokens, no masks), zlib.crc32 for the hashing, counts of the data files' lines, and a
tiny synthetic sentiment task that every classifier must fit to 100% train accuracy.
"""

from __future__ import annotations

import zlib

import pytest
import torch
import torch.nn.functional as F

from coursekit import (
    CBOW,
    BagOfNGrams,
    DeepCBOW,
    WordVocab,
    cbow_forward,
    embed_via_one_hot,
    load_rt_polarity,
    ngram_bucket_ids,
    one_hot,
    pad_batch,
    rt_polarity_split,
    train_classifier,
)
from coursekit.data import DATA_DIR
from coursekit.embeddings import PAD_INDEX, accuracy, tokenize

V, E, C = 9, 4, 3


def ragged_batch():
    """Three sentences of lengths 3, 1 and 4, padded."""
    sequences = [torch.tensor([1, 4, 2]), torch.tensor([7]), torch.tensor([3, 3, 8, 5])]
    ids, mask = pad_batch(sequences)
    return sequences, ids, mask


def test_one_hot_has_a_single_one_at_the_id():
    ids = torch.tensor([[0, 3], [2, 2]])
    vectors = one_hot(ids, 5)
    assert vectors.shape == (2, 2, 5)
    for index in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        expected = torch.zeros(5)
        expected[ids[index]] = 1.0
        assert torch.equal(vectors[index], expected)


def test_one_hot_rejects_ids_outside_the_vocabulary():
    with pytest.raises(
        ValueError, match=r"ids must lie in 0..4 \(vocab_size = 5\); got values in 0..5"
    ):
        one_hot(torch.tensor([0, 5]), 5)


def test_one_hot_product_equals_row_lookup():
    embedding = torch.randn(V, E, dtype=torch.float64)
    ids = torch.randint(V, (2, 6))
    torch.testing.assert_close(embed_via_one_hot(ids, embedding), embedding[ids], atol=0, rtol=0)
    torch.testing.assert_close(
        embed_via_one_hot(ids, embedding), F.embedding(ids, embedding), atol=0, rtol=0
    )


def test_one_hot_vectors_are_orthogonal_and_embeddings_need_not_be():
    vectors = one_hot(torch.arange(V), V, torch.float64)
    assert torch.equal(vectors @ vectors.T, torch.eye(V, dtype=torch.float64))


def test_pad_batch_pads_and_masks():
    _, ids, mask = ragged_batch()
    assert ids.tolist() == [[1, 4, 2, 0], [7, 0, 0, 0], [3, 3, 8, 5]]
    assert mask.tolist() == [
        [True, True, True, False],
        [True, False, False, False],
        [True, True, True, True],
    ]


def per_sentence_cbow(sequences, embedding, weight, bias, reduction="mean"):
    """CBOW one unpadded sentence at a time: the sum (or mean) of its rows, then W s + b."""
    expected = []
    for sentence in sequences:
        total = sum(embedding[i] for i in sentence.tolist())  # (E,)
        s = total / len(sentence) if reduction == "mean" else total
        expected.append(weight @ s + bias)  # (C,)
    return torch.stack(expected)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cbow_forward_matches_per_sentence_formula(reduction):
    sequences, ids, mask = ragged_batch()
    embedding = torch.randn(V, E, dtype=torch.float64)
    weight, bias = torch.randn(C, E, dtype=torch.float64), torch.randn(C, dtype=torch.float64)
    logits = cbow_forward(ids, mask, embedding, weight, bias, reduction)
    expected = per_sentence_cbow(sequences, embedding, weight, bias, reduction)
    torch.testing.assert_close(logits, expected, atol=1e-12, rtol=0)


def test_cbow_forward_ignores_what_is_in_padded_places():
    _, ids, mask = ragged_batch()
    embedding, weight, bias = torch.randn(V, E), torch.randn(C, E), torch.randn(C)
    other = ids.masked_fill(~mask, 6)
    torch.testing.assert_close(
        cbow_forward(ids, mask, embedding, weight, bias),
        cbow_forward(other, mask, embedding, weight, bias),
    )


def test_cbow_forward_without_mask_uses_every_place():
    ids = torch.randint(V, (2, 5))
    embedding, weight, bias = torch.randn(V, E), torch.randn(C, E), torch.randn(C)
    expected = embedding[ids].mean(dim=1) @ weight.T + bias
    torch.testing.assert_close(cbow_forward(ids, None, embedding, weight, bias), expected)


def test_cbow_forward_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"token_ids must be \(B, L\); got shape \(5,\)"):
        cbow_forward(
            torch.zeros(5, dtype=torch.long), None, torch.randn(V, E), torch.randn(C, E), None
        )
    with pytest.raises(ValueError, match=r"mask must have token_ids' shape \(2, 3\); got \(2, 4\)"):
        cbow_forward(
            torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 4, dtype=torch.bool),
            torch.randn(V, E), torch.randn(C, E), None,
        )  # fmt: skip


def test_cbow_module_matches_per_sentence_formula_with_its_parameters():
    sequences, ids, mask = ragged_batch()
    model = CBOW(V, E, C).double()
    weights = (model.embedding.weight, model.output.weight, model.output.bias)
    expected = per_sentence_cbow(sequences, *weights)
    torch.testing.assert_close(model(ids, mask), expected, atol=1e-12, rtol=0)


def test_deep_cbow_matches_formula():
    sequences, ids, mask = ragged_batch()
    model = DeepCBOW(V, E, C, hidden_sizes=(5, 6)).double()
    expected = []
    for sentence in sequences:
        h = model.embedding.weight[sentence].mean(dim=0)  # (E,)
        for layer in model.hidden:
            h = torch.tanh(layer.weight @ h + layer.bias)
        expected.append(model.output.weight @ h + model.output.bias)
    torch.testing.assert_close(model(ids, mask), torch.stack(expected))


def test_ngram_bucket_ids_hash_every_unigram_and_bigram_with_crc32():
    tokens = ["not", "very", "good"]
    grams = ["not", "very", "good", "not very", "very good"]
    expected = [zlib.crc32(g.encode("utf-8")) % 1000 for g in grams]
    assert ngram_bucket_ids(tokens, 2, 1000).tolist() == expected


def test_bag_of_ngrams_sums_the_scores_of_its_buckets():
    model = BagOfNGrams(50, C)
    with torch.no_grad():
        model.scores.weight.normal_()
        model.bias.normal_()
    sequences = [ngram_bucket_ids(["a", "b", "c"], 2, 50), ngram_bucket_ids(["d"], 2, 50)]
    ids, mask = pad_batch(sequences)
    expected = torch.stack([model.scores.weight[s].sum(dim=0) + model.bias for s in sequences])
    torch.testing.assert_close(model(ids, mask), expected)


def test_word_vocab_orders_by_count_then_alphabet_and_maps_unknowns():
    vocab = WordVocab([["b", "a", "c"], ["a", "c", "d"]], min_freq=1)
    assert vocab.itos == ["<pad>", "<unk>", "a", "c", "b", "d"]
    assert vocab.encode(["a", "zzz", "d"]).tolist() == [2, 1, 5]
    assert vocab.pad_index == PAD_INDEX == 0
    assert WordVocab([["b", "a", "c"], ["a", "c", "d"]], min_freq=2).itos == [
        "<pad>", "<unk>", "a", "c",
    ]  # fmt: skip


def synthetic_sentiment(generator):
    """Sentences of 2-6 random neutral words (ids 4..11) plus one cue word: 2 (good) -> 1,
    3 (bad) -> 0. A bag of words separates them exactly."""
    sequences, labels = [], []
    for _ in range(64):
        length = int(torch.randint(2, 7, (1,), generator=generator))
        words = torch.randint(4, 12, (length,), generator=generator)
        label = int(torch.randint(2, (1,), generator=generator))
        cue = torch.tensor([2 if label == 1 else 3])
        position = int(torch.randint(length + 1, (1,), generator=generator))
        sequences.append(torch.cat([words[:position], cue, words[position:]]))
        labels.append(label)
    return sequences, torch.tensor(labels)


@pytest.mark.parametrize("kind", ["cbow", "deep_cbow", "bag_of_ngrams"])
def test_every_classifier_fits_a_tiny_synthetic_task(kind):
    generator = torch.Generator().manual_seed(0)
    sequences, labels = synthetic_sentiment(generator)
    if kind == "cbow":
        model = CBOW(12, 8, 2)
    elif kind == "deep_cbow":
        model = DeepCBOW(12, 8, 2, hidden_sizes=(16,))
    else:
        model = BagOfNGrams(64, 2)
        sequences = [ngram_bucket_ids([str(i) for i in s.tolist()], 2, 64) for s in sequences]
    history = train_classifier(
        model, (sequences, labels), (sequences, labels), epochs=30, lr=0.05, batch_size=16,
        generator=generator,
    )  # fmt: skip
    assert accuracy(model, (sequences, labels)) == 1.0
    assert max(history.dev_accuracy) == 1.0


def test_train_classifier_restores_the_best_dev_epoch():
    generator = torch.Generator().manual_seed(1)
    train = synthetic_sentiment(generator)
    model = CBOW(12, 8, 2)
    history = train_classifier(
        model, train, train, epochs=5, lr=0.05, batch_size=16, generator=generator
    )
    assert len(history.train_accuracy) == len(history.dev_accuracy) == 5
    assert accuracy(model, train) == max(history.dev_accuracy)
    assert history.dev_accuracy[history.best_epoch - 1] == max(history.dev_accuracy)


def test_accuracy_counts_argmax_matches():
    class Constant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([0.0, 1.0]))

        def forward(self, ids, mask):
            return self.w.expand(ids.shape[0], 2)  # always predicts class 1

    data = ([torch.tensor([1]), torch.tensor([2]), torch.tensor([3]), torch.tensor([4])],
            torch.tensor([1, 0, 1, 1]))  # fmt: skip
    assert accuracy(Constant(), data) == 0.75


def test_rt_polarity_has_every_line_of_both_files():
    examples = load_rt_polarity()
    for name, label in (("rt-polarity.neg", 0), ("rt-polarity.pos", 1)):
        lines = (DATA_DIR / "rt-polarity" / name).read_text(encoding="utf-8").splitlines()
        assert [s for s, y in examples if y == label] == [line.strip() for line in lines]
    assert len(examples) == 10_662


def test_rt_polarity_split_is_every_tenth_line_to_test_and_the_next_to_dev():
    split = rt_polarity_split()
    negatives = [tokenize(s) for s, y in load_rt_polarity() if y == 0]
    positives = [tokenize(s) for s, y in load_rt_polarity() if y == 1]
    for part, remainder in (("test", 0), ("dev", 1)):
        expected = [(t, 0) for i, t in enumerate(negatives) if i % 10 == remainder]
        expected += [(t, 1) for i, t in enumerate(positives) if i % 10 == remainder]
        assert split[part] == expected
    assert len(split["train"]) + len(split["dev"]) + len(split["test"]) == 10_662


def test_rt_polarity_split_is_balanced_and_disjoint_by_line():
    split = rt_polarity_split()
    for part in ("train", "dev", "test"):
        labels = [y for _, y in split[part]]
        assert labels.count(0) == labels.count(1)
    assert len(split["test"]) == 2 * 534 and len(split["dev"]) == 2 * 533
