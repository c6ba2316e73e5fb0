"""Tool-call reliability from traces (J1): failure rate per tool, retries, schema violations,
error classes, latency, and the tools that fail most.

Rules (each figure in the report is computed exactly so):

* **A call** is a tool call executed by a tool span (``tool_calls.source = 'execution'``).
* **Failed**: the call carries an error, or its span's status is ``error``. The failure rate
  per tool and overall is failed / calls with a 95% Wilson interval.
* **Error class**: the span's ``error.type`` attribute when present; otherwise read from the
  error text: ``timeout`` (timed out, deadline), ``rate_limited`` (429, rate limit),
  ``server_error`` (5xx), ``connection`` (connection refused/reset), ``not_found`` (404, not
  found), ``permission`` (401/403, forbidden, unauthorised), ``invalid_arguments`` (400,
  invalid, validation); else the leading identifier of the text (``OrderNotFound: …`` →
  ``OrderNotFound``); else ``error``.
* **Retry**: a call is a retry when an earlier call in the same trace had the same tool and the
  same arguments (canonical JSON, idempotency-key fields left out) and failed. Retries are
  counted per tool with how many of them succeeded.
* **Schema violations**: arguments (and results) are validated against the tool's JSON Schema:
  the declaration's ``arguments_schema``/``result_schema`` first, else the definition the trace
  carries (GenAI ``gen_ai.tool.definitions`` or OpenInference ``llm.tools.N.tool.json_schema`` on
  an LLM span of the same trace, else of any trace in the window). Calls without a schema are
  not checked and are counted as such (never as valid). The violation rate is over checked
  calls, with a Wilson interval.
* **Latency**: the tool span's duration; p50, p95 and max.
* **Findings**: ``schema_violation`` for a tool with any violation; ``high_failure_rate`` for a
  tool whose failure-rate interval lies wholly above ``max_failure_rate`` (default 5%: tool
  calls fail 3-15% of the time in production per "Data Quality Gates for Agentic Write
  Paths"; a tool clearly above the low end of that band is worth a look [I]). A tool with no
  failures and no violations never has a finding.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.agents._read import CallRow, TraceWindow, read_spans, read_tool_calls
from assay.agents.declarations import Declarations
from assay.core.findings import Finding, failed
from assay.stats import wilson_interval
from assay.stats.rates import rate_dict
from assay.store import Store

DEFAULT_MAX_FAILURE_RATE = 0.05

_CLASS_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("timeout", re.compile(r"time(?:d)?[ _-]?out|deadline", re.I)),
    ("rate_limited", re.compile(r"\b429\b|rate.?limit|too many requests", re.I)),
    ("server_error", re.compile(r"\b5\d\d\b|internal server error|service unavailable", re.I)),
    ("connection", re.compile(r"connection (refused|reset|error|closed)|unreachable", re.I)),
    ("not_found", re.compile(r"\b404\b|not.?found", re.I)),
    ("permission", re.compile(r"\b40[13]\b|forbidden|unauthori[sz]ed|permission", re.I)),
    ("invalid_arguments", re.compile(r"\b400\b|invalid|validation", re.I)),
)
_IDENTIFIER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*:")


def error_class(call: CallRow) -> str:
    """The error class of a failed call (rules in the module docstring)."""
    declared = call.attributes.get("error.type")
    if isinstance(declared, str) and declared.strip():
        return declared.strip()
    text = call.error or call.status_message or ""
    leading = _IDENTIFIER.match(text)
    if leading:
        return leading.group(1)
    for name, pattern in _CLASS_RULES:
        if pattern.search(text):
            return name
    return "error"


def _is_key_field(name: str) -> bool:
    return name.lower().replace("-", "_").endswith("idempotency_key")


def canonical_arguments(arguments: Any) -> str:
    """Arguments as canonical JSON, with idempotency-key fields left out."""
    if isinstance(arguments, dict):
        arguments = {k: v for k, v in arguments.items() if not _is_key_field(str(k))}
    return json.dumps(arguments, sort_keys=True, default=str, separators=(",", ":"))


def _definition(item: Any) -> tuple[str, Any] | None:
    if isinstance(item, str):
        try:
            item = json.loads(item)
        except ValueError:
            return None
    if not isinstance(item, dict):
        return None
    fn: dict[str, Any] = item["function"] if isinstance(item.get("function"), dict) else item
    name, params = fn.get("name"), fn.get("parameters")
    if isinstance(name, str) and isinstance(params, dict):
        return name, params
    return None


def tool_definitions(attributes: dict[str, Any]) -> dict[str, Any]:
    """Tool name → arguments JSON Schema from an LLM span's attributes (GenAI
    ``gen_ai.tool.definitions``; OpenInference ``llm.tools.N.tool.json_schema``)."""
    found: dict[str, Any] = {}
    raw = attributes.get("gen_ai.tool.definitions")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    for item in raw if isinstance(raw, list) else ():
        parsed = _definition(item)
        if parsed:
            found[parsed[0]] = parsed[1]
    for key, value in attributes.items():
        if key.startswith("llm.tools.") and key.endswith(".tool.json_schema"):
            parsed = _definition(value)
            if parsed:
                found[parsed[0]] = parsed[1]
    return found


def _violation(schema: Any, value: Any) -> str | None:
    from jsonschema.validators import validator_for

    validator = validator_for(schema)(schema)
    error = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.path))), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where or '(root)'}: {error.message}"


@dataclass
class ToolStats:
    """The figures of one tool."""

    tool: str
    calls: int = 0
    failures: int = 0
    retries: int = 0
    retries_succeeded: int = 0
    error_classes: Counter[str] = field(default_factory=Counter)
    arguments_checked: int = 0
    arguments_violations: int = 0
    results_checked: int = 0
    results_violations: int = 0
    durations: list[float] = field(default_factory=list)
    failed_examples: list[dict[str, Any]] = field(default_factory=list)
    violation_examples: list[dict[str, Any]] = field(default_factory=list)

    def latency(self) -> dict[str, float | None]:
        if not self.durations:
            return {"p50_ms": None, "p95_ms": None, "max_ms": None}
        import numpy as np

        values = np.asarray(self.durations)
        return {
            "p50_ms": float(np.percentile(values, 50)),
            "p95_ms": float(np.percentile(values, 95)),
            "max_ms": float(values.max()),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "calls": self.calls,
            "failures": self.failures,
            "failure_rate": rate_dict(self.failures, self.calls),
            "retries": self.retries,
            "retries_succeeded": self.retries_succeeded,
            "error_classes": dict(self.error_classes.most_common()),
            "arguments_violations": rate_dict(self.arguments_violations, self.arguments_checked),
            "results_violations": rate_dict(self.results_violations, self.results_checked),
            "unchecked_arguments": self.calls - self.arguments_checked,
            "latency": self.latency(),
            "failed_examples": self.failed_examples,
            "violation_examples": self.violation_examples,
        }


@dataclass
class ToolReport:
    """What :func:`tool_reliability` found."""

    window: TraceWindow
    tools: list[ToolStats]
    max_failure_rate: float
    findings: list[Finding]

    @property
    def calls(self) -> int:
        return sum(t.calls for t in self.tools)

    @property
    def failures(self) -> int:
        return sum(t.failures for t in self.tools)

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    def as_dict(self) -> dict[str, Any]:
        classes: Counter[str] = Counter()
        for t in self.tools:
            classes.update(t.error_classes)
        checked = sum(t.arguments_checked + t.results_checked for t in self.tools)
        violations = sum(t.arguments_violations + t.results_violations for t in self.tools)
        return {
            "window": self.window.as_dict(),
            "calls": self.calls,
            "failures": self.failures,
            "failure_rate": rate_dict(self.failures, self.calls),
            "retries": sum(t.retries for t in self.tools),
            "schema_violations": rate_dict(violations, checked),
            "error_classes": dict(classes.most_common()),
            "top_failing": [t.tool for t in self.tools if t.failures][:5],
            "max_failure_rate": self.max_failure_rate,
            "tools": [t.as_dict() for t in self.tools],
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def _schemas_from_traces(
    store: Store, calls: Sequence[CallRow]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(per trace: tool → schema, window-wide: tool → latest schema) from LLM spans."""
    trace_ids = sorted({c.trace_id for c in calls})
    per_trace: dict[str, dict[str, Any]] = defaultdict(dict)
    latest: dict[str, Any] = {}
    if not trace_ids:
        return per_trace, latest
    for span in read_spans(
        store,
        trace_ids=trace_ids,
        kinds=("llm",),
        attribute_like=("gen_ai.tool.definitions", "llm.tools."),
    ):
        found = tool_definitions(span.attributes)
        per_trace[span.trace_id].update(found)
        latest.update(found)
    return per_trace, latest


