"""PII redaction on the way into the store (I1-I3, issue 7): with ``redact_pii`` on, nothing
planted in the samples reaches any table or the database file, placeholders do, and a sample
and the results made from it share one numbering."""

import sqlite3
from pathlib import Path

import pytest

from assay.core import Output, Score, SpecError, StoreError
from assay.data import dataset_from_records
from assay.providers import OpenAICompatProvider
from assay.run import (
    CallableSubject,
    Eval,
    ModelSubject,
    PromptTemplate,
    RunOptions,
    eval_from_yaml_text,
    replay_eval,
    run_async,
)
from assay.run.runner import REDACTION_NOTE
from assay.score import exact
from assay.store import Store
from assay.testing import MockOpenAIServer

EMAIL = "bob.smith@example.com"
PHONE = "+1 415 555 0132"
CARD = "4111 1111 1111 1111"
#: Every form a planted value could be stored in (JSON keeps them as they are; numbers may be
#: normalised by someone, so the bare digits are searched too).
PLANTED = [EMAIL, PHONE, CARD, "4111111111111111", "4155550132", "bob.smith"]


def rows():
    return [
        {
            "id": "s1",
            "input": f"My email is {EMAIL}, call me on {PHONE}.",
            "target": f"echo: My email is {EMAIL}, call me on {PHONE}.",
            "note": f"card {CARD}",
        },
        {"id": "s2", "input": f"Charge card {CARD} please", "target": "ok"},
        {"id": "s3", "input": "nothing personal here", "target": "echo: nothing personal here"},
    ]


class EchoExplainer:
    """A scorer whose answer, explanation and metadata repeat the output."""

    name = "explain"
    kind = "explain"
    version = "1"

    def __init__(self):
        self.config = {}

    async def score(self, sample, output):
        return Score(
            scorer=self.name,
            value=1.0,
            answer=output.text,
            explanation=f"the output was: {output.text}",
            metadata={"seen": output.text},
        )


def build_eval(server):
    provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None, timeout=30)

    def shout(sample):
        if sample.id == "s2":
            raise RuntimeError(f"cannot charge {CARD}")
        return Output(text=sample.input_text.upper(), raw={"echo": sample.input_text})

    return Eval(
        name="pii",
        dataset=dataset_from_records(rows(), name="pii"),
        subjects=[
            ModelSubject("bot", provider=provider, model="mock", prompt=PromptTemplate()),
            CallableSubject("shout", shout),
        ],
        scorers=[exact(), EchoExplainer()],
        spec={"dataset": {"samples": rows()}, "note": f"owner {EMAIL}"},
    )


def text_cells(db: Path):
    """Every non-null value of every column of every table, as text."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        cells = []
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                for (value,) in conn.execute(f'SELECT "{column}" FROM "{table}"'):
                    if value is not None:
                        cells.append((table, column, str(value)))
        return cells
    finally:
        conn.close()


def file_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


async def run_into(tmp_path, name, redact):
    db = tmp_path / name / "assay.db"
    store = Store(str(db))
    try:
        async with MockOpenAIServer() as server:
            outcome = await run_async(
                build_eval(server), db=store, options=RunOptions(redact_pii=redact)
            )
        manifest = store.get_manifest(outcome.run_id)
        n_cache = len(
            list(store.engine.connect().exec_driver_sql("SELECT key FROM response_cache"))
        )
        results = {(r.subject, r.sample_id): r for r in store.iter_results(outcome.run_id)}
        samples = {s.id: s for s in store.get_samples(outcome.run_id)}
    finally:
        store.close()
    return db, outcome, manifest, n_cache, results, samples


async def test_nothing_planted_reaches_the_database_when_redaction_is_on(tmp_path):
    db, outcome, manifest, n_cache, results, samples = await run_into(tmp_path, "on", True)
    assert outcome.n_results == 6 and outcome.n_errors == 1  # shout fails on s2, on purpose
    cells = text_cells(db)
    found = [(t, c, p) for t, c, v in cells for p in PLANTED if p.lower() in v.lower()]
    assert found == []
    raw = file_bytes(db).lower()
    assert [p for p in PLANTED if p.lower().encode() in raw] == []
    # Placeholders are there instead: in samples, outputs, raw bodies, scores and errors.
    joined = {(t, c): "" for t, c, _ in cells}
    for t, c, v in cells:
        joined[(t, c)] += v + "\n"
    for table, column, placeholder in [
        ("samples", "input_json", "<EMAIL_1>"),
        ("samples", "target_json", "<PHONE_1>"),
        ("samples", "metadata_json", "<CARD_1>"),
        ("results", "output_text", "<EMAIL_1>"),
        ("results", "output_json", "<CARD_1>"),
        ("results", "error", "<CARD_1>"),
        ("scores", "answer", "<PHONE_1>"),
        ("scores", "explanation", "<EMAIL_1>"),
        ("scores", "metadata_json", "<EMAIL_1>"),
        ("manifests", "spec_json", "<EMAIL_1>"),
    ]:
        assert placeholder in joined[(table, column)], (table, column)
    # One numbering per sample and its results: the echoed email is the sample's <EMAIL_1>.
    assert samples["s1"].input == "My email is <EMAIL_1>, call me on <PHONE_1>."
    assert (
        results[("bot", "s1")].output.text == "echo: My email is <EMAIL_1>, call me on <PHONE_1>."
    )
    assert samples["s3"].input == "nothing personal here"
    # Scores were computed on the real output before redaction (exact match still holds).
    assert results[("bot", "s1")].scores[0].value == 1.0
    # Nothing written to the shared response cache; the manifest says redaction was on.
    assert n_cache == 0
    assert manifest.redaction == REDACTION_NOTE


async def test_without_redaction_the_same_run_stores_the_planted_values(tmp_path):
    # The control: the check above can fail, because the same run without redaction stores them.
    db, _outcome, manifest, n_cache, _results, _samples = await run_into(tmp_path, "off", False)
    values = "\n".join(v for _t, _c, v in text_cells(db))
    assert EMAIL in values and PHONE in values and CARD in values
    assert n_cache == 3 and manifest.redaction is None


async def test_redacted_runs_are_not_resumed_or_replayed_as_unredacted(tmp_path):
    store = Store(str(tmp_path / "assay.db"))
    try:
        async with MockOpenAIServer() as server:
            ev = build_eval(server)
            done = await run_async(ev, db=store, options=RunOptions(redact_pii=True))
            with pytest.raises(StoreError, match="stored with PII redaction"):
                await run_async(ev, db=store, run_id=done.run_id, resume=True)
        with pytest.raises(SpecError, match="cannot be replayed"):
            replay_eval(store, done.run_id)
    finally:
        store.close()


SPEC = """name: pii-spec
redact_pii: true
dataset:
  samples:
    - {id: a, input: "write to bob.smith@example.com", target: "x"}
