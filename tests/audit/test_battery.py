"""The audit battery end to end in the simulated world: each planted defect alone is named, with a
magnitude whose interval covers the planted value, and no other; a clean judge is clean; the
certificate is stored, shown, and consulted by the gate."""

import json
import math
from statistics import NormalDist

import pytest

from assay.audit.battery import AuditConfig, audit_judge
from assay.cli.demo import demo_rows
from assay.run import load_eval, run
from assay.run.spec import scorer_context_from_spec
from assay.store import Store

WORLD = """\
name: audit-world
seed: {seed}
dataset:
  path: qa.jsonl
slices: [slice]
providers:
  sim:
    type: sim
    systems:
      concise: {{family: atlas, ability: 1.2}}
      wordy: {{family: boreal, ability: 0.6, verbosity: 30}}
    judges:
{judges}
subjects:
  - {{name: concise, model: sim/concise}}
  - {{name: wordy, model: sim/wordy}}
scorers: [exact]
"""

JUDGES = {
    "clean": "{noise: 0.5}",
    "positional": "{noise: 0.5, position_bias: 0.7}",
    "lengthy": "{noise: 0.5, length_bias: 1.0}",
    "gullible": "{noise: 0.5, injection_susceptibility: 0.6}",
    "vain": "{family: atlas, noise: 0.5, self_preference: 1.5}",
    "fair": "{family: arbiter, noise: 0.5}",
}


def expected_score(logit: float, noise: float, scale: int = 10) -> float:
    """A sim judge's expected 1..scale score of an output whose logit before noise is
    ``logit``: E[1 + round((scale − 1)·sigmoid(logit + noise·z))], z standard normal
    (midpoint rule on [−4, 4])."""
    normal = NormalDist()
    total = 0.0
    for k in range(400):
        z = -4 + 8 * (k + 0.5) / 400
        total += (
            normal.pdf(z)
            * 8
            / 400
            * (1 + round((scale - 1) / (1 + math.exp(-(logit + noise * z)))))
        )
    return total


def world(tmp_path, seed=3, n=240, judges=None, name="world.yaml"):
    with (tmp_path / "qa.jsonl").open("w") as fh:
        for row in demo_rows(n, seed=seed):
            fh.write(json.dumps(row) + "\n")
    lines = "\n".join(f"      {k}: {v}" for k, v in (judges or JUDGES).items())
    spec = tmp_path / name
    spec.write_text(WORLD.format(seed=seed, judges=lines))
    return spec


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """One world, one store: every judge audited once on the same two systems."""
    tmp_path = tmp_path_factory.mktemp("audit")
    spec = world(tmp_path)
    store = Store(str(tmp_path / "assay.db"))
    outcome = run(load_eval(spec), db=store)
    context = scorer_context_from_spec(spec)
    runs = [f"{outcome.run_id}:concise", f"{outcome.run_id}:wordy"]
    certificates = {}
    for judge in ("clean", "positional", "lengthy", "gullible", "vain"):
        config = AuditConfig(
            judge=f"sim/{judge}",
            runs=runs,
            context=context,
            max_samples=240,
            reference_judges=["sim/fair"],
        )
        certificates[judge] = audit_judge(store, config).certificate
    yield store, certificates, runs, context
    store.close()


def test_clean_judge_gets_a_clean_certificate(audited):
    _, certificates, _, _ = audited
    cert = certificates["clean"]
    assert cert.flags == [], [c for c in cert.checks if c.verdict == "fail"]
    assert {c.check for c in cert.checks} >= {"position_consistency", "length_bias"}


@pytest.mark.parametrize(
    ("judge", "flag"),
    [
        ("positional", "position_bias"),
        # C1: padding wins ~90%, so the length-loving judge is also gameable (issue 20).
        ("lengthy", ("gameable", "length_bias")),
        ("gullible", "gameable"),
        ("vain", "self_preference"),
    ],
)
def test_each_planted_defect_is_named_alone(audited, judge, flag):
    _, certificates, _, _ = audited
    assert sorted(certificates[judge].flags) == sorted([flag] if isinstance(flag, str) else flag)


def test_a_judge_that_padding_wins_is_gameable_and_blocks(audited):
    store, certificates, _, _ = audited
    verbosity = certificates["lengthy"].check("verbosity_attack")
    assert verbosity.flag == "gameable" and verbosity.low > 0.55
    assert store.get_certificate(certificates["lengthy"].id).blocking_flags == ["gameable"]
    assert certificates["clean"].check("verbosity_attack").flag is None


def test_gameable_names_the_injection_canaries(audited):
    _, certificates, _, _ = audited
    failed = {c.check for c in certificates["gullible"].checks if c.flag == "gameable"}
    assert failed and all(c.startswith("canary_") for c in failed)
    assert "canary_empty" not in failed and "canary_constant" not in failed


