"""Issue 13's surfaces end to end: compare --margin/--human, gate --non-inferior/--human,
show --human, rank (and compare with three runs), ratings, sensitivity and variance."""

import json

import numpy as np
import pytest

from assay.core import (
    DatasetManifest,
    EnvironmentManifest,
    Output,
    RunManifest,
    Sample,
    SampleResult,
    Score,
    ScorerManifest,
    SubjectManifest,
)
from assay.store import Store

from .conftest import assay_cli

N = 300


def _write(store, run_id, subjects, values, minute, prompts=None, epochs=1, panel=None):
    """``values[subject]`` is an (N, epochs) array; ``panel[subject]`` an (N, epochs, J) one."""
    from datetime import UTC, datetime, timedelta

    ids = [f"s{i:03d}" for i in range(N)]
    started = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=minute)
    manifest = RunManifest(
        run_id=run_id, name="issue13", spec_hash="s" * 64,
        dataset=DatasetManifest(name="d", content_hash="d" * 64, n_samples=N, sample_ids=ids),
        subjects=[
            SubjectManifest(
                name=s, kind="model", provider="sim", requested_model=f"sim/{s.split('@')[0]}",
                prompt_template=(prompts or {}).get(s, "Q"),
                prompt_hash=str(hash((prompts or {}).get(s, "Q"))),
            )
            for s in subjects
        ],
        scorers=[ScorerManifest(name="exact", version="1")], epochs=epochs, seed=0,
        environment=EnvironmentManifest(assay_version="0", git_sha="0", python="3.11", platform="x"),
        started_at=started, finished_at=started + timedelta(seconds=5),
    )  # fmt: skip
    store.create_run(manifest, [Sample(id=i, input="q", target="x") for i in ids], n_planned=N)
    results = []
    for s in subjects:
        for k, i in enumerate(ids):
            for e in range(epochs):
                meta = {}
                if panel is not None:
                    meta = {
                        "panel": [
                            {"judge": f"j{j}", "value": float(v)}
                            for j, v in enumerate(panel[s][k, e])
                        ]
                    }
                results.append(
                    SampleResult(
                        subject=s, sample_id=i, epoch=e, output=Output(text="x" * (k % 7 + 1), model="m"),
                        scores=[Score(scorer="exact", value=float(values[s][k, e]), metadata=meta)],
                    )
                )  # fmt: skip
    store.add_results(run_id, results)
    store.finish_run(run_id, manifest, "completed")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("issue13")
    db = root / "assay.db"
    store = Store(f"sqlite:///{db}")
    rng = np.random.default_rng(13)
    truth = (rng.random(N) < 0.7).astype(float)
    # Three candidates: B matches A, C is clearly worse.
    a = truth[:, None]
    b = a.copy()  # 10 passes lost, 10 gained: the same pass rate
    b[rng.choice(np.flatnonzero(a[:, 0] == 1), 10, replace=False)] = 0.0
    b[rng.choice(np.flatnonzero(a[:, 0] == 0), 10, replace=False)] = 1.0
    c = np.where(rng.random((N, 1)) < 0.35, 0.0, a)
    _write(store, "RA", ["m"], {"m": a}, 0)
    _write(store, "RB", ["m"], {"m": b}, 1)
    _write(store, "RC", ["m"], {"m": c}, 2)
    # Two models × three paraphrases; model y loses to x under the third phrasing only.
    subjects, values, prompts = [], {}, {}
    for model, effects in (("x", (0.0, 0.0, 0.0)), ("y", (0.15, 0.15, -0.25))):
        for t, eff in enumerate(effects):
            name = f"{model}@p{t}"
            subjects.append(name)
            prompts[name] = f"template {t}"
            values[name] = (rng.random((N, 1)) < 0.5 + eff).astype(float)
    _write(store, "RP", subjects, values, 3, prompts)
    # Epochs and a judge panel.
    item = rng.normal(0.6, 0.2, (N, 1, 1))
    votes = (
        item
        + rng.normal(0, 0.1, (N, 3, 1))
        + np.array([-0.1, 0.0, 0.1])
        + rng.normal(0, 0.05, (N, 3, 3))
    )
    _write(store, "RV", ["m"], {"m": votes.mean(axis=2)}, 4, epochs=3, panel={"m": votes})
    store.close()
    labels = root / "labels.jsonl"
    with labels.open("w") as fh:
        for k in rng.choice(N, 120, replace=False):
            fh.write(
                json.dumps({"sample": f"s{k:03d}", "label": int(truth[k]), "run": "RA"}) + "\n"
            )
            fh.write(json.dumps({"sample": f"s{k:03d}", "label": int(b[k, 0]), "run": "RB"}) + "\n")
    return root, str(db), labels


