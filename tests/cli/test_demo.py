"""``assay demo`` (issue 20, section 3): the offline story by default, ending on its verdict;
the judge audit in a helper process gives the same output and runs, in the same order, as
one process; the production chapter's alerts table keeps model snapshots whole at 80 columns.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from assay.monitor.alerts import Finding
from assay.monitor.demo import alerts_table
from assay.monitor.engine import PassReport
from assay.store import Store

_IDS = re.compile(r"\b(cert-)?\d{8}-\d{6}-[0-9a-f]{6}\b")


def _normalised(text: str, folder: str) -> str:
    text = _IDS.sub("ID", text)
    text = re.sub(r"audited \d{4}-\d\d-\d\d \d\d:\d\d UTC", "audited T", text)
    return text.replace(folder, "DIR")


def _run_names(db: Path) -> list[str]:
    with Store(str(db)) as store:
        return [r.name.split(" ")[0] for r in reversed(store.list_runs())]


def test_demo_is_offline_by_default_and_ends_on_its_verdict(cli, tmp_path: Path) -> None:
    def demo(folder: str, helper: str) -> Any:
        env = {"ASSAY_DEMO_HELPER": helper}  # 1: the audit in a forked helper, 0: in-process
        return cli("demo", folder, "--samples", 120, cwd=tmp_path, env=env, check=0)

    helper, serial = demo("helper-demo", "1"), demo("serial-demo", "0")
    lines = [line for line in helper.stdout.splitlines() if line.strip()]
    # The verdict is the last thing printed on stdout, after the comparison.
    conclusion = next(i for i, line in enumerate(lines) if "Is prompt v2 better?" in line)
    assert conclusion >= len(lines) - 4, lines[conclusion:]
    assert helper.stdout.index("judge certificate") < helper.stdout.index("compare ")
    # No production chapter unless asked for; the closing hint says how to ask.
    assert "production traffic received" not in helper.stdout
    assert "assay demo --production" in helper.stderr
    # The helper process changes nothing but the timing: same output, same runs, same order.
    assert _normalised(helper.stdout, "helper-demo") == _normalised(serial.stdout, "serial-demo")
    expected = ["demo-qa", "demo-qa", "pairwise", "demo-qa-wordy", "audit", "audit"]
    assert _run_names(tmp_path / "helper-demo" / ".assay" / "assay.db") == expected
    assert _run_names(tmp_path / "serial-demo" / ".assay" / "assay.db") == expected
    with Store(str(tmp_path / "helper-demo" / ".assay" / "assay.db")) as store:
        certificate = store.get_certificate("latest")
    assert certificate.judge == "sim/demo-judge" and "length_bias" in certificate.flags


def _finding(kind: str, route: str, title: str, candidate: str | None) -> Finding:
    detail = {"what_changed": [{"description": candidate}]} if candidate else {}
    return Finding(f"{kind}:{route}", kind, "warning", route, None, None, title, detail)


def test_alerts_keep_model_snapshots_whole_at_80_columns() -> None:
    swap = (
        "model snapshot behind atlas-large: sim:atlas-large@2026-01 → "
        "sim:atlas-large@2026-03 (requested model unchanged)"
    )
    report = PassReport(at=datetime(2026, 3, 9, tzinfo=UTC), since=datetime(2026, 3, 1, tzinfo=UTC))
    report.findings = [
        _finding(
            "format_regression",
            "json-extract",
            "json-extract: format_validity 21.0% → 79.8% since 2026-03-05 10:35 UTC; "
            "first candidate prompt",
            "prompt app.prompt.version: extract-v3 → extract-v4",
        ),
        _finding(
            "slo_burn",
            "json-extract",
            "json-extract: format_validity burning 100.0x the budget over 6h (objective 99%); "
            "budget exhausted: 48.7x spent (92 bad of 189 over 28d)",
            None,
        ),
        _finding(
            "length_drift",
            "support-qa",
            "support-qa: output_length 144 → 208 since 2026-03-05 20:58 UTC; first candidate x",
            swap,
        ),
    ]
    for width in (80, 150):
        console = Console(width=width, record=True, no_color=True)
        console.print(alerts_table(report, report.at))
        text = console.export_text()
        assert "sim:atlas-large@2026-01" in text and "sim:atlas-large@2026-03" in text, text
        assert "…" not in text, text
        assert "format_regression" in text and "extract-v4" in text
        assert max(len(line) for line in text.splitlines()) <= width
