"""A small store for the MCP tests: two runs of a simulated eval whose second prompt regresses
the `code` slice, three production traces and a judge certificate."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from tests.trace.planted import plant
from typer.testing import CliRunner

from assay.cli import app
from assay.core import CheckResult, JudgeCertificate, judge_key
from assay.store import Store

SPEC = """\
name: mcp-eval
dataset:
  path: items.jsonl
slices: [slice]
seed: 3
providers:
  sim:
    type: sim
    systems:
      helper:
        family: atlas
        ability: 0.8
        prompt_effects:
          - contains: "Think first"
            slices: {{math: 1.0, code: -2.0, chat: 0.8}}
subjects:
  - name: assistant
    model: sim/helper
    prompt: "{prompt}Answer: {{{{ input }}}}"
    params: {{temperature: 0}}
scorers: [exact]
"""


def db_url(chosen) -> str:  # type: ignore[no-untyped-def]
    """The backend's URL with the PostgreSQL test schema carried in it (for `--db`)."""
    options = chosen.connect_args.get("options")
    return chosen.url if not options else f"{chosen.url}?options={quote(options)}"


def certificate() -> JudgeCertificate:
    check = CheckResult(
        check="canary_constant", figure=0.3, low=0.2, high=0.4, n=200, verdict="fail",
        flag="gameable", message="a constant answer scores 30%",
    )  # fmt: skip
    return JudgeCertificate(
        id="cert-mcp-1",
        judge="sim/demo-judge",
        judge_key=judge_key("sim/demo-judge", "h", {"temperature": 0}),
        model="sim/demo-judge",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        checks=[check],
    )


def make_world(folder: Path, db: str) -> tuple[str, str]:
    """Fill ``db``; returns (baseline run id, candidate run id)."""
    rng = random.Random(5)
    rows = [
        {"id": f"i{i}", "input": f"item {i} {'needle' if i == 7 else ''}".strip(),
         "target": f"t{i}", "slice": ("math", "code", "chat")[i % 3],
         "difficulty": round(rng.gauss(0, 1), 3)}
        for i in range(90)
    ]  # fmt: skip
    (folder / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    for name, prompt in (("a", ""), ("b", "Think first. ")):
        (folder / f"{name}.yaml").write_text(SPEC.format(prompt=prompt))
        made = CliRunner().invoke(app, ["run", str(folder / f"{name}.yaml"), "--db", db])
        assert made.exit_code == 0, made.output
    with Store(db) as store:
        b, a = [r.id for r in store.list_runs()]
        plant(store)
        store.put_certificate(certificate())
    return a, b


def cli_compare_json(db: str, a: str, b: str) -> dict:  # type: ignore[type-arg]
    """What `assay compare A B --json` prints, parsed."""
    out = CliRunner().invoke(app, ["compare", a, b, "--json", "--db", db])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)  # type: ignore[no-any-return]