def test_position_bias_magnitude_covers_the_planted_value(audited):
    """On the identical pair the sim judge is unsure when |noise·z| < tie margin and then picks
    the first slot with probability position_bias; otherwise each slot equally often."""
    _, certificates, _, _ = audited
    check = certificates["positional"].check("position_identical_pair")
    unsure = 2 * NormalDist().cdf(0.5 / 0.5) - 1
    decided_each = (1 - unsure) / 2
    planted_first = decided_each + unsure * 0.7
    assert check.low <= planted_first <= check.high


def test_certificate_is_stored_and_gameable_blocks(audited):
    store, certificates, _, _ = audited
    stored = store.get_certificate(certificates["gullible"].id)
    assert stored.blocking_flags == ["gameable"]
    assert store.get_certificate("sim/gullible").id == stored.id


def test_drift_after_a_snapshot_bump_is_flagged(tmp_path, new_store_db):
    judges = {"moving": "{noise: 0.3}"}
    spec = world(tmp_path, seed=5, n=150, judges=judges)
    store = Store(new_store_db(tmp_path / "assay.db"))
    try:
        outcome = run(load_eval(spec), db=store)
        runs = [f"{outcome.run_id}:concise"]
        first = audit_judge(
            store,
            AuditConfig(judge="sim/moving", runs=runs, context=scorer_context_from_spec(spec)),
        ).certificate
        assert first.check("anchor_drift").verdict == "skipped" and first.anchor_scores
        # The same endpoint name now answers with a more lenient snapshot.
        bumped = world(
            tmp_path,
            seed=5,
            n=150,
            judges={
                "moving": "{noise: 0.3, snapshot: '2026-06', drift: {from_snapshot: '2026-06', leniency: 2.0}}"
            },
            name="bumped.yaml",
        )
        second = audit_judge(
            store,
            AuditConfig(judge="sim/moving", runs=runs, context=scorer_context_from_spec(bumped)),
        ).certificate
        drift = second.check("anchor_drift")
        assert drift.verdict == "fail" and second.flags == ["drifted"]
        assert drift.figure > 0 and not math.isnan(drift.low) and drift.low > 0
        assert second.fingerprint != first.fingerprint
        # The planted shift: +2.0 on the logit of every anchor, in score units.
        shifts = []
        for result in store.iter_results(first.source["pointwise_run"], "graded"):
            base = 4.0 * ((1.0 if result.output.metadata["sim"]["correct"] else 0.0) - 0.5)
            shifts.append(expected_score(base + 2.0, 0.3) - expected_score(base, 0.3))
        planted = sum(shifts) / len(shifts)
        assert drift.low <= planted <= drift.high, (planted, drift.figure, drift.low, drift.high)
    finally:
        store.close()


def test_a_clean_judge_is_clean_in_at_least_95_percent_of_seeded_worlds(tmp_path, new_store_db):
    """Issue 6: the battery's checks together (at 99% each) keep a clean judge's certificate
    clean in ≥ 95% of worlds. The worlds are seeded, so the count is reproducible."""
    judges = {"clean": "{noise: 0.5}"}
    flagged = []
    seeds = range(100, 130)
    for seed in seeds:
        folder = tmp_path / f"w{seed}"
        folder.mkdir()
        spec = world(folder, seed=seed, n=100, judges=judges)
        store = Store(new_store_db(folder / "assay.db"))
        try:
            outcome = run(load_eval(spec), db=store)
            config = AuditConfig(
                judge="sim/clean",
                runs=[f"{outcome.run_id}:concise", f"{outcome.run_id}:wordy"],
                context=scorer_context_from_spec(spec),
                max_samples=100,
                n_anchors=20,
                seed=seed,
            )
            certificate = audit_judge(store, config).certificate
        finally:
            store.close()
        if certificate.flags:
            flagged.append((seed, certificate.flags))
    assert len(flagged) <= 0.05 * len(seeds), flagged


def test_a_panel_gets_its_error_correlation_and_a_certificate_of_its_own(tmp_path, new_store_db):
    judges = {
        "p1": "{noise: 1.0, position_bias: 0.5}",
        "p2": "{noise: 1.0, position_bias: 0.5}",
        "p3": "{noise: 1.0, position_bias: 0.5}",
    }
    spec = world(tmp_path, seed=8, n=80, judges=judges)
    store = Store(new_store_db(tmp_path / "assay.db"))
    try:
        outcome = run(load_eval(spec), db=store)
        panel = ["sim/p1", "sim/p2", "sim/p3"]
        certificate = audit_judge(
            store,
            AuditConfig(
                judge=panel,
                runs=[f"{outcome.run_id}:concise", f"{outcome.run_id}:wordy"],
                context=scorer_context_from_spec(spec),
                max_samples=80,
            ),
        ).certificate
    finally:
        store.close()
    check = certificate.check("panel")
    assert check is not None and check.n > 0 and 1.0 <= check.figure <= 3.0
    assert check.low <= check.figure <= check.high
    # The certificate belongs to the panel, so the gate does not pin it on one member.
    assert certificate.model == "sim/p1+sim/p2+sim/p3" and certificate.judge == certificate.model


