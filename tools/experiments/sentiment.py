"""Chapters 1 and 2: sentence classifiers on rt-polarity, five seeds.

Five models on the book's fixed split of rt-polarity (:func:`coursekit.rt_polarity_split`:
8 528 train, 1 066 dev, 1 068 test sentences; the vocabulary is the training words):

- chapter 1 §1.9's three: CBOW (64-dimensional embeddings; Adam, lr 1e-2), deep CBOW (two
  tanh layers of 64, dropout 0.3; lr 3e-3) and the bag of unigrams and bigrams (2^18 hash
  buckets; lr 3e-3), with chapter 1's settings but fewer epochs (3, 6 and 4 instead of 10,
  10 and 8; chapter 1's single run has its best dev epoch at 2, 8 and 4);
- chapter 2's RNN sentence classifier of note 003 (:class:`coursekit.RNNClassifier`: the same
  64-dimensional embeddings, a tanh RNN of 64 units, a linear layer), once scoring the final
  hidden state and once the mean of the hidden states over the sentence (Adam, lr 3e-3,
  4 epochs).

Each is trained by :func:`coursekit.train_classifier` (minibatches of 64, shuffled each
epoch) and keeps the weights of its best dev epoch (early stopping). The seed draws the
initial weights, the dropout masks and the order of the minibatches. Logged per seed and
model: the mean training loss and the dev accuracy of every epoch, the best epoch and the
test accuracy.
"""

from __future__ import annotations

import sys

import torch

from coursekit import (
    CBOW,
    BagOfNGrams,
    DeepCBOW,
    RNNClassifier,
    WordVocab,
    ngram_bucket_ids,
    rt_polarity_split,
    seed_everything,
    train_classifier,
)
from coursekit.embeddings import accuracy
from tools.experiments.log import rounded, run_seeds

CONFIG = {
    "embedding_dim": 64,
    "batch_size": 64,
    "CBOW": {"lr": 1e-2, "epochs": 3},
    "deep CBOW": {"lr": 3e-3, "epochs": 6, "hidden_sizes": [64, 64], "dropout": 0.3},
    "bag of bigrams": {"lr": 3e-3, "epochs": 4, "num_buckets": 2**18},
    "RNN, final state": {"lr": 3e-3, "epochs": 4, "hidden_size": 64},
    "RNN, mean of states": {"lr": 3e-3, "epochs": 4, "hidden_size": 64},
}
MODELS = ("CBOW", "deep CBOW", "bag of bigrams", "RNN, final state", "RNN, mean of states")


def datasets(num_buckets=CONFIG["bag of bigrams"]["num_buckets"]):
    """Word ids (and n-gram bucket ids, for the bag of bigrams) of every part of the split."""
    split = rt_polarity_split()
    vocab = WordVocab([tokens for tokens, _ in split["train"]])

    def encoded(encode):
        return {
            part: (
                [encode(tokens) for tokens, _ in examples],
                torch.tensor([y for _, y in examples]),
            )
            for part, examples in split.items()
        }

    return len(vocab), {
        "words": encoded(vocab.encode),
        "bigrams": encoded(lambda tokens: ngram_bucket_ids(tokens, 2, num_buckets)),
    }


def classifier(name, vocab_size, config=CONFIG):
    E, settings = config["embedding_dim"], config[name]
    if name == "CBOW":
        return CBOW(vocab_size, E, 2)
    if name == "deep CBOW":
        return DeepCBOW(vocab_size, E, 2, settings["hidden_sizes"], dropout=settings["dropout"])
    if name == "bag of bigrams":
        return BagOfNGrams(settings["num_buckets"], 2)
    pooling = "last" if name == "RNN, final state" else "mean"
    return RNNClassifier(vocab_size, E, settings["hidden_size"], 2, pooling=pooling)


def run(seed: int, config=CONFIG, data=None, models=MODELS) -> dict:
    vocab_size, data = data or datasets(config["bag of bigrams"]["num_buckets"])
    results = {}
    for name in models:
        seed_everything(seed)
        model = classifier(name, vocab_size, config)
        parts = data["bigrams" if name == "bag of bigrams" else "words"]
        history = train_classifier(
            model,
            parts["train"],
            parts["dev"],
            epochs=config[name]["epochs"],
            lr=config[name]["lr"],
            batch_size=config["batch_size"],
            generator=torch.Generator().manual_seed(seed),
        )
        results[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_loss": rounded(history.train_loss),
            "dev_accuracy": history.dev_accuracy,
            "best_epoch": history.best_epoch,
            "test_accuracy": accuracy(model, parts["test"]),
        }
    return {"seed": seed, "models": results}


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
