"""Side-effect idempotency audit (J2): every side-effecting tool call carries an idempotency
key, and one logical intent is carried out once.

Rules:

* **Side-effecting calls** are calls of the tools declared ``side_effect: write`` or
  ``irreversible``. Executed calls (tool spans) are audited; a declared tool that was only ever
  *requested* by a model in the window (no tool spans) is audited on its requests instead, and
  the report says which basis each tool had.
* **Intent**: the values of the tool's declared ``intent`` fields of the arguments (dotted
  paths, ``items[].sku``); without ``intent``, all arguments except idempotency-key fields.
* **Same intent, close together**: calls of one tool with the same intent in the same scope
  (by default a session — the trace's session id, else the trace — so two customers ordering
  the same thing are never one intent; ``scope: trace`` or ``global`` in the declaration)
  are taken in time order; two consecutive ones whose start times are at most the tool's
  ``window`` apart (default 10 min) are one intent carried out twice:

  - different keys, or a key missing on either → ``retry_duplication`` (the post's
    "retry-induced duplication": a timed-out call retried after its side effect landed), with
    both calls, the gap, and whether the first one had failed;
  - the same key, both executions succeeded, different results (two order ids) →
    ``key_not_honoured``: the key was sent, the tool did the work twice;
  - the same key and the same result: the retry was deduplicated, as it should be.

* **Intent field missing** (a warning): a declared intent field absent from a call's
  arguments — the declaration and the tool disagree, and such calls compare on fewer fields.
* **Missing key**: a side-effecting call without an idempotency key is
  ``missing_idempotency_key``; the share of calls carrying one is reported with a Wilson
  interval.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.agents._read import CallRow, TraceWindow, read_tool_calls
from assay.agents.declarations import Declarations, ToolRules, values_at
from assay.agents.tools import canonical_arguments
from assay.core import AssayError
from assay.core.findings import Finding, failed
from assay.stats.rates import rate_dict
from assay.store import Store


def intent_of(call: CallRow, rules: ToolRules) -> str:
    """The logical intent of a call (see the module docstring), as canonical JSON."""
    if rules.intent:
        values = {f: values_at(call.arguments, f) for f in rules.intent}
        return json.dumps(values, sort_keys=True, default=str)
    return canonical_arguments(call.arguments)


def scope_of(call: CallRow, rules: ToolRules) -> str:
    """Where two calls must both be to count as one intent (``scope`` in the declaration)."""
    if rules.scope == "global":
        return ""
    if rules.scope == "session" and call.session_id:
        return f"session:{call.session_id}"
    return f"trace:{call.trace_id}"


def _call_dict(call: CallRow) -> dict[str, Any]:
    return {
        **call.ref(),
        "idempotency_key": call.idempotency_key,
        "failed": call.failed,
        "error": call.error,
        "basis": call.source,
    }


@dataclass
class IdempotencyReport:
    """What :func:`idempotency_audit` found."""

    window: TraceWindow
    basis: dict[str, str]
    calls: int
    with_key: int
    duplicates: list[dict[str, Any]]
    findings: list[Finding]

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.as_dict(),
            "tools": self.basis,
            "side_effect_calls": self.calls,
            "with_idempotency_key": rate_dict(self.with_key, self.calls),
            "duplicates": self.duplicates,
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def audit_calls(
    calls_by_tool: dict[str, Sequence[CallRow]],
    declarations: Declarations,
    basis: dict[str, str],
    window: TraceWindow = TraceWindow(),
) -> IdempotencyReport:
    """The audit of already-read calls (a pure function; rules in the module docstring)."""
    findings: list[Finding] = []
    duplicates: list[dict[str, Any]] = []
    total = with_key = 0
    missing: list[CallRow] = []
    absent_fields: dict[tuple[str, str], int] = defaultdict(int)
    for tool, calls in calls_by_tool.items():
        rules = declarations.tools[tool]
        total += len(calls)
        for call in calls:
            if call.idempotency_key:
                with_key += 1
            else:
                missing.append(call)
        groups: dict[tuple[str, str], list[CallRow]] = defaultdict(list)
        for call in calls:
            for name in rules.intent or ():
                if values_at(call.arguments, name) is None:
                    absent_fields[(tool, name)] += 1
            groups[(scope_of(call, rules), intent_of(call, rules))].append(call)
        for (_, intent), group in groups.items():
            group.sort(key=lambda c: (c.start_time, c.trace_id, c.span_id))
            for first, second in itertools.pairwise(group):
                gap = (second.start_time - first.start_time).total_seconds()
                if gap > rules.window.total_seconds():
                    continue
                if first.idempotency_key and first.idempotency_key == second.idempotency_key:
                    same_result = canonical_arguments(first.result) == canonical_arguments(
                        second.result
                    )
                    # A retry under the same key is what should happen; only two successful
                    # executions with different results show the key was not honoured.
                    if second.source == "request" or same_result or first.failed or second.failed:
                        continue
                    code = "key_not_honoured"
                else:
                    code = "retry_duplication"
                duplicates.append(
                    {
                        "code": code,
                        "tool": tool,
                        "intent": json.loads(intent) if intent.startswith(("{", "[")) else intent,
                        "gap_seconds": round(gap, 3),
                        "first_failed": first.failed,
                        "first": _call_dict(first),
                        "second": _call_dict(second),
                    }
                )
    for code, fix in (
        (
            "retry_duplication",
            "reuse the first call's idempotency key when retrying, and make the tool honour it",
        ),
        (
            "key_not_honoured",
            "the tool received the same idempotency key twice and acted twice: dedupe on the key",
        ),
    ):
        found = [d for d in duplicates if d["code"] == code]
        for d in found:
            after = " after the first failed" if d["first_failed"] else ""
            keys = (d["first"]["idempotency_key"], d["second"]["idempotency_key"])
            findings.append(
                Finding(
                    code=code,
                    message=f"{d['tool']} called twice with the same intent "
                    f"{d['gap_seconds']:g} s apart{after} (keys {keys[0]!s} and {keys[1]!s})",
                    fix=fix,
                    refs=[d["first"], d["second"]],
                    details={"intent": d["intent"], "gap_seconds": d["gap_seconds"]},
                )
            )
    for (tool, name), count in sorted(absent_fields.items()):
        findings.append(
            Finding(
                code="intent_field_missing",
                severity="warn",
                message=f"{count} {tool} calls have no {name!r} argument (a declared intent field)",
                fix=f"fix tools.{tool}.intent in the declaration to the tool's argument names",
                details={"tool": tool, "field": name, "calls": count},
            )
        )
    if missing:
        share = rate_dict(len(missing), total)
        findings.append(
            Finding(
                code="missing_idempotency_key",
                message=f"{len(missing)} of {total} side-effecting calls carry no idempotency key",
                fix="send an idempotency key with every side-effecting call",
                refs=[_call_dict(c) for c in missing[:20]],
                details={"share": share},
            )
        )
    return IdempotencyReport(window, basis, total, with_key, duplicates, findings)


def idempotency_audit(
    store: Store, declarations: Declarations, window: TraceWindow = TraceWindow()
) -> IdempotencyReport:
    """The J2 audit of the declared side-effecting tools' calls in ``window``."""
    declared = [n for n, t in declarations.tools.items() if t.side_effect != "read"]
    if not declared:
        raise AssayError(
            "no side-effecting tool is declared",
            where=declarations.doc.filename if declarations.doc else "--spec",
            fix="declare tools with `side_effect: write` (or irreversible) under `tools:`",
        )
    executed = defaultdict(list)
    for call in read_tool_calls(store, window, source="execution"):
        if call.tool in declared:
            executed[call.tool].append(call)
    requested = defaultdict(list)
    if any(t not in executed for t in declared):
        for call in read_tool_calls(store, window, source="request"):
            if call.tool in declared and call.tool not in executed:
                requested[call.tool].append(call)
    calls_by_tool: dict[str, Sequence[CallRow]] = {}
    basis: dict[str, str] = {}
    for tool in declared:
        if executed.get(tool):
            calls_by_tool[tool], basis[tool] = executed[tool], "execution"
        elif requested.get(tool):
            calls_by_tool[tool], basis[tool] = requested[tool], "request"
        else:
            basis[tool] = "no calls"
    return audit_calls(calls_by_tool, declarations, basis, window)
