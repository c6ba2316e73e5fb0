"""The reads of ``assay show`` and ``assay compare`` use migration 0011's indexes (issue 20,
§9): the results' keys and scores come from covering indexes, a run's errors are counted from
the partial index of failed results, and the rows are read for pricing only when a call can
have a price (then with the same costs as the cost report's own read)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event

from assay.analyse.run_costs import _per_sample_costs, usage_pricer
from assay.analyse.scores import load_scores
from assay.core.prices import PriceBook, PriceEntry, Rates
from assay.store.score_reads import read_score_columns


def _stored(store: Any, build: Any) -> Any:
    """Two subjects over three samples, two epochs, fresh calls; one failed call with an error
    text, and one result whose error is empty (counted by ``count(error)`` as before 0011, and
    priced, as the cost report prices it)."""
    manifest = build.manifest("run-0001")
    store.create_run(manifest, build.samples(), n_planned=12)
    results = []
    for subject in ("alpha", "beta"):
        for sample_id in ("q1", "q2", "q3"):
            for epoch in (0, 1):
                if (subject, sample_id, epoch) == ("beta", "q2", 1):
                    results.append(build.result(subject, sample_id, epoch, error="429"))
                else:
                    result = build.result(subject, sample_id, epoch, value=float(epoch))
                    results.append(result.model_copy(update={"cached": False}))  # priced
    results[0] = results[0].model_copy(update={"error": ""})
    store.add_results("run-0001", results)
    return manifest


@pytest.fixture
def statements(store: Any) -> Iterator[list[str]]:
    """Every SQL statement SQLite runs from here on (expanded, with its parameters)."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plans")
    seen: list[str] = []
    store.engine.dispose()  # new connections, each traced

    def trace(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    event.listen(store.engine, "connect", trace)
    yield seen
    event.remove(store.engine, "connect", trace)


def _plans(store: Any, sql: list[str]) -> dict[str, str]:
    """The query plan of each SELECT on results or scores."""
    plans = {}
    with store.engine.connect() as conn:
        for statement in sql:
            if statement.startswith("SELECT") and (
                " results" in statement or " scores" in statement
            ):
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement).all()
                plans[statement] = " | ".join(str(row[-1]) for row in rows)
    return plans


def _book(since: datetime | None) -> PriceBook:
    rates = Rates(1.0, 2.0, source="spec", model="sim-*")
    day = None if since is None else since.date()
    return PriceBook([PriceEntry("sim-*", rates, since=day)], use_genai_prices=False)


def test_score_reads_use_covering_indexes(store, build, statements):  # type: ignore[no-untyped-def]
    manifest = _stored(store, build)
    statements.clear()
    read_score_columns(store, "run-0001", usage=usage_pricer(_book(None), manifest))
    plans = _plans(store, statements)
    keys = [p for s, p in plans.items() if "error_class FROM results" in s]
    scores = [p for s, p in plans.items() if "FROM scores" in s]
    models = [p for s, p in plans.items() if "DISTINCT" in s]
    assert keys and scores and models
    assert "USING COVERING INDEX ix_results_run_id_covering" in keys[0]
    assert "TEMP B-TREE" not in keys[0]  # the index gives the order
    assert "USING COVERING INDEX ix_scores_run_id_covering" in scores[0]
    assert "USING COVERING INDEX ix_results_run_id_covering" in models[0]


def test_error_counts_read_the_index_of_failed_results(store, build, statements):  # type: ignore[no-untyped-def]
    _stored(store, build)
    statements.clear()
    info = store.get_run("run-0001")
    assert (info.n_results, info.n_errors) == (12, 2)  # "429" and the empty error
    assert [(r.n_results, r.n_errors) for r in store.list_runs()] == [(12, 2)]
    plans = [p for s, p in _plans(store, statements).items() if "count(" in s]
    assert any("ix_results_failed" in p for p in plans)
    assert all("COVERING INDEX" in p or "ix_results_failed" in p for p in plans)


def test_unpriced_runs_read_no_row_for_pricing(store, build, statements):  # type: ignore[no-untyped-def]
    manifest = _stored(store, build)
    later = datetime.now(UTC) + timedelta(days=2)  # the price applies only from then on
    statements.clear()
    scores = load_scores(store, "run-0001", usage=usage_pricer(_book(later), manifest))
    assert scores.costs == {"alpha": {}, "beta": {}}
    assert scores.costs == _per_sample_costs(store, "run-0001", _book(later))
    priced_reads = [s for s in statements if "output_json" in s]
    assert len(priced_reads) == 1  # the cost report's own read above, not load_scores'


def test_priced_runs_cost_what_the_cost_report_says(backend, build):  # type: ignore[no-untyped-def]
    store = backend.open()
    manifest = _stored(store, build)
    book = _book(datetime(2000, 1, 1, tzinfo=UTC))
    scores = load_scores(store, "run-0001", usage=usage_pricer(book, manifest))
    assert scores.costs == _per_sample_costs(store, "run-0001", book)
    assert scores.costs is not None and scores.costs["alpha"]["q1"] > 0
    # A failed call is not priced.
    columns = read_score_columns(store, "run-0001", usage=usage_pricer(book, manifest))
    assert columns.costs is not None
    assert int(np.isnan(columns.costs).sum()) == 1  # the "429"; the empty error is priced
