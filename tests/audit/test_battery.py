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
        ("lengthy", "length_bias"),
        ("gullible", "gameable"),
        ("vain", "self_preference"),
    ],
)
def test_each_planted_defect_is_named_alone(audited, judge, flag):
    _, certificates, _, _ = audited
    assert certificates[judge].flags == [flag]


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


def test_drift_after_a_snapshot_bump_is_flagged(tmp_path):
    judges = {"moving": "{noise: 0.3}"}
    spec = world(tmp_path, seed=5, n=150, judges=judges)
    store = Store(str(tmp_path / "assay.db"))
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
    finally:
        store.close()


def test_a_clean_judge_is_clean_in_at_least_95_percent_of_seeded_worlds(tmp_path):
    """Issue 6: the battery's checks together (at 99% each) keep a clean judge's certificate
    clean in ≥ 95% of worlds. The worlds are seeded, so the count is reproducible."""
    judges = {"clean": "{noise: 0.5}"}
    flagged = []
    seeds = range(100, 130)
    for seed in seeds:
        folder = tmp_path / f"w{seed}"
        folder.mkdir()
        spec = world(folder, seed=seed, n=100, judges=judges)
        store = Store(str(folder / "assay.db"))
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


def test_a_panel_gets_its_error_correlation_and_a_certificate_of_its_own(tmp_path):
    judges = {
        "p1": "{noise: 1.0, position_bias: 0.5}",
        "p2": "{noise: 1.0, position_bias: 0.5}",
        "p3": "{noise: 1.0, position_bias: 0.5}",
    }
    spec = world(tmp_path, seed=8, n=80, judges=judges)
    store = Store(str(tmp_path / "assay.db"))
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
