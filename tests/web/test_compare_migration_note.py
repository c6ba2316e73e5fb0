"""A migration note on the web (C5): the compare page and ``/api/compare`` take
``?migration_note=`` as ``assay compare --migration-note`` does, and the withheld label has a
colour of its own."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.web.test_numbers import rows_of

from assay.analyse.judge_guard import JUDGE_CHANGED
from assay.web import create_app
from assay.web.render import static_files
from assay.web.svg import VERDICT_COLOUR

NOTE = "judge-2026-03 scores 0.7 higher on the same outputs (assay audit bridge, 200 anchors)"


@pytest.fixture
def changed(judge_changed_db):  # type: ignore[no-untyped-def]
    """A client over those two runs, and the runs' ids."""
    db, a, b = judge_changed_db
    with TestClient(create_app(db)) as client:
        yield client, a, b


def _query(**params: str) -> str:
    return "?" + urllib.parse.urlencode(params)


def _quality(api: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in api["metrics"] if m["scorer"] == "quality")


def _form(html: str) -> str:
    match = re.search(r'<form[^>]*id="migration-note-form".*?</form>', html, re.S)
    assert match is not None, "no migration note form on the page"
    return match.group(0)


def test_without_a_note_the_verdict_is_withheld_and_the_page_offers_the_form(changed):  # type: ignore[no-untyped-def]
    client, a, b = changed
    api = client.get(f"/api/compare/{a}/{b}").json()
    assert _quality(api)["verdict"] == JUDGE_CHANGED
    page = client.get(f"/compare/{a}/{b}")
    assert page.status_code == 200
    assert JUDGE_CHANGED in page.text
    form = _form(page.text)
    assert 'method="get"' in form
    assert 'name="migration_note"' in form
    assert "restored" in form and "recorded" in form  # the label says what a note does
    assert 'id="migration-note"' not in page.text  # no note given, none shown


def test_the_form_keeps_the_other_query_parameters(changed):  # type: ignore[no-untyped-def]
    client, a, b = changed
    page = client.get(f"/compare/{a}/{b}" + _query(alpha="0.01", seed="7"))
    form = _form(page.text)
    assert '<input type="hidden" name="alpha" value="0.01">' in form
    assert '<input type="hidden" name="seed" value="7">' in form
    assert form.count('name="migration_note"') == 1  # not kept twice


def test_a_note_restores_the_verdicts_in_the_api_and_is_recorded_in_the_warnings(changed):  # type: ignore[no-untyped-def]
    client, a, b = changed
    api = client.get(f"/api/compare/{a}/{b}" + _query(migration_note=NOTE)).json()
    quality = _quality(api)
    assert quality["verdict"] == "improved"
    assert {g["verdict"] for g in quality["groups"]} == {"improved"}
    assert any(NOTE in w for w in api["warnings"])
    assert JUDGE_CHANGED not in str(api["metrics"])


def test_a_whitespace_note_is_no_note(changed):  # type: ignore[no-untyped-def]
    client, a, b = changed
    api = client.get(f"/api/compare/{a}/{b}" + _query(migration_note="   ")).json()
    assert _quality(api)["verdict"] == JUDGE_CHANGED
    page = client.get(f"/compare/{a}/{b}" + _query(migration_note="  \t "))
    assert page.status_code == 200
    assert 'id="migration-note"' not in page.text
    assert rows_of(page.text, "compare-row").rows[0]["data-verdict"] == JUDGE_CHANGED


def test_the_page_shows_the_note_escaped_and_the_restored_verdicts(changed):  # type: ignore[no-untyped-def]
    client, a, b = changed
    hostile = '<script>window.__pwned = 1</script> "scores" & more'
    page = client.get(f"/compare/{a}/{b}" + _query(migration_note=hostile))
    assert page.status_code == 200
    assert "<script>window.__pwned" not in page.text
    shown = re.search(r'id="migration-note"[^>]*>(.*?)</p>', page.text, re.S)
    assert shown is not None
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in shown.group(1)
    # The field keeps the note for editing, escaped inside its value attribute.
    field = 'value="&lt;script&gt;window.__pwned = 1&lt;/script&gt; &#34;scores&#34; &amp; more"'
    assert field in _form(page.text)
    rows = rows_of(page.text, "compare-row")
    assert [r["data-verdict"] for r in rows.rows[:3]] == ["improved"] * 3  # quality's rows
    assert JUDGE_CHANGED not in page.text.split('id="headline"')[1][:200]


@pytest.mark.parametrize("path", ["/api/compare/{a}/{b}", "/compare/{a}/{b}"])
def test_an_over_long_note_is_a_422_with_a_reason(changed, path):  # type: ignore[no-untyped-def]
    client, a, b = changed
    response = client.get(path.format(a=a, b=b) + _query(migration_note="x" * 2001))
    assert response.status_code == 422
    reason = response.json()["error"] if path.startswith("/api/") else response.text
    assert "migration_note" in reason and "2000" in reason
    at_limit = client.get(path.format(a=a, b=b) + _query(migration_note="x" * 2000))
    assert at_limit.status_code == 200


def test_the_withheld_label_has_a_style_of_its_own(changed):  # type: ignore[no-untyped-def]
    client, a, b = changed
    page = client.get(f"/compare/{a}/{b}").text
    assert f'<span class="verdict v-withheld">{JUDGE_CHANGED}</span>' in page
    css = static_files()["assay.css"].decode()
    rule = re.search(r"\.v-withheld\s*\{([^}]*)\}", css)
    assert rule is not None
    others = {c: re.search(rf"\.{c}[^{{]*\{{([^}}]*)\}}", css) for c in ("v-improved", "v-nodiff")}
    assert all(o is not None and o.group(1) != rule.group(1) for o in others.values())
    # The forest plot colours the withheld rows too, apart from every other verdict.
    assert VERDICT_COLOUR[JUDGE_CHANGED] not in {
        v for k, v in VERDICT_COLOUR.items() if k != JUDGE_CHANGED
    }
    rows = re.findall(rf'<g class="forest-row"[^>]*data-verdict="{JUDGE_CHANGED}".*?</g>', page)
    assert len(rows) == 3  # quality's aggregate and its two slices
    assert all(f'fill="{VERDICT_COLOUR[JUDGE_CHANGED]}">' in row for row in rows)


def test_the_static_report_takes_the_migration_note_too(tmp_path, judge_changed_db):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from assay.cli.app import app as cli
    from assay.core import AssayError

    db, a, b = judge_changed_db

    def report(*extra: str, code: int = 0) -> str:
        out = tmp_path / "report.html"
        args = ["report", a, "--compare", b, "--db", str(db), "-o", str(out), *extra]
        result = CliRunner().invoke(cli, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == code, result.output
        return out.read_text(encoding="utf-8") if code == 0 else result.output

    withheld = report()
    assert JUDGE_CHANGED in withheld and "<script>" not in withheld
    noted = report("--migration-note", NOTE + " <script>x</script>")
    assert JUDGE_CHANGED not in noted
    assert 'data-verdict="improved"' in noted
    assert "&lt;script&gt;x&lt;/script&gt;" in noted and "<script>x</script>" not in noted
    # Without --compare there is nothing for the note to apply to: exit 2, naming the flag.
    args = ["report", a, "--db", str(db), "--migration-note", NOTE]
    error = CliRunner().invoke(cli, args, env={"COLUMNS": "200", "NO_COLOR": "1"}).exception
    assert isinstance(error, AssayError) and error.exit_code == 2  # main() exits with it
    assert str(error).startswith("--migration-note: a migration note applies to a comparison")
