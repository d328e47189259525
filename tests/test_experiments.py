"""The seeded experiments under tools/experiments/ and the logs the chapters read.

Each log must have been written by the script as it is now (its source hash), from at least
five seeds; each script must still run (on a tiny configuration) and produce the fields the
chapter reads; and the tasks they train on are checked against independent formulas.
"""

import json
import math

import pytest
import torch

from coursekit.translation_data import tokenize_english
from tools.experiments import (
    adding_problem,
    bptt_delay,
    char_models,
    clipping_sgd,
    dropout_lm,
    esn,
    layernorm_lstm,
    log,
    mamba_char,
    mlp_lm,
    scheduled_sampling,
    selective_copying,
    sentiment,
    translation,
)

EXPERIMENTS = [
    bptt_delay,
    adding_problem,
    clipping_sgd,
    char_models,
    mlp_lm,
    sentiment,
    layernorm_lstm,
    esn,
    dropout_lm,
    scheduled_sampling,
    translation,
    selective_copying,
    mamba_char,
]


def shipped_log(module):
    name = module.__name__.rsplit(".", 1)[-1]
    return json.loads((log.DATA / f"{name}.json").read_text())


@pytest.mark.parametrize("module", EXPERIMENTS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_shipped_log_was_written_by_the_script_as_it_is(module):
    shipped = shipped_log(module)
    assert shipped["source_sha256"] == log.source_hash(module), (
        f"{shipped['script']} changed after its log was written: "
        f"rerun `.venv/bin/python -m tools.experiments.{shipped['experiment']}` and commit the log"
    )
    assert shipped["config"] == module.CONFIG
    assert len(shipped["seeds"]) >= 5 and len(set(shipped["seeds"])) == len(shipped["seeds"])
    assert [run["seed"] for run in shipped["runs"]] == shipped["seeds"]


def test_run_seeds_writes_a_log_named_after_the_script(tmp_path):
    out = tmp_path / "log.json"
    written = log.run_seeds(
        bptt_delay, lambda seed: {"seed": seed}, {"a": 1}, ["--seeds", "3", "7", "--out", str(out)]
    )
    assert json.loads(out.read_text()) == written
    assert written["experiment"] == "bptt_delay"
    assert written["runs"] == [{"seed": 3}, {"seed": 7}]
    assert written["source_sha256"] == log.source_hash(bptt_delay)


def test_rounded_keeps_significant_digits_and_non_finite_values():
    assert log.rounded([123456.789, 0.000123456789, 0.0]) == [123460.0, 0.00012346, 0.0]
    values = log.rounded([float("inf"), float("nan")])
    assert values[0] == float("inf") and values[1] != values[1]


def test_delay_task_targets_are_the_inputs_shifted_by_the_delay():
    x, y = bptt_delay.delay_task(20, 3, 4, torch.Generator().manual_seed(0))
    assert set(x.unique().tolist()) == {-1.0, 1.0}
    for t in range(20):
        expected = x[t - 4] if t >= 4 else torch.zeros(3, 1, dtype=x.dtype)
        assert torch.equal(y[t], expected)


def test_delay_task_test_error_is_one_for_zero_and_zero_for_the_true_answer():
    class Oracle(torch.nn.Module):  # predicts x_(t-delay) exactly, or 0
        def __init__(self, delay, know):
            super().__init__()
            self.delay, self.know = delay, know

        def forward(self, x):
            y = torch.zeros_like(x)
            if self.know:
                y[self.delay :] = x[: -self.delay]
            return y, None

    assert bptt_delay.test_error(Oracle(6, know=True), 6) == 0.0
    assert bptt_delay.test_error(Oracle(6, know=False), 6) == 1.0  # every target is +-1


def test_adding_batch_marks_one_step_in_each_half_and_sums_the_marked_values():
    x, y = adding_problem.adding_batch(torch.Generator().manual_seed(0), 10, 64)
    values, markers = x[..., 0], x[..., 1]  # (T, B) each
    assert x.shape == (10, 64, 2) and y.shape == (64, 1)
    assert ((values >= 0) & (values <= 1)).all()
    assert torch.equal(markers[:5].sum(0), torch.ones(64))
    assert torch.equal(markers[5:].sum(0), torch.ones(64))
    for b in range(64):
        marked = markers[:, b].nonzero().flatten()
        assert y[b, 0] == pytest.approx(values[marked, b].sum().item(), abs=1e-6)


def test_bptt_delay_runs_every_schedule():
    config = {**bptt_delay.CONFIG, "steps": 40}
    result = bptt_delay.run(0, config)
    assert set(result["schedules"]) == set(bptt_delay.SCHEDULES)
    for schedule in result["schedules"].values():
        assert len(schedule["loss"]) == len(schedule["position"]) > 0
        assert schedule["position"][-1] == 40 and 0 < schedule["test_error"] < 10


def test_adding_problem_runs_every_model_and_saves_the_weights(tmp_path):
    config = {**adding_problem.CONFIG, "steps": 3, "length": 8}
    result = adding_problem.run(0, config, weights=tmp_path / "w.pt")
    assert set(result["models"]) == set(adding_problem.LAYERS)
    assert all(len(m["loss"]) == 3 for m in result["models"].values())
    saved = torch.load(tmp_path / "w.pt")
    model = adding_problem.Regressor("LSTM")
    model.load_state_dict(saved["LSTM"])  # the chapter loads them this way


def test_clipping_sgd_runs_and_measures_the_norm_before_clipping():
    config = {**clipping_sgd.CONFIG, "steps": 3}
    result = clipping_sgd.run(0, config, settings=[(4.0, None), (4.0, 1.0)])
    unclipped, clipped = result["settings"]["lr 4, no clipping"], result["settings"]["lr 4, clip 1"]
    # the norm is measured before clipping, and the first step sees the same weights and batch
    assert unclipped["grad_norm"][0] == clipped["grad_norm"][0] > 0
    assert len(unclipped["loss"]) == 3 and unclipped["valid_bits"] > 0


def test_layernorm_lstm_runs_both_models_from_both_initialisations():
    config = {**layernorm_lstm.CONFIG, "steps": 3, "length": 8}
    result = layernorm_lstm.run(0, config)
    expected = {layernorm_lstm.label(n, s) for n in layernorm_lstm.LAYERS for s in (1.0, 4.0)}
    assert set(result["models"]) == expected
    for logged in result["models"].values():
        assert len(logged["loss"]) == 3 and 0 < logged["test_mse"] < 10


@pytest.mark.parametrize("name", ["LSTM", "LN-LSTM"])
def test_layernorm_lstm_scaled_init_multiplies_only_the_weight_matrices(name):
    torch.manual_seed(0)
    plain = dict(layernorm_lstm.Regressor(name, 1.0, hidden_size=4).named_parameters())
    torch.manual_seed(0)
    scaled = dict(layernorm_lstm.Regressor(name, 4.0, hidden_size=4).named_parameters())
    assert set(plain) == set(scaled)
    for key, p in plain.items():
        factor = 4.0 if key.startswith("layer.weight_") else 1.0  # not the γ (ln_*_weight)
        assert torch.equal(scaled[key], factor * p), key


def test_forget_bias_variant_differs_from_the_lstm_only_in_the_forget_gate_bias():
    torch.manual_seed(0)
    plain = adding_problem.Regressor("LSTM", hidden_size=4)
    torch.manual_seed(0)
    biased = adding_problem.Regressor("LSTM, forget bias 1", hidden_size=4)
    f = slice(4, 8)  # torch's gate order i, f, g, o
    total = biased.layer.bias_ih_l0 + biased.layer.bias_hh_l0
    assert torch.equal(total[f], torch.ones(4))
    for name, p in plain.named_parameters():
        q = dict(biased.named_parameters())[name]
        if name.startswith("layer.bias"):
            keep = torch.ones(16, dtype=torch.bool)
            keep[f] = False
            assert torch.equal(p[keep], q[keep])
        else:
            assert torch.equal(p, q), name


def tiny_shakespeare(vocab, parts, length=3000):
    return vocab, [ids[:length] for ids in parts]


def test_char_models_have_about_the_same_number_of_parameters():
    vocab, _ = char_models.shakespeare()
    sizes = [
        sum(p.numel() for p in char_models.char_model(name, len(vocab)).parameters())
        for name in char_models.MODELS
    ]
    assert max(sizes) < 1.1 * min(sizes), sizes


def test_char_models_run_every_model_and_score_the_test_text():
    config = {
        **char_models.CONFIG,
        "steps": 3,
        "eval_every": 1,
        "hidden_size": dict.fromkeys(char_models.MODELS, 8),
    }
    result = char_models.run(0, config, tiny_shakespeare(*char_models.shakespeare()))
    assert set(result["models"]) == set(char_models.MODELS)
    for model in result["models"].values():
        assert len(model["train_bits"]) == 3 and model["valid_steps"] == [0, 1, 2, 3]
        assert 0 < model["test_bits"] < 10  # an untrained model is near log2(66) = 6.04


def test_mamba_char_model_is_the_size_of_the_char_models_and_trained_like_them():
    vocab, _ = char_models.shakespeare()
    sizes = [
        sum(p.numel() for p in char_models.char_model(name, len(vocab)).parameters())
        for name in char_models.MODELS
    ]
    mamba = sum(p.numel() for p in mamba_char.mamba_model(len(vocab)).parameters())
    assert min(sizes) <= mamba <= max(sizes), (mamba, sizes)
    for key in ("steps", "seq_len", "batch_size", "lr", "clip", "eval_every"):
        assert mamba_char.CONFIG[key] == char_models.CONFIG[key], key


def test_mamba_char_runs_and_scores_the_test_text():
    config = {**mamba_char.CONFIG, "steps": 3, "eval_every": 1, "d_model": 8, "d_state": 2}
    result = mamba_char.run(0, config, tiny_shakespeare(*char_models.shakespeare()))
    assert len(result["train_bits"]) == 3 and result["valid_steps"] == [0, 1, 2, 3]
    assert 0 < result["test_bits"] < 10  # an untrained model is near log2(66) = 6.04


def test_dropout_lm_runs_every_variant_and_scores_the_test_text():
    config = {
        **dropout_lm.CONFIG,
        "steps": 3,
        "eval_every": 1,
        "hidden_size": 8,
        "train_chars": 2000,
        "valid_chars": 2000,
    }
    result = dropout_lm.run(0, config, tiny_shakespeare(*dropout_lm.shakespeare()))
    assert set(result["models"]) == set(dropout_lm.VARIANTS)
    for model in result["models"].values():
        assert model["steps"] == [0, 1, 2, 3]
        assert len(model["train_bits"]) == len(model["valid_bits"]) == 4
        assert 0 < model["test_bits"] < 10  # an untrained model is near log2(66) = 6.04


def test_dropout_lm_variants_share_the_initial_weights_and_put_the_masks_where_named():
    models = {}
    for variant in dropout_lm.VARIANTS:
        torch.manual_seed(0)
        models[variant] = dropout_lm.dropout_lm(variant, 66)
    reference = models["none"].state_dict()
    for model in models.values():
        assert all(torch.equal(v, reference[k]) for k, v in model.state_dict().items())
    rates = {
        v: (m.layer.input_dropout, m.layer.state_dropout, m.layer.weight_dropout)
        for v, m in models.items()
    }
    p, q = dropout_lm.CONFIG["p"], dropout_lm.CONFIG["p_recurrent"]
    assert rates == {
        "none": (0, 0, 0),
        "Zaremba": (p, 0, 0),
        "per-step state": (p, q, 0),
        "variational": (p, q, 0),
        "weight drop": (p, 0, q),
    }
    assert models["Zaremba"].layer.input_output_dropout_mode == "per_step"
    assert models["per-step state"].layer.state_dropout_mode == "per_step"
    assert models["variational"].layer.state_dropout_mode == "locked"
    assert models["variational"].layer.input_output_dropout_mode == "locked"


def test_mlp_lm_runs_and_scores_the_test_text():
    config = {**mlp_lm.CONFIG, "steps": 3, "hidden_size": 8}
    result = mlp_lm.run(0, config, tiny_shakespeare(*mlp_lm.shakespeare()))
    assert len(result["valid_bits"]) == len(result["valid_steps"]) == 4
    assert 0 < result["test_bits"] < 10


def test_sentiment_runs_every_model_and_keeps_its_best_dev_epoch():
    vocab_size, data = sentiment.datasets(num_buckets=64)
    tiny = {
        kind: {part: (ids[:100], labels[:100]) for part, (ids, labels) in parts.items()}
        for kind, parts in data.items()
    }
    config = {**sentiment.CONFIG}
    for name in sentiment.MODELS:
        config[name] = {**config[name], "epochs": 2}
    config["bag of bigrams"]["num_buckets"] = 64
    result = sentiment.run(0, config, (vocab_size, tiny))
    assert set(result["models"]) == set(sentiment.MODELS)
    for model in result["models"].values():
        assert len(model["dev_accuracy"]) == 2
        assert model["dev_accuracy"][model["best_epoch"] - 1] == max(model["dev_accuracy"])
        assert 0 <= model["test_accuracy"] <= 1


def test_rt_polarity_parts_keep_their_sentences_aligned_for_words_and_bigrams():
    _, data = sentiment.datasets(num_buckets=64)
    for part in ("train", "dev", "test"):
        words, labels = data["words"][part]
        bigrams, bigram_labels = data["bigrams"][part]
        assert torch.equal(labels, bigram_labels)
        # a sentence of L words has L unigrams and L - 1 bigrams
        assert all(len(b) == max(2 * len(w) - 1, 0) for w, b in zip(words, bigrams, strict=True))


def test_esn_experiment_scores_a_small_reservoir():
    config = {
        "mackey_glass": {**esn.CONFIG["mackey_glass"], "units": 30, "train": 300, "test": 50},
        "memory": {**esn.CONFIG["memory"], "units": 10, "k_max": 10},
    }
    result = esn.run(0, config)
    assert 0 < result["nrmse"] < 1  # better than predicting the mean
    assert 0 < result["memory_capacity"] <= 10  # at most the number of units


# -- chapter 8: scheduled_sampling ------------------------------------------------------------


def test_reversal_targets_are_the_source_backwards_after_a_separator():
    source, first, targets = scheduled_sampling.reversal_batch(
        torch.Generator().manual_seed(0), 5, 7
    )
    assert source.shape == targets.shape == (7, 5) and first.tolist() == [10] * 7
    assert source.max() < 10  # digits only: the separator is never a target
    for b in range(7):
        assert targets[b].tolist() == source[b].tolist()[::-1]


@pytest.mark.parametrize("setting", ["linear", "exponential", "inverse sigmoid"])
def test_each_decay_crosses_one_half_halfway_through_training(setting):
    p_true = scheduled_sampling.schedule(setting, 1000)
    assert p_true(0) > 0.99 and p_true(500) == pytest.approx(0.5, abs=1e-9)
    assert p_true(999) < 0.5


def test_inverse_sigmoid_k_solves_k_log_k():
    for half in (3.0, 50.0, 750.0):
        k = scheduled_sampling.inverse_sigmoid_k(half)
        assert k >= 1 and k * math.log(k) == pytest.approx(half, rel=1e-12)


def test_errors_after_a_first_error_are_counted_apart_from_the_others():
    wrong = torch.tensor([[False, True, True, False], [False, False, False, True]])
    after, before = scheduled_sampling.error_after_and_before_a_first_error(wrong)
    # after: row 0 at t = 2, 3 (wrong, right); before: row 0 at t = 0, 1 and all of row 1
    assert after == pytest.approx(1 / 2) and before == pytest.approx(2 / 6)
    assert scheduled_sampling.error_after_and_before_a_first_error(
        torch.zeros(3, 4, dtype=bool)
    ) == (
        0.0,
        0.0,
    )


def test_experiment_runs_every_setting_and_logs_its_fields():
    config = {
        **scheduled_sampling.CONFIG,
        "steps": 4,
        "length": 3,
        "test_size": 20,
        "eval_every": 2,
    }
    result = scheduled_sampling.run(0, config)
    assert set(result["settings"]) == set(scheduled_sampling.SETTINGS)
    for logged in result["settings"].values():
        assert len(logged["loss"]) == 4 and [c["step"] for c in logged["curve"]] == [2, 4]
        assert len(logged["teacher_forced"]) == len(logged["free_running"]) == 3
        for name in ("sequences_right", "error_after_an_error", "error_before_any_error"):
            assert 0 <= logged[f"free_running_{name}"] <= 1
    assert result["settings"]["teacher forcing"]["curve"][0]["p_true"] == 1.0


# -- chapter 9: translation -------------------------------------------------------------------


def test_translation_runs_every_model_and_logs_its_fields(monkeypatch, tmp_path):
    split, english, chinese, encoded = translation.datasets()
    every = slice(None, None, 100)  # 13 pairs of each part, of many lengths
    small = ({p: v[every] for p, v in split.items()}, english, chinese)
    small += ({p: v[every] for p, v in encoded.items()},)
    monkeypatch.setattr(translation, "SAMPLES", range(0, 13, 6))
    monkeypatch.setattr(translation, "BEAMS", ((2, 1.0),))
    config = {**translation.CONFIG, "max_length": 6, "eval_every": 2, "batch_size": 4}
    weights = tmp_path / "weights.pt"
    result = translation.run(0, config, weights=weights, steps=3, data=small)
    assert list(result["models"]) == list(translation.LOGGED)
    lengths = [len(tokenize_english(p.english)) for p in split["test"][every]]
    counts = [sum(lo <= n <= hi for n in lengths) for lo, hi in translation.LENGTH_BUCKETS]
    assert sum(counts) == 13 and min(counts) > 0  # every bucket scored
    for logged in result["models"].values():
        assert logged["logged_at"] == [2, 3] and len(logged["dev_bleu"]) == 2
        assert 0 <= logged["test_bleu"] <= 100 and logged["test_length_ratio"] >= 0
        assert list(logged["test_beam"]) == ["beam 2, alpha 1.0"]
        by_length = logged["test_bleu_by_source_length"]
        assert [b["pairs"] for b in by_length.values()] == counts
        assert list(logged["test_samples"]) == ["0", "6", "12"]
    saved = torch.load(weights)
    assert set(saved) == set(translation.LOGGED)
    assert all(v.dtype == torch.float16 for state in saved.values() for v in state.values())


def test_translation_length_ratio_and_bleu_by_length():
    hypotheses, references = ["我很好。", "你好"], ["我很好。", "你好吗？"]
    assert translation.length_ratio(hypotheses, references) == 6 / 8
    scores = translation.bleu_by_length(hypotheses, references, [3, 7], ((1, 5), (6, 9)))
    assert scores["1-5"] == {"pairs": 1, "bleu": 100.0}
    assert scores["6-9"]["pairs"] == 1 and scores["6-9"]["bleu"] < 100


# -- chapter 10: selective_copying -------------------------------------------------------------


def test_copying_batch_puts_the_data_in_order_before_the_markers():
    config = {**selective_copying.CONFIG, "length": 12, "tokens": 3}
    tokens, targets = selective_copying.copying_batch(torch.Generator().manual_seed(0), 50, config)
    assert tokens.shape == (50, 15) and targets.shape == (50, 3)
    assert (tokens[:, 12:] == selective_copying.MARKER).all()
    for row, target in zip(tokens[:, :12], targets, strict=True):
        data = row[row != selective_copying.BLANK]  # the data symbols, in order
        assert data.tolist() == target.tolist()
    assert targets.min() >= 2 and targets.max() <= config["symbols"] + 1


def test_selective_copying_runs_both_models_of_about_the_same_size():
    config = {
        **selective_copying.CONFIG,
        "length": 8,
        "tokens": 2,
        "steps": 4,
        "eval_every": 2,
        "test_size": 20,
        "curve_test_size": 10,
    }
    result = selective_copying.run(0, config)
    sizes = [logged["parameters"] for logged in result["models"].values()]
    assert max(sizes) < 1.05 * min(sizes)
    for logged in result["models"].values():
        assert len(logged["loss"]) == 4 and [c["step"] for c in logged["curve"]] == [2, 4]
        assert len(logged["accuracy_per_position"]) == 2 and 0 <= logged["accuracy"] <= 1
    selection = result["models"]["Mamba"]["selection"]
    assert set(selection) >= {"data", "blank", "marker", "delta", "tokens"}
    d_inner = config["expand"] * config["d_model"]
    for key in ("after_data", "quiet_blank"):  # per block, per channel
        assert [len(block) for block in selection[key]] == [d_inner] * config["layers"]
