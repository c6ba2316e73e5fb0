"""Side-effect idempotency (J2): two create_order calls with different keys but the same payload
2 s apart after a timeout are ``retry_duplication``, with both calls; the same key acting twice
is ``key_not_honoured``; a missing key is reported; a clean system has no findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.agents.build import TraceBuilder, write

from assay.agents import idempotency_audit, load_agents_spec
from assay.agents.declarations import Declarations
from assay.core import AssayError

SPEC = Path(__file__).with_name("agents.yaml")
ORDER = {"customer_id": "C-1", "sku": "SKU-100", "quantity": 2}


def test_retry_after_timeout_under_a_new_key_is_retry_duplication(store):
    b = TraceBuilder(route="agent-orders")
    first = b.tool(
        "create_order",
        {**ORDER, "idempotency_key": "k-1"},
        offset_ms=0,
        duration_ms=30_000,
        error="timed out after 30 s",
        key="k-1",
    )
    second = b.tool(
        "create_order",
        {**ORDER, "idempotency_key": "k-2"},
        offset_ms=2_000,
        result={"order_id": "ORD-2"},
        key="k-2",
    )
    write(store, b)
    report = idempotency_audit(store, load_agents_spec(SPEC))
    (finding,) = report.findings
    assert finding.code == "retry_duplication"
    assert [r["span_id"] for r in finding.refs] == [first.span_id, second.span_id]
    assert [r["idempotency_key"] for r in finding.refs] == ["k-1", "k-2"]
    assert finding.details["gap_seconds"] == 2.0
    (dup,) = report.as_dict()["duplicates"]
    assert dup["first_failed"] is True
    assert report.as_dict()["with_idempotency_key"]["rate"] == 1.0


def test_same_key_two_different_orders_is_key_not_honoured(store):
    b = TraceBuilder()
    b.tool("create_order", ORDER, offset_ms=0, result={"order_id": "ORD-1"}, key="k-9")
    b.tool("create_order", ORDER, offset_ms=5_000, result={"order_id": "ORD-2"}, key="k-9")
    write(store, b)
    codes = [f.code for f in idempotency_audit(store, load_agents_spec(SPEC)).findings]
    assert codes == ["key_not_honoured"]


def test_missing_key_and_intent_fields(store):
    b = TraceBuilder()
    # Same customer and sku but a different quantity: a different intent, not a duplicate.
    b.tool("create_order", ORDER, offset_ms=0, result={"order_id": "O1"})
    b.tool(
        "create_order",
        {**ORDER, "quantity": 3},
        offset_ms=1_000,
        result={"order_id": "O2"},
        key="k-3",
    )
    write(store, b)
    report = idempotency_audit(store, load_agents_spec(SPEC))
    assert [f.code for f in report.findings] == ["missing_idempotency_key"]
    share = report.findings[0].details["share"]
    assert (share["k"], share["n"]) == (1, 2)


def test_clean_system_has_no_findings(store):
    b = TraceBuilder()
    # A retry under the same key after a timeout, deduplicated by the tool (same order back).
    b.tool("create_order", ORDER, offset_ms=0, error="timed out", key="k-1")
    b.tool("create_order", ORDER, offset_ms=2_000, result={"order_id": "O1"}, key="k-1")
    # The same order again much later is a new intent (outside the 10 min window).
    b.tool("create_order", ORDER, offset_ms=3_600_000, result={"order_id": "O2"}, key="k-2")
    b.tool("cancel_order", {"order_id": "O2"}, offset_ms=3_700_000, result={}, key="k-3")
    write(store, b)
    report = idempotency_audit(store, load_agents_spec(SPEC))
    assert report.findings == []
    assert report.as_dict()["tools"] == {"create_order": "execution", "cancel_order": "execution"}


def test_without_declared_side_effects_it_is_a_usage_error(store):
    with pytest.raises(AssayError, match="no side-effecting tool is declared"):
        idempotency_audit(store, Declarations.empty())
