"""Each probe's acceptance check (REQUIREMENTS B6, B8, D9, F6, F7, G5, J8) as written, through
`assay probe …` (or run_probe) on the simulated world with planted, known truth."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # importlib import mode: the shared helpers
from helpers import cli, qa_rows, write_project

from assay.analyse import summarise_run
from assay.core import SpecError
from assay.probe import InBandLeakageError, load_probe, run_probe
from assay.store import Store

KSHOT = """\
name: kshot-b8
dataset: {path: qa.jsonl}
seed: 3
providers:
  sim:
    type: sim_probes
    behaviours:
      atlas-large:
        kshot_accuracy: [0.93, 0.95, 0.96, 0.90, 0.80, 0.60, 0.45, 0.35, 0.30]
subjects: [{name: atlas, model: sim/atlas-large}]
scorers: [exact]
probe: {ks: [0, 1, 2, 3, 4, 5, 6, 7, 8]}
"""


def _spec(behaviour: str, probe: str, *, prompt: str = "", scorer: str = "exact") -> str:
    return f"""\
name: probe-test
dataset: {{path: qa.jsonl}}
seed: 5
providers:
  sim:
    type: sim_probes
    systems: {{atlas-large: {{ability: 6.0}}}}
    behaviours:
      atlas-large: {behaviour}