def test_compare_margin_and_gate_non_inferior(project):
    root, db, _ = project
    out = assay_cli(
        "compare", "RA", "RB", "--db", db, "--margin", "5pts", "--resamples", "0", cwd=root, check=0
    ).stdout
    assert "non-inferiority at margin 5.0 pts: non-inferior" in out and "90% CI" in out
    data = json.loads(
        assay_cli(
            "compare",
            "RA",
            "RC",
            "--db",
            db,
            "--margin",
            "5pts",
            "--json",
            "--resamples",
            "0",
            cwd=root,
            check=0,
        ).stdout
    )
    assert data["metrics"][0]["margin_verdict"] == "not shown non-inferior"
    assert data["metrics"][0]["groups"][0]["interval"]["method"] == "tango-score"
    assay_cli(
        "gate",
        "RA",
        "RB",
        "--db",
        db,
        "--non-inferior",
        "5pts",
        "--resamples",
        "0",
        cwd=root,
        check=0,
    )
    failed = assay_cli(
        "gate",
        "RA",
        "RC",
        "--db",
        db,
        "--non-inferior",
        "5pts",
        "--resamples",
        "0",
        cwd=root,
        check=1,
    )
    assert "not shown non-inferior" in failed.stdout
    assay_cli("compare", "RA", "RB", "--db", db, "--margin", "nope", cwd=root, check=2)


def test_human_labels_in_show_compare_and_gate(project):
    root, db, labels = project
    out = assay_cli("show", "RB", "--db", db, "--human", str(labels), cwd=root, check=0).stdout
    assert "judge-only (biased)" in out and "PPI" in out and "λ =" in out
    data = json.loads(
        assay_cli(
            "compare",
            "RA",
            "RB",
            "--db",
            db,
            "--human",
            str(labels),
            "--json",
            "--resamples",
            "0",
            cwd=root,
            check=0,
        ).stdout
    )
    h = data["human_corrected"][0]
    assert h["n_labelled"] == 120 and h["difference"] and h["ppi"]["low"] < h["ppi"]["high"]
    gate = json.loads(
        assay_cli(
            "gate",
            "RA",
            "RB",
            "--db",
            db,
            "--human",
            str(labels),
            "--json",
            "--resamples",
            "0",
            cwd=root,
            check=0,
        ).stdout
    )
    assert any("(human-corrected)" in c["name"] for c in gate["checks"])


def test_rank_and_compare_with_three_runs(project):
    root, db, _ = project
    data = json.loads(
        assay_cli(
            "rank", "RA", "RB", "RC", "--db", db, "--json", "--resamples", "400", cwd=root, check=0
        ).stdout
    )
    r = data["rankings"][0]
    assert len(r["candidates"]) == 3 and len(r["pairs"]) == 3
    assert [c["name"] for c in r["candidates"] if not c["in_confidence_set"]] == [
        r["candidates"][2]["name"]
    ]
    assert r["verdict"].startswith("drop ")
    out = assay_cli(
        "compare", "RA", "RB", "RC", "--db", db, "--resamples", "400", cwd=root, check=0
    ).stdout
    assert "P(best)" in out and "model confidence set" in out


def test_sensitivity_flags_the_flip_and_variance_names_the_components(project):
    root, db, _ = project
    data = json.loads(
        assay_cli("sensitivity", "RP", "--db", db, "--json", cwd=root, check=0).stdout
    )
    pair = data["pairs"][0]
    assert pair["flags"] == ["ranking_flips_under_paraphrase"]
    assert len(pair["per_template"]) == 3
    v = json.loads(assay_cli("variance", "RV", "--db", db, "--json", cwd=root, check=0).stdout)[
        "metrics"
    ][0]
    assert (v["n_items"], v["n_epochs"], v["n_judges"]) == (N, 3, 3)
    comps = v["components"]
    assert comps["item"]["estimate"] == pytest.approx(0.04, rel=0.3)
    assert comps["epoch"]["estimate"] == pytest.approx(0.01, rel=0.35)
    assert comps["judge"]["estimate"] == pytest.approx(0.01, rel=0.9)
    assert v["advice"].startswith("buy more ")
