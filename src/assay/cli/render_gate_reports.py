"""Machine-readable gate reports for CI: SARIF 2.1.0 (``assay gate --sarif``), beside the JUnit
XML of :func:`assay.cli.render_stats.gate_junit` (``--junit``). Rendering only: the gate in
:mod:`assay.analyse.gate` decides which checks failed; this module writes what it decided.

SARIF (OASIS Static Analysis Results Interchange Format, version 2.1.0,
https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html) is what GitHub code scanning
and other dashboards ingest. Mapping:

* one *rule* (``reportingDescriptor``) per kind of gate check: ``assay.gate.regression``,
  ``assay.gate.threshold``, ``assay.gate.non-inferiority``, ``assay.gate.judge``;
* one *result* per failed check (``kind: fail``, ``level: error``), its message the check's
  message, e.g. the slices that regressed with their intervals. Passed checks are not results:
  code scanning treats every result as an alert, and a passing gate then closes earlier alerts;
  the JUnit report lists every check, passed or not;
* ``partialFingerprints`` hash the check's name, so the same regression found again on the next
  push is the same alert, not a new one;
* a location: a check is about a run, not a line of code, but GitHub code scanning refuses
  results without one (§3.27.12 makes ``locations`` optional; GitHub does not). The result
  points at the run's dataset file when it lies inside the working directory (the repository
  in CI), and always carries a logical location naming the metric.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from assay.analyse import GateResult
from assay.core import AssayError

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

#: The rule of each kind of gate check: (id, short description, full description).
RULES: dict[str, tuple[str, str, str]] = {
    "regression": (
        "assay.gate.regression",
        "A metric or one of its slices regressed",
        "The paired comparison of the candidate run with the baseline found a significant drop "
        "overall or in a slice (Holm-corrected across slices), larger than the gate's margin.",
    ),
    "threshold": (
        "assay.gate.threshold",
        "A metric is below its minimum",
        "The candidate run's mean for a scorer is below the value given with --min.",
    ),
    "non-inferiority": (
        "assay.gate.non-inferiority",
        "Not shown non-inferior",
        "The candidate was not shown to be no worse than the baseline by the margin "
        "(one-sided test at alpha).",
    ),
    "judge": (
        "assay.gate.judge",
        "A judge cannot be trusted for this gate",
        "A judge's newest audit certificate is gameable or drifted, or the judge changed "
        "between or within the runs without a migration note.",
    ),
}


def _rule(kind: str) -> tuple[str, str, str]:
    return RULES.get(kind, (f"assay.gate.{kind}", f"gate check: {kind}", f"gate check: {kind}"))


def _location(check_name: str, artifact: str | None, root: Path) -> dict[str, Any]:
    """A physical location (``artifact`` relative to ``root``) when it lies inside ``root``,
    and always a logical location naming the checked metric."""
    location: dict[str, Any] = {"logicalLocations": [{"name": check_name, "kind": "module"}]}
    if artifact:
        path = Path(artifact)
        try:
            relative = (path if path.is_absolute() else root / path).resolve().relative_to(root)
        except (ValueError, OSError):
            relative = None
        if relative is not None:
            location["physicalLocation"] = {
                "artifactLocation": {"uri": relative.as_posix(), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 1},
            }
    return location


def gate_sarif(result: GateResult, *, artifact: str | None = None, root: Path | None = None) -> str:
    """The gate as a SARIF 2.1.0 log (JSON text): one result per failed check, located at
    ``artifact`` (the candidate run's dataset file) when it lies inside ``root`` (default: the
    working directory)."""
    from assay import __version__

    root = (root or Path.cwd()).resolve()
    c = result.comparison
    kinds = list(dict.fromkeys([*RULES, *(check.kind for check in result.checks)]))
    rules = []
    for kind in kinds:
        rule_id, short, full = _rule(kind)
        rules.append(
            {
                "id": rule_id,
                "name": kind.title().replace("-", ""),
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "defaultConfiguration": {"level": "error"},
                "help": {
                    "text": "See the gate's output or `assay compare BASELINE CANDIDATE` for the "
                    "per-slice table; assay's docs/ci.md explains the checks."
                },
            }
        )
    index = {kind: i for i, kind in enumerate(kinds)}
    results = []
    for check in result.failures:
        rule_id = _rule(check.kind)[0]
        digest = hashlib.sha256(f"{rule_id}\0{check.name}".encode()).hexdigest()
        results.append(
            {
                "ruleId": rule_id,
                "ruleIndex": index[check.kind],
                "kind": "fail",
                "level": "error",
                "message": {"text": f"{check.name}: {check.message}"},
                "locations": [_location(check.name, artifact, root)],
                "partialFingerprints": {"assayGateCheck/v1": digest},
                "properties": {
                    "check": check.name,
                    "baseline_run": c.run_a.id,
                    "candidate_run": c.run_b.id,
                },
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "assay",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"assay-gate/{c.run_b.id}"},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "exitCode": 0 if result.passed else 1,
                    }
                ],
                "results": results,
                "properties": {
                    "passed": result.passed,
                    "checks": len(result.checks),
                    "failures": len(result.failures),
                    "baseline_run": c.run_a.id,
                    "candidate_run": c.run_b.id,
                    "verdict": c.verdict,
                },
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def write_report(path: Path, text: str, where: str) -> None:
    """Write a report file (creating its folder); an unwritable path is a usage error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise AssayError(f"cannot write {path}: {error.strerror}", where=where) from error
