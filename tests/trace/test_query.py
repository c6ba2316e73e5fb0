"""Trace queries (assay.trace.query) on SQLite and PostgreSQL: filters, full text, attributes,
prefixes, the span tree with orphans, waterfall offsets, and what hangs off a trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.trace.planted import HOSTILE, MISSING_PARENT, T0, plant

from assay.core import AssayError
from assay.trace.ingest import store_spans
from assay.trace.model import SpanRecord
from assay.trace.query import (
    TraceFilter,
    TraceNotFound,
    get_trace,
    list_traces,
    parse_attribute,
    parse_time,
    resolve_trace_id,
)


def ids_of(store, **filters):  # type: ignore[no-untyped-def]
    return [t["id"] for t in list_traces(store, TraceFilter(**filters))["traces"]]


def test_list_is_newest_first_with_models_tokens_and_paging(store):
    p = plant(store)
    page = list_traces(store)
    assert [t["id"] for t in page["traces"]] == [p.events, p.error, p.refund]
    assert page["has_more"] is False
    refund = page["traces"][2]
    assert refund["n_spans"] == 5 and refund["duration_ms"] == 1000.0
    assert (refund["input_tokens"], refund["output_tokens"]) == (120, 30)
    assert refund["models"] == ["gpt-4o-2024-08-06"]
    assert refund["route"] == "/refunds" and refund["session_id"] == "sess-1"
    first = list_traces(store, limit=2)
    assert [t["id"] for t in first["traces"]] == [p.events, p.error] and first["has_more"]
    second = list_traces(store, limit=2, offset=2)
    assert [t["id"] for t in second["traces"]] == [p.refund] and not second["has_more"]


def test_filters_by_time_model_status_session_user_service_route(store):
    p = plant(store)
    assert ids_of(store, since=T0 + timedelta(minutes=30)) == [p.events, p.error]
    assert ids_of(store, until=T0 + timedelta(minutes=30)) == [p.refund]
    assert ids_of(store, since=T0, until=T0 + timedelta(hours=2)) == [p.error, p.refund]
    # The requested and the resolved model of any span, not only the root's.
    assert ids_of(store, model="gpt-4o") == [p.refund]
    assert ids_of(store, model="gpt-4o-2024-08-06") == [p.refund]
    assert ids_of(store, model="gpt-4o-mini") == [p.events]
    assert ids_of(store, model="gpt-4") == []
    assert ids_of(store, status="error") == [p.error]
    assert ids_of(store, status="ok") == [p.events, p.refund]
    assert ids_of(store, session="sess-1") == [p.refund]
    assert ids_of(store, user="u-2") == [p.error]
    assert ids_of(store, service="shop") == [p.events, p.refund]
    assert ids_of(store, route="/support") == [p.error]
    assert ids_of(store, service="shop", model="claude-x") == []


def test_attribute_filter_is_exact_not_a_substring(store):
    p = plant(store)
    # The events trace's attributes hold "tier": "silver" and a note mentioning gold: the
    # LIKE prefilter lets it through, the exact check must not.
    assert ids_of(store, attributes=(("tier", "gold"),)) == [p.error]
    assert ids_of(store, attributes=(("tier", "silver"),)) == [p.events]
    assert ids_of(store, attributes=(("tier", "gol"),)) == []
    assert ids_of(store, attributes=(("n", "3"),)) == [p.error]
    assert ids_of(store, attributes=(("n", "3.0"),)) == [p.error]
    assert ids_of(store, attributes=(("beta", "true"),)) == [p.error]
    assert ids_of(store, attributes=(("beta", "false"),)) == []
    assert ids_of(store, attributes=(("gen_ai.request.temperature", "0.2"),)) == [p.refund]
    assert ids_of(store, attributes=(("app.route", "/refunds"),)) == [p.refund]
    assert ids_of(store, attributes=(("nope", "gold"),)) == []
    both = (("tier", "gold"), ("app.route", "/support"))
    assert ids_of(store, attributes=both) == [p.error]
    assert ids_of(store, attributes=(("tier", "gold"), ("app.route", "/refunds"))) == []


def test_full_text_search_over_names_messages_and_events(store):
    p = plant(store)
    assert ids_of(store, text="refund window") == [p.error]  # case-insensitive
    assert ids_of(store, text="refund") == [p.error, p.refund]
    assert ids_of(store, text="POST /chat") == [p.refund]  # a span name
    assert ids_of(store, text="within 30 days") == [p.refund]  # an output message
    assert ids_of(store, text="parcel") == [p.events]  # GenAI events and a log record only
    assert ids_of(store, text="Track parcel 9") == [p.events]
    assert ids_of(store, text="<script>window") == [p.refund]
    # JSON keys are not text: every message has a "role" and a "content".
    assert ids_of(store, text="role") == []
    assert ids_of(store, text="content") == []
    # LIKE's wildcards are literal characters here.
    assert ids_of(store, text="%") == []
    assert ids_of(store, text="Refund_Window") == []  # "_" would match the space
    assert ids_of(store, text="refund", status="ok") == [p.refund]
    with pytest.raises(AssayError, match="empty"):
        TraceFilter(text="  ")


def test_filters_that_need_checking_page_through_many_candidates(store):
    """More candidates than one verification batch (200): the exact check runs batch by
    batch, in newest-first order, and offset/has_more count only the traces that pass."""
    spans = []
    for n in range(260):
        start = T0 + timedelta(seconds=n)
        spans.append(
            SpanRecord(
                trace_id=f"{n:08x}" + "b" * 24,
                span_id="0000000000000001",
                name="call",
                start_time=start,
                end_time=start + timedelta(milliseconds=5),
                kind="llm",
                attributes={"bucket": "gold" if n % 3 == 0 else "golden", "n": n},
            )
        )
    store_spans(store, spans)
    expected = [f"{n:08x}" + "b" * 24 for n in range(259, -1, -1) if n % 3 == 0]
    flt = TraceFilter(attributes=(("bucket", "gold"),))
    first = list_traces(store, flt, limit=50)
    assert [t["id"] for t in first["traces"]] == expected[:50] and first["has_more"]
    last = list_traces(store, flt, limit=50, offset=50)
    assert [t["id"] for t in last["traces"]] == expected[50:] and not last["has_more"]
    assert len(expected) == 87


def test_trace_ids_resolve_by_unique_prefix(store):
    p = plant(store)
    assert resolve_trace_id(store, p.refund) == p.refund
    assert resolve_trace_id(store, p.refund[:3].upper()) == p.refund
    with pytest.raises(AssayError, match="ambiguous") as ambiguous:
        resolve_trace_id(store, "0")
    assert not isinstance(ambiguous.value, TraceNotFound)
    with pytest.raises(TraceNotFound, match="no trace with id 'ff'"):
        resolve_trace_id(store, "ff")
    with pytest.raises(TraceNotFound, match="not a trace id"):
        resolve_trace_id(store, "<script>")
    with pytest.raises(TraceNotFound):
        get_trace(store, "f" * 32)


def test_span_tree_orphans_and_waterfall(store):
    p = plant(store)
    data = get_trace(store, p.refund[:6])
    tree = [(s["name"], s["depth"], s["orphan"]) for s in data["spans"]]
    assert tree == [
        ("POST /chat", 0, False),
        ("retrieve policy", 1, False),
        ("chat gpt-4o", 1, False),
        ("lookup_order", 2, False),
        ("late background job", 0, True),
    ]
    assert data["n_orphans"] == 1 and data["roots"] == ["1000000000000001", "1000000000000005"]
    orphan = data["spans"][4]
    assert orphan["parent_id"] == MISSING_PARENT
    root = data["spans"][0]
    assert root["children"] == ["1000000000000002", "1000000000000003"]
    timing = [
        (s["offset_ms"], s["duration_ms"], s["left_pct"], s["width_pct"]) for s in data["spans"]
    ]
    assert timing == [
        (0.0, 1000.0, 0.0, 100.0),
        (50.0, 200.0, 5.0, 20.0),
        (300.0, 600.0, 30.0, 60.0),
        (400.0, 100.0, 40.0, 10.0),
        (600.0, 100.0, 60.0, 10.0),
    ]
    assert data["waterfall"]["duration_ms"] == 1000.0


def test_parents_in_a_cycle_are_shown_as_orphan_roots(store):
    start = T0
    spans = [
        SpanRecord(
            trace_id="c" * 32,
            span_id=f"{k:016x}",
            parent_id=f"{(k % 2) + 1:016x}",  # 1 -> 2 -> 1
            name=f"span {k}",
            start_time=start + timedelta(milliseconds=k),
            end_time=start + timedelta(milliseconds=10 + k),
        )
        for k in (1, 2)
    ]
    store_spans(store, spans)
    data = get_trace(store, "c" * 32)
    assert sorted(s["span_id"] for s in data["spans"]) == [f"{1:016x}", f"{2:016x}"]
    assert data["n_orphans"] >= 1 and data["spans"][0]["orphan"]


def test_messages_tools_retrievals_and_scores_of_each_span(store):
    p = plant(store)
    spans = {s["name"]: s for s in get_trace(store, p.refund)["spans"]}
    llm = spans["chat gpt-4o"]
    assert [m["role"] for m in llm["input_messages"]] == ["system", "user"]
    assert llm["input_messages"][1]["content"] == f"Can I get a refund? {HOSTILE}"
    assert llm["output_messages"][0]["content"] == "Yes, within 30 days."
    assert llm["messages_from"] == "span"
    assert llm["model_requested"] == "gpt-4o" and llm["model_resolved"] == "gpt-4o-2024-08-06"
    assert llm["tool_calls"] == [
        {
            "position": 0,
            "source": "request",
            "call_id": "call_1",
            "tool": "lookup_order",
            "arguments": {"order": "A-17"},
            "result": None,
            "error": None,
            "idempotency_key": None,
        }
    ]
    assert [(s["name"], s["value"], s["label"]) for s in llm["scores"]] == [
        ("relevance", 0.8, "relevant")
    ]
    assert spans["lookup_order"]["tool_calls"][0]["result"] == {"status": "delivered"}
    docs = spans["retrieve policy"]["retrievals"]
    assert [
        (d["rank"], d["document_id"], d["chunk_id"], d["score"], d["document_version"])
        for d in docs
    ] == [
        (0, "doc-refunds", "doc-refunds#3", 0.91, "v7"),
        (1, "doc-shipping", "doc-shipping#1", 0.42, "v2"),
    ]
    assert {(d["index_version"], d["embedding_version"]) for d in docs} == {
        ("idx-2025-03", "emb-3")
    }
    assert spans["retrieve policy"]["input"] == "refund policy"


def test_messages_come_from_genai_events_and_log_records_when_the_span_has_none(store):
    p = plant(store)
    chat, details = get_trace(store, p.events)["spans"]
    assert chat["messages_from"] == "events"
    assert [(m["role"], m["content"]) for m in chat["input_messages"]] == [
        ("system", "Be brief."),
        ("user", "Where is my parcel?"),
    ]
    assert [(m["role"], m["content"], m["finish_reason"]) for m in chat["output_messages"]] == [
        ("assistant", "It ships tomorrow.", "stop")
    ]
    # Message events are shown as messages, the rest as events.
    assert [e["name"] for e in chat["events"]] == ["retry"]
    assert [(m["role"], m["content"]) for m in details["input_messages"]] == [
        ("system", "Use tools."),
        ("user", "Track parcel 9"),
    ]
    assert details["output_messages"][0]["tool_calls"] == [
        {"id": "c9", "name": "track", "arguments": {"parcel": 9}}
    ]


def test_feedback_outcomes_and_label_of_a_trace_and_its_session(store):
    p = plant(store)
    data = get_trace(store, p.refund)
    assert sorted((f["kind"], f["trace_id"]) for f in data["feedback"]) == [
        ("label", None),
        ("thumbs", p.refund),
    ]
    assert [(o["event"], o["bad"], o["after_trace_hours"]) for o in data["outcomes"]] == [
        ("ticket_reopened", True, 72.0)
    ]
    assert data["trace"]["label"] == "failed" and data["trace"]["failed"]
    assert data["trace"]["label_reasons"]
    assert get_trace(store, p.error)["feedback"] == []
    assert ids_of(store, label="failed") == [p.refund]
    assert ids_of(store, label="unlabelled") == [p.events, p.error]


def test_bad_filters_name_the_field_and_the_fix():
    with pytest.raises(AssayError, match="unknown trace status 'broken'") as bad:
        TraceFilter(status="broken")
    assert bad.value.where == "status" and "ok" in (bad.value.fix or "")
    with pytest.raises(AssayError, match="until must be later"):
        TraceFilter(since=T0, until=T0)
    with pytest.raises(AssayError, match="unknown trace label"):
        TraceFilter(label="meh")
    with pytest.raises(AssayError, match="is not KEY=VALUE") as attr:
        parse_attribute("tier")
    assert attr.value.where == "attr"
    assert parse_attribute("k=a=b") == ("k", "a=b") and parse_attribute("k=") == ("k", "")
    with pytest.raises(AssayError, match="cannot read 'yesterday'") as when:
        parse_time("yesterday", where="--since")
    assert when.value.where == "--since" and "24h" in (when.value.fix or "")


def test_times_are_ages_or_iso(store):
    now = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    assert parse_time("24h", where="x", now=now) == now - timedelta(hours=24)
    assert parse_time("90s", where="x", now=now) == now - timedelta(seconds=90)
    assert parse_time("2w", where="x", now=now) == now - timedelta(weeks=2)
    assert parse_time("2025-01-02", where="x") == datetime(2025, 1, 2, tzinfo=UTC)
    assert parse_time("2025-01-02T03:04:05Z", where="x") == datetime(
        2025, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    assert parse_time("2025-01-02T05:04:05+02:00", where="x") == datetime(
        2025, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    with pytest.raises(AssayError):
        list_traces(store, limit=0)
    with pytest.raises(AssayError):
        list_traces(store, offset=-1)
