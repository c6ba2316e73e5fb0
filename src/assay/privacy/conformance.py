"""The privacy-mode conformance test (I4): send a request with ``privacy_mode=true`` carrying a
canary through the team's system, then scan every registered sink; the test passes only if the
canary appears in none.

The declaration (``privacy.yaml``)::

    sinks:
      app_log: {kind: file, path: logs/app.log}
      trace_store: {kind: trace_store}                      # the --db store, or db: URL
      analytics: {kind: http, url: "http://127.0.0.1:9100/captured"}
      training_export: {kind: file, glob: "exports/**/*.jsonl", expect_control: false}
      warehouse: {kind: database, url: "postgresql://…/events", tables: [events]}
    request:
      url: http://127.0.0.1:8000/chat
      method: POST                  # default
      headers: {Authorization: "env:APP_TOKEN"}
      body: {message: "My member code is {canary}", privacy_mode: true}
    control: true                   # default: also send one request WITHOUT privacy mode
    settle: 2s                      # wait this long for asynchronous sinks before scanning

``{canary}`` is replaced everywhere in the body by the canary (``--canary``, default a fresh
``ZX-CANARY-<hex>``). The steps, and the rule of each verdict:

1. every sink is scanned *before* the request: a canary already there (a reused token) is
   ``canary_already_present`` and hits at the same places afterwards are not counted;
2. the request is sent (a non-2xx answer is ``request_failed``: nothing was tested);
3. with ``control``, the same request with ``privacy_mode`` false (``control_body``, else the
   body with every ``privacy_mode`` key set to false) and a second canary, ``ZX-CONTROL-<hex>``;
4. after ``settle``, every sink is scanned for both canaries.

A sink holding the privacy canary is ``canary_leaked`` (a failure naming the sink and each
place); a sink that cannot be read is ``sink_unreadable`` (a failure: unchecked is not clean);
a sink where the *control* canary did not show up either is ``sink_unverified`` (a warning:
the scan may not see what the system writes there, unless the sink is declared
``expect_control: false``, e.g. a nightly export).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.core import AssayError
from assay.core.findings import Finding, failed
from assay.privacy.sinks import Hit, ScanResult, SinkDecl, scan_sink, variants
from assay.run.declarations import load_declaration, parse_duration
from assay.run.yamlfile import LocatedYaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestDecl(_Strict):
    url: str = Field(pattern=r"^https?://")
    method: Literal["POST", "PUT", "PATCH", "GET"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    control_body: Any = None
    timeout: float = Field(default=30.0, gt=0)


class PrivacySpec(_Strict):
    sinks: dict[str, SinkDecl] = Field(min_length=1)
    request: RequestDecl | None = None
    control: bool = True
    settle: str | float = "1s"


def load_privacy_spec(path: str | Path) -> tuple[PrivacySpec, LocatedYaml]:
    spec, doc = load_declaration(path, PrivacySpec, "a privacy declaration")
    parse_duration(spec.settle, where=doc.where(("settle",)))
    return spec, doc


def fill(value: Any, canary: str) -> Any:
    """``value`` with ``{canary}`` replaced in every string, at any depth."""
    if isinstance(value, str):
        return value.replace("{canary}", canary)
    if isinstance(value, dict):
        return {k: fill(v, canary) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, canary) for v in value]
    return value


def privacy_off(value: Any) -> Any:
    """``value`` with every ``privacy_mode`` key set to false (the control request)."""
    if isinstance(value, dict):
        return {k: (False if k == "privacy_mode" else privacy_off(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [privacy_off(v) for v in value]
    return value


def _header(value: str) -> str:
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise AssayError(
                f"environment variable {name} is not set",
                where="request.headers",
                fix=f"export {name}",
            )
        return os.environ[name]
    return value


async def _send(request: RequestDecl, body: Any) -> tuple[int, str]:
    import aiohttp

    headers = {k: _header(v) for k, v in request.headers.items()}
    timeout = aiohttp.ClientTimeout(total=request.timeout)
    kwargs: dict[str, Any] = {"headers": headers}
    if request.method != "GET" and body is not None:
        kwargs["json"] = body
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(request.method, request.url, **kwargs) as response,
        ):
            return response.status, await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"


@dataclass
class SinkVerdict:
    """One sink after the test."""

    sink: str
    kind: str
    leaked: list[Hit] = field(default_factory=list)
    control_seen: bool | None = None
    preexisting: list[Hit] = field(default_factory=list)
    scanned: str = ""
    error: str | None = None
    expect_control: bool = True

    @property
    def status(self) -> str:
        if self.error:
            return "unreadable"
        if self.leaked:
            return "leaked"
        if self.control_seen is False and self.expect_control:
            return "unverified"
        return "clean"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sink": self.sink,
            "kind": self.kind,
            "status": self.status,
            "leaked": [h.as_dict() for h in self.leaked],
            "control_seen": self.control_seen,
            "preexisting": [h.as_dict() for h in self.preexisting],
            "scanned": self.scanned,
            "error": self.error,
        }


@dataclass
class PrivacyReport:
    """What the conformance test found."""

    canary: str
    control_canary: str | None
    sinks: list[SinkVerdict]
    findings: list[Finding]
    request_status: int | None = None
    control_status: int | None = None

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    @property
    def passed(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "canary": self.canary,
            "control_canary": self.control_canary,
            "request_status": self.request_status,
            "control_status": self.control_status,
            "passed": self.passed,
            "leaked_in": [s.sink for s in self.sinks if s.status == "leaked"],
            "sinks": [s.as_dict() for s in self.sinks],
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


def _scan_all(
    spec: PrivacySpec, canaries: list[str], doc: LocatedYaml | None, store: Any
) -> dict[str, ScanResult]:
    needles = {c: variants(c) for c in canaries}
    return {
        name: scan_sink(name, sink, needles, doc=doc, store=store)
        for name, sink in spec.sinks.items()
    }


def judge_scans(
    spec: PrivacySpec,
    canary: str,
    control: str | None,
    before: dict[str, ScanResult],
    after: dict[str, ScanResult],
) -> tuple[list[SinkVerdict], list[Finding]]:
    """Verdicts per sink and the findings (rules in the module docstring)."""
    verdicts: list[SinkVerdict] = []
    findings: list[Finding] = []
    for name, sink in spec.sinks.items():
        result = after[name]
        prior = before.get(name)
        old = {h.location for h in (prior.hits.get(canary, []) if prior else [])}
        verdict = SinkVerdict(
            name,
            sink.kind,
            leaked=[h for h in result.hits.get(canary, []) if h.location not in old],
            preexisting=prior.hits.get(canary, []) if prior else [],
            scanned=result.scanned,
            error=result.error or (prior.error if prior else None),
            expect_control=sink.expect_control,
        )
        if control is not None:
            verdict.control_seen = bool(result.hits.get(control))
        verdicts.append(verdict)
        if verdict.error:
            findings.append(
                Finding(
                    code="sink_unreadable",
                    message=f"sink {name} ({sink.kind}) could not be scanned: {verdict.error}",
                    fix="fix the sink's declaration; an unchecked sink is not a clean one",
                    refs=[{"sink": name}],
                )
            )
        elif verdict.leaked:
            findings.append(
                Finding(
                    code="canary_leaked",
                    message=f"sink {name}: the privacy-mode canary {canary} was written there "
                    f"({len(verdict.leaked)} place{'s' if len(verdict.leaked) > 1 else ''})",
                    fix=f"enforce privacy_mode before data reaches {name}",
                    refs=[{"sink": name, **h.as_dict()} for h in verdict.leaked],
                    details={"sink": name, "kind": sink.kind},
                )
            )
        if verdict.preexisting:
            findings.append(
                Finding(
                    code="canary_already_present",
                    severity="warn",
                    message=f"sink {name} held the canary before the request (only new places "
                    "count)",
                    fix="use a fresh canary (the default) for each test",
                    refs=[{"sink": name, **h.as_dict()} for h in verdict.preexisting[:5]],
                )
            )
        if verdict.status == "unverified":
            findings.append(
                Finding(
                    code="sink_unverified",
                    severity="warn",
                    message=f"sink {name}: the control request's canary did not show up either, "
                    "so a clean scan proves little",
                    fix="check the sink's path or URL, or declare expect_control: false",
                    refs=[{"sink": name}],
                )
            )
    return verdicts, findings


def check_privacy(
    spec: PrivacySpec,
    *,
    doc: LocatedYaml | None = None,
    canary: str | None = None,
    send: bool = True,
    store: Any = None,
) -> PrivacyReport:
    """Run the conformance test (see the module docstring); ``store`` is the assay store a
    ``trace_store`` sink without ``db:`` scans."""
    canary = canary or f"ZX-CANARY-{secrets.token_hex(6).upper()}"
    control = f"ZX-CONTROL-{secrets.token_hex(6).upper()}" if spec.control and send else None
    if send and spec.request is None:
        raise AssayError(
            "the declaration has no `request` to send",
            where=doc.filename if doc else "request",
            fix="declare request: {url, body} (or scan only, with --no-send and --canary)",
        )
    findings: list[Finding] = []
    canaries = [canary] + ([control] if control else [])
    before = _scan_all(spec, [canary], doc, store) if send else {}
    status = control_status = None
    if send:
        assert spec.request is not None
        body = fill(spec.request.body, canary)
        status, text = asyncio.run(_send(spec.request, body))
        if not 200 <= status < 300:
            findings.append(
                Finding(
                    code="request_failed",
                    message=f"the privacy-mode request was answered {status or 'with no answer'}"
                    f": {text[:200]}",
                    fix="the system must accept the request for the test to mean anything",
                    refs=[{"url": spec.request.url}],
                )
            )
        if control is not None:
            control_body = spec.request.control_body
            control_body = fill(
                control_body if control_body is not None else privacy_off(spec.request.body),
                control,
            )
            control_status, _ = asyncio.run(_send(spec.request, control_body))
        settle = parse_duration(spec.settle, where="settle").total_seconds()
        if settle:
            time.sleep(settle)
    after = _scan_all(spec, canaries, doc, store)
    verdicts, sink_findings = judge_scans(spec, canary, control, before, after)
    return PrivacyReport(
        canary, control, verdicts, findings + sink_findings, status, control_status
    )
