"""Traces as a population (D1, D2, D7): the trace store read as sampling records, sampled
cases written as a dataset, production shares and the curated-set audit, on SQLite and
PostgreSQL with traces written by store_spans."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from assay import load_dataset
from assay.cli import main
from assay.data.curriculum import MISSING, audit_curated
from assay.data.sampling import StrataSpec, composition, draw_stratified
from assay.trace.ingest import store_spans
from assay.trace.model import SpanRecord
from assay.trace.population import (
    attribute,
    parse_fields,
    read_population,
    sampled_case_id,
    sampled_cases,
    write_cases,
)

MONDAY = datetime(2024, 11, 4, tzinfo=UTC)
SEGMENTS = ("consumer", "smb", "enterprise")
INTENTS = ("refund", "shipping", "plan_question")
N_TRACES = 200


def _email(i: int) -> str:
    return f"jane.doe{i}@example.org"


def _trace(i: int) -> list[SpanRecord]:
    """Trace ``i``: a root span with the app's attributes and an LLM span whose input plants
    an email. 12% of inputs need clarification (i % 25 < 3); trace 7 keeps its segment in
    OpenInference's JSON ``metadata``; trace 11 has no intent; trace 13 has no input at all."""
    trace_id = f"{i + 1:032x}"
    start = MONDAY + timedelta(hours=(i * 7) % 168, minutes=i % 60)
    intent = "clarification_needed" if i % 25 < 3 else INTENTS[i % 3]
    attributes = {
        "app.segment": SEGMENTS[i % 3],
        "geo.country.iso_code": "DE" if i % 4 == 0 else "US",
        "app.route": "/support",
        "app.intent": intent,
    }
    attributes["enduser.role" if i % 2 else "app.actor"] = "agent" if i % 5 == 0 else "customer"
    if i == 7:
        del attributes["app.segment"]
        attributes["metadata"] = json.dumps({"segment": "vip"})
    if i == 11:
        del attributes["app.intent"]
    root = SpanRecord(
        trace_id=trace_id,
        span_id="00000000000000a1",
        name="support-chat",
        start_time=start,
        end_time=start + timedelta(seconds=3),
        kind="chain",
        attributes=attributes,
        session_id=f"s-{i % 40}",
    )
    llm = SpanRecord(
        trace_id=trace_id,
        span_id="00000000000000b2",
        parent_id="00000000000000a1",
        name="chat gpt-4o",
        start_time=start + timedelta(milliseconds=5),
        end_time=start + timedelta(seconds=2),
        kind="llm",
        model_requested="gpt-4o",
        model_resolved="gpt-4o-2024-08-06",
        input=None
        if i == 13
        else [
            {"role": "system", "content": "You are the support assistant."},
            {"role": "user", "content": f"Order {i} is late, write to {_email(i)} please"},
        ],
        output=[{"role": "assistant", "content": "Sorry about that."}],
        input_tokens=40,
        output_tokens=6,
    )
    return [root, llm]


def _plant(store, n: int = N_TRACES, *, redact: bool = True) -> None:
    spans = [span for i in range(n) for span in _trace(i)]
    note = None if redact else "test: stored unredacted on purpose"
    report = store_spans(store, spans, redact=redact, note=note)
    assert report.stored == 2 * n


STRATA = ("hour_of_week", "segment", "geography", "intent", "actor", "route", "model_resolved")