def analyse_calls(
    calls: Sequence[CallRow],
    declarations: Declarations,
    trace_schemas: dict[str, dict[str, Any]],
    latest_schemas: dict[str, Any],
    *,
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE,
    window: TraceWindow = TraceWindow(),
    examples: int = 5,
) -> ToolReport:
    """The report for ``calls`` (a pure function: :func:`tool_reliability` reads the store)."""
    stats: dict[str, ToolStats] = {}
    failed_before: dict[tuple[str, str, str], bool] = {}
    for call in calls:
        s = stats.setdefault(call.tool, ToolStats(call.tool))
        s.calls += 1
        s.durations.append(call.duration_ms)
        key = (call.trace_id, call.tool, canonical_arguments(call.arguments))
        if failed_before.get(key):
            s.retries += 1
            s.retries_succeeded += not call.failed
        if call.failed:
            failed_before[key] = True
            s.failures += 1
            cls = error_class(call)
            s.error_classes[cls] += 1
            if len(s.failed_examples) < examples:
                s.failed_examples.append({**call.ref(), "error_class": cls, "error": call.error})
        rules = declarations.tools.get(call.tool)
        args_schema = (rules.arguments_schema if rules else None) or trace_schemas.get(
            call.trace_id, {}
        ).get(call.tool, latest_schemas.get(call.tool))
        result_schema = rules.result_schema if rules else None
        if args_schema is not None:
            s.arguments_checked += 1
            problem = _violation(args_schema, call.arguments)
            if problem:
                s.arguments_violations += 1
                if len(s.violation_examples) < examples:
                    s.violation_examples.append(
                        {**call.ref(), "of": "arguments", "problem": problem}
                    )
        if result_schema is not None and not call.failed:
            s.results_checked += 1
            problem = _violation(result_schema, call.result)
            if problem:
                s.results_violations += 1
                if len(s.violation_examples) < examples:
                    s.violation_examples.append({**call.ref(), "of": "result", "problem": problem})
    ordered = sorted(stats.values(), key=lambda t: (-t.failures, -t.calls, t.tool))
    findings: list[Finding] = []
    for t in ordered:
        violations = t.arguments_violations + t.results_violations
        if violations:
            findings.append(
                Finding(
                    code="schema_violation",
                    message=f"{t.tool}: {t.arguments_violations} of {t.arguments_checked} "
                    f"checked calls had invalid arguments, {t.results_violations} of "
                    f"{t.results_checked} invalid results",
                    fix="validate tool arguments against the schema before executing them",
                    refs=t.violation_examples,
                    details={"tool": t.tool},
                )
            )
        interval = wilson_interval(t.failures, t.calls)
        if t.failures and interval.low > max_failure_rate:
            findings.append(
                Finding(
                    code="high_failure_rate",
                    message=f"{t.tool} fails {interval.estimate:.1%} of {t.calls} calls "
                    f"(95% CI {interval.low:.1%}–{interval.high:.1%}, above "
                    f"{max_failure_rate:.0%})",
                    fix="look at its error classes: " + ", ".join(t.error_classes),
                    refs=t.failed_examples,
                    details={"tool": t.tool, "failure_rate": rate_dict(t.failures, t.calls)},
                )
            )
    return ToolReport(window, ordered, max_failure_rate, findings)


def tool_reliability(
    store: Store,
    window: TraceWindow = TraceWindow(),
    declarations: Declarations | None = None,
    *,
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE,
) -> ToolReport:
    """The J1 report over the tool calls stored in ``window`` (rules in the module docstring)."""
    calls = read_tool_calls(store, window)
    per_trace, latest = _schemas_from_traces(store, calls)
    return analyse_calls(
        calls,
        declarations or Declarations.empty(),
        per_trace,
        latest,
        max_failure_rate=max_failure_rate,
        window=window,
    )
