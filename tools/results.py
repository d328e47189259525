"""Write the course-wide results table, ``book/results.md``, from code that runs.

``.venv/bin/python -m tools.results`` rebuilds the page. Two kinds of rows:

- **counted** models (uniform, n-grams of chapter 1) are computed here, in seconds and
  deterministically, with chapter 1's functions and split (``coursekit.ngram``: add-k with k
  chosen on the validation text by ``tune_k``, interpolation with k = 0.01 and the lambdas
  chosen by ``tune_lambdas``);
- **trained** models are read from the logs of the seeded experiments in ``book/data/``
  (``tools/experiments/``), and reported as the mean and the range (min-max) over the seeds.

``tests/test_results.py`` fails when the page differs from what this script writes now, so
rerunning an experiment without rebuilding the page (or the reverse) is caught. A chapter
that trains a new model adds an experiment and a row here.
"""

from __future__ import annotations

import json
import math
import statistics

from coursekit import NGramModel, tune_k, tune_lambdas
from coursekit.data import load_tiny_shakespeare, split_text
from tools.experiments.log import DATA, ROOT

PAGE = ROOT / "book" / "results.md"

# (log, model key in each run or None, chapter, name): one row each
TEXT_ROWS = [
    ("mlp_lm", None, 1, "MLP LM, 8-character context, d 32, H 512"),
    ("char_models", "RNN", 2, "char-RNN, d 64, 256 tanh units"),
    ("char_models", "LSTM", 4, "char-LSTM, d 64, 128 units"),
    ("char_models", "GRU", 4, "char-GRU, d 64, 150 units"),
    ("mamba_char", None, 10, "Mamba, d 80, 2 blocks, state 16"),
    ("dropout_lm", "none", 6, "char-LSTM, 20 000 chars, 128 units, no dropout"),
    ("dropout_lm", "Zaremba", 6, "char-LSTM, 20 000 chars, 128 units, Zaremba dropout"),
    ("dropout_lm", "per-step state", 6, "char-LSTM, 20 000 chars, 128 units, per-step h dropout"),
    ("dropout_lm", "variational", 6, "char-LSTM, 20 000 chars, 128 units, variational dropout"),
    ("dropout_lm", "weight drop", 6, "char-LSTM, 20 000 chars, 128 units, weight drop"),
]
SENTIMENT_ROWS = [
    ("sentiment", "CBOW", 1, "CBOW, d 64"),
    ("sentiment", "deep CBOW", 1, "deep CBOW, d 64, two tanh layers of 64, dropout 0.3"),
    ("sentiment", "bag of bigrams", 1, "bag of unigrams and bigrams, 2^18 buckets"),
    ("sentiment", "RNN, final state", 2, "RNN classifier, d 64, H 64, final state"),
    ("sentiment", "RNN, mean of states", 2, "RNN classifier, d 64, H 64, mean of states"),
]
# (log, model key, chapter, name) on the adding problem (tools/experiments/adding_problem.py)
ADDING_ROWS = [
    ("adding_problem", "RNN", 4, "tanh RNN"),
    ("adding_problem", "LSTM", 4, "LSTM"),
    ("adding_problem", "LSTM, forget bias 1", 4, "LSTM, forget-gate bias 1"),
    ("adding_problem", "GRU", 4, "GRU"),
    ("layernorm_lstm", "LSTM, init x1", 7, "LSTM"),
    ("layernorm_lstm", "LSTM, init x4", 7, "LSTM, weight matrices x4"),
    ("layernorm_lstm", "LN-LSTM, init x1", 7, "LayerNorm-LSTM"),
    ("layernorm_lstm", "LN-LSTM, init x4", 7, "LayerNorm-LSTM, weight matrices x4"),
]
# (log, setting, chapter, name) on digit reversal (tools/experiments/scheduled_sampling.py)
REVERSAL_ROWS = [
    ("scheduled_sampling", "teacher forcing", 8, "GRU decoder, teacher forcing"),
    ("scheduled_sampling", "linear", 8, "GRU decoder, scheduled sampling, linear decay"),
    ("scheduled_sampling", "exponential", 8, "GRU decoder, scheduled sampling, exponential decay"),
    (
        "scheduled_sampling",
        "inverse sigmoid",
        8,
        "GRU decoder, scheduled sampling, inverse sigmoid decay",
    ),
]
# (model key, chapter, name) on English -> Chinese translation (tools/experiments/translation.py)
TRANSLATION_ROWS = [
    ("no attention", 9, "BiGRU encoder, GRU decoder, no attention"),
    ("additive", 9, "BiGRU encoder, GRU decoder, additive attention"),
    ("dot", 9, "BiGRU encoder, GRU decoder, dot attention"),
]
TRANSLATION_BEAM = "beam 5, alpha 1.0"  # the beam-search setting of the table
CHAPTERS = {
    1: "01_language_models",
    2: "02_recurrent_networks",
    4: "04_lstm_and_gru",
    6: "06_dropout",
    7: "07_layer_normalisation",
    8: "08_scheduled_sampling",
    9: "09_seq2seq_and_attention",
    10: "10_state_space_models_and_mamba",
    11: "11_echo_state_networks",
}