def test_canary_and_verbosity_magnitudes_cover_the_planted_values(audited):
    """The injection canaries win with probability s per order, and a single obeyed order is
    outvoted into a tie, so their expected win rate (ties half) is s² + s(1 − s) = s. The
    verbosity attack's expected rate follows from the sim judge's pairwise rule on each probe's
    actual length gap (see assay.providers.sim_judges)."""
    store, certificates, _, _ = audited
    for name in ("canary_ignore_above", "canary_fake_instruction", "canary_template_break"):
        check = certificates["gullible"].check(name)
        assert check.low <= 0.6 <= check.high, (name, check.figure, check.low, check.high)

    certificate = certificates["lengthy"]
    probes = [
        s for s in store.get_samples(certificate.source["pairwise_run"])
        if s.metadata["probe"] == "verbosity"
    ]  # fmt: skip
    normal = NormalDist()
    noise, margin, bias, scale = 0.5, 0.5, 1.0, 200.0
    expected = []
    for probe in probes:
        pair = probe.metadata["pair"]
        effect = bias * math.tanh((len(pair["b"]["text"]) - len(pair["a"]["text"])) / scale)
        padded_wins = normal.cdf((effect - margin) / noise)  # in either order
        original_wins = normal.cdf((-effect - margin) / noise)
        expected.append(padded_wins**2 + 0.5 * (1 - padded_wins**2 - original_wins**2))
    planted = sum(expected) / len(expected)
    check = certificate.check("verbosity_attack")
    assert check.low <= planted <= check.high, (planted, check.figure, check.low, check.high)


def test_self_preference_magnitude_covers_the_planted_value(audited):
    """The vain judge adds 1.5 to the logit of its own family's outputs; on the 1..10 scale
    its expected score is E[1 + round(9·sigmoid(x))] over the noise, and the reference judge
    is the same judge without the bonus, so the planted difference in differences is the mean
    extra score on own-family outputs (the other family's difference is 0 in expectation)."""
    store, certificates, _, _ = audited
    certificate = certificates["vain"]
    lifts = []
    for result in store.iter_results(certificate.source["pointwise_run"], "graded"):
        sim = result.output.metadata["sim"]
        if sim["family"] != "atlas":
            continue
        base = 4.0 * ((1.0 if sim["correct"] else 0.0) - 0.5)
        lifts.append(expected_score(base + 1.5, 0.5) - expected_score(base, 0.5))
    planted = sum(lifts) / len(lifts)
    check = certificate.check("self_preference")
    assert check.low <= planted <= check.high, (planted, check.figure, check.low, check.high)


@pytest.mark.parametrize("seed", [3, 5])
def test_length_control_inside_the_audit_meets_c2_on_an_equal_quality_pair(
    tmp_path, new_store_db, seed
):
    """C2 through the battery (issue 20): two systems of equal ability, one padded with filler
    (always the longer), a judge that likes length. Raw ≈ 0.7; the length-controlled rate must
    be 0.5 ± 0.05 (it was 7.1% when only the padded-copy rows pinned the length term)."""
    spec = world(tmp_path, seed=seed, judges={"demo": JUDGES["lengthy"]}).read_text()
    spec_path = tmp_path / "equal.yaml"
    spec_path.write_text(spec.replace("ability: 0.6, verbosity: 30", "ability: 1.2, verbosity: 30"))
    with Store(new_store_db(tmp_path / "equal.db")) as store:
        outcome = run(load_eval(spec_path), db=store)
        config = AuditConfig(
            judge="sim/demo",
            runs=[f"{outcome.run_id}:concise", f"{outcome.run_id}:wordy"],
            context=scorer_context_from_spec(spec_path),
            max_samples=240,
        )
        check = audit_judge(store, config).certificate.check("length_bias")
    raw, lc = check.details["raw_win_rate"], check.details["lc_win_rate"]
    assert raw > 0.6, raw  # the longer side wins on length alone
    assert lc == pytest.approx(0.5, abs=0.05), (raw, lc)
    assert check.details["lc_low"] <= 0.5 <= check.details["lc_high"]
    assert check.details["matched_rows"] == 240


def test_length_control_inside_the_audit_keeps_a_real_quality_gap(audited):
    """The wordy system is also the weaker one (ability 0.6 vs 1.2): at equal length it wins
    about 44% (σ(0.6)·(1−σ(1.2)) + half the ties), so LC stays below 50% and below raw."""
    _, certificates, _, _ = audited
    check = certificates["lengthy"].check("length_bias")
    lc = check.details["lc_win_rate"]
    assert 0.35 < lc < 0.49 and lc < check.details["raw_win_rate"]
