"""K4: a migration eval of current and replacement sim models: per-slice deltas, format
differences and go / no-go against thresholds."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from assay.cli import app
from assay.registry.migration import migration_eval


def _spec(folder) -> str:  # type: ignore[no-untyped-def]
    rows = [
        {"id": f"q{i}", "input": f"question {i}", "target": f"answer {i}",
         "slice": "billing" if i % 2 else "shipping"}
        for i in range(200)
    ]  # fmt: skip
    (folder / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = folder / "eval.yaml"
    spec.write_text(
        "name: migrate-world\n"
        "dataset: {path: qa.jsonl, fields: {metadata: [slice]}}\n"
        "slices: [slice]\n"
        "providers:\n"
        "  sim:\n"
        "    type: sim\n"
        "    systems:\n"
        "      atlas-next: {name: atlas-next, family: atlas, ability: 3.0}\n"
        "subjects:\n"
        "  - {name: bot, model: sim/atlas-large}\n"
        "scorers: [exact]\n"
    )
    return str(spec)


def test_a_stronger_replacement_is_go_and_a_weaker_one_no_go(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(tmp_path)
    better = migration_eval(store, spec, from_model="sim/atlas-large", to_model="sim/atlas-next")
    assert better.decision == "go", better.reasons
    [quality] = better.quality
    assert [g["group"] for g in quality["groups"]] == ["all", "slice=billing", "slice=shipping"]
    assert quality["groups"][0]["difference"] > 0 and better.judges_pinned
    worse = migration_eval(store, spec, from_model="sim/atlas-large", to_model="sim/atlas-small")
    assert worse.decision == "no-go"
    assert worse.baseline_run == better.baseline_run  # the baseline run is reused
    assert any("regressed" in r for r in worse.reasons)


def test_a_verbose_replacement_breaks_the_format(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(tmp_path)
    report = migration_eval(store, spec, from_model="sim/atlas-large", to_model="sim/boreal-medium")
    assert report.decision == "no-go"
    assert report.format["bot"]["median_length_ratio"] > 10
    assert any("median output length" in r for r in report.reasons)


def test_migrate_cli_names_a_missing_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(tmp_path)
    db = str(tmp_path / "assay.db")
    result = CliRunner().invoke(
        app, ["migrate", "--from", "sim/gone", "--to", "sim/atlas-next", "--spec", spec, "--db", db]
    )
    assert result.exit_code != 0
    assert "no subject of eval.yaml uses sim/gone" in str(result.exception or result.output)
