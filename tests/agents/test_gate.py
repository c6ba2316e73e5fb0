"""Write-path gate conformance (J5): against a small gate on 127.0.0.1, a write whose read
version is older than the record's is expected to be refused, and so is a DELETE without
approval; a leaky gate is reported probe by probe, a strict one has no findings."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from aiohttp import web

from assay.agents import check_gate_file
from assay.agents.gate_conformance import load_gate_spec, schema_probes
from assay.core import SpecError

SCHEMA = {
    "type": "object",
    "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
    "required": ["sku", "quantity"],
    "additionalProperties": False,
}


class Gate:
    """A record store behind a gate; ``checks`` says which rules it enforces."""

    def __init__(self, checks: set[str]) -> None:
        self.checks = checks
        self.version = 7
        self.deleted = False
        self.log: list[tuple[str, dict]] = []
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def write(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.log.append((request.method, body))
        if "crash" in self.checks and body["payload"].get("quantity") == "not-a-number":
            return web.Response(status=500, text="boom")
        if "version" in self.checks and body.get("read_version") != self.version:
            return web.json_response({"error": "stale read"}, status=409)
        if "schema" in self.checks:
            from jsonschema import Draft202012Validator

            if list(Draft202012Validator(SCHEMA).iter_errors(body["payload"])):
                return web.json_response({"error": "schema"}, status=422)
        if request.method == "DELETE":
            if "approval" in self.checks and not body.get("approval"):
                return web.json_response({"error": "needs approval"}, status=403)
            self.deleted = True
            return web.json_response({"deleted": True})
        self.version += 1
        return web.json_response({"version": self.version})

    async def current(self, request: web.Request) -> web.Response:
        return web.json_response({"version": self.version})

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/records/{record}", self.write)
        app.router.add_get("/records/{record}/version", self.current)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> Gate:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def declaration(tmp_path: Path, port: int, *, version_url: bool = True) -> Path:
    (tmp_path / "order.schema.json").write_text(json.dumps(SCHEMA))
    lines = [
        f"url: http://127.0.0.1:{port}/records/{{record}}",
        "record: order-42",
        "payload: {sku: SKU-100, quantity: 2}",
        "schema: order.schema.json",
        "methods: {update: PUT, delete: DELETE}",
    ]
    lines.append(
        f"version_url: http://127.0.0.1:{port}/records/{{record}}/version"
        if version_url
        else "current_version: 7"
    )
    path = tmp_path / "gate.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_strict_gate_refuses_every_probe_and_accepts_the_controls(tmp_path):
    with Gate({"version", "schema", "approval"}) as gate:
        report = check_gate_file(declaration(tmp_path, gate.port))
    data = report.as_dict()
    assert data["findings"] == [] and not report.failed
    assert data["let_through"] == []
    assert set(data["refused"]) == {
        "stale_read",
        "schema:missing:sku",
        "schema:missing:quantity",
        "schema:type:sku",
        "schema:type:quantity",
        "schema:extra",
        "unapproved:delete",
    }
    statuses = {p["probe"]: p["status"] for p in data["probes"]}
    assert statuses["stale_read"] == 409 and statuses["unapproved:delete"] == 403
    assert statuses["control:update"] == 200 and statuses["control:delete"] == 200
    # The stale probe carried a version one older than the record's.
    stale = next(body for method, body in gate.log if body.get("read_version") == 6)
    assert stale["payload"] == {"sku": "SKU-100", "quantity": 2}
    assert [m for m, _ in gate.log][-1] == "DELETE"


def test_a_leaky_gate_is_reported_probe_by_probe(tmp_path):
    with Gate({"schema"}) as gate:
        report = check_gate_file(declaration(tmp_path, gate.port))
    data = report.as_dict()
    assert set(data["let_through"]) == {"stale_read", "unapproved:delete"}
    leaks = {f["refs"][0]["probe"]: f for f in data["findings"] if f["code"] == "let_through"}
    assert "stale read" in leaks["stale_read"]["message"]
    assert "irreversible delete without approval" in leaks["unapproved:delete"]["message"]
    assert report.failed


def test_a_gate_that_crashes_is_not_refusing(tmp_path):
    with Gate({"version", "approval", "crash"}) as gate:
        report = check_gate_file(declaration(tmp_path, gate.port, version_url=False))
    codes = {(f.code, f.refs[0]["probe"]) for f in report.findings}
    assert ("gate_error", "schema:type:quantity") in codes
    assert ("let_through", "schema:missing:sku") in codes


def test_a_gate_refusing_everything_proves_nothing(tmp_path):
    with Gate({"version", "schema", "approval"}) as gate:
        gate.version = 99  # the declaration's current_version (7) is wrong
        report = check_gate_file(declaration(tmp_path, gate.port, version_url=False))
    assert {f.code for f in report.findings} == {"control_rejected"}


def test_schema_probes_come_from_the_schema():
    names = [n for n, _ in schema_probes(SCHEMA, {"sku": "A", "quantity": 1})]
    assert names == [
        "schema:missing:sku",
        "schema:missing:quantity",
        "schema:type:sku",
        "schema:type:quantity",
        "schema:extra",
    ]


def test_declaration_mistakes_name_the_line(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text(
        "url: http://x/{record}\nrecord: r\npayload: {a: 1}\ncurrent_version: 1\nmethod: {}\n"
    )
    with pytest.raises(SpecError, match=r"gate.yaml:5 \(method\): unknown key 'method'"):
        load_gate_spec(path)
    path.write_text(
        "url: http://x/\nrecord: r\npayload: {sku: 1}\ncurrent_version: 1\n"
        "schema: {type: object, properties: {sku: {type: string}}}\n"
    )
    with pytest.raises(SpecError, match=r"gate.yaml:3 \(payload\).*does not satisfy"):
        load_gate_spec(path)
