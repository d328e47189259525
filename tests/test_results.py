"""The course-wide results table (book/results.md) and tools/results.py, which writes it.

The page must be what the script writes from the logs as they are now, and every trained row
must report the mean and the range over all the seeds of its log.
"""

import json
import statistics

import pytest

from tools import results
from tools.experiments.log import DATA

# one xdist group: the module-scoped fixtures run once (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("results")


@pytest.fixture(scope="module")
def rendered():
    return results.render()


def test_results_page_is_what_tools_results_writes_from_the_logs(rendered):
    assert results.PAGE.read_text() == rendered, (
        "book/results.md is stale: run `.venv/bin/python -m tools.results` and commit the page"
    )


def row_of(page, name):
    rows = [line for line in page.splitlines() if line.startswith(f"| {name} |")]
    assert len(rows) == 1, f"expected one row named {name!r}; found {len(rows)}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


@pytest.mark.parametrize(
    ("log_name", "model", "name", "score"),
    [(r[0], r[1], r[3], "test_bits") for r in results.TEXT_ROWS]
    + [(r[0], r[1], r[3], "test_accuracy") for r in results.SENTIMENT_ROWS],
)
def test_a_trained_row_gives_the_mean_and_range_over_every_seed(
    rendered, log_name, model, name, score
):
    log = json.loads((DATA / f"{log_name}.json").read_text())
    runs = [run if model is None else run["models"][model] for run in log["runs"]]
    values = [run[score] for run in runs]
    assert len(values) >= 5
    cells = row_of(rendered, name)
    assert cells[-2] == f"{sum(values) / len(values):.3f}"
    assert cells[-1] == f"{min(values):.3f}–{max(values):.3f}"


@pytest.mark.parametrize(("model", "name"), [(r[0], r[2]) for r in results.TRANSLATION_ROWS])
def test_a_translation_row_gives_greedy_and_beam_bleu_over_every_seed(rendered, model, name):
    log = json.loads((DATA / "translation.json").read_text())
    runs = [run["models"][model] for run in log["runs"]]
    assert len(runs) >= 5
    cells = row_of(rendered, name)
    for values, (mean, spread) in (
        ([run["test_bleu"] for run in runs], cells[-4:-2]),
        ([run["test_beam"][results.TRANSLATION_BEAM]["bleu"] for run in runs], cells[-2:]),
    ):
        assert mean == f"{statistics.mean(values):.2f}"
        assert spread == f"{min(values):.2f}–{max(values):.2f}"


def test_mean_and_range_formats_the_mean_and_the_extremes():
    values = [0.25, 0.5, 0.125]
    assert results.mean_and_range(values) == (f"{statistics.mean(values):.3f}", "0.125–0.500")


def test_every_chapter_row_links_to_a_chapter_in_the_table_of_contents():
    toc = (results.ROOT / "_toc.yml").read_text()
    assert "book/results" in toc
    for chapter in results.CHAPTERS.values():
        assert f"book/{chapter}" in toc


def test_training_is_described_from_the_experiments_config():
    assert results.training_steps({"steps": 2000, "batch_size": 256}) == "2 000 steps × 256"
    config = {"steps": 400, "batch_size": 32, "seq_len": 64}
    assert results.training_steps(config) == "400 steps × 32 × 64"
