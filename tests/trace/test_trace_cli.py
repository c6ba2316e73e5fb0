"""``assay traces list|search|show``: the same dicts as the queries under ``--json``, a span tree
with a text waterfall otherwise, user text printed literally, and one clear line for mistakes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.cli.conftest import assay_cli
from tests.trace.planted import HOSTILE, MARKUP, Planted, plant
from typer.testing import CliRunner

from assay.cli.app import app as cli
from assay.core import AssayError
from assay.store import Store
from assay.trace.query import TraceFilter, get_trace, list_traces


@pytest.fixture(scope="module")
def planted_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Planted]:
    db = str(tmp_path_factory.mktemp("traces") / "assay.db")
    with Store(db) as store:
        ids = plant(store)
    return db, ids


def run_json(*args: str) -> object:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_json_is_the_query_result(planted_db):
    db, ids = planted_db
    shown = run_json("traces", "list", "--db", db)
    with Store(db) as store:
        assert shown == list_traces(store)
    assert [t["id"] for t in shown["traces"]] == [ids.events, ids.error, ids.refund]


def test_list_filters(planted_db):
    db, ids = planted_db

    def listed(*args: str) -> list[str]:
        return [t["id"] for t in run_json("traces", "list", "--db", db, *args)["traces"]]

    assert listed("--model", "gpt-4o") == [ids.refund]
    assert listed("--status", "error") == [ids.error]
    assert listed("--session", "sess-3") == [ids.events]
    assert listed("--user", "u-1") == [ids.refund]
    assert listed("--route", "/support") == [ids.error]
    assert listed("--service", "shop", "--limit", "1") == [ids.events]
    assert listed("--attr", "tier=gold") == [ids.error]
    assert listed("--attr", "tier=gold", "--attr", "n=4") == []
    assert listed("--since", "2025-03-04T10:30", "--until", "2025-03-04T11:30") == [ids.error]
    assert listed("--since", "1h") == []  # the planted traces are from 2025
    assert listed("--label", "failed") == [ids.refund]


def test_search_finds_text_with_the_same_filters(planted_db):
    db, ids = planted_db
    found = run_json("traces", "search", "refund", "--db", db)
    assert [t["id"] for t in found["traces"]] == [ids.error, ids.refund]
    assert found["filter"]["text"] == "refund"
    only_ok = run_json("traces", "search", "refund", "--status", "ok", "--db", db)
    assert [t["id"] for t in only_ok["traces"]] == [ids.refund]
    with Store(db) as store:
        assert found == list_traces(store, TraceFilter(text="refund"))


def test_show_json_is_the_trace_and_takes_a_prefix(planted_db):
    db, ids = planted_db
    shown = run_json("traces", "show", ids.refund[:5], "--db", db)
    with Store(db) as store:
        assert shown == get_trace(store, ids.refund)


def test_show_prints_the_tree_waterfall_messages_documents_and_feedback(planted_db):
    db, ids = planted_db
    proc = assay_cli("traces", "show", ids.refund[:8], "--db", db, cwd=Path(db).parent, check=0)
    out = proc.stdout
    lines = out.splitlines()
    rows = {
        name: next(line for line in lines if name in line and "█" in line)
        for name in ("POST /chat", "retrieve policy", "chat gpt-4o", "lookup_order", "late back")
    }
    # The tree: children indented under their parent; the orphan is a flagged root.
    assert rows["retrieve policy"].index("retrieve") > rows["POST /chat"].index("POST")
    assert rows["lookup_order"].index("lookup") > rows["chat gpt-4o"].index("chat")
    assert "(parent missing)" in rows["late back"]
    # The text waterfall: bars start at the span's offset and are as long as its duration.
    bars = {name: re.search(r"[·█]+$", row.rstrip()).group(0) for name, row in rows.items()}
    track = len(bars["POST /chat"])
    assert bars["POST /chat"] == "█" * track
    assert bars["chat gpt-4o"].index("█") == round(0.3 * track)
    assert bars["chat gpt-4o"].count("█") == round(0.6 * track)
    assert bars["lookup_order"].count("█") == round(0.1 * track)
    assert "600 ms" in rows["chat gpt-4o"] and "+300 ms" in rows["chat gpt-4o"]
    # Every chunk with its document version (F3), the messages, scores, feedback, outcomes.
    assert re.search(r"0\s+doc-refunds\s+doc-refunds#3\s+0\.91\s+v7\s+idx-2025-03\s+emb-3", out)
    assert re.search(r"1\s+doc-shipping\s+doc-shipping#1\s+0\.42\s+v2", out)
    assert f"user: Can I get a refund? {HOSTILE}" in out
    assert "assistant: Yes, within 30 days." in out
    assert 'tool execution: lookup_order({"order": "A-17"}) → {"status": "delivered"}' in out
    assert "score relevance (otel): 0.8 relevant" in out
    assert "thumbs value=0.0 comment=wrong <b>answer</b>" in out
    assert "ticket_reopened" in out and "+72.0 h" in out
    assert "1 span(s) whose parent never arrived" in out


def test_show_prints_user_text_literally_not_as_markup(planted_db):
    db, ids = planted_db
    proc = assay_cli("traces", "show", ids.error, "--db", db, cwd=Path(db).parent, check=0)
    assert MARKUP in proc.stdout
    assert "upstream timeout" in proc.stdout


def test_mistakes_are_one_line_and_exit_2(planted_db, tmp_path):
    db, _ = planted_db
    proc = assay_cli("traces", "show", "ffff", "--db", db, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: trace: no trace with id 'ffff'" in proc.stderr
    assert "assay traces list" in proc.stderr
    for args, fragment in (
        (("traces", "list", "--since", "yesterday"), "--since: cannot read 'yesterday'"),
        (("traces", "list", "--attr", "tier"), "--attr: attribute filter 'tier' is not KEY=VALUE"),
        (("traces", "list", "--status", "bad"), "status: unknown trace status 'bad'"),
        (("traces", "list", "--limit", "0"), "limit: limit must be between 1 and 1000"),
        (("traces", "show", "0", "--db", db), "is ambiguous"),
    ):
        result = CliRunner().invoke(cli, [*args, "--db", db])
        assert isinstance(result.exception, AssayError), (args, result.output)
        assert fragment in str(result.exception), str(result.exception)


def test_an_empty_store_says_so(tmp_path):
    result = CliRunner().invoke(cli, ["traces", "list", "--db", str(tmp_path / "empty.db")])
    assert result.exit_code == 0 and "No trace matches." in result.stdout