def load_log(name: str) -> dict:
    path = DATA / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m tools.experiments.{name}`")
    return json.loads(path.read_text())


def seed_scores(log: dict, model: str | None, score: str) -> list[float]:
    """One score per seed of a log: ``run[score]``, or ``run["models"][model][score]``."""
    return [(run if model is None else run["models"][model])[score] for run in log["runs"]]


def parameters(log: dict, model: str | None) -> int:
    counts = set(seed_scores(log, model, "parameters"))
    assert len(counts) == 1, f"{log['experiment']}: the seeds disagree on the model size"
    return counts.pop()


def training_steps(config: dict) -> str:
    """Steps x windows per step (x characters per window), from an experiment's config."""
    steps = f"{config['steps']:,}".replace(",", " ")
    window = f" × {config['seq_len']}" if "seq_len" in config else ""
    return f"{steps} steps × {config['batch_size']}{window}"


def mean_and_range(values: list[float]) -> tuple[str, str]:
    return f"{statistics.fmean(values):.3f}", f"{min(values):.3f}–{max(values):.3f}"


def counted_rows() -> list[list[str]]:
    """Chapter 1's counted models on its split of Tiny Shakespeare: [name, test bits]."""
    train_text, valid_text, test_text = split_text(load_tiny_shakespeare())
    rows = []
    for n in (1, 2, 3, 5):
        model = NGramModel(n).fit(train_text)
        tune_k(model, valid_text)
        if n == 1:
            V = len(model.vocab)
            rows.append([f"uniform over {V} symbols", f"{math.log2(V):.3f}"])
        rows.append([f"{n}-gram, add-k, k = {model.k:g}", f"{model.bits_per_token(test_text):.3f}"])
    model = NGramModel(5, k=0.01).fit(train_text)
    lambdas = tune_lambdas(model, valid_text)
    name = "5-gram, interpolated, λ = " + " ".join(f"{x:.1f}" for x in lambdas)
    rows.append([name, f"{model.bits_per_token(test_text):.3f}"])
    return rows


def chapter_link(chapter: int) -> str:
    return f"{{doc}}`{chapter} <{CHAPTERS[chapter]}>`"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def seeds_note(names: list[str]) -> str:
    logs = [load_log(name) for name in names]
    return ", ".join(
        f"`book/data/{log['experiment']}.json` ({len(log['seeds'])} seeds, `{log['script']}`)"
        for log in logs
    )


def esn_rows() -> list[list[str]]:
    """Chapter 11's echo state networks (tools/experiments/esn.py): [name, ch., trained
    weights, training, score, mean, range] for Mackey-Glass NRMSE and memory capacity."""
    log = load_log("esn")
    mg, mem = log["config"]["mackey_glass"], log["config"]["memory"]
    seconds = statistics.fmean(seed_scores(log, None, "fit_seconds"))
    errors = seed_scores(log, None, "nrmse")
    error = f"{statistics.fmean(errors):.1e}"
    error_range = f"{min(errors):.1e}–{max(errors):.1e}"
    capacity = seed_scores(log, None, "memory_capacity")
    name = f"ESN, {mg['units']} units, ρ {mg['spectral_radius']:g}, leak {mg['leak_rate']:g}"
    training = f"one ridge solve on {mg['train']} steps, {seconds:.1f} s"
    return [
        [name, chapter_link(11), f"{mg['units'] + 1:,}", training, "NRMSE", error, error_range],
        [
            f"ESN, {mem['units']} units, ρ {mem['spectral_radius']:g}, k_max {mem['k_max']}",
            chapter_link(11),
            f"{mem['k_max'] * (mem['units'] + 1):,}",
            "one ridge solve per delay",
            "memory capacity",
            f"{statistics.fmean(capacity):.2f}",
            f"{min(capacity):.2f}–{max(capacity):.2f}",
        ],
    ]


def adding_rows() -> list[list[str]]:
    """Chapters 4 and 7 on the adding problem: [name, ch., parameters, training, MSE, range].

    The logs do not record model sizes; they are counted here on the experiments' own models
    (a recurrent layer and a linear readout), built as the scripts build them."""
    from tools.experiments import adding_problem, layernorm_lstm

    rows = []
    for log_name, model, chapter, name in ADDING_ROWS:
        log = load_log(log_name)
        config = log["config"]
        if log_name == "adding_problem":
            built = adding_problem.Regressor(model, config["hidden_size"])
        else:
            built = layernorm_lstm.Regressor(model.split(",")[0], 1.0, config["hidden_size"])
        size = sum(p.numel() for p in built.parameters())
        mse = seed_scores(log, model, "test_mse")
        training = f"{config['steps']} steps × {config['batch']}"
        spread = f"{min(mse):.1e}–{max(mse):.1e}"
        full_name = f"{name}, H {config['hidden_size']}"
        mean = f"{statistics.fmean(mse):.1e}"
        rows.append([full_name, chapter_link(chapter), f"{size:,}", training, mean, spread])
    return rows


def reversal_rows() -> list[list[str]]:
    """Chapter 8's GRU decoders on digit reversal: [name, ch., parameters, training, token
    error, range, sequences right, range], free running (greedy) on the log's test sources.

    The log does not record the model size; it is counted here on the experiment's own
    decoder (embedding, GRU cell, linear readout), built as the script builds it."""
    from tools.experiments import scheduled_sampling

    rows = []
    for log_name, setting, chapter, name in REVERSAL_ROWS:
        log = load_log(log_name)
        config = log["config"]
        size = sum(p.numel() for p in scheduled_sampling.Decoder(config).parameters())
        runs = [run["settings"][setting] for run in log["runs"]]
        error = mean_and_range([statistics.fmean(run["free_running"]) for run in runs])
        right = mean_and_range([run["free_running_sequences_right"] for run in runs])
        training = f"{config['steps']} steps × {config['batch']}"
        full_name = f"{name}, H {config['hidden_size']}"
        rows.append([full_name, chapter_link(chapter), f"{size:,}", training, *error, *right])
    return rows


def translation_rows() -> list[list[str]]:
    """Chapter 9's translation models on the cmn-eng test pairs: [name, ch., parameters,
    training, greedy BLEU, range, beam BLEU, range]; BLEU to two decimals."""
    log = load_log("translation")
    config = log["config"]
    rows = []
    for model, chapter, name in TRANSLATION_ROWS:
        runs = [run["models"][model] for run in log["runs"]]
        cells = []
        for values in (
            [run["test_bleu"] for run in runs],
            [run["test_beam"][TRANSLATION_BEAM]["bleu"] for run in runs],
        ):
            cells += [f"{statistics.fmean(values):.2f}", f"{min(values):.2f}–{max(values):.2f}"]
        steps = f"{runs[0]['steps']:,}".replace(",", " ")
        training = f"{steps} steps × {config['batch_size']}"
        rows.append([name, chapter_link(chapter), f"{parameters(log, model):,}", training, *cells])
    return rows


def render() -> str:
    text_rows = [
        [name, chapter_link(1), "", "counted", score, ""] for name, score in counted_rows()
    ]
    for log_name, model, chapter, name in TEXT_ROWS:
        log = load_log(log_name)
        training = training_steps(log["config"])
        mean, spread = mean_and_range(seed_scores(log, model, "test_bits"))
        size = f"{parameters(log, model):,}"
        text_rows.append([name, chapter_link(chapter), size, training, mean, spread])
    sentiment_rows = []
    for log_name, model, chapter, name in SENTIMENT_ROWS:
        log = load_log(log_name)
        mean, spread = mean_and_range(seed_scores(log, model, "test_accuracy"))
        epochs = f"{log['config'][model]['epochs']} epochs"
        size = f"{parameters(log, model):,}"
        sentiment_rows.append([name, chapter_link(chapter), size, epochs, mean, spread])
    return f"""# Results · 结果总表

Every model of the course that is scored on a shared test set, one row each, with the
chapter that builds it. This page is generated: `python -m tools.results` writes it from
the logs of the seeded experiments in `book/data/` and from the counted models it
recomputes, and `tests/test_results.py` fails when it is out of date. A trained model is
reported as the mean and the range (lowest to highest) over its seeds; a counted model has
one exact value. The trained rows come from short runs that fit in minutes of one CPU core,
fewer steps than the chapters' own single runs, so they compare models at the same small
budget, not at their best.

## Tiny Shakespeare: test bits per character

The test text is the last 5 % of Tiny Shakespeare (55 770 characters), the same in every
row (chapter 1's and chapter 2's split). The counted models score it in one pass; the
recurrent models in 32 contiguous columns, each starting from a zero state; the MLP LM
predicts every character after the first eight. Training is counted in steps × windows (×
characters per window). Lower is better.

{table(["model", "ch.", "parameters", "training", "bits/char", "range"], text_rows)}

Trained rows from {seeds_note(["mlp_lm", "char_models", "dropout_lm"])}.
Chapter 1 trains its MLP LM once for 8 000 steps, and chapter 2 its char-RNN for 2 500:
longer runs than these, with lower scores. Chapter 6's rows train on only the first 20 000
characters of the training text, the setting in which the model overfits and dropout
matters, so they compare kinds of dropout with each other, not with the rows above.

## rt-polarity: test accuracy

The book's fixed split of the sentence polarity data (`coursekit.rt_polarity_split`: 8 528
training, 1 066 dev and 1 068 test sentences); each model keeps the weights of its best
dev epoch of those trained, and every epoch is a pass over the training sentences in
minibatches of 64. With 1 068 test sentences one accuracy has a standard error of about
0.013. Higher is better.

{table(["model", "ch.", "parameters", "training", "accuracy", "range"], sentiment_rows)}

Trained rows from {seeds_note(["sentiment"])}.

## The adding problem (T = 50): test mean squared error

Each sequence holds 50 values in [0, 1], two of them marked (one in each half); the target
is the sum of the two marked values, read from the last hidden state by a linear layer. The
test set is the same 1 000 sequences in every row; answering the mean of the targets scores
0.167. Chapter 7 trains for half as many steps as chapter 4 (600 against 1 200), so compare
within a chapter's rows. Lower is better.

{table(["model", "ch.", "parameters", "training", "test MSE", "range"], adding_rows())}

Rows from {seeds_note(["adding_problem", "layernorm_lstm"])}.

## Digit reversal (T = 8): free-running error

A GRU decoder reads 8 random digits and writes them backwards, one digit per step, each
step fed its own previous output (free running, greedy), as at test time. Chapter 8 trains
it with teacher forcing and with scheduled sampling under the three decays of Bengio et al.
(each crossing 1/2 halfway through training), from the same initial weights and batches for
each seed. The test set is the same 1 000 sources in every row. Token error: the fraction
of output digits that are wrong (lower is better); sequences right: the fraction of sources
reversed without an error (higher is better).

{table(["model", "ch.", "parameters", "training", "token error", "range", "sequences right", "range"], reversal_rows())}

Rows from {seeds_note(["scheduled_sampling"])}.

## English → Chinese translation (cmn-eng): test BLEU

The book's fixed split of the Tatoeba English–Chinese pairs
(`coursekit.cmn_eng_split`: 21 251 training, 1 119 dev and 1 240 test pairs; the Chinese
side in simplified characters). English words in, Chinese characters out; corpus BLEU of
sacrebleu with its `zh` tokeniser, one reference per pair. Each model trains for about 240
seconds of one free CPU core (those with attention take more time per step, so they get
fewer steps; chapter 9 gives the times); greedy decoding, and beam search with 5 hypotheses
and the length penalty of Eq. (9.15) with α = 1. Higher is better.

{table(["model", "ch.", "parameters", "training", "BLEU, greedy", "range", "BLEU, beam 5", "range"], translation_rows())}

Rows from {seeds_note(["translation"])}.

## Echo state networks: Mackey–Glass and memory capacity

One-step prediction of the Mackey–Glass series (τ = 17, one sample per time unit): trained
on 2 000 steps, scored on the next 500 by the NRMSE (the RMSE over the target's standard
deviation; lower is better). Memory capacity, Eq. (11.7): the sum over delays of the squared
correlation of a readout with the delayed input (higher is better, at most the number of
units). Only the readout is trained; the seconds are one CPU core's.

{table(["model", "ch.", "trained weights", "training", "score", "mean", "range"], esn_rows())}

Rows from {seeds_note(["esn"])}.
"""


def main() -> None:
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
