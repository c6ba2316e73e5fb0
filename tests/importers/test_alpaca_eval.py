"""AlpacaEval annotations imported as a pairwise judge run.

Fixtures: ``fixtures/alpaca_eval/annotations.json`` is hand-made in AlpacaEval's exact
annotation format (the fields of ``results/<model>/weighted_alpaca_eval_gpt4_turbo/
annotations.json`` in tatsu-lab/alpaca_eval: instruction, output_1/generator_1 (baseline),
output_2/generator_2, annotator, weighted preference, dataset, raw_completion, price and time per
example), six items with texts written for this test. The acceptance test reads the real
null-model annotations from ../shared/data/alpaca_eval in place (never copied here) and skips
when that folder is absent.
"""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from assay.analyse import is_pairwise_run, pairwise_report, summarise_run
from assay.importers import import_file
from assay.importers.alpaca_eval import win_rates

from .conftest import FIXTURES, SHARED_DATA

ANNOTATIONS = FIXTURES / "alpaca_eval" / "annotations.json"
PREFERENCES = [1.2231845678, 1.7702147561, 1.5524032988, 1.0000453989, 1.8931124301, 1.0474258732]


def test_annotations_become_a_pairwise_run(store):
    run_id = import_file(store, ANNOTATIONS).run_id
    manifest = store.get_manifest(run_id)
    assert is_pairwise_run(manifest) and manifest.name == "alpaca_eval:my-model-v2"
    (subject,) = manifest.subjects
    assert subject.config["sides"] == {"a": "gpt4_1106_preview", "b": "my-model-v2"}
    assert [j.model for j in manifest.judges] == ["weighted_alpaca_eval_gpt4_turbo"]
    assert manifest.slices == ["dataset"]
    report = pairwise_report(store, run_id)
    # Preferences above 1.5 favour output_2 (side B): items 2, 3 and 5.
    assert (report.wins_b, report.wins_a, report.ties, report.errors) == (3, 3, 0, 0)
    expected = sum(p - 1 for p in PREFERENCES) / len(PREFERENCES)
    assert report.preference_b.estimate == pytest.approx(expected, rel=1e-12)
    summary = summarise_run(store, run_id)
    assert summary.metrics[0].scorer == "preference"
    sample = store.get_samples(run_id)[0]
    assert sample.input == "Name three primary colours."
    assert sample.metadata["pair"]["b"]["text"] == "Red, yellow and blue."


def test_win_rates_raw_and_length_controlled(sqlite_store):
    run_id = import_file(sqlite_store, ANNOTATIONS).run_id
    rates = win_rates(sqlite_store, run_id)
    assert rates.raw.n_total == 6 and rates.raw.n_wins == 3
    assert rates.raw.win_rate == pytest.approx(sum(p - 1 for p in PREFERENCES) / 6, rel=1e-12)
    assert rates.length_controlled is not None and 0 < rates.length_controlled.win_rate < 1


def test_null_model_annotations_reproduce_the_published_raw_win_rate(tmp_path):
    folder = SHARED_DATA / "alpaca_eval"
    path = folder / "nullmodel_annotations.json"
    if not path.is_file():
        pytest.skip(f"reference data not found at {folder} (it sits beside the project in CI)")
    with (folder / "published_subset.csv").open(encoding="utf-8") as fh:
        published = next(r for r in csv.DictReader(fh) if r["model"] == "NullModel")
    from assay.cli import app

    result = CliRunner().invoke(
        app, ["import", "alpaca-eval", str(path), "--db", str(tmp_path / "a.db"), "--json"]
    )
    assert result.exit_code == 0, result.output
    rates = json.loads(result.stdout)["win_rates"]
    # Exact to the annotation file's 10-decimal preferences: 76.91979180... both ways.
    assert 100 * rates["win_rate"] == pytest.approx(float(published["win_rate"]), rel=1e-11)
    assert round(100 * rates["win_rate"], 2) == round(float(published["win_rate"]), 2) == 76.92
    assert 100 * rates["standard_error"] == pytest.approx(
        float(published["standard_error"]), rel=1e-9
    )
    assert 100 * rates["discrete_win_rate"] == pytest.approx(
        float(published["discrete_win_rate"]), rel=1e-12
    )
    assert (rates["n_wins"], rates["n_wins_base"], rates["n_draws"], rates["n_total"]) == (
        int(published["n_wins"]), int(published["n_wins_base"]), 0, 805,
    )  # fmt: skip
    # The LC rate is assay's own GLM fit (length and intercept only): the constant long answer
    # is still far above every real system's published LC rate.
    assert rates["length_controlled_win_rate"] > 0.8