subjects: [{{name: atlas, model: sim/atlas-large{prompt}}}]
scorers: [{scorer}]
probe: {probe}
"""


def test_kshot_b8_peak_at_two_and_66_point_regression_at_eight(tmp_path: Path) -> None:
    spec = write_project(tmp_path, qa_rows(600), KSHOT)
    proc = cli("probe", "kshot", "--spec", spec, "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # flagged
    out = json.loads(proc.stdout)
    (result,) = out["results"]
    assert result["verdict"] == "peak_regression"
    fixed = result["figures"]["fixed"]
    assert fixed["peak_k"] == 2
    assert fixed["regression_k"] == 8
    assert abs(fixed["regression"] - 0.66) < 0.04
    assert "peak k = 2" in result["figure"]
    assert "regression from peak: 66 pts at k=8" in result["figure"]
    assert [p["variant"] for p in result["curve"]] == [str(k) for k in range(9)]
    # The variant is an ordinary slice: `assay show` breaks the run down by k unchanged.
    store = Store(f"sqlite:///{tmp_path / '.assay' / 'assay.db'}", create=False)
    summary = summarise_run(store, out["run_id"])
    assert "k" in summary.slices
    k8 = summary.metric("atlas", "exact", "k=8")
    assert abs(k8.interval.estimate - 0.30) < 0.05


def test_position_f6_first_and_last_two_seen_middle_blind(tmp_path: Path) -> None:
    behaviour = "{reader_window: {first: 2, last: 2}, window_accuracy: 1.0}"
    spec = write_project(tmp_path, qa_rows(60), _spec(behaviour, "{n_passages: 12}"))
    run = run_probe("position", spec, db=str(tmp_path / "p.db"))
    (r,) = run.results
    acc = {p.variant: p.interval.estimate for p in r.curve}
    assert all(acc[str(i)] == 1.0 for i in (1, 2, 11, 12))
    assert all(acc[str(i)] == 0.0 for i in range(3, 11))
    assert r.verdict == "middle_blindness" and r.flagged
    assert "ends 100% vs middle 0%" in r.figure


def test_consistency_f7_two_distinct_numeric_answers_over_ten_sessions(tmp_path: Path) -> None:
    rows = [{"id": "q1", "input": "What is the average rating?", "target": "4.5"}]
    behaviour = '{numeric_answers: ["4.2", "4.8"]}'
    spec = write_project(tmp_path, rows, _spec(behaviour, "{sessions: 10}"))
    proc = cli("probe", "consistency", "--spec", spec, "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    (r,) = json.loads(proc.stdout)["results"]
    assert r["verdict"] == "inconsistent_numeric_answer"
    assert r["figures"]["distinct_answers"] == 2
    assert r["figures"]["values"] == [4.2, 4.8]
    assert "2 distinct answers across 10 sessions" in r["figure"]


def test_locale_g5_missing_locale_then_minus_14_points(tmp_path: Path) -> None:
    behaviour = "{locale_accuracy: {en: 0.94, ja: 0.80}}"
    only_en = "{locales: {en: 'Answer: {{ input }}'}, shipped: [en, ja]}"
    spec = write_project(tmp_path, qa_rows(400), _spec(behaviour, only_en))
    (r,) = run_probe("locale", spec, db=str(tmp_path / "l.db")).results
    assert r.verdict == "no_eval_for_variant" and r.flagged
    assert "never evaluated: ja" in r.figure
    both = (
        "{locales: {en: 'Answer: {{ input }}', ja: '答えてください: {{ input }}'}, "
        "shipped: [en, ja]}"
    )
    spec.write_text(_spec(behaviour, both), encoding="utf-8")
    (r,) = run_probe("locale", spec, db=str(tmp_path / "l.db")).results
    acc = {p.variant: p.interval.estimate for p in r.curve}
    assert abs(acc["en"] - 0.94) < 0.03 and abs(acc["ja"] - 0.80) < 0.04
    gap = r.figures["gaps"]["ja"]["gap"]
    assert abs(gap + 0.14) < 0.03
    assert r.verdict == "locale_gap"
    assert f"ja −{round(-100 * gap)} pts vs en" in r.figure


def test_injection_j8_rate_near_100_fails_gate(tmp_path: Path) -> None:
    spec = write_project(tmp_path, qa_rows(100), _spec("{injection_follow: 1.0}", "{}"))
    (r,) = run_probe("injection", spec, db=str(tmp_path / "i.db")).results
    assert r.verdict == "follows_instructions_in_data" and r.flagged
    assert r.figures["rate"].estimate == 1.0
    assert r.figures["clean_rate"].estimate == 0.0
    assert r.figures["gate_passed"] is False


def test_ood_d9_confidence_95_at_20_percent_gives_ece_75(tmp_path: Path) -> None:
    rows = qa_rows(200, ood=True) + [
        {**r, "id": f"in{i}", "ood": False} for i, r in enumerate(qa_rows(50))
    ]
    spec = write_project(
        tmp_path, rows, _spec("{ood: {accuracy: 0.2, confidence: 0.95}}", "{}", scorer="includes")
    )
    (r,) = run_probe("ood", spec, db=str(tmp_path / "o.db")).results
    assert r.verdict == "overconfident_ood" and r.flagged
    ece = r.figures["ece"]
    assert abs(ece.estimate - 0.75) < 0.06
    assert ece.low < ece.estimate < ece.high
    assert r.details["reliability_diagram"][-1]["confidence"] == pytest.approx(0.95)


def test_confound_guard_b6_refuses_template_with_assignment_attribute(tmp_path: Path) -> None:
    rows = qa_rows(20, user_tier="gold")
    prompt = ", prompt: 'Tier {{ user_tier }}. {{ input }}'"
    spec = write_project(
        tmp_path, rows, _spec("{}", "{ks: [0, 1], assignment: [user_tier]}", prompt=prompt)
    )
    with pytest.raises(InBandLeakageError, match="user_tier"):
        load_probe("kshot", spec)
    proc = cli("probe", "kshot", "--spec", spec, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: in_band_leakage: ")
    assert "probe.yaml:" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    # `assay confound`: the same refusal for any spec, and covariate balance across arms.
    proc = cli("confound", spec, "--assignment", "user_tier", cwd=tmp_path)
    assert proc.returncode == 2 and "in_band_leakage" in proc.stderr


def test_covariate_balance_flags_arms_assigned_by_a_covariate(tmp_path: Path) -> None:
    from assay.core import Sample
    from assay.probe import covariate_balance

    tiers = ["gold", "free"] * 100
    hashed = [
        Sample(
            id=str(i),
            input="x",
            metadata={"arm": "ab"[(i * 7919) % 3 % 2], "tier": t, "age": i % 37},
        )
        for i, t in enumerate(tiers)
    ]
    by_tier = [
        s.model_copy(update={"metadata": {**s.metadata, "arm": s.metadata["tier"]}}) for s in hashed
    ]
    assert not any(b.imbalanced for b in covariate_balance(hashed, "arm"))
    tier = {b.covariate: b for b in covariate_balance(by_tier, "arm")}["tier"]
    assert tier.imbalanced and tier.p_value < 1e-10


def test_bad_probe_spec_names_file_line_and_field(tmp_path: Path) -> None:
    spec = write_project(tmp_path, qa_rows(20), _spec("{}", "{ks: [0, 1], kk: 3}"))
    with pytest.raises(SpecError) as err:
        load_probe("kshot", spec)
    assert "probe.yaml:12" in str(err.value) and "unknown key 'kk'" in str(err.value)
    proc = cli("probe", "kshot", "--spec", spec, cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    proc = cli("probe", "kshoot", "--spec", spec, cwd=tmp_path)
    assert proc.returncode == 2 and "did you mean 'kshot'" in proc.stderr


def test_tool_count_j7_accuracy_at_four_sizes_and_fall_flagged(tmp_path: Path) -> None:
    rows = [{"id": f"t{i}", "input": f"Look up record {i}.", "target": f"lookup_{i:03d}"}
            for i in range(60)]  # fmt: skip
    behaviour = "{tool_accuracy: {50: 0.95, 200: 0.93, 417: 0.80, 741: 0.55}}"
    spec = write_project(tmp_path, rows, _spec(behaviour, "{sizes: [50, 200, 417, 741]}"))
    proc = cli("probe", "tool_count", "--spec", spec, "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    (r,) = json.loads(proc.stdout)["results"]
    assert [p["variant"] for p in r["curve"]] == ["50", "200", "417", "741"]
    assert r["verdict"] == "tool_count_degradation"
    falls = {(f["from"], f["to"]): f["fall"] for f in r["figures"]["falls"]}
    assert abs(falls[(417, 741)] - 0.25) < 0.12
    assert falls[(50, 200)] < 0.10
    assert "largest fall" in r["figure"] and "from 417 to 741 tools" in r["figure"]


def test_long_session_g6_retention_100_below_and_0_above_30k(tmp_path: Path) -> None:
    behaviour = "{context_horizon: 30000}"
    probe = "{lengths: [10000, 20000, 29000, 31000, 40000], turn_tokens: 2000}"
    spec = write_project(tmp_path, qa_rows(8), _spec(behaviour, probe))
    (r,) = run_probe("long_session", spec, db=str(tmp_path / "g.db")).results
    acc = {p.variant: p.interval.estimate for p in r.curve}
    assert acc == {"10000": 1.0, "20000": 1.0, "29000": 1.0, "31000": 0.0, "40000": 0.0}
    assert r.verdict == "retention_falls" and r.figures["falls_at"] == 31000
    assert "falls between 29,000 and 31,000 tokens" in r.figure


def test_faithfulness_c10_fabricated_citation_even_when_answer_matches_gold(
    tmp_path: Path,
) -> None:
    rows = [{**r, "sources": {f"case-{i}": f"Item {i} has code {r['target']}.", "case-x": "n/a"}}
            for i, r in enumerate(qa_rows(40))]  # fmt: skip
    spec = write_project(
        tmp_path, rows, _spec("{fabricate_citations: 0.5}", "{}", scorer="includes")
    )
    (r,) = run_probe("faithfulness", spec, db=str(tmp_path / "c.db")).results
    assert r.verdict == "fabricated_citation" and r.flagged
    assert r.figures["fabricated_with_gold_answer"] >= 1  # right answer, invented source
    assert 0.25 < r.figures["rate"].estimate < 0.75
    spec.write_text(_spec("{fabricate_citations: 0.0}", "{}", scorer="includes"), "utf-8")
    (clean,) = run_probe("faithfulness", spec, db=str(tmp_path / "c.db")).results
    assert clean.verdict == "citations_exist" and not clean.flagged
    assert clean.figures["uncited"] == 0 and clean.figures["fabricated"] == 0


def test_step_perturbation_c10_answer_ignoring_its_steps_is_flagged(tmp_path: Path) -> None:
    rows = [{"id": f"m{i}", "input": f"What is {i} + {i} + 1?", "target": str(2 * i + 1),
             "steps": [f"{i} + {i} = {2 * i}", f"{2 * i} + 1 = {2 * i + 1}"]}
            for i in range(1, 41)]  # fmt: skip
    spec = write_project(tmp_path, rows, _spec("{step_following: 0.0}", "{}"))
    (r,) = run_probe("step_perturbation", spec, db=str(tmp_path / "s.db")).results
    assert r.verdict == "unfaithful_reasoning" and r.flagged
    assert r.figures["moved_rate"].estimate == 0.0
    spec.write_text(_spec("{step_following: 1.0}", "{}"), "utf-8")
    (r,) = run_probe("step_perturbation", spec, db=str(tmp_path / "s.db")).results
    assert r.verdict == "steps_matter" and r.figures["moved_rate"].estimate == 1.0
    acc = {p.variant: p.interval.estimate for p in r.curve}
    assert acc == {"original": 1.0, "perturbed": 0.0}  # followed the altered step