def test_records_take_labels_from_attributes_columns_and_json_metadata(store):
    _plant(store)
    records = read_population(store, STRATA)
    assert len(records) == N_TRACES
    by_id = {r.values["trace_id"]: r.values for r in records}
    first = by_id[f"{1:032x}"]
    assert first["timestamp"] == MONDAY and first["redacted"] is True
    assert (first["segment"], first["geography"], first["intent"]) == (
        "consumer",
        "DE",
        "clarification_needed",
    )
    assert (first["actor"], first["route"], first["model_resolved"]) == (
        "agent",
        "/support",
        "gpt-4o-2024-08-06",
    )
    assert by_id[f"{8:032x}"]["segment"] == "vip"  # metadata.segment inside JSON text
    assert by_id[f"{12:032x}"]["intent"] == MISSING
    assert by_id[f"{2:032x}"]["actor"] == "customer"  # from enduser.role
    intents = Counter(r.values["intent"] for r in records)
    assert intents["clarification_needed"] == 24  # 12% of 200
    # records come in start order and the window bounds the trace start
    assert [r.values["timestamp"] for r in records] == sorted(
        r.values["timestamp"] for r in records
    )
    window = read_population(
        store, ("segment",), since=MONDAY + timedelta(days=1), until=MONDAY + timedelta(days=2)
    )
    expected = sum(
        1
        for r in records
        if timedelta(days=1) <= r.values["timestamp"] - MONDAY < timedelta(days=2)
    )
    assert len(window) == expected > 0


def test_field_overrides_name_attributes_and_columns(store):
    _plant(store, 30)
    fields = parse_fields(["segment=app.route", "tier=user.tier|app.segment", "who=session_id"])
    records = read_population(store, ("segment", "tier", "who"), fields=fields)
    values = records[0].values
    assert (values["segment"], values["tier"], values["who"]) == ("/support", "consumer", "s-0")
    with pytest.raises(Exception, match="NAME=SOURCE"):
        parse_fields(["segment"])


def test_attribute_paths_reach_into_json_objects():
    attrs = {"metadata": '{"user": {"tier": "gold"}}', "a.b": 1, "llm": {"x": 2}}
    assert attribute(attrs, "metadata.user.tier") == "gold"
    assert attribute(attrs, "a.b") == 1 and attribute(attrs, "llm.x") == 2
    assert attribute(attrs, "metadata.missing") is None


def test_stratified_sample_becomes_a_dataset_of_redacted_cases(store, tmp_path):
    _plant(store)
    population = read_population(store, ("segment", "intent"))
    spec = StrataSpec(("segment", "intent"))
    drawn = draw_stratified(population, spec, 60, seed=3)
    assert all(abs(a.drawn - a.quota) < 1 for a in drawn.allocation)
    cases = sampled_cases(store, drawn.records, spec.strata)
    path = tmp_path / "sampled.jsonl"
    write_cases(cases.rows, path)
    left_out = set(cases.without_input)
    assert left_out <= {f"{14:032x}"}  # trace 13 holds no input
    dataset = load_dataset(path)
    assert len(dataset) == 60 - len(left_out)
    text = path.read_text()
    assert "@example.org" not in text and "<EMAIL_1>" in text
    sample = dataset.samples[0]
    trace_id = sample.provenance.source_ref
    assert sample.id == sampled_case_id(trace_id)
    assert (sample.provenance.origin, sample.provenance.source_type) == ("sampled", "trace")
    assert sample.metadata["origin"] == "sampled-production"
    assert sample.metadata["created_from"] == trace_id
    assert [m.role for m in sample.messages] == ["system", "user"]
    drawn_values = {r.values["trace_id"]: r.values for r in drawn.records}
    assert sample.metadata["intent"] == drawn_values[trace_id]["intent"]
    report = composition(drawn.records, population, spec)
    intent = {v.value: v for v in report.variables["intent"]}
    assert intent["clarification_needed"].sample_count == round(60 * 24 / 200)


def test_a_trace_stored_without_redaction_is_redacted_on_the_way_out(store):
    _plant(store, 20, redact=False)
    records = read_population(store, ("segment",))
    assert not any(r.values["redacted"] for r in records)
    rows = sampled_cases(store, records[:5], ("segment",)).rows
    dumped = json.dumps(rows)
    assert "@example.org" not in dumped and "<EMAIL_1>" in dumped


def test_curated_set_against_trace_shares_flags_curriculum_trap(store):
    _plant(store)
    production = Counter(r.values["intent"] for r in read_population(store, ("intent",)))
    report = audit_curated({"refund": 100, "shipping": 100, "plan_question": 100}, production)
    assert [f.code for f in report.flags] == ["curriculum_trap"]
    assert report.production_missing == 1
    clar = next(c for c in report.categories if c.category == "clarification_needed")
    assert clar.production.count == 24 and clar.production.n == 199