subjects:
  - {name: big, model: sim/atlas-large}
"""


def test_spec_key_turns_redaction_on_and_enters_the_spec_hash():
    from assay.run import spec_hash

    ev = eval_from_yaml_text(SPEC, filename="e.yaml")
    plain = eval_from_yaml_text(SPEC.replace("redact_pii: true\n", ""), filename="e.yaml")
    assert ev.redact_pii is True and plain.redact_pii is False
    assert spec_hash(ev) != spec_hash(plain)
    assert spec_hash(plain, redact_pii=True) == spec_hash(ev)


def test_bad_redact_pii_value_names_the_line():
    with pytest.raises(SpecError) as caught:
        eval_from_yaml_text(
            SPEC.replace("redact_pii: true", "redact_pii: sometimes"), filename="e.yaml"
        )
    assert "e.yaml:2" in str(caught.value) and "redact_pii" in str(caught.value)


async def test_sim_run_from_a_spec_stores_no_email(tmp_path):
    db = tmp_path / "sim.db"
    store = Store(str(db))
    try:
        outcome = await run_async(eval_from_yaml_text(SPEC, filename="e.yaml"), db=store)
    finally:
        store.close()
    assert outcome.n_results == 1
    assert b"bob.smith" not in file_bytes(db)
    assert any("<EMAIL_1>" in v for _t, _c, v in text_cells(db))


def test_cli_redact_pii_flag_and_cost_line_with_judges(tmp_path):
    import os
    import subprocess
    import sys

    spec = SPEC.replace("redact_pii: true\n", "") + (
        "scorers: [exact, {rubric: {judge: sim/judge-fair, scale: 5}}]\n"
    )
    (tmp_path / "e.yaml").write_text(spec)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("ASSAY_DB", None)
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "run", "e.yaml", "--redact-pii", "--db", "a.db"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"bob.smith" not in file_bytes(tmp_path / "a.db")
    with Store(str(tmp_path / "a.db")) as store:
        manifest = store.get_manifest(store.resolve_run_id("latest"))
    assert manifest.redaction == REDACTION_NOTE
    # The cost line names subjects and judges apart (the judge graded the one sample).
    assert "subjects: " in proc.stderr and "judges: 1 calls" in proc.stderr


async def test_pii_in_the_specs_own_prompt_and_system_text_is_redacted_too(tmp_path):
    """Issue 20 §9: PII written in a spec's ``prompt`` (inline or in a prompt file), its
    ``system`` text or a judge's rubric reaches neither the stored manifest nor the report."""
    from assay.web.report import render_report

    (tmp_path / "prompt.txt").write_text(f"Reply to {EMAIL} about: {{{{ input }}}}\n")
    spec = (
        "name: pii-prompt\nredact_pii: true\ndataset:\n  samples:\n"
        '    - {id: a, input: "hello", target: "x"}\n'
        "subjects:\n"
        "  - name: filed\n    model: sim/atlas-large\n    prompt: prompt.txt\n"
        f"    system: 'You are the assistant of Bob, phone {PHONE}.'\n"
        "  - name: inline\n    model: sim/atlas-large\n"
        f"    prompt: 'Card on file {CARD}. Question: {{{{ input }}}}'\n"
        "scorers: [exact, {rubric: {judge: sim/judge-fair, scale: 5, "
        f"rubric: 'penalise any mention of {EMAIL}', system: 'Judge for {PHONE}.'}}}}]\n"
    )
    db = tmp_path / "spec.db"
    store = Store(str(db))
    try:
        ev = eval_from_yaml_text(spec, base_dir=tmp_path, filename="e.yaml")
        outcome = await run_async(ev, db=store)
        manifest = store.get_manifest(outcome.run_id)
        html = render_report(store, outcome.run_id)
    finally:
        store.close()
    assert outcome.status == "completed"
    templates = " ".join(s.prompt_template or "" for s in manifest.subjects)
    assert "<EMAIL_1>" in templates and "<PHONE_1>" in templates and "<CARD_1>" in templates
    assert "Reply to" in templates and "Question:" in templates  # only the PII is replaced
    texts = manifest.model_dump_json() + html
    assert [p for p in PLANTED if p.lower() in texts.lower()] == []
    assert [p for p in PLANTED if p.lower().encode() in file_bytes(db)] == []
    assert all(s.prompt_hash for s in manifest.subjects)  # the identity of the text is kept
