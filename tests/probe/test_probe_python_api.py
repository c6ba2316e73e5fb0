"""The probe framework in Python: a user's own probe kind, registered in-process, run on an
`Eval` built in code, stored as one run whose variant is a slice."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from assay.core import Sample
from assay.data import Dataset
from assay.probe import (
    Probe,
    ProbeOptions,
    ProbeResult,
    ProbeTable,
    analyse_probe_run,
    probe_kinds,
    register_probe,
    run_probe,
)
from assay.run import CallableSubject, Eval
from assay.store import Store


class ShoutOptions(ProbeOptions):
    cases: list[str] = Field(default_factory=lambda: ["lower", "upper"])


@register_probe
class ShoutProbe(Probe):
    """Does the subject still answer when the question is shouted?"""

    kind = "test_shout"
    variant_key = "case"
    options = ShoutOptions
    config: ShoutOptions

    def variants(self) -> list[str]:
        return list(self.config.cases)

    def expand_sample(self, sample: Sample, variant: str) -> Sample | None:
        text = str(sample.input)
        return sample.model_copy(update={"input": text.upper() if variant == "upper" else text})

    def analyse(self, table: ProbeTable, subject: str) -> ProbeResult:
        curve = table.curve(subject)
        acc = {p.variant: p.interval.estimate for p in curve}
        flagged = acc["upper"] < acc["lower"]
        return self.result(table, subject, curve, "shout_blind" if flagged else "ok", flagged,
                           f"lower {acc['lower']:.2f} vs upper {acc['upper']:.2f}", "upper < lower")  # fmt: skip


def _answer(sample: Sample) -> str:
    # Answers only questions written in lower case: shouting breaks it.
    text = str(sample.input)
    return str(sample.target) if text == text.lower() else "?"


def test_user_probe_runs_as_one_run_with_the_variant_as_slice(tmp_path: Path) -> None:
    assert "test_shout" in probe_kinds()
    samples = [Sample(id=f"q{i}", input=f"what is {i}?", target=str(i)) for i in range(30)]
    ev = Eval(name="shout", dataset=Dataset("qs", samples),
              subjects=[CallableSubject("fn", _answer)])  # fmt: skip
    store = Store(str(tmp_path / "s.db"))
    run = run_probe("test_shout", ev, db=store)
    (result,) = run.results
    assert result.verdict == "shout_blind" and run.flagged
    assert [p.interval.estimate for p in result.curve] == [1.0, 0.0]
    assert store.get_manifest(run.run_id).slices == ["case"]
    assert len(store.get_samples(run.run_id)) == 60
    # Re-analysing the stored run gives the same answer.
    (again,) = analyse_probe_run(store, run.run_id)
    assert again.figure == result.figure == "lower 1.00 vs upper 0.00"


def test_consistency_across_personas_cross_user(tmp_path: Path) -> None:
    from assay.probe import build_probe
    from assay.providers.sim_probes import ProbeSimProvider
    from assay.run import ModelSubject

    provider = ProbeSimProvider(world_seed=2, behaviours={"atlas-large": {
        "numeric_answers": ["120", "150", "180"]}})  # fmt: skip
    samples = [Sample(id="q", input="How many days of leave do I get?", target="150")]
    ev = Eval(name="users", dataset=Dataset("qs", samples),
              subjects=[ModelSubject("bot", provider=provider, model="atlas-large")])  # fmt: skip
    personas = ["a new hire", "a manager", "a contractor", "a director", "an intern"]
    run = run_probe("consistency", ev, db=str(tmp_path / "c.db"), options={"personas": personas})
    (r,) = run.results
    assert [p.variant for p in r.curve] == personas
    assert r.verdict == "inconsistent_numeric_answer"
    assert "across 5 personas" in r.figure
    assert build_probe("consistency", {"personas": personas}).variants() == personas