# -- the CLI, in this process (as the console script runs it), against the same stores ----------


def _db(backend) -> str:
    if backend.name == "sqlite":
        return backend.url
    return f"{backend.url}?options={quote(backend.connect_args['options'])}"


@pytest.fixture
def cli(monkeypatch, capsys):
    def run(*args: object, code: int = 0) -> tuple[str, str]:
        monkeypatch.setattr(sys, "argv", ["assay", *map(str, args)])
        with pytest.raises(SystemExit) as stopped:
            main()
        out, err = capsys.readouterr()
        assert (stopped.value.code or 0) == code, f"stdout:\n{out}\nstderr:\n{err}"
        return out, err

    return run


def test_cli_sample_composition_and_curated_audit(backend, tmp_path, cli):
    store = backend.open()
    _plant(store)
    db = _db(backend)
    out = tmp_path / "cases.jsonl"
    stdout, _ = cli(
        "data", "sample", "--traces", "--db", db, "--n", "50", "--strata", "segment,intent",
        "--field", "segment=app.segment|metadata.segment", "--out", out, "--json",
    )  # fmt: skip
    report = json.loads(stdout)
    assert report["source"] == "traces" and report["population_size"] == N_TRACES
    assert all(abs(a["drawn"] - a["quota"]) < 1 for a in report["allocation"])
    assert report["cases_written"] + len(report["without_input"]) == 50
    assert len(load_dataset(out)) == report["cases_written"]

    stdout, _ = cli(
        "data", "composition", "--traces", "--db", db, "--by", "intent,geography", "--json"
    )
    shares = json.loads(stdout)["variables"]
    clar = next(v for v in shares["intent"] if v["value"] == "clarification_needed")
    assert (clar["count"], clar["share"]) == (24, 0.12)
    assert clar["low"] < 0.12 < clar["high"]
    assert {v["value"] for v in shares["geography"]} == {"DE", "US"}

    curated = tmp_path / "ft.jsonl"
    curated.write_text(
        "".join(
            json.dumps({"messages": [{"role": "user", "content": "q"}], "label": INTENTS[i % 3]})
            + "\n"
            for i in range(300)
        )
    )
    stdout, _ = cli(
        "data", "composition", "--curated", curated, "--curated-field", "label", "--by",
        "intent", "--db", db,
    )  # fmt: skip
    text = " ".join(stdout.split())
    assert "curriculum_trap" in text
    assert "clarification_needed 0.0% curated vs 12.1% production" in text
    assert "whole table: G =" in text
    stdout, _ = cli(
        "data", "composition", "--curated", curated, "--curated-field", "label", "--by",
        "intent", "--db", db, "--json",
    )  # fmt: skip
    audit = json.loads(stdout)
    assert [f["code"] for f in audit["flags"]] == ["curriculum_trap"]
    assert audit["production"]["source"] == "traces" and audit["production_without_category"] == 1


def test_cli_usage_errors_are_one_line(tmp_path, cli):
    db = f"sqlite:///{tmp_path / 'assay.db'}"
    _, err = cli("data", "sample", "--n", "5", "--strata", "intent", code=2)
    assert "FILE or --traces" in err and len(err.strip().splitlines()) == 1
    _, err = cli("data", "composition", "--traces", "--db", db, "--by", "intent", code=2)
    assert "no traces in the store" in err
    _, err = cli(
        "data", "composition", "--traces", "--db", db, "--by", "intent", "--field", "intent",
        code=2,
    )  # fmt: skip
    assert "--field: --field 'intent' is not NAME=SOURCE" in err
    _, err = cli(
        "data", "sample", "t.jsonl", "--n", "5", "--strata", "intent", "--since", "7d", code=2
    )
    assert "--since applies to the trace store only" in err
