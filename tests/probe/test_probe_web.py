"""The probe surface in the web UI: the JSON route equals `assay probe --json`'s results, the
page draws the curve with an interval band, and the ordinary run page works on a probe run."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from assay.core import Sample
from assay.data import Dataset
from assay.probe import run_probe
from assay.run import CallableSubject, Eval
from assay.store import Store
from assay.web.app import create_app


def _answer(sample: Sample) -> str:
    # Sees only the first and last two of the passages (a lost-in-the-middle reader).
    lines = [ln for ln in str(sample.input).splitlines() if ln.startswith("[")]
    visible = lines[:2] + lines[-2:]
    return str(sample.target) if any(str(sample.target) in ln for ln in visible) else "?"


def test_probe_page_and_api(tmp_path: Path) -> None:
    samples = [Sample(id=f"q{i}", input=f"Code of item {i}?", target=f"code{i:04d}")
               for i in range(20)]  # fmt: skip
    ev = Eval(name="pos", dataset=Dataset("qs", samples),
              subjects=[CallableSubject("reader", _answer)])  # fmt: skip
    store = Store(str(tmp_path / "w.db"))
    run = run_probe("position", ev, db=store, options={"n_passages": 8})
    assert run.results[0].verdict == "middle_blindness"
    client = TestClient(create_app(store))
    api = client.get(f"/api/runs/{run.run_id}/probe").json()
    assert api["results"][0]["verdict"] == "middle_blindness"
    assert [p["estimate"] for p in api["results"][0]["curve"]] == [1, 1, 0, 0, 0, 0, 1, 1]
    page = client.get(f"/runs/{run.run_id}/probe")
    assert page.status_code == 200
    assert 'class="band"' in page.text and "verdict: middle_blindness" in page.text
    assert client.get(f"/runs/{run.run_id}").status_code == 200  # the run page, unchanged
    missing = client.get("/api/runs/nope/probe")
    assert missing.status_code in (400, 404)


def test_probe_html_file_is_self_contained(tmp_path: Path) -> None:
    from assay.web.probe import probe_page_html

    samples = [Sample(id=f"q{i}", input=f"Code of item {i}?", target=f"code{i:04d}")
               for i in range(12)]  # fmt: skip
    ev = Eval(name="pos", dataset=Dataset("qs", samples),
              subjects=[CallableSubject("reader", _answer)])  # fmt: skip
    store = Store(str(tmp_path / "h.db"))
    run = run_probe("position", ev, db=store, options={"n_passages": 8})
    html = probe_page_html(store, run.run_id, standalone=True)
    assert "<polygon" in html and "<link" not in html and "http" not in html


def test_assay_report_on_a_probe_run_draws_its_curve(tmp_path: Path) -> None:
    from assay.web import render_report

    samples = [Sample(id=f"q{i}", input=f"Code of item {i}?", target=f"code{i:04d}")
               for i in range(12)]  # fmt: skip
    ev = Eval(name="pos", dataset=Dataset("qs", samples),
              subjects=[CallableSubject("reader", _answer)])  # fmt: skip
    store = Store(str(tmp_path / "r.db"))
    run = run_probe("position", ev, db=store, options={"n_passages": 8})
    html = render_report(store, run.run_id)
    assert f'id="probe-{run.run_id}"' in html and "verdict: middle_blindness" in html
    assert "<polygon" in html and "<link" not in html
    plain = Eval(name="plain", dataset=Dataset("qs", samples),
                 subjects=[CallableSubject("reader", _answer)])  # fmt: skip
    from assay.run import run as run_eval

    other = run_eval(plain, db=store)
    assert "probe-report" not in render_report(store, other.run_id)
