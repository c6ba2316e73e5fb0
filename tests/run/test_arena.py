"""``assay arena`` (issue 13, item 3): a pairwise judge run over k systems of the sim world
that samples the pairs it needs, stored round by round as ordinary pairwise judge runs, and
read back by ``assay ratings``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import kendalltau
from typer.testing import CliRunner

from assay.core import AssayError
from assay.store import Store

ABILITY = np.linspace(-1.5, 1.5, 8)


def _world(n_systems: int, n_samples: int) -> str:
    lines = [
        "name: arena-world",
        "seed: 3",
        "providers:",
        "  sim:",
        "    type: sim",
        "    systems:",
    ]
    for i in range(n_systems):
        ability = ABILITY[i] if n_systems == 8 else (i - 1) * 1.5
        family = "atlas" if (n_systems, i) == (3, 0) else f"fam{i}"  # the judge-atlas family
        lines += [f"      sys{i}:", f"        family: {family}", f"        ability: {ability:.3f}"]
    lines += ["dataset:", "  samples:"]
    lines += [
        f"    - {{id: q{i:03d}, input: 'question {i}', target: 'a{i}'}}" for i in range(n_samples)
    ]
    lines += ["subjects:"] + [f"  - {{name: s{i}, model: sim/sys{i}}}" for i in range(n_systems)]
    return "\n".join([*lines, "scorers:", "  - exact"]) + "\n"


def _stored_world(folder, n_systems, n_samples):  # type: ignore[no-untyped-def]
    from tests.web.conftest import in_thread

    from assay.run import eval_from_yaml_text, run

    db = str(folder / "assay.db")
    ev = eval_from_yaml_text(_world(n_systems, n_samples), filename="world.yaml")
    outcome = in_thread(run, ev, db=db)
    return db, outcome.run_id


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Eight sim systems of known ability (evenly spaced logits) on 150 shared questions."""
    return _stored_world(tmp_path_factory.mktemp("arena8"), 8, 150)


def _position(label: str) -> int:
    return int(label.rsplit(":s", 1)[1])


def test_active_arena_recovers_the_sim_worlds_order_and_ratings_read_its_rounds(world):  # type: ignore[no-untyped-def]
    # Seed 0, budget 3,000 single-order verdicts, sim/judge-fair. Measured: 2,408 verdicts in
    # 35 rounds, stopped when the open adjacent pairs ran out of unjudged samples (150 each);
    # Kendall τ = 1 against the ability order (≥ 0.9 from 1,232 verdicts on, 1 from 2,096).
    from tests.web.conftest import in_thread

    from assay.analyse.ratings import rate_systems
    from assay.run.arena import run_arena

    db, run_id = world
    with Store(db) as store:
        out = in_thread(
            run_arena, store, [run_id], judge="sim/judge-fair", budget=3000, seed=0,
            arena_name="a8",
        )  # fmt: skip
        assert out.state is not None and len(out.systems) == 8
        assert out.n_verdicts <= 3000 and out.stopped in ("resolved", "budget", "exhausted")
        truth = [_position(x) for x in out.systems]
        tau = kendalltau(out.state.theta, truth).statistic
        assert tau >= 0.9
        # Every round is a stored pairwise judge run; the warm-up judged every pair.
        assert len(out.rounds[0].pairs) == 28
        later = {frozenset(p) for r in out.rounds[1:] for p in r.pairs}
        assert later and len(later) < 28  # active rounds judge a few (adjacent) pairs only
        names = {store.get_manifest(r).name for r in out.run_ids}
        assert names == {f"pairwise a8 round {n}" for n in range(len(out.rounds))}
        # `assay ratings` over the rounds reads the same verdicts: the same MLE.
        report = rate_systems(store, out.run_ids, n_resamples=0)
        assert report.fit.n_verdicts == out.n_verdicts
        fitted = dict(zip(report.fit.names, report.fit.theta, strict=True))
        assert [fitted[n] for n in out.systems] == pytest.approx(list(out.state.theta), abs=1e-6)


def test_the_cli_runs_an_arena_and_rejects_a_bad_strategy(tmp_path):  # type: ignore[no-untyped-def]
    from assay.cli.app import app as cli

    db, run_id = _stored_world(tmp_path, 3, 40)
    result = CliRunner().invoke(
        cli,
        ["arena", run_id, "--judge", "sim/judge-fair", "--db", db, "--budget", "400", "--json"],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    arena, ratings = data["arena"], data["ratings"]
    assert arena["n_verdicts"] == ratings["n_verdicts"] <= 400
    assert [s["name"] for s in ratings["systems"]][0].endswith(":s2")  # the ablest system
    assert ratings["runs"] == [r["run_id"] for r in arena["rounds"]]
    assert arena["warnings"] == []
    # A judge of the same family as one system: the arena says so (C3), as `assay judge` does.
    atlas = CliRunner().invoke(
        cli,
        ["arena", run_id, "--judge", "sim/judge-atlas", "--db", db, "--budget", "60", "--json"],
        env={"COLUMNS": "300"},
    )
    assert atlas.exit_code == 0, atlas.output
    warnings = json.loads(atlas.stdout)["arena"]["warnings"]
    assert len(warnings) == 1 and ":s0" in warnings[0] and "atlas" in warnings[0], warnings
    bad = CliRunner().invoke(
        cli, ["arena", run_id, "--judge", "sim/judge-fair", "--db", db, "--strategy", "psychic"]
    )
    assert isinstance(bad.exception, AssayError) and bad.exception.exit_code == 2
    assert "unknown strategy" in str(bad.exception)
