"""`assay mcp`: the tools in-process through the SDK's client, a real round trip over stdio and
one over streamable HTTP, the token rules of `assay serve`, and read-only access."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from assay.cli import app
from assay.core import AssayError, StoreError
from assay.mcp import build_server, open_read_only
from mcp import Client

from .world import certificate, cli_compare_json, db_url, make_world

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("ASSAY_DB", None)
    env.pop("ASSAY_TOKEN", None)
    return env


def _structured(result) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert not result.is_error, result.content
    return result.structured_content  # type: ignore[no-any-return]


def test_tools_answer_what_the_cli_prints_and_writes_are_refused(backend, tmp_path):
    db = db_url(backend)
    a, b = make_world(tmp_path, db)
    expected = cli_compare_json(db, a, b)
    store = open_read_only(db)
    server = build_server(store)

    async def calls() -> dict[str, object]:
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {
                "list_runs", "show_run", "compare_runs", "search_samples", "search_traces",
                "list_certificates", "show_certificate",
            }  # fmt: skip
            assert all(t.annotations.read_only_hint for t in tools.values())
            out: dict[str, object] = {}
            for name, args in (
                ("list_runs", {}),
                ("show_run", {"run": b, "intervals": True}),
                ("compare_runs", {"run_a": a, "run_b": b}),
                ("compare_runs", {"run_a": b}),  # alone: the candidate, against its predecessor
                ("search_samples", {"run": b, "text": "NEEDLE"}),
                ("search_traces", {"text": "refund"}),
                ("list_certificates", {}),
                ("show_certificate", {"certificate": "latest"}),
            ):
                out[f"{name}{len(out)}"] = _structured(await client.call_tool(name, args))
            unknown = await client.call_tool("show_run", {"run": "no-such-run"})
            assert unknown.is_error and "no-such-run" in unknown.content[0].text
            empty = await client.call_tool("search_samples", {"run": b, "text": " "})
            assert empty.is_error and "the search text is empty" in empty.content[0].text
            return out

    try:
        out = anyio.run(calls)
    finally:
        store.close()
    runs = out["list_runs0"]["runs"]
    assert [r["id"] for r in runs] == [b, a]
    shown = out["show_run1"]
    cli_show = CliRunner().invoke(app, ["show", b, "--json", "--db", db])
    assert shown["metrics"] == json.loads(cli_show.stdout)["metrics"]  # `assay show --json`
    code = next(m for m in shown["metrics"] if m["group"] == "slice=code")
    assert code["method"] == "wilson" and code["low"] < code["estimate"] < code["high"]
    assert {p["group"] for p in shown["precision"]} >= {"all", "slice=code"}
    # compare_runs is `assay compare --json`, number for number.
    assert out["compare_runs2"] == expected
    assert out["compare_runs3"] == expected
    assert expected["verdict"] == "mixed: slice regression"
    found = out["search_samples4"]
    assert [s["id"] for s in found["samples"]] == ["i7"] and found["samples"][0]["matched_in"] == [
        "input"
    ]
    assert len(out["search_traces5"]["traces"]) == 2
    assert [c["id"] for c in out["list_certificates6"]["certificates"]] == ["cert-mcp-1"]
    assert out["show_certificate7"]["checks"][0]["flag"] == "gameable"
    # Read-only: the store the server reads refuses writes.
    store = open_read_only(db)
    try:
        with pytest.raises((StoreError, OperationalError), match=r"read-?only"):
            store.put_certificate(certificate().model_copy(update={"id": "cert-mcp-2"}))
    finally:
        store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_stdio_and_http_round_trips_give_the_cli_verdict_and_http_needs_the_token(tmp_path):
    db = str(tmp_path / "store.db")
    a, b = make_world(tmp_path, db)
    expected = cli_compare_json(db, a, b)
    # stdio: the client spawns `python -m assay mcp`, as a coding agent does.
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "assay", "mcp", "--db", db], env=_env()
    )

    async def over_stdio() -> dict:  # type: ignore[type-arg]
        async with Client(params) as client:
            return _structured(await client.call_tool("compare_runs", {"run_a": a, "run_b": b}))

    assert anyio.run(over_stdio) == expected
    # Streamable HTTP with a token: refused without it, the same verdict with it.
    port = _free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    server = subprocess.Popen(
        [sys.executable, "-m", "assay", "mcp", "--db", db, "--transport", "http",
         "--port", str(port), "--token", "s3cret-mcp-test-token"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                refused = httpx.post(url, json={}, timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the MCP server did not start"
                time.sleep(0.2)
        assert refused.status_code == 401  # assay serve's guard, its message and challenge
        assert "needs its access token" in refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.post(url, json={}, headers={"Authorization": "Bearer nope"}, timeout=5)
        assert wrong.status_code == 401

        async def call() -> dict:  # type: ignore[type-arg]
            http = create_mcp_http_client(headers={"Authorization": "Bearer s3cret-mcp-test-token"})
            async with (
                http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                return _structured(await client.call_tool("compare_runs", {"run_a": a, "run_b": b}))

        assert anyio.run(call) == expected
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_http_off_loopback_without_a_token_is_refused(tmp_path):
    out = CliRunner().invoke(
        app, ["mcp", "--transport", "http", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db")],
        env={"ASSAY_TOKEN": ""},
    )  # fmt: skip
    # An AssayError: `assay` (main) prints it on one line and exits 2.
    assert isinstance(out.exception, AssayError)
    assert "refusing to serve on 0.0.0.0 without an access token" in str(out.exception)
    bad = CliRunner().invoke(app, ["mcp", "--transport", "carrier-pigeon"])
    assert isinstance(bad.exception, AssayError) and "unknown transport" in str(bad.exception)
