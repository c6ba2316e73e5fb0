"""Replay of failed traces through a subject (G3): the fraction fixed, with its interval."""

from __future__ import annotations

import json

import pytest
from tests.trace.casework import llm_trace, plant, run_cli, thumbs_down, trace_id

from assay.analyse import summarise_run
from assay.core import AssayError
from assay.providers.sim import _WRONG_GENERIC
from assay.stats import wilson_interval
from assay.store import Store
from assay.trace.feedback import record_feedback
from assay.trace.replay import replay, select_traces

SPEC = """\
name: support
dataset: {path: never-read.jsonl}   # replaced by the traces' inputs
slices: [topic]
subjects:
  - {name: candidate, model: sim/atlas-small, params: {temperature: 0}}
scorers: %s
"""


def _spec(tmp_path, scorers: str = "[exact]"):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC % scorers)
    return path


def _failed_with_corrections(store, n: int = 10) -> list[str]:
    """``n`` traces answered wrongly, each with a thumbs-down and the right answer."""
    plant(
        store, *(llm_trace(i, question=f"What is {i} + {i}?", answer="no idea") for i in range(n))
    )
    events = []
    for i in range(n):
        events.append(thumbs_down(trace_id(i)))
        events.append(
            {
                **thumbs_down(trace_id(i)),
                "kind": "correction",
                "value": None,
                "correction": str(2 * i),
            }
        )
    record_feedback(store, events, sync=False)
    return [trace_id(i) for i in range(n)]


def test_replaying_ten_failed_traces_reports_the_fraction_fixed(store, tmp_path):
    ids = _failed_with_corrections(store)
    chosen = select_traces(store, "failed")
    assert chosen == ids
    report = replay(store, _spec(tmp_path), chosen)
    results = {r.sample_id: r for r in store.iter_results(report.run_id)}
    assert sorted(results) == ids  # one sample per trace, the trace id as its id
    truth = {t: r.output.text == str(2 * ids.index(t)) for t, r in results.items()}
    fixed = sum(truth.values())
    assert 0 < fixed < 10  # the sim subject fixes some, not all (seeded)
    (subject,) = report.subjects
    assert (subject.subject, subject.fixed, subject.n) == ("candidate", fixed, 10)
    expected = wilson_interval(fixed, 10)
    assert subject.interval.low == pytest.approx(expected.low)
    assert subject.interval.high == pytest.approx(expected.high)
    assert {r.trace_id: r.fixed for r in report.rows} == truth
    assert all(r.why.startswith("passes exact") for r in report.rows if r.fixed)
    assert "every scorer's verdict passes" in report.rule
    # The run is stored like any other, its samples carrying the failure.
    sample = store.get_samples(report.run_id)[0]
    assert (
        sample.metadata["failure"]
        == "thumbs-down from end_user on prod; corrected by end_user on prod"
    )
    assert sample.input[-1].content == "What is 0 + 0?"
    summary = summarise_run(store, report.run_id)
    assert summary.run.id == report.run_id and summary.manifest.name == "support-replay"
    data = report.as_dict()
    assert data["subjects"][0]["fraction_fixed"] == pytest.approx(fixed / 10)


def test_without_a_target_a_fix_must_differ_from_the_failed_output(store, tmp_path):
    """No correction: exact cannot judge, so an output counts as fixed when it differs from
    the observed failed output (and passes the format check)."""
    plant(store, *(llm_trace(i, answer=_WRONG_GENERIC) for i in range(8)), llm_trace(9))
    record_feedback(store, [thumbs_down(trace_id(i)) for i in range(8)], sync=False)
    ids = [trace_id(i) for i in (*range(8), 9)]
    report = replay(store, _spec(tmp_path, "[exact, {length: {max_words: 50}}]"), ids)
    sim_right = {
        r.sample_id: r.output.metadata["sim"]["correct"] for r in store.iter_results(report.run_id)
    }
    (subject,) = report.subjects
    assert subject.n == 8 and report.not_failed == [trace_id(9)]
    assert subject.fixed == sum(sim_right[trace_id(i)] for i in range(8))
    for row in report.rows[:8]:
        assert row.fixed == sim_right[row.trace_id]
        expected = (
            "differs from the failed output and passes length"
            if row.fixed
            else "same output as the failed trace"
        )
        assert row.why == expected


def test_trace_queries_name_their_mistakes(store, tmp_path):
    ids = _failed_with_corrections(store, 2)
    assert select_traces(store, f" {ids[1].upper()}, {ids[0]} ") == [ids[1], ids[0]]
    listing = tmp_path / "ids.txt"
    listing.write_text(f"# chosen\n{ids[0]}\n\n{ids[1]}  # the second\n")
    assert select_traces(store, str(listing)) == ids
    listing.write_text(f"{ids[0]}\nnot-an-id\n")
    with pytest.raises(AssayError, match=r"ids\.txt:2: 'not-an-id' is not a trace id"):
        select_traces(store, str(listing))
    with pytest.raises(AssayError, match="no stored trace"):
        select_traces(store, f"{ids[0]},{'f' * 32}")
    with pytest.raises(AssayError, match="--traces"):
        select_traces(store, "abc")
    with pytest.raises(AssayError, match="spec file not found"):
        replay(store, tmp_path / "nope.yaml", ids)


def test_replay_from_the_cli(tmp_path, monkeypatch, capsys):
    # On a SQLite file only: the CLI takes a store URL; the tests above cover PostgreSQL.
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store(url)
    _failed_with_corrections(store, 4)
    store.close()
    spec = _spec(tmp_path)
    db = ["--db", url]
    code, out, err = run_cli(
        monkeypatch, capsys, "traces", "replay", "--spec", str(spec), "--traces", "failed", *db
    )
    assert code == 0, err
    assert "failed traces =" in out and "95% Wilson interval" in out and "rule: fixed" in out
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "traces",
        "replay",
        "--spec",
        str(spec),
        "--traces",
        trace_id(0),
        "--json",
        *db,
    )
    data = json.loads(out)
    assert data["subjects"][0]["n_failed"] == 1 and len(data["traces"]) == 1
    code, out, _ = run_cli(monkeypatch, capsys, "show", data["run_id"], *db)
    assert code == 0 and "candidate" in out
    code, _, err = run_cli(
        monkeypatch, capsys, "traces", "replay", "--spec", str(spec), "--traces", "xyz", *db
    )
    assert code == 2 and "'xyz' is not a trace id" in err
