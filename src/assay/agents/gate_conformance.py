"""Write-path gate conformance (J5): a harness a team points at its own gate.

The gate is the synchronous check between an agent's intent and its execution. assay does not
build it (it belongs to the runtime); it tests it, by sending writes the gate must refuse and
reporting which it let through. The declaration (``gate.yaml``)::

    url: http://127.0.0.1:8080/records/{record}   # {record} is replaced by the record id
    headers: {Authorization: "env:GATE_TOKEN"}    # "env:NAME" reads the environment
    record: order-42                  # a record that exists in the test system
    current_version: 7                # its version now (or version_url, read before each probe)
    version_url: http://127.0.0.1:8080/records/{record}/version   # optional: GET → {"version": n}
    payload: {sku: A-100, quantity: 2}   # a valid write
    schema: schemas/order.json        # the payload's JSON Schema (inline or a file)
    version: {field: read_version}    # the read version: a body field, or {header: If-Match}
    approval: {field: approval, value: "approved-by:qa"}   # or {header: X-Approval, value: …}
    irreversible: [delete]            # actions that need an approval
    methods: {update: PUT, delete: DELETE}   # HTTP method per action (default: POST)

Every probe is a valid write changed in exactly one way, sent as JSON ``{"action", "record",
"payload", <version>, <approval>}``; a 2xx answer means the gate let it through, a 4xx that it
refused it, anything else (5xx, no answer) is an error — a crash is not a refusal:

* ``stale_read``: the read version is one older than the current one → must be refused;
* ``schema:missing:<field>`` for each required field, ``schema:type:<field>`` (a value of the
  wrong JSON type) for each typed property, ``schema:extra`` when ``additionalProperties`` is
  false → must be refused;
* ``unapproved:<action>`` for each irreversible action, without the approval → must be refused;
* ``control:update`` and ``control:<action>`` with its approval, sent after every probe above
  (an accepted write moves the record's version) → must be accepted. A gate that refuses the
  controls refuses everything, so its refusals prove nothing: ``control_rejected`` fails the
  check.

A probe the gate let through is ``let_through`` (with the probe's kind); a probe answered
with an error is ``gate_error``. Without ``version_url``, a write the gate wrongly accepted may
have moved the record's version, and later probes are marked ``confounded``.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.agents.declarations import load_schema
from assay.core import AssayError, SpecError
from assay.core.findings import Finding, failed
from assay.run.declarations import load_declaration
from assay.run.yamlfile import LocatedYaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Carrier(_Strict):
    """Where a value travels: a body ``field`` or a ``header``."""

    field: str | None = None
    header: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Carrier:
        if (self.field is None) == (self.header is None):
            raise ValueError("give exactly one of `field` or `header`")
        return self


class GateSpec(_Strict):
    """The gate declaration (see the module docstring)."""

    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    record: str
    current_version: int | str | None = None
    version_url: str | None = Field(default=None, pattern=r"^https?://")
    version_path: str = "version"
    payload: dict[str, Any]
    payload_field: str = "payload"
    schema_: str | dict[str, Any] | None = Field(default=None, alias="schema")
    version: Carrier = Field(default_factory=lambda: Carrier(field="read_version"))
    approval: Carrier = Field(
        default_factory=lambda: Carrier(field="approval", value="approved-by:assay-conformance")
    )
    irreversible: list[str] = Field(default_factory=lambda: ["delete"])
    methods: dict[str, Literal["POST", "PUT", "PATCH", "DELETE"]] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _version_source(self) -> GateSpec:
        if self.current_version is None and self.version_url is None:
            raise ValueError("give `current_version` or `version_url` (the record's version now)")
        return self


@dataclass
class Probe:
    """One write sent to the gate."""

    name: str
    kind: str
    action: str
    expect: Literal["accept", "reject"]
    payload: Any
    stale: bool = False
    approved: bool = False
    status: int | None = None
    outcome: str | None = None
    body: str | None = None
    confounded: bool = False

    @property
    def conforms(self) -> bool:
        return (self.expect == "accept" and self.outcome == "accepted") or (
            self.expect == "reject" and self.outcome == "rejected"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "probe": self.name,
            "kind": self.kind,
            "action": self.action,
            "expect": self.expect,
            "status": self.status,
            "outcome": self.outcome,
            "conforms": self.conforms,
            "confounded": self.confounded,
            "response": (self.body or "")[:300],
        }


_WRONG = {
    "string": 12345,
    "integer": "not-a-number",
    "number": "not-a-number",
    "boolean": "yes",
    "object": "not-an-object",
    "array": "not-an-array",
    "null": "not-null",
}


def schema_probes(schema: dict[str, Any] | None, payload: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(name, payload)`` for every schema violation derivable from ``schema``: each required
    field dropped, each typed property given a value of the wrong type, an extra field when
    extra fields are forbidden."""
    if not schema:
        return []
    out: list[tuple[str, Any]] = []
    for name in schema.get("required") or []:
        if name in payload:
            broken = copy.deepcopy(payload)
            del broken[name]
            out.append((f"schema:missing:{name}", broken))
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if isinstance(kind, str) and kind in _WRONG:
            broken = copy.deepcopy(payload)
            broken[name] = _WRONG[kind]
            out.append((f"schema:type:{name}", broken))
    if schema.get("additionalProperties") is False:
        broken = copy.deepcopy(payload)
        broken["__assay_unexpected_field"] = "x"
        out.append(("schema:extra", broken))
    return out


