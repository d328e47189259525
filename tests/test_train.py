"""coursekit.train: the language-model training loop, checked against independent facts.

The models here are written with torch's own layers, so these tests do not depend on
coursekit.rnn being right.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from coursekit.train import History, evaluate_language_model, train_language_model

VOCAB = 7


class TinyRNNLM(nn.Module):
    """Embedding -> torch.nn.RNN -> Linear; returns (logits (T, B, V), h_n) like CharRNN."""

    def __init__(self, vocab_size=VOCAB, hidden_size=16):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 8)
        self.rnn = nn.RNN(8, hidden_size)
        self.output_layer = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, h0=None):
        hidden, h_n = self.rnn(self.embedding(tokens), h0)
        return self.output_layer(hidden), h_n


class BigramLM(nn.Module):
    """A stateless model: the logits of the next token are a row of a table."""

    def __init__(self, vocab_size=VOCAB):
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, tokens):
        return self.table(tokens)  # (T, B, V)


def repetitive_ids(length=600):
    return torch.arange(length) % 5  # 0 1 2 3 4 0 1 2 ...: each token fixes the next


def random_ids(length, seed=0):
    return torch.randint(0, VOCAB, (length,), generator=torch.Generator().manual_seed(seed))


def manual_loss(model, ids):
    """Cross-entropy of one pass over ids, written out with torch alone."""
    logits, _ = model(ids[:-1].unsqueeze(1))  # (L-1, 1, V)
    return F.cross_entropy(logits[:, 0], ids[1:]).item()


def fit(model, ids, valid_ids=None, seed=0, **arguments):
    """train_language_model without a progress bar, windows drawn from a generator seeded seed."""
    generator = torch.Generator().manual_seed(seed)
    return train_language_model(
        model, ids, valid_ids, generator=generator, progress=False, **arguments
    )


def test_untrained_loss_is_log_vocab_size_when_output_layer_is_zero():
    torch.manual_seed(0)
    model = TinyRNNLM()
    nn.init.zeros_(model.output_layer.weight)
    nn.init.zeros_(model.output_layer.bias)
    ids = random_ids(200)
    assert evaluate_language_model(model, ids, seq_len=10, batch_size=4) == pytest.approx(
        math.log(VOCAB), abs=1e-6
    )
    history = fit(model, ids, ids, steps=1, seq_len=10, batch_size=4, lr=1e-3)
    assert history.train_loss[0] == pytest.approx(math.log(VOCAB), abs=1e-6)  # before the update
    assert history.valid_loss[0] == pytest.approx(math.log(VOCAB), abs=1e-6)


def test_loss_falls_to_near_zero_on_a_repetitive_text():
    torch.manual_seed(0)
    model = TinyRNNLM()
    ids = repetitive_ids()
    history = fit(model, ids, ids, steps=150, seq_len=12, batch_size=8, lr=1e-2)
    assert history.valid_loss[0] > 1.0
    assert history.valid_loss[-1] < 0.05
    assert sum(history.train_loss[-10:]) / 10 < 0.05


def test_evaluate_with_batch_one_is_one_pass_over_the_whole_text():
    torch.manual_seed(0)
    model = TinyRNNLM()
    ids = random_ids(101)
    # seq_len 7 does not divide the 100 predictions: the last window is shorter
    ours = evaluate_language_model(model, ids, seq_len=7, batch_size=1)
    assert ours == pytest.approx(manual_loss(model, ids), abs=1e-6)


def test_evaluate_with_batches_scores_each_contiguous_column():
    torch.manual_seed(0)
    model = TinyRNNLM()
    ids = random_ids(100)
    batch_size, column = 3, 100 // 3  # the last id does not fill a row and is dropped
    per_column = [manual_loss(model, ids[b * column : (b + 1) * column]) for b in range(batch_size)]
    ours = evaluate_language_model(model, ids, seq_len=5, batch_size=batch_size)
    assert ours == pytest.approx(sum(per_column) / batch_size, abs=1e-6)


def test_evaluate_accepts_a_stateless_model():
    torch.manual_seed(0)
    model = BigramLM()
    ids = random_ids(50)
    expected = F.cross_entropy(model(ids[:-1]), ids[1:]).item()
    assert evaluate_language_model(model, ids, seq_len=4, batch_size=1) == pytest.approx(
        expected, abs=1e-6
    )


def test_evaluate_restores_training_mode():
    model = TinyRNNLM()
    model.train()
    evaluate_language_model(model, random_ids(40), seq_len=5, batch_size=2)
    assert model.training
    model.eval()
    evaluate_language_model(model, random_ids(40), seq_len=5, batch_size=2)
    assert not model.training


def run(seed, model_seed=0, **overrides):
    torch.manual_seed(model_seed)
    model = TinyRNNLM()
    arguments = dict(
        steps=20,
        seq_len=8,
        batch_size=4,
        lr=1e-2,
        generator=torch.Generator().manual_seed(seed),
        progress=False,
    )
    arguments.update(overrides)
    return train_language_model(model, random_ids(300), random_ids(100, seed=1), **arguments)


def test_train_loss_is_adams_loss_on_crops_drawn_from_the_generator():
    # the loop written out: B crops at offsets torch.randint draws from the generator, the mean
    # cross-entropy, one Adam step; the trainer's losses must be these, step by step
    train_ids = random_ids(300)
    torch.manual_seed(0)
    model = TinyRNNLM()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator, expected = torch.Generator().manual_seed(3), []
    for _ in range(20):
        starts = torch.randint(300 - 8, (4,), generator=generator)
        crops = torch.stack([train_ids[s : s + 9] for s in starts.tolist()], dim=1)  # (9, B)
        logits, _ = model(crops[:-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), crops[1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        expected.append(loss.item())
    assert run(seed=3).train_loss == pytest.approx(expected, abs=1e-6)


def test_different_data_seeds_give_different_histories():
    assert run(seed=3).train_loss != run(seed=4).train_loss


def test_validation_is_recorded_before_training_every_eval_every_steps_and_at_the_end():
    history = run(seed=0, steps=25, eval_every=10)
    assert history.valid_steps == [0, 10, 20, 25]
    assert history.train_steps == list(range(1, 26))
    assert len(history.train_loss) == 25 and len(history.valid_loss) == 4


def test_without_valid_ids_no_validation_is_recorded():
    torch.manual_seed(0)
    history = fit(TinyRNNLM(), random_ids(100), steps=3, seq_len=5, batch_size=2, lr=1e-3)
    assert history.valid_steps == [] and history.valid_loss == []
    assert len(history.train_loss) == 3


def test_bits_are_nats_divided_by_log_two():
    history = History(train_steps=[1], train_loss=[math.log(4)], valid_steps=[0], valid_loss=[1.0])
    assert history.train_bits == [pytest.approx(2.0)]
    assert history.valid_bits == [pytest.approx(1 / math.log(2))]


def gradient_norms_at_each_step(**overrides):
    """The global gradient norm each optimizer step sees, read by a global step hook."""
    norms = []

    def hook(optimizer, args, kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
        norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

    handle = register_optimizer_step_pre_hook(hook)
    try:
        run(seed=0, **overrides)
    finally:
        handle.remove()
    return norms


def test_clip_bounds_the_global_gradient_norm_at_every_step():
    unclipped = gradient_norms_at_each_step()
    clipped = gradient_norms_at_each_step(clip=0.1)
    assert len(clipped) == 20
    assert max(unclipped) > 0.1  # so the bound below is not vacuous
    assert max(clipped) <= 0.1 + 1e-6


def test_progress_bar_writes_to_stderr_not_stdout(capsys):
    run(seed=0, steps=3, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "3/3" in captured.err


@pytest.mark.parametrize(
    "overrides",
    [
        {"steps": 0},
        {"seq_len": 0},
        {"batch_size": 0},
        {"lr": 0.0},
        {"lr": -1e-3},
        {"clip": 0.0},
        {"eval_every": 0},
        {"seq_len": 300},  # no window of 301 tokens in 300 ids
        {"generator": None},
    ],
)
def test_bad_arguments_raise_value_error(overrides):
    with pytest.raises(ValueError):
        run(seed=0, **overrides)


@pytest.mark.parametrize(
    "ids",
    [torch.arange(10).float(), torch.arange(10).view(2, 5), list(range(10))],
    ids=["float", "2-D", "list"],
)
def test_ids_must_be_a_1d_long_tensor(ids):
    with pytest.raises(ValueError, match="1-D LongTensor"):
        evaluate_language_model(TinyRNNLM(), ids, seq_len=2, batch_size=1)
