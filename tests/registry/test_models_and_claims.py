"""K3: the model inventory and ``assay models check``; K5: claims flagged ``stale_evidence``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tests.registry.test_prompt_registry import V1, V2, registry_url
from tests.registry.world import write_world
from typer.testing import CliRunner

from assay.cli import app
from assay.core import AssayError
from assay.registry.claims import add_claim, check_claims
from assay.registry.models import EolEntry, check_exit_code, eol_from_yaml, inventory, set_eol
from assay.registry.prompts import commit, promote
from assay.run import load_eval, run
from assay.run.yamlfile import parse_yaml
from assay.store.tables import spans, traces

TODAY = date(2026, 12, 4)


def _trace(store, trace_id: str, route: str, requested: str, resolved: str, when: datetime) -> None:  # type: ignore[no-untyped-def]
    with store.engine.begin() as conn:
        conn.execute(
            traces.insert().values(
                id=trace_id, start_time=when, end_time=when, status="ok", n_spans=1,
                n_errors=0, input_tokens=1, output_tokens=1, redacted=False, updated_at=when,
                route=route, service="helpdesk",
            )
        )  # fmt: skip
        conn.execute(
            spans.insert().values(
                trace_id=trace_id, span_id="s1", kind="llm", name="chat", convention="genai",
                start_time=when, end_time=when, duration_ms=1.0, status="ok",
                attributes_json="{}", provider="sim", model_requested=requested,
                model_resolved=resolved,
            )
        )  # fmt: skip


def test_an_eol_ten_days_away_is_critical_and_names_the_consumers(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = write_world(tmp_path, n=5)
    _trace(store, "t1", "/billing", "atlas-large", "sim:atlas-large@2026-01", datetime.now(UTC))
    set_eol(store, EolEntry("sim/atlas-large", TODAY + timedelta(days=10), "sim/atlas-large-2"))
    set_eol(store, EolEntry("sim/cirrus-mini", TODAY + timedelta(days=200)))
    models = inventory(store, specs=[str(spec)], today=TODAY)
    atlas = next(m for m in models if m.model == "sim/atlas-large")
    assert (atlas.status, atlas.days_left) == ("critical", 10)
    assert atlas.snapshots == ["sim:atlas-large@2026-01"]
    assert any(c.startswith("spec registry-world") for c in atlas.consumers)
    assert "route /billing" in atlas.consumers
    assert next(m for m in models if m.model == "sim/cirrus-mini").status == "ok"
    assert check_exit_code(models) == 3
    later = inventory(store, specs=[str(spec)], today=TODAY - timedelta(days=20))
    assert next(m for m in later if m.model == "sim/atlas-large").status == "warning"
    assert check_exit_code(later) == 1
    assert check_exit_code(inventory(store, today=TODAY - timedelta(days=100))) == 0


def test_models_check_cli_exits_non_zero_naming_consumers(backend, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = write_world(tmp_path, n=5)
    eol = tmp_path / "eol.yaml"
    eol.write_text("models:\n  - model: sim/atlas-large\n    eol: 2026-12-14\n")
    env = {"ASSAY_DB": registry_url(backend)}
    runner = CliRunner()
    imported = runner.invoke(app, ["models", "eol", "import", str(eol)], env=env)
    assert imported.exit_code == 0, imported.output
    result = runner.invoke(
        app, ["models", "check", "--spec", str(spec), "--today", "2026-12-04"], env=env
    )
    assert result.exit_code == 3
    assert "critical: sim/atlas-large" in result.output and "spec registry-world" in result.output


def test_eol_yaml_errors_name_the_line() -> None:
    doc = parse_yaml("models:\n  - model: a/b\n    eol: 2026-13-01\n", "eol.yaml")
    with pytest.raises(AssayError, match=r"eol.yaml:3 .*not a date"):
        eol_from_yaml(doc)
    doc = parse_yaml("models:\n  - model: a/b\n    retire: 2026-12-01\n", "eol.yaml")
    with pytest.raises(AssayError, match=r"eol.yaml:3 .*unknown key 'retire'"):
        eol_from_yaml(doc)


def test_claims_turn_stale_when_the_snapshot_or_the_prompt_moves(
    store, backend, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ASSAY_DB", registry_url(backend))
    commit(store, "support", V1, author="ana", rationales=["first"])
    promote(store, "support@1", label="production", actor="ana", reason="launch")
    spec = write_world(tmp_path, n=100, prompt_line="prompt: registry:support@production")
    evidence = run(load_eval(spec), db=store)
    claim = add_claim(store, "Answers support questions well", run=evidence.run_id, claimed=0.5)
    assert claim.prompt_ref == "support@1" and claim.models["resolved"] == [
        "sim:atlas-large@2026-01"
    ]
    assert claim.measured is not None and 0.5 < claim.measured < 1
    [status] = check_claims(store)
    assert status.status == "supported"
    # Production traces now show a newer snapshot of the same requested model.
    _trace(store, "t2", "/support", "atlas-large", "sim:atlas-large@2026-11", datetime.now(UTC))
    [status] = check_claims(store)
    assert status.status == "stale_evidence"
    assert "sim:atlas-large@2026-11" in status.reasons[0]
    with store.engine.begin() as conn:
        conn.execute(spans.delete())
    commit(store, "support", V2, author="bo", rationales=["brief", "legal"])
    promote(store, "support@2", label="production", actor="bo", reason="x", force=True)
    [status] = check_claims(store)
    assert status.status == "stale_evidence" and status.reasons[0].startswith("prompt:")
    old = add_claim(store, "old claim", run=evidence.run_id, valid_days=1)
    statuses = check_claims(store, now=datetime.now(UTC) + timedelta(days=2))
    aged = next(s for s in statuses if s.claim.id == old.id)
    assert any(r.startswith("age:") for r in aged.reasons)


def test_claims_export_then_import_re_reads_the_evidence(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from assay.registry.claims import list_claims
    from assay.registry.yaml_io import export_claims, import_claims
    from assay.run.yamlfile import load_yaml

    spec = write_world(tmp_path, n=40)
    evidence = run(load_eval(spec), db=store)
    add_claim(store, "Answers well", run=evidence.run_id, claimed=0.1, valid_days=30)
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(export_claims(store)))
    with store.engine.begin() as conn:
        from assay.store.tables import claims

        conn.execute(claims.delete())
    result = import_claims(store, load_yaml(path))
    [claim] = list_claims(store)
    assert result == {"added": [claim.id], "skipped": []}
    assert claim.valid_days == 30 and claim.claimed == 0.1 and claim.run_id == evidence.run_id
    assert import_claims(store, load_yaml(path)) == {"added": [], "skipped": ["Answers well"]}
    doc = yaml.safe_load(path.read_text())
    doc["claims"][0]["claim"]["run_id"] = "nosuchrun"
    path.write_text(yaml.safe_dump(doc))
    with store.engine.begin() as conn:
        conn.execute(claims.delete())
    with pytest.raises(AssayError, match=r"claims.yaml:\d+"):
        import_claims(store, load_yaml(path))
