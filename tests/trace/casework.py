"""Traces for the feedback, labels, promotion and replay tests (not a test module).

Every trace goes through the real writer (:func:`assay.trace.ingest.store_spans`), so what the
tests read back is what redaction left: a chain root (the request) with one LLM span (system
and user messages in, one assistant message out).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from assay.cli import main
from assay.store import Store
from assay.trace.ingest import store_spans
from assay.trace.model import EvalResult, SpanRecord

T0 = datetime(2025, 3, 3, 10, 0, 0, tzinfo=UTC)
SYSTEM = "Answer the customer's question in one short sentence."


def trace_id(n: int) -> str:
    """The ``n``-th test trace id (32 hex digits, never all zeros)."""
    return f"{0xA55A0000 + n:032x}"


def llm_trace(
    n: int,
    *,
    question: str = "What is the refund window?",
    answer: str = "30 days.",
    session: str | None = None,
    start: datetime = T0,
    evaluations: Sequence[EvalResult] = (),
) -> list[SpanRecord]:
    """The spans of test trace ``n``: a root ``POST /chat`` and an LLM call under it."""
    tid = trace_id(n)
    root = SpanRecord(
        trace_id=tid,
        span_id=f"{2 * n + 1:016x}",
        name="POST /chat",
        start_time=start,
        end_time=start + timedelta(seconds=1),
        kind="chain",
        input=question,
        output=answer,
        session_id=session,
        user_id="user-7",
    )
    llm = SpanRecord(
        trace_id=tid,
        span_id=f"{2 * n + 2:016x}",
        parent_id=root.span_id,
        name="chat gpt-4o-mini",
        start_time=start + timedelta(milliseconds=100),
        end_time=start + timedelta(milliseconds=900),
        kind="llm",
        convention="genai",
        operation="chat",
        provider="openai",
        model_requested="gpt-4o-mini",
        model_resolved="gpt-4o-mini-2024-07-18",
        input_tokens=20,
        output_tokens=5,
        session_id=session,
        input=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
        output=[{"role": "assistant", "content": answer}],
        evaluations=list(evaluations),
    )
    return [root, llm]


def plant(store: Store, *traces: list[SpanRecord]) -> list[str]:
    """Store the traces; their ids."""
    spans = [span for trace in traces for span in trace]
    store_spans(store, spans)
    return sorted({span.trace_id for span in spans})


def thumbs_down(tid: str, **extra: Any) -> dict[str, Any]:
    """A production user's thumbs-down on trace ``tid``."""
    return {
        "trace_id": tid,
        "kind": "thumbs",
        "value": 0,
        "rater_role": "end_user",
        "surface": "prod",
        "time": (T0 + timedelta(minutes=5)).isoformat(),
        **extra,
    }


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """``assay ARGS`` in this process, as the console script runs it: (exit code, out, err)."""
    monkeypatch.setattr(sys, "argv", ["assay", *args])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    code = stopped.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err