def plan_probes(spec: GateSpec, schema: dict[str, Any] | None) -> list[Probe]:
    """The probes in the order they are sent: every write that must be refused first, then the
    controls (an accepted control moves the record's version, which would make every later
    probe a stale read and refused for the wrong reason)."""
    probes = [Probe("stale_read", "stale_read", "update", "reject", spec.payload, stale=True)]
    for name, payload in schema_probes(schema, spec.payload):
        probes.append(Probe(name, "schema", "update", "reject", payload))
    for action in spec.irreversible:
        probes.append(Probe(f"unapproved:{action}", "unapproved", action, "reject", spec.payload))
    probes.append(Probe("control:update", "control", "update", "accept", spec.payload))
    for action in spec.irreversible:
        probes.append(
            Probe(f"control:{action}", "control", action, "accept", spec.payload, approved=True)
        )
    return probes


def _header_value(value: str) -> str:
    if value.startswith("env:"):
        name = value[4:]
        found = os.environ.get(name)
        if found is None:
            raise AssayError(
                f"environment variable {name} is not set", where="headers", fix=f"export {name}"
            )
        return found
    return value


def _version_from(body: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(body, dict) or part not in body:
            return None
        body = body[part]
    return body


def _older(version: Any) -> Any:
    if isinstance(version, int) or (isinstance(version, str) and version.isdigit()):
        return int(version) - 1
    return f"{version}-stale"


@dataclass
class GateReport:
    """What :func:`check_gate` found."""

    url: str
    probes: list[Probe]
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return failed(self.findings)

    def as_dict(self) -> dict[str, Any]:
        let_through = [
            p.name for p in self.probes if p.expect == "reject" and p.outcome == "accepted"
        ]
        return {
            "url": self.url,
            "probes": [p.as_dict() for p in self.probes],
            "let_through": let_through,
            "refused": [p.name for p in self.probes if p.expect == "reject" and p.conforms],
            "findings": [f.as_dict() for f in self.findings],
            "failed": self.failed,
        }


async def _send(spec: GateSpec, probes: list[Probe]) -> None:
    import aiohttp

    headers = {k: _header_value(v) for k, v in spec.headers.items()}
    timeout = aiohttp.ClientTimeout(total=spec.timeout)
    known_version: Any = spec.current_version
    moved = False
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for probe in probes:
            version = known_version
            if spec.version_url is not None:
                url = spec.version_url.replace("{record}", spec.record)
                try:
                    async with session.get(url, headers=headers) as response:
                        version = _version_from(
                            await response.json(content_type=None), spec.version_path
                        )
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    raise AssayError(
                        f"cannot read the record's version from {url}: {exc}",
                        where="version_url",
                        fix="the URL must answer JSON with the version at version_path",
                    ) from None
            else:
                probe.confounded = moved
            body: dict[str, Any] = {
                "action": probe.action,
                "record": spec.record,
                spec.payload_field: probe.payload,
            }
            request_headers = dict(headers)
            sent_version = _older(version) if probe.stale else version
            if spec.version.field:
                body[spec.version.field] = sent_version
            else:
                request_headers[str(spec.version.header)] = str(sent_version)
            if probe.approved:
                value = spec.approval.value or "approved"
                if spec.approval.field:
                    body[spec.approval.field] = value
                else:
                    request_headers[str(spec.approval.header)] = value
            method = spec.methods.get(probe.action, "POST")
            url = spec.url.replace("{record}", spec.record)
            try:
                async with session.request(
                    method, url, json=body, headers=request_headers
                ) as response:
                    probe.status = response.status
                    probe.body = await response.text()
            except (aiohttp.ClientError, TimeoutError) as exc:
                probe.outcome = "error"
                probe.body = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= response.status < 300:
                probe.outcome = "accepted"
                moved = moved or probe.expect == "reject"
            elif 400 <= response.status < 500:
                probe.outcome = "rejected"
            else:
                probe.outcome = "error"


def judge_probes(url: str, probes: list[Probe]) -> GateReport:
    """Findings from answered probes (rules in the module docstring)."""
    findings: list[Finding] = []
    for probe in probes:
        ref = {"probe": probe.name, "status": probe.status, "url": url}
        if probe.outcome == "error":
            findings.append(
                Finding(
                    code="gate_error",
                    message=f"{probe.name}: the gate answered {probe.status or 'nothing'} "
                    "(an error is not a refusal)",
                    fix="refuse bad writes with a 4xx and a reason; never crash on them",
                    refs=[ref],
                )
            )
        elif probe.expect == "accept" and probe.outcome != "accepted":
            findings.append(
                Finding(
                    code="control_rejected",
                    message=f"{probe.name}: a valid write was refused ({probe.status}), so the "
                    "gate's refusals prove nothing",
                    fix="check the declaration's record, current_version, payload and approval",
                    refs=[ref],
                )
            )
        elif probe.expect == "reject" and probe.outcome == "accepted":
            what = {
                "stale_read": "a write based on a stale read",
                "schema": "a write that violates the payload schema",
                "unapproved": f"an irreversible {probe.action} without approval",
            }[probe.kind]
            findings.append(
                Finding(
                    code="let_through",
                    message=f"{probe.name}: the gate let through {what} ({probe.status})",
                    fix={
                        "stale_read": "compare the write's read version with the record's "
                        "current version and refuse older ones (409/412)",
                        "schema": "validate the payload against its schema before executing",
                        "unapproved": "require an approval for irreversible actions",
                    }[probe.kind],
                    refs=[ref],
                    details={"kind": probe.kind, "confounded": probe.confounded},
                )
            )
    return GateReport(url, probes, findings)


def load_gate_spec(path: str | Path) -> tuple[GateSpec, Any, LocatedYaml]:
    """The declaration, its payload schema (loaded and checked), and the parsed document."""
    spec, doc = load_declaration(path, GateSpec, "a gate declaration")
    schema = load_schema(spec.schema_, doc, doc.where(("schema",)))
    if schema is not None:
        from jsonschema.validators import validator_for

        problems = list(validator_for(schema)(schema).iter_errors(spec.payload))
        if problems:
            raise SpecError(
                f"the declared payload does not satisfy the schema: {problems[0].message}",
                where=doc.where(("payload",)),
                fix="the payload must be a valid write (the probes break it one way at a time)",
            )
    return spec, schema, doc


def check_gate(spec: GateSpec, schema: dict[str, Any] | None = None) -> GateReport:
    """Send every probe to the gate and report which it let through."""
    import asyncio

    probes = plan_probes(spec, schema)
    asyncio.run(_send(spec, probes))
    return judge_probes(spec.url, probes)


def check_gate_file(path: str | Path) -> GateReport:
    """:func:`check_gate` on a declaration file."""
    spec, schema, _ = load_gate_spec(path)
    return check_gate(spec, schema)
