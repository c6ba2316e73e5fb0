"""The flat score and sample reads of ``assay show`` and ``assay compare`` (issue 20), on SQLite
and PostgreSQL: the same numbers as walking the joined score rows one by one."""

from __future__ import annotations

from typing import Any

from assay.analyse.run_costs import _per_sample_costs, usage_pricer
from assay.analyse.scores import gather_scores, load_scores
from assay.analyse.summary import summarise_run
from assay.analyse.summary_cache import show_summary
from assay.core.prices import PriceBook
from assay.store.score_reads import read_sample_labels, read_score_columns


def _walk(store: Any, run_id: str, scorer_names: list[str]) -> tuple[Any, Any, Any]:
    """Values, ungraded counts and errored samples, one joined score row at a time."""
    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    ungraded: dict[tuple[str, str], int] = {}
    errored: dict[str, set[str]] = {}
    current = None
    skip = False
    for subject, sample_id, epoch, error_class, scorer, value, _ in store.iter_score_rows(run_id):
        if (subject, sample_id, epoch) != current:
            current = (subject, sample_id, epoch)
            skip = bool(error_class)
            if skip:
                errored.setdefault(subject, set()).add(sample_id)
                for name in scorer_names:
                    ungraded[(subject, name)] = ungraded.get((subject, name), 0) + 1
        if skip or scorer is None:
            continue
        if value is None:
            ungraded[(subject, scorer)] = ungraded.get((subject, scorer), 0) + 1
        else:
            values.setdefault((subject, scorer), {}).setdefault(sample_id, []).append(value)
    return values, ungraded, errored


def _stored_run(store: Any, build: Any, run_id: str = "run-0001") -> Any:
    manifest = build.manifest(run_id)
    store.create_run(manifest, build.samples(), n_planned=12)
    results = []
    for k, subject in enumerate(("beta", "alpha")):
        for j, sample_id in enumerate(("q3", "q1", "q2")):
            for epoch in (1, 0):
                if (k, j, epoch) == (0, 1, 1):
                    results.append(build.result(subject, sample_id, epoch, error="429"))
                    continue
                result = build.result(
                    subject,
                    sample_id,
                    epoch,
                    value=None if (k, j) == (1, 2) else float((j + epoch) % 2),
                )
                # Every other call is a fresh one (priced), with its own token counts.
                usage = result.output.usage.model_copy(update={"input_tokens": 10 + j + epoch})
                output = result.output.model_copy(update={"usage": usage})
                results.append(result.model_copy(update={"cached": epoch == 1, "output": output}))
    store.add_results(run_id, results)
    return manifest


def test_flat_reads_match_the_joined_rows(store, build):  # type: ignore[no-untyped-def]
    manifest = _stored_run(store, build)
    names = [s.name for s in manifest.scorers]
    columns = read_score_columns(store, "run-0001")
    gathered = gather_scores(columns, names)
    values, ungraded, errored = _walk(store, "run-0001", names)
    assert gathered.values == values
    assert [list(v) for v in gathered.values.values()] == [list(v) for v in values.values()]
    assert list(gathered.values) == list(values)
    assert gathered.ungraded == ungraded
    assert gathered.errored == errored
    assert gathered.n_results == {"alpha": 6, "beta": 6}
    assert gathered.error_classes == {"beta": {"rate_limited": 1}}
    assert columns.sample_ids[:2] == ["q1", "q1"] and columns.epochs[:2] == [0, 1]
    assert read_sample_labels(store, "run-0001") == store.sample_labels("run-0001")


def test_costs_priced_with_the_scores_equal_the_cost_report_s(store, build):  # type: ignore[no-untyped-def]
    manifest = _stored_run(store, build)
    book = PriceBook({"sim-*": (1.0, 2.0)}, use_genai_prices=False)
    scores = load_scores(store, "run-0001", usage=usage_pricer(book, manifest))
    expected = _per_sample_costs(store, "run-0001", book)
    assert scores.costs == expected
    assert expected["alpha"] and set(expected) == {"alpha", "beta"}
    # Fresh calls only (epoch 0 here), priced with their own input tokens.
    assert expected["alpha"]["q1"] == (11 * 1.0 + 3 * 2.0) / 1e6


def test_show_summary_is_the_fresh_summary_cold_and_warm(store, build):  # type: ignore[no-untyped-def]
    manifest = _stored_run(store, build)
    finished = manifest.model_copy(update={"finished_at": build.at(30)})
    store.finish_run("run-0001", finished, "completed")
    fresh = summarise_run(store, "run-0001").as_dict()
    assert show_summary(store, "run-0001").as_dict() == fresh  # computed, then stored
    assert show_summary(store, "run-0001").as_dict() == fresh  # read back
    with_slices = show_summary(store, "run-0001", slices=["topic"]).as_dict()
    assert with_slices == summarise_run(store, "run-0001", slices=["topic"]).as_dict()
